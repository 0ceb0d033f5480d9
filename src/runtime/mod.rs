//! The runtime: the cache of compiled code, the background compiler, and the handle every
//! [`crate::JitEvm`] looks code up through.
//!
//! A lookup is one cache probe keyed by (code hash, [`SpecId`]). On a miss the handle counts
//! the miss in a table of hashed slots (an atomic increment, no message), and only the miss
//! that makes a key hot sends an event over a bounded channel, without blocking (dropped and
//! counted when the channel is full). A coordinator thread hands hot keys to worker threads,
//! which compile them and insert the result into the cache, where the very next frame of
//! every `JitEvm` finds it. Contracts that failed to compile, and bytecode longer than the
//! configured limit, are never retried. Every lookup that returns no native code says why
//! ([`Fallback`]), and is counted under that reason in the stats.
//!
//! In eager mode a miss compiles on the caller's thread instead (what `--mode jit` uses).
//!
//! Lifecycle: [`JitRuntime::new`] starts the background compiler (and preloading of the
//! artifact store, in the background) unless the configuration says disabled;
//! [`JitRuntime::disabled`] starts nothing until a [`JitHandle::set_enabled`] turns it on;
//! [`JitRuntime::shutdown`] stops it and reports what it abandoned.

mod background;
mod config;
mod hits;
mod hotness;
#[cfg(feature = "metrics")]
mod metrics;
mod stats;

pub use config::{CompileCallback, ConfigError, JitConfig};
pub use stats::{Fallback, FallbackCounts, JitStats, StatsSnapshot};

use crate::compiler::{CompileError, CompiledFn, LATEST_SUPPORTED_SPEC, OptLevel};
#[cfg(feature = "llvm")]
use crate::compiler::{Compiler, CompilerConfig, aot};
use crate::store::{ArtifactError, ArtifactKey, ArtifactStatus, ArtifactStore};
use background::{Background, HotEvent};
use hits::{HitTable, Probe};
use hotness::{InitcodeSightings, Miss, MissCounters};
use revm::bytecode::Bytecode;
use revm::primitives::{B256, Bytes, hardfork::SpecId, keccak256};
use serde::Serialize;
#[cfg(feature = "llvm")]
use std::{cell::RefCell, sync::Weak};
use std::{
    collections::{BTreeMap, HashMap},
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// Why a compiled contract's artifact did not reach the store (the contract then runs JIT
/// code instead).
#[cfg(feature = "llvm")]
#[derive(Debug, thiserror::Error)]
enum StoreFailure {
    /// Linking failed (no linker, a full scratch disk).
    #[error("linking failed: {0}")]
    Compile(CompileError),
    /// The store files artifacts of another build than the runtime's compiler.
    #[error("the store is for another build than this compiler's")]
    OtherBuild,
    /// Writing failed.
    #[error(transparent)]
    Write(crate::store::StoreError),
    /// Written, but not found when loaded back.
    #[error("the artifact was not found after it was written")]
    NotStored,
    /// Written, but refused when loaded back.
    #[error(transparent)]
    Refused(ArtifactError),
}

/// Key of compiled code: the same bytecode compiles differently per fork.
pub type CodeKey = (B256, SpecId);

/// Keys are keccak hashes already: a fast non-cryptographic hasher is enough (moka's default
/// SipHash showed up in every profile of call-heavy code).
type KeyHasher = alloy_primitives::map::DefaultHashBuilder;

/// Where a compilation puts its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompileTarget {
    /// In-process JIT code, into the cache (or the store, with
    /// [`JitConfig::write_artifacts`]).
    Cache,
    /// An AOT artifact written to the configured store (then loaded into the cache from
    /// there), so that the next start of the node finds it.
    Store,
}

/// What one compilation did, handed to [`JitConfig::on_compile`].
#[derive(Clone, Debug, Serialize)]
pub struct CompileEvent {
    /// The contract's code hash and fork.
    pub key: CodeKey,
    /// Wall-clock time it took (including a load from the store).
    pub elapsed: Duration,
    /// The bytecode's length.
    pub bytecode_len: usize,
    /// What the compiled code weighs in the cache (machine code plus bookkeeping); 0 on
    /// failure.
    pub code_size: usize,
    /// How it ended.
    pub outcome: CompileOutcome,
}

/// How a compilation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompileOutcome {
    /// Compiled; the code is in the cache.
    Compiled,
    /// A valid artifact was found in the store and loaded instead.
    LoadedFromStore,
    /// Baseline code was recompiled at the configured level and replaced in the cache (see
    /// [`JitConfig::tier_up_gas`]).
    Optimized,
    /// Failed: never retried, the contract runs interpreted. The reason frames will report,
    /// and the error's message.
    Failed {
        /// What frames of this contract report from now on.
        reason: Fallback,
        /// The compiler's error.
        error: String,
    },
}

/// What became of a request to compile a contract ([`JitHandle::request_compile`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestOutcome {
    /// Sent to the background compiler.
    Queued,
    /// Already compiled: nothing to do.
    AlreadyCached,
    /// The contract is never compiled, for this reason (too large, failed before, a fork the
    /// compiler does not support).
    Refused(Fallback),
    /// The request channel is full; try again later.
    Busy,
    /// No background compiler runs: the runtime is eager, disabled (not started yet) or shut
    /// down.
    NotRunning,
    /// A store target was asked for, but no store is configured.
    NoStore,
}

/// Why [`JitHandle::compile_to_store`] produced no code.
#[derive(Debug, thiserror::Error)]
pub enum ToStoreError {
    /// The runtime has no store ([`JitConfig::store`]).
    #[error("no artifact store is configured")]
    NoStore,
    /// Compilation failed.
    #[error(transparent)]
    Compile(#[from] CompileError),
}

/// Owns the runtime: the cache and the background compiler threads. Hand out [`JitHandle`]s
/// to the EVMs that use it. Stop it with [`JitRuntime::shutdown`], or drop it (which waits
/// up to five seconds for a compilation in progress); handles that outlive it keep serving
/// what is cached and compile nothing more.
#[derive(Debug)]
pub struct JitRuntime {
    shared: Arc<Shared>,
}

/// What preloading the artifact store at start-up did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PreloadReport {
    /// Artifacts loaded into the cache.
    pub loaded: u64,
    /// Artifacts refused, by [`crate::store::ArtifactError::reason`] (damaged, or built by another build).
    pub refused: BTreeMap<&'static str, u64>,
    /// The store could not be listed at all (the runtime then starts empty).
    pub list_error: Option<String>,
    /// Whether the time limit (or a shutdown) stopped preloading early.
    pub timed_out: bool,
    /// How long preloading took.
    pub elapsed: Duration,
}

