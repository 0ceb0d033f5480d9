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
    /// Successful compilations.
    pub compiled: Counter,
    /// Failed compilations.
    pub failed: Counter,
    /// Total wall-clock compile time, nanoseconds.
    pub compile_ns: Counter,
}

/// A point-in-time copy of [`JitStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Cache probes.
    pub lookups: u64,
    /// Probes that found compiled code.
    pub hits: u64,
    /// Probes that did not.
    pub misses: u64,
    /// Successful compilations.
    pub compiled: u64,
    /// Failed compilations.
    pub failed: u64,
    /// Total wall-clock compile time, nanoseconds.
    pub compile_ns: u64,
}

impl JitStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            lookups: self.lookups.get(),
            hits: self.hits.get(),
            misses: self.misses.get(),
            compiled: self.compiled.get(),
            failed: self.failed.get(),
            compile_ns: self.compile_ns.get(),
        }
    }
}
