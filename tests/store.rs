//! The AOT artifact store with real shared libraries, built at test time with the system C
//! compiler: every library exports the ABI version symbol and entry functions returning a
//! marker, so a test can tell which library a loaded entry point came from.

use revm::primitives::{B256, hardfork::SpecId, keccak256};
use revm_jit::{
    abi::{ABI_VERSION, entry_symbol},
    store::test_lib::build_library,
    store::{
        ArtifactEntry, ArtifactError, ArtifactKey, ArtifactStore, BuildId, BuildPart, DiskStore, GcOptions,
        LoadedArtifact,
    },
};
use serde_json::Value;
use std::{
    collections::{BTreeMap, HashSet},
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc, Barrier,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

/// A library of this ABI version holding `(key, marker)` contracts, and their entries.
fn library_for(contracts: &[(ArtifactKey, u32)]) -> (Vec<u8>, Vec<ArtifactEntry>) {
    let entries: Vec<ArtifactEntry> = contracts.iter().map(|(key, _)| entry(*key)).collect();
    let symbols: Vec<(&str, u32)> =
        entries.iter().zip(contracts).map(|(entry, (_, marker))| (entry.symbol.as_str(), *marker)).collect();
    (build_library(Some(ABI_VERSION), &symbols), entries)
}

fn build() -> BuildId {
    BuildId::new("revm-jit store-test 1", "x86_64-test-linux generic")
}

fn key(n: u8, spec: SpecId) -> ArtifactKey {
    ArtifactKey::new(keccak256([n]), spec)
}

fn entry(key: ArtifactKey) -> ArtifactEntry {
    ArtifactEntry { key, symbol: entry_symbol(&key.code_hash, key.spec), bytecode_len: 42 }
}

fn call(artifact: &LoadedArtifact) -> u32 {
    // SAFETY: test libraries' entry functions do not touch their argument.
    unsafe { (artifact.entry)(std::ptr::null_mut()) }
}

/// A store in `dir` holding one contract `k` returning `marker`; returns its library's path.
fn store_one(dir: &Path, k: ArtifactKey, marker: u32) -> PathBuf {
    let store = DiskStore::open(dir, build()).unwrap();
    let (bytes, entries) = library_for(&[(k, marker)]);
    store.put(&bytes, &entries).unwrap();
    library_path(&store, &k)
}

fn library_path(store: &DiskStore, k: &ArtifactKey) -> PathBuf {
    store.dir().join(read_manifest(store, k)["library"].as_str().unwrap())
}

fn read_manifest(store: &DiskStore, k: &ArtifactKey) -> Value {
    serde_json::from_slice(&fs::read(store.manifest_path(k)).unwrap()).unwrap()
}

fn edit_manifest(store: &DiskStore, k: &ArtifactKey, edit: impl FnOnce(&mut Value)) {
    let mut value = read_manifest(store, k);
    edit(&mut value);
    fs::write(store.manifest_path(k), serde_json::to_vec(&value).unwrap()).unwrap();
}

/// Replaces a file by a new one (as a new inode: the old one may be mapped by this process).
fn replace_file(path: &Path, bytes: &[u8]) {
    let temp = path.with_extension("replacing");
    fs::write(&temp, bytes).unwrap();
    fs::rename(&temp, path).unwrap();
}

/// Loads `k` from a fresh store on `dir` (nothing cached) and returns the refusal.
fn refusal(dir: &Path, k: &ArtifactKey) -> ArtifactError {
    match DiskStore::open(dir, build()).unwrap().load(k) {
        Ok(loaded) => panic!("expected a refusal, loaded {:?}", loaded.map(|a| a.manifest)),
        Err(e) => e,
    }
}

#[test]
fn a_reopened_store_loads_what_was_put() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (a, b) = (key(1, SpecId::CANCUN), key(1, SpecId::PRAGUE));
    {
        let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
        let (bytes, entries) = library_for(&[(a, 7), (b, 8)]);
        store.put(&bytes, &entries).unwrap();
    }
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let loaded = store.load(&a).unwrap().expect("stored before the restart");
    assert_eq!(call(&loaded), 7);
    assert_eq!(loaded.manifest.key(), a);
    assert_eq!(loaded.manifest.symbol, entry_symbol(&a.code_hash, a.spec));
    assert_eq!(loaded.manifest.bytecode_len, 42);
    assert_eq!(call(&store.load(&b).unwrap().unwrap()), 8, "same code, other fork: its own entry");
    assert!(store.load(&key(2, SpecId::CANCUN)).unwrap().is_none());
}

