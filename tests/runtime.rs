//! The runtime as a user meets it: background compilation, failures not retried, the global
//! switch, shutdown, and many threads sharing one runtime while code is compiled and evicted.

mod common;

use common::runs::{interpreted, run};

use revm::{ExecuteEvm, MainBuilder, context::result::ExecutionResult, primitives::hardfork::SpecId};
use revm_jit::{JitConfig, JitEvm, JitRuntime};
use revm_jit_cli::{fixture::Case, programs};
use std::time::{Duration, Instant};

/// A hot contract is compiled in the background and the next frames run natively, with the
/// interpreter's results throughout; the JitEvm need not be recreated... nor the runtime asked.
#[test]
fn hot_code_turns_native_in_the_background() {
    let runtime = JitRuntime::new(JitConfig { hot_threshold: 2, ..JitConfig::default() });
    let case = programs::factorial().case(SpecId::CANCUN);
    let expected = interpreted(&case);
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut runs = 0;
    loop {
        let before = evm.frame_counts();
        let result = evm.transact(case.tx()).expect("valid transaction").result;
        runs += 1;
        assert_eq!(result, expected, "run {runs} differs from the interpreter");
        if evm.frame_counts().native > before.native {
            break;
        }
        assert!(Instant::now() < deadline, "code never turned native");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Below the threshold the contract ran interpreted: at least three misses first.
    assert!(runs >= 4, "turned native after {runs} runs with threshold 2");
    let stats = runtime.handle().stats();
    assert_eq!((stats.queued, stats.compiled, stats.failed), (1, 1, 0), "{stats:?}");
}

/// A contract that fails to compile runs interpreted, is counted once, and is never retried.
#[test]
fn failed_compilations_are_counted_and_not_retried() {
    // Forks after Osaka are refused by the compiler with a typed error.
    let runtime = JitRuntime::new(JitConfig {
        hot_threshold: 0,
        wait_for_compile: Some(Duration::from_secs(60)),
        ..JitConfig::default()
    });
    let case = programs::fibonacci().case(SpecId::AMSTERDAM);
    let expected = interpreted(&case);
    for _ in 0..5 {
        let (result, native) = run(&runtime, &case);
        assert_eq!(result, expected);
        assert!(!native);
    }
    let stats = runtime.handle().stats();
    assert_eq!((stats.queued, stats.failed, stats.compiled), (1, 1, 0), "{stats:?}");
}

/// The runtime's switch turns every JitEvm using it back to the interpreter at once.
#[test]
fn the_global_switch_disables_native_execution() {
    let runtime = JitRuntime::new(JitConfig::eager());
    let case = programs::fibonacci().case(SpecId::CANCUN);
    assert!(run(&runtime, &case).1);
    runtime.set_enabled(false);
    let (result, native) = run(&runtime, &case);
    assert!(!native);
    assert_eq!(result, interpreted(&case));
    runtime.set_enabled(true);
    assert!(run(&runtime, &case).1);
}

/// Dropping the runtime stops its threads promptly; handles that outlive it keep serving
/// compiled code and never block.
#[test]
fn shutdown_is_prompt_and_handles_outlive_the_runtime() {
    let runtime = JitRuntime::new(JitConfig {
        hot_threshold: 0,
        wait_for_compile: Some(Duration::from_secs(60)),
        ..JitConfig::default()
    });
    let case = programs::fibonacci().case(SpecId::CANCUN);
    assert!(run(&runtime, &case).1);
    let handle = runtime.handle();
    let started = Instant::now();
    drop(runtime);
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown took {:?}", started.elapsed());
    let mut evm = JitEvm::new(case.context().build_mainnet(), handle);
    let result = evm.transact(case.tx()).expect("valid transaction").result;
    assert_eq!(result, interpreted(&case));
    assert_eq!(evm.frame_counts().native, 1, "cached code is still served");
}

/// Several threads, each with its own JitEvm on one shared runtime, run every embedded
/// program while code is compiled in the background and evicted by a tiny cache: every result
/// equals the interpreter's, nothing deadlocks or crashes.
#[test]
fn threads_share_a_runtime_while_code_is_compiled_and_evicted() {
    let runtime = JitRuntime::new(JitConfig {
        hot_threshold: 1,
        workers: 2,
        // Room for two or three of the programs' machine code: entries are evicted all the time.
        cache_capacity_bytes: 12 * 1024,
        ..JitConfig::default()
    });
    let cases: Vec<Case> = programs::all().iter().map(|p| p.case(SpecId::CANCUN)).collect();
    let expected: Vec<ExecutionResult> = cases.iter().map(interpreted).collect();
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let (runtime, cases, expected) = (&runtime, &cases, &expected);
            scope.spawn(move || {
                for round in 0..6 {
                    for (i, case) in cases.iter().enumerate().skip(thread % 2) {
                        let (result, _) = run(runtime, case);
                        assert_eq!(result, expected[i], "thread {thread} round {round}: {} differs", case.name);
                    }
                }
            });
        }
    });
    let stats = runtime.handle().stats();
    assert!(stats.compiled > 0, "nothing was compiled: {stats:?}");
    assert!(stats.evictions > 0, "the small cache evicted nothing: {stats:?}");
}

