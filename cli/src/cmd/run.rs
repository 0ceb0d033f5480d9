//! `revm-jit run`: executes one transaction (each test of a fixture file, or a call to
//! given code) in one mode and prints its status, gas, output and logs.

use crate::bench::{Outcome, Status, report};
use crate::{
    asm::{self, AsmError},
    exec::{Executor, Mode},
    fixture::{self, Case, DEFAULT_SPEC, FixtureError},
};
use revm::primitives::{Bytes, TxKind, hardfork::SpecId, hex};
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
    /// How to execute.
    #[arg(long, value_enum, default_value = "interp")]
    pub mode: Mode,
    /// Hard fork to run under (default: the fixture's config, else Cancun).
    #[arg(long, value_name = "SPEC", value_parser = crate::fork::parse_arg)]
    pub spec: Option<SpecId>,
    /// Transaction gas limit (default: the fixture's, or 30,000,000 for code).
    #[arg(long, value_name = "N")]
    pub gas_limit: Option<u64>,
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
    #[error("{name}: transaction failed: {source}")]
    Evm {
        /// Case name.
        name: String,
        /// revm's error.
        source: revm::context::result::EVMError<std::convert::Infallible>,
    },
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

    for (i, case) in cases.iter().enumerate() {
        if i > 0 {
            println!();
        }
        let mut executor = Executor::new(args.mode);
        let ctx = case.context();
        let tx = case.tx();
        let start = Instant::now();
        let result = executor.transact(ctx, tx);
        let elapsed = start.elapsed();
        let result = result.map_err(|source| RunError::Evm { name: case.name.clone(), source })?;
        let outcome = Outcome::new(&result);
        print_outcome(case, args.mode, &executor, &outcome, elapsed.as_nanos() as u64);
    }
    Ok(())
}

fn print_outcome(case: &Case, mode: Mode, executor: &Executor, outcome: &Outcome, ns: u64) {
    let source = case.source.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default();
    println!("case:      {}{source}", case.name);
    let target = match case.tx.kind {
        TxKind::Call(to) => to.to_string(),
        TxKind::Create => "contract creation".to_owned(),
    };
    println!("to:        {target}");
    println!("mode:      {mode}");
    println!("spec:      {}", <&'static str>::from(case.spec));
    let status = match &outcome.status {
        Status::Success(reason) => format!("success ({reason:?})"),
        other => other.to_string(),
    };
    println!("status:    {status}");
    println!("gas used:  {} (limit {})", outcome.gas_used, case.tx.gas_limit);
    println!("output:    {}", hex::encode_prefixed(&outcome.output));
    println!("logs:      {}", outcome.logs.len());
    for (i, log) in outcome.logs.iter().enumerate() {
        println!("  [{i}] address {}", log.address);
        for (t, topic) in log.data.topics().iter().enumerate() {
            println!("      topic{t}  {topic}");
        }
        println!("      data    {}", hex::encode_prefixed(&log.data.data));
    }
    if mode != Mode::Interp {
        let frames = executor.frame_counts();
        println!("frames:    {} native, {} interpreted", frames.native, frames.interpreted);
        println!("compile:   {}", report::duration(executor.compile_ns()));
    }
    println!("time:      {} (one run, including any compilation)", report::duration(ns));
}
