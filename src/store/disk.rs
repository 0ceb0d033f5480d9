//! [`DiskStore`]: the artifact store in one directory of the local file system.

use super::{
    ArtifactEntry, ArtifactError, ArtifactKey, ArtifactStatus, ArtifactStore, BuildId, ListedArtifact, LoadedArtifact,
    Manifest, StoreError,
    elf::{self, ElfSummary},
    fs::{EntryError, StoreLock, commit, read_entry, sync_dir, unix_secs, write_temp},
    loader::load_sealed,
    mac::MacKey,
    manifest::{MANIFEST_SUFFIX, ManifestName, TEMP_PREFIX, library_file_name},
};
use crate::abi::{ABI_VERSION, EntryFn, LIBRARY_ABI_SYMBOL, entry_symbol};
use libloading::Library;
use revm::primitives::{B256, keccak256};
use std::{
    collections::HashMap,
    fs::{self, File},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, Weak},
    time::SystemTime,
};
use tracing::{debug, debug_span};

/// The largest library the store reads (far above any contract's: a 24 KiB contract compiles
/// to well under a megabyte): a larger file is refused before it is read.
const MAX_LIBRARY_BYTES: u64 = 256 << 20;
/// The largest manifest the store reads.
const MAX_MANIFEST_BYTES: u64 = 64 << 10;

/// The artifact store in a directory: see the [module documentation](super) for the layout.
///
/// Any number of `DiskStore`s, in any number of threads and processes, may use one directory
/// at once. A store reads and writes artifacts of its own [`BuildId`] only, and lists all.
///
/// Nothing is mapped that was not verified: a library file is read once (only if it is a
/// regular file of this user that nobody else can write), its length and checksum are
/// compared with its manifest, its ELF image is checked to run no code at load
/// ([`super::ElfProblem`]), and those same bytes are loaded from a sealed memory file.
#[derive(Debug)]
pub struct DiskStore {
    dir: PathBuf,
    build: BuildId,
    /// With a key, every manifest written carries a MAC and every manifest read must.
    mac_key: Option<MacKey>,
    /// Libraries this store has opened and checked, by checksum, with their length and ELF
    /// summary. A library holding many contracts is then read, hashed and mapped once rather
    /// than once per contract; the mapping of an open library cannot change, so it needs no
    /// new check while any artifact loaded from it is alive.
    opened: Mutex<HashMap<B256, OpenedLibrary>>,
}

#[derive(Debug)]
struct OpenedLibrary {
    len: u64,
    summary: ElfSummary,
    library: Weak<Library>,
}

/// What a scan found about a library file, so a library referenced by several manifests is
/// read and checked once per scan.
#[derive(Clone)]
pub(crate) enum LibraryFacts {
    Missing,
    Untrusted(super::FileProblem),
    Present { len: u64, checksum: B256, elf: Result<ElfSummary, super::ElfProblem> },
}