impl PreloadReport {
    /// Artifacts refused, over all reasons.
    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }
}

/// What [`JitRuntime::shutdown`] left undone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ShutdownReport {
    /// Contracts reported hot or requested, and not yet started by a worker: never compiled.
    pub abandoned_queued: Vec<CodeKey>,
    /// Contracts a worker was still compiling when the timeout ran out. The workers finish
    /// them on their own (LLVM cannot be interrupted) and cache the code, which handles that
    /// outlive the runtime may still use.
    pub abandoned_in_flight: Vec<CodeKey>,
    /// Threads still busy at the timeout, left to end on their own.
    pub detached_threads: usize,
    /// How long the shutdown took.
    pub elapsed: Duration,
}

impl ShutdownReport {
    /// Whether nothing was abandoned.
    pub fn is_clean(&self) -> bool {
        self.abandoned_queued.is_empty() && self.abandoned_in_flight.is_empty() && self.detached_threads == 0
    }
}

/// A cheap, cloneable, `Send + Sync` reference to a [`JitRuntime`], held by each `JitEvm`.
#[derive(Clone, Debug)]
pub struct JitHandle {
    shared: Arc<Shared>,
}

/// Where a hot contract is on its way to the cache (for [`Fallback`] reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Queued,
    Compiling,
}

/// The running threads, started at most once.
#[derive(Debug, Default)]
struct Lifecycle {
    /// Whether the background compiler (and preloading) was started.
    started: bool,
    /// The coordinator's end of the hotness channel, until it starts.
    events: Option<crossbeam_channel::Receiver<HotEvent>>,
    background: Option<Background>,
}

/// Preloading of the artifact store.
#[derive(Debug, Default)]
enum PreloadState {
    /// Not started (no store, or the runtime was never enabled).
    #[default]
    NotStarted,
    Running,
    Done(PreloadReport),
}

#[derive(Debug)]
struct Shared {
    config: JitConfig,
    enabled: AtomicBool,
    /// Set once by a shutdown: nothing more is compiled or sent.
    stopped: AtomicBool,
    cache: moka::sync::Cache<CodeKey, CompiledFn, KeyHasher>,
    /// Recently hit entries of `cache`, probed before it.
    hit_table: Arc<HitTable>,
    /// Contracts that failed to compile: the frames' reason and the error.
    failed: moka::sync::Cache<CodeKey, (Fallback, Arc<str>), KeyHasher>,
    stats: Arc<JitStats>,
    events: Option<crossbeam_channel::Sender<HotEvent>>,
    /// Misses per key (hashed into slots), counted where they happen.
    misses: MissCounters,
    /// Initcode seen, by fingerprint: initcode is hashed only once it repeats.
    initcode: InitcodeSightings,
    /// Hot contracts on their way to the cache. Probed only on misses of keys past the hot
    /// threshold, which are few and brief.
    pending: Mutex<HashMap<CodeKey, Pending>>,
    lifecycle: Mutex<Lifecycle>,
    preload: (Mutex<PreloadState>, Condvar),
}

#[cfg(feature = "llvm")]
thread_local! {
    /// The compilers of this thread, one per runtime and level that compiled on it (a
    /// compiler is not `Send`: LLVM target state is per thread). Each runtime gets its own,
    /// made from its own [`JitConfig::compiler`], so two runtimes with different settings
    /// (opt level, injected faults) never share one; a tiered runtime has one per tier. Compilers of dropped runtimes are dropped at this thread's
    /// next compilation.
    static THREAD_COMPILERS: RefCell<Vec<(Weak<Shared>, Compiler)>> = const { RefCell::new(Vec::new()) };
}

