//! `revm-jit bench`: measures the embedded programs or a directory of fixtures in one or
//! more modes, interleaved run by run, prints a table (median, interquartile range, speedup
//! with its range, compile time), and optionally writes a JSON report (`--json`) and a chart
//! of the speedups (`--plot`). A progress bar on stderr, shown only on a terminal, says which
//! case is being measured.

use super::json::{Human, JsonTarget};
use crate::bench::{BenchError, MeasureConfig, Row, Status, bench_case, ordered_modes, plot, report};
use crate::{
    exec::Mode,
    fixture::{self, Case, DEFAULT_SPEC, FixtureError},
    programs,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use revm::primitives::hardfork::SpecId;
use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Duration};

/// Arguments of `revm-jit bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Modes to measure, comma-separated, interleaved run by run; speedups are relative to
    /// `interp`. Default: `interp,jit` (only `interp` in a build without the compiler).
    #[cfg_attr(feature = "llvm", arg(long = "mode", value_enum, value_delimiter = ',', default_value = "interp,jit"))]
    #[cfg_attr(not(feature = "llvm"), arg(long = "mode", value_enum, value_delimiter = ',', default_value = "interp"))]
    pub modes: Vec<Mode>,
    /// Fixture JSON files to run instead of the embedded programs: a directory, searched
    /// recursively as `statetest` searches one, or a single file.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    /// Only run cases whose name contains this substring.
    #[arg(long, value_name = "SUBSTR")]
    pub filter: Option<String>,
    /// Also write the results as one JSON document to FILE; `-` prints it on stdout instead of
    /// the table (which then goes to stderr).
    #[arg(long, value_name = "FILE", value_parser = JsonTarget::parse)]
    pub json: Option<JsonTarget>,
    /// Draw the speedup of each compiled mode over `interp`, per case, as an SVG bar chart
    /// into FILE (needs `interp` and another mode).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
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
    /// Compile `jit` mode's code at this level alone, instead of the runtime's tiers (the
    /// baseline tier, then the optimising tier at once, which the timed runs use): to measure
    /// one level's code, e.g. the baseline tier's (`--opt-level baseline`).
    #[cfg(feature = "llvm")]
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub opt_level: Option<crate::cmd::compile::OptLevelArg>,
    /// Artifact store: `runtime` preloads it (and writes what it compiles); `aot` writes and
    /// loads through it (default: a temporary store per case).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Keep one EVM per mode across a case's runs, as a node keeps one per block, instead of
    /// building one per transaction (the default). Each run still starts from the fixture's
    /// pre-state: nothing is committed. Building a mainnet EVM preallocates its frame stack,
    /// which costs about as much as a small contract's whole transaction, in every mode.
    #[arg(long)]
    pub reuse_evm: bool,
}

/// How `args` has the timed runs get their EVM.
fn evm_use(args: &BenchArgs) -> report::EvmUse {
    if args.reuse_evm { report::EvmUse::Reused } else { report::EvmUse::PerTransaction }
}

/// The bar shown while cases are measured: drawn on stderr when stderr is a terminal, hidden
/// otherwise, so that logs and CI output hold only the table and the errors.
fn progress_bar(cases: usize, modes: &[Mode]) -> ProgressBar {
    let target =
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(cases as u64), target);
    let modes = modes.iter().map(|m| m.name()).collect::<Vec<_>>().join(",");
    let template = format!("[{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} cases ({modes})  {{msg}}");
    bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
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
    let modes = ordered_modes(&args.modes);
    if args.plot.is_some() && !(modes.contains(&Mode::Interp) && modes.len() > 1) {
        eprintln!("error: --plot draws speedups over interp: --mode needs interp and at least one other mode");
        return ExitCode::FAILURE;
    }
    #[cfg(feature = "llvm")]
    if args.opt_level == Some(crate::cmd::compile::OptLevelArg::FirstTier) {
        eprintln!(
            "error: --opt-level first-tier is for `compile`; bench's jit mode runs the first tier's code with --opt-level baseline"
        );
        return ExitCode::FAILURE;
    }
    let BenchSummary { rows, failures } = match execute(args) {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut ok = failures.is_empty() && !rows.is_empty();
    if let Some(target) = &args.json {
        match target.write(&report::json(&rows, &failures, evm_use(args))) {
            Ok(()) => {
                if let Some(path) = target.file() {
                    eprintln!("wrote {}", path.display());
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ok = false;
            }
        }
    }
    if let Some(path) = &args.plot {
        match std::fs::write(path, plot::speedup_svg(&rows)) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => {
                eprintln!("error: cannot write the --plot chart to {}: {e}", path.display());
                ok = false;
            }
        }
    }
    if !failures.is_empty() {
        let disagreements = failures.iter().filter(|(_, e)| matches!(e, BenchError::Disagreement(_))).count();
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

/// Loads the cases `args` select and measures them, printing the table (to stdout, or to
/// stderr with `--json -`) and each failure (to stderr) as it goes, under a progress bar on
/// stderr when it is a terminal. Fails only when the fixture directory cannot be listed; a
/// fixture that does not load or run is recorded in the summary.
pub fn execute(args: &BenchArgs) -> Result<BenchSummary, FixtureError> {
    crate::bench::steady_heap();
    let modes = ordered_modes(&args.modes);
    let config = MeasureConfig {
        target_time: Duration::from_millis(args.time_ms),
        min_runs: args.min_runs.max(1),
        max_runs: args.max_runs.max(1),
        warmup_runs: args.warmup,
        store: args.store.clone(),
        #[cfg(feature = "llvm")]
        opt_level: args.opt_level.map(crate::cmd::compile::OptLevelArg::level),
        #[cfg(not(feature = "llvm"))]
        opt_level: None,
        reuse_evm: args.reuse_evm,
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
            for file in fixture::files_under(dir)? {
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

    let human = Human::new(args.json.as_ref());
    let table = report::Table::new(jobs.iter().map(|j| j.case.name.len()).max().unwrap_or(0), &modes);
    let mut rows: Vec<Row> = Vec::with_capacity(jobs.len());
    if jobs.is_empty() {
        eprintln!("no case to run");
    } else {
        human.line(table.header());
    }
    let progress = progress_bar(jobs.len(), &modes);
    for job in &jobs {
        progress.set_message(job.case.name.clone());
        match bench_case(&job.case, &modes, job.expected.as_ref(), &config) {
            Ok(row) => {
                progress.suspend(|| {
                    human.line(table.row(&row));
                    human.flush();
                });
                rows.push(row);
            }
            Err(e) => {
                progress.suspend(|| {
                    human.line(table.failed_row(&job.case.name));
                    human.flush();
                    eprintln!("error: {e}");
                });
                failures.push((job.case.name.clone(), e));
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();

    for line in table.summary(&rows) {
        human.line(line);
    }
    human.line(evm_use(args).legend().to_string());
    Ok(BenchSummary { rows, failures })
}
