//! `revm-jit bench`: measures the embedded programs or a directory of fixtures in one or
//! more modes, interleaved run by run, prints a table (median, interquartile range, speedup
//! with its range, compile time) and optionally writes a JSON report.

use crate::bench::{BenchError, MeasureConfig, Row, Status, bench_case, ordered_modes, report};
use crate::{
    exec::Mode,
    fixture::{self, Case, DEFAULT_SPEC, FixtureError},
    programs,
};
use revm::primitives::hardfork::SpecId;
use std::{io::Write, path::PathBuf, process::ExitCode, time::Duration};

/// Arguments of `revm-jit bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Modes to measure, comma-separated, interleaved run by run; speedups are relative to
    /// `interp`. Default: `interp,jit` (only `interp` in a build without the compiler).
    #[cfg_attr(feature = "llvm", arg(long = "mode", value_enum, value_delimiter = ',', default_value = "interp,jit"))]
    #[cfg_attr(not(feature = "llvm"), arg(long = "mode", value_enum, value_delimiter = ',', default_value = "interp"))]
    pub modes: Vec<Mode>,
    /// Directory of fixture JSON files to run instead of the embedded programs.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    /// Only run cases whose name contains this substring.
    #[arg(long, value_name = "SUBSTR")]
    pub filter: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Hard fork to run under (e.g. Cancun, Prague); overrides fixture configs.
    /// Default: the fixture's config, else Cancun.
    #[arg(long, value_name = "SPEC", value_parser = crate::fork::parse_arg)]
    pub spec: Option<SpecId>,
    /// Time each case for at least this many milliseconds (wall clock) per mode, and at
    /// least `--min-runs` rounds.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub time_ms: u64,
    /// Minimum timed rounds per case (each round runs every mode once), however long they
    /// take.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub min_runs: usize,
    /// Upper bound on timed rounds per case.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub max_runs: usize,
    /// Untimed warm-up rounds after the first (compiling) run.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub warmup: usize,
    /// Artifact store: `runtime` preloads it (and writes what it compiles); `aot` writes and
    /// loads through it (default: a temporary store per case).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
}

/// A case to run and, for embedded programs, the status it must end with.
struct Job {
    case: Case,
    expected: Option<Status>,
}

/// What one `bench` invocation measured and what failed.
#[derive(Debug)]
pub struct BenchSummary {
    /// One row per case that ran in every mode with agreeing outcomes.
    pub rows: Vec<Row>,
    /// Cases (or fixture files, by file stem) that produced no row, and why.
    pub failures: Vec<(String, BenchError)>,
}

/// Runs `revm-jit bench`. Exits non-zero if any fixture failed to load or run, any
/// program ended with an unexpected status, any two modes disagreed, or nothing ran.
pub fn run(args: &BenchArgs) -> ExitCode {
    let BenchSummary { rows, failures } = match execute(args) {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut ok = failures.is_empty() && !rows.is_empty();
    if let Some(path) = &args.json {
        let text =
            serde_json::to_string_pretty(&report::json(&rows, &failures)).expect("a JSON value always serializes");
        match std::fs::write(path, text + "\n") {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => {
                eprintln!("error: cannot write --json file {}: {e}", path.display());
                ok = false;
            }
        }
    }
    if !failures.is_empty() {
        let disagreements = failures.iter().filter(|(_, e)| matches!(e, BenchError::Disagreement { .. })).count();
        eprintln!();
        eprintln!(
            "{} of {} case(s) FAILED{}:",
            failures.len(),
            rows.len() + failures.len(),
            if disagreements > 0 { format!(" ({disagreements} with disagreeing modes)") } else { String::new() }
        );
        for (_, e) in &failures {
            eprintln!("  - {e}");
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Loads the cases `args` select and measures them, printing the table (to stdout) and
/// each failure (to stderr) as it goes. Fails only when the fixture directory cannot be
/// listed; a fixture that does not load or run is recorded in the summary.
pub fn execute(args: &BenchArgs) -> Result<BenchSummary, FixtureError> {
    crate::bench::steady_heap();
    let modes = ordered_modes(&args.modes);
    let config = MeasureConfig {
        target_time: Duration::from_millis(args.time_ms),
        min_runs: args.min_runs.max(1),
        max_runs: args.max_runs.max(1),
        warmup_runs: args.warmup,
        store: args.store.clone(),
    };
    let matches = |name: &str| args.filter.as_deref().is_none_or(|f| name.contains(f));

    let mut jobs = Vec::new();
    let mut failures: Vec<(String, BenchError)> = Vec::new();
    match &args.fixtures {
        None => {
            let spec = args.spec.unwrap_or(DEFAULT_SPEC);
            for program in programs::all().into_iter().filter(|p| matches(p.name)) {
                if !spec.is_enabled_in(program.min_spec) {
                    eprintln!(
                        "skipping {}: needs {} or later, running {}",
                        program.name,
                        <&'static str>::from(program.min_spec),
                        <&'static str>::from(spec)
                    );
                    continue;
                }
                jobs.push(Job { case: program.case(spec), expected: Some(program.expected.clone()) });
            }
        }
        Some(dir) => {
            for file in fixture::fixture_files(dir)? {
                let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                match fixture::load_file(&file, args.spec) {
                    Ok(cases) => jobs.extend(
                        cases.into_iter().filter(|c| matches(&c.name)).map(|case| Job { case, expected: None }),
                    ),
                    Err(e) if matches(&stem) => {
                        eprintln!("error: {e}");
                        failures.push((stem, e.into()));
                    }
                    Err(_) => {}
                }
            }
        }
    }

    let table = report::Table::new(jobs.iter().map(|j| j.case.name.len()).max().unwrap_or(0), &modes);
    let mut rows: Vec<Row> = Vec::with_capacity(jobs.len());
    if jobs.is_empty() {
        eprintln!("no case to run");
    } else {
        println!("{}", table.header());
    }
    for job in &jobs {
        match bench_case(&job.case, &modes, job.expected.as_ref(), &config) {
            Ok(row) => {
                println!("{}", table.row(&row));
                rows.push(row);
            }
            Err(e) => {
                println!("{}", table.failed_row(&job.case.name));
                eprintln!("error: {e}");
                failures.push((job.case.name.clone(), e));
            }
        }
        let _ = std::io::stdout().flush();
    }

    for line in table.summary(&rows) {
        println!("{line}");
    }
    Ok(BenchSummary { rows, failures })
}
