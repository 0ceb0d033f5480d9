//! The benchmark harness: runs each [`Case`] in each [`Mode`], checks that every mode
//! produces exactly the same outcome, and reports median times with their spread.
//!
//! Measurement of one case ([`bench_case`]), all its modes together:
//!
//! 1. A fresh [`Executor`] per mode runs the case once; the change in
//!    [`Executor::compile_ns`] around that first run is the mode's compile time (the
//!    compiling executors compile eagerly on first sight of a contract).
//! 2. A few untimed warm-up rounds follow.
//! 3. Timed *rounds* repeat until both [`MeasureConfig::target_time`] per mode has passed
//!    and [`MeasureConfig::min_runs`] rounds are done (or [`MeasureConfig::max_runs`] is
//!    reached). Each round runs every mode once, forwards in even rounds and backwards in
//!    odd ones ([`round_order`]), so that a drift of the machine (another process, clock
//!    scaling, a warming cache) hits every mode alike instead of whichever ran last, and no
//!    mode always runs first. Only [`Executor::transact`] is timed: the context (a copy of
//!    the pre-state) and the transaction are built before the clock starts, and the result
//!    is dropped after it stops. (`transact` consumes the context, so dropping it is inside
//!    the timed region, equally for every mode.) With [`MeasureConfig::reuse_evm`], the
//!    runs after the first use one EVM per mode ([`Executor::transact_reused`]) and only
//!    the transaction is timed.
//! 4. Each mode's samples give its median and quartiles; a [`Speedup`] is the ratio of the
//!    medians with an interval from the quartiles, and is *indistinct* when that interval
//!    contains 1.0: at the spread measured, the two modes cannot be told apart.
//!
//! Every run's status and gas must match the first run's, and every mode's full
//! [`Outcome`] must match the first mode's; any difference is a [`BenchError`].

pub mod outcome;
pub mod plot;
pub mod report;

pub use outcome::{Disagreement, Outcome, Status};

use crate::{
    exec::{Executor, Mode, ReusedEvm},
    fixture::{Case, FixtureError},
};
use revm::context::result::{EVMError, ResultAndState};
use revm::database::{CacheDB, EmptyDB};
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
    #[error(transparent)]
    Disagreement(#[from] Disagreement),
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
    /// `jit` mode's code at this level alone instead of the runtime's tiers (see
    /// [`Executor::with_options`]).
    pub opt_level: Option<revm_jit::OptLevel>,
    /// Keep one EVM per mode for all of a case's runs after the first
    /// ([`Executor::reusable_evm`]), as a node keeps one per block, instead of building
    /// one per transaction.
    pub reuse_evm: bool,
}

impl Default for MeasureConfig {
    /// 0.5 s or at least 10 runs, at most 1,000,000 runs, 3 warm-up runs.
    fn default() -> Self {
        Self {
            target_time: Duration::from_millis(500),
            min_runs: 10,
            max_runs: 1_000_000,
            warmup_runs: 3,
            store: None,
            opt_level: None,
            reuse_evm: false,
        }
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
    /// First quartile of the timed runs, in nanoseconds.
    pub q1_ns: u64,
    /// Third quartile of the timed runs, in nanoseconds.
    pub q3_ns: u64,
    /// Fastest timed run, in nanoseconds.
    pub min_ns: u64,
    /// Number of timed runs.
    pub runs: usize,
    /// Time spent compiling during the first run to first native code (the baseline tier,
    /// when tiered), in nanoseconds (0 for `interp`).
    pub compile_ns: u64,
    /// Time spent during the first run recompiling baseline code at the optimising level
    /// (eager `jit` mode compiles both tiers at once; 0 when untiered), in nanoseconds.
    pub tier_up_ns: u64,
    /// Frames by how they ran, over all runs.
    pub frames: FrameCounts,
}

impl Measurement {
    /// The interquartile range relative to the median (0.05 = 5 %): the spread shown beside
    /// each median. Robust to the few very slow runs a busy machine produces.
    pub fn relative_iqr(&self) -> f64 {
        self.q3_ns.saturating_sub(self.q1_ns) as f64 / self.median_ns.max(1) as f64
    }
}

/// How much faster a mode ran than `interp`, with the uncertainty of that figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Speedup {
    /// `interp` median / mode median.
    pub ratio: f64,
    /// The lowest ratio the quartiles allow: `interp` first quartile / mode third quartile.
    pub low: f64,
    /// The highest ratio the quartiles allow: `interp` third quartile / mode first quartile.
    pub high: f64,
}

impl Speedup {
    /// The speedup of `mode` over `interp` from their measurements.
    pub fn new(interp: &Measurement, mode: &Measurement) -> Self {
        let ratio = |a: u64, b: u64| a as f64 / b.max(1) as f64;
        Self {
            ratio: ratio(interp.median_ns, mode.median_ns),
            low: ratio(interp.q1_ns, mode.q3_ns),
            high: ratio(interp.q3_ns, mode.q1_ns),
        }
    }

