//! What the artifact store refuses to trust, and why (issue 14): libraries that would run code
//! when loaded, files that are not plain files of this user, manifests that do not describe
//! their key, and artifacts of another build. Every refusal is checked by its reason, at every
//! place that reads the store: `load`, preloading by the runtime, `list`, `verify` and deep
//! garbage collection.

use revm::primitives::{hardfork::SpecId, keccak256};
use revm_jit::{
    JitConfig, JitRuntime,
    abi::{ABI_VERSION, entry_symbol},
    compiler::ENTRY_OVERHEAD_BYTES,
    store::{
        ArtifactEntry, ArtifactError, ArtifactKey, ArtifactStore, BuildId, BuildPart, DiskStore, GcOptions,
        test_lib::{build_library, compile_c},
    },
};
use serde_json::Value;
use std::{
    ffi::CString,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    sync::{Arc, mpsc},
    thread,
    time::Duration,
};

fn key(n: u8) -> ArtifactKey {
    ArtifactKey::new(keccak256([n]), SpecId::CANCUN)
}

fn entry(key: ArtifactKey) -> ArtifactEntry {
    ArtifactEntry { key, symbol: entry_symbol(&key.code_hash, key.spec), bytecode_len: 42 }
}

/// The C source of a library exporting the ABI symbol and one entry function per key.
fn c_source(keys: &[ArtifactKey]) -> String {
    let mut source = format!("const unsigned int revm_jit_abi_version = {ABI_VERSION}u;\n");
    for (i, k) in keys.iter().enumerate() {
        source += &format!("unsigned int {}(void *ctx) {{ (void)ctx; return {i}u; }}\n", entry(*k).symbol);
    }
    source
}

/// A store in `dir` (this build) holding `library` for `keys`, with valid manifests and
/// checksums: whatever it is refused for, it is not the manifest.
fn store_with(dir: &Path, library: &[u8], keys: &[ArtifactKey]) -> DiskStore {
    let store = DiskStore::open(dir, BuildId::current()).unwrap();
    store.put(library, &keys.iter().map(|k| entry(*k)).collect::<Vec<_>>()).unwrap();
    store
}

fn library_path(store: &DiskStore, k: &ArtifactKey) -> PathBuf {
    let manifest: Value = serde_json::from_slice(&fs::read(store.manifest_path(k)).unwrap()).unwrap();
    store.dir().join(manifest["library"].as_str().unwrap())
}

/// The reason a fresh store on `dir` refuses to load `k`.
fn load_refusal(dir: &Path, k: &ArtifactKey) -> &'static str {
    match DiskStore::open(dir, BuildId::current()).unwrap().load(k) {
        Ok(loaded) => panic!("expected a refusal, loaded {:?}", loaded.map(|a| a.manifest)),
        Err(e) => e.reason(),
    }
}

/// The refusal reasons of a runtime's preloading of the store in `dir`; nothing may load.
fn preload_refusals(dir: &Path) -> Vec<&'static str> {
    let store = DiskStore::open(dir, BuildId::current()).unwrap();
    let runtime = JitRuntime::new(JitConfig { store: Some(Arc::new(store)), ..JitConfig::default() });
    let report = runtime.preload_report();
    assert_eq!(report.loaded, 0, "{report:?}");
    report.refused.keys().copied().collect()
}

fn verify_refusals(dir: &Path) -> Vec<&'static str> {
    let report = DiskStore::open(dir, BuildId::current()).unwrap().verify().unwrap();
    assert!(!report.is_clean());
    report.problems.iter().map(|p| p.error.reason()).collect()
}

/// Runs `f` on another thread and fails if it never returns: a refusal must not hang.
fn returns<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()));
    rx.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| panic!("{what} blocked"))
}

// ---- Item 2: no code runs at load ----