/// Locks `mutex`, recovering from a poisoned lock: every state behind the runtime's mutexes
/// is valid after any panic (sets of keys, an `Option`), and a panic in one thread must not
/// take the node down with it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl JitRuntime {
    /// Creates a runtime with `config`. Unless [`JitConfig::enabled`] is off, starts the
    /// background compiler (unless eager) and preloads the store in the background (frames run
    /// interpreted until their artifact is in; [`JitRuntime::wait_for_preload`] waits for
    /// it).
    pub fn new(config: JitConfig) -> Self {
        let stats = Arc::new(JitStats::default());
        let evictions = Arc::clone(&stats);
        let hit_table = Arc::new(HitTable::new(config.cache_time_to_idle));
        let removals = Arc::clone(&hit_table);
        // LRU, not moka's default TinyLFU: what reaches the cache was judged hot by the
        // runtime's own miss counters and paid for a compilation, and TinyLFU's admission
        // filter would second-guess that with a frequency estimate that sees little (hits are
        // served by the hit table and touch the cache once per touch interval; misses of
        // absent keys are not recorded, see `cached`), dropping freshly compiled code when
        // the cache is full.
        let mut cache = moka::sync::Cache::builder()
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            .max_capacity(config.cache_capacity_bytes)
            .weigher(|_, f: &CompiledFn| u32::try_from(f.cache_weight()).unwrap_or(u32::MAX))
            .eviction_listener(move |key, _, cause| {
                removals.forget(&key);
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
        let misses = MissCounters::new(config.hot_threshold);
        // Eager mode compiles everything at first sight, initcode included.
        let initcode = InitcodeSightings::new(if config.eager { 0 } else { config.hot_threshold });
        let enabled = AtomicBool::new(config.enabled);
        let shared = Arc::new(Shared {
            config,
            enabled,
            stopped: AtomicBool::new(false),
            cache,
            hit_table,
            failed,
            stats,
            events,
            misses,
            initcode,
            pending: Mutex::new(HashMap::new()),
            lifecycle: Mutex::new(Lifecycle { started: false, events: receiver, background: None }),
            preload: (Mutex::new(PreloadState::NotStarted), Condvar::new()),
        });
        let runtime = Self { shared };
        if runtime.shared.config.enabled {
            runtime.handle().start();
        }
        runtime
    }

    /// A runtime that is off: it starts no thread, loads nothing, and every lookup runs
    /// interpreted ([`Fallback::Disabled`]) until a [`JitHandle::set_enabled`]`(true)` starts
    /// it with the default configuration. For a node that builds its EVMs with a JIT handle
    /// whether or not the operator turned the JIT on.
    pub fn disabled() -> Self {
        Self::new(JitConfig { enabled: false, ..JitConfig::default() })
    }

    /// What preloading the artifact store did, once it is done: waits for it up to
    /// [`JitConfig::preload_timeout`] (and a second). Empty without a store, or when preloading
    /// never started (a runtime that was never enabled).
    pub fn preload_report(&self) -> PreloadReport {
        self.wait_for_preload(self.shared.config.preload_timeout + Duration::from_secs(1)).unwrap_or_default()
    }

    /// Waits up to `timeout` for preloading to end, and returns what it did; `None` while it
    /// still runs at the timeout. Returns at once with an empty report when there is nothing
    /// to preload (no store, or a runtime that was never started).
    pub fn wait_for_preload(&self, timeout: Duration) -> Option<PreloadReport> {
        let (state, done) = &self.shared.preload;
        let deadline = Instant::now() + timeout;
        let mut state = lock(state);
        loop {
            match &*state {
                PreloadState::NotStarted => return Some(PreloadReport::default()),
                PreloadState::Done(report) => return Some(report.clone()),
                PreloadState::Running => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    state = done.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
                }
            }
        }
    }

    /// The configuration this runtime was created with: for tools built on a runtime (and
    /// their tests) to report or check the settings in force, e.g. after
    /// [`JitConfig::from_env`] applied `REVM_JIT_*` overrides.
    pub fn config(&self) -> &JitConfig {
        &self.shared.config
    }

    /// A handle for EVMs to look code up through.
    pub fn handle(&self) -> JitHandle {
        JitHandle { shared: Arc::clone(&self.shared) }
    }

    /// Turns native execution on or off for every `JitEvm` using this runtime, from their
    /// next frame on (see [`JitHandle::set_enabled`]).
    pub fn set_enabled(&self, enabled: bool) {
        self.handle().set_enabled(enabled);
    }

    /// Stops the background compiler: nothing more is queued or compiled, queued contracts are
    /// dropped, and the threads are joined if they end within `timeout` (a compilation in
    /// progress cannot be interrupted; a thread still busy then is left to finish on its own).
    /// Reports what was abandoned. Handles keep serving what is cached.
    pub fn shutdown(self, timeout: Duration) -> ShutdownReport {
        self.handle().stop(timeout)
    }
}

impl Drop for JitRuntime {
    fn drop(&mut self) {
        let report = self.handle().stop(Duration::from_secs(5));
        if !report.is_clean() {
            tracing::debug!(?report, "runtime dropped with work left");
        }
    }
}

impl JitHandle {
    /// Returns compiled code for `(code_hash, spec)` if there is some; see
    /// [`JitHandle::lookup_outcome`], which also says why there is none.
    ///
    /// Code in the cache was compiled from bytes whose keccak hash is `code_hash` (compilation
    /// checks it), but `code_hash` is the caller's word: a frame whose account's code hash
    /// does not match its code may be handed code compiled from other bytes. Check with
    /// [`CompiledFn::is_compiled_from`] before running it, as [`crate::evm::run_native`] and
    /// [`crate::JitEvm`] do.
    pub fn lookup(&self, code_hash: B256, spec: SpecId, code: &Bytecode) -> Option<CompiledFn> {
        self.lookup_outcome(code_hash, spec, code).ok()
    }

    /// Compiled code for `(code_hash, spec)`, or why the frame must run interpreted (counted
    /// in [`StatsSnapshot::interpreted`]). On a miss it counts the contract as used and, when
    /// that makes it hot, reports it to the background compiler (or, in eager mode, compiles
    /// it now). `code` is the frame's bytecode, read only on a miss. The same caveat about
    /// `code_hash` as for [`JitHandle::lookup`] applies.
    pub fn lookup_outcome(&self, code_hash: B256, spec: SpecId, code: &Bytecode) -> Result<CompiledFn, Fallback> {
        let shared = &*self.shared;
        if !shared.enabled.load(Ordering::Relaxed) {
            shared.stats.count_fallback(Fallback::Disabled);
            return Err(Fallback::Disabled);
        }
        let key = (code_hash, spec);
        if let Some(f) = self.cached(&key) {
            shared.stats.hits.inc();
            return Ok(f);
        }
        shared.stats.misses.inc();
        let outcome = self.on_miss(key, code, shared.misses.miss(&key));
        if let Err(reason) = outcome {
            shared.stats.count_fallback(reason);
        }
        outcome
    }

    /// A lookup of a key that already missed in this transaction with `reason` (a `JitEvm`
    /// remembers misses per transaction): the miss is counted towards hotness without probing
    /// the cache, unless it is the miss that makes the key hot, which looks up as
    /// [`JitHandle::lookup_outcome`] does. Code compiled meanwhile is found by the next
    /// transaction.
    pub(crate) fn lookup_again(&self, key: CodeKey, code: &Bytecode, reason: Fallback) -> Result<CompiledFn, Fallback> {
        let shared = &*self.shared;
        if !shared.enabled.load(Ordering::Relaxed) {
            shared.stats.count_fallback(Fallback::Disabled);
            return Err(Fallback::Disabled);
        }
        let outcome = if reason.is_transient() {
            match shared.misses.miss(&key) {
                Miss::Report => {
                    if let Some(f) = self.cached(&key) {
                        shared.stats.hits.inc();
                        return Ok(f);
                    }
                    self.on_miss(key, code, Miss::Report)
                }
                _ => Err(reason),
            }
        } else {
            Err(reason)
        };
        shared.stats.misses.inc();
        if let Err(reason) = outcome {
            shared.stats.count_fallback(reason);
        }
        outcome
    }