#[test]
fn a_flipped_byte_is_refused_by_the_checksum() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let k = key(1, SpecId::CANCUN);
    let library = store_one(&dir.path().join("store"), k, 1);
    let mut bytes = fs::read(&library).unwrap();
    let good = keccak256(&bytes);
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    replace_file(&library, &bytes);
    match refusal(&dir.path().join("store"), &k) {
        ArtifactError::ChecksumMismatch { path, expected, found } => {
            assert_eq!((path, expected, found), (library, good, keccak256(&bytes)));
        }
        e => panic!("expected a checksum mismatch, got {e}"),
    }
}

#[test]
fn a_truncated_library_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let k = key(1, SpecId::CANCUN);
    let library = store_one(&dir.path().join("store"), k, 1);
    let bytes = fs::read(&library).unwrap();
    replace_file(&library, &bytes[..bytes.len() - 100]);
    let e = refusal(&dir.path().join("store"), &k);
    assert!(
        matches!(e, ArtifactError::LibraryLength { expected, found, .. }
            if expected == bytes.len() as u64 && found == bytes.len() as u64 - 100),
        "{e}"
    );
    assert_eq!(e.reason(), "truncated");
}

#[test]
fn a_missing_library_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let k = key(1, SpecId::CANCUN);
    let library = store_one(&dir.path().join("store"), k, 1);
    fs::remove_file(&library).unwrap();
    let e = refusal(&dir.path().join("store"), &k);
    assert!(matches!(&e, ArtifactError::LibraryMissing { path } if *path == library), "{e}");
}

#[test]
fn a_manifest_of_another_abi_version_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let k = key(1, SpecId::CANCUN);
    store_one(&dir.path().join("store"), k, 1);
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    edit_manifest(&store, &k, |m| m["abi_version"] = (ABI_VERSION + 1).into());
    let e = refusal(&dir.path().join("store"), &k);
    assert!(
        matches!(e, ArtifactError::AbiVersionMismatch { expected, found, .. }
            if expected == ABI_VERSION && found == ABI_VERSION + 1),
        "{e}"
    );
    assert!(e.is_other_build());
}

#[test]
fn a_manifest_for_another_fork_or_code_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let (cancun, prague) = (key(1, SpecId::CANCUN), key(1, SpecId::PRAGUE));
    store_one(&dir.path().join("store"), cancun, 1);

    // Requested Prague, the file there records Cancun.
    fs::copy(store.manifest_path(&cancun), store.manifest_path(&prague)).unwrap();
    let e = refusal(&dir.path().join("store"), &prague);
    assert!(matches!(e, ArtifactError::SpecMismatch { expected: SpecId::PRAGUE, found: SpecId::CANCUN, .. }), "{e}");
    assert_eq!(e.reason(), "spec");

    // Requested Cancun, the record was changed to Prague.
    edit_manifest(&store, &cancun, |m| {
        m["spec"] = "Prague".into();
        m["spec_id"] = (SpecId::PRAGUE as u8).into();
    });
    let e = refusal(&dir.path().join("store"), &cancun);
    assert!(matches!(e, ArtifactError::SpecMismatch { expected: SpecId::CANCUN, found: SpecId::PRAGUE, .. }), "{e}");

    // Another contract's manifest under this contract's name.
    let other = key(2, SpecId::CANCUN);
    fs::copy(store.manifest_path(&prague), store.manifest_path(&other)).unwrap();
    let e = refusal(&dir.path().join("store"), &other);
    assert!(
        matches!(e, ArtifactError::CodeHashMismatch { expected, found, .. }
            if expected == other.code_hash && found == cancun.code_hash),
        "{e}"
    );
}

