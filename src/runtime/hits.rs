//! The hit table: a small direct-mapped table of recently hit compiled code, probed before
//! the cache.
//!
//! A probe of the moka cache costs hundreds of nanoseconds (hashing into its concurrent map,
//! recording the read for its eviction policy and idle timer, cloning the value), which on a
//! 3 µs transaction is a tenth of the time. A hit here costs a read lock on one slot, a key
//! comparison and a clone.
//!
//! The cache stays the owner of compiled code: an entry enters this table only after a cache
//! probe found it, and leaves it when the cache removes it (the runtime's eviction listener
//! calls [`HitTable::forget`]). Reads served here are not seen by the cache, so once per touch
//! interval (a quarter of the cache's idle time, at most a minute) a hit asks its caller to
//! probe the cache again: that keeps the cache's idle timer and LRU order informed, and drops
//! an entry the cache evicted while it was being put here.

use super::CodeKey;
use crate::compiler::CompiledFn;
use std::{
    cell::Cell,
    sync::{
        PoisonError, RwLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

/// Number of slots (a power of two). Hot contracts of a block number in the hundreds; a
/// collision only sends the later key to the cache.
const SLOTS: usize = 4096;

/// Hits a thread serves between two readings of the real clock.
const HITS_PER_CLOCK_READ: u32 = 1024;

/// Seconds between two cache probes of an entry that is hit, unless the cache's idle time is
/// so short that a quarter of it is less.
const MAX_TOUCH_INTERVAL_SECS: u32 = 60;

thread_local! {
    /// Hits served on this thread since it last read the clock.
    static HITS_SINCE_CLOCK_READ: Cell<u32> = const { Cell::new(0) };
}

/// See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct HitTable {
    slots: Box<[RwLock<Option<Box<Entry>>>]>,
    /// Seconds since `start`, read from the clock every [`HITS_PER_CLOCK_READ`] hits of a
    /// thread and at every [`HitTable::tick`].
    seconds: AtomicU32,
    start: Instant,
    /// Seconds between two cache probes of an entry that keeps being hit: a quarter of the
    /// cache's idle time, at most a minute (0: every hit probes the cache).
    touch_interval_secs: u32,
}

#[derive(Debug)]
struct Entry {
    key: CodeKey,
    compiled: CompiledFn,
    /// When the cache last saw a read of this entry, in the table's seconds.
    touched: AtomicU32,
}

/// What a probe of the table found.
pub(crate) enum Probe {
    /// Code for the key; `touch` asks the caller to probe the cache as well (see the
    /// [module documentation](self)).
    Hit { compiled: CompiledFn, touch: bool },
    /// Nothing for the key: probe the cache.
    Miss,
}

impl HitTable {
    /// A table in front of a cache whose entries expire after `time_to_idle` without reads
    /// (`None`: never).
    pub(crate) fn new(time_to_idle: Option<Duration>) -> Self {
        let quarter = time_to_idle.map_or(u64::MAX, |idle| idle.as_secs() / 4);
        Self {
            slots: (0..SLOTS).map(|_| RwLock::new(None)).collect(),
            seconds: AtomicU32::new(0),
            start: Instant::now(),
            touch_interval_secs: u32::try_from(quarter).unwrap_or(u32::MAX).min(MAX_TOUCH_INTERVAL_SECS),
        }
    }

    /// The code stored under `key`, if any.
    pub(crate) fn probe(&self, key: &CodeKey) -> Probe {
        let slot = self.slot(key).read().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = slot.as_ref().filter(|entry| entry.key == *key) else {
            return Probe::Miss;
        };
        let now = self.now();
        let touched = entry.touched.load(Ordering::Relaxed);
        let touch = now.wrapping_sub(touched) >= self.touch_interval_secs;
        if touch {
            entry.touched.store(now, Ordering::Relaxed);
        }
        Probe::Hit { compiled: entry.compiled.clone(), touch }
    }

    /// Stores `compiled`, just found in the cache under `key`, replacing whatever shared its
    /// slot.
    pub(crate) fn put(&self, key: CodeKey, compiled: CompiledFn) {
        self.tick();
        let touched = AtomicU32::new(self.seconds.load(Ordering::Relaxed));
        let entry = Box::new(Entry { key, compiled, touched });
        let old = self.slot(&key).write().unwrap_or_else(PoisonError::into_inner).replace(entry);
        // Dropped outside the lock: dropping the last reference to JIT code frees it.
        drop(old);
    }

    /// Removes `key`'s entry, if the table holds one: the cache no longer does.
    pub(crate) fn forget(&self, key: &CodeKey) {
        let mut slot = self.slot(key).write().unwrap_or_else(PoisonError::into_inner);
        let old = if slot.as_ref().is_some_and(|entry| entry.key == *key) { slot.take() } else { None };
        drop(slot);
        drop(old);
    }

    /// Reads the clock (on slow paths, which are rare enough to afford it).
    pub(crate) fn tick(&self) {
        let elapsed = u32::try_from(self.start.elapsed().as_secs()).unwrap_or(u32::MAX);
        self.seconds.fetch_max(elapsed, Ordering::Relaxed);
    }

    /// The table's time in seconds, read from the clock only every [`HITS_PER_CLOCK_READ`]
    /// calls on this thread.
    fn now(&self) -> u32 {
        let read_clock = HITS_SINCE_CLOCK_READ.with(|hits| {
            let next = hits.get() + 1;
            let read = next >= HITS_PER_CLOCK_READ;
            hits.set(if read { 0 } else { next });
            read
        });
        if read_clock {
            self.tick();
        }
        self.seconds.load(Ordering::Relaxed)
    }

    fn slot(&self, key: &CodeKey) -> &RwLock<Option<Box<Entry>>> {
        // Code hashes are keccak outputs: any eight of their bytes are uniformly spread.
        let bits = u64::from_le_bytes(key.0.0[..8].try_into().expect("eight bytes"));
        let index = (bits ^ (key.1 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) as usize & (SLOTS - 1);
        &self.slots[index]
    }
}

#[cfg(all(test, feature = "llvm"))]
mod tests {
    use super::*;
    use crate::compiler::{Compiler, CompilerConfig};
    use revm::primitives::{B256, hardfork::SpecId, keccak256};

    /// Compiled code for `code` (keyed by its hash under Cancun).
    fn compiled(code: &[u8]) -> (CodeKey, CompiledFn) {
        let mut compiler = Compiler::new(CompilerConfig::default()).expect("a compiler");
        let f = compiler.compile(code, SpecId::CANCUN).expect("compiles");
        ((keccak256(code), SpecId::CANCUN), f)
    }

    fn hit(table: &HitTable, key: &CodeKey) -> Option<(CompiledFn, bool)> {
        match table.probe(key) {
            Probe::Hit { compiled, touch } => Some((compiled, touch)),
            Probe::Miss => None,
        }
    }

    #[test]
    fn an_entry_is_found_under_its_own_key_only() {
        let table = HitTable::new(None);
        let (key, f) = compiled(&[0x60, 0x01, 0x00]);
        assert!(hit(&table, &key).is_none(), "an empty table holds nothing");
        table.put(key, f);
        let (found, _) = hit(&table, &key).expect("found after put");
        assert_eq!(found.code_hash, key.0);
        assert!(hit(&table, &(key.0, SpecId::PRAGUE)).is_none(), "another fork is another key");
        assert!(hit(&table, &(B256::repeat_byte(7), SpecId::CANCUN)).is_none(), "another hash");
    }

    #[test]
    fn forgetting_drops_the_code_and_spares_other_keys() {
        let table = HitTable::new(None);
        let (key, f) = compiled(&[0x60, 0x02, 0x00]);
        let refs_before = f.code_refs();
        table.put(key, f.clone());
        assert_eq!(f.code_refs(), refs_before + 1, "the table holds one reference");
        table.forget(&(B256::repeat_byte(9), SpecId::CANCUN));
        assert!(hit(&table, &key).is_some(), "forgetting another key leaves this one");
        table.forget(&key);
        assert!(hit(&table, &key).is_none());
        assert_eq!(f.code_refs(), refs_before, "the table let go of the code");
    }

    #[test]
    fn keys_sharing_a_slot_replace_each_other() {
        let table = HitTable::new(None);
        let (key, f) = compiled(&[0x60, 0x03, 0x00]);
        // The same low eight bytes and fork: the same slot.
        let mut other_hash = key.0;
        other_hash.0[31] ^= 0xff;
        let other = (other_hash, key.1);
        table.put(key, f.clone());
        table.put(other, f);
        assert!(hit(&table, &key).is_none(), "replaced by the colliding key");
        assert!(hit(&table, &other).is_some());
    }

    #[test]
    fn the_cache_is_probed_again_once_per_touch_interval() {
        // Idle time under four seconds: every hit must reach the cache.
        let eager = HitTable::new(Some(Duration::from_secs(3)));
        assert_eq!(eager.touch_interval_secs, 0);
        let (key, f) = compiled(&[0x60, 0x04, 0x00]);
        eager.put(key, f.clone());
        assert!((0..3).all(|_| hit(&eager, &key).is_some_and(|(_, touch)| touch)));
        // A long idle time: a fresh entry needs no touch until a minute has passed.
        let lazy = HitTable::new(Some(Duration::from_secs(30 * 60)));
        assert_eq!(lazy.touch_interval_secs, MAX_TOUCH_INTERVAL_SECS);
        lazy.put(key, f);
        assert!((0..3).all(|_| hit(&lazy, &key).is_some_and(|(_, touch)| !touch)));
        // Move the table's clock past the interval: the next hit touches, the one after not.
        lazy.seconds.fetch_add(MAX_TOUCH_INTERVAL_SECS, Ordering::Relaxed);
        assert!(hit(&lazy, &key).is_some_and(|(_, touch)| touch));
        assert!(hit(&lazy, &key).is_some_and(|(_, touch)| !touch));
    }
}
