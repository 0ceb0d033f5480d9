//! Tiered compilation (`JitConfig::tier_up_gas`): a hot contract runs baseline code first,
//! and code of the configured level once its frames spent enough gas in it; every run,
//! before, during and after the switch, gives the interpreter's result.

mod common;

use common::runs::{interpreted, run};

use revm::{bytecode::Bytecode, primitives::hardfork::SpecId};
use revm_jit::compiler::{FaultKind, InjectedFault};
use revm_jit::{
    CompileCallback, CompileOutcome, CompiledFn, CompilerConfig, JitConfig, JitHandle, JitRuntime, OptLevel,
};
use revm_jit_cli::programs::{self, Program};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The code cached for `program` now (a lookup: it counts as a run of baseline code).
fn cached(handle: &JitHandle, program: &Program) -> Option<CompiledFn> {
    let code = Bytecode::new_raw(program.code.clone());
    handle.lookup(code.hash_slow(), SpecId::CANCUN, &code)
}

/// Waits until `done` holds, for at most two minutes.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A callback that records every compile outcome, and the list it fills.
fn recorder() -> (CompileCallback, Arc<Mutex<Vec<CompileOutcome>>>) {
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&outcomes);
    (CompileCallback::new(move |event| sink.lock().unwrap().push(event.outcome.clone())), outcomes)
}

#[test]
fn baseline_code_serves_first_and_code_of_the_configured_level_replaces_it() {
    let program = programs::factorial();
    let case = program.case(SpecId::CANCUN);
    let expected = interpreted(&case);
    // The contract's frame spends less than the transaction's gas per run: one run stays
    // below this threshold, and a few reach it.
    let threshold = 2 * expected.tx_gas_used();
    let (on_compile, outcomes) = recorder();
    let runtime = JitRuntime::new(JitConfig {
        hot_threshold: 0,
        tier_up_gas: Some(threshold),
        baseline_min_cost: 0,
        wait_for_compile: Some(Duration::from_secs(60)),
        on_compile: Some(on_compile),
        ..JitConfig::default()
    });
    let handle = runtime.handle();

    // The first run waits for the first tier and runs it.
    assert_eq!(run(&runtime, &case), (expected.clone(), true));
    let baseline = cached(&handle, &program).expect("cached");
    assert!(baseline.is_baseline(), "{:?}", baseline.opt_level);
    let stats = handle.stats();
    assert_eq!((stats.tiered_up, stats.events_sent), (0, 1), "no tier-up below the threshold: {stats:?}");
    // Later runs reach the threshold while running baseline code, and ask for the tier-up.
    let mut runs = 1;
    while handle.stats().events_sent == 1 {
        assert_eq!(run(&runtime, &case), (expected.clone(), true), "run {runs}");
        runs += 1;
        assert!(runs <= 10, "no tier-up after {runs} runs of {} gas", expected.tx_gas_used());
    }
    eventually("the contract tiered up", || handle.stats().tiered_up == 1);

    let optimised = cached(&handle, &program).expect("still cached");
    assert_eq!(optimised.opt_level, Some(OptLevel::Default));
    assert!(!optimised.ptr_eq(&baseline));
    for _ in 0..5 {
        assert_eq!(run(&runtime, &case), (expected.clone(), true));
    }
    let stats = handle.stats();
    assert_eq!((stats.compiled, stats.tiered_up, stats.tier_up_failed, stats.failed), (1, 1, 0, 0), "{stats:?}");
    assert!(stats.tier_up_ns > 0 && stats.tier_up_ns < stats.compile_ns, "{stats:?}");
    assert_eq!(*outcomes.lock().unwrap(), [CompileOutcome::Compiled, CompileOutcome::Optimized]);
}

/// Gas a call hands to its child is the child's work: a caller that forwards nearly all of a
/// large gas limit does not tier up for it.
#[test]
fn gas_handed_to_a_child_frame_does_not_count_towards_the_callers_tier_up() {
    let program = programs::call();
    let case = program.case(SpecId::CANCUN);
    let expected = interpreted(&case);
    assert!(case.tx.gas_limit > 10 * expected.tx_gas_used(), "the caller forwards much more than is used");
    let runtime = JitRuntime::new(JitConfig {
        hot_threshold: 0,
        // Above what the whole transaction uses, far below what its calls forward.
        tier_up_gas: Some(expected.tx_gas_used() + 1),
        baseline_min_cost: 0,
        wait_for_compile: Some(Duration::from_secs(60)),
        ..JitConfig::default()
    });
    assert_eq!(run(&runtime, &case), (expected, true));
    let stats = runtime.handle().stats();
    assert_eq!(stats.compiled, 2, "caller and callee: {stats:?}");
    assert_eq!(stats.events_sent, 2, "one event per contract to compile, none to tier up: {stats:?}");
}

