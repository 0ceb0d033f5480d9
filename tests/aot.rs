//! AOT artifacts through the runtime: they survive a restart, and damaged or mismatched ones
//! are refused while the transaction still gets the interpreter's result.

mod common;

use common::runs::{interpreted, run};

use revm::primitives::hardfork::SpecId;
use revm_jit::{
    Compiler, CompilerConfig, JitConfig, JitRuntime,
    compiler::aot,
    store::{ArtifactKey, ArtifactStore, BuildId, DiskStore},
};
use revm_jit_cli::{fixture::Case, programs};
use std::{path::PathBuf, sync::Arc};

/// A fresh store directory, removed when dropped.
fn temp_store() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// The store in `dir`, opened for this build.
fn open(dir: &tempfile::TempDir) -> Arc<dyn ArtifactStore> {
    Arc::new(DiskStore::open(dir.path(), BuildId::current()).expect("store opens"))
}

/// A runtime that only uses what the store holds: eager, so a miss would compile, which the
/// tests detect through the `compiled` counter.
fn aot_runtime(store: Arc<dyn ArtifactStore>) -> JitRuntime {
    JitRuntime::new(JitConfig { store: Some(store), write_artifacts: true, ..JitConfig::eager() })
}

#[test]
fn artifacts_survive_a_restart() {
    let dir = temp_store();
    let cases: Vec<Case> = programs::all().iter().map(|p| p.case(SpecId::CANCUN)).collect();
    let written = {
        let runtime = aot_runtime(open(&dir));
        for case in &cases {
            let (result, native) = run(&runtime, case);
            assert!(native && result == interpreted(case), "{}", case.name);
        }
        let stats = runtime.handle().stats();
        // Every contract run was written (the `call` program has two).
        assert_eq!(stats.store_written, stats.compiled, "{stats:?}");
        assert!(stats.store_written > cases.len() as u64, "{stats:?}");
        stats.store_written
    };
    // A new runtime on the same store: everything is preloaded, nothing compiles.
    let runtime = aot_runtime(open(&dir));
    let report = runtime.preload_report();
    assert_eq!(report.loaded, written, "{report:?}");
    assert_eq!(report.refused_total(), 0, "{report:?}");
    for case in &cases {
        let (result, native) = run(&runtime, case);
        assert!(native, "{} did not run native after the restart", case.name);
        assert_eq!(result, interpreted(case), "{}", case.name);
    }
    let stats = runtime.handle().stats();
    assert_eq!((stats.compiled, stats.store_written), (0, 0), "recompiled after a restart: {stats:?}");
    assert_eq!(stats.loaded_from_store, written);
}

/// Stores `case`'s contract with `Compiler` directly (as `revm-jit compile` does) and returns
/// the paths of its manifest and library.
fn store_one(dir: &tempfile::TempDir, case: &Case) -> (PathBuf, PathBuf) {
    let revm::primitives::TxKind::Call(target) = case.tx.kind else { panic!("a call") };
    let code = case.db.cache.accounts[&target].info.code.clone().expect("the target has code").original_bytes();
    let mut compiler = Compiler::new(CompilerConfig::default()).expect("compiler");
    let library = aot::build_library(&mut compiler, &[(&code, case.spec)]).expect("library builds");
    let store = DiskStore::open(dir.path(), BuildId::current()).expect("store");
    store.put(&library.bytes, &library.entries).expect("stored");
    let key = ArtifactKey::new(revm::primitives::keccak256(&code), case.spec);
    let manifest = store.manifest_path(&key);
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let json: serde_json::Value = serde_json::from_str(&text).expect("manifest json");
    let library = dir.path().join(json["library"].as_str().expect("library name"));
    (manifest, library)
}

/// Damages the stored artifact with `damage`, then checks that a runtime refuses it with
/// `reason`, counts the refusal, and still gives the interpreter's result (interpreted, or
/// recompiled when the runtime may compile).
fn refused_after(name: &str, reason: &str, damage: impl FnOnce(&PathBuf, &PathBuf)) {
    let dir = temp_store();
    let case = programs::fibonacci().case(SpecId::CANCUN);
    let (manifest, library) = store_one(&dir, &case);
    damage(&manifest, &library);

    // Preload refuses it, with the reason.
    let runtime =
        JitRuntime::new(JitConfig { store: Some(open(&dir)), hot_threshold: u32::MAX, ..JitConfig::default() });
    let report = runtime.preload_report().clone();
    assert_eq!(report.loaded, 0, "{name}: {report:?}");
    assert_eq!(report.refused.get(reason), Some(&1), "{name}: {report:?}");
    let (result, native) = run(&runtime, &case);
    assert_eq!(result, interpreted(&case), "{name}");
    assert!(!native, "{name}: refused code ran native");
    drop(runtime);

    // A runtime that may compile recompiles it (and repairs the store).
    let runtime = aot_runtime(open(&dir));
    let (result, native) = run(&runtime, &case);
    assert_eq!(result, interpreted(&case), "{name}");
    assert!(native, "{name}: not recompiled");
    assert_eq!(runtime.handle().stats().compiled, 1, "{name}");
    drop(runtime);
    let runtime = aot_runtime(open(&dir));
    assert_eq!(runtime.preload_report().loaded, 1, "{name}: the store was not repaired");
}

