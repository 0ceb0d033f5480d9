//! A runtime that only loads: AOT artifacts written by a build with the compiler run natively
//! in any build on the same machine, with or without the `llvm` feature, and give exactly the
//! interpreter's results.
//!
//! `REVM_JIT_AOT_STORE` names a store holding the embedded programs, written by
//! `revm-jit compile --programs --spec Cancun --store DIR` (CI writes it with the LLVM build,
//! then runs this test in a build without LLVM). Without the variable, a build with the compiler
//! writes such a store itself; a build without one has nothing to load and says so.

use revm::{ExecuteEvm, MainBuilder, primitives::hardfork::SpecId};
use revm_jit::{
    JitConfig, JitEvm, JitRuntime,
    store::{BuildId, DiskStore},
};
use revm_jit_cli::programs;
use std::{path::PathBuf, sync::Arc};

const SPEC: SpecId = SpecId::CANCUN;
const STORE_VAR: &str = "REVM_JIT_AOT_STORE";

#[test]
fn stored_artifacts_run_natively_and_match_the_interpreter() {
    let (dir, _scratch) = match std::env::var_os(STORE_VAR) {
        Some(dir) => (PathBuf::from(dir), None),
        None => match write_store() {
            Some(scratch) => (scratch.path().to_path_buf(), Some(scratch)),
            None => {
                eprintln!("{STORE_VAR} is not set and this build cannot compile: nothing to load, skipped");
                return;
            }
        },
    };
    let store = DiskStore::open(&dir, BuildId::current()).expect("the store opens");
    // Nothing is ever hot: whatever runs natively came from the store.
    let runtime =
        JitRuntime::new(JitConfig { store: Some(Arc::new(store)), hot_threshold: u32::MAX, ..JitConfig::default() });
    let report = runtime.preload_report().clone();
    assert!(
        report.loaded > 0 && report.refused_total() == 0,
        "{}: expected this build ({:?}) to load every artifact: {report:?}",
        dir.display(),
        BuildId::current()
    );
    for program in programs::all() {
        let case = program.case(SPEC);
        let expected = case.context().build_mainnet().transact(case.tx()).expect("valid transaction");
        let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
        let result = evm.transact(case.tx()).expect("valid transaction");
        assert_eq!(result.result, expected.result, "{}: result", program.name);
        assert_eq!(result.state, expected.state, "{}: state", program.name);
        let frames = evm.frame_counts();
        assert!(frames.native > 0 && frames.interpreted == 0, "{}: frames {frames:?}", program.name);
    }
    assert_eq!(runtime.handle().stats().compiled, 0, "nothing was compiled");
}

/// Writes the programs' contracts to a fresh store, as `revm-jit compile --programs` does.
#[cfg(feature = "llvm")]
fn write_store() -> Option<tempfile::TempDir> {
    use revm_jit::{Compiler, CompilerConfig, compiler::aot, store::ArtifactStore};
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = DiskStore::open(dir.path(), BuildId::current()).expect("the store opens");
    let mut compiler = Compiler::new(CompilerConfig::default()).expect("compiler");
    let mut codes = Vec::new();
    for program in programs::all() {
        for account in program.case(SPEC).db.cache.accounts.values() {
            if let Some(code) = account.info.code.as_ref().map(|code| code.original_bytes())
                && !code.is_empty()
                && !codes.contains(&code)
            {
                codes.push(code);
            }
        }
    }
    let contracts: Vec<(&[u8], SpecId)> = codes.iter().map(|code| (code.as_ref(), SPEC)).collect();
    let library = aot::build_library(&mut compiler, &contracts).expect("library");
    store.put(&library.bytes, &library.entries).expect("stored");
    Some(dir)
}

#[cfg(not(feature = "llvm"))]
fn write_store() -> Option<tempfile::TempDir> {
    None
}
