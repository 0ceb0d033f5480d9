//! Criterion benchmarks of transaction execution: one group per embedded program and
//! per fixture in `../shared/bench-fixtures` (when that directory exists), with one
//! function per mode.
//!
//! Environment:
//! * `REVM_JIT_BENCH_MODES=interp,jit` limits the modes (default: every mode).
//! * `REVM_JIT_BENCH_FIXTURES=DIR` reads fixtures from `DIR` instead.
//!
//! As in `revm-jit bench`, each iteration gets a fresh context built outside the timed
//! routine, every mode's executor runs the case once before measurement (so compiling
//! modes have compiled it), and every mode must produce the interpreter's outcome (a
//! difference panics).
#![allow(missing_docs, reason = "criterion_group! generates an undocumented function")]

use clap::ValueEnum;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use revm_jit_cli::{
    bench::Outcome,
    exec::{Executor, Mode},
    fixture::{self, Case, DEFAULT_SPEC},
    programs,
};
use std::{hint::black_box, path::PathBuf, time::Duration};

/// The modes to benchmark: `REVM_JIT_BENCH_MODES` or every mode.
fn modes() -> Vec<Mode> {
    match std::env::var("REVM_JIT_BENCH_MODES") {
        Ok(list) => list
            .split(',')
            .map(|name| {
                Mode::from_str(name.trim(), true)
                    .unwrap_or_else(|e| panic!("REVM_JIT_BENCH_MODES: bad mode `{name}`: {e}"))
            })
            .collect(),
        Err(_) => Mode::value_variants().to_vec(),
    }
}

/// Embedded programs, then every fixture that loads (others are reported and skipped).
fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = programs::all()
        .iter()
        .filter(|p| DEFAULT_SPEC.is_enabled_in(p.min_spec))
        .map(|p| p.case(DEFAULT_SPEC))
        .collect();
    let dir = std::env::var_os("REVM_JIT_BENCH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-fixtures"));
    if dir.is_dir() {
        match fixture::fixture_files(&dir) {
            Ok(files) => {
                for file in files {
                    match fixture::load_file(&file, None) {
                        Ok(loaded) => cases.extend(loaded),
                        Err(e) => eprintln!("skipping fixture: {e}"),
                    }
                }
            }
            Err(e) => eprintln!("skipping fixtures: {e}"),
        }
    }
    cases
}

/// Runs `case` once in `executor` and returns its outcome; panics if revm rejects it.
fn run_once(case: &Case, executor: &mut Executor) -> Outcome {
    let result = executor
        .transact(case.context(), case.tx())
        .unwrap_or_else(|e| panic!("{}: {}: {e}", case.name, executor.mode()));
    Outcome::new(&result)
}

fn execution(c: &mut Criterion) {
    revm_jit_cli::bench::steady_heap();
    let modes = modes();
    for case in cases() {
        let mut group = c.benchmark_group(&case.name);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        // The interpreter's outcome, computed when the first function of the group runs
        // (criterion skips the closures of filtered-out benchmarks, so filtered-out
        // cases cost nothing, not even compilation).
        let mut baseline: Option<Outcome> = None;
        for &mode in &modes {
            let mut executor = Executor::new(mode);
            let mut checked = false;
            group.bench_function(mode.name(), |b| {
                if !checked {
                    let expected = baseline.get_or_insert_with(|| run_once(&case, &mut Executor::new(Mode::Interp)));
                    let outcome = run_once(&case, &mut executor);
                    let diffs = expected.differences(&outcome);
                    assert!(diffs.is_empty(), "{}: {mode} disagrees with interp: {}", case.name, diffs.join("; "));
                    checked = true;
                }
                // One setup per iteration, as `revm-jit bench` does, so every run starts
                // from a just-built context (batched setup builds many contexts up front
                // and runs on colder copies). The per-iteration timer overhead is tens of
                // nanoseconds, small next to the fastest fixture's microseconds.
                b.iter_batched(
                    || (case.context(), case.tx()),
                    |(ctx, tx)| black_box(executor.transact(ctx, tx)),
                    BatchSize::PerIteration,
                )
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = execution
}
criterion_main!(benches);
