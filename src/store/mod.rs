//! The on-disk store of ahead-of-time compiled contracts.
//!
//! The AOT compiler turns contracts into shared libraries; the store keeps them between runs
//! so a node starts with native code instead of compiling it again. One directory holds:
//!
//! - **libraries**, named by their content (`lib-<first 32 hex digits of keccak>.so`), each
//!   holding the code of one or more contracts and exporting
//!   [`LIBRARY_ABI_SYMBOL`](crate::abi::LIBRARY_ABI_SYMBOL) plus one entry function per
//!   contract;
//! - **manifests**, one JSON file per contract and build
//!   (`<code hash>-<fork number>-abi<N>-<build tag>.json`, see [`Manifest`]), naming the
//!   library, its length and checksum, and the build that produced it.
//!
//! Writes never expose partial files: every file is written under a temporary name, flushed,
//! and renamed into place, libraries before the manifests pointing at them, so the rename of a
//! manifest is the commit point of a contract. Reads check everything a manifest records
//! before the library is mapped, and refuse an artifact with a typed [`ArtifactError`] rather
//! than run code that might not match: a refusal only costs a compilation.
//!
//! [`DiskStore`] is the implementation; [`ArtifactStore`] is the interface the runtime uses,
//! so tests and other back ends can stand in for it.

mod disk;
mod elf;
mod error;
mod fs;
mod loader;
mod mac;
mod maintenance;
mod manifest;

#[cfg(any(test, feature = "test-hooks"))]
#[doc(hidden)]
pub mod test_lib;

pub use disk::DiskStore;
pub use elf::{ElfProblem, LoaderCode};
pub use error::{ArtifactError, StoreError};
pub use fs::{FileKind, FileProblem, private_temp_dir};
pub use loader::LoadError;
pub use mac::{MacKey, MacKeyError};
pub use maintenance::{GcOptions, GcReport, Problem, VerifyReport};
pub use manifest::{ArtifactEntry, ArtifactKey, BuildId, BuildPart, COMPILER_SOURCE_HASH, Manifest, REVM_VERSION};

use crate::abi::EntryFn;
use std::{path::PathBuf, sync::Arc};

/// A place where compiled contracts persist across runs.
pub trait ArtifactStore: Send + Sync + std::fmt::Debug {
    /// Stores one library (its file's bytes) holding the given contracts, recording each
    /// contract under the store's build. Each contract becomes visible atomically, complete
    /// with its library; when several writers store the same contract at once, the last one
    /// wins. Storing nothing (`entries` empty) writes nothing.
    fn put(&self, library: &[u8], entries: &[ArtifactEntry]) -> Result<(), StoreError>;

    /// Loads the artifact for `key` written by this store's build: checks its manifest and
    /// library, maps the library, and finds the entry point. `Ok(None)` when the store holds no
    /// artifact for `key` from this build; an error when it holds one that must not be run.
    fn load(&self, key: &ArtifactKey) -> Result<Option<LoadedArtifact>, ArtifactError>;

    /// [`ArtifactStore::load`] for a lookup that has the code at hand: also refuses an
    /// artifact whose manifest records another bytecode length than `code_len`
    /// ([`ArtifactError::BytecodeLength`]), which a hand-edited manifest could otherwise use to
    /// skew the cache's accounting.
    fn load_code(&self, key: &ArtifactKey, code_len: usize) -> Result<Option<LoadedArtifact>, ArtifactError> {
        let Some(artifact) = self.load(key)? else { return Ok(None) };
        if artifact.manifest.bytecode_len != code_len as u64 {
            return Err(ArtifactError::BytecodeLength {
                path: PathBuf::from(&artifact.manifest.library),
                expected: code_len as u64,
                found: artifact.manifest.bytecode_len,
            });
        }
        Ok(Some(artifact))
    }

    /// The build whose artifacts this store reads and writes. Writers compare it with the
    /// build that compiled a library before filing the library under it.
    fn build(&self) -> &BuildId;

    /// Every manifest in the store, of any build, each with whether this build would accept
    /// it (checked up to the library's checksum, without mapping the library). Preloading
    /// and the command-line `store list` and `store verify` use it.
    fn list(&self) -> Result<Vec<ListedArtifact>, StoreError>;
}

/// A loaded artifact: the entry point of a contract and the library that owns its code.
#[derive(Clone, Debug)]
pub struct LoadedArtifact {
    /// The manifest it was loaded by.
    pub manifest: Manifest,
    /// The contract's compiled code. Valid only while `library` is loaded: keep the `Arc`
    /// alive for as long as the function may be called.
    pub entry: EntryFn,
    /// The library holding the code; shared by all contracts loaded from it.
    pub library: Arc<libloading::Library>,
    /// Bytes of the library charged to this contract: its entry function plus an equal part
    /// of the rest, so that the contracts of one library together weigh the library once.
    pub code_size: u64,
}

/// One manifest found in the store, and whether this build would accept it.
#[derive(Debug)]
pub struct ListedArtifact {
    /// The manifest file.
    pub path: PathBuf,
    /// Its contents, when they could be read and decoded.
    pub manifest: Option<Manifest>,
    /// Whether it would be loaded.
    pub status: ArtifactStatus,
}

impl ListedArtifact {
    /// Whether this build would accept the artifact.
    pub fn is_valid(&self) -> bool {
        matches!(self.status, ArtifactStatus::Valid)
    }

    /// Why this build would refuse the artifact, if it would.
    pub fn error(&self) -> Option<&ArtifactError> {
        match &self.status {
            ArtifactStatus::Valid => None,
            ArtifactStatus::Refused(e) => Some(e),
        }
    }
}

/// Whether a stored artifact would be accepted.
#[derive(Debug)]
pub enum ArtifactStatus {
    /// Every check passed.
    Valid,
    /// The first check that failed.
    Refused(ArtifactError),
}
