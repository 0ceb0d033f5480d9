//! What the store records: the key of a compiled contract, the identity of the build that
//! compiled it, the per-contract [`Manifest`], and the file names all of these map to.

use crate::{abi::ABI_VERSION, compiler::OptLevel};
use revm::primitives::{B256, hardfork::SpecId, hex, keccak256};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Prefix of library files; the rest of the name is derived from the library's checksum.
pub(crate) const LIBRARY_PREFIX: &str = "lib-";
/// Suffix of manifest files.
pub(crate) const MANIFEST_SUFFIX: &str = ".json";
/// Prefix of files being written; they become libraries or manifests when renamed.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// Identifies one compiled contract: the same bytecode compiles differently per fork, so the
/// fork is part of the key (as in the runtime's in-memory cache).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArtifactKey {
    /// Keccak hash of the contract's bytecode.
    pub code_hash: B256,
    /// The fork the code was compiled for.
    pub spec: SpecId,
}

impl ArtifactKey {
    /// The key of `code_hash` compiled for `spec`.
    pub fn new(code_hash: B256, spec: SpecId) -> Self {
        Self { code_hash, spec }
    }
}

impl fmt::Display for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.code_hash, <&str>::from(self.spec))
    }
}

/// One contract inside a library handed to [`crate::store::ArtifactStore::put`]: which
/// contract it is, and the exported name of its entry point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactEntry {
    /// The contract.
    pub key: ArtifactKey,
    /// Exported name of its entry function in the library (normally
    /// [`crate::abi::entry_symbol`] of the key).
    pub symbol: String,
    /// Length of the bytecode it was compiled from (checked on load when the code is at hand,
    /// see [`crate::store::ArtifactStore::load_code`]).
    pub bytecode_len: u64,
}

/// Identity of the build that reads and writes the store: everything that shapes the machine
/// code of an artifact. An artifact is only ever used by a build identical in all of it to the
/// one that wrote it; others are refused (and kept apart by file name, see
/// `BuildId::tag`). Each part is compared on its own, so a refusal says which part differs
/// ([`BuildPart`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuildId {
    /// The compiler's name and version (`revm-jit 0.1.0`).
    pub compiler_version: String,
    /// A hash of the compiler's own sources (analysis, codegen, builtins, ABI, compiler
    /// driver), computed by the build script: a codegen fix that leaves the crate version
    /// alone still changes it.
    pub compiler_source: String,
    /// The exact versions of the revm crates linked (gas costs and semantics are compiled into
    /// the code), read from the lock file at build time.
    pub revm_version: String,
    /// The exact version of LLVM that generates the code (`22.1.3`), asked of the LLVM the
    /// process runs with. `None` in a build without the `llvm` feature: it cannot compile, so
    /// no LLVM of its own could disagree with the artifact's, and it accepts artifacts of any
    /// LLVM version (as long as everything else matches). Writers always record theirs.
    pub llvm_version: Option<String>,
    /// The optimisation level the code was compiled at ([`OptLevel`], by name).
    pub opt_level: String,
    /// Version of the ABI between native code and the runtime; [`ABI_VERSION`] for any build
    /// that loads code (other values only make sense for tools and tests).
    pub abi_version: u32,
    /// What the code was compiled for: host triple and CPU (and features, if not the host's).
    pub target: String,
}

/// One part of a [`BuildId`], named in refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildPart {
    /// [`BuildId::compiler_version`].
    CompilerVersion,
    /// [`BuildId::compiler_source`].
    CompilerSource,
    /// [`BuildId::revm_version`].
    RevmVersion,
    /// [`BuildId::llvm_version`].
    LlvmVersion,
    /// [`BuildId::opt_level`].
    OptLevel,
    /// [`BuildId::target`].
    Target,
}

impl BuildPart {
    /// A short stable label for counters and logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::CompilerVersion => "compiler-version",
            Self::CompilerSource => "compiler-source",
            Self::RevmVersion => "revm-version",
            Self::LlvmVersion => "llvm-version",
            Self::OptLevel => "opt-level",
            Self::Target => "target",
        }
    }
}

impl fmt::Display for BuildPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CompilerVersion => "compiler version",
            Self::CompilerSource => "compiler source hash",
            Self::RevmVersion => "revm version",
            Self::LlvmVersion => "LLVM version",
            Self::OptLevel => "optimisation level",
            Self::Target => "target",
        })
    }
}

