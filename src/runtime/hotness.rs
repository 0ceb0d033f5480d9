//! Counting misses where they happen, so that a miss costs an atomic increment, not a message.
//!
//! Every frame whose code is not compiled misses the cache. Sending each miss to the
//! coordinator cost a channel send that woke its thread, about 0.9 µs per frame. Instead each
//! lookup bumps a counter in a fixed table indexed by the key's hash, and only the miss that
//! crosses the hot threshold sends an event. Keys that share a slot only become hot sooner;
//! so that no key is starved by a neighbour that crossed first, a slot above the threshold
//! sends again every [`RESEND_EVERY`] misses (the coordinator drops events for keys already
//! queued, compiled or failed). When a key's code enters the cache its slot starts over, so a
//! contract evicted later must be hot again before it is recompiled.

use super::CodeKey;
use std::sync::atomic::{AtomicU32, Ordering};

/// Slots in the table: 16 KiB of counters.
const SLOTS: usize = 4096;

/// Above the threshold, one miss in this many sends another event.
pub(super) const RESEND_EVERY: u32 = 64;

/// Miss counters shared by every handle of a runtime.
#[derive(Debug)]
pub(super) struct MissCounters {
    slots: Box<[AtomicU32]>,
    threshold: u32,
}

impl MissCounters {
    /// Counters that call a key hot at its `threshold + 1`-th miss.
    pub(super) fn new(threshold: u32) -> Self {
        Self { slots: (0..SLOTS).map(|_| AtomicU32::new(0)).collect(), threshold }
    }

    fn slot(&self, key: &CodeKey) -> &AtomicU32 {
        // Code hashes are keccak digests, but callers may pass any value (tests use small
        // numbers): fold all four words so that every byte counts.
        let hash = key.0.chunks_exact(8).fold(key.1 as u64, |acc, word| {
            acc.rotate_left(17) ^ u64::from_le_bytes(word.try_into().expect("8-byte chunk"))
        });
        &self.slots[(hash as usize) % SLOTS]
    }

    /// Counts a miss of `key`; true when this miss should be reported to the coordinator.
    /// With a threshold of 0 every miss is reported: the user asked for compilation at the
    /// first miss, which a key sharing a slot must not lose.
    pub(super) fn miss(&self, key: &CodeKey) -> bool {
        if self.threshold == 0 {
            return true;
        }
        let count = self.slot(key).fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        count > self.threshold && (count - self.threshold - 1).is_multiple_of(RESEND_EVERY)
    }

    /// `key`'s code entered the cache: its slot starts counting again.
    pub(super) fn reset(&self, key: &CodeKey) {
        self.slot(key).store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use revm::primitives::{B256, hardfork::SpecId};

    fn key(byte: u8) -> CodeKey {
        (B256::repeat_byte(byte), SpecId::CANCUN)
    }

    #[test]
    fn reports_the_miss_that_crosses_the_threshold_then_every_resend_interval() {
        let counters = MissCounters::new(3);
        let reported: Vec<u32> = (1..=200).filter(|_| counters.miss(&key(1))).collect();
        assert_eq!(reported, vec![4, 68, 132, 196]);
    }

    #[test]
    fn threshold_zero_reports_every_miss() {
        let counters = MissCounters::new(0);
        assert!((0..100).all(|_| counters.miss(&key(2))));
    }

    #[test]
    fn reset_starts_over() {
        let counters = MissCounters::new(1);
        assert!(!counters.miss(&key(3)));
        assert!(counters.miss(&key(3)));
        counters.reset(&key(3));
        assert!(!counters.miss(&key(3)));
        assert!(counters.miss(&key(3)));
    }
}