/// A library with a constructor that creates `marker`, linked the ordinary way (start files and
/// the C library), so that it also has `DT_INIT`, `DT_FINI` and a dependency on libc.
fn constructor_library(marker: &Path, keys: &[ArtifactKey]) -> Vec<u8> {
    let marker = marker.display();
    let source = format!(
        "#include <fcntl.h>\n#include <unistd.h>\n\
         __attribute__((constructor)) static void planted(void) {{ close(open(\"{marker}\", O_CREAT | O_WRONLY, 0644)); }}\n{}",
        c_source(keys)
    );
    compile_c(&source, &[])
}

#[test]
fn a_library_with_a_constructor_is_refused_everywhere_and_never_runs() {
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("constructor-ran");
    let dir = scratch.path().join("store");
    let k = key(1);
    let store = store_with(&dir, &constructor_library(&marker, &[k]), &[k]);
    drop(store);

    let elf_reason = |reason: &str| reason.starts_with("elf-");
    assert!(elf_reason(load_refusal(&dir, &k)), "{}", load_refusal(&dir, &k));
    assert!(preload_refusals(&dir).iter().all(|r| elf_reason(r)), "{:?}", preload_refusals(&dir));
    assert!(verify_refusals(&dir).iter().all(|r| elf_reason(r)));
    let listed = DiskStore::open(&dir, BuildId::current()).unwrap().list().unwrap();
    assert!(listed.iter().all(|a| a.error().is_some_and(|e| elf_reason(e.reason()))));
    let gc = DiskStore::open(&dir, BuildId::current())
        .unwrap()
        .gc(&GcOptions {
            deep: true,
            temp_max_age: Duration::ZERO,
            library_grace: Duration::ZERO,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((gc.removed_manifests.len(), gc.removed_libraries.len()), (1, 1), "{gc:?}");
    assert!(!marker.exists(), "the constructor ran");
}

#[test]
fn a_constructor_without_the_c_library_is_refused_as_an_init_array() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1);
    let source = format!(
        "int touched;\n__attribute__((constructor)) static void planted(void) {{ touched = 1; }}\n{}",
        c_source(&[k])
    );
    store_with(dir.path(), &compile_c(&source, &["-nostdlib"]), &[k]);
    assert_eq!(load_refusal(dir.path(), &k), "elf-init-array");
    let source = format!(
        "int touched;\n__attribute__((destructor)) static void planted(void) {{ touched = 1; }}\n{}",
        c_source(&[k])
    );
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), &compile_c(&source, &["-nostdlib"]), &[k]);
    assert_eq!(load_refusal(dir.path(), &k), "elf-fini-array");
}

#[test]
fn init_and_fini_functions_are_refused() {
    let k = key(1);
    let hooked = format!("void hook(void) {{}}\n{}", c_source(&[k]));
    for (flag, reason) in [("-Wl,-init=hook", "elf-init"), ("-Wl,-fini=hook", "elf-fini")] {
        let dir = tempfile::tempdir().unwrap();
        store_with(dir.path(), &compile_c(&hooked, &["-nostdlib", flag]), &[k]);
        assert_eq!(load_refusal(dir.path(), &k), reason, "{flag}");
    }
}

#[test]
fn a_dependency_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1);
    store_with(dir.path(), &compile_c(&c_source(&[k]), &["-nostdlib", "-Wl,--no-as-needed", "-lm"]), &[k]);
    let store = DiskStore::open(dir.path(), BuildId::current()).unwrap();
    match store.load(&k) {
        Err(ArtifactError::Elf { problem: revm_jit::store::ElfProblem::Needed(name), .. }) => {
            assert!(name.starts_with("libm"), "{name}")
        }
        other => panic!("{:?}", other.map(|a| a.map(|a| a.manifest))),
    }
}

#[test]
fn an_ifunc_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1);
    let ifunc = format!(
        "static unsigned int impl(void *ctx) {{ (void)ctx; return 7u; }}\n\
         static void *resolve(void) {{ return (void *)impl; }}\n\
         unsigned int picked(void *ctx) __attribute__((ifunc(\"resolve\")));\n{}",
        c_source(&[k])
    );
    store_with(dir.path(), &compile_c(&ifunc, &["-nostdlib"]), &[k]);
    assert_eq!(load_refusal(dir.path(), &k), "elf-ifunc");
}