impl DiskStore {
    /// Opens the store in `dir` for `build`, creating the directory if it does not exist. The
    /// directory is made absolute now, so that a later change of the working directory cannot
    /// make the store read another one.
    pub fn open(dir: impl Into<PathBuf>, build: BuildId) -> Result<Self, StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("create directory", &dir, e))?;
        let dir = std::path::absolute(&dir).map_err(|e| StoreError::io("make absolute", &dir, e))?;
        Ok(Self { dir, build, mac_key: None, opened: Mutex::new(HashMap::new()) })
    }

    /// Authenticates the store with `key`: every artifact written carries a MAC
    /// (HMAC-SHA256) over its manifest and, through the checksum the manifest records, its
    /// library; an artifact without a valid MAC is refused before its library is even read.
    /// For a store directory shared between hosts or users that must not be able to forge
    /// code for each other: only holders of the key can write artifacts this store accepts.
    pub fn with_mac_key(mut self, key: MacKey) -> Self {
        self.mac_key = Some(key);
        self
    }

    /// The store's directory (absolute).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The build this store reads and writes artifacts for.
    pub fn build(&self) -> &BuildId {
        &self.build
    }

    /// Where `key`'s manifest from this store's build is.
    pub fn manifest_path(&self, key: &ArtifactKey) -> PathBuf {
        self.dir.join(ManifestName::new(*key, &self.build).file_name())
    }

    /// Writes the library unless the store already holds it, then makes its name durable.
    fn put_library(&self, library: &[u8], checksum: &B256, path: &Path) -> Result<(), StoreError> {
        let held = matches!(
            read_entry(path, MAX_LIBRARY_BYTES),
            Ok(Some(bytes)) if bytes.len() == library.len() && keccak256(&bytes) == *checksum
        );
        if held {
            // Refresh its age: garbage collection spares young unreferenced libraries, which
            // matters where the store lock is not honoured. Failing to is harmless otherwise.
            if let Err(e) = File::open(path).and_then(|f| f.set_modified(SystemTime::now())) {
                debug!(path = %path.display(), error = %e, "cannot refresh the library's modification time");
            }
        } else {
            // Absent, damaged or untrusted: replace it atomically with good bytes. Readers
            // that mapped the old file keep their mapping.
            let temp = write_temp(&self.dir, library)?;
            commit(&temp, path)?;
        }
        // Also when the library was already there: its writer may have died before syncing.
        sync_dir(&self.dir)
    }

    fn put_manifest(&self, manifest: &Manifest) -> Result<(), StoreError> {
        let mut manifest = manifest.clone();
        if let Some(key) = &self.mac_key {
            manifest.mac = Some(key.sign(&manifest.mac_input()));
        }
        let manifest = &manifest;
        let path = self.manifest_path(&manifest.key());
        let json = serde_json::to_vec_pretty(manifest)
            .map_err(|source| StoreError::Serialize { path: path.clone(), source })?;
        let temp = write_temp(&self.dir, &json)?;
        commit(&temp, &path)
    }

    /// Reads and decodes a manifest; `Ok(None)` when the file does not exist.
    fn read_manifest(path: &Path) -> Result<Option<Manifest>, ArtifactError> {
        let bytes = match read_entry(path, MAX_MANIFEST_BYTES) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(EntryError::Untrusted(problem)) => {
                return Err(ArtifactError::UntrustedFile { path: path.to_owned(), problem });
            }
            Err(EntryError::Io(source)) => {
                return Err(ArtifactError::ManifestUnreadable { path: path.to_owned(), source });
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| ArtifactError::ManifestMalformed { path: path.to_owned(), source })
    }

    /// The checks a manifest's contents must pass for `expected`: the key, its entry symbol,
    /// this build, and a library name of this store. Returns the library's path.
    fn check_manifest(
        &self,
        path: &Path,
        manifest: &Manifest,
        expected: &ArtifactKey,
    ) -> Result<PathBuf, ArtifactError> {
        let path = || path.to_owned();
        // First: with a key, nothing else a manifest says is believed before its MAC.
        if let Some(key) = &self.mac_key {
            match &manifest.mac {
                None => return Err(ArtifactError::MacMissing { path: path() }),
                Some(mac) if !key.verify(&manifest.mac_input(), mac) => {
                    return Err(ArtifactError::MacMismatch { path: path() });
                }
                Some(_) => {}
            }
        }
        if manifest.code_hash != expected.code_hash {
            return Err(ArtifactError::CodeHashMismatch {
                path: path(),
                expected: expected.code_hash,
                found: manifest.code_hash,
            });
        }
        if manifest.spec != expected.spec {
            return Err(ArtifactError::SpecMismatch { path: path(), expected: expected.spec, found: manifest.spec });
        }
        if manifest.abi_version != self.build.abi_version {
            return Err(ArtifactError::AbiVersionMismatch {
                path: path(),
                expected: self.build.abi_version,
                found: manifest.abi_version,
            });
        }
        if let Some((part, expected, found)) = self.build.mismatch(&manifest.build()) {
            return Err(ArtifactError::BuildMismatch { path: path(), part, expected, found });
        }
        // The entry symbol is a function of the key: a manifest naming another one would run
        // another contract's code (from a library holding both) under this key.
        let symbol = entry_symbol(&manifest.code_hash, manifest.spec);
        if manifest.symbol != symbol {
            return Err(ArtifactError::SymbolMismatch {
                path: path(),
                expected: symbol,
                found: manifest.symbol.clone(),
            });
        }
        // The name must be the one the checksum gives: that keeps a manifest from pointing
        // outside the store, and makes one name always mean one content.
        let library = library_file_name(&manifest.checksum);
        if manifest.library != library {
            return Err(ArtifactError::LibraryName {
                path: path(),
                expected: library,
                found: manifest.library.clone(),
            });
        }
        Ok(self.dir.join(library))
    }

    /// Reads a library file whole, if the store trusts the file; `Ok(None)` when it is missing.
    fn read_library(path: &Path) -> Result<Option<Vec<u8>>, ArtifactError> {
        match read_entry(path, MAX_LIBRARY_BYTES) {
            Ok(bytes) => Ok(bytes),
            Err(EntryError::Untrusted(problem)) => Err(ArtifactError::UntrustedFile { path: path.to_owned(), problem }),
            Err(EntryError::Io(source)) => Err(ArtifactError::LibraryUnreadable { path: path.to_owned(), source }),
        }
    }

    /// Reads a library file and finds what [`Self::check_library`] needs.
    pub(crate) fn library_facts(path: &Path) -> Result<LibraryFacts, ArtifactError> {
        match Self::read_library(path) {
            Ok(Some(bytes)) => Ok(LibraryFacts::Present {
                len: bytes.len() as u64,
                checksum: keccak256(&bytes),
                elf: elf::check(&bytes),
            }),
            Ok(None) => Ok(LibraryFacts::Missing),
            Err(ArtifactError::UntrustedFile { problem, .. }) => Ok(LibraryFacts::Untrusted(problem)),
            Err(e) => Err(e),
        }
    }

    /// Checks a library's facts against what its manifest records: present and trusted,
    /// length, checksum, and an ELF image that runs nothing at load. Returns its summary.
    pub(crate) fn check_library(
        path: &Path,
        facts: LibraryFacts,
        manifest: &Manifest,
    ) -> Result<ElfSummary, ArtifactError> {
        let path = || path.to_owned();
        let (len, checksum, elf) = match facts {
            LibraryFacts::Missing => return Err(ArtifactError::LibraryMissing { path: path() }),
            LibraryFacts::Untrusted(problem) => return Err(ArtifactError::UntrustedFile { path: path(), problem }),
            LibraryFacts::Present { len, checksum, elf } => (len, checksum, elf),
        };
        if len != manifest.library_len {
            return Err(ArtifactError::LibraryLength { path: path(), expected: manifest.library_len, found: len });
        }
        if checksum != manifest.checksum {
            return Err(ArtifactError::ChecksumMismatch { path: path(), expected: manifest.checksum, found: checksum });
        }
        elf.map_err(|problem| ArtifactError::Elf { path: path(), problem })
    }

    /// Reads, checks and maps the library of `manifest`: the bytes checked are the bytes
    /// loaded (see [`super::loader`]). Then checks the ABI version it exports.
    pub(crate) fn open_library(path: &Path, manifest: &Manifest) -> Result<(Library, ElfSummary), ArtifactError> {
        let Some(bytes) = Self::read_library(path)? else {
            return Err(ArtifactError::LibraryMissing { path: path.to_owned() });
        };
        let facts =
            LibraryFacts::Present { len: bytes.len() as u64, checksum: keccak256(&bytes), elf: elf::check(&bytes) };
        let summary = Self::check_library(path, facts, manifest)?;
        let library =
            load_sealed(&bytes).map_err(|source| ArtifactError::LibraryOpen { path: path.to_owned(), source })?;
        // SAFETY: the symbol is declared by the AOT compiler as a `u32` constant; only its
        // address is taken here.
        let symbol = unsafe { library.get::<*const u32>(LIBRARY_ABI_SYMBOL.as_bytes()) }.map_err(|source| {
            ArtifactError::AbiSymbolMissing { path: path.to_owned(), symbol: LIBRARY_ABI_SYMBOL, source }
        })?;
        let address: *const u32 = *symbol;
        // SAFETY: `address` is the address of the exported `u32` (non-null: the loader found
        // it), in a mapping that lives as long as `library`.
        let found = unsafe { address.read_unaligned() };
        if found != ABI_VERSION {
            return Err(ArtifactError::AbiSymbolMismatch { path: path.to_owned(), expected: ABI_VERSION, found });
        }
        Ok((library, summary))
    }

    /// Finds a contract's entry point in an opened library.
    pub(crate) fn entry(path: &Path, library: &Library, symbol: &str) -> Result<EntryFn, ArtifactError> {
        // SAFETY: entry symbols of AOT libraries are functions with the `EntryFn` signature
        // (the library's ABI version, checked when it was opened, says so). The pointer is
        // used only while the `Library` that owns it is alive (see `LoadedArtifact`).
        let entry = unsafe { library.get::<EntryFn>(symbol.as_bytes()) }.map_err(|source| {
            ArtifactError::EntrySymbolMissing { path: path.to_owned(), symbol: symbol.to_owned(), source }
        })?;
        Ok(*entry)
    }

    /// The library for `manifest`: the one already opened by this store if it is still loaded,
    /// otherwise read, checked and opened now. Returns it with its ELF summary.
    fn library_for(&self, path: &Path, manifest: &Manifest) -> Result<(Arc<Library>, ElfSummary), ArtifactError> {
        {
            let opened = self.opened.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(known) = opened.get(&manifest.checksum)
                && known.len == manifest.library_len
                && let Some(library) = known.library.upgrade()
            {
                return Ok((library, known.summary.clone()));
            }
        }
        let (library, summary) = Self::open_library(path, manifest)?;
        let library = Arc::new(library);
        let mut opened = self.opened.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        opened.retain(|_, known| known.library.strong_count() > 0);
        opened.insert(
            manifest.checksum,
            OpenedLibrary { len: manifest.library_len, summary: summary.clone(), library: Arc::downgrade(&library) },
        );
        Ok((library, summary))
    }

    /// Checks one manifest file for [`ArtifactStore::list`]: its name, contents and library
    /// bytes (reading each library once per scan through `facts`). `None` when the file
    /// disappeared meanwhile.
    pub(crate) fn check_listed(
        &self,
        path: PathBuf,
        facts: &mut HashMap<String, LibraryFacts>,
    ) -> Option<ListedArtifact> {
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let name = match ManifestName::parse(file_name) {
            Ok(name) => name,
            Err(detail) => {
                let status = ArtifactStatus::Refused(ArtifactError::ManifestName { path: path.clone(), detail });
                return Some(ListedArtifact { path, manifest: None, status });
            }
        };
        let manifest = match Self::read_manifest(&path) {
            Ok(Some(manifest)) => manifest,
            Ok(None) => return None,
            Err(e) => return Some(ListedArtifact { path, manifest: None, status: ArtifactStatus::Refused(e) }),
        };
        let checked = self.check_manifest(&path, &manifest, &name.key).and_then(|library| {
            let found = match facts.get(&manifest.library) {
                Some(found) => found.clone(),
                None => {
                    let found = Self::library_facts(&library)?;
                    facts.insert(manifest.library.clone(), found.clone());
                    found
                }
            };
            Self::check_library(&library, found, &manifest)
        });
        let status = match checked {
            Ok(_) => ArtifactStatus::Valid,
            Err(e) => ArtifactStatus::Refused(e),
        };
        Some(ListedArtifact { path, manifest: Some(manifest), status })
    }

    /// Paths of the manifest files in the store, sorted.
    pub(crate) fn manifest_paths(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut paths = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| StoreError::io("read directory", &self.dir, e))? {
            let entry = entry.map_err(|e| StoreError::io("read directory", &self.dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(MANIFEST_SUFFIX) && !name.starts_with(TEMP_PREFIX) {
                paths.push(entry.path());
            }
        }
        paths.sort();
        Ok(paths)
    }
}