    /// Counts `gas` that a frame spent in `f`, when `f` is baseline code of a tiered runtime:
    /// the addition that makes it reach [`JitConfig::tier_up_gas`] asks for the tier-up.
    /// Called after every native entry; code of any other level costs one comparison here.
    pub(crate) fn count_baseline_gas(&self, f: &CompiledFn, gas: u64) {
        if !f.is_baseline() || !self.tiers() {
            return;
        }
        if let Some(threshold) = self.shared.config.tier_up_gas
            && f.add_baseline_gas(gas, threshold)
        {
            self.report_tier_up((f.code_hash, f.spec), f);
        }
    }

    /// Sends `key`'s baseline code `f` to the background compiler for its optimising
    /// recompilation, from the bytes it was compiled from. When the event cannot be sent (a
    /// full channel), the count starts over, so the tier-up is asked for again later.
    fn report_tier_up(&self, key: CodeKey, f: &CompiledFn) {
        let shared = &*self.shared;
        let (Some(events), Some(code)) = (&shared.events, f.source_bytes()) else { return };
        // Eager mode compiled both tiers at once; baseline code it holds is a failed tier-up.
        if shared.config.eager || shared.stopped.load(Ordering::Relaxed) {
            return;
        }
        let event = HotEvent { key, code: code.clone(), target: CompileTarget::Cache, optimize: true };
        match events.try_send(event) {
            Ok(()) => shared.stats.events_sent.inc(),
            Err(_) => {
                shared.stats.events_dropped.inc();
                f.reset_baseline_gas();
            }
        }
    }

    /// The cached code for `key`: from the hit table, else from the cache (and then into the
    /// hit table).
    /// The code cached for `key` if native execution is on and it was compiled from `code`:
    /// for a frame that started in the interpreter while its code compiled and looks again at
    /// a loop head. Its miss was counted at its lookup; this counts nothing.
    pub(crate) fn ready_for(&self, key: &CodeKey, code: &Bytes) -> Option<CompiledFn> {
        if !self.is_enabled() {
            return None;
        }
        self.cached(key).filter(|compiled| compiled.is_compiled_from_bytes(code))
    }

    /// Counts a native run that handed its frame to the interpreter part-way.
    pub(crate) fn count_handoff(&self) {
        self.shared.stats.handoffs.inc();
    }

    /// Counts a frame handed to native code at a loop head (see [`JitHandle::ready_for`]).
    pub(crate) fn count_loop_entry(&self) {
        self.shared.stats.loop_entries.inc();
    }

    fn cached(&self, key: &CodeKey) -> Option<CompiledFn> {
        let shared = &*self.shared;
        match shared.hit_table.probe(key) {
            Probe::Hit { compiled, touch: false } => Some(compiled),
            Probe::Hit { compiled, touch: true } => {
                // Tells the cache the entry is in use. If the cache let it go (evicted, or
                // expired before its listener ran), so does the table.
                if shared.cache.get(key).is_none() {
                    shared.hit_table.forget(key);
                    return None;
                }
                Some(compiled)
            }
            Probe::Miss => {
                // `contains_key` first: for a key the cache does not hold it hashes and probes
                // the map, where `get` also reads the clock and records the miss (a third of
                // a miss's cost), for an admission policy this cache does not use (LRU).
                if !shared.cache.contains_key(key) {
                    return None;
                }
                let compiled = shared.cache.get(key)?;
                shared.hit_table.put(*key, compiled.clone());
                Some(compiled)
            }
        }
    }

    /// What a cache miss of `key` leads to, given how the miss counted towards hotness.
    fn on_miss(&self, key: CodeKey, code: &Bytecode, miss: Miss) -> Result<CompiledFn, Fallback> {
        let shared = &*self.shared;
        if code.original_byte_slice().len() > shared.config.max_bytecode_len {
            return Err(Fallback::TooLarge);
        }
        // A fork the compiler does not support is found by compiling once (cheap: refused
        // before any codegen), and then remembered as failed with that reason.
        if shared.config.eager {
            if let Some(reason) = self.failure_reason(&key) {
                return Err(reason);
            }
            return self
                .compile_now(key, code.original_byte_slice())
                .map_err(|_| self.failure_reason(&key).unwrap_or(Fallback::Failed));
        }
        match miss {
            // Most misses end here: counted, nothing sent, no other probe.
            Miss::Cold => Err(Fallback::NotHot),
            Miss::Report => {
                if let Some(reason) = self.failure_reason(&key) {
                    return Err(reason);
                }
                let reason = self.report_hot(key, code.original_bytes(), CompileTarget::Cache);
                #[cfg(feature = "test-hooks")]
                if let Some(wait) = shared.config.wait_for_compile
                    && reason == Fallback::Queued
                {
                    return self.wait_for(key, wait).ok_or(Fallback::Queued);
                }
                Err(reason)
            }
            Miss::Hot => Err(self.hot_reason(&key)),
        }
    }

    /// Why a key past the hot threshold is still not cached.
    fn hot_reason(&self, key: &CodeKey) -> Fallback {
        if let Some(reason) = self.failure_reason(key) {
            return reason;
        }
        if self.shared.stopped.load(Ordering::Relaxed) {
            return Fallback::ShutDown;
        }
        match lock(&self.shared.pending).get(key) {
            Some(Pending::Queued) => Fallback::Queued,
            Some(Pending::Compiling) => Fallback::Compiling,
            // Its slot is hot, but the key itself was not sent yet (it shares the slot with
            // another, or its event was dropped): it is sent at a later miss.
            None => Fallback::NotHot,
        }
    }

    /// Why a frame of `(code_hash, spec)` whose bytecode is `code_len` bytes long would run
    /// interpreted now, or `None` when it would run native code. Counts nothing and changes
    /// nothing: for diagnostics ("why is this contract slow?").
    pub fn why_interpreted(&self, code_hash: B256, spec: SpecId, code_len: usize) -> Option<Fallback> {
        let shared = &*self.shared;
        let key = (code_hash, spec);
        if !shared.enabled.load(Ordering::Relaxed) {
            return Some(Fallback::Disabled);
        }
        if shared.cache.contains_key(&key) {
            return None;
        }
        if code_len > shared.config.max_bytecode_len {
            return Some(Fallback::TooLarge);
        }
        if !LATEST_SUPPORTED_SPEC.is_enabled_in(spec) {
            return Some(Fallback::UnsupportedFork);
        }
        if shared.config.eager {
            // Compiled at its next lookup, unless it failed.
            return Some(self.failure_reason(&key).unwrap_or(Fallback::NotHot));
        }
        Some(self.hot_reason(&key))
    }

