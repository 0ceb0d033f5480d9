//! `revm-jit compile`: compiles contracts and reports where the compile time went; with
//! `--store`, also links them into AOT artifacts in a store, for a node to preload at start-up.
//!
//! Contracts come from `--code HEX`, from `--programs` (the embedded benchmark programs), or
//! from fixture or state-test files (every account with code in their pre-states), or from
//! directories of them, searched recursively. Each distinct (code, fork) pair is compiled
//! once: for `--spec` when given, otherwise for the fork each test names. Independent
//! contracts compile in parallel on `--jobs` threads. The report gives the slowest contracts
//! with their phase times, and the median, 99th percentile and maximum over all of them;
//! `--json FILE` writes every measurement as one JSON document (`-`: on stdout, the text
//! report going to stderr).

use super::json::{Human, JsonTarget, JsonWriteError};
use crate::{
    fixture::{self, FixtureError},
    programs,
};
use revm::primitives::{B256, Bytes, hardfork::SpecId, hex, keccak256};
use revm_jit::compiler::{CompilePhases, CompilerConfig, aot};
use revm_jit::store::{ArtifactStore, BuildId, DiskStore, StoreError};
use revm_jit::{CompileError, CompileProcess, Compiler, JitConfig, OptLevel};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// Arguments of `revm-jit compile`.
#[derive(clap::Args, Debug, Clone)]
pub struct CompileArgs {
    /// Fork to compile for (e.g. Cancun, Prague, Osaka). Needed with `--code` and
    /// `--programs`; fixture inputs default to the fork each test names.
    #[arg(long, value_parser = crate::fork::parse_arg)]
    pub spec: Option<SpecId>,
    /// The artifact store directory (created if missing). Without it, contracts are compiled
    /// in process and only reported.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Bytecode to compile, as hex (with or without 0x).
    #[arg(long, value_name = "HEX", conflicts_with_all = ["inputs", "programs"])]
    pub code: Option<String>,
    /// Compile the embedded benchmark programs (every contract of their pre-states).
    #[arg(long, conflicts_with = "inputs")]
    pub programs: bool,
    /// Fixture or state-test files, or directories of them (searched recursively): every
    /// contract in their pre-states is compiled.
    #[arg(value_name = "FIXTURE_OR_DIR")]
    pub inputs: Vec<PathBuf>,
    /// Contracts per shared library (with `--store`).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub per_library: u64,
    /// LLVM optimisation level, or `first-tier`: per contract, the level a runtime with
    /// tiering compiles it at first.
    #[arg(long, value_enum, default_value_t = OptLevelArg::Default)]
    pub opt_level: OptLevelArg,
    /// Compiler threads (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Write each contract's optimised LLVM IR to this directory (`<code hash>-<fork>.ll`), to
    /// inspect what the compiler produced or feed it to `llc -time-passes`.
    #[arg(long, value_name = "DIR")]
    pub dump_ir: Option<std::path::PathBuf>,
    /// Compile each contract in a child process of this binary, under a budget of time and
    /// memory (`--time-limit`, `--memory-limit`): a contract over either is abandoned and
    /// reported as refused. Without `--store` only.
    #[arg(long, conflicts_with = "store")]
    pub in_child: bool,
    /// Wall-clock seconds one compilation may take in its child process (with `--in-child`).
    #[arg(long, value_name = "SECS", requires = "in_child", default_value_t = revm_jit::CompileProcess::DEFAULT_TIME_LIMIT.as_secs_f64())]
    pub time_limit: f64,
    /// Bytes of memory one compilation may map in its child process (with `--in-child`).
    #[arg(long, value_name = "BYTES", requires = "in_child", default_value_t = revm_jit::CompileProcess::DEFAULT_MEMORY_LIMIT)]
    pub memory_limit: u64,
    /// Compile whatever the cost model predicts, however costly (to see what the budget of
    /// `--in-child` does with it, or to measure the model's refusals).
    #[arg(long)]
    pub no_cost_model: bool,
    /// How many of the slowest contracts to list with their phase times.
    #[arg(long, default_value_t = 5)]
    pub slowest: usize,
    /// Also write every contract's measurement and the summary as one JSON document to FILE;
    /// `-` prints it on stdout instead of the text report (which then goes to stderr).
    #[arg(long, value_name = "FILE", value_parser = JsonTarget::parse)]
    pub json: Option<JsonTarget>,
}