/// The hash of the compiler's sources this crate was built from (see `build.rs`).
pub const COMPILER_SOURCE_HASH: &str = env!("REVM_JIT_COMPILER_SOURCE");
/// The revm crate versions this crate was built with (see `build.rs`).
pub const REVM_VERSION: &str = env!("REVM_JIT_REVM_VERSION");

/// The version of the LLVM library this process runs with, `None` without the compiler.
fn llvm_version() -> Option<String> {
    #[cfg(feature = "llvm")]
    {
        let (major, minor, patch) = inkwell::support::get_llvm_version();
        Some(format!("{major}.{minor}.{patch}"))
    }
    #[cfg(not(feature = "llvm"))]
    None
}

impl BuildId {
    /// This build's identity ([`BuildId::current`]) with another compiler version and target:
    /// for tools and tests that keep builds apart.
    pub fn new(compiler_version: impl Into<String>, target: impl Into<String>) -> Self {
        Self { compiler_version: compiler_version.into(), target: target.into(), ..Self::current() }
    }

    /// The identity of this build on this machine at the default optimisation level: this
    /// compiler ([`COMPILER_VERSION`](crate::compiler::COMPILER_VERSION), its source hash),
    /// the revm and LLVM it runs with, this ABI, this CPU
    /// ([`target_id`](crate::compiler::target_id)). Without the `llvm` feature the same but
    /// for the LLVM version (see [`BuildId::llvm_version`]), so a build without a compiler
    /// loads what a build with one stored.
    pub fn current() -> Self {
        Self::for_opt_level(OptLevel::default())
    }

    /// [`BuildId::current`] for code compiled at `level`.
    pub fn for_opt_level(level: OptLevel) -> Self {
        Self {
            compiler_version: crate::compiler::COMPILER_VERSION.to_owned(),
            compiler_source: COMPILER_SOURCE_HASH.to_owned(),
            revm_version: REVM_VERSION.to_owned(),
            llvm_version: llvm_version(),
            opt_level: level.name().to_owned(),
            abi_version: ABI_VERSION,
            target: crate::compiler::target_id(),
        }
    }

    /// The first part in which an artifact written by `writer` differs from what this build
    /// accepts, with both values (this build's first). The ABI version is compared apart.
    pub fn mismatch(&self, writer: &BuildId) -> Option<(BuildPart, String, String)> {
        let parts = [
            (BuildPart::CompilerVersion, &self.compiler_version, &writer.compiler_version),
            (BuildPart::CompilerSource, &self.compiler_source, &writer.compiler_source),
            (BuildPart::RevmVersion, &self.revm_version, &writer.revm_version),
            (BuildPart::OptLevel, &self.opt_level, &writer.opt_level),
            (BuildPart::Target, &self.target, &writer.target),
        ];
        if let Some((part, ours, theirs)) = parts.into_iter().find(|(_, ours, theirs)| ours != theirs) {
            return Some((part, ours.clone(), theirs.clone()));
        }
        match (&self.llvm_version, &writer.llvm_version) {
            (Some(ours), theirs) if Some(ours) != theirs.as_ref() => {
                Some((BuildPart::LlvmVersion, ours.clone(), theirs.clone().unwrap_or_else(|| "none".to_owned())))
            }
            _ => None,
        }
    }

    /// Short hash of everything in the identity but the ABI version (which the manifest name
    /// carries apart) and the LLVM version (which a build without LLVM cannot know, and which
    /// is checked from the manifest instead): part of manifest names, so that builds sharing
    /// one store do not overwrite each other's manifests.
    pub(crate) fn tag(&self) -> String {
        let mut input = Vec::new();
        for part in [&self.compiler_version, &self.compiler_source, &self.revm_version, &self.opt_level, &self.target] {
            input.extend_from_slice(part.as_bytes());
            input.push(0);
        }
        hex::encode(&keccak256(&input)[..4])
    }
}

