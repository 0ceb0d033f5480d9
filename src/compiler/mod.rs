//! The compiler: bytecode and a [`SpecId`] in, a callable [`CompiledFn`] out.
//!
//! Without the `llvm` feature only what the runtime needs to run code compiled elsewhere is
//! here: [`CompiledFn`] (made from AOT libraries), the settings and errors, and the build's
//! identity ([`COMPILER_VERSION`], [`target_id`]).
//!
//! Each contract is built in its own LLVM context and module, optimised, then handed to the
//! compiler's ORC JIT (`orc`), which turns it into machine code and drops the IR. The code
//! is owned by a `JitCode` that frees it when the last [`CompiledFn`] referring to it is
//! dropped, so a [`Compiler`] can be reused for any number of contracts without growing.

#[cfg(feature = "llvm")]
pub mod aot;
pub mod memory;
#[cfg(feature = "llvm")]
mod orc;
pub mod process;
mod target;

pub use memory::{CodeMemoryExhausted, CodeMemoryStats, code_memory_stats};
#[cfg(feature = "llvm")]
use orc::{JitCode, JitError, OrcJit};
pub use process::{CompileProcess, serve_if_compile_child};
pub use target::{COMPILER_VERSION, target_id};

use crate::abi::EntryFn;
#[cfg(feature = "llvm")]
use crate::analysis::Analysis;
#[cfg(feature = "llvm")]
use crate::codegen::{self, CodegenError};
use crate::store::{ArtifactError, StoreError};
#[cfg(feature = "llvm")]
use inkwell::{
    OptimizationLevel,
    context::Context,
    passes::PassBuilderOptions,
    targets::{CodeModel, InitializationConfig, RelocMode, Target, TargetMachine},
};
use revm::primitives::{B256, Bytes, hardfork::SpecId, keccak256};
#[cfg(feature = "llvm")]
use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    time::Instant,
};
use std::{
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// The newest fork compiled code supports; later forks run interpreted.
pub const LATEST_SUPPORTED_SPEC: SpecId = SpecId::OSAKA;

/// How hard LLVM optimises the generated IR, and how it generates machine code.
///
/// The default is a short pipeline chosen for EVM code: promote the allocas of codegen's
/// register mode to SSA (`mem2reg`: loops whose stack items then live in registers), within a
/// basic block forward stack stores to loads and fold constants (early CSE over memory SSA,
/// one round of instcombine, without LLVM's fixpoint verification, which aborts the process
/// when one round is not enough), drop overwritten stack stores (DSE), and merge blocks. On the embedded benchmarks it runs
/// as fast as LLVM's `O2` while spending a tenth of the time in IR optimisation.
///
/// [`OptLevel::Baseline`] emits limb code instead (see [`codegen::Words::Limbs`]), runs no IR
/// pipeline and uses LLVM's fast code generator: the runtime's first tier (see
/// [`crate::JitConfig::tier_up_gas`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OptLevel {
    /// No IR optimisation: fastest compile.
    None,
    /// Store forwarding and constant folding only.
    Less,
    /// Limb code (words as 64-bit limbs, stack stores forwarded and dropped by the emitter,
    /// see [`codegen::Words::Limbs`]), no IR pipeline, then LLVM's unoptimising code generator
    /// (its `-O0` backend: fast instruction selection, which takes every instruction of limb
    /// code, no machine-level optimisation, the fast register allocator). Measured with
    /// `revm-jit compile` on the bench fixtures: fiat_token 1.69 s → 0.54–0.61 s (fast
    /// instruction selection instead of SelectionDAG on every block), uniswap_v2_pair 0.80 s
    /// → 0.34–0.37 s, weth 0.27 s → 0.11–0.14 s. Slower than [`OptLevel::Default`] on
    /// arithmetic (no register mode, builtins for MUL, shifts and division), which is what the
    /// tier-up is for.
    Baseline,
    /// The EVM-tuned pipeline described above.
    #[default]
    Default,
    /// LLVM's full `O2` pipeline.
    Aggressive,
}

impl OptLevel {
    /// Every level, from the cheapest compile to the most thorough.
    pub const ALL: [OptLevel; 5] =
        [OptLevel::None, OptLevel::Less, OptLevel::Baseline, OptLevel::Default, OptLevel::Aggressive];

    /// The level's name on command lines, in configuration files and in the artifact
    /// store's build identity.
    pub fn name(self) -> &'static str {
        match self {
            OptLevel::None => "none",
            OptLevel::Less => "less",
            OptLevel::Baseline => "baseline",
            OptLevel::Default => "default",
            OptLevel::Aggressive => "aggressive",
        }
    }

    /// The level named `name` (any case), as [`OptLevel::name`] spells it.
    pub fn from_name(name: &str) -> Option<OptLevel> {
        OptLevel::ALL.into_iter().find(|level| level.name().eq_ignore_ascii_case(name))
    }
}

