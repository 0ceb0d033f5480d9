//! The runtime as a user meets it: background compilation, failures not retried, the global
//! switch, shutdown, and many threads sharing one runtime while code is compiled and evicted.

use revm::{ExecuteEvm, MainBuilder, context::result::ExecutionResult, primitives::hardfork::SpecId};
use revm_jit::{JitConfig, JitEvm, JitRuntime, fixture::Case, programs};
use std::time::{Duration, Instant};

/// Runs `case` through a `JitEvm` on `runtime`; returns the result and whether a frame ran
/// natively.
fn run(runtime: &JitRuntime, case: &Case) -> (ExecutionResult, bool) {
    let mut evm = JitEvm::new(case.context().build_mainnet(), runtime.handle());
    let result = evm.transact(case.tx()).expect("valid transaction").result;
    (result, evm.frame_counts().native > 0)
}

fn interpreted(case: &Case) -> ExecutionResult {
    case.context().build_mainnet().transact(case.tx()).expect("valid transaction").result
}

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
        // Smaller than the programs together: entries are evicted all the time.
        cache_capacity_bytes: 200,
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
