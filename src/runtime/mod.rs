//! The runtime: the cache of compiled code, the background compiler, and the handle every
//! [`crate::JitEvm`] looks code up through.
//!
//! A lookup is one cache probe keyed by (code hash, [`SpecId`]). On a miss the handle sends a
//! hotness event over a bounded channel without blocking (dropped and counted when the channel
//! is full). A coordinator thread counts misses per key and, once a key is hot, hands it to a
//! worker thread, which compiles it and inserts the result into the cache, where the very next
//! frame of every `JitEvm` finds it. Contracts that failed to compile, and bytecode longer than
//! the configured limit, are never retried.
//!
//! In eager mode a miss compiles on the caller's thread instead (what `--mode jit` uses).

mod background;
mod stats;

pub use stats::{JitStats, StatsSnapshot};

use crate::compiler::{CompileError, CompiledFn, Compiler, CompilerConfig};
use background::{Background, HotEvent};
use revm::bytecode::Bytecode;
use revm::primitives::{B256, hardfork::SpecId};
use std::{
    cell::RefCell,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// Key of compiled code: the same bytecode compiles differently per fork.
pub type CodeKey = (B256, SpecId);

/// Keys are keccak hashes already: a fast non-cryptographic hasher is enough (moka's default
/// SipHash showed up in every profile of call-heavy code).
type KeyHasher = alloy_primitives::map::DefaultHashBuilder;

/// Runtime settings. The defaults suit a node: compile in the background what ran interpreted
/// a few times, with one worker, and keep up to 256 MiB of machine code.
#[derive(Clone, Debug)]
pub struct JitConfig {
    /// Compiler settings used for every contract.
    pub compiler: CompilerConfig,
    /// Compile on the caller's thread at the first lookup (no background compiler).
    pub eager: bool,
    /// A contract is compiled once it missed the cache more than this many times (0: at the
    /// first miss). Default 8.
    pub hot_threshold: u32,
    /// Background compiler threads. Default 1.
    pub workers: usize,
    /// Capacity of the hotness-event channel; events beyond it are dropped and counted.
    /// Default 4096.
    pub channel_capacity: usize,
    /// Cache capacity, in bytes of machine code. Default 256 MiB.
    pub cache_capacity_bytes: u64,
    /// Compiled code unused for this long is evicted. Default: never.
    pub cache_time_to_idle: Option<Duration>,
    /// Bytecode longer than this is never compiled. Default 64 KiB.
    pub max_bytecode_len: usize,
    /// After sending a hotness event, wait up to this long for the background compiler to
    /// produce the code (tests and benchmarks use it to make frames run native without
    /// compiling on the caller's thread; a node leaves it `None`). Default `None`.
    pub wait_for_compile: Option<Duration>,
}

impl Default for JitConfig {
    fn default() -> Self {
        Self {
            compiler: CompilerConfig::default(),
            eager: false,
            hot_threshold: 8,
            workers: 1,
            channel_capacity: 4096,
            cache_capacity_bytes: 256 * 1024 * 1024,
            cache_time_to_idle: None,
            max_bytecode_len: 64 * 1024,
            wait_for_compile: None,
        }
    }
}

impl JitConfig {
    /// Eager mode: every contract is compiled on first sight, on the caller's thread.
    pub fn eager() -> Self {
        Self { eager: true, ..Self::default() }
    }
}

/// Owns the runtime: the cache and the background compiler threads. Hand out [`JitHandle`]s
/// to the EVMs that use it. Dropping it stops the threads (waiting up to five seconds for a
/// compilation in progress); handles that outlive it keep serving what is cached.
#[derive(Debug)]
pub struct JitRuntime {
    shared: Arc<Shared>,
    background: Option<Background>,
}

/// A cheap, cloneable, `Send + Sync` reference to a [`JitRuntime`], held by each `JitEvm`.
#[derive(Clone, Debug)]
pub struct JitHandle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: JitConfig,
    enabled: AtomicBool,
    cache: moka::sync::Cache<CodeKey, CompiledFn, KeyHasher>,
    failed: moka::sync::Cache<CodeKey, Arc<str>, KeyHasher>,
    stats: Arc<JitStats>,
    events: Option<crossbeam_channel::Sender<HotEvent>>,
}

thread_local! {
    /// One compiler per compiling thread (LLVM target state is per thread).
    static THREAD_COMPILER: RefCell<Option<Compiler>> = const { RefCell::new(None) };
}