    /// The reason frames of `key` report since its compilation failed, if it did.
    fn failure_reason(&self, key: &CodeKey) -> Option<Fallback> {
        self.shared.failed.get(key).map(|(reason, _)| reason)
    }

    /// Counts a lookup that returned no native code for a reason found outside the runtime
    /// (custom tables, initcode not hashed).
    pub(crate) fn count_fallback(&self, reason: Fallback) {
        self.shared.stats.count_fallback(reason);
    }

    /// Counts a sighting of initcode (a frame's code that has no hash yet); true when the
    /// same initcode was seen often enough to be worth hashing and looking up, that is more
    /// than [`JitConfig::hot_threshold`] times (always in eager mode). Counted by a
    /// constant-time fingerprint, not by hashing the code. Initcode not hot enough is counted
    /// as [`Fallback::InitcodeNotHot`].
    pub fn initcode_is_hot(&self, code: &[u8]) -> bool {
        let hot = self.shared.initcode.sighting(code);
        if hot {
            self.shared.stats.initcode_hashed.inc();
        } else {
            self.shared.stats.initcode_skipped.inc();
            self.shared.stats.count_fallback(Fallback::InitcodeNotHot);
        }
        hot
    }

    /// Counts a frame that was not run natively because the code cached under its code hash
    /// was compiled from other bytes than the frame's.
    pub(crate) fn count_code_mismatch(&self) {
        self.shared.stats.code_mismatches.inc();
        self.shared.stats.count_fallback(Fallback::CodeMismatch);
    }

    /// Why the contract with `code_hash` failed to compile for `spec`, if it did (it is then
    /// never retried).
    pub fn compile_failure(&self, code_hash: B256, spec: SpecId) -> Option<Arc<str>> {
        self.shared.failed.get(&(code_hash, spec)).map(|(_, error)| error)
    }

    /// Whether native execution is on for this runtime.
    pub fn is_enabled(&self) -> bool {
        self.shared.enabled.load(Ordering::Relaxed)
    }

    /// Turns native execution on or off for every `JitEvm` using this runtime, from their
    /// next frame on. Turning on a runtime that was made disabled starts its background
    /// compiler and preloading, once; a runtime that was shut down only serves what it has
    /// cached. Turning off keeps the cache: turning on again finds it as it was (less what
    /// idle eviction removed).
    pub fn set_enabled(&self, enabled: bool) {
        if enabled {
            self.start();
        }
        self.shared.enabled.store(enabled, Ordering::Relaxed);
    }

    /// Starts the background compiler and preloading, unless they were started before.
    fn start(&self) {
        let mut lifecycle = lock(&self.shared.lifecycle);
        if lifecycle.started || self.shared.stopped.load(Ordering::Relaxed) {
            return;
        }
        lifecycle.started = true;
        if let Some(events) = lifecycle.events.take() {
            lifecycle.background = Some(Background::start(self.clone(), events));
        }
        if self.shared.config.store.is_some() {
            *lock(&self.shared.preload.0) = PreloadState::Running;
            let handle = self.clone();
            let spawned = std::thread::Builder::new().name("revm-jit-preload".into()).spawn(move || {
                let report = handle.preload();
                *lock(&handle.shared.preload.0) = PreloadState::Done(report);
                handle.shared.preload.1.notify_all();
            });
            if let Err(error) = spawned {
                tracing::warn!(%error, "cannot start preloading; artifacts load on demand");
                *lock(&self.shared.preload.0) = PreloadState::Done(PreloadReport::default());
            }
        }
    }

    /// Stops the runtime (see [`JitRuntime::shutdown`]). Idempotent: a second stop finds
    /// nothing to do.
    fn stop(&self, timeout: Duration) -> ShutdownReport {
        let start = Instant::now();
        self.shared.stopped.store(true, Ordering::Relaxed);
        let background = {
            let mut lifecycle = lock(&self.shared.lifecycle);
            lifecycle.events = None;
            lifecycle.background.take()
        };
        let mut report = match background {
            Some(background) => background.shutdown(timeout),
            None => ShutdownReport::default(),
        };
        lock(&self.shared.pending).clear();
        report.elapsed = start.elapsed();
        if !report.is_clean() {
            tracing::info!(
                queued = report.abandoned_queued.len(),
                in_flight = report.abandoned_in_flight.len(),
                detached = report.detached_threads,
                "JIT runtime shut down with work abandoned"
            );
        }
        report
    }

    /// Asks the background compiler to compile `code` for `spec` now, whether or not it is hot,
    /// without waiting for it (for a node that knows which contracts matter: the top of a
    /// block's gas, a list from its operator). The code is keyed by its own keccak hash.
    pub fn request_compile(&self, spec: SpecId, code: Bytes) -> RequestOutcome {
        self.request(spec, code, CompileTarget::Cache)
    }

    /// Asks the background compiler to compile `code` for `spec` ahead of time into the
    /// store ([`JitConfig::store`]), as an AOT artifact the next start preloads; the code is
    /// cached too. Does not wait. A contract whose artifact is in the store already is only
    /// loaded from it.
    pub fn request_store(&self, spec: SpecId, code: Bytes) -> RequestOutcome {
        if self.shared.config.store.is_none() {
            return RequestOutcome::NoStore;
        }
        self.request(spec, code, CompileTarget::Store)
    }

    fn request(&self, spec: SpecId, code: Bytes, target: CompileTarget) -> RequestOutcome {
        let shared = &*self.shared;
        let key = (keccak256(&code), spec);
        if target == CompileTarget::Cache && shared.cache.contains_key(&key) {
            return RequestOutcome::AlreadyCached;
        }
        if code.len() > shared.config.max_bytecode_len {
            return RequestOutcome::Refused(Fallback::TooLarge);
        }
        if !LATEST_SUPPORTED_SPEC.is_enabled_in(spec) {
            return RequestOutcome::Refused(Fallback::UnsupportedFork);
        }
        if let Some(reason) = self.failure_reason(&key) {
            return RequestOutcome::Refused(reason);
        }
        let running = lock(&shared.lifecycle).background.is_some();
        if !running || shared.stopped.load(Ordering::Relaxed) {
            return RequestOutcome::NotRunning;
        }
        match self.report_hot(key, code, target) {
            Fallback::Queued => RequestOutcome::Queued,
            _ => RequestOutcome::Busy,
        }
    }