/// `--opt-level`: the library's [`OptLevel`], as named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OptLevelArg {
    /// No IR optimisation: fastest compile.
    None,
    /// Store forwarding and constant folding only.
    Less,
    /// Limb code and LLVM's fast code generator, no IR pipeline: the runtime's first tier.
    Baseline,
    /// The EVM-tuned pipeline.
    Default,
    /// LLVM's full `O2` pipeline.
    Aggressive,
    /// Per contract, what a runtime with tiering on (the default) compiles first: `baseline`
    /// when its predicted compile cost is at least `JitConfig::baseline_min_cost`'s default,
    /// `default` below it. Its times are the wait for a contract's first native code in a
    /// node. In process only: a store holds one level.
    FirstTier,
}

impl OptLevelArg {
    /// The level every contract is compiled at, or for `first-tier` the level of the
    /// contracts below the first tier's cost threshold.
    pub fn level(self) -> OptLevel {
        match self {
            OptLevelArg::None => OptLevel::None,
            OptLevelArg::Less => OptLevel::Less,
            OptLevelArg::Baseline => OptLevel::Baseline,
            OptLevelArg::Default | OptLevelArg::FirstTier => OptLevel::Default,
            OptLevelArg::Aggressive => OptLevel::Aggressive,
        }
    }
}