#[cfg(feature = "llvm")]
impl OptLevel {
    fn pipeline(self) -> Option<&'static str> {
        match self {
            // Limb code (`codegen::Words::Limbs`) forwards and drops stack stores itself.
            OptLevel::None | OptLevel::Baseline => None,
            OptLevel::Less => {
                Some("function(mem2reg,early-cse<memssa>,instcombine<max-iterations=1;no-verify-fixpoint>,simplifycfg)")
            }
            OptLevel::Default => Some(
                "function(mem2reg,early-cse<memssa>,instcombine<max-iterations=1;no-verify-fixpoint>,dse,simplifycfg)",
            ),
            OptLevel::Aggressive => Some("default<O2>"),
        }
    }

    /// How the level's code represents words: as limbs where the fast instruction selector
    /// runs (see [`codegen::Words::Limbs`]).
    fn words(self) -> codegen::Words {
        match self {
            OptLevel::Baseline => codegen::Words::Limbs,
            _ => codegen::Words::Wide,
        }
    }

    fn codegen(self) -> OptimizationLevel {
        match self {
            OptLevel::None => OptimizationLevel::Less,
            OptLevel::Less => OptimizationLevel::Less,
            OptLevel::Baseline => OptimizationLevel::None,
            OptLevel::Default => OptimizationLevel::Default,
            OptLevel::Aggressive => OptimizationLevel::Aggressive,
        }
    }
}

