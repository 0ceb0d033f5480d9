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
mod hotness;
mod stats;

pub use stats::{JitStats, StatsSnapshot};

use crate::compiler::{CompileError, CompiledFn, CompilerConfig};
#[cfg(feature = "llvm")]
use crate::compiler::{Compiler, aot};
use crate::store::{ArtifactError, ArtifactKey, ArtifactStatus, ArtifactStore};
use background::{Background, HotEvent};
use hotness::{InitcodeSightings, MissCounters};
use revm::bytecode::Bytecode;
use revm::primitives::{B256, hardfork::SpecId, keccak256};
#[cfg(feature = "llvm")]
use std::{cell::RefCell, sync::Weak};
use std::{
    collections::BTreeMap,
    sync::{
        Arc,
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

/// Runtime settings. The defaults suit a node: compile in the background what ran interpreted
/// a few times, with one worker, and keep up to 256 MiB of machine code.
#[derive(Clone, Debug)]
pub struct JitConfig {
    /// Compiler settings used for every contract.
    pub compiler: CompilerConfig,
    /// Compile on the caller's thread at the first lookup (no background compiler).
    pub eager: bool,
    /// A contract is compiled once it missed the cache more than this many times (0: at the
    /// first miss). Misses are counted in a fixed table of hashed slots, so a contract that
    /// shares a slot with another may turn hot sooner. Default 8.
    pub hot_threshold: u32,
    /// Background compiler threads. Default 1.
    pub workers: usize,
    /// Capacity of the hotness-event channel; events beyond it are dropped and counted.
    /// Default 4096.
    pub channel_capacity: usize,
    /// Contracts waiting for a worker, at most; a contract turning hot while the queue is
    /// full is dropped and counted ([`StatsSnapshot::jobs_dropped`]), and queued again the
    /// next time it is reported hot. Default 1024.
    pub job_queue_capacity: usize,
    /// Stack size of each worker thread, in bytes. LLVM recurses over the IR it compiles, so
    /// workers get far more than Rust's default 2 MiB. Eager compilation runs on the caller's
    /// thread, with whatever stack that thread has. Default 64 MiB (address space: only the
    /// pages touched are backed by memory).
    pub worker_stack_size: usize,
    /// Cache capacity, in bytes of machine code. Default 256 MiB.
    pub cache_capacity_bytes: u64,
    /// Compiled code unused for this long is evicted. Default: never.
    pub cache_time_to_idle: Option<Duration>,
    /// Bytecode longer than this is never compiled. Default 64 KiB.
    pub max_bytecode_len: usize,
    /// After sending a hotness event, wait up to this long for the background compiler to
    /// produce the code (tests and benchmarks use it to make frames run native without
    /// compiling on the caller's thread). Default `None`.
    #[cfg(feature = "test-hooks")]
    pub wait_for_compile: Option<Duration>,
    /// A store of AOT artifacts: everything valid in it is loaded into the cache when the
    /// runtime starts, and a contract about to be compiled is looked for there first.
    /// Default `None`.
    pub store: Option<Arc<dyn ArtifactStore>>,
    /// With a store: compile through the AOT path (object, shared library, store, load back)
    /// instead of the in-process JIT, so that whatever gets compiled is found by the next
    /// start. Costs a linker run per contract. Default `false`.
    pub write_artifacts: bool,
    /// The longest preloading may take; artifacts not loaded by then are loaded on demand.
    /// Default 60 s.
    pub preload_timeout: Duration,
}

impl Default for JitConfig {
    fn default() -> Self {
        Self {
            compiler: CompilerConfig::default(),
            eager: false,
            hot_threshold: 8,
            workers: 1,
            channel_capacity: 4096,
            job_queue_capacity: 1024,
            worker_stack_size: 64 * 1024 * 1024,
            cache_capacity_bytes: 256 * 1024 * 1024,
            cache_time_to_idle: None,
            max_bytecode_len: 64 * 1024,
            #[cfg(feature = "test-hooks")]
            wait_for_compile: None,
            store: None,
            write_artifacts: false,
            preload_timeout: Duration::from_secs(60),
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
    preload: PreloadReport,
}

/// What preloading the artifact store at start-up did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreloadReport {
    /// Artifacts loaded into the cache.
    pub loaded: u64,
    /// Artifacts refused, by [`crate::store::ArtifactError::reason`] (damaged, or built by another build).
    pub refused: BTreeMap<&'static str, u64>,
    /// The store could not be listed at all (the runtime then starts empty).
    pub list_error: Option<String>,
    /// Whether the time limit stopped preloading early.
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
    /// Misses per key (hashed into slots), counted where they happen.
    misses: MissCounters,
    /// Initcode seen, by fingerprint: initcode is hashed only once it repeats.
    initcode: InitcodeSightings,
}

#[cfg(feature = "llvm")]
thread_local! {
    /// The compilers of this thread, one per runtime that compiled on it (a compiler is not
    /// `Send`: LLVM target state is per thread). Each runtime gets its own, made from its own
    /// [`JitConfig::compiler`], so two runtimes with different settings (opt level, injected
    /// faults) never share one. Compilers of dropped runtimes are dropped at this thread's
    /// next compilation.
    static THREAD_COMPILERS: RefCell<Vec<(Weak<Shared>, Compiler)>> = const { RefCell::new(Vec::new()) };
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
        let misses = MissCounters::new(config.hot_threshold);
        // Eager mode compiles everything at first sight, initcode included.
        let initcode = InitcodeSightings::new(if config.eager { 0 } else { config.hot_threshold });
        let enabled = AtomicBool::new(true);
        let shared = Arc::new(Shared { config, enabled, cache, failed, stats, events, misses, initcode });
        let handle = JitHandle { shared: Arc::clone(&shared) };
        let preload = handle.preload();
        let background = receiver.map(|rx| Background::start(handle, rx));
        Self { shared, background, preload }
    }

    /// What preloading the artifact store did (empty without a store).
    pub fn preload_report(&self) -> &PreloadReport {
        &self.preload
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
    ///
    /// Code in the cache was compiled from bytes whose keccak hash is `code_hash` (compilation
    /// checks it), but `code_hash` is the caller's word: a frame whose account's code hash
    /// does not match its code may be handed code compiled from other bytes. Check with
    /// [`CompiledFn::is_compiled_from`] before running it, as [`crate::evm::run_native`] and
    /// [`crate::JitEvm`] do.
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
        if shared.config.eager {
            if self.is_refused(&key, code) {
                return None;
            }
            return self.compile_now(key, code.original_byte_slice()).ok();
        }
        // Most misses end here: counted, nothing sent.
        if !shared.misses.miss(&key) || self.is_refused(&key, code) {
            return None;
        }
        self.report_hot(key, code);
        #[cfg(feature = "test-hooks")]
        if let Some(wait) = shared.config.wait_for_compile {
            return self.wait_for(key, wait);
        }
        None
    }

    /// Counts a sighting of initcode (a frame's code that has no hash yet); true when the
    /// same initcode was seen often enough to be worth hashing and looking up, that is more
    /// than [`JitConfig::hot_threshold`] times (always in eager mode). Counted by a
    /// constant-time fingerprint, not by hashing the code.
    pub fn initcode_is_hot(&self, code: &[u8]) -> bool {
        let hot = self.shared.initcode.sighting(code);
        if hot {
            self.shared.stats.initcode_hashed.inc();
        } else {
            self.shared.stats.initcode_skipped.inc();
        }
        hot
    }

    /// Counts a frame that was not run natively because the code cached under its code hash
    /// was compiled from other bytes than the frame's.
    pub(crate) fn count_code_mismatch(&self) {
        self.shared.stats.code_mismatches.inc();
    }

    /// Why the contract with `code_hash` failed to compile for `spec`, if it did (it is then
    /// never retried).
    pub fn compile_failure(&self, code_hash: B256, spec: SpecId) -> Option<Arc<str>> {
        self.shared.failed.get(&(code_hash, spec))
    }

    /// Whether `key` is never compiled: it failed before, or its code is too long.
    fn is_refused(&self, key: &CodeKey, code: &Bytecode) -> bool {
        code.original_byte_slice().len() > self.shared.config.max_bytecode_len || self.shared.failed.contains_key(key)
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
    /// [`JitConfig::preload_timeout`].
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
            if start.elapsed() > self.shared.config.preload_timeout {
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
        let shared = &*self.shared;
        let actual = keccak256(code);
        if actual != key.0 {
            shared.stats.code_mismatches.inc();
            return Err(CompileError::CodeHashMismatch { claimed: key.0, actual });
        }
        if let Some(store) = &shared.config.store
            && let Ok(Some(compiled)) = self.load_from_store(store.as_ref(), key, Some(code.len()))
        {
            return Ok(compiled);
        }
        let start = Instant::now();
        let result = self.compile_on_this_thread(key, code);
        shared.stats.compile_ns.add(start.elapsed().as_nanos() as u64);
        match result {
            Ok(f) => {
                shared.stats.compiled.inc();
                self.insert(key, f.clone());
                Ok(f)
            }
            Err(e) => {
                self.record_failure(key, &e);
                Err(e)
            }
        }
    }

    /// Compiles with this thread's compiler (made on first use), through the AOT path when
    /// [`JitConfig::write_artifacts`] asks for it.
    #[cfg(feature = "llvm")]
    fn compile_on_this_thread(&self, key: CodeKey, code: &[u8]) -> Result<CompiledFn, CompileError> {
        let config = &self.shared.config;
        THREAD_COMPILERS.with(|cell| {
            let mut compilers = cell.borrow_mut();
            compilers.retain(|(runtime, _)| runtime.strong_count() > 0);
            let index = match compilers.iter().position(|(runtime, _)| std::ptr::eq(runtime.as_ptr(), &*self.shared)) {
                Some(index) => index,
                None => {
                    compilers.push((Arc::downgrade(&self.shared), Compiler::new(config.compiler.clone())?));
                    compilers.len() - 1
                }
            };
            let compiler = &mut compilers[index].1;
            match &config.store {
                Some(store) if config.write_artifacts => self.compile_artifact(compiler, store.as_ref(), key, code),
                _ => compiler.compile(code, key.1),
            }
        })
    }

    /// Without the `llvm` feature there is no compiler: code comes from the store or not at all.
    #[cfg(not(feature = "llvm"))]
    fn compile_on_this_thread(&self, _key: CodeKey, _code: &[u8]) -> Result<CompiledFn, CompileError> {
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
    fn record_failure(&self, key: CodeKey, error: &CompileError) {
        if !matches!(error, CompileError::EmptyCode | CompileError::NoCompiler) {
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
        let memory = crate::compiler::code_memory_stats();
        snapshot.jit_mappings = memory.mappings;
        snapshot.jit_mapped_bytes = memory.mapped_bytes;
        snapshot.jit_allocated_bytes = memory.allocated_bytes;
        snapshot.jit_resident_bytes = memory.resident_bytes;
        snapshot
    }

    fn config(&self) -> &JitConfig {
        &self.shared.config
    }

    fn stats_counters(&self) -> &JitStats {
        &self.shared.stats
    }
}