#[test]
fn artifacts_of_another_compiler_or_target_are_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let k = key(1, SpecId::CANCUN);
    store_one(&dir.path().join("store"), k, 1);
    // Another build looks under another name and finds nothing.
    for other in [
        BuildId::new("revm-jit store-test 2", build().target),
        BuildId::new(build().compiler_version, "aarch64-test-linux generic"),
        BuildId { abi_version: ABI_VERSION + 1, ..build() },
    ] {
        assert!(DiskStore::open(dir.path().join("store"), other).unwrap().load(&k).unwrap().is_none());
    }

    // A manifest under this build's name recording another compiler, then another target.
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let original = read_manifest(&store, &k);
    edit_manifest(&store, &k, |m| m["compiler_version"] = "revm-jit store-test 0".into());
    let e = refusal(&dir.path().join("store"), &k);
    assert!(
        matches!(&e, ArtifactError::BuildMismatch { part: BuildPart::CompilerVersion, expected, found, .. }
            if *expected == build().compiler_version && found == "revm-jit store-test 0"),
        "{e}"
    );
    edit_manifest(&store, &k, |m| *m = original.clone());
    edit_manifest(&store, &k, |m| m["target"] = "x86_64-test-linux znver9".into());
    let e = refusal(&dir.path().join("store"), &k);
    assert!(
        matches!(&e, ArtifactError::BuildMismatch { part: BuildPart::Target, found, .. } if found == "x86_64-test-linux znver9"),
        "{e}"
    );
    assert_eq!(e.reason(), "target");
}

#[test]
fn a_library_built_for_another_abi_is_refused_after_opening() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let k = key(1, SpecId::CANCUN);
    let bytes = build_library(Some(ABI_VERSION + 7), &[(&entry(k).symbol, 1)]);
    store.put(&bytes, &[entry(k)]).unwrap();
    let e = refusal(&dir.path().join("store"), &k);
    assert!(
        matches!(e, ArtifactError::AbiSymbolMismatch { expected, found, .. }
            if expected == ABI_VERSION && found == ABI_VERSION + 7),
        "{e}"
    );
}

#[test]
fn a_library_without_the_abi_symbol_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let k = key(1, SpecId::CANCUN);
    store.put(&build_library(None, &[(&entry(k).symbol, 1)]), &[entry(k)]).unwrap();
    let e = refusal(&dir.path().join("store"), &k);
    assert!(matches!(e, ArtifactError::AbiSymbolMissing { symbol: "revm_jit_abi_version", .. }), "{e}");
}

#[test]
fn a_missing_entry_symbol_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let (k, absent) = (key(1, SpecId::CANCUN), key(2, SpecId::CANCUN));
    let (bytes, _) = library_for(&[(k, 1)]);
    store.put(&bytes, &[entry(k), entry(absent)]).unwrap();
    assert_eq!(call(&store.load(&k).unwrap().unwrap()), 1);
    let e = refusal(&dir.path().join("store"), &absent);
    assert!(matches!(&e, ArtifactError::EntrySymbolMissing { symbol, .. } if *symbol == entry(absent).symbol), "{e}");
}