/// What the store records for one contract, as a JSON file in the store directory.
///
/// The manifest is the commit point of a write: it is renamed into place only after its
/// library, so an existing manifest always names a complete library, and its checksum lets a
/// reader detect a library damaged afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ManifestFile", into = "ManifestFile")]
pub struct Manifest {
    /// Keccak hash of the contract's bytecode.
    pub code_hash: B256,
    /// The fork the code was compiled for. Recorded as both the fork's name and revm's number
    /// for it; on reading, the name decides, and a number that disagrees (a manifest written
    /// with another fork numbering) makes the manifest malformed.
    pub spec: SpecId,
    /// [`BuildId::compiler_version`] of the writer.
    pub compiler_version: String,
    /// [`BuildId::compiler_source`] of the writer.
    pub compiler_source: String,
    /// [`BuildId::revm_version`] of the writer.
    pub revm_version: String,
    /// [`BuildId::llvm_version`] of the writer.
    pub llvm_version: Option<String>,
    /// [`BuildId::opt_level`] of the writer.
    pub opt_level: String,
    /// [`BuildId::abi_version`] of the writer.
    pub abi_version: u32,
    /// [`BuildId::target`] of the writer.
    pub target: String,
    /// Exported name of the contract's entry function in the library.
    pub symbol: String,
    /// Length of the bytecode the code was compiled from.
    pub bytecode_len: u64,
    /// File name of the library within the store directory.
    pub library: String,
    /// Length of the library file in bytes.
    pub library_len: u64,
    /// Keccak hash of the library file's bytes.
    pub checksum: B256,
    /// When the manifest was written, in seconds since the Unix epoch.
    pub created_unix_secs: u64,
    /// HMAC-SHA256 of the rest of the manifest (hex), written by a store with a key
    /// ([`crate::store::MacKey`]); `None` otherwise. The manifest records the library's length
    /// and keccak-256, which the library's bytes are checked against, so the MAC covers both.
    pub mac: Option<String>,
}

impl Manifest {
    /// The bytes a MAC is computed over: the manifest's JSON without its MAC.
    pub(crate) fn mac_input(&self) -> Vec<u8> {
        let unsigned = Manifest { mac: None, ..self.clone() };
        serde_json::to_vec(&unsigned).expect("a manifest always encodes")
    }

    /// The contract this manifest describes.
    pub fn key(&self) -> ArtifactKey {
        ArtifactKey::new(self.code_hash, self.spec)
    }

    /// The identity of the build that wrote it.
    pub fn build(&self) -> BuildId {
        BuildId {
            compiler_version: self.compiler_version.clone(),
            compiler_source: self.compiler_source.clone(),
            revm_version: self.revm_version.clone(),
            llvm_version: self.llvm_version.clone(),
            opt_level: self.opt_level.clone(),
            abi_version: self.abi_version,
            target: self.target.clone(),
        }
    }
}

/// The manifest as stored: the fork as name and number.
#[derive(Serialize, Deserialize)]
struct ManifestFile {
    code_hash: B256,
    spec: String,
    spec_id: u8,
    compiler_version: String,
    compiler_source: String,
    revm_version: String,
    llvm_version: Option<String>,
    opt_level: String,
    abi_version: u32,
    target: String,
    symbol: String,
    bytecode_len: u64,
    library: String,
    library_len: u64,
    checksum: B256,
    created_unix_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
}

impl From<Manifest> for ManifestFile {
    fn from(m: Manifest) -> Self {
        Self {
            code_hash: m.code_hash,
            spec: <&str>::from(m.spec).to_owned(),
            spec_id: m.spec as u8,
            compiler_version: m.compiler_version,
            compiler_source: m.compiler_source,
            revm_version: m.revm_version,
            llvm_version: m.llvm_version,
            opt_level: m.opt_level,
            abi_version: m.abi_version,
            target: m.target,
            symbol: m.symbol,
            bytecode_len: m.bytecode_len,
            library: m.library,
            library_len: m.library_len,
            checksum: m.checksum,
            created_unix_secs: m.created_unix_secs,
            mac: m.mac,
        }
    }
}

impl TryFrom<ManifestFile> for Manifest {
    type Error = String;

    fn try_from(f: ManifestFile) -> Result<Self, String> {
        Ok(Self {
            code_hash: f.code_hash,
            spec: parse_spec(&f.spec, f.spec_id)?,
            compiler_version: f.compiler_version,
            compiler_source: f.compiler_source,
            revm_version: f.revm_version,
            llvm_version: f.llvm_version,
            opt_level: f.opt_level,
            abi_version: f.abi_version,
            target: f.target,
            symbol: f.symbol,
            bytecode_len: f.bytecode_len,
            library: f.library,
            library_len: f.library_len,
            checksum: f.checksum,
            created_unix_secs: f.created_unix_secs,
            mac: f.mac,
        })
    }
}

