//! `revm-jit statetest`: runs state-test files in one mode and prints a summary.

#[cfg(feature = "llvm")]
use super::compile::OptLevelArg;
use super::json::JsonTarget;
use crate::exec::Mode;
use crate::statetest::{Console, RunOptions, run as run_tests};
use std::{io::Write, path::PathBuf, process::ExitCode};

/// Arguments of `revm-jit statetest`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Execution mode the cases run in.
    #[arg(long, value_enum, default_value_t = Mode::Interp)]
    pub mode: Mode,
    /// Run only tests whose name or file path contains this substring.
    #[arg(long, value_name = "SUBSTR")]
    pub filter: Option<String>,
    /// Also write every case's outcome (file, test, fork, index, status, reason) as one JSON
    /// document to FILE; `-` prints it on stdout instead of the summary (which then goes to
    /// stderr).
    #[arg(long, value_name = "FILE", value_parser = JsonTarget::parse)]
    pub json: Option<JsonTarget>,
    /// Number of worker threads running files in parallel.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub threads: u64,
    /// In `jit` and `runtime` modes, also run every passing case inspected, interpreted and
    /// with native frames, and fail it when the geth call trace (with logs), the parity
    /// traces or the inspector hooks differ.
    #[arg(long)]
    pub check_traces: bool,
    /// Artifact store: `runtime` preloads it and writes what it compiles; `aot` writes and
    /// loads through it (default: a temporary store).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// With `--mode jit`: compile every contract at this level alone, instead of the
    /// runtime's tiers (whose optimising tier `jit` mode runs; `runtime` mode runs the
    /// baseline tier's code). For checking the code of any level against the tests.
    #[cfg(feature = "llvm")]
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub opt_level: Option<OptLevelArg>,
    /// State-test files, or directories searched recursively for `.json` files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Runs the command: progress on stderr, summary on stdout ending with
/// `N passed, N failed, N skipped`; success only when no case failed (and at least one
/// ran: a run that judged nothing, e.g. a mistyped `--filter`, is not a success).
pub fn run(args: Args) -> ExitCode {
    #[cfg(feature = "llvm")]
    if let Err(message) = check_opt_level(&args) {
        eprintln!("error: {message}");
        return ExitCode::FAILURE;
    }
    let options = RunOptions {
        mode: args.mode,
        threads: usize::try_from(args.threads).unwrap_or(usize::MAX),
        filter: args.filter,
        check_traces: args.check_traces,
        store: args.store.clone(),
        #[cfg(feature = "llvm")]
        opt_level: args.opt_level.map(OptLevelArg::level),
        #[cfg(not(feature = "llvm"))]
        opt_level: None,
    };
    if let Some(dir) = &args.store
        && let Err(error) = revm_jit::store::DiskStore::open(dir, revm_jit::store::BuildId::current())
    {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    let report = run_tests(&args.paths, &options, &mut Console::new(""));

    let mut json_failed = false;
    if let Some(target) = &args.json {
        let written = match target {
            JsonTarget::Stdout => {
                let mut out = std::io::stdout().lock();
                report.write_json(&mut out).and_then(|()| out.flush())
            }
            JsonTarget::File(path) => std::fs::File::create(path).map(std::io::BufWriter::new).and_then(|mut file| {
                report.write_json(&mut file)?;
                file.flush()
            }),
        };
        if let Err(error) = written {
            let name = target.file().map_or_else(|| "stdout".to_owned(), |p| p.display().to_string());
            eprintln!("error: cannot write the JSON report to {name}: {error}");
            json_failed = true;
        }
    }

    let written = if JsonTarget::human_to_stderr(args.json.as_ref()) {
        let mut err = std::io::stderr().lock();
        report.write_summary(&mut err).and_then(|()| err.flush())
    } else {
        let mut out = std::io::stdout().lock();
        report.write_summary(&mut out).and_then(|()| out.flush())
    };
    if let Err(error) = written {
        eprintln!("error: cannot write the summary: {error}");
        return ExitCode::FAILURE;
    }
    let totals = report.totals();
    if totals.passed + totals.failed == 0 {
        eprintln!("error: no case was executed (check the paths and --filter)");
        return ExitCode::FAILURE;
    }
    if totals.failed == 0 && !json_failed { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// `--opt-level` names one level for `jit` mode's code; other modes have their own (the
/// baseline tier for `runtime`, the optimising level for `aot`, none for `interp`), and
/// `first-tier` picks a level per contract, which a state-test run has no use for.
#[cfg(feature = "llvm")]
fn check_opt_level(args: &Args) -> Result<(), &'static str> {
    match args.opt_level {
        None => Ok(()),
        Some(OptLevelArg::FirstTier) => Err("--opt-level first-tier is for `compile`; name one level here"),
        Some(_) if args.mode != Mode::Jit => Err("--opt-level applies to --mode jit only"),
        Some(_) => Ok(()),
    }
}