impl JitRuntime {
    /// Creates a runtime with `config`, starting the background compiler unless it is eager.
    pub fn new(config: JitConfig) -> Self {
        let stats = Arc::new(JitStats::default());
        let evictions = Arc::clone(&stats);
        let mut cache = moka::sync::Cache::builder()
            .max_capacity(config.cache_capacity_bytes)
            .weigher(|_, f: &CompiledFn| u32::try_from(f.cache_weight()).unwrap_or(u32::MAX))
            .eviction_listener(move |_, _, cause| {
                if cause.was_evicted() {
                    evictions.evictions.inc();
                }
            });
        if let Some(idle) = config.cache_time_to_idle {
            cache = cache.time_to_idle(idle);
        }
        let cache = cache.build_with_hasher(KeyHasher::default());
        let failed = moka::sync::Cache::builder().max_capacity(100_000).build_with_hasher(KeyHasher::default());
        let (events, receiver) = if config.eager {
            (None, None)
        } else {
            let (tx, rx) = crossbeam_channel::bounded(config.channel_capacity.max(1));
            (Some(tx), Some(rx))
        };
        let shared = Arc::new(Shared { config, enabled: AtomicBool::new(true), cache, failed, stats, events });
        let background = receiver.map(|rx| Background::start(JitHandle { shared: Arc::clone(&shared) }, rx));
        Self { shared, background }
    }

    /// A handle for EVMs to look code up through.
    pub fn handle(&self) -> JitHandle {
        JitHandle { shared: Arc::clone(&self.shared) }
    }

    /// Turns native execution on or off for every `JitEvm` using this runtime, from their
    /// next frame on.
    pub fn set_enabled(&self, enabled: bool) {
        self.shared.enabled.store(enabled, Ordering::Relaxed);
    }
}

impl Drop for JitRuntime {
    fn drop(&mut self) {
        if let Some(background) = self.background.take() {
            background.shutdown(Duration::from_secs(5));
        }
    }
}

impl JitHandle {
    /// Returns compiled code for `(code_hash, spec)` if there is some. On a miss it reports
    /// the contract as used (or, in eager mode, compiles it now). `code` is the frame's
    /// bytecode, read only on a miss.
    pub fn lookup(&self, code_hash: B256, spec: SpecId, code: &Bytecode) -> Option<CompiledFn> {
        let shared = &*self.shared;
        if !shared.enabled.load(Ordering::Relaxed) {
            return None;
        }
        shared.stats.lookups.inc();
        let key = (code_hash, spec);
        if let Some(f) = shared.cache.get(&key) {
            shared.stats.hits.inc();
            return Some(f);
        }
        shared.stats.misses.inc();
        if shared.failed.contains_key(&key) || code.original_byte_slice().len() > shared.config.max_bytecode_len {
            return None;
        }
        if shared.config.eager {
            return self.compile_now(key, code.original_byte_slice()).ok();
        }
        self.report_hot(key, code);
        let wait = shared.config.wait_for_compile?;
        self.wait_for(key, wait)
    }

    /// Whether native execution is on for this runtime.
    pub fn is_enabled(&self) -> bool {
        self.shared.enabled.load(Ordering::Relaxed)
    }

    /// Sends a hotness event without blocking; a full channel drops it (counted).
    fn report_hot(&self, key: CodeKey, code: &Bytecode) {
        let Some(events) = &self.shared.events else { return };
        match events.try_send(HotEvent { key, code: code.original_bytes() }) {
            Ok(()) => self.shared.stats.events_sent.inc(),
            Err(_) => self.shared.stats.events_dropped.inc(),
        }
    }

    /// Polls the cache until the background compiler produced `key`, it failed, or `wait`
    /// passed.
    fn wait_for(&self, key: CodeKey, wait: Duration) -> Option<CompiledFn> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(f) = self.shared.cache.get(&key) {
                return Some(f);
            }
            if self.shared.failed.contains_key(&key) || Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
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

    /// Remembers that `key` failed, so it is never retried.
    fn record_failure(&self, key: CodeKey, error: &CompileError) {
        if !matches!(error, CompileError::EmptyCode) {
            tracing::warn!(code_hash = %key.0, spec = ?key.1, %error, "compilation failed; running interpreted");
        }
        self.shared.stats.failed.inc();
        self.shared.failed.insert(key, error.to_string().into());
    }

    /// Whether `key` is cached or known to fail (the coordinator skips those).
    fn is_settled(&self, key: &CodeKey) -> bool {
        self.shared.cache.contains_key(key) || self.shared.failed.contains_key(key)
    }

    /// A snapshot of the runtime's counters.
    pub fn stats(&self) -> StatsSnapshot {
        let mut snapshot = self.shared.stats.snapshot();
        // moka applies inserts and evictions to its size lazily; settle them for an exact count.
        self.shared.cache.run_pending_tasks();
        snapshot.cached_entries = self.shared.cache.entry_count();
        snapshot.resident_code_bytes = self.shared.cache.weighted_size();
        snapshot
    }

    fn config(&self) -> &JitConfig {
        &self.shared.config
    }

    fn stats_counters(&self) -> &JitStats {
        &self.shared.stats
    }
}