/// Every fork this build knows, oldest first.
fn all_specs() -> impl Iterator<Item = SpecId> {
    (0..=SpecId::NEXT as u8).filter_map(SpecId::try_from_u8)
}

/// The fork recorded as `name` and `number`. The name is matched without regard to case,
/// either as revm's fork name ("Spurious") or as the enum variant ("SPURIOUS_DRAGON"), because
/// names are what stays stable across revm versions while numbers have been reassigned.
fn parse_spec(name: &str, number: u8) -> Result<SpecId, String> {
    let name = name.trim();
    let spec = all_specs()
        .find(|spec| <&str>::from(*spec).eq_ignore_ascii_case(name) || format!("{spec:?}").eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("unknown fork {name:?} (recorded as number {number})"))?;
    if spec as u8 != number {
        return Err(format!(
            "fork {name:?} is number {} in this build but recorded as {number} (another fork numbering)",
            spec as u8
        ));
    }
    Ok(spec)
}

/// The content-addressed file name of a library: same bytes, same name, so writers of the
/// same library never conflict and a name never refers to two different contents.
pub(crate) fn library_file_name(checksum: &B256) -> String {
    format!("{LIBRARY_PREFIX}{}{}", hex::encode(&checksum[..16]), std::env::consts::DLL_SUFFIX)
}