#[test]
fn an_executable_stack_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1);
    store_with(dir.path(), &compile_c(&c_source(&[k]), &["-nostdlib", "-Wl,-z,execstack"]), &[k]);
    assert_eq!(load_refusal(dir.path(), &k), "elf-exec-stack");
}

#[test]
fn an_unresolved_symbol_fails_the_load_not_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1);
    let source = format!(
        "extern unsigned int revm_jit_no_such_function(void);\n\
         const unsigned int revm_jit_abi_version = {ABI_VERSION}u;\n\
         unsigned int {}(void *ctx) {{ (void)ctx; return revm_jit_no_such_function(); }}\n",
        entry(k).symbol
    );
    store_with(dir.path(), &compile_c(&source, &["-nostdlib"]), &[k]);
    assert_eq!(load_refusal(dir.path(), &k), "library-open");
}

#[test]
fn what_the_aot_link_and_the_test_libraries_produce_passes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [key(1), key(2)];
    let store = store_with(dir.path(), &build_library(Some(ABI_VERSION), &[]), &[]);
    let bytes = compile_c(&c_source(&keys), &["-nostdlib", "-Wl,--build-id=none", "-Wl,-z,noexecstack"]);
    store.put(&bytes, &keys.map(entry)).unwrap();
    for (i, k) in keys.iter().enumerate() {
        let artifact = store.load(k).unwrap().unwrap();
        // SAFETY: the test library's entry functions ignore their argument.
        assert_eq!(unsafe { (artifact.entry)(std::ptr::null_mut()) }, i as u32);
    }
    assert!(store.verify().unwrap().is_clean());
}

// ---- Item 1: what is verified is what is loaded ----

#[test]
fn the_loaded_library_is_not_the_store_file() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1);
    let store = store_with(dir.path(), &build_library(Some(ABI_VERSION), &[(&entry(k).symbol, 5)]), &[k]);
    let artifact = store.load(&k).unwrap().unwrap();
    // The code runs from a sealed memory file, not from a mapping of the store's file: the
    // process maps nothing of the store directory.
    let maps = fs::read_to_string("/proc/self/maps").unwrap();
    assert!(!maps.contains(&dir.path().display().to_string()), "{maps}");
    assert!(maps.contains("revm-jit-artifact"), "{maps}");
    // Replacing the file afterwards changes nothing for the loaded code.
    fs::write(library_path(&store, &k), b"replaced").unwrap();
    // SAFETY: the test library's entry functions ignore their argument.
    assert_eq!(unsafe { (artifact.entry)(std::ptr::null_mut()) }, 5);
}

#[test]
fn libraries_loaded_one_after_another_are_never_confused() {
    // Memory-file descriptors are reused once closed; each load must still get its own library.
    let dir = tempfile::tempdir().unwrap();
    let mut held = Vec::new();
    for n in 0..20u8 {
        let k = key(n);
        let store = store_with(dir.path(), &build_library(Some(ABI_VERSION), &[(&entry(k).symbol, n.into())]), &[k]);
        let artifact = store.load(&k).unwrap().unwrap();
        // SAFETY: the test library's entry functions ignore their argument.
        assert_eq!(unsafe { (artifact.entry)(std::ptr::null_mut()) }, u32::from(n));
        if n % 2 == 0 {
            held.push(artifact);
        }
    }
}

// ---- Item 3: files are what they claim ----

fn one_artifact(dir: &Path) -> (DiskStore, ArtifactKey, PathBuf, PathBuf) {
    let k = key(1);
    let store = store_with(dir, &build_library(Some(ABI_VERSION), &[(&entry(k).symbol, 1)]), &[k]);
    let (manifest, library) = (store.manifest_path(&k), library_path(&store, &k));
    (store, k, manifest, library)
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

#[test]
fn a_symlinked_library_or_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, k, _, library) = one_artifact(dir.path());
    let real = dir.path().join("elsewhere.so");
    fs::rename(&library, &real).unwrap();
    std::os::unix::fs::symlink(&real, &library).unwrap();
    assert_refused_everywhere(dir.path(), &k, "file-symlink");

    let dir = tempfile::tempdir().unwrap();
    let (_store, k, manifest, _) = one_artifact(dir.path());
    let real = dir.path().join("elsewhere.txt");
    fs::rename(&manifest, &real).unwrap();
    std::os::unix::fs::symlink(&real, &manifest).unwrap();
    assert_refused_everywhere(dir.path(), &k, "file-symlink");
}