/// Why a contract was not compiled; the contract then runs in revm's interpreter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// This build has no compiler (the `llvm` feature is off): only code from an artifact
    /// store runs natively.
    #[error("this build of revm-jit has no compiler (built without the `llvm` feature)")]
    NoCompiler,
    /// The fork is newer than the compiler knows.
    #[error("fork {0:?} is not supported by the compiler (latest supported: {LATEST_SUPPORTED_SPEC:?})")]
    UnsupportedSpec(SpecId),
    /// The code is empty: there is nothing to compile (an empty frame stops at once).
    #[error("empty bytecode")]
    EmptyCode,
    /// The contract's predicted compile cost is above the budget
    /// ([`CompilerConfig::compile_budget`]): it is refused before LLVM runs.
    #[error("predicted compile cost {predicted} is above the budget of {budget}")]
    TooCostly {
        /// The cost model's prediction for this contract.
        predicted: u64,
        /// The configured budget.
        budget: u64,
    },
    /// The compilation ran in a compiler process ([`CompilerConfig::process`]) and took longer
    /// than its time budget: the process was killed.
    #[error("compilation took longer than its budget of {limit:?} and was abandoned")]
    OverTimeBudget {
        /// The budget ([`CompileProcess::time_limit`]).
        limit: Duration,
    },
    /// The compilation ran in a compiler process ([`CompilerConfig::process`]) and ran out of
    /// its memory budget.
    #[error("compilation needed more than its budget of {limit} bytes of memory and was abandoned")]
    OverMemoryBudget {
        /// The budget ([`CompileProcess::memory_limit`]).
        limit: u64,
    },
    /// The compiler process could not be started, failed, or answered something unreadable
    /// (see [`CompilerConfig::process`]).
    #[error("compiler process: {0}")]
    Process(String),
    /// Emitting IR failed.
    #[cfg(feature = "llvm")]
    #[error(transparent)]
    Codegen(#[from] CodegenError),
    /// LLVM failed to optimise or to produce machine code.
    #[error("LLVM failed: {0}")]
    Llvm(String),
    /// The compiler panicked; the panic was contained.
    #[error("compiler panicked: {0}")]
    Panic(String),
    /// The JIT could not get memory for the machine code (limit reached, or the kernel
    /// refused another mapping).
    #[error(transparent)]
    OutOfCodeMemory(#[from] CodeMemoryExhausted),
    /// Linking the contract's AOT library failed.
    #[cfg(feature = "llvm")]
    #[error(transparent)]
    Link(#[from] aot::LinkError),
    /// Writing the contract's AOT artifact to the store failed.
    #[error("storing the AOT artifact failed: {0}")]
    Store(#[from] StoreError),
    /// The artifact just stored was refused when loaded back.
    #[error("the stored AOT artifact was refused: {0}")]
    Refused(#[from] ArtifactError),
    /// Compilation was asked under a code hash that is not the keccak hash of the code: the
    /// code is not compiled, and nothing is recorded under either hash.
    #[error("code hash {claimed} does not match the code, whose hash is {actual}")]
    CodeHashMismatch {
        /// The hash the code was to be cached under.
        claimed: B256,
        /// The code's keccak hash.
        actual: B256,
    },
    /// The artifact just stored was not found when loaded back.
    #[error("the stored AOT artifact of {code_hash} ({spec:?}) was not found again")]
    NotStored {
        /// The contract's code hash.
        code_hash: B256,
        /// The fork it was compiled for.
        spec: SpecId,
    },
}

/// Compiler settings.
#[derive(Clone, Debug)]
pub struct CompilerConfig {
    /// Optimisation level.
    pub opt_level: OptLevel,
    /// When set, the optimised LLVM IR of every contract is written to this directory as
    /// `<code hash>-<fork>.ll`, for inspecting what the compiler produced.
    pub dump_ir_dir: Option<std::path::PathBuf>,
    /// Failures to inject, for testing that they are contained.
    #[cfg(feature = "test-hooks")]
    pub faults: Vec<InjectedFault>,
    /// Bytes of address space that the machine code of all in-process compiled contracts may
    /// map together (see [`memory`]). A contract that would need more is refused with
    /// [`CompileError::OutOfCodeMemory`] and runs interpreted. Default 1 GiB: four times the
    /// runtime's default cache capacity, so fragmentation never refuses code the cache admits.
    pub max_code_memory: usize,
    /// Largest predicted codegen cost compiled (see [`Analysis::predicted_cost`]); a contract
    /// predicted to cost more is refused with [`CompileError::TooCostly`] before LLVM sees it
    /// and runs interpreted, so that no deployable contract ties up a worker for long.
    /// `u64::MAX` compiles everything. Default [`crate::analysis::DEFAULT_COMPILE_BUDGET`].
    pub compile_budget: u64,
    /// Compile each contract in a child process under a budget of time and memory (see
    /// [`process`]) instead of in this one. Default `None`: in process, where only the cost
    /// model (`compile_budget`) bounds what LLVM is given. Env (runtime):
    /// `REVM_JIT_COMPILE_PROCESS`, `REVM_JIT_COMPILE_TIME_LIMIT_SECS`,
    /// `REVM_JIT_COMPILE_MEMORY_LIMIT_BYTES`.
    pub process: Option<CompileProcess>,
}

impl CompileError {
    /// Whether the contract was refused for its cost: predicted too costly by the cost model, or
    /// abandoned over its time or memory budget. Such contracts run interpreted for good.
    pub fn is_over_budget(&self) -> bool {
        matches!(self, Self::TooCostly { .. } | Self::OverTimeBudget { .. } | Self::OverMemoryBudget { .. })
    }
}

impl Default for CompilerConfig {
    fn default() -> Self {
        Self {
            opt_level: OptLevel::default(),
            dump_ir_dir: None,
            #[cfg(feature = "test-hooks")]
            faults: Vec::new(),
            max_code_memory: 1 << 30,
            compile_budget: crate::analysis::DEFAULT_COMPILE_BUDGET,
            process: None,
        }
    }
}

/// A failure made to happen when a given contract is compiled: how tests show that compiler
/// panics, LLVM errors and worker panics are caught, counted, and leave the contract running
/// interpreted while the runtime keeps serving everything else.
#[cfg(feature = "test-hooks")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    /// Keccak-256 of the bytecode the fault applies to.
    pub code_hash: B256,
    /// What goes wrong.
    pub kind: FaultKind,
}

/// The kinds of [`InjectedFault`].
#[cfg(feature = "test-hooks")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The compiler panics mid-compilation.
    CompilerPanic,
    /// LLVM reports an error.
    LlvmError,
    /// LLVM reports an error at every level but [`OptLevel::Baseline`]: the runtime's
    /// optimising recompilation (its tier-up) fails while its first tier succeeds.
    TierUpLlvmError,
    /// The background worker thread panics outside the compiler (runtime only).
    WorkerPanic,
}

#[cfg(feature = "test-hooks")]
impl CompilerConfig {
    /// Whether a fault of `kind` is injected for `code_hash`.
    pub fn has_fault(&self, code_hash: &B256, kind: FaultKind) -> bool {
        self.faults.iter().any(|f| f.code_hash == *code_hash && f.kind == kind)
    }
}

/// Compiles contracts to in-process machine code. Reusable; not `Send` (LLVM target state is
/// per thread), so each compiling thread owns one.
#[cfg(feature = "llvm")]
pub struct Compiler {
    config: CompilerConfig,
    /// Target machine for the IR pipeline (the JIT has its own for code generation).
    target_machine: TargetMachine,
    /// Target machine for AOT objects (position-independent), made on first use.
    aot_machine: Option<TargetMachine>,
    cpu: String,
    jit: Arc<OrcJit>,
}

#[cfg(feature = "llvm")]
impl std::fmt::Debug for Compiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiler").field("config", &self.config).field("cpu", &self.cpu).finish()
    }
}

