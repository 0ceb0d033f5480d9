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