/// Why `revm-jit compile` stopped. (A contract the compiler refuses is not an error: it is
/// reported and skipped.)
#[derive(Debug, thiserror::Error)]
pub enum CompileCommandError {
    /// No input was given.
    #[error("give --code HEX, --programs, fixture files, or directories of fixtures")]
    NoInput,
    /// `--code` or `--programs` without `--spec`.
    #[error("--spec is needed with --code and --programs")]
    NeedsSpec,
    /// `--code` is not hex.
    #[error("--code: not hex: {0}")]
    BadHex(#[source] hex::FromHexError),
    /// An input file could not be loaded.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// The inputs hold no contract code.
    #[error("no contract code found in the inputs")]
    NoContracts,
    /// A compiler could not be created (LLVM could not start, no target machine).
    #[error("starting the compiler: {0}")]
    Compiler(#[source] CompileError),
    /// Linking compiled objects into a shared library failed.
    #[error("linking a library: {0}")]
    Link(#[source] CompileError),
    /// The store could not be opened or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The `--json` document could not be written.
    #[error(transparent)]
    WriteJson(#[from] JsonWriteError),
    /// `--in-child` needs this binary's path, which the OS did not give.
    #[error("--in-child: cannot find this executable: {0}")]
    OwnPath(#[source] std::io::Error),
    /// `--time-limit` is negative or not finite.
    #[error("--time-limit {0}: expected a non-negative number of seconds")]
    BadTimeLimit(f64),
    /// `--opt-level first-tier` with `--store`: stored artifacts are compiled at one level.
    #[error("--opt-level first-tier compiles in process only: a store holds artifacts of one level")]
    FirstTierStore,
    /// A compiler thread panicked (a compiler bug; the panic message went to stderr).
    #[error("a compiler thread panicked")]
    WorkerPanicked,
}

/// Runs the command: compiles (and with `--store` links and stores); prints what it did.
/// Fails when an input cannot be read, the linker is missing, or the store cannot be
/// written. Contracts the compiler refuses are reported and skipped.
pub fn run(args: &CompileArgs) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A contract to compile: its code under one fork.
type Job = ((B256, SpecId), Bytes);

fn execute(args: &CompileArgs) -> Result<(), CompileCommandError> {
    let jobs: Vec<Job> = collect(args)?.into_iter().collect();
    if jobs.is_empty() {
        return Err(CompileCommandError::NoContracts);
    }
    let config = compiler_config(args)?;
    let first_tier = first_tier(args)?;
    let threads = args.jobs.map_or_else(default_jobs, |n| usize::try_from(n).unwrap_or(1)).min(jobs.len());
    let progress = progress_bar(jobs.len());
    let start = Instant::now();
    let report = match &args.store {
        None => compile_in_process(&jobs, &config, first_tier.as_ref(), threads, &progress)?,
        Some(dir) => compile_into_store(args, dir, &jobs, &config, threads, &progress)?,
    };
    progress.finish_and_clear();
    report.print(Human::new(args.json.as_ref()), args.slowest, start.elapsed(), threads);
    if let Some(target) = &args.json {
        target.write(&report.to_json())?;
    }
    Ok(())
}

/// The compiler settings the arguments ask for.
fn compiler_config(args: &CompileArgs) -> Result<CompilerConfig, CompileCommandError> {
    let process = if args.in_child {
        let program = std::env::current_exe().map_err(CompileCommandError::OwnPath)?;
        let time_limit = Duration::try_from_secs_f64(args.time_limit)
            .map_err(|_| CompileCommandError::BadTimeLimit(args.time_limit))?;
        Some(CompileProcess { program, time_limit, memory_limit: args.memory_limit })
    } else {
        None
    };
    Ok(CompilerConfig {
        opt_level: args.opt_level.level(),
        dump_ir_dir: args.dump_ir.clone(),
        compile_budget: if args.no_cost_model { u64::MAX } else { revm_jit::analysis::DEFAULT_COMPILE_BUDGET },
        process,
        ..Default::default()
    })
}

/// For `--opt-level first-tier`: the runtime settings (the defaults, tiering on) whose
/// [`JitConfig::first_level`] picks each contract's level.
fn first_tier(args: &CompileArgs) -> Result<Option<JitConfig>, CompileCommandError> {
    match (args.opt_level, &args.store) {
        (OptLevelArg::FirstTier, Some(_)) => Err(CompileCommandError::FirstTierStore),
        (OptLevelArg::FirstTier, None) => Ok(Some(JitConfig::default())),
        _ => Ok(None),
    }
}

/// One compiler thread's compilers: the configured one and, for `--opt-level first-tier`,
/// a baseline one for the contracts the runtime's first tier compiles at that level.
struct ThreadCompilers {
    configured: Compiler,
    baseline: Option<(Compiler, JitConfig)>,
}

impl ThreadCompilers {
    fn new(config: &CompilerConfig, first_tier: Option<&JitConfig>) -> Result<Self, CompileError> {
        let baseline = match first_tier {
            None => None,
            Some(runtime) => {
                let config = CompilerConfig { opt_level: OptLevel::Baseline, ..config.clone() };
                Some((Compiler::new(config)?, runtime.clone()))
            }
        };
        Ok(Self { configured: Compiler::new(config.clone())?, baseline })
    }

    /// The compiler for `code`: the baseline one when there is one and the runtime would
    /// compile `code` at the baseline level first.
    fn for_code(&mut self, code: &[u8], spec: SpecId) -> &mut Compiler {
        match &mut self.baseline {
            Some((baseline, runtime)) if runtime.first_level(code, spec) == OptLevel::Baseline => baseline,
            _ => &mut self.configured,
        }
    }
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn progress_bar(len: usize) -> indicatif::ProgressBar {
    let progress = indicatif::ProgressBar::new(len as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} contracts {elapsed} {msg}")
            .expect("valid progress template"),
    );
    progress
}

/// Runs `work` on every job with `threads` threads, each with its own compiler (compilers are
/// per thread); results come back in job order.
fn parallel<T: Send>(
    jobs: &[Job],
    config: &CompilerConfig,
    first_tier: Option<&JitConfig>,
    threads: usize,
    progress: &indicatif::ProgressBar,
    work: impl Fn(&mut Compiler, &Job) -> T + Sync,
) -> Result<Vec<T>, CompileCommandError> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let outcome: Result<(), CompileCommandError> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<(), CompileCommandError> {
                    let mut compilers =
                        ThreadCompilers::new(config, first_tier).map_err(CompileCommandError::Compiler)?;
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(index) else { return Ok(()) };
                        let ((_, spec), code) = job;
                        let result = work(compilers.for_code(code, *spec), job);
                        results.lock().expect("results lock")[index] = Some(result);
                        progress.inc(1);
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().map_err(|_| CompileCommandError::WorkerPanicked)?)
    });
    outcome?;
    Ok(results.into_inner().expect("results lock").into_iter().map(|r| r.expect("every job ran")).collect())
}

/// Compiles every job to in-process machine code (dropped at once) and measures it.
fn compile_in_process(
    jobs: &[Job],
    config: &CompilerConfig,
    first_tier: Option<&JitConfig>,
    threads: usize,
    progress: &indicatif::ProgressBar,
) -> Result<Report, CompileCommandError> {
    let outcomes = parallel(jobs, config, first_tier, threads, progress, |compiler, ((hash, spec), code)| {
        let level = compiler.config().opt_level;
        let result = compiler.compile(code, *spec);
        result
            .map(|f| Measurement::new(*hash, *spec, level, code.len(), f.compile_time, f.phases, Duration::ZERO))
            .map_err(|error| Refusal { hash: *hash, spec: *spec, error: Box::new(error) })
    })?;
    Ok(Report::from_outcomes(outcomes, progress))
}

/// Compiles every job to an object in parallel, then links them into libraries of
/// `--per-library` contracts and stores them.
fn compile_into_store(
    args: &CompileArgs,
    dir: &Path,
    jobs: &[Job],
    config: &CompilerConfig,
    threads: usize,
    progress: &indicatif::ProgressBar,
) -> Result<Report, CompileCommandError> {
    let store = DiskStore::open(dir, BuildId::current())?;
    let objects = parallel(jobs, config, None, threads, progress, |compiler, ((hash, spec), code)| {
        compiler.compile_object(code, *spec).map_err(|error| Refusal {
            hash: *hash,
            spec: *spec,
            error: Box::new(error),
        })
    })?;
    let mut linker = Compiler::new(config.clone()).map_err(CompileCommandError::Compiler)?;
    let (mut outcomes, mut compiled) = (Vec::new(), Vec::new());
    for object in objects {
        match object {
            Ok(object) => compiled.push(object),
            Err(refusal) => outcomes.push(Err(refusal)),
        }
    }
    let (mut libraries, mut bytes) = (0, 0);
    for chunk in compiled.chunks(usize::try_from(args.per_library).unwrap_or(usize::MAX)) {
        let start = Instant::now();
        let library = aot::link_objects(&mut linker, chunk).map_err(CompileCommandError::Link)?;
        store.put(&library.bytes, &library.entries)?;
        // Linking is shared by the chunk: each contract is charged its share.
        let link = start.elapsed() / u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        outcomes.extend(chunk.iter().map(|o| {
            Ok(Measurement::new(o.code_hash, o.spec, config.opt_level, o.bytecode_len, o.compile_time, o.phases, link))
        }));
        libraries += 1;
        bytes += library.bytes.len();
    }
    let mut report = Report::from_outcomes(outcomes, progress);
    report.stored = Some(format!("{libraries} libraries ({bytes} bytes) in {}", dir.display()));
    Ok(report)
}

/// One compiled contract's figures.
#[derive(Clone, Debug, serde::Serialize)]
struct Measurement {
    code_hash: B256,
    spec: String,
    /// The level it was compiled at (with `--opt-level first-tier`, per contract).
    opt_level: &'static str,
    bytecode_len: usize,
    /// Wall-clock compile time, linking excluded.
    total_us: u128,
    analysis_us: u128,
    emit_us: u128,
    verify_us: u128,
    optimize_us: u128,
    codegen_us: u128,
    /// This contract's share of linking its library (store mode only).
    link_us: u128,
}

impl Measurement {
    fn new(
        code_hash: B256,
        spec: SpecId,
        level: OptLevel,
        len: usize,
        total: Duration,
        p: CompilePhases,
        link: Duration,
    ) -> Self {
        Self {
            code_hash,
            spec: format!("{spec:?}"),
            opt_level: level.name(),
            bytecode_len: len,
            total_us: total.as_micros(),
            analysis_us: p.analysis.as_micros(),
            emit_us: p.emit.as_micros(),
            verify_us: p.verify.as_micros(),
            optimize_us: p.optimize.as_micros(),
            codegen_us: p.machine_code.as_micros(),
            link_us: link.as_micros(),
        }
    }

    fn total_with_link(&self) -> u128 {
        self.total_us + self.link_us
    }
}

/// What `compile` did.
#[derive(Debug, Default)]
struct Report {
    measurements: Vec<Measurement>,
    refused: Vec<Refusal>,
    stored: Option<String>,
}

/// A contract the compiler refused, and why.
#[derive(Debug)]
struct Refusal {
    hash: B256,
    spec: SpecId,
    error: Box<CompileError>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?}): {}", self.hash, self.spec, self.error)
    }
}

