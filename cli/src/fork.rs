//! Fork names: the one parser for the command line (`--spec`), fixture files and the forks of
//! state tests' `post` sections.

use revm::primitives::hardfork::SpecId;

/// Parses a fork name, case-insensitively: revm's names (`Frontier` … `Cancun`, `Prague`,
/// `Osaka`, `Amsterdam`) and the names and aliases ethereum/tests uses (`EIP150` and
/// `TangerineWhistle`, `EIP158` and `SpuriousDragon`, `ConstantinopleFix`, `Paris`).
pub fn parse(name: &str) -> Option<SpecId> {
    let lower = name.to_ascii_lowercase();
    let alias = match lower.as_str() {
        "eip150" | "tangerinewhistle" => Some(SpecId::TANGERINE),
        "eip158" | "spuriousdragon" => Some(SpecId::SPURIOUS_DRAGON),
        "constantinoplefix" => Some(SpecId::PETERSBURG),
        "paris" => Some(SpecId::MERGE),
        _ => None,
    };
    alias.or_else(|| {
        (0..=SpecId::NEXT as u8)
            .filter_map(SpecId::try_from_u8)
            .find(|spec| <&'static str>::from(*spec).eq_ignore_ascii_case(&lower))
    })
}

/// [`parse`] as a command-line value parser.
pub fn parse_arg(name: &str) -> Result<SpecId, String> {
    parse(name).ok_or_else(|| format!("unknown fork `{name}` (expected e.g. Shanghai, Cancun, Prague, Osaka)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_test_names_and_revm_names() {
        let names = [
            ("Frontier", SpecId::FRONTIER),
            ("Homestead", SpecId::HOMESTEAD),
            ("EIP150", SpecId::TANGERINE),
            ("TangerineWhistle", SpecId::TANGERINE),
            ("EIP158", SpecId::SPURIOUS_DRAGON),
            ("SpuriousDragon", SpecId::SPURIOUS_DRAGON),
            ("Byzantium", SpecId::BYZANTIUM),
            ("ConstantinopleFix", SpecId::PETERSBURG),
            ("Petersburg", SpecId::PETERSBURG),
            ("Istanbul", SpecId::ISTANBUL),
            ("Berlin", SpecId::BERLIN),
            ("London", SpecId::LONDON),
            ("Paris", SpecId::MERGE),
            ("Merge", SpecId::MERGE),
            ("Shanghai", SpecId::SHANGHAI),
            ("Cancun", SpecId::CANCUN),
            ("cancun", SpecId::CANCUN),
            ("Prague", SpecId::PRAGUE),
            ("Osaka", SpecId::OSAKA),
            ("Amsterdam", SpecId::AMSTERDAM),
        ];
        for (name, spec) in names {
            assert_eq!(parse(name), Some(spec), "{name}");
        }
        assert_eq!(parse("BerlinToLondonAt5"), None);
        assert!(parse_arg("Nope").is_err());
    }
}