#[test]
fn a_malformed_manifest_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let k = key(1, SpecId::CANCUN);
    store_one(&dir.path().join("store"), k, 1);
    let good = fs::read(store.manifest_path(&k)).unwrap();
    for bad in [&b"{\"code_hash\": "[..], b"[]", b"", &good[..good.len() / 2]] {
        fs::write(store.manifest_path(&k), bad).unwrap();
        let e = refusal(&dir.path().join("store"), &k);
        assert!(matches!(e, ArtifactError::ManifestMalformed { .. }), "{e}");
    }
    fs::write(store.manifest_path(&k), &good).unwrap();
    edit_manifest(&store, &k, |m| m["spec"] = "Bogota".into());
    let e = refusal(&dir.path().join("store"), &k);
    assert!(e.to_string().contains("Bogota"), "{e}");
    assert_eq!(e.reason(), "manifest-malformed");
}

#[test]
fn a_manifest_naming_a_file_outside_the_store_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let k = key(1, SpecId::CANCUN);
    let library = store_one(&dir.path().join("store"), k, 1);
    fs::copy(&library, dir.path().join("outside.so")).unwrap();
    edit_manifest(&store, &k, |m| m["library"] = "../outside.so".into());
    let e = refusal(&dir.path().join("store"), &k);
    assert!(matches!(&e, ArtifactError::LibraryName { found, .. } if found == "../outside.so"), "{e}");
}

#[test]
fn checks_report_the_first_failure() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let k = key(1, SpecId::CANCUN);
    let library = store_one(&dir.path().join("store"), k, 1);
    // A truncated library whose manifest is also of another ABI version: the manifest's
    // problem comes first, then the length comes before the checksum.
    replace_file(&library, b"short");
    edit_manifest(&store, &k, |m| m["abi_version"] = (ABI_VERSION + 1).into());
    assert_eq!(refusal(&dir.path().join("store"), &k).reason(), "abi-version");
    edit_manifest(&store, &k, |m| m["abi_version"] = ABI_VERSION.into());
    assert_eq!(refusal(&dir.path().join("store"), &k).reason(), "truncated");
}

#[test]
fn contracts_of_two_libraries() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let keys: Vec<ArtifactKey> = (1..=4).map(|n| key(n, SpecId::PRAGUE)).collect();
    let (first, first_entries) = library_for(&[(keys[0], 10), (keys[1], 11)]);
    let (second, second_entries) = library_for(&[(keys[2], 20), (keys[3], 21)]);
    store.put(&first, &first_entries).unwrap();
    store.put(&second, &second_entries).unwrap();

    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let loaded: Vec<LoadedArtifact> = keys.iter().map(|k| store.load(k).unwrap().unwrap()).collect();
    assert_eq!(loaded.iter().map(call).collect::<Vec<_>>(), [10, 11, 20, 21]);
    assert_eq!(loaded[0].manifest.library, loaded[1].manifest.library);
    assert_ne!(loaded[0].manifest.library, loaded[2].manifest.library);
    assert_eq!(loaded[2].manifest.checksum, keccak256(&second));
    assert!(Arc::ptr_eq(&loaded[2].library, &loaded[3].library));
    assert!(!Arc::ptr_eq(&loaded[0].library, &loaded[2].library));

    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|a| a.is_valid()), "{listed:?}");
    let report = store.verify().unwrap();
    assert_eq!((report.checked, report.valid), (4, 4));
    assert!(report.is_clean() && report.unreferenced_libraries.is_empty() && report.temp_files.is_empty());
}