impl ArtifactStore for DiskStore {
    fn put(&self, library: &[u8], entries: &[ArtifactEntry]) -> Result<(), StoreError> {
        let span =
            debug_span!("store_put", dir = %self.dir.display(), contracts = entries.len(), bytes = library.len());
        let _span = span.enter();
        if entries.is_empty() {
            return Ok(());
        }
        let _lock = StoreLock::shared(&self.dir)?;
        let checksum = keccak256(library);
        let library_name = library_file_name(&checksum);
        self.put_library(library, &checksum, &self.dir.join(&library_name))?;
        let created_unix_secs = unix_secs();
        for entry in entries {
            self.put_manifest(&Manifest {
                code_hash: entry.key.code_hash,
                spec: entry.key.spec,
                compiler_version: self.build.compiler_version.clone(),
                compiler_source: self.build.compiler_source.clone(),
                revm_version: self.build.revm_version.clone(),
                llvm_version: self.build.llvm_version.clone(),
                opt_level: self.build.opt_level.clone(),
                abi_version: self.build.abi_version,
                target: self.build.target.clone(),
                symbol: entry.symbol.clone(),
                bytecode_len: entry.bytecode_len,
                library: library_name.clone(),
                library_len: library.len() as u64,
                checksum,
                created_unix_secs,
                mac: None,
            })?;
        }
        sync_dir(&self.dir)?;
        debug!(library = %library_name, "stored");
        Ok(())
    }