/// Compiler panics, LLVM errors and worker panics, injected for three contracts, are caught
/// and counted once each; those contracts keep running interpreted with the interpreter's
/// results and are never retried, while the runtime goes on compiling a fourth one.
#[test]
fn injected_compiler_failures_are_contained() {
    use revm_jit::compiler::{FaultKind, InjectedFault};
    let victims = [
        (programs::fibonacci(), FaultKind::CompilerPanic),
        (programs::factorial(), FaultKind::LlvmError),
        (programs::keccak(), FaultKind::WorkerPanic),
    ];
    let faults = victims
        .iter()
        .map(|(program, kind)| InjectedFault { code_hash: revm::primitives::keccak256(&program.code), kind: *kind })
        .collect();
    let runtime = JitRuntime::new(JitConfig {
        hot_threshold: 0,
        wait_for_compile: Some(Duration::from_secs(60)),
        compiler: revm_jit::CompilerConfig { faults, ..Default::default() },
        ..JitConfig::default()
    });
    for (program, kind) in &victims {
        let case = program.case(SpecId::CANCUN);
        let expected = interpreted(&case);
        for _ in 0..3 {
            let (result, native) = run(&runtime, &case);
            assert_eq!(result, expected, "{kind:?}");
            assert!(!native, "{kind:?}: the failed contract ran native");
        }
    }
    let healthy = programs::storage().case(SpecId::CANCUN);
    let (result, native) = run(&runtime, &healthy);
    assert_eq!(result, interpreted(&healthy));
    assert!(native, "the runtime stopped compiling after the failures");
    let stats = runtime.handle().stats();
    assert_eq!((stats.queued, stats.failed, stats.compiled), (4, 3, 1), "{stats:?}");
    // Each contract failed of the fault injected for it, not of some other.
    for ((program, kind), message) in
        victims.iter().zip(["injected compiler panic", "injected LLVM failure", "injected worker panic"])
    {
        let code_hash = revm::primitives::keccak256(&program.code);
        let failure = runtime.handle().compile_failure(code_hash, SpecId::CANCUN).expect("failure recorded");
        assert!(failure.contains(message), "{kind:?}: the failure was {failure:?}");
    }
}

/// The same faults in eager mode, where compilation runs on the caller's thread: the
/// transaction still completes with the interpreter's result. Each runtime, made one after
/// the other on this one thread, must compile with its own settings: the failure recorded is
/// the fault that runtime injects, and a last runtime without faults compiles.
#[test]
fn injected_failures_in_eager_mode_fall_back_to_the_interpreter() {
    use revm_jit::compiler::{FaultKind, InjectedFault};
    let program = programs::fibonacci();
    let code_hash = revm::primitives::keccak256(&program.code);
    let case = program.case(SpecId::CANCUN);
    for (kind, message) in
        [(FaultKind::CompilerPanic, "injected compiler panic"), (FaultKind::LlvmError, "injected LLVM failure")]
    {
        let runtime = JitRuntime::new(JitConfig {
            compiler: revm_jit::CompilerConfig {
                faults: vec![InjectedFault { code_hash, kind }],
                ..Default::default()
            },
            ..JitConfig::eager()
        });
        let (result, native) = run(&runtime, &case);
        assert_eq!(result, interpreted(&case), "{kind:?}");
        assert!(!native);
        assert_eq!(runtime.handle().stats().failed, 1, "{kind:?}");
        let failure = runtime.handle().compile_failure(code_hash, SpecId::CANCUN).expect("failure recorded");
        assert!(failure.contains(message), "{kind:?}: the failure was {failure:?}");
    }
    let healthy = JitRuntime::new(JitConfig::eager());
    let (result, native) = run(&healthy, &case);
    assert_eq!(result, interpreted(&case));
    assert!(native, "a runtime without faults used another runtime's compiler");
    assert_eq!(healthy.handle().stats().failed, 0);
}