#[test]
fn a_flipped_byte_is_refused() {
    refused_after("flipped", "checksum", |_, library| {
        let mut bytes = std::fs::read(library).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(library, bytes).unwrap();
    });
}

#[test]
fn a_truncated_library_is_refused() {
    refused_after("truncated", "truncated", |_, library| {
        let bytes = std::fs::read(library).unwrap();
        std::fs::write(library, &bytes[..bytes.len() / 3]).unwrap();
    });
}

fn edit_manifest(manifest: &PathBuf, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    edit(&mut json);
    std::fs::write(manifest, serde_json::to_string_pretty(&json).unwrap()).unwrap();
}

#[test]
fn a_wrong_abi_version_is_refused() {
    refused_after("abi", "abi-version", |manifest, _| {
        edit_manifest(manifest, |json| json["abi_version"] = serde_json::json!(revm_jit::abi::ABI_VERSION + 1));
    });
}

#[test]
fn a_wrong_spec_is_refused() {
    refused_after("spec", "spec", |manifest, _| {
        edit_manifest(manifest, |json| {
            json["spec"] = serde_json::json!("Prague");
            json["spec_id"] = serde_json::json!(SpecId::PRAGUE as u8);
        });
    });
}

/// The libraries need nothing from the program that loads them: their only undefined
/// symbols, if any, are C library functions LLVM may call (memcpy and friends).
#[test]
fn libraries_need_no_symbols_from_the_host() {
    let case = programs::storage().case(SpecId::CANCUN);
    let dir = temp_store();
    let (_, library) = store_one(&dir, &case);
    let output = match std::process::Command::new("nm").args(["-D", "--undefined-only"]).arg(&library).output() {
        Ok(output) if output.status.success() => output,
        other => panic!("nm is needed to inspect the library: {other:?}"),
    };
    let undefined = String::from_utf8_lossy(&output.stdout);
    for line in undefined.lines() {
        let symbol = line.split_whitespace().last().unwrap_or_default();
        assert!(
            ["memcpy", "memset", "memmove", "memcmp"].iter().any(|allowed| symbol.starts_with(allowed)),
            "the library needs `{symbol}` from its host"
        );
    }
}

/// A store whose writes always fail (a full disk), holding nothing.
#[derive(Debug)]
struct FullStore(BuildId);

impl ArtifactStore for FullStore {
    fn put(&self, _: &[u8], _: &[revm_jit::store::ArtifactEntry]) -> Result<(), revm_jit::store::StoreError> {
        Err(revm_jit::store::StoreError::Io {
            op: "write",
            path: PathBuf::from("/full"),
            source: std::io::Error::from_raw_os_error(28),
        })
    }

    fn load(&self, _: &ArtifactKey) -> Result<Option<revm_jit::store::LoadedArtifact>, revm_jit::store::ArtifactError> {
        Ok(None)
    }

    fn list(&self) -> Result<Vec<revm_jit::store::ListedArtifact>, revm_jit::store::StoreError> {
        Ok(Vec::new())
    }

    fn build(&self) -> &BuildId {
        &self.0
    }
}

#[test]
fn a_failed_store_write_falls_back_to_jit_code() {
    // A full disk, and a store of another build (which must not receive this compiler's code):
    // either way every contract still runs native, from in-process JIT code, and none is
    // marked failed.
    let dir = temp_store();
    let other_build = BuildId { opt_level: "aggressive".into(), ..BuildId::current() };
    let stores: [Arc<dyn ArtifactStore>; 2] = [
        Arc::new(FullStore(BuildId::current())),
        Arc::new(DiskStore::open(dir.path(), other_build).expect("store opens")),
    ];
    for store in stores {
        let runtime = aot_runtime(Arc::clone(&store));
        for program in programs::all() {
            let case = program.case(SpecId::CANCUN);
            let (result, native) = run(&runtime, &case);
            assert!(native, "{} did not run native", case.name);
            assert_eq!(result, interpreted(&case), "{}", case.name);
        }
        let stats = runtime.handle().stats();
        assert_eq!((stats.failed, stats.store_written), (0, 0), "{store:?}: {stats:?}");
        assert!(stats.compiled > 0 && stats.store_write_failed == stats.compiled, "{store:?}: {stats:?}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().file_name() != ".lock").count(),
        0
    );
}

#[test]
fn link_directories_are_private() {
    let a = revm_jit::store::private_temp_dir("revm-jit-link").expect("created");
    let b = revm_jit::store::private_temp_dir("revm-jit-link").expect("created");
    assert_ne!(a.path(), b.path());
    for dir in [&a, &b] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.path().display());
    }
}