#[test]
fn concurrent_writers_of_one_key_leave_a_complete_artifact() {
    const WRITERS: u32 = 6;
    const ROUNDS: usize = 10;
    let dir = tempfile::tempdir().expect("temporary directory");
    let k = key(1, SpecId::CANCUN);
    let other = key(2, SpecId::CANCUN);
    // Each writer stores the same two contracts with its own markers, so its own library.
    let libraries: Vec<(Vec<u8>, Vec<ArtifactEntry>)> =
        (0..WRITERS).map(|w| library_for(&[(k, 100 + w), (other, 200 + w)])).collect();
    let barrier = Barrier::new(WRITERS as usize + 1);
    let done = AtomicBool::new(false);
    let loads = thread::scope(|s| {
        let writers: Vec<_> = libraries
            .iter()
            .map(|(bytes, entries)| {
                let (barrier, store) = (&barrier, DiskStore::open(dir.path().join("store"), build()).unwrap());
                s.spawn(move || {
                    barrier.wait();
                    for _ in 0..ROUNDS {
                        store.put(bytes, entries).unwrap();
                    }
                })
            })
            .collect();
        // A reader meanwhile: whatever it finds must load, and be one writer's code.
        let reader = s.spawn(|| {
            let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
            barrier.wait();
            let mut loads = 0;
            while !done.load(Ordering::Acquire) {
                if let Some(artifact) = store.load(&k).unwrap() {
                    assert!((100..100 + WRITERS).contains(&call(&artifact)), "{}", call(&artifact));
                    loads += 1;
                }
            }
            loads
        });
        // Stop the reader even when a writer failed, so that a failure does not hang.
        let written: Vec<_> = writers.into_iter().map(|writer| writer.join()).collect();
        done.store(true, Ordering::Release);
        written.into_iter().for_each(|result| result.unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        reader.join().unwrap()
    });
    eprintln!("reader loaded {loads} times during the writes");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let (a, b) = (store.load(&k).unwrap().unwrap(), store.load(&other).unwrap().unwrap());
    assert!((100..100 + WRITERS).contains(&call(&a)), "{}", call(&a));
    assert!((200..200 + WRITERS).contains(&call(&b)), "{}", call(&b));
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.checked, 2);
    assert!(report.temp_files.is_empty(), "{:?}", report.temp_files);
}

/// Options that remove everything removable now (tests cannot wait out grace periods).
fn gc_now() -> GcOptions {
    GcOptions { temp_max_age: Duration::ZERO, library_grace: Duration::ZERO, ..GcOptions::default() }
}

#[test]
fn gc_removes_stale_temp_files_and_unreferenced_libraries_only() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let (a, b) = (key(1, SpecId::CANCUN), key(2, SpecId::CANCUN));
    let (library_a, entries_a) = library_for(&[(a, 1)]);
    let (replaced, entries_b) = library_for(&[(b, 2)]);
    let (library_b, _) = library_for(&[(b, 3)]);
    store.put(&library_a, &entries_a).unwrap();
    store.put(&replaced, &entries_b).unwrap();
    let orphan = library_path(&store, &b);
    store.put(&library_b, &entries_b).unwrap();
    let stale = store.dir().join(".tmp-4242-0-0");
    fs::write(&stale, b"partial").unwrap();

    // Everything is younger than the default grace periods: nothing goes.
    assert_eq!(store.gc(&GcOptions::default()).unwrap(), Default::default());
    assert!(orphan.exists() && stale.exists());
    let report = store.verify().unwrap();
    assert!(report.is_clean());
    assert_eq!((report.unreferenced_libraries, report.temp_files), (vec![orphan.clone()], vec![stale.clone()]));

    let report = store.gc(&gc_now()).unwrap();
    assert_eq!(report.removed_libraries, std::slice::from_ref(&orphan));
    assert_eq!(report.removed_temp_files, std::slice::from_ref(&stale));
    assert!(report.removed_manifests.is_empty());
    assert_eq!(report.bytes_freed, replaced.len() as u64 + 7);
    assert!(!orphan.exists() && !stale.exists());

    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    assert_eq!(call(&store.load(&a).unwrap().unwrap()), 1);
    assert_eq!(call(&store.load(&b).unwrap().unwrap()), 3);
    let report = store.verify().unwrap();
    assert!(report.is_clean() && report.unreferenced_libraries.is_empty() && report.temp_files.is_empty());
    assert_eq!(store.gc(&gc_now()).unwrap(), Default::default(), "nothing left to collect");
}

