//! The runtime's lifecycle as a node drives it: a disabled runtime switched on through a
//! handle, explicit shutdown reporting what it abandoned, background preloading, requests to
//! compile (into the cache or the store), the compile callback, and the reason every lookup
//! without native code is counted under.

mod common;

use common::runs::{interpreted, run};

use revm::{
    ExecuteEvm, MainBuilder,
    bytecode::Bytecode,
    primitives::{Bytes, hardfork::SpecId, keccak256},
};
use revm_jit::{
    CompileCallback, CompileEvent, CompileOutcome, Fallback, JitConfig, JitEvm, JitRuntime, RequestOutcome,
    compiler::{FaultKind, InjectedFault},
    store::{ArtifactStore, BuildId, DiskStore},
};
use revm_jit_cli::programs;
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Polls `done` until it holds, for at most two minutes (the machine may be busy).
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `n` distinct contracts: the fibonacci program with `i` trailing STOPs (dead code, but
/// other bytes, so another hash and another compilation).
fn distinct_codes(n: usize) -> Vec<Bytes> {
    let base = programs::fibonacci().code;
    (0..n)
        .map(|i| {
            let mut code = base.to_vec();
            code.extend(std::iter::repeat_n(0u8, i + 1));
            code.into()
        })
        .collect()
}

#[test]
fn a_disabled_runtime_runs_interpreted_until_a_handle_turns_it_on() {
    let runtime = JitRuntime::disabled();
    let handle = runtime.handle();
    assert!(!handle.is_enabled());
    let case = programs::factorial().case(SpecId::CANCUN);
    let expected = interpreted(&case);
    let (result, native) = run(&runtime, &case);
    assert_eq!(result, expected);
    assert!(!native);
    let stats = handle.stats();
    assert!(stats.interpreted.disabled >= 1, "{stats:?}");
    assert_eq!(stats.lookups, 0, "a disabled runtime probes nothing: {stats:?}");

    // Turned on through a clone of the handle (as a node's admin endpoint would): the
    // background compiler starts and the contract turns native.
    handle.clone().set_enabled(true);
    eventually("native code after enabling", || {
        let (result, native) = run(&runtime, &case);
        assert_eq!(result, expected);
        native
    });
    // Off again: at once, and the cache is kept.
    handle.set_enabled(false);
    assert!(!run(&runtime, &case).1);
    handle.set_enabled(true);
    assert!(run(&runtime, &case).1, "the cache survived switching off and on");
}

#[test]
fn shutdown_reports_the_contracts_it_abandoned() {
    let runtime = JitRuntime::new(JitConfig { workers: 1, hot_threshold: u32::MAX, ..JitConfig::default() });
    let handle = runtime.handle();
    let codes = distinct_codes(40);
    let keys: Vec<_> = codes.iter().map(|code| (keccak256(code), SpecId::CANCUN)).collect();
    for code in &codes {
        assert_eq!(handle.request_compile(SpecId::CANCUN, code.clone()), RequestOutcome::Queued);
    }
    // No time to compile 40 contracts: most are still queued.
    let report = runtime.shutdown(Duration::ZERO);
    let abandoned = report.abandoned_queued.len() + report.abandoned_in_flight.len();
    assert!(!report.is_clean(), "{report:?}");
    assert!(abandoned >= 1, "{report:?}");
    for key in report.abandoned_queued.iter().chain(&report.abandoned_in_flight) {
        assert!(keys.contains(key), "abandoned a key never requested: {key:?}");
    }
    let compiled = handle.stats().compiled as usize;
    assert!(compiled + report.abandoned_queued.len() <= keys.len(), "{report:?}, {compiled} compiled");

    // After the shutdown, handles serve the cache and compile nothing more.
    assert!(matches!(
        handle.request_compile(SpecId::CANCUN, codes[0].clone()),
        RequestOutcome::AlreadyCached | RequestOutcome::NotRunning
    ));
    let fresh = distinct_codes(41).pop().expect("one more code");
    assert_eq!(handle.request_compile(SpecId::CANCUN, fresh.clone()), RequestOutcome::NotRunning);
    let bytecode = Bytecode::new_raw(fresh.clone());
    assert_eq!(handle.lookup_outcome(keccak256(&fresh), SpecId::CANCUN, &bytecode).err(), Some(Fallback::NotHot));
}

#[test]
fn an_idle_runtime_shuts_down_cleanly() {
    let runtime = JitRuntime::new(JitConfig::default());
    let report = runtime.shutdown(Duration::from_secs(30));
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn a_requested_contract_is_compiled_without_being_hot_and_reported_to_the_callback() {
    let events: Arc<Mutex<Vec<CompileEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    let runtime = JitRuntime::new(JitConfig {
        hot_threshold: u32::MAX,
        max_bytecode_len: 10_000,
        on_compile: Some(CompileCallback::new(move |event| sink.lock().expect("lock").push(event.clone()))),
        ..JitConfig::default()
    });
    let handle = runtime.handle();
    let program = programs::factorial();
    let case = program.case(SpecId::CANCUN);
    let hash = keccak256(&program.code);
    assert_eq!(handle.why_interpreted(hash, SpecId::CANCUN, program.code.len()), Some(Fallback::NotHot));
    assert_eq!(handle.request_compile(SpecId::CANCUN, program.code.clone()), RequestOutcome::Queued);
    eventually("the requested compilation", || {
        handle.why_interpreted(hash, SpecId::CANCUN, program.code.len()).is_none()
    });
    let (result, native) = run(&runtime, &case);
    assert!(native);
    assert_eq!(result, interpreted(&case));
    assert_eq!(handle.request_compile(SpecId::CANCUN, program.code.clone()), RequestOutcome::AlreadyCached);
    assert_eq!(
        handle.request_compile(SpecId::CANCUN, vec![0u8; 10_001].into()),
        RequestOutcome::Refused(Fallback::TooLarge)
    );
    assert_eq!(
        handle.request_compile(SpecId::AMSTERDAM, program.code.clone()),
        RequestOutcome::Refused(Fallback::UnsupportedFork)
    );
    assert_eq!(handle.request_store(SpecId::CANCUN, program.code.clone()), RequestOutcome::NoStore);

    let events = events.lock().expect("lock");
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.key, (hash, SpecId::CANCUN));
    assert_eq!(event.outcome, CompileOutcome::Compiled);
    assert_eq!(event.bytecode_len, program.code.len());
    assert!(event.code_size > 0 && event.elapsed > Duration::ZERO, "{event:?}");
}

#[test]
fn every_fallback_reason_is_returned_and_counted() {
    let code = programs::fibonacci().code;
    let bytecode = Bytecode::new_raw(code.clone());
    let hash = keccak256(&code);
    let spec = SpecId::CANCUN;
    let count = |runtime: &JitRuntime, reason: Fallback| runtime.handle().stats().interpreted.get(reason);

    let cold = JitRuntime::new(JitConfig { hot_threshold: u32::MAX, ..JitConfig::default() });
    assert_eq!(cold.handle().lookup_outcome(hash, spec, &bytecode).err(), Some(Fallback::NotHot));
    assert_eq!(cold.handle().lookup_outcome(hash, spec, &bytecode).err(), Some(Fallback::NotHot));
    assert_eq!(count(&cold, Fallback::NotHot), 2);

    let small = JitRuntime::new(JitConfig { max_bytecode_len: 4, ..JitConfig::default() });
    assert_eq!(small.handle().lookup_outcome(hash, spec, &bytecode).err(), Some(Fallback::TooLarge));
    assert_eq!(count(&small, Fallback::TooLarge), 1);

    // Reported hot at the first miss: queued for a worker.
    let eager_to_queue = JitRuntime::new(JitConfig { hot_threshold: 0, ..JitConfig::default() });
    assert_eq!(eager_to_queue.handle().lookup_outcome(hash, spec, &bytecode).err(), Some(Fallback::Queued));
    assert_eq!(count(&eager_to_queue, Fallback::Queued), 1);

    let eager = JitRuntime::new(JitConfig::eager());
    assert_eq!(
        eager.handle().lookup_outcome(hash, SpecId::AMSTERDAM, &bytecode).err(),
        Some(Fallback::UnsupportedFork)
    );
    assert_eq!(
        eager.handle().lookup_outcome(hash, SpecId::AMSTERDAM, &bytecode).err(),
        Some(Fallback::UnsupportedFork)
    );
    assert_eq!(count(&eager, Fallback::UnsupportedFork), 2);
    assert_eq!(eager.handle().why_interpreted(hash, SpecId::AMSTERDAM, code.len()), Some(Fallback::UnsupportedFork));
    assert!(eager.handle().lookup_outcome(hash, spec, &bytecode).is_ok());
    assert_eq!(eager.handle().why_interpreted(hash, spec, code.len()), None);

    let faulty = JitRuntime::new(JitConfig {
        compiler: revm_jit::CompilerConfig {
            faults: vec![InjectedFault { code_hash: hash, kind: FaultKind::LlvmError }],
            ..Default::default()
        },
        ..JitConfig::eager()
    });
    assert_eq!(faulty.handle().lookup_outcome(hash, spec, &bytecode).err(), Some(Fallback::Failed));
    assert_eq!(faulty.handle().lookup_outcome(hash, spec, &bytecode).err(), Some(Fallback::Failed));
    assert_eq!(count(&faulty, Fallback::Failed), 2);
    assert_eq!(faulty.handle().stats().failed, 1, "failures are not retried");

    let off = JitRuntime::disabled();
    assert_eq!(off.handle().lookup_outcome(hash, spec, &bytecode).err(), Some(Fallback::Disabled));
    assert_eq!(count(&off, Fallback::Disabled), 1);

    // Through a JitEvm, frames and resumes alike.
    let create = programs::call().case(SpecId::CANCUN);
    let runtime = JitRuntime::new(JitConfig { hot_threshold: u32::MAX, ..JitConfig::default() });
    let (result, native) = run(&runtime, &create);
    assert!(!native);
    assert_eq!(result, interpreted(&create));
    let stats = runtime.handle().stats();
    assert_eq!(stats.interpreted.total(), stats.interpreted.not_hot + stats.interpreted.initcode_not_hot, "{stats:?}");
    assert!(stats.interpreted.not_hot >= 2, "{stats:?}");
    // Every lookup that missed got a reason.
    assert_eq!(stats.misses, stats.interpreted.not_hot, "{stats:?}");
}

/// A JitEvm remembers a miss for the rest of its transaction, but still counts every miss
/// towards hotness: a contract called many times in one transaction turns hot in it.
#[test]
fn misses_remembered_in_a_transaction_still_make_a_contract_hot() {
    let runtime = JitRuntime::new(JitConfig { hot_threshold: 100, ..JitConfig::default() });
    // The `call` program calls a contract 10,000 times in one transaction.
    let case = programs::call().case(SpecId::CANCUN);
    let (result, _) = run(&runtime, &case);
    assert_eq!(result, interpreted(&case));
    let stats = runtime.handle().stats();
    assert!(stats.events_sent >= 1, "the callee turned hot within one transaction: {stats:?}");
    eventually("the caller and the callee compiled", || runtime.handle().stats().compiled >= 2);
    // The next transaction finds it.
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    evm.transact(case.tx()).expect("valid transaction");
    assert!(evm.frame_counts().native >= 10_000, "{:?}", evm.frame_counts());
}

fn open(dir: &tempfile::TempDir) -> Arc<dyn ArtifactStore> {
    Arc::new(DiskStore::open(dir.path(), BuildId::current()).expect("store opens"))
}

#[test]
fn preloading_runs_in_the_background_and_can_be_awaited() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let program = programs::factorial();
    let case = program.case(SpecId::CANCUN);
    {
        // Compiled ahead of time into the store, on this thread.
        let runtime =
            JitRuntime::new(JitConfig { store: Some(open(&dir)), hot_threshold: u32::MAX, ..JitConfig::default() });
        runtime.handle().compile_to_store(SpecId::CANCUN, &program.code).expect("compiles into the store");
        assert_eq!(runtime.handle().stats().store_written, 1);
    }
    // A runtime made disabled loads nothing until it is turned on.
    let runtime = JitRuntime::new(JitConfig {
        store: Some(open(&dir)),
        hot_threshold: u32::MAX,
        enabled: false,
        ..JitConfig::default()
    });
    assert_eq!(runtime.wait_for_preload(Duration::ZERO), Some(Default::default()));
    assert_eq!(runtime.handle().stats().cached_entries, 0);
    runtime.set_enabled(true);
    let report = runtime.wait_for_preload(Duration::from_secs(120)).expect("preloading ends");
    assert_eq!((report.loaded, report.refused_total()), (1, 0), "{report:?}");
    let (result, native) = run(&runtime, &case);
    assert!(native, "preloaded code runs without compiling");
    assert_eq!(result, interpreted(&case));
    assert_eq!(runtime.handle().stats().compiled, 0);
}

#[test]
fn a_store_request_writes_an_artifact_in_the_background() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let program = programs::fibonacci();
    let runtime =
        JitRuntime::new(JitConfig { store: Some(open(&dir)), hot_threshold: u32::MAX, ..JitConfig::default() });
    let handle = runtime.handle();
    assert_eq!(handle.request_store(SpecId::CANCUN, program.code.clone()), RequestOutcome::Queued);
    eventually("the artifact written", || handle.stats().store_written == 1);
    drop(runtime);
    let runtime = JitRuntime::new(JitConfig { store: Some(open(&dir)), ..JitConfig::default() });
    assert_eq!(runtime.preload_report().loaded, 1);
}