    /// Compiles `code` for `spec` on the calling thread into an AOT artifact in the store,
    /// and caches it (a valid artifact already in the store is loaded instead). Blocks for
    /// the compilation and a linker run. When the artifact cannot be written, the contract
    /// is still compiled into the cache and the failed write is counted
    /// ([`StatsSnapshot::store_write_failed`]).
    pub fn compile_to_store(&self, spec: SpecId, code: &[u8]) -> Result<CompiledFn, ToStoreError> {
        if self.shared.config.store.is_none() {
            return Err(ToStoreError::NoStore);
        }
        Ok(self.compile_keyed((keccak256(code), spec), code, CompileTarget::Store)?)
    }

    /// Sends a hotness event without blocking, and marks `key` queued; a full channel drops it
    /// (counted). Returns [`Fallback::Queued`] or [`Fallback::EventDropped`].
    fn report_hot(&self, key: CodeKey, code: Bytes, target: CompileTarget) -> Fallback {
        let shared = &*self.shared;
        let Some(events) = &shared.events else { return Fallback::NotHot };
        if shared.stopped.load(Ordering::Relaxed) {
            return Fallback::ShutDown;
        }
        let newly = lock(&shared.pending).insert(key, Pending::Queued).is_none();
        match events.try_send(HotEvent { key, code, target, optimize: false }) {
            Ok(()) => {
                shared.stats.events_sent.inc();
                Fallback::Queued
            }
            Err(_) => {
                shared.stats.events_dropped.inc();
                if newly {
                    lock(&shared.pending).remove(&key);
                }
                Fallback::EventDropped
            }
        }
    }

    /// Polls the cache until the background compiler produced `key`, it failed, or `wait`
    /// passed.
    #[cfg(feature = "test-hooks")]
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

    /// Loads every valid artifact of the configured store into the cache, within
    /// [`JitConfig::preload_timeout`]; a shutdown stops it early.
    fn preload(&self) -> PreloadReport {
        let mut report = PreloadReport::default();
        let Some(store) = &self.shared.config.store else { return report };
        let span = tracing::info_span!("preload");
        let _guard = span.enter();
        let start = Instant::now();
        let listed = match store.list() {
            Ok(listed) => listed,
            Err(error) => {
                tracing::warn!(%error, "cannot list the artifact store; starting without preloaded code");
                report.list_error = Some(error.to_string());
                return report;
            }
        };
        for artifact in listed {
            if start.elapsed() > self.shared.config.preload_timeout || self.shared.stopped.load(Ordering::Relaxed) {
                report.timed_out = true;
                break;
            }
            let key = match (&artifact.status, &artifact.manifest) {
                (ArtifactStatus::Valid, Some(manifest)) => manifest.key(),
                (status, _) => {
                    let reason = match status {
                        ArtifactStatus::Refused(error) => error.reason(),
                        ArtifactStatus::Valid => "manifest-malformed",
                    };
                    *report.refused.entry(reason).or_default() += 1;
                    self.shared.stats.store_refused.inc();
                    continue;
                }
            };
            match self.load_from_store(store.as_ref(), (key.code_hash, key.spec), None) {
                Ok(Some(_)) => report.loaded += 1,
                Ok(None) => {}
                Err(error) => *report.refused.entry(error.reason()).or_default() += 1,
            }
        }
        report.elapsed = start.elapsed();
        tracing::info!(loaded = report.loaded, refused = report.refused_total(), elapsed = ?report.elapsed, "preloaded");
        report
    }

    /// Loads `key` from `store` into the cache; with `code_len` (the code is at hand), an
    /// artifact recording another bytecode length is refused. A refused artifact is counted,
    /// logged and returned; the caller then compiles (or runs interpreted).
    fn load_from_store(
        &self,
        store: &dyn ArtifactStore,
        key: CodeKey,
        code_len: Option<usize>,
    ) -> Result<Option<CompiledFn>, ArtifactError> {
        let artifact_key = ArtifactKey::new(key.0, key.1);
        let loaded = match code_len {
            Some(len) => store.load_code(&artifact_key, len),
            None => store.load(&artifact_key),
        };
        match loaded {
            Ok(Some(artifact)) => {
                let manifest = &artifact.manifest;
                // SAFETY: the store checked that the manifest's key, entry symbol, ABI and
                // build match this build, that the library's bytes are intact and run no code
                // at load, and that they export the entry symbol of this key; the library `Arc`
                // keeps the code mapped.
                let compiled = unsafe {
                    CompiledFn::from_library(
                        artifact.entry,
                        Arc::clone(&artifact.library),
                        manifest.code_hash,
                        manifest.spec,
                        usize::try_from(manifest.bytecode_len).unwrap_or(usize::MAX),
                        // The contract's share of its library, not the whole library: a library
                        // holding many contracts is weighed once over all of them.
                        usize::try_from(artifact.code_size).unwrap_or(usize::MAX),
                    )
                };
                self.shared.stats.loaded_from_store.inc();
                self.insert(key, compiled.clone());
                Ok(Some(compiled))
            }
            Ok(None) => Ok(None),
            Err(error) => {
                tracing::warn!(code_hash = %key.0, spec = ?key.1, %error, "stored artifact refused");
                self.shared.stats.store_refused.inc();
                Err(error)
            }
        }
    }

    /// Caches `compiled` under `key`; the key's miss count starts over, so that once evicted it
    /// must turn hot again before it is recompiled.
    fn insert(&self, key: CodeKey, compiled: CompiledFn) {
        self.shared.cache.insert(key, compiled);
        self.shared.misses.reset(&key);
    }