/// Loading `k` from the store in `dir`, verifying the store and preloading it each refuse the
/// artifact, for `reason`.
fn assert_refused_everywhere(dir: &Path, k: &ArtifactKey, reason: &str) {
    assert_eq!(load_refusal(dir, k), reason, "load");
    assert_eq!(verify_refusals(dir), [reason], "verify");
    assert_eq!(preload_refusals(dir), [reason], "preload");
}

#[test]
fn a_symlink_to_dev_zero_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, k, _, library) = one_artifact(dir.path());
    fs::remove_file(&library).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &library).unwrap();
    assert_eq!(returns("load", move || load_refusal(dir.path(), &k)), "file-symlink");
}

#[test]
fn a_fifo_never_blocks_preload_or_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, k, manifest, library) = one_artifact(dir.path());
    fs::remove_file(&library).unwrap();
    mkfifo(&library);
    let path = dir.path().to_path_buf();
    assert_eq!(returns("load", move || load_refusal(&path, &k)), "file-type");
    let path = dir.path().to_path_buf();
    assert_eq!(returns("verify", move || verify_refusals(&path)), ["file-type"]);
    let path = dir.path().to_path_buf();
    assert_eq!(returns("preload", move || preload_refusals(&path)), ["file-type"]);

    // A FIFO in place of the manifest.
    fs::remove_file(&manifest).unwrap();
    mkfifo(&manifest);
    let path = dir.path().to_path_buf();
    assert_eq!(returns("load", move || load_refusal(&path, &k)), "file-type");
    let path = dir.path().to_path_buf();
    assert_eq!(returns("preload", move || preload_refusals(&path)), ["file-type"]);
    // Garbage collection removes it without reading it.
    let path = dir.path().to_path_buf();
    let gc = returns("gc", move || DiskStore::open(&path, BuildId::current()).unwrap().gc(&GcOptions::default()));
    assert_eq!(gc.unwrap().removed_manifests, [manifest]);
}

#[test]
fn files_writable_by_others_are_refused() {
    for (mode, target) in [(0o666, "library"), (0o664, "library"), (0o646, "manifest")] {
        let dir = tempfile::tempdir().unwrap();
        let (_store, k, manifest, library) = one_artifact(dir.path());
        let path = if target == "library" { library } else { manifest };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        assert_eq!(load_refusal(dir.path(), &k), "file-mode", "{target} {mode:o}");
        assert_eq!(verify_refusals(dir.path()), ["file-mode"]);
    }
}

#[test]
fn files_of_another_user_are_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: cannot give a file to another user; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_store, k, _, library) = one_artifact(dir.path());
    std::os::unix::fs::chown(&library, Some(4242), None).unwrap();
    assert_eq!(load_refusal(dir.path(), &k), "file-owner");
}

#[test]
fn store_files_are_private_whatever_the_umask() {
    // SAFETY: umask has no preconditions; tests in this file do not depend on it otherwise.
    let old = unsafe { libc::umask(0o002) };
    let dir = tempfile::tempdir().unwrap();
    let (store, k, manifest, library) = one_artifact(dir.path());
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    for path in [manifest, library] {
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o022, 0, "{} is {mode:o}", path.display());
    }
    assert!(store.load(&k).unwrap().is_some());
}

#[test]
fn the_store_directory_is_made_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let relative = pathdiff(dir.path());
    let store = DiskStore::open(&relative, BuildId::current()).unwrap();
    assert!(store.dir().is_absolute(), "{}", store.dir().display());
    assert_eq!(store.dir(), std::path::absolute(&relative).unwrap());
}