/// A measurement, or why the contract was refused.
type Outcome = Result<Measurement, Refusal>;

impl Report {
    fn from_outcomes(outcomes: Vec<Outcome>, progress: &indicatif::ProgressBar) -> Self {
        let mut report = Self::default();
        for outcome in outcomes {
            match outcome {
                Ok(m) => report.measurements.push(m),
                Err(refusal) => {
                    progress.suspend(|| eprintln!("refused {refusal}"));
                    report.refused.push(refusal);
                }
            }
        }
        report.measurements.sort_by_key(|m| std::cmp::Reverse(m.total_with_link()));
        report
    }

    /// The `q` quantile (0..=1) of total compile times, in microseconds.
    fn quantile(&self, q: f64) -> u128 {
        let mut totals: Vec<u128> = self.measurements.iter().map(Measurement::total_with_link).collect();
        totals.sort_unstable();
        match totals.len() {
            0 => 0,
            n => totals[((n - 1) as f64 * q).round() as usize],
        }
    }

    fn print(&self, human: Human, slowest: usize, elapsed: Duration, threads: usize) {
        let ms = |us: u128| format!("{:.1} ms", us as f64 / 1000.0);
        if !self.measurements.is_empty() && slowest > 0 {
            human.line(format_args!(
                "{:<66} {:>8} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
                "slowest contracts",
                "fork",
                "bytes",
                "total",
                "analysis",
                "emit",
                "verify",
                "optimise",
                "codegen",
                "link"
            ));
            for m in self.measurements.iter().take(slowest) {
                human.line(format_args!(
                    "{:<66} {:>8} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
                    m.code_hash.to_string(),
                    m.spec,
                    m.bytecode_len,
                    ms(m.total_with_link()),
                    ms(m.analysis_us),
                    ms(m.emit_us),
                    ms(m.verify_us),
                    ms(m.optimize_us),
                    ms(m.codegen_us),
                    ms(m.link_us)
                ));
            }
        }
        human.line(format_args!(
            "{} contracts compiled, {} refused, on {threads} threads in {elapsed:.1?}; compile time p50 {}, p99 {}, max {}",
            self.measurements.len(),
            self.refused.len(),
            ms(self.quantile(0.5)),
            ms(self.quantile(0.99)),
            ms(self.quantile(1.0)),
        ));
        if let Some(stored) = &self.stored {
            human.line(format_args!("stored: {stored}"));
        }
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "compiled": self.measurements.len(),
            "refused": self.refused.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "p50_us": self.quantile(0.5),
            "p99_us": self.quantile(0.99),
            "max_us": self.quantile(1.0),
            "stored": self.stored,
            "contracts": self.measurements,
        })
    }
}

