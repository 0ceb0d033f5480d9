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

/// A fork name that [`parse`] does not know, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fork `{0}` (expected e.g. Shanghai, Cancun, Prague, Osaka)")]
pub struct UnknownFork(pub String);

/// [`parse`] as a command-line value parser: clap shows the error's message.
pub fn parse_arg(name: &str) -> Result<SpecId, UnknownFork> {
    parse(name).ok_or_else(|| UnknownFork(name.to_owned()))
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
        assert_eq!(parse_arg("Nope"), Err(UnknownFork("Nope".to_owned())));
        assert_eq!(parse_arg("osaka"), Ok(SpecId::OSAKA));
    }
}
