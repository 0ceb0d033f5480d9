//! The benchmark harness: runs each [`Case`] in each [`Mode`], checks that every mode
//! produces exactly the same outcome, and reports median times.
//!
//! Measurement of one case in one mode ([`measure`]):
//!
//! 1. A fresh [`Executor`] runs the case once; the change in
//!    [`Executor::compile_ns`] around that first run is the mode's compile time (the
//!    compiling executors compile eagerly on first sight of a contract).
//! 2. A few untimed warm-up runs follow.
//! 3. Timed runs repeat until both [`MeasureConfig::target_time`] has passed and
//!    [`MeasureConfig::min_runs`] runs are done (or [`MeasureConfig::max_runs`] is
//!    reached). Only [`Executor::transact`] is timed: the context (a copy of the
//!    pre-state) and the transaction are built before the clock starts, and the result
//!    is dropped after it stops. (`transact` consumes the context, so dropping it is
//!    inside the timed region, equally for every mode.)
//!
//! Every run's status and gas must match the first run's, and every mode's full
//! [`Outcome`] must match the first mode's; any difference is a [`BenchError`].

pub mod outcome;
pub mod report;

pub use outcome::{Outcome, Status};

use crate::{
    exec::{Executor, Mode},
    fixture::{Case, FixtureError},
};
use revm::context::result::EVMError;
use revm_jit::{FrameCounts, store::StoreError};
use std::{
    convert::Infallible,
    time::{Duration, Instant},
};

/// Why a case produced no benchmark row.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The fixture file could not be loaded.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// revm rejected the transaction or the database failed (not an EVM-level revert).
    #[error("{name}: {mode}: transaction failed: {source}")]
    Evm {
        /// Case name.
        name: String,
        /// Mode that was running.
        mode: Mode,
        /// revm's error.
        source: EVMError<Infallible>,
    },
    /// The artifact store given with `--store` could not be opened.
    #[error("{name}: {mode}: opening the artifact store: {source}")]
    Store {
        /// Case name.
        name: String,
        /// Mode that was starting.
        mode: Mode,
        /// The store's error.
        source: StoreError,
    },
    /// A repeated run of the same mode ended differently from the first run.
    #[error("{name}: {mode}: run {run} differs from the first run: {}", diffs.join("; "))]
    Nondeterministic {
        /// Case name.
        name: String,
        /// Mode that was running.
        mode: Mode,
        /// 1-based index of the differing run.
        run: usize,
        /// How it differs.
        diffs: Vec<String>,
    },
    /// Two modes produced different outcomes.
    #[error("{name}: MODES DISAGREE: {mode} vs {baseline}: {}", diffs.join("; "))]
    Disagreement {
        /// Case name.
        name: String,
        /// The mode every other mode is compared with.
        baseline: Mode,
        /// The mode that differs.
        mode: Mode,
        /// How it differs (baseline value first).
        diffs: Vec<String>,
    },
    /// A case with a known expected status ended with another.
    #[error("{name}: expected status {expected}, got {got}")]
    UnexpectedStatus {
        /// Case name.
        name: String,
        /// What it should end with.
        expected: Status,
        /// What it ended with (in every mode).
        got: Status,
    },
}

/// Keeps the process heap from shrinking and growing back on every run.
///
/// Every `transact` builds a fresh EVM whose frame stack preallocates eight frames
/// (each with a 32 KiB operand stack), about 290 KiB that is freed again when the run
/// ends. With glibc's default 128 KiB trim threshold, that free returns the top of the
/// heap to the kernel and the next run faults it back in: two or more page faults per
/// run, which on a loaded machine cost more than a small fixture's whole execution and
/// make every µs-scale timing (and so the speedups) depend on the machine's load rather
/// than on the code. A long-running node keeps its heap in a steady state; this makes
/// the benchmark do the same by raising the trim threshold to 1 GiB. It changes only
/// when memory goes back to the kernel, not what is executed.
///
/// Does nothing on platforms other than Linux with glibc. Call it once, before
/// measuring; `revm-jit bench` and the criterion bench do.
pub fn steady_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        /// glibc's `M_TRIM_THRESHOLD` parameter number.
        const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
        // SAFETY: `mallopt` only changes allocator tuning; it is safe to call at any
        // time, from any thread, and a failure (return 0) leaves the default in place.
        unsafe {
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
        }
    }
}

