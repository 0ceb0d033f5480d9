//! Counters of the runtime, read as one [`StatsSnapshot`], and the reasons a frame runs
//! interpreted ([`Fallback`]).

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a frame with code ran in revm's interpreter instead of native code. Every lookup
/// that does not return native code is counted under one of these
/// ([`StatsSnapshot::interpreted`]), and [`super::JitHandle::lookup_outcome`] returns it, so
/// that an operator can tell "not compiled yet" from "never will be".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[repr(u8)]
pub enum Fallback {
    /// Native execution is switched off (the runtime's switch, or the `JitEvm`'s).
    Disabled,
    /// The contract has not missed the cache often enough to be compiled
    /// ([`super::JitConfig::hot_threshold`]).
    NotHot,
    /// Hot and sent to the background compiler, waiting for a worker.
    Queued,
    /// A worker is compiling it now.
    Compiling,
    /// Hot, but the hotness event found the channel full (it is sent again later).
    EventDropped,
    /// Its compilation failed (an LLVM error, a contained panic, no code memory left); it
    /// is never retried.
    Failed,
    /// Its bytecode is longer than [`super::JitConfig::max_bytecode_len`].
    TooLarge,
    /// The compiler does not support the frame's fork.
    UnsupportedFork,
    /// Its stored AOT artifact was refused (damaged, or of another build) and this build has
    /// no compiler to make code of its own.
    RefusedArtifact,
    /// This build has no compiler (no `llvm` feature) and the store has no artifact for it.
    NoCompiler,
    /// The code cached under the frame's code hash was compiled from other bytes than the
    /// frame's (the account's code hash does not match its code).
    CodeMismatch,
    /// Initcode (a CREATE frame) not seen often enough to be worth hashing.
    InitcodeNotHot,
    /// The EVM's instruction or gas table is not mainnet's, which compiled code implements.
    CustomTables,
    /// The runtime was shut down: nothing more gets compiled.
    ShutDown,
}

impl Fallback {
    /// Every reason, in the order of [`FallbackCounts`]' fields.
    pub const ALL: [Fallback; 14] = [
        Fallback::Disabled,
        Fallback::NotHot,
        Fallback::Queued,
        Fallback::Compiling,
        Fallback::EventDropped,
        Fallback::Failed,
        Fallback::TooLarge,
        Fallback::UnsupportedFork,
        Fallback::RefusedArtifact,
        Fallback::NoCompiler,
        Fallback::CodeMismatch,
        Fallback::InitcodeNotHot,
        Fallback::CustomTables,
        Fallback::ShutDown,
    ];

    /// The reason's name, as in serialized stats and metric labels (`not_hot`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Fallback::Disabled => "disabled",
            Fallback::NotHot => "not_hot",
            Fallback::Queued => "queued",
            Fallback::Compiling => "compiling",
            Fallback::EventDropped => "event_dropped",
            Fallback::Failed => "failed",
            Fallback::TooLarge => "too_large",
            Fallback::UnsupportedFork => "unsupported_fork",
            Fallback::RefusedArtifact => "refused_artifact",
            Fallback::NoCompiler => "no_compiler",
            Fallback::CodeMismatch => "code_mismatch",
            Fallback::InitcodeNotHot => "initcode_not_hot",
            Fallback::CustomTables => "custom_tables",
            Fallback::ShutDown => "shut_down",
        }
    }

    /// Whether the contract will run native code later without anyone doing anything
    /// (it is on its way to the cache), as opposed to a lasting reason.
    pub fn is_transient(self) -> bool {
        matches!(self, Fallback::NotHot | Fallback::Queued | Fallback::Compiling | Fallback::EventDropped)
    }

    fn index(self) -> usize {
        // `ALL` lists the variants in declaration order (checked by a test).
        self as usize
    }
}

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Lookups that did not return native code, by [`Fallback`] reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackCounts {
    /// [`Fallback::Disabled`].
    pub disabled: u64,
    /// [`Fallback::NotHot`].
    pub not_hot: u64,
    /// [`Fallback::Queued`].
    pub queued: u64,
    /// [`Fallback::Compiling`].
    pub compiling: u64,
    /// [`Fallback::EventDropped`].
    pub event_dropped: u64,
    /// [`Fallback::Failed`].
    pub failed: u64,
    /// [`Fallback::TooLarge`].
    pub too_large: u64,
    /// [`Fallback::UnsupportedFork`].
    pub unsupported_fork: u64,
    /// [`Fallback::RefusedArtifact`].
    pub refused_artifact: u64,
    /// [`Fallback::NoCompiler`].
    pub no_compiler: u64,
    /// [`Fallback::CodeMismatch`].
    pub code_mismatch: u64,
    /// [`Fallback::InitcodeNotHot`].
    pub initcode_not_hot: u64,
    /// [`Fallback::CustomTables`].
    pub custom_tables: u64,
    /// [`Fallback::ShutDown`].
    pub shut_down: u64,
}

impl FallbackCounts {
    /// The count for `reason`.
    pub fn get(&self, reason: Fallback) -> u64 {
        self.as_array()[reason.index()]
    }