#[test]
fn gc_removes_refused_manifests_as_told() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let other_build = BuildId::new("revm-jit store-test 2", build().target);
    let other_store = DiskStore::open(dir.path().join("store"), other_build.clone()).unwrap();
    let (valid, damaged, foreign) = (key(1, SpecId::CANCUN), key(2, SpecId::CANCUN), key(3, SpecId::CANCUN));
    store_one(&dir.path().join("store"), valid, 1);
    let damaged_library = store_one(&dir.path().join("store"), damaged, 2);
    let mut bytes = fs::read(&damaged_library).unwrap();
    bytes[0] ^= 0xff;
    replace_file(&damaged_library, &bytes);
    let (bytes, entries) = library_for(&[(foreign, 3)]);
    other_store.put(&bytes, &entries).unwrap();
    let foreign_library = library_path(&other_store, &foreign);

    let keep_all = GcOptions { remove_damaged: false, remove_other_builds: false, ..gc_now() };
    assert_eq!(store.gc(&keep_all).unwrap(), Default::default(), "refused artifacts keep their libraries");

    let keep_other_builds = GcOptions { remove_other_builds: false, ..gc_now() };
    let report = store.gc(&keep_other_builds).unwrap();
    assert_eq!(report.removed_manifests, [store.manifest_path(&damaged)]);
    assert_eq!(report.removed_libraries, [damaged_library]);
    assert_eq!(call(&other_store.load(&foreign).unwrap().unwrap()), 3, "the other build's artifact stays");

    let report = store.gc(&gc_now()).unwrap();
    assert_eq!(report.removed_manifests, [other_store.manifest_path(&foreign)]);
    assert_eq!(report.removed_libraries, [foreign_library]);
    assert!(other_store.load(&foreign).unwrap().is_none());
    assert_eq!(call(&store.load(&valid).unwrap().unwrap()), 1);
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn list_reports_refused_artifacts_with_their_reasons() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let keys: Vec<ArtifactKey> = (1..=6).map(|n| key(n, SpecId::OSAKA)).collect();
    let [valid, damaged, old_abi, malformed, foreign, bad_symbol] = keys[..] else { unreachable!() };
    for (n, k) in [valid, damaged, old_abi, malformed].into_iter().enumerate() {
        store_one(&dir.path().join("store"), k, n as u32);
    }
    let damaged_library = library_path(&store, &damaged);
    let bytes = fs::read(&damaged_library).unwrap();
    replace_file(&damaged_library, &bytes[..bytes.len() - 1]);
    edit_manifest(&store, &old_abi, |m| m["abi_version"] = 0.into());
    fs::write(store.manifest_path(&malformed), b"{ not json").unwrap();
    let (bytes, entries) = library_for(&[(foreign, 9)]);
    DiskStore::open(dir.path().join("store"), BuildId::new("revm-jit store-test 0", build().target))
        .unwrap()
        .put(&bytes, &entries)
        .unwrap();
    store.put(&build_library(Some(ABI_VERSION + 1), &[(&entry(bad_symbol).symbol, 1)]), &[entry(bad_symbol)]).unwrap();
    fs::write(store.dir().join("notes.json"), b"{}").unwrap();

    let reasons = |listed: Vec<revm_jit::store::ListedArtifact>| -> BTreeMap<String, &'static str> {
        listed
            .into_iter()
            .map(|a| {
                let name = a.path.file_name().unwrap().to_string_lossy().into_owned();
                (name, a.error().map_or("valid", ArtifactError::reason))
            })
            .collect()
    };
    let name = |k: &ArtifactKey| store.manifest_path(k).file_name().unwrap().to_string_lossy().into_owned();
    let foreign_name = fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(&revm::primitives::hex::encode(foreign.code_hash)))
        .unwrap();
    let expected = BTreeMap::from([
        (name(&valid), "valid"),
        (name(&damaged), "truncated"),
        (name(&old_abi), "abi-version"),
        (name(&malformed), "manifest-malformed"),
        (foreign_name.clone(), "compiler-version"),
        // Listing does not map libraries: the library's own ABI version is not looked at.
        (name(&bad_symbol), "valid"),
        ("notes.json".to_owned(), "manifest-name"),
    ]);
    let listed = store.list().unwrap();
    let manifests: HashSet<Option<ArtifactKey>> = listed.iter().map(|a| a.manifest.as_ref().map(|m| m.key())).collect();
    assert!(manifests.contains(&Some(foreign)) && manifests.contains(&None));
    assert_eq!(reasons(listed), expected);

    // Verifying maps the libraries and finds the bad ABI symbol too.
    let report = store.verify().unwrap();
    assert_eq!((report.checked, report.valid), (7, 1));
    let problems: BTreeMap<String, &str> = report
        .problems
        .iter()
        .map(|p| (p.path.file_name().unwrap().to_string_lossy().into_owned(), p.error.reason()))
        .collect();
    let mut expected = expected;
    expected.remove(&name(&valid));
    expected.insert(name(&bad_symbol), "abi-symbol");
    assert_eq!(problems, expected);

    // A shallow collection keeps the artifact whose library only mapping refuses; a deep one
    // removes it with its library.
    let keep_other = GcOptions { remove_other_builds: false, ..gc_now() };
    let report = store.gc(&keep_other).unwrap();
    assert!(!report.removed_manifests.contains(&store.manifest_path(&bad_symbol)));
    assert!(report.removed_manifests.contains(&store.dir().join("notes.json")));
    let bad_library = library_path(&store, &bad_symbol);
    let report = store.gc(&GcOptions { deep: true, ..keep_other }).unwrap();
    assert_eq!(report.removed_manifests, [store.manifest_path(&bad_symbol)]);
    assert_eq!(report.removed_libraries, [bad_library]);
    let left = reasons(store.list().unwrap());
    let kept = [(name(&valid), "valid"), (name(&old_abi), "abi-version"), (foreign_name, "compiler-version")];
    assert_eq!(left, BTreeMap::from(kept), "other builds' artifacts are kept as told");
}