/// How long and how often to measure one case in one mode.
#[derive(Clone, Debug)]
pub struct MeasureConfig {
    /// Keep running timed runs at least this long (wall clock, including setup).
    pub target_time: Duration,
    /// Do at least this many timed runs, however long they take.
    pub min_runs: usize,
    /// Never do more than this many timed runs.
    pub max_runs: usize,
    /// Untimed runs after the first (compiling) run.
    pub warmup_runs: usize,
    /// Artifact store for `runtime` and `aot` (see [`Executor::with_store`]).
    pub store: Option<std::path::PathBuf>,
}

impl Default for MeasureConfig {
    /// 0.5 s or at least 10 runs, at most 1,000,000 runs, 3 warm-up runs.
    fn default() -> Self {
        Self { target_time: Duration::from_millis(500), min_runs: 10, max_runs: 1_000_000, warmup_runs: 3, store: None }
    }
}

/// The measurement of one case in one mode.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The mode measured.
    pub mode: Mode,
    /// What the first run produced (every later run matched its status and gas).
    pub outcome: Outcome,
    /// Median wall-clock time of one timed run, in nanoseconds.
    pub median_ns: u64,
    /// Fastest timed run, in nanoseconds.
    pub min_ns: u64,
    /// Number of timed runs.
    pub runs: usize,
    /// Time spent compiling during the first run, in nanoseconds (0 for `interp`).
    pub compile_ns: u64,
    /// Frames by how they ran, over all runs.
    pub frames: FrameCounts,
}

/// All modes' measurements of one case, which agreed on the outcome.
#[derive(Clone, Debug)]
pub struct Row {
    /// Case name.
    pub name: String,
    /// The outcome every mode produced.
    pub outcome: Outcome,
    /// One measurement per mode, in the order measured (`interp` first when present).
    pub measurements: Vec<Measurement>,
}

impl Row {
    /// The measurement of `mode`, if it was measured.
    pub fn get(&self, mode: Mode) -> Option<&Measurement> {
        self.measurements.iter().find(|m| m.mode == mode)
    }

    /// `interp` median / `mode` median, when both were measured.
    pub fn speedup(&self, mode: Mode) -> Option<f64> {
        let base = self.get(Mode::Interp)?;
        let other = self.get(mode)?;
        Some(base.median_ns as f64 / other.median_ns.max(1) as f64)
    }
}

/// Runs `case` once in `executor`, without committing, and extracts its outcome.
fn run_once(case: &Case, executor: &mut Executor) -> Result<(Outcome, Duration), BenchError> {
    let ctx = case.context();
    let tx = case.tx();
    let start = Instant::now();
    let result = executor.transact(ctx, tx);
    let elapsed = start.elapsed();
    let result = result.map_err(|source| BenchError::Evm { name: case.name.clone(), mode: executor.mode(), source })?;
    Ok((Outcome::new(&result), elapsed))
}

/// Measures `case` in `mode` (see the [module docs](self) for the procedure).
pub fn measure(case: &Case, mode: Mode, config: &MeasureConfig) -> Result<Measurement, BenchError> {
    let mut executor = Executor::with_store(mode, config.store.as_deref()).map_err(|source| BenchError::Store {
        name: case.name.clone(),
        mode,
        source,
    })?;
    let compile_before = executor.compile_ns();
    let (first, _) = run_once(case, &mut executor)?;
    let compile_ns = executor.compile_ns().saturating_sub(compile_before);

    let check = |run: usize, outcome: &Outcome| -> Result<(), BenchError> {
        let diffs = first.differences(outcome);
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(BenchError::Nondeterministic { name: case.name.clone(), mode, run, diffs })
        }
    };
    for run in 0..config.warmup_runs {
        let (outcome, _) = run_once(case, &mut executor)?;
        check(run + 2, &outcome)?;
    }

    let mut samples = Vec::with_capacity(config.min_runs.max(16));
    let start = Instant::now();
    while samples.len() < config.max_runs && (samples.len() < config.min_runs || start.elapsed() < config.target_time) {
        let ctx = case.context();
        let tx = case.tx();
        let t0 = Instant::now();
        let result = executor.transact(ctx, tx);
        let ns = t0.elapsed().as_nanos() as u64;
        let result = result.map_err(|source| BenchError::Evm { name: case.name.clone(), mode, source })?;
        // Status and gas are cheap to compare on every run; the full outcome was
        // compared during warm-up.
        let gas = result.result.tx_gas_used();
        if gas != first.gas_used || result.result.is_success() != first.status.is_success() {
            check(config.warmup_runs + 2 + samples.len(), &Outcome::new(&result))?;
        }
        drop(result);
        samples.push(ns);
    }
    samples.sort_unstable();
    Ok(Measurement {
        mode,
        outcome: first,
        median_ns: median(&samples),
        min_ns: samples.first().copied().unwrap_or(0),
        runs: samples.len(),
        compile_ns,
        frames: executor.frame_counts(),
    })
}

