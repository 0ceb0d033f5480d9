//! `revm-jit run`: executes one transaction (each test of a fixture file, or a call to
//! given code) in one or more modes and prints its status, gas, output and logs, the time of
//! each mode, and how many frames ran native; `--json FILE` writes the same as one JSON
//! document. With several modes, every mode must produce the same outcome as the first.

use super::json::{Human, JsonTarget, JsonWriteError};
use crate::bench::{Disagreement, Outcome, Status, ordered_modes, report};
use crate::{
    asm::{self, AsmError},
    exec::{Executor, Mode},
    fixture::{self, Case, DEFAULT_SPEC, FixtureError},
};
use revm::primitives::{Bytes, TxKind, hardfork::SpecId, hex};
use revm_jit::FrameCounts;
use serde_json::{Value, json};
use std::{path::PathBuf, process::ExitCode, time::Instant};

/// Gas limit of `--code` / `--asm` calls when `--gas-limit` is not given.
pub const DEFAULT_GAS_LIMIT: u64 = 30_000_000;

/// Arguments of `revm-jit run`.
#[derive(clap::Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["fixture", "code", "asm"])))]
pub struct RunArgs {
    /// Fixture JSON file; every test in it is run.
    pub fixture: Option<PathBuf>,
    /// Runtime code, as hex, to deploy at 0xcc…cc and call from a funded 0x11…11.
    #[arg(long, value_name = "HEX")]
    pub code: Option<String>,
    /// Like `--code`, but the code is assembled from this file (revm_jit_cli::asm syntax).
    #[arg(long, value_name = "FILE")]
    pub asm: Option<PathBuf>,
    /// Calldata, as hex (replaces a fixture's data too).
    #[arg(long, value_name = "HEX")]
    pub calldata: Option<String>,
    /// How to execute: one mode, or several comma-separated (each in a fresh executor, `interp`
    /// first when listed), whose outcomes must agree.
    #[arg(long = "mode", value_enum, value_delimiter = ',', default_value = "interp")]
    pub modes: Vec<Mode>,
    /// Hard fork to run under (default: the fixture's config, else Cancun).
    #[arg(long, value_name = "SPEC", value_parser = crate::fork::parse_arg)]
    pub spec: Option<SpecId>,
    /// Transaction gas limit (default: the fixture's, or 30,000,000 for code).
    #[arg(long, value_name = "N")]
    pub gas_limit: Option<u64>,
    /// Also write the outcome of every case as one JSON document to FILE; `-` prints it on
    /// stdout instead of the text (which then goes to stderr).
    #[arg(long, value_name = "FILE", value_parser = JsonTarget::parse)]
    pub json: Option<JsonTarget>,
}