    /// Compiles on the calling thread and caches the result (or the failure). With a store,
    /// a valid stored artifact is used instead; with [`JitConfig::write_artifacts`], the
    /// contract is compiled to an AOT artifact, stored, and loaded back from the store.
    /// Without the `llvm` feature only the store can provide code
    /// ([`CompileError::NoCompiler`] otherwise).
    ///
    /// Code is cached only under the keccak hash of the bytes it was compiled from: when
    /// `key`'s hash is not `code`'s, nothing is compiled or recorded
    /// ([`CompileError::CodeHashMismatch`]), so an account whose code hash does not match its
    /// code can neither place code under another contract's hash nor mark that hash failed.
    pub fn compile_now(&self, key: CodeKey, code: &[u8]) -> Result<CompiledFn, CompileError> {
        self.compile_checked(key, code, CompileTarget::Cache)
    }

    /// [`JitHandle::compile_now`] for `target` ([`CompileTarget::Cache`] follows
    /// [`JitConfig::write_artifacts`]).
    fn compile_checked(&self, key: CodeKey, code: &[u8], target: CompileTarget) -> Result<CompiledFn, CompileError> {
        let actual = keccak256(code);
        if actual != key.0 {
            self.shared.stats.code_mismatches.inc();
            return Err(CompileError::CodeHashMismatch { claimed: key.0, actual });
        }
        let target = if self.shared.config.write_artifacts { CompileTarget::Store } else { target };
        self.compile_keyed(key, code, target)
    }

    /// [`JitHandle::compile_now`] once `key` is known to be `code`'s: the store first, then
    /// the compiler, for `target`; reports the outcome to [`JitConfig::on_compile`].
    fn compile_keyed(&self, key: CodeKey, code: &[u8], target: CompileTarget) -> Result<CompiledFn, CompileError> {
        let shared = &*self.shared;
        let start = Instant::now();
        let mut refused = false;
        if let Some(store) = &shared.config.store {
            match self.load_from_store(store.as_ref(), key, Some(code.len())) {
                Ok(Some(compiled)) => {
                    self.notify(key, start, code.len(), &compiled, CompileOutcome::LoadedFromStore);
                    return Ok(compiled);
                }
                Ok(None) => {}
                Err(_) => refused = true,
            }
        }
        let level = self.first_level(target, code, key.1);
        let result = self.compile_on_this_thread(key, code, target, level);
        shared.stats.compile_ns.add(start.elapsed().as_nanos() as u64);
        match result {
            Ok(f) => {
                shared.stats.compiled.inc();
                self.insert(key, f.clone());
                self.notify(key, start, code.len(), &f, CompileOutcome::Compiled);
                if level != shared.config.compiler.opt_level && shared.config.eager {
                    // Eager mode wants the final code now: the second tier follows at once.
                    return Ok(self.tier_up(key, code).unwrap_or(f));
                }
                Ok(f)
            }
            Err(e) => {
                let reason = match &e {
                    CompileError::UnsupportedSpec(_) => Fallback::UnsupportedFork,
                    CompileError::NoCompiler if refused => Fallback::RefusedArtifact,
                    CompileError::NoCompiler => Fallback::NoCompiler,
                    CompileError::Refused(_) => Fallback::RefusedArtifact,
                    _ => Fallback::Failed,
                };
                self.record_failure(key, &e, reason);
                if let Some(callback) = &shared.config.on_compile {
                    let outcome = CompileOutcome::Failed { reason, error: e.to_string() };
                    let event =
                        CompileEvent { key, elapsed: start.elapsed(), bytecode_len: code.len(), code_size: 0, outcome };
                    call_back(callback, &event);
                }
                Err(e)
            }
        }
    }

    /// The level a contract's first compilation for `target` runs at: for the cache,
    /// [`JitConfig::first_level`]; a store's artifacts are compiled at the configured level.
    fn first_level(&self, target: CompileTarget, code: &[u8], spec: SpecId) -> OptLevel {
        let config = &self.shared.config;
        if target == CompileTarget::Cache { config.first_level(code, spec) } else { config.compiler.opt_level }
    }

    /// Whether contracts compiled into the cache go through the baseline tier first (see
    /// [`JitConfig::tiers`]).
    fn tiers(&self) -> bool {
        self.shared.config.tiers()
    }

    /// The second tier: recompiles `key`'s bytecode `code` (the bytes its baseline code was
    /// compiled from) at the configured level, and caches the result in the baseline code's
    /// place. A failure leaves the baseline code in service, counted and never retried: it
    /// costs speed, not correctness.
    fn tier_up(&self, key: CodeKey, code: &[u8]) -> Option<CompiledFn> {
        let shared = &*self.shared;
        let span = tracing::debug_span!("tier_up", code_hash = %key.0, spec = ?key.1);
        let _guard = span.enter();
        let start = Instant::now();
        let actual = keccak256(code);
        let result = if actual == key.0 {
            self.compile_on_this_thread(key, code, CompileTarget::Cache, shared.config.compiler.opt_level)
        } else {
            Err(CompileError::CodeHashMismatch { claimed: key.0, actual })
        };
        let elapsed = start.elapsed().as_nanos() as u64;
        shared.stats.compile_ns.add(elapsed);
        shared.stats.tier_up_ns.add(elapsed);
        match result {
            Ok(f) => {
                shared.stats.tiered_up.inc();
                self.insert(key, f.clone());
                self.notify(key, start, code.len(), &f, CompileOutcome::Optimized);
                Some(f)
            }
            Err(error) => {
                shared.stats.tier_up_failed.inc();
                if error.is_over_budget() {
                    shared.stats.over_budget.inc();
                }
                tracing::warn!(code_hash = %key.0, spec = ?key.1, %error, "tier-up failed; the baseline code stays");
                None
            }
        }
    }

    /// Reports a compilation that produced code to [`JitConfig::on_compile`].
    fn notify(&self, key: CodeKey, start: Instant, bytecode_len: usize, f: &CompiledFn, outcome: CompileOutcome) {
        if let Some(callback) = &self.shared.config.on_compile {
            let event =
                CompileEvent { key, elapsed: start.elapsed(), bytecode_len, code_size: f.cache_weight(), outcome };
            call_back(callback, &event);
        }
    }