    /// Every reason with its count.
    pub fn iter(&self) -> impl Iterator<Item = (Fallback, u64)> + '_ {
        Fallback::ALL.into_iter().zip(self.as_array())
    }

    /// All counts added up.
    pub fn total(&self) -> u64 {
        self.as_array().iter().sum()
    }

    fn as_array(&self) -> [u64; 14] {
        [
            self.disabled,
            self.not_hot,
            self.queued,
            self.compiling,
            self.event_dropped,
            self.failed,
            self.too_large,
            self.unsupported_fork,
            self.refused_artifact,
            self.no_compiler,
            self.code_mismatch,
            self.initcode_not_hot,
            self.custom_tables,
            self.shut_down,
        ]
    }

    fn from_array(a: [u64; 14]) -> Self {
        let [
            disabled,
            not_hot,
            queued,
            compiling,
            event_dropped,
            failed,
            too_large,
            unsupported_fork,
            refused_artifact,
            no_compiler,
            code_mismatch,
            initcode_not_hot,
            custom_tables,
            shut_down,
        ] = a;
        Self {
            disabled,
            not_hot,
            queued,
            compiling,
            event_dropped,
            failed,
            too_large,
            unsupported_fork,
            refused_artifact,
            no_compiler,
            code_mismatch,
            initcode_not_hot,
            custom_tables,
            shut_down,
        }
    }
}

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
    /// Contracts compiled (the first tier when tiered; the optimising recompilation is
    /// counted in `tiered_up`).
    pub compiled: Counter,
    /// Failed compilations.
    pub failed: Counter,
    /// Compilations refused for their cost, counted in `failed` (or, for a tier-up, in
    /// `tier_up_failed`) too: predicted too costly by the cost model, or abandoned over the
    /// compiler process's time or memory budget ([`crate::CompileError::is_over_budget`]).
    pub over_budget: Counter,
    /// Total wall-clock compile time, nanoseconds (both tiers).
    pub compile_ns: Counter,
    /// The part of `compile_ns` spent recompiling baseline code at the optimising level.
    pub tier_up_ns: Counter,
    /// Contracts whose baseline code was replaced by code of the optimising level.
    pub tiered_up: Counter,
    /// Optimising recompilations that failed (the baseline code stays; never retried).
    pub tier_up_failed: Counter,
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
    /// Frames that started in the interpreter while their code compiled and were handed to
    /// native code at a loop head once it was ready.
    pub loop_entries: Counter,
    /// Native runs that handed their frame to the interpreter part-way (see
    /// [`StatsSnapshot::handoffs`]).
    pub handoffs: Counter,
    /// Lookups that did not return native code, by [`Fallback`] (indexed as [`Fallback::ALL`]).
    pub interpreted: [Counter; 14],
}

impl JitStats {
    /// Counts a lookup that did not return native code.
    pub fn count_fallback(&self, reason: Fallback) {
        self.interpreted[reason.index()].inc();
    }
}

/// A point-in-time copy of [`JitStats`], plus the cache's size. Serializes with one field
/// per counter (and `interpreted` as a table by reason), for a node's status endpoint or logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Cache probes (hits plus misses).
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
    /// Contracts compiled (the first tier when tiered; the optimising recompilation is
    /// counted in `tiered_up`).
    pub compiled: u64,
    /// Failed compilations.
    pub failed: u64,
    /// Compilations refused for their cost, counted in `failed` (or, for a tier-up, in
    /// `tier_up_failed`) too: predicted too costly by the cost model, or abandoned over the
    /// compiler process's time or memory budget.
    pub over_budget: u64,
    /// Total wall-clock compile time, nanoseconds (both tiers, see
    /// [`crate::JitConfig::tier_up_gas`]).
    pub compile_ns: u64,
    /// The part of `compile_ns` spent recompiling baseline code at the optimising level; the
    /// rest is the time contracts waited for their first native code.
    pub tier_up_ns: u64,
    /// Contracts whose baseline code was replaced by code of the optimising level. Not
    /// counted in `compiled`, which counts contracts.
    pub tiered_up: u64,
    /// Optimising recompilations that failed (the baseline code stays; never retried).
    pub tier_up_failed: u64,
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
    /// Frames that started in the interpreter while their code compiled and were handed to
    /// native code at a loop head once it was ready.
    pub loop_entries: u64,
    /// Native runs that handed their frame to revm's interpreter part-way: at a cold block
    /// (one whose every path fails, or that native code never enters), or at a section whose
    /// gas or stack check failed, where the interpreter fails at the exact instruction. Such
    /// a frame's result is the same; only its speed is the interpreter's from there on, so a
    /// count that grows with the lookups says a hot contract's frames keep failing.
    pub handoffs: u64,
    /// Lookups that did not return native code, by reason.
    pub interpreted: FallbackCounts,
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
        // Lookups are not counted apart: one shared counter less on every hit.
        let (hits, misses) = (self.hits.get(), self.misses.get());
        StatsSnapshot {
            lookups: hits + misses,
            hits,
            misses,
            events_sent: self.events_sent.get(),
            events_dropped: self.events_dropped.get(),
            queued: self.queued.get(),
            compiled: self.compiled.get(),
            failed: self.failed.get(),
            over_budget: self.over_budget.get(),
            compile_ns: self.compile_ns.get(),
            tier_up_ns: self.tier_up_ns.get(),
            tiered_up: self.tiered_up.get(),
            tier_up_failed: self.tier_up_failed.get(),
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
            loop_entries: self.loop_entries.get(),
            handoffs: self.handoffs.get(),
            interpreted: FallbackCounts::from_array(std::array::from_fn(|i| self.interpreted[i].get())),
            cached_entries: 0,
            resident_code_bytes: 0,
            jit_mappings: 0,
            jit_mapped_bytes: 0,
            jit_allocated_bytes: 0,
            jit_resident_bytes: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_reason_in_declaration_order_and_counts_map_one_to_one() {
        for (i, reason) in Fallback::ALL.into_iter().enumerate() {
            assert_eq!(reason.index(), i);
            let mut a = [0; 14];
            a[i] = 7;
            let counts = FallbackCounts::from_array(a);
            assert_eq!(counts.get(reason), 7);
            assert_eq!(counts.total(), 7);
            let json = serde_json::to_value(counts).expect("serializes");
            assert_eq!(json[reason.name()], 7, "{reason}'s field is named after it");
        }
    }
}