/// `path` relative to the current directory (through `..` components).
fn pathdiff(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap();
    let mut relative = PathBuf::new();
    for _ in cwd.components().skip(1) {
        relative.push("..");
    }
    relative.join(path.strip_prefix("/").unwrap())
}

// ---- Item 6: manifests are checked whole ----

#[test]
fn a_manifest_pointing_at_another_contracts_code_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (key(1), key(2));
    let bytes = build_library(Some(ABI_VERSION), &[(&entry(a).symbol, 1), (&entry(b).symbol, 2)]);
    let store = store_with(dir.path(), &bytes, &[a, b]);
    let path = store.manifest_path(&a);
    let mut manifest: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    manifest["symbol"] = entry(b).symbol.into();
    fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let error = DiskStore::open(dir.path(), BuildId::current()).unwrap().load(&a).unwrap_err();
    assert!(
        matches!(&error, ArtifactError::SymbolMismatch { expected, found, .. }
            if *expected == entry(a).symbol && *found == entry(b).symbol),
        "{error}"
    );
    assert_eq!(verify_refusals(dir.path()), ["symbol"]);
}

#[test]
fn a_manifest_with_another_bytecode_length_is_refused_where_the_code_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let (store, k, _, _) = one_artifact(dir.path());
    assert!(store.load_code(&k, 42).unwrap().is_some());
    let error = DiskStore::open(dir.path(), BuildId::current()).unwrap().load_code(&k, 41).unwrap_err();
    assert!(matches!(error, ArtifactError::BytecodeLength { expected: 41, found: 42, .. }), "{error}");
}

// ---- Item 5: nothing stale is served ----

#[test]
fn an_artifact_of_a_build_differing_in_any_part_is_refused() {
    let current = BuildId::current();
    let others: [(BuildPart, BuildId); 6] = [
        (BuildPart::CompilerVersion, BuildId { compiler_version: "revm-jit 0.0.9".into(), ..current.clone() }),
        (BuildPart::CompilerSource, BuildId { compiler_source: "0".repeat(32), ..current.clone() }),
        (BuildPart::RevmVersion, BuildId { revm_version: "revm 43.0.2".into(), ..current.clone() }),
        (BuildPart::LlvmVersion, BuildId { llvm_version: Some("22.0.0".into()), ..current.clone() }),
        (BuildPart::OptLevel, BuildId { opt_level: "aggressive".into(), ..current.clone() }),
        (BuildPart::Target, BuildId { target: "x86_64-linux-gnu/0000000000000000".into(), ..current.clone() }),
    ];
    let checking = BuildId { llvm_version: Some("22.1.8".into()), ..current.clone() };
    for (part, other) in others {
        let dir = tempfile::tempdir().unwrap();
        let k = key(1);
        let store = DiskStore::open(dir.path(), other.clone()).unwrap();
        store.put(&build_library(Some(ABI_VERSION), &[(&entry(k).symbol, 1)]), &[entry(k)]).unwrap();
        let ours = DiskStore::open(dir.path(), checking.clone()).unwrap();
        // Never served...
        match ours.load(&k) {
            Ok(None) => {}
            Err(ArtifactError::BuildMismatch { part: found, .. }) => assert_eq!(found, part),
            other => panic!("{part:?}: {:?}", other.map(|a| a.map(|a| a.manifest))),
        }
        // ...and listed as refused for the part that differs.
        let listed = ours.list().unwrap();
        assert_eq!(listed.len(), 1);
        match listed[0].error() {
            Some(ArtifactError::BuildMismatch { part: found, .. }) => assert_eq!(*found, part),
            other => panic!("{part:?}: {other:?}"),
        }
        assert_eq!(listed[0].error().unwrap().reason(), part.reason());
    }
}

