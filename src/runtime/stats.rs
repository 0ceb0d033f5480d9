//! Counters of the runtime, read as one [`StatsSnapshot`].

use std::sync::atomic::{AtomicU64, Ordering};

/// A relaxed atomic counter: counts are statistics, never used for synchronisation.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Live counters shared by every handle of a runtime.
#[derive(Debug, Default)]
pub struct JitStats {
    /// Cache probes.
    pub lookups: Counter,
    /// Probes that found compiled code.
    pub hits: Counter,
    /// Probes that did not.
    pub misses: Counter,
    /// Hotness events sent to the coordinator.
    pub events_sent: Counter,
    /// Hotness events dropped because the channel was full.
    pub events_dropped: Counter,
    /// Contracts handed to the background compiler.
    pub queued: Counter,
    /// Successful compilations.
    pub compiled: Counter,
    /// Failed compilations.
    pub failed: Counter,
    /// Total wall-clock compile time, nanoseconds.
    pub compile_ns: Counter,
    /// Compiled contracts evicted from the cache (capacity or idle time).
    pub evictions: Counter,
    /// Hotness events the coordinator received.
    pub events_received: Counter,
    /// Compiled contracts loaded from the artifact store (preload or on demand).
    pub loaded_from_store: Counter,
    /// Stored artifacts refused at load (corrupt, or built for another ABI, compiler, fork or machine).
    pub store_refused: Counter,
    /// Contracts written to the artifact store by the background compiler.
    pub store_written: Counter,
    /// Writes to the artifact store that failed (the code still runs from memory).
    pub store_write_failed: Counter,
    /// Frames or compilations refused because a code hash did not match the code: cached
    /// code compiled from other bytes than the frame's, or a compilation asked under a hash
    /// that is not its code's.
    pub code_mismatches: Counter,
    /// Initcode frames that ran interpreted without being hashed (not seen often enough).
    pub initcode_skipped: Counter,
    /// Initcode frames hashed and looked up (seen often enough, or eager mode).
    pub initcode_hashed: Counter,
    /// Hot contracts not queued for compilation because the job queue was full.
    pub jobs_dropped: Counter,
}

/// A point-in-time copy of [`JitStats`], plus the cache's size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Cache probes.
    pub lookups: u64,
    /// Probes that found compiled code.
    pub hits: u64,
    /// Probes that did not.
    pub misses: u64,
    /// Hotness events sent to the coordinator.
    pub events_sent: u64,
    /// Hotness events dropped because the channel was full.
    pub events_dropped: u64,
    /// Contracts handed to the background compiler.
    pub queued: u64,
    /// Successful compilations.
    pub compiled: u64,
    /// Failed compilations.
    pub failed: u64,
    /// Total wall-clock compile time, nanoseconds.
    pub compile_ns: u64,
    /// Compiled contracts evicted from the cache.
    pub evictions: u64,
    /// Hotness events the coordinator received.
    pub events_received: u64,
    /// Compiled contracts loaded from the artifact store (preload or on demand).
    pub loaded_from_store: u64,
    /// Stored artifacts refused at load (corrupt, or built for another ABI, compiler, fork or machine).
    pub store_refused: u64,
    /// Contracts written to the artifact store by the background compiler.
    pub store_written: u64,
    /// Writes to the artifact store that failed (the code still runs from memory).
    pub store_write_failed: u64,
    /// Frames or compilations refused because a code hash did not match the code.
    pub code_mismatches: u64,
    /// Initcode frames that ran interpreted without being hashed.
    pub initcode_skipped: u64,
    /// Initcode frames hashed and looked up.
    pub initcode_hashed: u64,
    /// Hot contracts not queued for compilation because the job queue was full.
    pub jobs_dropped: u64,
    /// Compiled contracts in the cache now.
    pub cached_entries: u64,
    /// Bytes the compiled contracts in the cache cost (the cache's weight: machine code plus
    /// per-contract bookkeeping, see [`crate::CompiledFn::cache_weight`]).
    pub resident_code_bytes: u64,
    /// Memory mappings held for in-process JIT code, by every runtime of the process (the JIT's
    /// code memory is one pool, see [`crate::compiler::memory`]).
    pub jit_mappings: u64,
    /// Bytes of address space those mappings span.
    pub jit_mapped_bytes: u64,
    /// Bytes of JIT memory handed out to compiled contracts' code, data and unwind tables.
    pub jit_allocated_bytes: u64,
    /// Bytes of those mappings backed by physical memory.
    pub jit_resident_bytes: u64,
}

impl JitStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            lookups: self.lookups.get(),
            hits: self.hits.get(),
            misses: self.misses.get(),
            events_sent: self.events_sent.get(),
            events_dropped: self.events_dropped.get(),
            queued: self.queued.get(),
            compiled: self.compiled.get(),
            failed: self.failed.get(),
            compile_ns: self.compile_ns.get(),
            evictions: self.evictions.get(),
            events_received: self.events_received.get(),
            loaded_from_store: self.loaded_from_store.get(),
            store_refused: self.store_refused.get(),
            store_written: self.store_written.get(),
            store_write_failed: self.store_write_failed.get(),
            code_mismatches: self.code_mismatches.get(),
            initcode_skipped: self.initcode_skipped.get(),
            initcode_hashed: self.initcode_hashed.get(),
            jobs_dropped: self.jobs_dropped.get(),
            cached_entries: 0,
            resident_code_bytes: 0,
            jit_mappings: 0,
            jit_mapped_bytes: 0,
            jit_allocated_bytes: 0,
            jit_resident_bytes: 0,
        }
    }
}