    fn load(&self, key: &ArtifactKey) -> Result<Option<LoadedArtifact>, ArtifactError> {
        let span = debug_span!("store_load", dir = %self.dir.display(), %key);
        let _span = span.enter();
        let path = self.manifest_path(key);
        let mut retried = false;
        loop {
            let Some(manifest) = Self::read_manifest(&path)? else {
                return Ok(None);
            };
            let loaded = self.check_manifest(&path, &manifest, key).and_then(|library_path| {
                let (library, summary) = self.library_for(&library_path, &manifest)?;
                let entry = Self::entry(&library_path, &library, &manifest.symbol)?;
                let code_size = summary.share(&manifest.symbol, manifest.library_len);
                Ok(LoadedArtifact { manifest, entry, library, code_size })
            });
            match loaded {
                Ok(artifact) => {
                    debug!(library = %artifact.manifest.library, "loaded");
                    return Ok(Some(artifact));
                }
                // A writer may have replaced the manifest after it was read, and garbage
                // collection removed the library it named: the new manifest deserves a look.
                Err(ArtifactError::LibraryMissing { .. }) if !retried => retried = true,
                Err(e) => {
                    debug!(reason = e.reason(), error = %e, "refused");
                    return Err(e);
                }
            }
        }
    }

    fn load_code(&self, key: &ArtifactKey, code_len: usize) -> Result<Option<LoadedArtifact>, ArtifactError> {
        let Some(artifact) = self.load(key)? else { return Ok(None) };
        if artifact.manifest.bytecode_len != code_len as u64 {
            return Err(ArtifactError::BytecodeLength {
                path: self.manifest_path(key),
                expected: code_len as u64,
                found: artifact.manifest.bytecode_len,
            });
        }
        Ok(Some(artifact))
    }