/// Heap memory charged to a compiled contract beyond its machine code: a deliberately high
/// estimate of the cache entry, the JIT's symbol and resource tracker, the linker's per-object
/// state and registered unwind tables. `tests/jit_memory.rs` prints the resident growth per
/// contract; with a cache large enough not to evict, that figure checks this one.
pub const ENTRY_OVERHEAD_BYTES: usize = 4096;

/// A compiled contract: its entry point and the owner of its machine code.
///
/// Cloning is cheap (one reference count: the runtime hands out a clone on every cache hit);
/// the machine code lives until the last clone is dropped, so a running frame that holds a
/// clone can never see its code freed. What it knows about the compilation is read through
/// [`CompiledCode`], which it dereferences to.
///
/// It also knows the bytecode it was compiled from ([`CompiledFn::is_compiled_from`]): native
/// code assumes its frame's bytecode is exactly that (jump destinations, resume points, the
/// pcs it hands back to revm's interpreter), so it must never run on any other.
#[derive(Clone)]
pub struct CompiledFn(Arc<CompiledCode>);

/// What a [`CompiledFn`] shares between its clones: the entry point, the owner of the machine
/// code, and what is known about the compilation.
pub struct CompiledCode {
    entry: EntryFn,
    code: CodeOwner,
    /// The bytecode compiled: set at compilation, or, for code loaded from an AOT library
    /// (whose bytecode is not stored), at the first frame whose bytes hash to `code_hash`.
    source: OnceLock<Bytes>,
    /// The last bytecode buffer found to hold exactly the compiled bytes, held so that its
    /// address cannot be reused for other bytes: a frame running the same buffer again (a
    /// node's database cache hands every transaction the same one) is checked by address.
    last_verified: Mutex<Option<Bytes>>,
    /// Keccak-256 of the bytecode.
    pub code_hash: B256,
    /// The fork the code was compiled for.
    pub spec: SpecId,
    /// Length of the bytecode that was compiled.
    pub bytecode_len: usize,
    /// Bytes the machine code occupies: its code, data and unwind tables in JIT memory, or the
    /// mapped size of the library it was loaded from.
    pub code_size: usize,
    /// Wall-clock compile time.
    pub compile_time: Duration,
    /// Where the compile time went.
    pub phases: CompilePhases,
    /// The level it was compiled at; `None` for code loaded from an AOT library.
    pub opt_level: Option<OptLevel>,
    /// Gas its frames spent in it, counted only for [`OptLevel::Baseline`] code (the runtime
    /// recompiles it at its optimising level once this reaches
    /// [`crate::JitConfig::tier_up_gas`]).
    baseline_gas: AtomicU64,
}

impl std::ops::Deref for CompiledFn {
    type Target = CompiledCode;

    fn deref(&self) -> &CompiledCode {
        &self.0
    }
}

/// What keeps a compiled function's machine code mapped: held, never read, and dropped with
/// the last clone of its [`CompiledFn`].
enum CodeOwner {
    /// Code in the compiler's JIT, freed when dropped.
    #[cfg(feature = "llvm")]
    Jit(#[expect(dead_code, reason = "held for its drop, which frees the machine code")] JitCode),
    /// Code in a loaded AOT library, unloaded when the last owner drops (one library serves
    /// many contracts).
    Library(#[expect(dead_code, reason = "held for its drop, which unloads the library")] Arc<libloading::Library>),
}

/// Wall-clock time of each compilation phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompilePhases {
    /// Bytecode analysis.
    pub analysis: Duration,
    /// Emitting LLVM IR.
    pub emit: Duration,
    /// LLVM's verifier over the emitted module (run on every module).
    pub verify: Duration,
    /// LLVM's IR optimisation pipeline.
    pub optimize: Duration,
    /// Machine code generation and loading (MCJIT).
    pub machine_code: Duration,
}

impl std::fmt::Debug for CompiledFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Debug for CompiledCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledFn")
            .field("code_hash", &self.code_hash)
            .field("spec", &self.spec)
            .field("bytecode_len", &self.bytecode_len)
            .field("compile_time", &self.compile_time)
            .finish()
    }
}

