//! Execution modes: one entry point that runs a transaction the way a mode says.
//!
//! The state-test runner, the benchmark harness and the `run` command all execute
//! transactions through an [`Executor`], so a new mode is added in one place and every
//! tool gains it at once.

use revm::{
    Database, DatabaseCommit, ExecuteCommitEvm, ExecuteEvm, MainBuilder,
    context::{
        TxEnv,
        result::{EVMError, ExecutionResult, ResultAndState},
    },
    handler::{MainnetContext, MainnetEvm},
};
use revm_jit::store::{ArtifactStore, BuildId, DiskStore, StoreError};
use revm_jit::{FrameCounts, JitConfig, JitEvm, JitRuntime, OptLevel};
use std::{path::Path, sync::Arc};

/// How transactions are executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Mode {
    /// Plain revm: the baseline every other mode is compared with.
    Interp,
    /// Every contract compiled on first sight, before it runs; every frame with code runs
    /// native code.
    Jit,
    /// `JitEvm` with the background compiler, as a user runs it, with hot threshold 0 and a
    /// wait for the compiler: each contract is compiled on a worker thread at its first miss
    /// and the frame waits for it, so frames run native. Every contract goes through the
    /// baseline tier first (`baseline_min_cost` 0) and tiers up once it has spent the default
    /// `tier_up_gas`.
    Runtime,
    /// Every contract compiled on first sight to a shared library, written to an artifact
    /// store, loaded back through the store, and run from there.
    Aot,
}

impl Mode {
    /// The name used on the command line and as the key in JSON reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Interp => "interp",
            Mode::Jit => "jit",
            Mode::Runtime => "runtime",
            Mode::Aot => "aot",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An EVM kept across transactions (see [`Executor::reusable_evm`]): revm's own for
/// `interp`, wrapped in a [`JitEvm`] for the native modes.
pub enum ReusedEvm<DB: Database> {
    /// revm's mainnet EVM.
    Interp(Box<MainnetEvm<MainnetContext<DB>>>),
    /// The same, wrapped to run frames natively.
    Native(Box<MainnetJitEvm<DB>>),
}

/// revm's mainnet EVM over `DB`, wrapped to run frames natively: what the native modes run.
pub type MainnetJitEvm<DB> = JitEvm<
    MainnetContext<DB>,
    (),
    revm::handler::instructions::EthInstructions<revm::interpreter::interpreter::EthInterpreter, MainnetContext<DB>>,
    revm::handler::EthPrecompiles,
>;

/// Runs transactions in one [`Mode`], keeping whatever the mode needs between
/// transactions (compiled code, counters).
#[derive(Debug)]
pub struct Executor {
    mode: Mode,
    frames: FrameCounts,
    /// The runtime compiled code comes from (`jit`: eager, shared by every transaction).
    runtime: Option<JitRuntime>,
    /// The artifact store's directory when the executor made it; held only to be removed on drop.
    _scratch_store: Option<tempfile::TempDir>,
}

/// `config` with the compiler process the environment names, if any
/// ([`JitConfig::apply_compile_process_env`]; the command checked the variables at start).
fn with_compile_process(mut config: JitConfig) -> JitConfig {
    if let Err(error) = config.apply_compile_process_env() {
        panic!("REVM_JIT_COMPILE_PROCESS settings, accepted at start-up, are refused now: {error}");
    }
    config
}

/// `jit` mode's configuration: eager, and at `opt_level` only when one is given.
fn jit_config(opt_level: Option<OptLevel>) -> JitConfig {
    let mut config = JitConfig::eager();
    if let Some(level) = opt_level {
        config.compiler.opt_level = level;
        config.tier_up_gas = None;
    }
    config
}

/// Opens the store in `dir` for this build.
fn open_store(dir: &Path) -> Result<Arc<dyn ArtifactStore>, StoreError> {
    Ok(Arc::new(DiskStore::open(dir, BuildId::current())?))
}

impl Executor {
    /// Creates an executor for `mode`.
    pub fn new(mode: Mode) -> Self {
        Self::with_store(mode, None).expect("an executor without a given store always starts")
    }

    /// Creates an executor for `mode` with an artifact store in `store`: `runtime` preloads
    /// it (and writes what it compiles to it), `aot` writes and loads through it (a fresh
    /// temporary store when `None`); `interp` and `jit` ignore it.
    pub fn with_store(mode: Mode, store: Option<&Path>) -> Result<Self, StoreError> {
        Self::with_options(mode, store, None)
    }