/// `JitRuntime::set_enabled(false)` takes effect from the next frame, even for code the
/// running transaction already used (the JitEvm's list of recent code): a contract calls a
/// callee, turns the runtime off (through its database, mid-transaction), and calls the
/// callee again, which must then run interpreted.
#[test]
fn the_global_switch_reaches_code_used_earlier_in_the_transaction() {
    use revm::{
        Database,
        database::{CacheDB, EmptyDB},
        handler::MainnetContext,
        primitives::{Address, B256, Bytes, StorageKey, StorageValue, U256},
        state::{AccountInfo, Bytecode},
    };
    use std::sync::Arc;
    const SWITCH_SLOT: u64 = 0x0ff;
    const CALLEE: Address = Address::repeat_byte(0xee);
    /// A database that turns the runtime off when `SWITCH_SLOT` is read.
    #[derive(Debug)]
    struct SwitchDb(CacheDB<EmptyDB>, Arc<JitRuntime>);
    impl Database for SwitchDb {
        type Error = <CacheDB<EmptyDB> as Database>::Error;
        fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
            self.0.basic(address)
        }
        fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
            self.0.code_by_hash(code_hash)
        }
        fn storage(&mut self, address: Address, index: StorageKey) -> Result<StorageValue, Self::Error> {
            if index == U256::from(SWITCH_SLOT) {
                self.1.set_enabled(false);
            }
            self.0.storage(address, index)
        }
        fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
            self.0.block_hash(number)
        }
    }
    let caller = revm_jit_cli::asm::assemble(&format!(
        "PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH {CALLEE} GAS CALL POP
         PUSH {SWITCH_SLOT} SLOAD POP
         PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH 0 PUSH {CALLEE} GAS CALL POP
         STOP"
    ))
    .expect("assembles");
    let callee = revm_jit_cli::asm::assemble("PUSH 1 PUSH 1 ADD POP STOP").expect("assembles");
    let mut case = Case::call_code("switch", SpecId::CANCUN, caller, Bytes::new(), 1_000_000);
    revm_jit_cli::fixture::deploy(&mut case.db, CALLEE, callee, &[]);
    let runtime = Arc::new(JitRuntime::new(JitConfig::eager()));
    let context = || {
        let plain = case.context();
        let mut ctx = MainnetContext::new(SwitchDb(case.db.clone(), Arc::clone(&runtime)), case.spec);
        ctx.block = plain.block.clone();
        ctx.cfg = plain.cfg.clone();
        ctx
    };
    let expected = interpreted(&case);
    let mut evm = JitEvm::new(context().build_mainnet(), runtime.handle());
    assert_eq!(evm.transact(case.tx()).expect("valid transaction").result, expected);
    assert_eq!(
        evm.frame_counts(),
        revm_jit::FrameCounts { native: 2, interpreted: 1 },
        "caller and first callee native, second callee interpreted"
    );
    assert!(!runtime.handle().is_enabled());
}

/// Initcode is neither hashed nor compiled the first times it runs: below the hot threshold
/// a CREATE frame is counted by a cheap fingerprint only. Once the same initcode was seen
/// more often, it is hashed, looked up and, once hot, compiled; results equal the
/// interpreter's throughout.
#[test]
fn initcode_is_hashed_only_once_it_repeats() {
    use revm::primitives::{Bytes, TxKind};
    // Initcode with a loop, returning a one-byte runtime code.
    let initcode = revm_jit_cli::asm::assemble(
        "PUSH 10 loop: PUSH 1 SWAP1 SUB DUP1 PUSH @loop JUMPI POP
         PUSH 0x00 PUSH 0 MSTORE8 PUSH 1 PUSH 0 RETURN",
    )
    .expect("assembles");
    let mut case = Case::call_code("create", SpecId::CANCUN, Bytes::new(), Bytes::new(), 1_000_000);
    case.tx.kind = TxKind::Create;
    case.tx.data = initcode;
    let expected = interpreted(&case);
    assert!(expected.is_success(), "{expected:?}");
    let runtime = JitRuntime::new(JitConfig {
        hot_threshold: 2,
        wait_for_compile: Some(Duration::from_secs(60)),
        ..JitConfig::default()
    });
    let mut native_at = None;
    for run_index in 1..=8 {
        let (result, native) = run(&runtime, &case);
        assert_eq!(result, expected, "run {run_index}");
        let stats = runtime.handle().stats();
        if run_index <= 2 {
            assert!(!native, "run {run_index}");
            assert_eq!((stats.initcode_skipped, stats.initcode_hashed, stats.lookups), (run_index, 0, 0), "{stats:?}");
        }
        if native && native_at.is_none() {
            native_at = Some(run_index);
        }
    }
    let stats = runtime.handle().stats();
    assert_eq!(stats.initcode_skipped, 2, "{stats:?}");
    assert_eq!(stats.initcode_hashed, 6, "{stats:?}");
    assert_eq!(stats.compiled, 1, "{stats:?}");
    // Hashed from the third run on, hot at its third miss: native from the fifth run.
    assert_eq!(native_at, Some(5), "{stats:?}");
}