impl CompiledFn {
    /// The native entry point.
    pub fn entry(&self) -> EntryFn {
        self.entry
    }

    /// The cache weight: what keeping this code costs the process, in bytes. That is the
    /// machine code's memory, the copy of the bytecode it was compiled from (kept to check
    /// every frame's bytecode against, see [`CompiledFn::is_compiled_from`]) and the last
    /// buffer that passed that check (see [`CompiledFn::is_compiled_from_bytes`]), plus
    /// [`ENTRY_OVERHEAD_BYTES`] for the bookkeeping every compiled contract carries (the cache
    /// entry, the JIT's symbol and resource tracker, the linker's per-object state and
    /// registered unwind tables), so that the cache's capacity bounds resident memory however
    /// small the contracts are.
    pub fn cache_weight(&self) -> usize {
        self.code_size + 2 * self.bytecode_len + ENTRY_OVERHEAD_BYTES
    }

    /// Whether this code was compiled from exactly the bytes `code`, the only bytecode it may
    /// run on. Cheap when `code` is the very buffer it was compiled from (a pointer
    /// comparison), a byte comparison otherwise; for code from an AOT library it hashes
    /// `code` once, and then remembers those bytes.
    pub fn is_compiled_from(&self, code: &[u8]) -> bool {
        if code.len() != self.bytecode_len {
            return false;
        }
        match self.source.get() {
            Some(source) => source.as_ptr() == code.as_ptr() || source[..] == *code,
            None => {
                let matches = keccak256(code) == self.code_hash;
                if matches {
                    let _ = self.source.set(Bytes::copy_from_slice(code));
                }
                matches
            }
        }
    }

    /// [`CompiledFn::is_compiled_from`] for a buffer that may be checked again: the last buffer
    /// that passed is remembered (and held), so that the next check of the same buffer is an
    /// address comparison rather than a byte comparison.
    pub fn is_compiled_from_bytes(&self, code: &Bytes) -> bool {
        let same_buffer = |held: &Bytes| held.as_ptr() == code.as_ptr() && held.len() == code.len();
        if let Ok(last) = self.last_verified.try_lock()
            && last.as_ref().is_some_and(same_buffer)
        {
            return true;
        }
        if !self.is_compiled_from(code) {
            return false;
        }
        if let Ok(mut last) = self.last_verified.try_lock() {
            *last = Some(code.clone());
        }
        true
    }

    /// Whether `self` and `other` are clones of one compilation (the same machine code).
    pub fn ptr_eq(&self, other: &CompiledFn) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// How many clones of this [`CompiledFn`] are alive (for lifetime tests: the machine code
    /// lives as long as one is).
    pub fn code_refs(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// The bytecode this code was compiled from, when it is known (always for in-process
    /// code; for AOT code, once a frame's bytes were found to hash to its code hash).
    pub fn source_bytes(&self) -> Option<&Bytes> {
        self.source.get()
    }

    /// Whether this is the runtime's first tier ([`OptLevel::Baseline`] code).
    pub fn is_baseline(&self) -> bool {
        self.opt_level == Some(OptLevel::Baseline)
    }

    /// Adds `gas` spent in this baseline code and says whether that made the total reach
    /// `threshold` (true once: for the addition that crosses it).
    pub(crate) fn add_baseline_gas(&self, gas: u64, threshold: u64) -> bool {
        let before = self.baseline_gas.fetch_add(gas, Ordering::Relaxed);
        before < threshold && before.saturating_add(gas) >= threshold
    }

    /// Starts the count of [`CompiledFn::add_baseline_gas`] over (a tier-up that could not be
    /// queued is asked for again after as much gas).
    pub(crate) fn reset_baseline_gas(&self) {
        self.baseline_gas.store(0, Ordering::Relaxed);
    }

    /// Whether the code came from an AOT library rather than the in-process JIT.
    pub fn is_from_library(&self) -> bool {
        matches!(self.code, CodeOwner::Library(_))
    }

    /// A compiled function whose code lives in a loaded AOT library.
    ///
    /// # Safety
    /// `entry` must be a function of `library` with the [`EntryFn`] ABI of this crate's
    /// [`crate::abi::ABI_VERSION`], compiled for `spec` from bytecode with hash `code_hash`
    /// (the artifact store checks all of that before handing out an entry point).
    pub unsafe fn from_library(
        entry: EntryFn,
        library: Arc<libloading::Library>,
        code_hash: B256,
        spec: SpecId,
        bytecode_len: usize,
        code_size: usize,
    ) -> Self {
        Self(Arc::new(CompiledCode {
            entry,
            code: CodeOwner::Library(library),
            source: OnceLock::new(),
            last_verified: Mutex::new(None),
            code_hash,
            spec,
            bytecode_len,
            code_size,
            compile_time: Duration::ZERO,
            phases: CompilePhases::default(),
            opt_level: None,
            baseline_gas: AtomicU64::new(0),
        }))
    }
}

#[cfg(feature = "llvm")]
impl Compiler {
    /// Creates a compiler for the host machine.
    pub fn new(config: CompilerConfig) -> Result<Self, CompileError> {
        Target::initialize_native(&InitializationConfig::default()).map_err(CompileError::Llvm)?;
        let triple = TargetMachine::get_default_triple();
        let target = Target::from_triple(&triple).map_err(|e| CompileError::Llvm(e.to_string()))?;
        let cpu = TargetMachine::get_host_cpu_name().to_string();
        let features = TargetMachine::get_host_cpu_features().to_string();
        configure_llvm_once();
        // Position-independent code with the small code model: everything an object refers to
        // lies in its one contiguous JIT-memory reservation, so PC-relative addressing reaches
        // it, and calls out of it go through the GOT.
        let machine = || {
            target
                .create_target_machine(
                    &triple,
                    &cpu,
                    &features,
                    config.opt_level.codegen(),
                    RelocMode::PIC,
                    CodeModel::Small,
                )
                .ok_or_else(|| CompileError::Llvm(format!("no target machine for {triple}")))
        };
        let target_machine = machine()?;
        let jit = OrcJit::new(machine()?, config.max_code_memory).map_err(CompileError::Llvm)?;
        Ok(Self { config, target_machine, aot_machine: None, cpu, jit })
    }