/// Median of sorted samples (mean of the two middle ones for an even count; 0 if empty).
fn median(sorted: &[u64]) -> u64 {
    match sorted.len() {
        0 => 0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

/// Measures `case` in every mode of `modes` (`interp` first when present, duplicates
/// dropped), checks that all modes agree with the first and, when given, that the
/// status is `expected`.
pub fn bench_case(
    case: &Case,
    modes: &[Mode],
    expected: Option<&Status>,
    config: &MeasureConfig,
) -> Result<Row, BenchError> {
    let modes = ordered_modes(modes);
    let mut measurements: Vec<Measurement> = Vec::with_capacity(modes.len());
    for mode in modes {
        let m = measure(case, mode, config)?;
        if let Some(base) = measurements.first() {
            let diffs = base.outcome.differences(&m.outcome);
            if !diffs.is_empty() {
                return Err(BenchError::Disagreement { name: case.name.clone(), baseline: base.mode, mode, diffs });
            }
        }
        measurements.push(m);
    }
    let outcome = measurements.first().map(|m| m.outcome.clone()).expect("ordered_modes never returns an empty list");
    if let Some(expected) = expected
        && outcome.status != *expected
    {
        return Err(BenchError::UnexpectedStatus {
            name: case.name.clone(),
            expected: expected.clone(),
            got: outcome.status,
        });
    }
    Ok(Row { name: case.name.clone(), outcome, measurements })
}

/// `modes` without duplicates, `interp` first when present; `[interp]` when empty.
pub fn ordered_modes(modes: &[Mode]) -> Vec<Mode> {
    let mut out = Vec::with_capacity(modes.len().max(1));
    if modes.is_empty() || modes.contains(&Mode::Interp) {
        out.push(Mode::Interp);
    }
    for &mode in modes {
        if !out.contains(&mode) {
            out.push(mode);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{asm, fixture::DEFAULT_SPEC};
    use revm::primitives::Bytes;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[]), 0);
        assert_eq!(median(&[5]), 5);
        assert_eq!(median(&[1, 2, 9]), 2);
        assert_eq!(median(&[1, 2, 4, 9]), 3);
    }

    #[test]
    fn interp_comes_first_and_duplicates_go() {
        assert_eq!(ordered_modes(&[]), [Mode::Interp]);
        assert_eq!(ordered_modes(&[Mode::Interp, Mode::Interp]), [Mode::Interp]);
    }

    fn case(src: &str) -> Case {
        let code = asm::assemble(src).unwrap();
        Case::call_code("t", DEFAULT_SPEC, code, Bytes::new(), 1_000_000)
    }

    #[test]
    fn outcome_differences_name_each_field() {
        let config =
            MeasureConfig { target_time: Duration::ZERO, min_runs: 2, max_runs: 2, warmup_runs: 1, store: None };
        let a = measure(&case("PUSH 1 PUSH 0 SSTORE PUSH 32 PUSH 0 RETURN"), Mode::Interp, &config).unwrap();
        let b =
            measure(&case("PUSH 2 PUSH 0 SSTORE PUSH 1 PUSH 0 MSTORE PUSH 32 PUSH 0 RETURN"), Mode::Interp, &config)
                .unwrap();
        assert_eq!(a.runs, 2);
        assert!(a.outcome.differences(&a.outcome).is_empty());
        let diffs = a.outcome.differences(&b.outcome);
        let joined = diffs.join("; ");
        assert!(joined.contains("gas used"), "{joined}");
        assert!(joined.contains("output"), "{joined}");
        assert!(joined.contains("changed state"), "{joined}");
        assert!(!joined.contains("status"), "{joined}");
    }

    #[test]
    fn unexpected_status_is_an_error() {
        let config =
            MeasureConfig { target_time: Duration::ZERO, min_runs: 1, max_runs: 1, warmup_runs: 0, store: None };
        let reverting = case("PUSH 0 PUSH 0 REVERT");
        let expected = Status::Success(revm::context_interface::result::SuccessReason::Return);
        let e = bench_case(&reverting, &[Mode::Interp], Some(&expected), &config).unwrap_err();
        assert!(matches!(e, BenchError::UnexpectedStatus { got: Status::Revert, .. }), "{e}");
        let row = bench_case(&reverting, &[Mode::Interp], None, &config).unwrap();
        assert_eq!(row.outcome.status, Status::Revert);
    }
}
