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
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Slots in the table: 16 KiB of counters.
const SLOTS: usize = 4096;

/// Above the threshold, one miss in this many sends another event.
pub(super) const RESEND_EVERY: u32 = 64;

/// How a miss counted towards its key's hotness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Miss {
    /// At or below the threshold: not hot yet.
    Cold,
    /// The miss that crossed the threshold, or a periodic resend: report the key.
    Report,
    /// Above the threshold, between reports: the key was reported already.
    Hot,
}

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

    /// Counts a miss of `key`, and says whether this miss should be reported to the
    /// coordinator. With a threshold of 0 every miss is reported: the user asked for
    /// compilation at the first miss, which a key sharing a slot must not lose.
    pub(super) fn miss(&self, key: &CodeKey) -> Miss {
        if self.threshold == 0 {
            return Miss::Report;
        }
        let count = self.slot(key).fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if count <= self.threshold {
            Miss::Cold
        } else if (count - self.threshold - 1).is_multiple_of(RESEND_EVERY) {
            Miss::Report
        } else {
            Miss::Hot
        }
    }

    /// `key`'s code entered the cache: its slot starts counting again.
    pub(super) fn reset(&self, key: &CodeKey) {
        self.slot(key).store(0, Ordering::Relaxed);
    }
}

/// How often each initcode was seen, by a cheap fingerprint instead of its keccak hash.
///
/// A CREATE frame's initcode has no hash until someone computes one, and most initcode runs
/// once: hashing it (up to 48 KiB) to look it up would cost every CREATE more than compiled
/// code ever saves. So initcode is counted by a fingerprint of its length and a few sampled
/// words, O(1) whatever its size, and hashed only once the same fingerprint was seen more
/// than the hot threshold. Each slot keeps the fingerprint it counts, so a new initcode takes
/// the slot over instead of inheriting its count (fingerprints that collide only cost a hash).
#[derive(Debug)]
pub(super) struct InitcodeSightings {
    /// Per slot: the fingerprint's upper 32 bits, then the count.
    slots: Box<[AtomicU64]>,
    threshold: u32,
}

impl InitcodeSightings {
    /// Sightings that call initcode hot at its `threshold + 1`-th sighting.
    pub(super) fn new(threshold: u32) -> Self {
        Self { slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(), threshold }
    }

    /// Counts a sighting of `code`; true when it was seen more than the threshold.
    pub(super) fn sighting(&self, code: &[u8]) -> bool {
        if self.threshold == 0 {
            return true;
        }
        let print = fingerprint(code);
        let tag = print >> 32;
        let slot = &self.slots[(print as usize) % SLOTS];
        // Races between threads only lose or repeat a count: these are heuristics.
        let current = slot.load(Ordering::Relaxed);
        let count = if current >> 32 == tag { (current as u32).saturating_add(1) } else { 1 };
        slot.store((tag << 32) | u64::from(count), Ordering::Relaxed);
        count > self.threshold
    }
}

/// A fingerprint of `code` from its length and four sampled 8-byte words (start, thirds,
/// end): constant time, and different for initcode that differs in length, or in the
/// sampled words (its preamble, its constructor arguments at the end); initcode that differs
/// elsewhere shares a fingerprint, which costs it a hash, never a wrong result.
fn fingerprint(code: &[u8]) -> u64 {
    let word = |at: usize| {
        let start = at.min(code.len().saturating_sub(8));
        let mut bytes = [0u8; 8];
        let end = (start + 8).min(code.len());
        bytes[..end - start].copy_from_slice(&code[start..end]);
        u64::from_le_bytes(bytes)
    };
    let len = code.len();
    [word(0), word(len / 3), word(2 * len / 3), word(len)]
        .into_iter()
        .fold(len as u64 ^ 0x9e37_79b9_7f4a_7c15, |acc, w| (acc ^ w).wrapping_mul(0x0100_0000_01b3).rotate_left(29))
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
        let reported: Vec<u32> = (1..=200).filter(|_| counters.miss(&key(1)) == Miss::Report).collect();
        assert_eq!(reported, vec![4, 68, 132, 196]);
    }

    #[test]
    fn threshold_zero_reports_every_miss() {
        let counters = MissCounters::new(0);
        assert!((0..100).all(|_| counters.miss(&key(2)) == Miss::Report));
    }

    #[test]
    fn reset_starts_over() {
        let counters = MissCounters::new(1);
        assert_eq!(counters.miss(&key(3)), Miss::Cold);
        assert_eq!(counters.miss(&key(3)), Miss::Report);
        assert_eq!(counters.miss(&key(3)), Miss::Hot);
        counters.reset(&key(3));
        assert_eq!(counters.miss(&key(3)), Miss::Cold);
        assert_eq!(counters.miss(&key(3)), Miss::Report);
    }

    #[test]
    fn initcode_turns_hot_after_the_threshold_and_a_new_initcode_starts_over() {
        let sightings = InitcodeSightings::new(2);
        let a = vec![0x60u8; 1000];
        let mut b = a.clone();
        b[334] = 0x61; // within a sampled word
        assert_eq!((0..4).map(|_| sightings.sighting(&a)).collect::<Vec<_>>(), [false, false, true, true]);
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert!(!sightings.sighting(&b));
        assert!(!sightings.sighting(&[0x00]));
        assert!(!sightings.sighting(&[]));
    }

    #[test]
    fn threshold_zero_hashes_all_initcode() {
        assert!(InitcodeSightings::new(0).sighting(&[0x00]));
    }
}