    /// [`Executor::with_store`], with `jit` mode's code compiled at `opt_level` alone instead
    /// of the runtime's tiers (the baseline tier, then the optimising one at once) when given.
    pub fn with_options(mode: Mode, store: Option<&Path>, opt_level: Option<OptLevel>) -> Result<Self, StoreError> {
        let mut scratch_store = None;
        let runtime = match mode {
            Mode::Interp => None,
            Mode::Jit => Some(JitRuntime::new(with_compile_process(jit_config(opt_level)))),
            Mode::Runtime => {
                let store = store.map(open_store).transpose()?;
                Some(JitRuntime::new(with_compile_process(JitConfig {
                    hot_threshold: 0,
                    // Every contract through the baseline tier, the small ones a node compiles
                    // at the optimising level at once included: so that the state tests run
                    // baseline code (jit mode runs the optimising tier), and the bench shows
                    // the tier-up happening.
                    baseline_min_cost: 0,
                    wait_for_compile: Some(std::time::Duration::from_secs(300)),
                    write_artifacts: store.is_some(),
                    store,
                    ..JitConfig::default()
                })))
            }
            Mode::Aot => {
                let dir = match store {
                    Some(dir) => dir.to_path_buf(),
                    None => {
                        let scratch = revm_jit::store::private_temp_dir("revm-jit-store").map_err(|e| {
                            StoreError::Io { op: "create directory", path: std::env::temp_dir(), source: e }
                        })?;
                        scratch_store.insert(scratch).path().to_path_buf()
                    }
                };
                let store = open_store(&dir)?;
                Some(JitRuntime::new(JitConfig { store: Some(store), write_artifacts: true, ..JitConfig::eager() }))
            }
        };
        Ok(Self { mode, frames: FrameCounts::default(), runtime, _scratch_store: scratch_store })
    }

    /// The mode this executor runs.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Frames run so far, by how they ran.
    pub fn frame_counts(&self) -> FrameCounts {
        self.frames
    }

    /// Wall-clock time spent compiling contracts to their first native code, in nanoseconds
    /// (0 for `interp`): with tiered compilation, the baseline tier.
    pub fn compile_ns(&self) -> u64 {
        self.runtime.as_ref().map_or(0, |r| {
            let stats = r.handle().stats();
            stats.compile_ns - stats.tier_up_ns
        })
    }

    /// Wall-clock time spent recompiling baseline code at the optimising level (the second
    /// tier), in nanoseconds.
    pub fn tier_up_ns(&self) -> u64 {
        self.runtime.as_ref().map_or(0, |r| r.handle().stats().tier_up_ns)
    }

    /// The runtime behind native modes (`None` for `interp`).
    pub fn runtime(&self) -> Option<&JitRuntime> {
        self.runtime.as_ref()
    }

    fn jit_evm<DB: Database>(&self, ctx: MainnetContext<DB>) -> MainnetJitEvm<DB> {
        let runtime = self.runtime.as_ref().expect("native modes have a runtime");
        JitEvm::new(ctx.build_mainnet(), runtime.handle())
    }

    /// An EVM for `ctx` that [`Executor::transact_reused`] runs transaction after transaction,
    /// as a node keeps one EVM for a whole block, instead of the fresh EVM per transaction
    /// of [`Executor::transact`]. Building a mainnet EVM preallocates its frame stack (eight
    /// interpreters, each with a 32 KiB operand stack), which on a small contract costs about
    /// as much as the transaction itself; a reused EVM pays it once.
    pub fn reusable_evm<DB: Database>(&self, ctx: MainnetContext<DB>) -> ReusedEvm<DB> {
        match self.mode {
            Mode::Interp => ReusedEvm::Interp(Box::new(ctx.build_mainnet())),
            Mode::Jit | Mode::Runtime | Mode::Aot => ReusedEvm::Native(Box::new(self.jit_evm(ctx))),
        }
    }

    /// Executes `tx` on `evm` (made by this executor's [`Executor::reusable_evm`]) without
    /// committing. The state changes stay out of the database, so every transaction starts
    /// from the state the EVM was built with, as with [`Executor::transact`].
    pub fn transact_reused<DB: Database>(
        &mut self,
        evm: &mut ReusedEvm<DB>,
        tx: TxEnv,
    ) -> Result<ResultAndState, EVMError<DB::Error>> {
        match evm {
            ReusedEvm::Interp(evm) => evm.transact(tx),
            ReusedEvm::Native(evm) => {
                let before = evm.frame_counts();
                let result = evm.transact(tx);
                let after = evm.frame_counts();
                self.add_frames(FrameCounts {
                    native: after.native - before.native,
                    interpreted: after.interpreted - before.interpreted,
                });
                result
            }
        }
    }

    fn add_frames(&mut self, counts: FrameCounts) {
        self.frames.native += counts.native;
        self.frames.interpreted += counts.interpreted;
    }

    /// Executes `tx` on `ctx` and commits the resulting state to the context's database.
    pub fn transact_commit<DB: Database + DatabaseCommit>(
        &mut self,
        ctx: MainnetContext<DB>,
        tx: TxEnv,
    ) -> Result<ExecutionResult, EVMError<DB::Error>> {
        match self.mode {
            Mode::Interp => ctx.build_mainnet().transact_commit(tx),
            Mode::Jit | Mode::Runtime | Mode::Aot => {
                let mut evm = self.jit_evm(ctx);
                let result = evm.transact_commit(tx);
                self.add_frames(evm.frame_counts());
                result
            }
        }
    }

    /// Executes `tx` on `ctx` without committing; returns the result and the changed state.
    pub fn transact<DB: Database>(
        &mut self,
        ctx: MainnetContext<DB>,
        tx: TxEnv,
    ) -> Result<ResultAndState, EVMError<DB::Error>> {
        match self.mode {
            Mode::Interp => ctx.build_mainnet().transact(tx),
            Mode::Jit | Mode::Runtime | Mode::Aot => {
                let mut evm = self.jit_evm(ctx);
                let result = evm.transact(tx);
                self.add_frames(evm.frame_counts());
                result
            }
        }
    }
}