/// Why `revm-jit run` could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A hex argument does not decode.
    #[error("{flag}: `{value}` is not hex bytes")]
    BadHex {
        /// The command-line flag.
        flag: &'static str,
        /// The text given.
        value: String,
    },
    /// The `--asm` file could not be read.
    #[error("--asm {}: cannot read: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The `--asm` file does not assemble.
    #[error("--asm {}: {source}", file.display())]
    Asm {
        /// The file.
        file: PathBuf,
        /// The assembler's error, with its line.
        source: AsmError,
    },
    /// The fixture could not be loaded.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// revm rejected the transaction.
    #[error("{name}: {mode}: transaction failed: {source}")]
    Evm {
        /// Case name.
        name: String,
        /// The mode that ran it.
        mode: Mode,
        /// revm's error.
        source: revm::context::result::EVMError<std::convert::Infallible>,
    },
    /// Two modes produced different outcomes (everything was printed first).
    #[error(transparent)]
    Disagreement(#[from] Disagreement),
    /// The `--json` document could not be written.
    #[error(transparent)]
    Json(#[from] JsonWriteError),
}

/// One mode's run of a case.
#[derive(Debug)]
struct ModeRun {
    mode: Mode,
    outcome: Outcome,
    /// Wall-clock time of the one run, compilation included.
    time_ns: u64,
    /// Time spent compiling during the run (0 for `interp`).
    compile_ns: u64,
    frames: FrameCounts,
}

/// Runs `case` in a fresh executor for `mode`.
fn run_mode(case: &Case, mode: Mode) -> Result<ModeRun, RunError> {
    let mut executor = Executor::new(mode);
    let (ctx, tx) = (case.context(), case.tx());
    let start = Instant::now();
    let result = executor.transact(ctx, tx);
    let time_ns = start.elapsed().as_nanos() as u64;
    let result = result.map_err(|source| RunError::Evm { name: case.name.clone(), mode, source })?;
    Ok(ModeRun {
        mode,
        outcome: Outcome::new(&result),
        time_ns,
        compile_ns: executor.compile_ns(),
        frames: executor.frame_counts(),
    })
}

/// Runs `revm-jit run`; exits non-zero when the input is bad or revm rejects the
/// transaction (an EVM revert or halt is a normal result).
pub fn run(args: &RunArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn decode(flag: &'static str, value: &str) -> Result<Bytes, RunError> {
    hex::decode(value.trim()).map(Bytes::from).map_err(|_| RunError::BadHex { flag, value: value.to_owned() })
}

fn run_inner(args: &RunArgs) -> Result<(), RunError> {
    let calldata = args.calldata.as_deref().map(|c| decode("--calldata", c)).transpose()?;
    let mut cases = if let Some(file) = &args.fixture {
        fixture::load_file(file, args.spec)?
    } else {
        let code = match (&args.code, &args.asm) {
            (Some(code), _) => decode("--code", code)?,
            (None, Some(file)) => {
                let src =
                    std::fs::read_to_string(file).map_err(|source| RunError::Io { file: file.clone(), source })?;
                asm::assemble(&src).map_err(|source| RunError::Asm { file: file.clone(), source })?
            }
            (None, None) => unreachable!("clap requires a fixture, --code or --asm"),
        };
        vec![Case::call_code(
            "code",
            args.spec.unwrap_or(DEFAULT_SPEC),
            code,
            calldata.clone().unwrap_or_default(),
            args.gas_limit.unwrap_or(DEFAULT_GAS_LIMIT),
        )]
    };
    for case in &mut cases {
        if let Some(data) = &calldata {
            case.tx.data = data.clone();
        }
        if let Some(gas) = args.gas_limit {
            case.tx.gas_limit = gas;
        }
    }

    let modes = ordered_modes(&args.modes);
    let human = Human::new(args.json.as_ref());
    let mut documents = Vec::with_capacity(cases.len());
    let mut disagreement = None;
    for (i, case) in cases.iter().enumerate() {
        if i > 0 {
            human.line("");
        }
        let runs = modes.iter().map(|&mode| run_mode(case, mode)).collect::<Result<Vec<_>, _>>()?;
        let first = &runs[0];
        let mut differences = Vec::new();
        for run in &runs[1..] {
            let diffs = first.outcome.differences(&run.outcome);
            if !diffs.is_empty() {
                differences.extend(diffs.iter().map(|d| format!("{} vs {}: {d}", run.mode, first.mode)));
                if disagreement.is_none() {
                    let name = case.name.clone();
                    disagreement =
                        Some(RunError::from(Disagreement { name, baseline: first.mode, mode: run.mode, diffs }));
                }
            }
        }
        print_outcome(human, case, &runs, &differences);
        documents.push(case_json(case, &runs, &differences));
    }
    if let Some(target) = &args.json {
        target.write(&json!({ "cases": documents }))?;
    }
    match disagreement {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Where the transaction goes: the called address, or `create`.
fn target(case: &Case) -> String {
    match case.tx.kind {
        TxKind::Call(to) => to.to_string(),
        TxKind::Create => "create".to_owned(),
    }
}

/// One case as JSON:
///
/// ```text
/// {"name", "source" (file or null), "to" (address or "create"), "spec", "gas_limit",
///  "status" ("success", "revert", "halt (<reason>)"), "success", "reason" (success reason or
///  null), "gas_used", "output" (0x hex), "logs" (count),
///  "modes": {"<mode>": {"time_ns", "compile_ns", "frames": {"native", "interpreted"}}},
///  "agree" (every mode's outcome equals the first's), "differences": [text]}
/// ```
///
/// Status, gas, output and logs are the first mode's (every other mode's when they agree).
/// `time_ns` is one run, compilation included; `compile_ns` is 0 and `frames` null for
/// `interp` (plain revm counts no frames).
fn case_json(case: &Case, runs: &[ModeRun], differences: &[String]) -> Value {
    let outcome = &runs[0].outcome;
    let reason = match &outcome.status {
        Status::Success(reason) => Some(format!("{reason:?}")),
        _ => None,
    };
    let modes: serde_json::Map<String, Value> = runs
        .iter()
        .map(|run| {
            // Plain revm does not count frames: `null` rather than a misleading 0.
            let frames = (run.mode != Mode::Interp)
                .then(|| json!({ "native": run.frames.native, "interpreted": run.frames.interpreted }));
            let entry = json!({ "time_ns": run.time_ns, "compile_ns": run.compile_ns, "frames": frames });
            (run.mode.name().to_owned(), entry)
        })
        .collect();
    json!({
        "name": case.name,
        "source": case.source.as_ref().map(|p| p.display().to_string()),
        "to": target(case),
        "spec": <&'static str>::from(case.spec),
        "gas_limit": case.tx.gas_limit,
        "status": outcome.status.to_string(),
        "success": outcome.status.is_success(),
        "reason": reason,
        "gas_used": outcome.gas_used,
        "output": hex::encode_prefixed(&outcome.output),
        "logs": outcome.logs.len(),
        "modes": modes,
        "agree": differences.is_empty(),
        "differences": differences,
    })
}

fn print_outcome(human: Human, case: &Case, runs: &[ModeRun], differences: &[String]) {
    let outcome = &runs[0].outcome;
    let source = case.source.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default();
    human.line(format_args!("case:      {}{source}", case.name));
    human.line(format_args!(
        "to:        {}",
        if case.tx.kind.is_create() { "contract creation".to_owned() } else { target(case) }
    ));
    human.line(format_args!("spec:      {}", <&'static str>::from(case.spec)));
    let status = match &outcome.status {
        Status::Success(reason) => format!("success ({reason:?})"),
        other => other.to_string(),
    };
    human.line(format_args!("status:    {status}"));
    human.line(format_args!("gas used:  {} (limit {})", outcome.gas_used, case.tx.gas_limit));
    human.line(format_args!("output:    {}", hex::encode_prefixed(&outcome.output)));
    human.line(format_args!("logs:      {}", outcome.logs.len()));
    for (i, log) in outcome.logs.iter().enumerate() {
        human.line(format_args!("  [{i}] address {}", log.address));
        for (t, topic) in log.data.topics().iter().enumerate() {
            human.line(format_args!("      topic{t}  {topic}"));
        }
        human.line(format_args!("      data    {}", hex::encode_prefixed(&log.data.data)));
    }
    for run in runs {
        let mut line = format!("{:<10} {} (one run", format!("{}:", run.mode), report::duration(run.time_ns));
        if run.mode == Mode::Interp {
            line.push(')');
        } else {
            line += &format!(
                ", compilation included); compile {}; frames {} native, {} interpreted",
                report::duration(run.compile_ns),
                run.frames.native,
                run.frames.interpreted
            );
        }
        human.line(line);
    }
    for difference in differences {
        human.line(format_args!("DIFFERS:   {difference}"));
    }
}
