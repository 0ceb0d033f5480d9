//! Outcomes of state-test cases, and the summary and JSON report built from them.

use crate::exec::Mode;
use crate::fixture::{FixtureError, Rejection, env};
use revm::context::result::{EVMError, InvalidTransaction};
use revm::database_interface::bal::EvmDatabaseError;
use revm::primitives::{B256, Bytes};
use revm_jit::FrameCounts;
use serde::Serialize;
use std::{
    collections::BTreeMap,
    io::{self, Write},
    path::{Path, PathBuf},
    time::Duration,
};

/// Why a case failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The file could not be read or parsed (counts as one failed case).
    #[error(transparent)]
    Load(FixtureError),
    /// The fixture is inconsistent for this case.
    #[error(transparent)]
    Fixture(#[from] Box<FixtureError>),
    /// A path given to the runner holds no state-test file.
    #[error("{}: no .json state-test files found", path.display())]
    NoFiles {
        /// The path.
        path: PathBuf,
    },
    /// The post-state root differs from the fixture's `hash`.
    #[error("wrong state root: expected {expected}, got {got}")]
    StateRoot {
        /// The fixture's root.
        expected: B256,
        /// The root after execution.
        got: B256,
    },
    /// The logs hash differs from the fixture's `logs`.
    #[error("wrong logs hash: expected {expected}, got {got}")]
    LogsHash {
        /// The fixture's hash.
        expected: B256,
        /// The hash of the logs of the execution.
        got: B256,
    },
    /// The transaction was rejected but the fixture expects it to run.
    #[error("unexpected exception: {got}")]
    UnexpectedException {
        /// Why it was rejected.
        got: Rejected,
    },
    /// The fixture expects the transaction to be rejected but it ran.
    #[error("expected exception not raised: {expected}")]
    ExceptionNotRaised {
        /// The exception the fixture expects.
        expected: String,
    },
    /// The return data differs from the fixture's `out`.
    #[error("wrong output: expected {expected}, got {got}")]
    Output {
        /// The fixture's output.
        expected: Bytes,
        /// The output of the execution.
        got: Bytes,
    },
    /// Execution failed for a reason that is neither success nor a rejected
    /// transaction (a bad block environment, a database or internal error).
    #[error("execution error: {0}")]
    Execution(EVMError<EvmDatabaseError<std::convert::Infallible>>),
    /// The executor panicked.
    #[error("executor panicked: {0}")]
    Panic(String),
    /// Inspected native execution was seen differently from inspected interpretation
    /// (`--check-traces`).
    #[error("traces differ (interpreted vs native): {0}")]
    TraceMismatch(String),
}

/// Why a transaction was rejected: the fixture describes an invalid transaction, or revm
/// refused it.
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    /// The transaction cannot be built from the fixture as a valid one.
    #[error(transparent)]
    Fixture(#[from] Rejection),
    /// revm refused it as invalid.
    #[error("{0}")]
    Evm(InvalidTransaction),
}

/// What happened to one case.
#[derive(Debug)]
pub enum Status {
    /// The case passed.
    Passed,
    /// The case failed.
    Failed(Failure),
    /// The case was not executed, for this reason.
    Skipped(String),
}

impl Status {
    /// `passed`, `failed` or `skipped`.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed(_) => "failed",
            Status::Skipped(_) => "skipped",
        }
    }

    /// The failure or skip reason, if any.
    pub fn reason(&self) -> Option<String> {
        match self {
            Status::Passed => None,
            Status::Failed(failure) => Some(failure.to_string()),
            Status::Skipped(reason) => Some(reason.clone()),
        }
    }
}

/// One case: a (test, fork, post-state index) of a file, or a whole file that could not
/// be loaded (then `test`, `fork` and `index` are absent).
#[derive(Debug)]
pub struct CaseOutcome {
    /// The fixture file.
    pub file: PathBuf,
    /// The test's name.
    pub test: Option<String>,
    /// The fork name as written in the fixture.
    pub fork: Option<String>,
    /// The position of the post-state in the fork's list.
    pub index: Option<usize>,
    /// What happened.
    pub status: Status,
}

impl CaseOutcome {
    /// `file::test [fork #index]`, as failures are listed.
    pub fn label(&self) -> String {
        let mut label = self.file.display().to_string();
        if let Some(test) = &self.test {
            label.push_str("::");
            label.push_str(test);
        }
        match (&self.fork, self.index) {
            (Some(fork), Some(index)) => label.push_str(&format!(" [{fork} #{index}]")),
            (Some(fork), None) => label.push_str(&format!(" [{fork}]")),
            _ => {}
        }
        label
    }
}

/// Passed, failed and skipped counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Cases that passed.
    pub passed: u64,
    /// Cases that failed.
    pub failed: u64,
    /// Cases that were skipped.
    pub skipped: u64,
}

impl Counts {
    /// Counts `status`.
    pub fn add(&mut self, status: &Status) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed(_) => self.failed += 1,
            Status::Skipped(_) => self.skipped += 1,
        }
    }
}