    /// The compiler's settings.
    pub fn config(&self) -> &CompilerConfig {
        &self.config
    }

    /// Compiles `code` for `spec`. Any byte string either compiles or is refused with an error;
    /// a panic inside the compiler is caught and returned as [`CompileError::Panic`].
    pub fn compile(&mut self, code: &[u8], spec: SpecId) -> Result<CompiledFn, CompileError> {
        let span = tracing::debug_span!("compile", len = code.len(), ?spec);
        let _guard = span.enter();
        self.check_compilable(code, spec)?;
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| self.compile_inner(code, spec)))
            .unwrap_or_else(|payload| Err(CompileError::Panic(panic_message(payload.as_ref()))));
        let compile_time = start.elapsed();
        let (entry, jit, phases) = result.inspect_err(|e| tracing::debug!(error = %e, "compile failed"))?;
        tracing::debug!(?compile_time, ?phases, code_size = jit.memory_bytes, "compiled");
        Ok(CompiledFn(Arc::new(CompiledCode {
            entry,
            code_hash: keccak256(code),
            spec,
            bytecode_len: code.len(),
            code_size: jit.memory_bytes,
            code: CodeOwner::Jit(jit),
            source: OnceLock::from(Bytes::copy_from_slice(code)),
            last_verified: Mutex::new(None),
            compile_time,
            phases,
            opt_level: Some(self.config.opt_level),
            baseline_gas: AtomicU64::new(0),
        })))
    }

    /// The refusals that need no compilation: forks the compiler does not know, empty code.
    fn check_compilable(&self, code: &[u8], spec: SpecId) -> Result<(), CompileError> {
        if !LATEST_SUPPORTED_SPEC.is_enabled_in(spec) {
            return Err(CompileError::UnsupportedSpec(spec));
        }
        if code.is_empty() {
            return Err(CompileError::EmptyCode);
        }
        Ok(())
    }

    fn compile_inner(&self, code: &[u8], spec: SpecId) -> Result<(EntryFn, JitCode, CompilePhases), CompileError> {
        let name = self.jit.fresh_symbol();
        let (address, jit_code, phases) = match &self.config.process {
            None => self.generate_in_process(code, spec, &name)?,
            Some(process) => self.generate_in_child(process, code, spec, &name)?,
        };
        // SAFETY: `address` is the machine code of the function emitted by `codegen` for this
        // build (in process, or in a compiler process of the same build, which checks that),
        // whose signature is `EntryFn` (see `codegen::entry_type`); `jit_code` keeps it alive.
        let entry: EntryFn = unsafe { std::mem::transmute::<usize, EntryFn>(address) };
        Ok((entry, jit_code, phases))
    }

    /// Builds the module here and hands it to the JIT.
    fn generate_in_process(
        &self,
        code: &[u8],
        spec: SpecId,
        name: &str,
    ) -> Result<(usize, JitCode, CompilePhases), CompileError> {
        let mut phases = CompilePhases::default();
        let context = ContextGuard::new();
        let module = self.build_module(context.get(), code, spec, name, &mut phases)?;
        let clock = Instant::now();
        let module_ref = module.as_mut_ptr();
        // The module and its context now go to the JIT, which disposes them.
        std::mem::forget(module);
        let context_ref = context.release();
        // SAFETY: the module lives in the context and neither is referenced by anything else.
        let (address, jit_code) =
            unsafe { self.jit.add_and_lookup(context_ref, module_ref, name) }.map_err(jit_error)?;
        phases.machine_code = clock.elapsed();
        Ok((address, jit_code, phases))
    }

    /// Has a compiler process generate the object (see [`process`]) and links it into the JIT.
    /// What the cost model refuses is refused here, before a process is started.
    fn generate_in_child(
        &self,
        process: &CompileProcess,
        code: &[u8],
        spec: SpecId,
        name: &str,
    ) -> Result<(usize, JitCode, CompilePhases), CompileError> {
        self.check_injected_faults(code)?;
        let predicted = Analysis::new(code, spec).predicted_cost();
        if predicted > self.config.compile_budget {
            return Err(CompileError::TooCostly { predicted, budget: self.config.compile_budget });
        }
        let job = process::Job {
            build: crate::store::BuildId::for_opt_level(self.config.opt_level),
            spec,
            symbol: name,
            compile_budget: self.config.compile_budget,
            dump_ir_dir: self.config.dump_ir_dir.clone(),
        };
        let (object, mut phases) = process::compile_in_child(process, job, code)?;
        let clock = Instant::now();
        let (address, jit_code) = self.jit.add_object_and_lookup(&object, name).map_err(jit_error)?;
        phases.machine_code += clock.elapsed();
        Ok((address, jit_code, phases))
    }

    /// What a compiler process does with a request: `code` compiled to a relocatable object
    /// for this compiler's JIT (the same target machine settings), its entry point named
    /// `symbol`.
    pub(crate) fn compile_jit_object(
        &mut self,
        code: &[u8],
        spec: SpecId,
        symbol: &str,
    ) -> Result<(Vec<u8>, CompilePhases), CompileError> {
        self.check_compilable(code, spec)?;
        catch_unwind(AssertUnwindSafe(|| {
            let mut phases = CompilePhases::default();
            let context = ContextGuard::new();
            let module = self.build_module(context.get(), code, spec, symbol, &mut phases)?;
            let clock = Instant::now();
            let buffer = self
                .target_machine
                .write_to_memory_buffer(&module, inkwell::targets::FileType::Object)
                .map_err(|e| CompileError::Llvm(e.to_string()))?;
            phases.machine_code = clock.elapsed();
            Ok((buffer.as_slice().to_vec(), phases))
        }))
        .unwrap_or_else(|payload| Err(CompileError::Panic(panic_message(payload.as_ref()))))
    }

    /// The failures a test asked to inject for this code (a no-op outside test builds).
    fn check_injected_faults(&self, code: &[u8]) -> Result<(), CompileError> {
        #[cfg(feature = "test-hooks")]
        if !self.config.faults.is_empty() {
            let hash = keccak256(code);
            if self.config.has_fault(&hash, FaultKind::CompilerPanic) {
                panic!("injected compiler panic for {hash}");
            }
            let tier_up = self.config.opt_level != OptLevel::Baseline;
            if self.config.has_fault(&hash, FaultKind::LlvmError)
                || (tier_up && self.config.has_fault(&hash, FaultKind::TierUpLlvmError))
            {
                return Err(CompileError::Llvm(format!("injected LLVM failure for {hash}")));
            }
        }
        let _ = code;
        Ok(())
    }

    /// Analyses `code`, emits it as the function `name` in a new module of `context` and
    /// optimises it: everything but machine code, shared by the JIT and AOT paths.
    fn build_module<'ctx>(
        &self,
        context: &'ctx Context,
        code: &[u8],
        spec: SpecId,
        name: &str,
        phases: &mut CompilePhases,
    ) -> Result<inkwell::module::Module<'ctx>, CompileError> {
        self.check_injected_faults(code)?;
        let mut clock = Instant::now();
        let mut lap = |slot: &mut Duration| {
            *slot = clock.elapsed();
            clock = Instant::now();
        };
        let analysis = Analysis::new(code, spec);
        let predicted = analysis.predicted_cost();
        if predicted > self.config.compile_budget {
            return Err(CompileError::TooCostly { predicted, budget: self.config.compile_budget });
        }
        lap(&mut phases.analysis);
        let module = context.create_module("evm");
        module.set_triple(&self.target_machine.get_triple());
        module.set_data_layout(&self.target_machine.get_target_data().get_data_layout());
        codegen::emit_function(context, &module, &analysis, name, self.config.opt_level.words())?;
        lap(&mut phases.emit);
        // LLVM's verifier on every module, in every build: invalid IR handed to the passes or
        // the backend can abort the process or miscompile silently, while here it becomes a
        // typed error and the contract runs interpreted. It costs a few per cent of compile
        // time (`phases.verify`).
        module.verify().map_err(|e| CodegenError::Verify(e.to_string()))?;
        lap(&mut phases.verify);
        if let Some(pipeline) = self.config.opt_level.pipeline() {
            module
                .run_passes(pipeline, &self.target_machine, PassBuilderOptions::create())
                .map_err(|e| CompileError::Llvm(e.to_string()))?;
        }
        if let Some(dir) = &self.config.dump_ir_dir {
            let path = dir.join(format!("{}-{spec:?}.ll", keccak256(code)));
            module.print_to_file(&path).map_err(|e| CompileError::Llvm(format!("writing {}: {e}", path.display())))?;
        }
        lap(&mut phases.optimize);
        Ok(module)
    }
}