#[test]
fn a_build_without_a_compiler_accepts_any_llvm_but_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1);
    let writer = BuildId { llvm_version: Some("22.1.0".into()), ..BuildId::current() };
    let store = DiskStore::open(dir.path(), writer.clone()).unwrap();
    store.put(&build_library(Some(ABI_VERSION), &[(&entry(k).symbol, 1)]), &[entry(k)]).unwrap();
    let loader = BuildId { llvm_version: None, ..writer.clone() };
    assert!(DiskStore::open(dir.path(), loader.clone()).unwrap().load(&k).unwrap().is_some());
    let other_revm = BuildId { revm_version: "revm 42.0.0".into(), ..loader };
    assert!(DiskStore::open(dir.path(), other_revm).unwrap().load(&k).unwrap().is_none());
}

#[test]
fn this_build_has_a_complete_identity() {
    let build = BuildId::current();
    assert_eq!(build.compiler_source.len(), 32, "{build:?}");
    assert!(
        build.revm_version.contains("revm 43.") && build.revm_version.contains("revm-interpreter 43."),
        "{build:?}"
    );
    assert_eq!(build.opt_level, "default");
    if cfg!(feature = "llvm") {
        assert!(build.llvm_version.as_deref().is_some_and(|v| v.starts_with("22.")), "{build:?}");
    } else {
        assert_eq!(build.llvm_version, None);
    }
}

// ---- Item 9: a library of many contracts weighs its share ----

#[test]
fn contracts_of_one_library_weigh_the_library_once() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<ArtifactKey> = (0..8).map(key).collect();
    let bytes = compile_c(&c_source(&keys), &["-nostdlib", "-Wl,--build-id=none", "-Wl,-z,noexecstack"]);
    let store = store_with(dir.path(), &bytes, &keys);
    let shares: u64 = keys.iter().map(|k| store.load(k).unwrap().unwrap().code_size).sum();
    assert!(shares <= bytes.len() as u64, "{shares} > {}", bytes.len());
    let runtime = JitRuntime::new(JitConfig { store: Some(Arc::new(store)), ..JitConfig::default() });
    assert_eq!(runtime.preload_report().loaded, keys.len() as u64);
    let stats = runtime.handle().stats();
    assert_eq!(stats.cached_entries, keys.len() as u64);
    // Per contract: the bookkeeping estimate and two copies of its 42-byte bytecode (the one
    // compiled and the last buffer checked against it, see `CompiledFn::cache_weight`).
    let bound = bytes.len() + keys.len() * (ENTRY_OVERHEAD_BYTES + 2 * 42);
    assert!(stats.resident_code_bytes <= bound as u64, "{} > {bound}", stats.resident_code_bytes);
}

// ---- Item 7: shared stores can be authenticated ----

fn mac_key(byte: u8) -> revm_jit::store::MacKey {
    revm_jit::store::MacKey::new([byte; 32]).unwrap()
}

#[test]
fn a_keyed_store_accepts_only_artifacts_with_its_mac() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (key(1), key(2));
    let keyed = DiskStore::open(dir.path(), BuildId::current()).unwrap().with_mac_key(mac_key(1));
    keyed.put(&build_library(Some(ABI_VERSION), &[(&entry(a).symbol, 1)]), &[entry(a)]).unwrap();
    assert!(keyed.load(&a).unwrap().is_some());
    let reopened = |byte| DiskStore::open(dir.path(), BuildId::current()).unwrap().with_mac_key(mac_key(byte));
    assert_eq!(reopened(2).load(&a).unwrap_err().reason(), "mac");

    // Written without the key: refused, before the library is even read (it would be
    // refused for its constructor otherwise).
    let marker = dir.path().join("constructor-ran");
    store_with(dir.path(), &constructor_library(&marker, &[b]), &[b]);
    assert_eq!(reopened(1).load(&b).unwrap_err().reason(), "mac-missing");

    // A signed manifest changed afterwards.
    let path = keyed.manifest_path(&a);
    let mut manifest: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    manifest["bytecode_len"] = 43.into();
    fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    assert_eq!(reopened(1).load(&a).unwrap_err().reason(), "mac");

    let mut reasons: Vec<_> =
        reopened(1).verify().unwrap().problems.iter().map(|p| p.error.reason()).collect::<Vec<_>>();
    reasons.sort();
    assert_eq!(reasons, ["mac", "mac-missing"]);
    assert!(!marker.exists(), "the constructor ran");
}