    fn list(&self) -> Result<Vec<ListedArtifact>, StoreError> {
        let mut facts = HashMap::new();
        Ok(self.manifest_paths()?.into_iter().filter_map(|path| self.check_listed(path, &mut facts)).collect())
    }

    fn build(&self) -> &BuildId {
        &self.build
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{abi::entry_symbol, store::test_lib::library};
    use revm::primitives::hardfork::SpecId;

    fn build() -> BuildId {
        BuildId::new("revm-jit test", "test-target")
    }

    fn key(n: u8) -> ArtifactKey {
        ArtifactKey::new(keccak256([n]), SpecId::CANCUN)
    }

    fn entry(key: ArtifactKey) -> ArtifactEntry {
        ArtifactEntry { key, symbol: entry_symbol(&key.code_hash, key.spec), bytecode_len: 3 }
    }

    fn call(artifact: &LoadedArtifact) -> u32 {
        // SAFETY: test libraries' entry functions ignore their argument.
        unsafe { (artifact.entry)(std::ptr::null_mut()) }
    }

    #[test]
    fn put_then_load_runs_the_stored_code() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
        let (a, b) = (key(1), key(2));
        let bytes = library(&[(&entry(a).symbol, 11), (&entry(b).symbol, 22)]);
        store.put(&bytes, &[entry(a), entry(b)]).unwrap();

        let loaded_a = store.load(&a).unwrap().expect("stored");
        let loaded_b = store.load(&b).unwrap().expect("stored");
        assert_eq!((call(&loaded_a), call(&loaded_b)), (11, 22));
        assert_eq!(loaded_a.manifest.key(), a);
        assert_eq!(loaded_a.manifest.checksum, keccak256(&bytes));
        assert_eq!(loaded_a.manifest.library_len, bytes.len() as u64);
        assert_eq!(loaded_a.manifest.build(), build());
        // One library file, opened once for both contracts.
        assert!(Arc::ptr_eq(&loaded_a.library, &loaded_b.library));
        assert_eq!(store.load(&key(3)).unwrap().map(|a| a.manifest), None);
    }

