//! `revm-jit compile`: prepares AOT artifacts in a store, for a node to preload at start-up.
//!
//! Contracts come from `--code HEX`, from `--programs` (the embedded benchmark programs), or
//! from fixture files (every account with code in their pre-state), or from directories of
//! fixtures. They are compiled for `--spec` and linked in
//! libraries of up to `--per-library` contracts each, which are written to the store.

use crate::{fixture, programs};
use revm::primitives::{B256, Bytes, hardfork::SpecId, keccak256};
use revm_jit::compiler::{CompilerConfig, aot};
use revm_jit::store::{ArtifactStore, BuildId, DiskStore};
use revm_jit::{Compiler, OptLevel};
use std::{collections::BTreeMap, path::PathBuf, process::ExitCode, time::Instant};

/// Arguments of `revm-jit compile`.
#[derive(clap::Args, Debug, Clone)]
pub struct CompileArgs {
    /// Fork to compile for (e.g. Cancun, Prague, Osaka).
    #[arg(long, value_parser = crate::fork::parse_arg)]
    pub spec: SpecId,
    /// The artifact store directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    /// Bytecode to compile, as hex (with or without 0x).
    #[arg(long, value_name = "HEX", conflicts_with_all = ["inputs", "programs"])]
    pub code: Option<String>,
    /// Compile the embedded benchmark programs (every contract of their pre-states).
    #[arg(long, conflicts_with = "inputs")]
    pub programs: bool,
    /// Fixture files, or directories of them: every contract in their pre-states is compiled.
    #[arg(value_name = "FIXTURE_OR_DIR")]
    pub inputs: Vec<PathBuf>,
    /// Contracts per shared library.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub per_library: u64,
    /// LLVM optimisation level.
    #[arg(long, value_enum, default_value_t = OptLevelArg::Default)]
    pub opt_level: OptLevelArg,
}

/// `--opt-level`: the library's [`OptLevel`], as named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OptLevelArg {
    /// No IR optimisation: fastest compile.
    None,
    /// Store forwarding and constant folding only.
    Less,
    /// The EVM-tuned pipeline.
    Default,
    /// LLVM's full `O2` pipeline.
    Aggressive,
}

impl From<OptLevelArg> for OptLevel {
    fn from(arg: OptLevelArg) -> Self {
        match arg {
            OptLevelArg::None => OptLevel::None,
            OptLevelArg::Less => OptLevel::Less,
            OptLevelArg::Default => OptLevel::Default,
            OptLevelArg::Aggressive => OptLevel::Aggressive,
        }
    }
}

/// Runs the command: compiles, links and stores; prints what it did. Fails when an input
/// cannot be read, the linker is missing, or the store cannot be written. Contracts the
/// compiler refuses are reported and skipped.
pub fn run(args: &CompileArgs) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn execute(args: &CompileArgs) -> Result<(), String> {
    let contracts = collect(args)?;
    if contracts.is_empty() {
        return Err("no contract code found in the inputs".into());
    }
    let store = DiskStore::open(&args.store, BuildId::current()).map_err(|e| e.to_string())?;
    let mut compiler = Compiler::new(CompilerConfig { opt_level: args.opt_level.into(), ..Default::default() })
        .map_err(|e| e.to_string())?;
    let contracts: Vec<(B256, Bytes)> = contracts.into_iter().collect();
    let progress = indicatif::ProgressBar::new(contracts.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} contracts {elapsed} {msg}")
            .expect("valid progress template"),
    );
    let start = Instant::now();
    let (mut stored, mut refused, mut libraries, mut bytes) = (0, 0, 0, 0);
    for chunk in contracts.chunks(usize::try_from(args.per_library).unwrap_or(usize::MAX)) {
        // The compiler's refusals (e.g. a fork it does not know) are per contract.
        let mut objects = Vec::new();
        for (hash, code) in chunk {
            match compiler.compile_object(code, args.spec) {
                Ok(object) => objects.push(object),
                Err(error) => {
                    progress.suspend(|| eprintln!("skipping {hash}: {error}"));
                    refused += 1;
                }
            }
            progress.inc(1);
        }
        if objects.is_empty() {
            continue;
        }
        let library = aot::link_objects(&mut compiler, &objects).map_err(|e| e.to_string())?;
        store.put(&library.bytes, &library.entries).map_err(|e| e.to_string())?;
        stored += library.entries.len();
        libraries += 1;
        bytes += library.bytes.len();
    }
    progress.finish_and_clear();
    println!(
        "{stored} contracts compiled for {:?} into {libraries} libraries ({bytes} bytes) in {}, in {:.1?}; {refused} refused",
        args.spec,
        args.store.display(),
        start.elapsed()
    );
    Ok(())
}

/// The distinct contracts of the inputs, by code hash.
fn collect(args: &CompileArgs) -> Result<BTreeMap<B256, Bytes>, String> {
    let mut contracts = BTreeMap::new();
    if let Some(hex) = &args.code {
        let code = revm::primitives::hex::decode(hex.trim()).map_err(|e| format!("--code: not hex: {e}"))?;
        contracts.insert(keccak256(&code), Bytes::from(code));
        return Ok(contracts);
    }
    if args.programs {
        for program in programs::all() {
            add_contracts(&mut contracts, &program.case(args.spec));
        }
        return Ok(contracts);
    }
    if args.inputs.is_empty() {
        return Err("give --code HEX, --programs, fixture files, or directories of fixtures".into());
    }
    for input in &args.inputs {
        let files = if input.is_dir() {
            fixture::fixture_files(input).map_err(|e| e.to_string())?
        } else {
            vec![input.clone()]
        };
        for file in files {
            for case in fixture::load_file(&file, None).map_err(|e| e.to_string())? {
                add_contracts(&mut contracts, &case);
            }
        }
    }
    Ok(contracts)
}

/// Adds every contract with code in `case`'s pre-state.
fn add_contracts(contracts: &mut BTreeMap<B256, Bytes>, case: &fixture::Case) {
    for account in case.db.cache.accounts.values() {
        if let Some(code) = &account.info.code {
            let bytes = code.original_bytes();
            if !bytes.is_empty() {
                contracts.insert(keccak256(&bytes), bytes);
            }
        }
    }
}