#[test]
fn gc_running_with_writers_never_strands_a_manifest() {
    const WRITERS: u32 = 3;
    const ROUNDS: usize = 40;
    let dir = tempfile::tempdir().expect("temporary directory");
    let keys = [key(1, SpecId::CANCUN), key(2, SpecId::CANCUN)];
    // Each writer alternates between two libraries of its own, so every put makes the
    // previous library unreferenced and a collection right then would remove it.
    let libraries: Vec<[(Vec<u8>, Vec<ArtifactEntry>); 2]> = (0..WRITERS)
        .map(|w| [0, 1].map(|v| library_for(&[(keys[0], 10 * w + v), (keys[1], 100 + 10 * w + v)])))
        .collect();
    let done = AtomicBool::new(false);
    let collections = thread::scope(|s| {
        let writers: Vec<_> = libraries
            .iter()
            .map(|pair| {
                let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
                s.spawn(move || {
                    for round in 0..ROUNDS {
                        let (bytes, entries) = &pair[round % 2];
                        store.put(bytes, entries).unwrap();
                        // Leave the collector room to run between puts.
                        thread::sleep(Duration::from_millis(1));
                    }
                })
            })
            .collect();
        let collector = s.spawn(|| {
            let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
            let mut collections = 0;
            while !done.load(Ordering::Acquire) {
                store.gc(&gc_now()).unwrap();
                collections += 1;
            }
            collections
        });
        // Stop the collector even when a writer failed, so that a failure does not hang.
        let written: Vec<_> = writers.into_iter().map(|writer| writer.join()).collect();
        done.store(true, Ordering::Release);
        written.into_iter().for_each(|result| result.unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        collector.join().unwrap()
    });
    eprintln!("{collections} collections during the writes");
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.valid, 2);
    assert!(call(&store.load(&keys[0]).unwrap().unwrap()) < 10 * WRITERS);
}

