//! Errors of the artifact store: [`StoreError`] when the store itself cannot be used (its
//! directory cannot be read or written), [`ArtifactError`] when one stored artifact is refused.

use super::{elf::ElfProblem, fs::FileProblem, loader::LoadError, manifest::BuildPart};
use revm::primitives::{B256, hardfork::SpecId};
use std::{io, path::PathBuf};

/// The store as a whole failed: a file or the directory could not be read or written.
///
/// Callers treat it like a cache failure (compile instead of loading, skip storing); it never
/// means an artifact was half written, since every write commits by a rename.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation on a path in the store failed.
    #[error("artifact store: cannot {op} {}: {source}", path.display())]
    Io {
        /// What the store was doing, e.g. "create directory", "write", "rename".
        op: &'static str,
        /// The file or directory it was doing it to.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A manifest could not be encoded as JSON (cannot happen with the types used, but a
    /// serializer error must not become a panic).
    #[error("artifact store: cannot encode the manifest {}: {source}", path.display())]
    Serialize {
        /// The manifest that was being written.
        path: PathBuf,
        /// The encoder's error.
        source: serde_json::Error,
    },
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { op, path: path.into(), source }
    }
}

/// Why one stored artifact is refused. The variants follow the order in which
/// [`crate::store::ArtifactStore::load`] checks an artifact, so the first problem found is the
/// one reported; [`ArtifactError::reason`] gives a short label for counting refusals.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// A manifest's file name is not one this store writes, so its key cannot be known (only
    /// when listing: a load computes the name from the key).
    #[error("{}: not a manifest name of this store ({detail})", path.display())]
    ManifestName {
        /// The file.
        path: PathBuf,
        /// What is wrong with the name.
        detail: &'static str,
    },
    /// The manifest exists but could not be read.
    #[error("{}: cannot read the manifest: {source}", path.display())]
    ManifestUnreadable {
        /// The manifest.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The manifest is not valid JSON or lacks a field (or names an unknown fork).
    #[error("{}: malformed manifest: {source}", path.display())]
    ManifestMalformed {
        /// The manifest.
        path: PathBuf,
        /// The decoder's error.
        source: serde_json::Error,
    },
    /// The store has a MAC key and the manifest carries no MAC.
    #[error("{}: manifest carries no MAC, and this store requires one", path.display())]
    MacMissing {
        /// The manifest.
        path: PathBuf,
    },
    /// The manifest's MAC is not the one this store's key gives: written without the key, or
    /// changed since.
    #[error("{}: manifest MAC does not verify with this store's key", path.display())]
    MacMismatch {
        /// The manifest.
        path: PathBuf,
    },
    /// The manifest describes another contract than the one its name (or the caller) asked for.
    #[error("{}: manifest is for code hash {found}, expected {expected}", path.display())]
    CodeHashMismatch {
        /// The manifest.
        path: PathBuf,
        /// The code hash asked for.
        expected: B256,
        /// The code hash recorded.
        found: B256,
    },
    /// The manifest describes the contract for another fork than the one asked for.
    #[error("{}: manifest is for fork {found:?}, expected {expected:?}", path.display())]
    SpecMismatch {
        /// The manifest.
        path: PathBuf,
        /// The fork asked for.
        expected: SpecId,
        /// The fork recorded.
        found: SpecId,
    },
    /// The artifact was built for another ABI between native code and the runtime.
    #[error("{}: artifact built for ABI version {found}, this build speaks {expected}", path.display())]
    AbiVersionMismatch {
        /// The manifest.
        path: PathBuf,
        /// This build's ABI version.
        expected: u32,
        /// The recorded ABI version.
        found: u32,
    },
    /// The artifact was built by a build that differs in a part of its identity that shapes
    /// machine code (compiler version or sources, revm or LLVM version, optimisation level,
    /// target).
    #[error("{}: artifact built with {part} {found:?}, this build has {expected:?}", path.display())]
    BuildMismatch {
        /// The manifest.
        path: PathBuf,
        /// Which part differs.
        part: BuildPart,
        /// This build's value.
        expected: String,
        /// The recorded value.
        found: String,
    },
    /// The manifest's entry symbol is not the one of its key: it would point one contract at
    /// another's code in a shared library.
    #[error("{}: manifest names entry symbol {found:?}, the key's is {expected:?}", path.display())]
    SymbolMismatch {
        /// The manifest.
        path: PathBuf,
        /// The key's entry symbol ([`crate::abi::entry_symbol`]).
        expected: String,
        /// The recorded symbol.
        found: String,
    },
    /// The manifest records another bytecode length than the code being looked up has.
    #[error("{}: manifest records bytecode of {found} bytes, the code has {expected}", path.display())]
    BytecodeLength {
        /// The manifest.
        path: PathBuf,
        /// The code's length.
        expected: u64,
        /// The recorded length.
        found: u64,
    },
    /// A file of the artifact (manifest or library) is not one the store trusts: a link, a
    /// special file, someone else's, or writable by others.
    #[error("{}: {problem}", path.display())]
    UntrustedFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: FileProblem,
    },
    /// The manifest names a library file that is not the content-addressed name of its
    /// checksum (a hand-edited manifest, or one pointing outside the store).
    #[error("{}: library name {found:?} is not the store's name for its checksum ({expected:?})", path.display())]
    LibraryName {
        /// The manifest.
        path: PathBuf,
        /// The name the checksum gives.
        expected: String,
        /// The recorded name.
        found: String,
    },
    /// The library file the manifest points at does not exist.
    #[error("{}: library file is missing", path.display())]
    LibraryMissing {
        /// The library file.
        path: PathBuf,
    },
    /// The library file exists but could not be read.
    #[error("{}: cannot read the library: {source}", path.display())]
    LibraryUnreadable {
        /// The library file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The library file's length differs from the recorded one (usually truncated).
    #[error("{}: library is {found} bytes, manifest records {expected}", path.display())]
    LibraryLength {
        /// The library file.
        path: PathBuf,
        /// The recorded length.
        expected: u64,
        /// The file's length.
        found: u64,
    },
    /// The library's bytes do not hash to the recorded checksum (corrupted or replaced).
    #[error("{}: library checksum is {found}, manifest records {expected}", path.display())]
    ChecksumMismatch {
        /// The library file.
        path: PathBuf,
        /// The recorded checksum.
        expected: B256,
        /// The checksum of the file's bytes.
        found: B256,
    },
    /// The library's bytes would run code when loaded, or are not what this crate's AOT link
    /// produces; refused before anything is mapped.
    #[error("{}: refused before loading: {problem}", path.display())]
    Elf {
        /// The library file.
        path: PathBuf,
        /// What the check found.
        problem: ElfProblem,
    },
    /// The verified bytes could not be loaded (no sealed memory file, or the dynamic loader
    /// refused them, e.g. for an unresolved symbol).
    #[error("{}: cannot load the library: {source}", path.display())]
    LibraryOpen {
        /// The library file.
        path: PathBuf,
        /// Why.
        source: LoadError,
    },
    /// The library does not export the ABI version symbol, so it was not built by this crate's
    /// AOT compiler (or is too old to say).
    #[error("{}: library does not export `{symbol}`: {source}", path.display())]
    AbiSymbolMissing {
        /// The library file.
        path: PathBuf,
        /// The symbol looked for.
        symbol: &'static str,
        /// The loader's error.
        source: libloading::Error,
    },
    /// The library says it was built for another ABI version than this build speaks, although
    /// its manifest agreed.
    #[error("{}: library exports ABI version {found}, this build speaks {expected}", path.display())]
    AbiSymbolMismatch {
        /// The library file.
        path: PathBuf,
        /// This build's ABI version.
        expected: u32,
        /// The version the library exports.
        found: u32,
    },
    /// The library does not export the contract's entry point.
    #[error("{}: library does not export entry symbol `{symbol}`: {source}", path.display())]
    EntrySymbolMissing {
        /// The library file.
        path: PathBuf,
        /// The symbol looked for.
        symbol: String,
        /// The loader's error.
        source: libloading::Error,
    },
}