/// The compile error for a failure to add code to the JIT.
#[cfg(feature = "llvm")]
fn jit_error(error: JitError) -> CompileError {
    match error {
        JitError::Memory(exhausted) => CompileError::OutOfCodeMemory(exhausted),
        JitError::Llvm(message) => CompileError::Llvm(message),
    }
}

/// An LLVM context owned by the compiler until it is handed to the JIT; disposed on any
/// error or panic before that.
#[cfg(feature = "llvm")]
struct ContextGuard(Option<Context>);

#[cfg(feature = "llvm")]
impl ContextGuard {
    fn new() -> Self {
        Self(Some(Context::create()))
    }

    fn get(&self) -> &Context {
        self.0.as_ref().expect("context not yet released")
    }

    /// Gives up ownership, returning the raw context for the JIT to take over.
    fn release(mut self) -> inkwell::llvm_sys::prelude::LLVMContextRef {
        let context = self.0.take().expect("released once");
        let raw = context.raw();
        std::mem::forget(context);
        raw
    }
}

#[cfg(feature = "llvm")]
impl Drop for ContextGuard {
    fn drop(&mut self) {
        // Any module of this context was dropped before (it is declared after the guard).
        drop(self.0.take());
    }
}

/// Sets LLVM's process-wide code generation options, once.
///
/// Machine LICM is turned off: a dynamic jump makes the whole contract one loop around the
/// jump table, so LICM hoists values out of "the loop" into the entry, where they stay live
/// across the entire function. That tripled the register allocator's time on large contracts
/// (snailtracer: 6.4 s to 2.1 s of codegen) and made no measurable difference to run time.
/// Environment variable with extra LLVM command-line options, read once per process.
#[cfg(feature = "llvm")]
pub const LLVM_ARGS_VAR: &str = "REVM_JIT_LLVM_ARGS";

