//! The runtime: the cache of compiled code and the handle every [`crate::JitEvm`] looks code up
//! through.
//!
//! A lookup is one cache probe keyed by (code hash, [`SpecId`]). In eager mode a miss compiles
//! the contract on the caller's thread before it runs (what `--mode jit` uses: every frame with
//! code runs native). Contracts that failed to compile are remembered and not retried.

mod stats;

pub use stats::{JitStats, StatsSnapshot};

use crate::compiler::{CompileError, CompiledFn, Compiler, CompilerConfig};
use revm::primitives::{B256, hardfork::SpecId};
use std::{cell::RefCell, sync::Arc, time::Instant};

/// Key of compiled code: the same bytecode compiles differently per fork.
pub type CodeKey = (B256, SpecId);

/// Keys are keccak hashes already: a fast non-cryptographic hasher is enough (moka's default
/// SipHash showed up in every profile of call-heavy code).
type KeyHasher = alloy_primitives::map::DefaultHashBuilder;

/// Runtime settings.
#[derive(Clone, Debug)]
pub struct JitConfig {
    /// Compiler settings used for every contract.
    pub compiler: CompilerConfig,
    /// Compile on the caller's thread at the first lookup (no background compiler).
    pub eager: bool,
    /// Cache capacity, in bytes of bytecode compiled (a proxy for machine-code size).
    pub cache_capacity_bytes: u64,
    /// Bytecode longer than this is never compiled.
    pub max_bytecode_len: usize,
}

impl Default for JitConfig {
    fn default() -> Self {
        Self {
            compiler: CompilerConfig::default(),
            eager: false,
            cache_capacity_bytes: 256 * 1024 * 1024,
            max_bytecode_len: 64 * 1024,
        }
    }
}

impl JitConfig {
    /// Eager mode: every contract is compiled on first sight, on the caller's thread.
    pub fn eager() -> Self {
        Self { eager: true, ..Self::default() }
    }
}

/// Owns the runtime's shared state; hand out [`JitHandle`]s to the EVMs that use it.
#[derive(Debug)]
pub struct JitRuntime {
    shared: Arc<Shared>,
}

/// A cheap, cloneable, `Send + Sync` reference to a [`JitRuntime`], held by each `JitEvm`.
#[derive(Clone, Debug)]
pub struct JitHandle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: JitConfig,
    cache: moka::sync::Cache<CodeKey, CompiledFn, KeyHasher>,
    failed: moka::sync::Cache<CodeKey, Arc<str>, KeyHasher>,
    stats: JitStats,
}

thread_local! {
    /// One compiler per thread that compiles eagerly (LLVM target state is per thread).
    static THREAD_COMPILER: RefCell<Option<Compiler>> = const { RefCell::new(None) };
}

impl JitRuntime {
    /// Creates a runtime with `config`.
    pub fn new(config: JitConfig) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(config.cache_capacity_bytes)
            .weigher(|_, f: &CompiledFn| u32::try_from(f.bytecode_len.max(1)).unwrap_or(u32::MAX))
            .build_with_hasher(KeyHasher::default());
        let failed = moka::sync::Cache::builder().max_capacity(100_000).build_with_hasher(KeyHasher::default());
        Self { shared: Arc::new(Shared { config, cache, failed, stats: JitStats::default() }) }
    }

    /// A handle for EVMs to look code up through.
    pub fn handle(&self) -> JitHandle {
        JitHandle { shared: Arc::clone(&self.shared) }
    }
}

impl JitHandle {
    /// Returns compiled code for `(code_hash, spec)` if there is some (compiling it first in
    /// eager mode). `code` is the frame's bytecode, used only on a miss.
    pub fn lookup(&self, code_hash: B256, spec: SpecId, code: &[u8]) -> Option<CompiledFn> {
        let shared = &*self.shared;
        shared.stats.lookups.inc();
        let key = (code_hash, spec);
        if let Some(f) = shared.cache.get(&key) {
            shared.stats.hits.inc();
            return Some(f);
        }
        shared.stats.misses.inc();
        if !shared.config.eager || shared.failed.contains_key(&key) || code.len() > shared.config.max_bytecode_len {
            return None;
        }
        self.compile_now(key, code).ok()
    }

    /// Compiles on the calling thread and caches the result (or the failure).
    pub fn compile_now(&self, key: CodeKey, code: &[u8]) -> Result<CompiledFn, Arc<str>> {
        let shared = &*self.shared;
        let start = Instant::now();
        let result = THREAD_COMPILER.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(Compiler::new(shared.config.compiler.clone())?);
            }
            slot.as_mut().expect("compiler initialised").compile(code, key.1)
        });
        shared.stats.compile_ns.add(start.elapsed().as_nanos() as u64);
        match result {
            Ok(f) => {
                shared.stats.compiled.inc();
                shared.cache.insert(key, f.clone());
                Ok(f)
            }
            Err(e) => {
                self.record_failure(key, &e);
                Err(e.to_string().into())
            }
        }
    }

    fn record_failure(&self, key: CodeKey, error: &CompileError) {
        if !matches!(error, CompileError::EmptyCode) {
            tracing::warn!(code_hash = %key.0, spec = ?key.1, %error, "compilation failed; running interpreted");
        }
        self.shared.stats.failed.inc();
        self.shared.failed.insert(key, error.to_string().into());
    }

    /// A snapshot of the runtime's counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }
}
