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
    /// Compiled contracts in the cache now.
    pub cached_entries: u64,
    /// Bytecode bytes of the compiled contracts in the cache now (the cache's weight).
    pub cached_bytecode_bytes: u64,
}

impl JitStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            lookups: self.lookups.get(),
            hits: self.hits.get(),
            misses: self.misses.get(),
            events_dropped: self.events_dropped.get(),
            queued: self.queued.get(),
            compiled: self.compiled.get(),
            failed: self.failed.get(),
            compile_ns: self.compile_ns.get(),
            evictions: self.evictions.get(),
            cached_entries: 0,
            cached_bytecode_bytes: 0,
        }
    }
}