    /// Whether the interval contains 1.0: the middle halves of the two modes' runs overlap,
    /// so at this spread the mode cannot be told faster or slower than the interpreter.
    pub fn indistinct(&self) -> bool {
        self.low <= 1.0 && 1.0 <= self.high
    }
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

    /// The speedup of `mode` over `interp`, when both were measured.
    pub fn speedup(&self, mode: Mode) -> Option<Speedup> {
        Some(Speedup::new(self.get(Mode::Interp)?, self.get(mode)?))
    }
}

/// Runs `case` once in `executor` on a fresh EVM, without committing; times only the
/// transaction (the context is built before the clock starts).
fn run_fresh(case: &Case, executor: &mut Executor) -> (Result<ResultAndState, EVMError<Infallible>>, u64) {
    let ctx = case.context();
    let tx = case.tx();
    let start = Instant::now();
    let result = executor.transact(ctx, tx);
    (result, start.elapsed().as_nanos() as u64)
}

/// A run's result, or the error that names its case and mode.
fn evm_result(
    case: &Case,
    mode: Mode,
    result: Result<ResultAndState, EVMError<Infallible>>,
) -> Result<ResultAndState, BenchError> {
    result.map_err(|source| BenchError::Evm { name: case.name.clone(), mode, source })
}

/// One mode's executor and what it has measured so far.
struct Lane {
    executor: Executor,
    /// The EVM every run after the first uses, when [`MeasureConfig::reuse_evm`] is set.
    reused: Option<ReusedEvm<CacheDB<EmptyDB>>>,
    first: Outcome,
    compile_ns: u64,
    tier_up_ns: u64,
    samples: Vec<u64>,
}

impl Lane {
    /// Starts `mode`: a fresh executor and its first (compiling) run.
    fn start(case: &Case, mode: Mode, config: &MeasureConfig) -> Result<Self, BenchError> {
        let mut executor = Executor::with_options(mode, config.store.as_deref(), config.opt_level)
            .map_err(|source| BenchError::Store { name: case.name.clone(), mode, source })?;
        let (compile_before, tier_up_before) = (executor.compile_ns(), executor.tier_up_ns());
        let (result, _) = run_fresh(case, &mut executor);
        let first = Outcome::new(&evm_result(case, mode, result)?);
        let compile_ns = executor.compile_ns().saturating_sub(compile_before);
        let tier_up_ns = executor.tier_up_ns().saturating_sub(tier_up_before);
        let reused = config.reuse_evm.then(|| executor.reusable_evm(case.context()));
        let samples = Vec::with_capacity(config.min_runs.max(16));
        Ok(Self { executor, reused, first, compile_ns, tier_up_ns, samples })
    }

    /// One run, untimed, checked against the first.
    fn warmup_run(&mut self, case: &Case, run: usize) -> Result<(), BenchError> {
        let (result, _) = self.transact(case);
        let result = evm_result(case, self.executor.mode(), result)?;
        self.check(case, run, &Outcome::new(&result))
    }

    /// Runs the case's transaction once, on the kept EVM if there is one, and times only
    /// that: a fresh context is built before the clock starts.
    fn transact(&mut self, case: &Case) -> (Result<ResultAndState, EVMError<Infallible>>, u64) {
        let Some(evm) = &mut self.reused else {
            return run_fresh(case, &mut self.executor);
        };
        let tx = case.tx();
        let t0 = Instant::now();
        let result = self.executor.transact_reused(evm, tx);
        (result, t0.elapsed().as_nanos() as u64)
    }

    /// Fails unless `outcome` (of 1-based run `run`) matches the first run's.
    fn check(&self, case: &Case, run: usize, outcome: &Outcome) -> Result<(), BenchError> {
        let diffs = self.first.differences(outcome);
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(BenchError::Nondeterministic { name: case.name.clone(), mode: self.executor.mode(), run, diffs })
        }
    }

    /// One timed run, its time added to the samples.
    fn timed_run(&mut self, case: &Case, run: usize) -> Result<(), BenchError> {
        let mode = self.executor.mode();
        let (result, ns) = self.transact(case);
        let result = evm_result(case, mode, result)?;
        // Status and gas are cheap to compare on every run; the full outcome was
        // compared during warm-up.
        if result.result.tx_gas_used() != self.first.gas_used
            || result.result.is_success() != self.first.status.is_success()
        {
            self.check(case, run, &Outcome::new(&result))?;
        }
        drop(result);
        self.samples.push(ns);
        Ok(())
    }

    fn finish(mut self) -> Measurement {
        self.samples.sort_unstable();
        let sorted = &self.samples;
        Measurement {
            mode: self.executor.mode(),
            outcome: self.first,
            median_ns: quantile(sorted, 0.5),
            q1_ns: quantile(sorted, 0.25),
            q3_ns: quantile(sorted, 0.75),
            min_ns: sorted.first().copied().unwrap_or(0),
            runs: sorted.len(),
            compile_ns: self.compile_ns,
            tier_up_ns: self.tier_up_ns,
            frames: self.executor.frame_counts(),
        }
    }
}

