//! Differential test: random but mostly well-formed programs run in revm's interpreter and as
//! native code must give identical results (status, gas used and refunded, output, logs) and
//! identical state. The generator and the comparison are `revm_jit_cli::differential`'s,
//! shared with `revm-jit fuzz`, which also runs mutated real contracts at every `OptLevel`.
//!
//! `REVM_JIT_DIFF_PROGRAMS` sets how many programs run (default 10,000, split over four
//! tests); `REVM_JIT_DIFF_SEED` sets the first seed. A failure names the seed, and
//! `REVM_JIT_DIFF_PROGRAMS=1 REVM_JIT_DIFF_SEED=<seed>` replays exactly that program.

use revm_jit_cli::differential::generate;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs the share `part` (of 4) of the configured programs.
fn run_part(part: u64) {
    let total = env_u64("REVM_JIT_DIFF_PROGRAMS", 10_000);
    let first = env_u64("REVM_JIT_DIFF_SEED", 1);
    let seeds = (first..first + total).filter(|s| s % 4 == part || total < 4 && part == 0);
    let mut ran = 0u64;
    let mut kinds = std::collections::BTreeMap::<String, u64>::new();
    for seed in seeds {
        let scenario = generate(seed);
        let outcome = std::panic::catch_unwind(|| scenario.assert_same());
        if let Ok(outcome) = &outcome {
            *kinds.entry(outcome_kind(&outcome.result.result)).or_default() += 1;
        }
        if let Err(panic) = outcome {
            eprintln!(
                "differential test failed for seed {seed} (replay: REVM_JIT_DIFF_PROGRAMS=1 REVM_JIT_DIFF_SEED={seed})\ncode: {}\nspec: {:?}, gas: {}",
                scenario.code, scenario.spec, scenario.gas_limit
            );
            std::panic::resume_unwind(panic);
        }
        ran += 1;
    }
    eprintln!("part {part}: {ran} programs agreed; outcomes: {kinds:?}");
    // A generator whose programs all fail the same way would test little.
    assert!(ran < 100 || kinds.len() >= 4, "generated programs are not diverse: {kinds:?}");
}

/// A short label of how a program ended, for the outcome histogram.
fn outcome_kind(result: &revm::context::result::ExecutionResult) -> String {
    use revm::context::result::ExecutionResult::*;
    match result {
        Success { .. } => "success".into(),
        Revert { .. } => "revert".into(),
        Halt { reason, .. } => format!("{reason:?}"),
    }
}

#[test]
fn generated_programs_part0() {
    run_part(0);
}

#[test]
fn generated_programs_part1() {
    run_part(1);
}

#[test]
fn generated_programs_part2() {
    run_part(2);
}

#[test]
fn generated_programs_part3() {
    run_part(3);
}

/// Dynamic jumps through a dispatch of many targets (the dense pc → block-number table every
/// level uses from `DENSE_DISPATCH_MIN_TARGETS` targets on) agree with the interpreter at
/// every `OptLevel`: jumps to block starts, into the middle of a run of JUMPDESTs, and to a
/// byte that is no JUMPDEST.
#[test]
fn dynamic_jumps_through_many_targets_agree_at_every_level() {
    use revm::bytecode::opcode as op;
    use revm::context::result::{ExecutionResult, HaltReason};
    use revm::primitives::U256;
    use revm_jit_cli::differential::{Comparator, OPT_LEVELS, Scenario};
    const BLOCKS: usize = 48;
    const { assert!(BLOCKS > revm_jit::codegen::DENSE_DISPATCH_MIN_TARGETS) };
    // Block i: JUMPDEST JUMPDEST, adds i to a running sum, then jumps to the start of block
    // (i + 5) mod BLOCKS plus calldata word 0 (a dynamic jump: the target is not a
    // pushed constant). That visits every block once; after BLOCKS blocks (a counter in
    // memory) the sum is returned.
    const BLOCK_LEN: usize = 34;
    let start = |i: usize| 1 + i * BLOCK_LEN;
    let end = start(BLOCKS);
    let mut code = vec![op::PUSH0]; // the running sum
    for i in 0..BLOCKS {
        let next = start((i + 5) % BLOCKS);
        let block = [
            op::JUMPDEST,
            op::JUMPDEST,
            op::PUSH1,
            i as u8,
            op::ADD,
            // counter += 1; stop once it reaches BLOCKS
            op::PUSH0,
            op::MLOAD,
            op::PUSH1,
            1,
            op::ADD,
            op::DUP1,
            op::PUSH0,
            op::MSTORE,
            op::PUSH1,
            BLOCKS as u8,
            op::EQ,
            op::PUSH2,
            (end >> 8) as u8,
            end as u8,
            op::JUMPI,
            op::PUSH2,
            (next >> 8) as u8,
            next as u8,
            op::PUSH0,
            op::CALLDATALOAD,
            op::ADD,
            op::JUMP,
            op::INVALID,
            op::INVALID,
            op::INVALID,
            op::INVALID,
            op::INVALID,
            op::INVALID,
            op::INVALID,
        ];
        assert_eq!(block.len(), BLOCK_LEN);
        code.extend_from_slice(&block);
    }
    code.extend_from_slice(&[op::JUMPDEST, op::PUSH0, op::MSTORE, op::PUSH1, 32, op::PUSH0, op::RETURN]);
    let comparator = Comparator::new(&OPT_LEVELS);
    // 0: block starts; 1: the second JUMPDEST of each block; 2: a PUSH1 byte, an invalid jump.
    for offset in [0u8, 1, 2] {
        let mut calldata = [0u8; 32];
        calldata[31] = offset;
        let scenario = Scenario::new(code.clone()).calldata(calldata.to_vec());
        // The interpreter's outcome, so that the path compared is the long one: every block
        // visited (the sum of 0..BLOCKS) or, for the invalid target, the halt at once.
        let expected = scenario.run_interpreted().expect("valid transaction").result.result;
        match offset {
            2 => assert!(
                matches!(expected, ExecutionResult::Halt { reason: HaltReason::InvalidJump, .. }),
                "{expected:?}"
            ),
            _ => assert_eq!(
                expected.output().map(|o| U256::from_be_slice(o)),
                Some(U256::from(BLOCKS * (BLOCKS - 1) / 2)),
                "offset {offset}: {expected:?}"
            ),
        }
        for (level, frames, mismatch) in comparator.compare(&scenario) {
            assert!(mismatch.is_none(), "offset {offset} at {level:?}: {mismatch:?}");
            assert!(frames.native > 0 && frames.interpreted == 0, "offset {offset} at {level:?}: {frames:?}");
        }
    }
}