impl ArtifactError {
    /// A short stable label for the kind of refusal, for counters and logs (one per variant).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ManifestName { .. } => "manifest-name",
            Self::ManifestUnreadable { .. } => "manifest-io",
            Self::ManifestMalformed { .. } => "manifest-malformed",
            Self::MacMissing { .. } => "mac-missing",
            Self::MacMismatch { .. } => "mac",
            Self::CodeHashMismatch { .. } => "code-hash",
            Self::SpecMismatch { .. } => "spec",
            Self::AbiVersionMismatch { .. } => "abi-version",
            Self::BuildMismatch { part, .. } => part.reason(),
            Self::SymbolMismatch { .. } => "symbol",
            Self::BytecodeLength { .. } => "bytecode-len",
            Self::UntrustedFile { problem, .. } => problem.reason(),
            Self::Elf { problem, .. } => problem.reason(),
            Self::LibraryName { .. } => "library-name",
            Self::LibraryMissing { .. } => "library-missing",
            Self::LibraryUnreadable { .. } => "library-io",
            Self::LibraryLength { .. } => "truncated",
            Self::ChecksumMismatch { .. } => "checksum",
            Self::LibraryOpen { .. } => "library-open",
            Self::AbiSymbolMissing { .. } => "abi-symbol-missing",
            Self::AbiSymbolMismatch { .. } => "abi-symbol",
            Self::EntrySymbolMissing { .. } => "entry-symbol",
        }
    }

    /// Whether the artifact is intact but belongs to another build (ABI version or any part of
    /// the [`crate::store::BuildId`] differs): such artifacts are refused here yet may serve another build
    /// sharing the store, so garbage collection can keep them apart from damaged ones.
    pub fn is_other_build(&self) -> bool {
        matches!(self, Self::AbiVersionMismatch { .. } | Self::BuildMismatch { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}

    #[test]
    fn errors_cross_threads() {
        assert_error::<StoreError>();
        assert_error::<ArtifactError>();
    }
}