    /// Compiles at `level` with this thread's compiler for it (made on first use), through
    /// the AOT path for [`CompileTarget::Store`] when there is a store.
    #[cfg(feature = "llvm")]
    fn compile_on_this_thread(
        &self,
        key: CodeKey,
        code: &[u8],
        target: CompileTarget,
        level: OptLevel,
    ) -> Result<CompiledFn, CompileError> {
        let config = &self.shared.config;
        THREAD_COMPILERS.with(|cell| {
            let mut compilers = cell.borrow_mut();
            compilers.retain(|(runtime, _)| runtime.strong_count() > 0);
            let mine = |(runtime, compiler): &(Weak<Shared>, Compiler)| {
                std::ptr::eq(runtime.as_ptr(), &*self.shared) && compiler.config().opt_level == level
            };
            let index = match compilers.iter().position(mine) {
                Some(index) => index,
                None => {
                    let settings = CompilerConfig { opt_level: level, ..config.compiler.clone() };
                    compilers.push((Arc::downgrade(&self.shared), Compiler::new(settings)?));
                    compilers.len() - 1
                }
            };
            let compiler = &mut compilers[index].1;
            match &config.store {
                Some(store) if target == CompileTarget::Store => {
                    self.compile_artifact(compiler, store.as_ref(), key, code)
                }
                _ => compiler.compile(code, key.1),
            }
        })
    }

    /// Without the `llvm` feature there is no compiler: code comes from the store or not at all.
    #[cfg(not(feature = "llvm"))]
    fn compile_on_this_thread(
        &self,
        _key: CodeKey,
        _code: &[u8],
        _target: CompileTarget,
        _level: OptLevel,
    ) -> Result<CompiledFn, CompileError> {
        Err(CompileError::NoCompiler)
    }
    /// The AOT path of [`JitHandle::compile_now`]: object, library, store, load back. When the
    /// contract compiles but its artifact cannot be stored or loaded back (no linker, a full
    /// disk, a store of another build, a refusal), the same contract is compiled by the
    /// in-process JIT instead and the failed write is counted
    /// ([`StatsSnapshot::store_write_failed`]): a store failure costs time, never coverage.
    #[cfg(feature = "llvm")]
    fn compile_artifact(
        &self,
        compiler: &mut Compiler,
        store: &dyn ArtifactStore,
        key: CodeKey,
        code: &[u8],
    ) -> Result<CompiledFn, CompileError> {
        let object = compiler.compile_object(code, key.1)?;
        let stored = aot::link_objects(compiler, &[object]).map_err(StoreFailure::Compile).and_then(|library| {
            if *store.build() != library.build {
                return Err(StoreFailure::OtherBuild);
            }
            store.put(&library.bytes, &library.entries).map_err(StoreFailure::Write)?;
            self.shared.stats.store_written.inc();
            match self.load_from_store(store, key, Some(code.len())) {
                Ok(Some(compiled)) => Ok(compiled),
                Ok(None) => Err(StoreFailure::NotStored),
                Err(error) => Err(StoreFailure::Refused(error)),
            }
        });
        match stored {
            Ok(compiled) => Ok(compiled),
            Err(failure) => {
                tracing::warn!(code_hash = %key.0, spec = ?key.1, %failure, "cannot store the artifact; using JIT code");
                self.shared.stats.store_write_failed.inc();
                compiler.compile(code, key.1)
            }
        }
    }

    /// Remembers that `key` failed, so it is never retried.
    fn record_failure(&self, key: CodeKey, error: &CompileError, reason: Fallback) {
        if !matches!(error, CompileError::EmptyCode | CompileError::NoCompiler) {
            tracing::warn!(code_hash = %key.0, spec = ?key.1, %error, "compilation failed; running interpreted");
        }
        self.shared.stats.failed.inc();
        if error.is_over_budget() {
            self.shared.stats.over_budget.inc();
        }
        self.shared.failed.insert(key, (reason, error.to_string().into()));
    }

    /// Whether `key` is cached or known to fail (the coordinator skips those).
    fn is_settled(&self, key: &CodeKey) -> bool {
        self.shared.cache.contains_key(key) || self.shared.failed.contains_key(key)
    }

    /// A snapshot of the runtime's counters.
    pub fn stats(&self) -> StatsSnapshot {
        // moka applies inserts and evictions lazily; settle them first, so that the eviction
        // count and the cache's size below describe the same moment.
        self.shared.cache.run_pending_tasks();
        let mut snapshot = self.shared.stats.snapshot();
        snapshot.cached_entries = self.shared.cache.entry_count();
        snapshot.resident_code_bytes = self.shared.cache.weighted_size();
        let memory = crate::compiler::code_memory_stats();
        snapshot.jit_mappings = memory.mappings;
        snapshot.jit_mapped_bytes = memory.mapped_bytes;
        snapshot.jit_allocated_bytes = memory.allocated_bytes;
        snapshot.jit_resident_bytes = memory.resident_bytes;
        snapshot
    }

    /// Publishes every counter of [`JitHandle::stats`] through the `metrics` facade, to
    /// whatever recorder the node installed: counters as `revm_jit_<field>` (absolute
    /// values), the cache's and code memory's sizes as gauges, and lookups that ran
    /// interpreted as `revm_jit_interpreted` with a `reason` label. Call it from the node's
    /// metrics loop (every scrape, or every few seconds): the hot path never touches the
    /// recorder.
    #[cfg(feature = "metrics")]
    pub fn publish_metrics(&self) {
        metrics::publish(&self.stats());
    }

    /// Marks `key` as being compiled (for [`Fallback::Compiling`]).
    fn mark_compiling(&self, key: CodeKey) {
        lock(&self.shared.pending).insert(key, Pending::Compiling);
    }

    /// `key` left the way to the cache (compiled, failed, dropped or abandoned).
    fn unmark_pending(&self, key: &CodeKey) {
        lock(&self.shared.pending).remove(key);
    }

    /// Whether the runtime was shut down.
    fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::Relaxed)
    }

    fn config(&self) -> &JitConfig {
        &self.shared.config
    }

    fn stats_counters(&self) -> &JitStats {
        &self.shared.stats
    }
}

/// Runs `callback`; a panic in it is contained and logged (it must not pass for a compiler
/// failure, nor take a worker down).
fn call_back(callback: &CompileCallback, event: &CompileEvent) {
    if catch_unwind(AssertUnwindSafe(|| (callback.0)(event))).is_err() {
        tracing::warn!(code_hash = %event.key.0, "the on_compile callback panicked");
    }
}