#[cfg(feature = "llvm")]
fn configure_llvm_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // No machine scheduler before register allocation: measured with callgrind on
        // compiling fiat_token and uniswap_v2_pair at `Default`, 6.1% fewer instructions
        // (13.16 G to 12.36 G), with every bench ratio within 2.5% of the scheduled code's
        // (out-of-order cores reorder what it would have).
        let mut options =
            vec!["revm-jit".to_owned(), "-disable-machine-licm".to_owned(), "-enable-misched=false".to_owned()];
        // A diagnostic knob: extra LLVM options (e.g. `-time-passes`) to see where compile
        // time goes without rebuilding. Options LLVM does not know make it print an error.
        if let Ok(extra) = std::env::var(LLVM_ARGS_VAR) {
            options.extend(extra.split_whitespace().map(str::to_owned));
        }
        let options: Vec<std::ffi::CString> =
            options.into_iter().filter_map(|o| std::ffi::CString::new(o).ok()).collect();
        let args: Vec<*const std::ffi::c_char> = options.iter().map(|o| o.as_ptr()).collect();
        // SAFETY: `args` points into `options`, NUL-terminated strings that outlive the call,
        // and the overview is a valid C string; LLVM copies what it keeps. `Once` makes this
        // the only call, before any code generation of this compiler starts.
        unsafe {
            inkwell::llvm_sys::support::LLVMParseCommandLineOptions(
                args.len() as i32,
                args.as_ptr(),
                c"revm-jit".as_ptr(),
            )
        };
    });
}

/// The text of a caught panic's payload (the compiler and the background workers contain
/// panics and report them with it).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