/// The distinct (code, fork) pairs of the inputs.
fn collect(args: &CompileArgs) -> Result<BTreeMap<(B256, SpecId), Bytes>, CompileCommandError> {
    let mut contracts = BTreeMap::new();
    let needs_spec = || args.spec.ok_or(CompileCommandError::NeedsSpec);
    if let Some(text) = &args.code {
        let code = hex::decode(text.trim()).map_err(CompileCommandError::BadHex)?;
        contracts.insert((keccak256(&code), needs_spec()?), Bytes::from(code));
        return Ok(contracts);
    }
    if args.programs {
        let spec = needs_spec()?;
        for program in programs::all() {
            add_contracts(&mut contracts, &program.case(spec), spec);
        }
        return Ok(contracts);
    }
    if args.inputs.is_empty() {
        return Err(CompileCommandError::NoInput);
    }
    for input in &args.inputs {
        for file in fixture::files_under(input)? {
            for (spec, code) in fixture::load_contracts(&file)? {
                contracts.insert((keccak256(&code), args.spec.unwrap_or(spec)), code);
            }
        }
    }
    Ok(contracts)
}

/// Adds every contract with code in `case`'s pre-state, for `spec`.
fn add_contracts(contracts: &mut BTreeMap<(B256, SpecId), Bytes>, case: &fixture::Case, spec: SpecId) {
    for account in case.db.cache.accounts.values() {
        if let Some(code) = &account.info.code {
            let bytes = code.original_bytes();
            if !bytes.is_empty() {
                contracts.insert((keccak256(&bytes), spec), bytes);
            }
        }
    }
}