/// The order the modes (by index, `0..n`) run in during round `round`: forwards in even
/// rounds, backwards in odd ones. Over two rounds every mode runs as often first as last,
/// so neither a drift nor what the previous run left in the caches favours one of them.
pub fn round_order(round: usize, n: usize) -> impl Iterator<Item = usize> {
    let forwards = round.is_multiple_of(2);
    (0..n).map(move |i| if forwards { i } else { n - 1 - i })
}

/// Measures `case` in each of `modes`, interleaved round by round (see the
/// [module docs](self) for the procedure); one measurement per mode, in the order given.
pub fn measure_modes(case: &Case, modes: &[Mode], config: &MeasureConfig) -> Result<Vec<Measurement>, BenchError> {
    let mut lanes = modes.iter().map(|&mode| Lane::start(case, mode, config)).collect::<Result<Vec<_>, _>>()?;
    for run in 0..config.warmup_runs {
        for lane in &mut lanes {
            lane.warmup_run(case, run + 2)?;
        }
    }
    let target = config.target_time.saturating_mul(u32::try_from(modes.len()).unwrap_or(u32::MAX));
    let start = Instant::now();
    let mut round = 0;
    while round < config.max_runs && (round < config.min_runs || start.elapsed() < target) {
        for index in round_order(round, lanes.len()) {
            lanes[index].timed_run(case, config.warmup_runs + 2 + round)?;
        }
        round += 1;
    }
    Ok(lanes.into_iter().map(Lane::finish).collect())
}

/// Measures `case` in `mode` alone (see [`measure_modes`]).
pub fn measure(case: &Case, mode: Mode, config: &MeasureConfig) -> Result<Measurement, BenchError> {
    Ok(measure_modes(case, &[mode], config)?.remove(0))
}

/// The `p` quantile (0..=1) of sorted samples, interpolating linearly between neighbours
/// (so the median of an even count is the mean of the two middle ones); 0 if empty.
pub fn quantile(sorted: &[u64], p: f64) -> u64 {
    match sorted.len() {
        0 => 0,
        n => {
            let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
            let (lo, hi) = (sorted[h.floor() as usize], sorted[h.ceil() as usize]);
            lo + ((hi - lo) as f64 * h.fract()).round() as u64
        }
    }
}