/// Lookups never block on a full hotness channel: with room for one event, a stream of
/// contracts turning hot overflows it, and every report is accounted for as sent or dropped.
#[test]
fn a_full_event_channel_drops_and_counts_without_blocking() {
    use revm::{bytecode::Bytecode, primitives::B256};
    let runtime = JitRuntime::new(JitConfig { hot_threshold: 0, channel_capacity: 1, ..JitConfig::default() });
    let handle = runtime.handle();
    let code = Bytecode::new_raw(vec![0x5b, 0x00].into());
    let mut lookups = 0u64;
    while handle.stats().events_dropped == 0 {
        assert!(lookups < 100_000_000, "no event was ever dropped");
        for _ in 0..10_000 {
            let hash = B256::from(revm::primitives::U256::from(lookups));
            assert!(handle.lookup(hash, SpecId::CANCUN, &code).is_none());
            lookups += 1;
        }
    }
    let stats = handle.stats();
    assert_eq!(stats.misses, lookups);
    // With a hot threshold of 0 every miss is reported: each one was sent or dropped.
    assert_eq!(stats.events_sent + stats.events_dropped, lookups, "{stats:?}");
    drop(runtime);
    let stats = handle.stats();
    assert!(stats.events_received <= stats.events_sent, "{stats:?}");
}

/// The job queue is bounded: with room for one job and one busy worker, contracts turning hot
/// faster than they compile are dropped and counted, and every hot report is accounted for.
#[test]
fn a_full_job_queue_drops_and_counts() {
    use revm::bytecode::Bytecode;
    let runtime = JitRuntime::new(JitConfig { hot_threshold: 0, job_queue_capacity: 1, ..JitConfig::default() });
    let handle = runtime.handle();
    let mut contracts = 0u64;
    while handle.stats().jobs_dropped == 0 {
        assert!(contracts < 100_000, "no job was ever dropped");
        // Distinct contracts, each with a loop, reported hot at their first miss.
        let source = format!("PUSH {contracts} loop: PUSH 1 SWAP1 SUB DUP1 PUSH @loop JUMPI STOP");
        let code = Bytecode::new_raw(revm_jit_cli::asm::assemble(&source).expect("assembles"));
        assert!(handle.lookup(code.hash_slow(), SpecId::CANCUN, &code).is_none());
        contracts += 1;
    }
    drop(runtime);
    let stats = handle.stats();
    assert!(stats.jobs_dropped > 0 && stats.queued > 0, "{stats:?}");
    // Every event the coordinator took was queued or dropped (the contracts are distinct).
    assert_eq!(stats.events_received, stats.queued + stats.jobs_dropped, "{stats:?}");
}

/// Code served from the runtime's hit table (the fast path of a hit) is let go when the cache
/// removes it: the table never keeps removed code alive, and a lookup after the removal misses.
#[test]
fn code_the_cache_let_go_is_not_served_from_the_hit_table() {
    let runtime = JitRuntime::new(JitConfig {
        cache_time_to_idle: Some(Duration::from_secs(1)),
        hot_threshold: u32::MAX,
        ..JitConfig::default()
    });
    let handle = runtime.handle();
    let code = programs::fibonacci().code;
    let key = (revm::primitives::keccak256(&code), SpecId::CANCUN);
    let bytecode = revm::bytecode::Bytecode::new_raw(code.clone());
    let compiled = handle.compile_now(key, &code).expect("compiles");
    let held_by_the_cache = compiled.code_refs();
    for _ in 0..3 {
        assert!(handle.lookup(key.0, key.1, &bytecode).is_some(), "a hit");
    }
    assert!(compiled.code_refs() > held_by_the_cache, "the hit table holds the code too");
    // Idle past the cache's time to idle: the entry expires.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(handle.lookup(key.0, key.1, &bytecode).is_none(), "expired code was served");
    // The cache drops expired values over its next housekeeping rounds.
    for _ in 0..10 {
        if compiled.code_refs() == 1 {
            break;
        }
        assert_eq!(handle.stats().cached_entries, 0, "the entry expired");
    }
    assert_eq!(compiled.code_refs(), 1, "expired code is held only by this test");
}

