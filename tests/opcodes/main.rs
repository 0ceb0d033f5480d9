//! Per-opcode correctness of native code against revm's interpreter, fork by fork.
//!
//! Most tests run single frames through `common::frame` (interpreter vs `run_native` on the
//! same freshly built state, comparing action, stack, memory, gas and journal); tests that
//! need more than one frame (calls, creates, static calls, recursion, selfdestruct, refunds)
//! run whole transactions through `common::Scenario`. Each test also asserts what the
//! interpreter itself did (result, values), so that it exercises the path it claims to.

#[path = "../common/mod.rs"]
mod common;

pub(crate) use common::FORKS;

mod arith;
mod code;
mod control;
mod env;
mod gas;
mod host;
mod memory;
mod sections;
mod stack;
mod txs;

use common::frame::{FrameOutcome, FrameTest, Mismatches};
use revm::interpreter::InstructionResult;

/// Asserts the interpreter's result, with the case in the message.
#[track_caller]
pub(crate) fn expect_result(out: &FrameOutcome, test: &FrameTest, expected: InstructionResult) {
    assert_eq!(out.result(), Some(expected), "unexpected interpreter result for {}", test.describe());
}

/// Runs `test` with every gas limit in `gas` (both modes each time) and records mismatches.
/// Returns how many of the limits ended in each result, so callers can check that the sweep
/// crossed the boundaries it is meant to cross.
pub(crate) fn sweep_gas(
    m: &mut Mismatches,
    test: &FrameTest,
    gas: impl IntoIterator<Item = u64>,
) -> Vec<(InstructionResult, u64)> {
    let mut seen: Vec<(InstructionResult, u64)> = Vec::new();
    for g in gas {
        let out = m.check(&test.clone().gas(g));
        let r = out.result().unwrap_or(InstructionResult::Suspend);
        match seen.iter_mut().find(|(k, _)| *k == r) {
            Some((_, n)) => *n += 1,
            None => seen.push((r, 1)),
        }
    }
    seen
}

/// The smallest gas limit with which the interpreter does not run out of gas (found by
/// bisection; running out of gas is monotonic in the limit).
pub(crate) fn min_gas(test: &FrameTest) -> u64 {
    let oog = |g: u64| test.clone().gas(g).run_interp().result().is_some_and(is_oog);
    let (mut lo, mut hi) = (0u64, 30_000_000u64);
    assert!(!oog(hi), "runs out of gas even with {hi}: {}", test.describe());
    if !oog(0) {
        return 0;
    }
    // Invariant: oog(lo) and !oog(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if oog(mid) { lo = mid } else { hi = mid }
    }
    hi
}

/// Gas limits around every interesting point below `needed`: all of them when `needed` is
/// small, otherwise the first and last `dense` values and a coarse step in between.
pub(crate) fn sweep_points(needed: u64, dense: u64) -> Vec<u64> {
    let top = needed + 3;
    if top <= 2 * dense {
        return (0..=top).collect();
    }
    let mut points: Vec<u64> = (0..=dense).collect();
    points.extend((dense..top - dense).step_by(97));
    points.extend(top - dense..=top);
    points
}

/// Sweeps gas limits from 0 to just above what the frame needs, asserting that the sweep
/// produced both out-of-gas results and `ok`.
pub(crate) fn full_sweep(m: &mut Mismatches, test: &FrameTest, ok: InstructionResult, dense: u64) {
    let needed = min_gas(test);
    let seen = sweep_gas(m, test, sweep_points(needed, dense.max(400)));
    assert!(seen.iter().any(|(r, _)| *r == ok), "sweep never reached {ok:?}: {seen:?} for {}", test.describe());
    assert!(seen.iter().any(|(r, _)| is_oog(*r)), "sweep never ran out of gas: {seen:?} for {}", test.describe());
}

/// Whether `r` is one of the out-of-gas results.
pub(crate) fn is_oog(r: InstructionResult) -> bool {
    use InstructionResult::*;
    matches!(r, OutOfGas | MemoryOOG | MemoryLimitOOG | InvalidOperandOOG | PrecompileOOG | ReentrancySentryOOG)
}