/// Measures `case` in every mode of `modes` (`interp` first when present, duplicates
/// dropped), interleaved, checks that all modes agree with the first and, when given, that
/// the status is `expected`.
pub fn bench_case(
    case: &Case,
    modes: &[Mode],
    expected: Option<&Status>,
    config: &MeasureConfig,
) -> Result<Row, BenchError> {
    let modes = ordered_modes(modes);
    let measurements = measure_modes(case, &modes, config)?;
    let base = measurements.first().expect("ordered_modes never returns an empty list");
    for m in &measurements[1..] {
        let diffs = base.outcome.differences(&m.outcome);
        if !diffs.is_empty() {
            let name = case.name.clone();
            return Err(Disagreement { name, baseline: base.mode, mode: m.mode, diffs }.into());
        }
    }
    let outcome = base.outcome.clone();
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
    fn quantiles_of_odd_even_and_empty() {
        assert_eq!(quantile(&[], 0.5), 0);
        assert_eq!(quantile(&[5], 0.25), 5);
        assert_eq!(quantile(&[1, 2, 9], 0.5), 2);
        assert_eq!(quantile(&[1, 2, 4, 9], 0.5), 3);
        assert_eq!(quantile(&[1, 2, 3, 4, 5], 0.25), 2);
        assert_eq!(quantile(&[1, 2, 3, 4, 5], 0.75), 4);
        assert_eq!(quantile(&[10, 20, 30, 40], 0.25), 18);
        assert_eq!(quantile(&[10, 20, 30, 40], 1.0), 40);
    }

    #[test]
    fn rounds_alternate_direction() {
        assert_eq!(round_order(0, 3).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(round_order(1, 3).collect::<Vec<_>>(), [2, 1, 0]);
        assert_eq!(round_order(2, 3).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(round_order(7, 1).collect::<Vec<_>>(), [0]);
        assert_eq!(round_order(5, 0).count(), 0);
    }

    /// A measurement with a fixed outcome and the given quartiles (also used by `plot`'s tests).
    pub(super) fn measurement(mode: Mode, q1_ns: u64, median_ns: u64, q3_ns: u64) -> Measurement {
        Measurement {
            mode,
            outcome: Outcome {
                status: Status::Revert,
                gas_used: 0,
                output: Bytes::new(),
                logs: Vec::new(),
                state_digest: Default::default(),
            },
            median_ns,
            q1_ns,
            q3_ns,
            min_ns: q1_ns,
            runs: 10,
            compile_ns: 0,
            tier_up_ns: 0,
            frames: FrameCounts::default(),
        }
    }

    #[test]
    fn speedup_interval_comes_from_the_quartiles() {
        let interp = measurement(Mode::Interp, 90, 100, 110);
        // Clearly faster: the middle halves do not overlap.
        let fast = Speedup::new(&interp, &measurement(Mode::Jit, 45, 50, 55));
        assert_eq!(fast.ratio, 2.0);
        assert_eq!((fast.low, fast.high), (90.0 / 55.0, 110.0 / 45.0));
        assert!(!fast.indistinct());
        // Slightly faster by the medians, but within the spread.
        let close = Speedup::new(&interp, &measurement(Mode::Jit, 85, 95, 105));
        assert!(close.ratio > 1.0);
        assert!(close.indistinct(), "{close:?}");
        // Clearly slower.
        let slow = Speedup::new(&interp, &measurement(Mode::Jit, 150, 200, 250));
        assert!(slow.high < 1.0 && !slow.indistinct(), "{slow:?}");
        assert!((measurement(Mode::Jit, 90, 100, 110).relative_iqr() - 0.2).abs() < 1e-12);
    }

    #[test]
    #[cfg(feature = "llvm")]
    fn interleaved_modes_get_the_same_number_of_runs() {
        let config = MeasureConfig {
            target_time: Duration::ZERO,
            min_runs: 5,
            max_runs: 5,
            warmup_runs: 1,
            store: None,
            opt_level: None,
            reuse_evm: false,
        };
        let modes = [Mode::Interp, Mode::Jit];
        let row = bench_case(&case("PUSH 1 PUSH 0 SSTORE STOP"), &modes, None, &config).unwrap();
        assert_eq!(
            row.measurements.iter().map(|m| (m.mode, m.runs)).collect::<Vec<_>>(),
            [(Mode::Interp, 5), (Mode::Jit, 5)]
        );
        for m in &row.measurements {
            assert!(m.q1_ns <= m.median_ns && m.median_ns <= m.q3_ns, "{m:?}");
            assert!(m.min_ns <= m.q1_ns, "{m:?}");
        }
        assert_eq!(row.get(Mode::Jit).unwrap().frames.interpreted, 0);
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

    /// A reused EVM gives every run the pre-state: the SSTORE of 1 into an empty slot costs
    /// the same in every run (a kept write would make the second one cheaper, and the lane's
    /// per-run check would fail), and the outcome is that of a fresh EVM per run.
    #[test]
    fn a_reused_evm_starts_every_run_from_the_pre_state() {
        let config = |reuse_evm| MeasureConfig {
            target_time: Duration::ZERO,
            min_runs: 3,
            max_runs: 3,
            warmup_runs: 2,
            store: None,
            opt_level: None,
            reuse_evm,
        };
        let case = case("PUSH 1 PUSH 0 SLOAD ADD PUSH 0 SSTORE PUSH 32 PUSH 0 RETURN");
        let fresh = measure(&case, Mode::Interp, &config(false)).unwrap();
        let reused = measure(&case, Mode::Interp, &config(true)).unwrap();
        assert_eq!(reused.runs, 3);
        assert!(fresh.outcome.differences(&reused.outcome).is_empty());
    }

    #[test]
    fn outcome_differences_name_each_field() {
        let config = MeasureConfig {
            target_time: Duration::ZERO,
            min_runs: 2,
            max_runs: 2,
            warmup_runs: 1,
            store: None,
            opt_level: None,
            reuse_evm: false,
        };
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
        let config = MeasureConfig {
            target_time: Duration::ZERO,
            min_runs: 1,
            max_runs: 1,
            warmup_runs: 0,
            store: None,
            opt_level: None,
            reuse_evm: false,
        };
        let reverting = case("PUSH 0 PUSH 0 REVERT");
        let expected = Status::Success(revm::context_interface::result::SuccessReason::Return);
        let e = bench_case(&reverting, &[Mode::Interp], Some(&expected), &config).unwrap_err();
        assert!(matches!(e, BenchError::UnexpectedStatus { got: Status::Revert, .. }), "{e}");
        let row = bench_case(&reverting, &[Mode::Interp], None, &config).unwrap();
        assert_eq!(row.outcome.status, Status::Revert);
    }
}