/// Code the cache replaces (the same contract compiled again) leaves the hit table with it:
/// the cache's removal listener reaches the table, and the next hit gets the new code.
#[test]
fn replaced_code_leaves_the_hit_table() {
    let runtime = JitRuntime::new(JitConfig { hot_threshold: u32::MAX, ..JitConfig::default() });
    let handle = runtime.handle();
    let code = programs::factorial().code;
    let key = (revm::primitives::keccak256(&code), SpecId::CANCUN);
    let bytecode = revm::bytecode::Bytecode::new_raw(code.clone());
    let first = handle.compile_now(key, &code).expect("compiles");
    for _ in 0..3 {
        assert!(handle.lookup(key.0, key.1, &bytecode).is_some(), "a hit");
    }
    assert_eq!(first.code_refs(), 3, "held by this test, the cache and the hit table");
    let second = handle.compile_now(key, &code).expect("compiles again");
    for _ in 0..10 {
        if first.code_refs() == 1 {
            break;
        }
        handle.stats();
    }
    assert_eq!(first.code_refs(), 1, "replaced code is held only by this test");
    let hit = handle.lookup(key.0, key.1, &bytecode).expect("a hit");
    assert!(hit.ptr_eq(&second) && !hit.ptr_eq(&first), "the hit is the new code");
}

/// A full cache admits what was just compiled, evicting what was used least recently: the
/// runtime's own hotness decided it was worth compiling, and the cache does not second-guess
/// that. Eager mode runs freshly compiled code even when the cache refuses it, so the second
/// run of each contract is the one that shows it was kept.
#[test]
fn a_full_cache_admits_freshly_compiled_code() {
    let runtime = JitRuntime::new(JitConfig { cache_capacity_bytes: 12 * 1024, ..JitConfig::eager() });
    for i in 0u8..8 {
        // Distinct contracts: return `i`.
        let code = revm::primitives::Bytes::from(vec![0x60, i, 0x5f, 0x52, 0x60, 0x20, 0x5f, 0xf3]);
        let case = Case::call_code(format!("returns {i}"), SpecId::CANCUN, code, Default::default(), 100_000);
        let expected = interpreted(&case);
        assert_eq!(run(&runtime, &case), (expected.clone(), true), "contract {i}, first run");
        assert_eq!(run(&runtime, &case), (expected, true), "contract {i} was not kept in the cache");
    }
    let stats = runtime.handle().stats();
    assert_eq!(stats.compiled, 8, "each compiled once: {stats:?}");
    assert!(stats.evictions > 0, "the cache holds only a few: {stats:?}");
}

/// Native runs that hand their frame to the interpreter part-way are counted: at a cold block
/// (a branch that can only revert) and at a section whose gas check fails. A frame that
/// finishes natively is not; every result is the interpreter's.
#[test]
fn hand_offs_to_the_interpreter_are_counted() {
    // PUSH0 CALLDATALOAD PUSH1 ok JUMPI; PUSH1 1 PUSH1 0 SSTORE PUSH1 0 PUSH1 0 REVERT;
    // ok: JUMPDEST STOP. The fall-through of the JUMPI always reverts: a cold block.
    let code = revm::primitives::Bytes::from_static(&[
        0x5f, 0x35, 0x60, 0x0f, 0x57, 0x60, 0x01, 0x60, 0x00, 0x55, 0x60, 0x00, 0x60, 0x00, 0xfd, 0x5b, 0x00,
    ]);
    let runtime = JitRuntime::new(JitConfig::eager());
    let word = |last: u8| {
        let mut word = [0u8; 32];
        word[31] = last;
        revm::primitives::Bytes::copy_from_slice(&word)
    };
    // Enough gas, then gas for the intrinsic cost (21,000 + 140 for this calldata) and 10
    // more: the first section needs 18.
    let cases = [(word(1), 100_000, 0), (word(0), 100_000, 1), (word(1), 21_150, 2)];
    for (calldata, gas_limit, handoffs) in cases {
        let case = Case::call_code("handoff", SpecId::CANCUN, code.clone(), calldata, gas_limit);
        let (result, native) = run(&runtime, &case);
        assert_eq!(result, interpreted(&case), "calldata {:?}, gas {gas_limit}", case.tx().data);
        assert!(native);
        let stats = runtime.handle().stats();
        assert_eq!(stats.handoffs, handoffs, "after calldata {:?}, gas {gas_limit}: {stats:?}", case.tx().data);
    }
}