/// Everything a run produced: the outcome of every case, in file order.
#[derive(Debug)]
pub struct Report {
    /// The mode the cases ran in.
    pub mode: Mode,
    /// Every case, sorted by file, then test, fork and index.
    pub cases: Vec<CaseOutcome>,
    /// Frames run, summed over the workers' executors.
    pub frames: FrameCounts,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

/// How many failures the summary lists (the JSON report has all of them).
pub const LISTED_FAILURES: usize = 200;

/// Fork order for the summary: chronological for known forks, then by name.
fn fork_order(name: &str) -> (u8, &str) {
    match env::fork_support(name) {
        Some(env::ForkSupport::Run(spec)) => (spec as u8, name),
        // Constantinople comes just before ConstantinopleFix (Petersburg).
        Some(env::ForkSupport::Skip(_)) if name == "Constantinople" => {
            (revm::primitives::hardfork::SpecId::PETERSBURG as u8, "")
        }
        _ => (u8::MAX, name),
    }
}

impl Report {
    /// Totals over all cases.
    pub fn totals(&self) -> Counts {
        let mut counts = Counts::default();
        for case in &self.cases {
            counts.add(&case.status);
        }
        counts
    }

    /// Counts per fork name; failures of whole files (unreadable, unparsable) are under
    /// `(file errors)`.
    pub fn per_fork(&self) -> Vec<(String, Counts)> {
        let mut forks: BTreeMap<String, Counts> = BTreeMap::new();
        for case in &self.cases {
            let fork = case.fork.clone().unwrap_or_else(|| "(file errors)".to_string());
            forks.entry(fork).or_default().add(&case.status);
        }
        let mut forks: Vec<_> = forks.into_iter().collect();
        forks.sort_by(|a, b| fork_order(&a.0).cmp(&fork_order(&b.0)));
        forks
    }

    /// The failed cases.
    pub fn failures(&self) -> impl Iterator<Item = (&CaseOutcome, &Failure)> {
        self.cases.iter().filter_map(|case| match &case.status {
            Status::Failed(failure) => Some((case, failure)),
            _ => None,
        })
    }

    /// Skip reasons with how many cases each skipped, most frequent first.
    pub fn skip_reasons(&self) -> Vec<(String, u64)> {
        let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
        for case in &self.cases {
            if let Status::Skipped(reason) = &case.status {
                *reasons.entry(reason).or_default() += 1;
            }
        }
        let mut reasons: Vec<_> = reasons.into_iter().map(|(reason, n)| (reason.to_string(), n)).collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        reasons
    }

    /// The closing line: `N passed, N failed, N skipped`.
    pub fn closing_line(&self) -> String {
        let t = self.totals();
        format!("{} passed, {} failed, {} skipped", t.passed, t.failed, t.skipped)
    }

    /// Writes the summary: per-fork counts, failures, skip reasons, time, frames, and
    /// last the closing line.
    pub fn write_summary(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "mode: {}", self.mode)?;
        writeln!(out, "{:<20} {:>8} {:>8} {:>8}", "fork", "passed", "failed", "skipped")?;
        for (fork, c) in self.per_fork() {
            writeln!(out, "{fork:<20} {:>8} {:>8} {:>8}", c.passed, c.failed, c.skipped)?;
        }
        let totals = self.totals();
        if totals.failed > 0 {
            writeln!(out, "failures ({}):", totals.failed)?;
            for (case, failure) in self.failures().take(LISTED_FAILURES) {
                if case.test.is_some() {
                    writeln!(out, "  {}: {failure}", case.label())?;
                } else {
                    // File-level failures name their file themselves.
                    writeln!(out, "  {failure}")?;
                }
            }
            if totals.failed as usize > LISTED_FAILURES {
                writeln!(
                    out,
                    "  … and {} more (--json FILE lists every case)",
                    totals.failed as usize - LISTED_FAILURES
                )?;
            }
        }
        let skips = self.skip_reasons();
        if !skips.is_empty() {
            writeln!(out, "skipped ({}):", totals.skipped)?;
            for (reason, n) in skips {
                writeln!(out, "  {n:>6}  {reason}")?;
            }
        }
        writeln!(out, "time: {:.1}s", self.elapsed.as_secs_f64())?;
        if self.mode == Mode::Interp {
            // Plain revm runs without the JIT's frame handler, so frames are not counted.
            writeln!(out, "frames: not counted (plain revm)")?;
        } else {
            writeln!(out, "frames: {} native, {} interpreted", self.frames.native, self.frames.interpreted)?;
        }
        writeln!(out, "{}", self.closing_line())
    }

    /// Writes every case's outcome as JSON.
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        let report = JsonReport {
            mode: self.mode.name(),
            totals: self.totals(),
            elapsed_secs: self.elapsed.as_secs_f64(),
            frames: JsonFrames { native: self.frames.native, interpreted: self.frames.interpreted },
            cases: self
                .cases
                .iter()
                .map(|case| JsonCase {
                    file: &case.file,
                    test: case.test.as_deref(),
                    fork: case.fork.as_deref(),
                    index: case.index,
                    status: case.status.name(),
                    reason: case.status.reason(),
                })
                .collect(),
        };
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)
    }
}

/// The `--json` report.
#[derive(Serialize)]
struct JsonReport<'a> {
    mode: &'static str,
    totals: Counts,
    elapsed_secs: f64,
    frames: JsonFrames,
    cases: Vec<JsonCase<'a>>,
}

/// Frame counts in the `--json` report.
#[derive(Serialize)]
struct JsonFrames {
    native: u64,
    interpreted: u64,
}

/// One case in the `--json` report.
#[derive(Serialize)]
struct JsonCase<'a> {
    file: &'a Path,
    test: Option<&'a str>,
    fork: Option<&'a str>,
    index: Option<usize>,
    status: &'static str,
    reason: Option<String>,
}