#[test]
fn eager_mode_compiles_both_tiers_at_once() {
    let runtime = JitRuntime::new(JitConfig { baseline_min_cost: 0, ..JitConfig::eager() });
    let program = programs::fibonacci();
    let case = program.case(SpecId::CANCUN);
    assert_eq!(run(&runtime, &case), (interpreted(&case), true));
    let code = cached(&runtime.handle(), &program).expect("cached");
    assert_eq!(code.opt_level, Some(OptLevel::Default));
    let stats = runtime.handle().stats();
    assert_eq!((stats.compiled, stats.tiered_up), (1, 1), "{stats:?}");
}

/// A contract the cost model predicts cheap skips the baseline tier: its optimising compile
/// takes milliseconds. The default threshold sends the embedded programs straight there, and
/// a threshold of 0 through the baseline.
#[test]
fn cheap_contracts_compile_at_the_configured_level_at_once() {
    let program = programs::fibonacci();
    let predicted = revm_jit::analysis::Analysis::new(&program.code, SpecId::CANCUN).predicted_cost();
    assert!(predicted < JitConfig::default().baseline_min_cost, "fibonacci predicts {predicted}");
    for (min_cost, first) in [(JitConfig::default().baseline_min_cost, OptLevel::Default), (0, OptLevel::Baseline)] {
        let (on_compile, outcomes) = recorder();
        let runtime = JitRuntime::new(JitConfig {
            hot_threshold: 0,
            baseline_min_cost: min_cost,
            wait_for_compile: Some(Duration::from_secs(60)),
            on_compile: Some(on_compile),
            ..JitConfig::default()
        });
        let case = program.case(SpecId::CANCUN);
        assert_eq!(run(&runtime, &case), (interpreted(&case), true));
        assert_eq!(outcomes.lock().unwrap()[0], CompileOutcome::Compiled);
        assert_eq!(cached(&runtime.handle(), &program).expect("cached").opt_level, Some(first), "min cost {min_cost}");
    }
}

#[test]
fn untiered_runtimes_and_cheap_levels_compile_once() {
    for (tier_up_gas, level) in [
        (None, OptLevel::Default),
        (None, OptLevel::Aggressive),
        (Some(1), OptLevel::Less),
        (Some(1), OptLevel::Baseline),
    ] {
        let runtime = JitRuntime::new(JitConfig {
            tier_up_gas,
            compiler: CompilerConfig { opt_level: level, ..Default::default() },
            ..JitConfig::eager()
        });
        let program = programs::fibonacci();
        let case = program.case(SpecId::CANCUN);
        for _ in 0..3 {
            assert_eq!(run(&runtime, &case), (interpreted(&case), true), "{level:?}");
        }
        let code = cached(&runtime.handle(), &program).expect("cached");
        assert_eq!(code.opt_level, Some(level));
        let stats = runtime.handle().stats();
        assert_eq!((stats.compiled, stats.tiered_up, stats.tier_up_ns), (1, 0, 0), "{level:?}: {stats:?}");
    }
}

/// A tier-up that fails leaves the baseline code serving, exactly, and is neither recorded as
/// the contract's failure nor retried.
#[test]
fn a_failed_tier_up_keeps_the_baseline_code() {
    let program = programs::factorial();
    let case = program.case(SpecId::CANCUN);
    let expected = interpreted(&case);
    let fault =
        InjectedFault { code_hash: revm::primitives::keccak256(&program.code), kind: FaultKind::TierUpLlvmError };
    let compiler = CompilerConfig { faults: vec![fault], ..Default::default() };
    for eager in [true, false] {
        let runtime = JitRuntime::new(JitConfig {
            eager,
            hot_threshold: 0,
            tier_up_gas: Some(1),
            baseline_min_cost: 0,
            wait_for_compile: Some(Duration::from_secs(60)),
            compiler: compiler.clone(),
            ..JitConfig::default()
        });
        let handle = runtime.handle();
        // The first run compiles the baseline tier; in eager mode the tier-up follows at once,
        // in the background once the first native entry has spent gas.
        for _ in 0..3 {
            assert_eq!(run(&runtime, &case), (expected.clone(), true), "eager {eager}");
        }
        eventually("the tier-up failed", || handle.stats().tier_up_failed == 1);
        for _ in 0..3 {
            assert_eq!(run(&runtime, &case), (expected.clone(), true), "eager {eager}");
        }
        assert!(cached(&handle, &program).expect("the baseline code stays").is_baseline());
        let stats = handle.stats();
        assert_eq!((stats.compiled, stats.failed, stats.tiered_up, stats.tier_up_failed), (1, 0, 0, 1), "{stats:?}");
        assert!(handle.compile_failure(fault.code_hash, SpecId::CANCUN).is_none(), "not the contract's failure");
    }
}