/// Whether `name` has the shape of a library file name this store writes.
pub(crate) fn is_library_file_name(name: &str) -> bool {
    name.strip_prefix(LIBRARY_PREFIX)
        .and_then(|rest| rest.strip_suffix(std::env::consts::DLL_SUFFIX))
        .is_some_and(|digest| digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The parts of a manifest's file name: `<code hash>-<fork number>-abi<N>-<build tag>.json`.
/// The name carries the whole lookup key, so a load is one file open, and the ABI version and
/// build tag keep builds sharing a store from replacing each other's manifests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ManifestName {
    pub(crate) key: ArtifactKey,
    pub(crate) abi_version: u32,
    pub(crate) build_tag: String,
}

impl ManifestName {
    /// The name of `key`'s manifest written by `build`.
    pub(crate) fn new(key: ArtifactKey, build: &BuildId) -> Self {
        Self { key, abi_version: build.abi_version, build_tag: build.tag() }
    }

    /// The file name.
    pub(crate) fn file_name(&self) -> String {
        format!(
            "{}-{}-abi{}-{}{MANIFEST_SUFFIX}",
            hex::encode(self.key.code_hash),
            self.key.spec as u8,
            self.abi_version,
            self.build_tag
        )
    }

    /// Parses a file name written by [`Self::file_name`]; the error says what does not fit.
    pub(crate) fn parse(file_name: &str) -> Result<Self, &'static str> {
        let stem = file_name.strip_suffix(MANIFEST_SUFFIX).ok_or("no .json suffix")?;
        let mut parts = stem.split('-');
        let (Some(hash), Some(spec), Some(abi), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("expected <code hash>-<fork>-abi<N>-<build>.json");
        };
        if hash.len() != 64 {
            return Err("code hash is not 64 hex digits");
        }
        let code_hash = hash.parse::<B256>().map_err(|_| "code hash is not 64 hex digits")?;
        let spec = spec.parse::<u8>().ok().and_then(SpecId::try_from_u8).ok_or("fork number unknown to this build")?;
        let abi_version = abi.strip_prefix("abi").and_then(|n| n.parse().ok()).ok_or("malformed ABI version")?;
        if tag.len() != 8 || !tag.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("build tag is not 8 hex digits");
        }
        Ok(Self { key: ArtifactKey::new(code_hash, spec), abi_version, build_tag: tag.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(spec: SpecId) -> Manifest {
        let checksum = keccak256(b"library");
        Manifest {
            code_hash: keccak256(b"code"),
            spec,
            compiler_version: "revm-jit 0.1.0".into(),
            compiler_source: "0123".into(),
            revm_version: "revm 43.0.3".into(),
            llvm_version: Some("22.1.0".into()),
            opt_level: "default".into(),
            abi_version: ABI_VERSION,
            target: "x86_64-unknown-linux-gnu znver3".into(),
            symbol: "f".into(),
            bytecode_len: 10,
            library: library_file_name(&checksum),
            library_len: 7,
            checksum,
            created_unix_secs: 1_700_000_000,
            mac: None,
        }
    }

    #[test]
    fn manifest_round_trips_with_fork_name_and_number() {
        for spec in all_specs() {
            let m = manifest(spec);
            let json = serde_json::to_string(&m).unwrap();
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(value["spec"], <&str>::from(spec));
            assert_eq!(value["spec_id"], spec as u8);
            assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
        }
    }

    fn with_spec(spec: &str, spec_id: u8) -> Result<Manifest, serde_json::Error> {
        let mut value = serde_json::to_value(manifest(SpecId::CANCUN)).unwrap();
        value["spec"] = spec.into();
        value["spec_id"] = spec_id.into();
        serde_json::from_value(value)
    }

    #[test]
    fn fork_names_parse_without_regard_to_case_or_form() {
        let cancun = SpecId::CANCUN as u8;
        for name in ["Cancun", "cancun", "CANCUN", " Cancun "] {
            assert_eq!(with_spec(name, cancun).unwrap().spec, SpecId::CANCUN, "{name}");
        }
        let spurious = SpecId::SPURIOUS_DRAGON as u8;
        for name in ["Spurious", "SPURIOUS_DRAGON", "spurious_dragon"] {
            assert_eq!(with_spec(name, spurious).unwrap().spec, SpecId::SPURIOUS_DRAGON, "{name}");
        }
    }

    #[test]
    fn unknown_fork_or_disagreeing_number_is_malformed() {
        let err = with_spec("Bogota", 200).unwrap_err().to_string();
        assert!(err.contains("unknown fork \"Bogota\""), "{err}");
        let err = with_spec("Cancun", SpecId::PRAGUE as u8).unwrap_err().to_string();
        assert!(err.contains("another fork numbering"), "{err}");
    }

    #[test]
    fn missing_field_is_malformed() {
        let mut value = serde_json::to_value(manifest(SpecId::CANCUN)).unwrap();
        value.as_object_mut().unwrap().remove("checksum");
        assert!(serde_json::from_value::<Manifest>(value).is_err());
    }

    #[test]
    fn manifest_names_round_trip() {
        let build = BuildId::new("revm-jit 0.1.0", "x86_64-unknown-linux-gnu znver3");
        let name = ManifestName::new(ArtifactKey::new(keccak256(b"code"), SpecId::PRAGUE), &build);
        let file_name = name.file_name();
        assert!(file_name.starts_with(&hex::encode(keccak256(b"code"))), "{file_name}");
        assert!(file_name.ends_with(&format!("-{}-abi{ABI_VERSION}-{}.json", SpecId::PRAGUE as u8, build.tag())));
        assert_eq!(ManifestName::parse(&file_name).unwrap(), name);
    }

    #[test]
    fn foreign_names_do_not_parse() {
        let hash = hex::encode(keccak256(b"code"));
        for bad in [
            "notes.json".to_owned(),
            format!("{hash}-11-abi1-0011aabb.txt"),
            format!("{hash}-250-abi1-0011aabb.json"),
            format!("{hash}-11-v1-0011aabb.json"),
            format!("{hash}-11-abi1-0011aab.json"),
            format!("{hash}-11-abi1-0011aabb-x.json"),
            format!("{}-11-abi1-0011aabb.json", &hash[2..]),
        ] {
            assert!(ManifestName::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn build_tag_separates_compiler_versions_and_targets() {
        let a = BuildId::new("1", "x86_64 znver3");
        assert_eq!(a.tag().len(), 8);
        assert_ne!(a.tag(), BuildId::new("2", "x86_64 znver3").tag());
        assert_ne!(a.tag(), BuildId::new("1", "x86_64 skylake").tag());
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(BuildId::new("ab", "c").tag(), BuildId::new("a", "bc").tag());
    }

    #[test]
    fn library_names_are_content_addressed() {
        let name = library_file_name(&keccak256(b"library"));
        assert!(is_library_file_name(&name), "{name}");
        assert_ne!(name, library_file_name(&keccak256(b"other library")));
        assert!(!is_library_file_name("lib-../../etc/passwd.so"));
        assert!(!is_library_file_name(".tmp-1-2-3"));
    }
}