    #[test]
    fn empty_put_writes_nothing() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = DiskStore::open(dir.path(), build()).unwrap();
        store.put(&library(&[]), &[]).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn other_builds_do_not_see_each_others_artifacts() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = DiskStore::open(dir.path(), build()).unwrap();
        let k = key(1);
        store.put(&library(&[(&entry(k).symbol, 1)]), &[entry(k)]).unwrap();
        for other in [BuildId::new("revm-jit other", "test-target"), BuildId::new("revm-jit test", "other-target")] {
            let other = DiskStore::open(dir.path(), other).unwrap();
            assert!(other.load(&k).unwrap().is_none());
        }
        assert!(store.load(&k).unwrap().is_some());
    }

    #[test]
    fn put_repairs_a_damaged_library_and_keeps_a_good_one() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = DiskStore::open(dir.path(), build()).unwrap();
        let k = key(1);
        let bytes = library(&[(&entry(k).symbol, 5)]);
        store.put(&bytes, &[entry(k)]).unwrap();
        let library_path = dir.path().join(library_file_name(&keccak256(&bytes)));
        let inode = |p: &Path| {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(p).unwrap().ino()
        };
        let before = inode(&library_path);
        store.put(&bytes, &[entry(k)]).unwrap();
        assert_eq!(inode(&library_path), before, "an intact library is not rewritten");

        fs::write(&library_path, b"damaged").unwrap();
        assert_eq!(store.load(&k).unwrap_err().reason(), "truncated");
        store.put(&bytes, &[entry(k)]).unwrap();
        assert_eq!(fs::read(&library_path).unwrap(), bytes);
        assert_eq!(call(&store.load(&k).unwrap().unwrap()), 5);
    }

    #[test]
    fn storing_a_held_library_again_makes_it_young() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = DiskStore::open(dir.path(), build()).unwrap();
        let k = key(1);
        let bytes = library(&[(&entry(k).symbol, 1)]);
        store.put(&bytes, &[entry(k)]).unwrap();
        let path = dir.path().join(library_file_name(&keccak256(&bytes)));
        let day_ago = SystemTime::now() - std::time::Duration::from_secs(24 * 60 * 60);
        File::open(&path).unwrap().set_modified(day_ago).unwrap();
        // Storing the library again reuses the file, whose age must then not let garbage
        // collection take it before the new manifest exists.
        store.put(&bytes, &[entry(k)]).unwrap();
        let modified = fs::metadata(&path).unwrap().modified().unwrap();
        assert!(modified > day_ago + std::time::Duration::from_secs(60 * 60), "{modified:?}");
    }

    #[test]
    fn manifest_is_pretty_json_naming_its_library() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = DiskStore::open(dir.path(), build()).unwrap();
        let k = key(1);
        let bytes = library(&[(&entry(k).symbol, 1)]);
        store.put(&bytes, &[entry(k)]).unwrap();
        let text = fs::read_to_string(store.manifest_path(&k)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["spec"], "Cancun");
        assert_eq!(value["spec_id"], SpecId::CANCUN as u8);
        assert_eq!(value["library"], library_file_name(&keccak256(&bytes)));
        assert_eq!(value["symbol"], entry(k).symbol);
        assert!(text.contains('\n'), "readable by people: {text}");
    }
}