const CHILD_STORE_ENV: &str = "REVM_JIT_STORE_TEST_CHILD_STORE";
const CHILD_LIBRARIES_ENV: &str = "REVM_JIT_STORE_TEST_CHILD_LIBRARIES";
const PROCESS_KEYS: [u8; 3] = [1, 2, 3];
const PROCESS_ROUNDS: usize = 60;

fn process_keys() -> Vec<ArtifactKey> {
    PROCESS_KEYS.iter().map(|&n| key(n, SpecId::PRAGUE)).collect()
}

/// The child side of [`two_processes_write_one_store`]: put the libraries named in the
/// environment into the store, in turn, many times.
fn write_as_child(store: &str, libraries: &str) {
    let store = DiskStore::open(store, build()).unwrap();
    let libraries: Vec<Vec<u8>> = libraries.split('\n').map(|path| fs::read(path).unwrap()).collect();
    let entries: Vec<ArtifactEntry> = process_keys().into_iter().map(entry).collect();
    for round in 0..PROCESS_ROUNDS {
        store.put(&libraries[round % libraries.len()], &entries).unwrap();
        // Leave the collector in the parent room to run between puts.
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn two_processes_write_one_store() {
    if let (Ok(store), Ok(libraries)) = (std::env::var(CHILD_STORE_ENV), std::env::var(CHILD_LIBRARIES_ENV)) {
        return write_as_child(&store, &libraries);
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let keys = process_keys();
    // Child `c` writes libraries whose markers are 10 * c + v (contract 0) for its two variants v.
    let mut markers = HashSet::new();
    let children: Vec<_> = (0..2u32)
        .map(|c| {
            let paths: Vec<String> = (0..2u32)
                .map(|v| {
                    let marker = 10 * c + v;
                    markers.insert(marker);
                    let contracts: Vec<(ArtifactKey, u32)> =
                        keys.iter().enumerate().map(|(i, k)| (*k, marker + 100 * i as u32)).collect();
                    let path = dir.path().join(format!("child{c}-{v}.so"));
                    fs::write(&path, library_for(&contracts).0).unwrap();
                    path.to_str().unwrap().to_owned()
                })
                .collect();
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "two_processes_write_one_store", "--nocapture", "--test-threads=1"])
                .env(CHILD_STORE_ENV, dir.path().join("store"))
                .env(CHILD_LIBRARIES_ENV, paths.join("\n"))
                .spawn()
                .unwrap()
        })
        .collect();

    // Collect garbage while they write: the store lock must keep their libraries safe.
    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let mut children: Vec<_> = children.into_iter().map(Some).collect();
    let mut collections = 0;
    while children.iter().any(Option::is_some) {
        store.gc(&gc_now()).unwrap();
        collections += 1;
        for slot in &mut children {
            if let Some(child) = slot
                && let Some(status) = child.try_wait().unwrap()
            {
                assert!(status.success(), "a writer process failed: {status}");
                *slot = None;
            }
        }
    }
    eprintln!("{collections} collections during the writes");

    let store = DiskStore::open(dir.path().join("store"), build()).unwrap();
    let report = store.verify().unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.valid, keys.len());
    assert!(report.temp_files.is_empty(), "{:?}", report.temp_files);
    for (i, k) in keys.iter().enumerate() {
        let marker = call(&store.load(k).unwrap().unwrap()) - 100 * i as u32;
        assert!(markers.contains(&marker), "{marker} is no writer's");
    }
    assert!(store.list().unwrap().iter().all(|a| a.is_valid()));
}

#[test]
fn artifact_key_names_the_contract() {
    let k = ArtifactKey::new(B256::repeat_byte(0xab), SpecId::CANCUN);
    let shown = k.to_string();
    assert!(shown.contains("abababab") && shown.contains("Cancun"), "{shown}");
}
