//! Memory for JIT machine code: a few large regions shared by every contract.
//!
//! LLVM's stock JIT memory managers map whole pages per contract, one mapping per section
//! kind (code, read-only data, unwind tables), each with its own protection. A process may
//! hold only `vm.max_map_count` mappings (65,530 by default), and once it does every `mmap`
//! fails and the next allocation aborts the process: about 16,000 compiled contracts were
//! enough. Here the code, data and unwind tables of all contracts are carved out of
//! [`REGION_SIZE`] regions mapped once, so the number of mappings follows the bytes of code
//! resident, never the number of contracts.
//!
//! Each contract's object file gets one contiguous *reservation* before LLVM links it (sized
//! from the object file, which is larger than the sections it holds), so everything a contract
//! refers to PC-relatively lies within one span; the unused tail goes back to the pool once the
//! object is finalised. When the last owner of a contract's code drops it, its span is
//! returned, whole free pages are given back to the kernel, and a region that becomes empty is
//! unmapped (one empty region is kept to avoid churn).
//!
//! Regions are mapped read-write-execute: code of many contracts shares pages, and a page that
//! another thread executes from cannot be made unwritable while the next contract is linked
//! into it. Reservations and the pool's limit make running out a typed error
//! ([`CodeMemoryExhausted`]) returned before LLVM writes anything, never an abort.

// Without the compiler nothing reserves memory; the pool's figures are still reported.
#![cfg_attr(not(feature = "llvm"), allow(dead_code))]

use std::{collections::BTreeMap, sync::Mutex};

/// Size of a standard region. A reservation larger than this gets a region of its own.
pub const REGION_SIZE: usize = 16 << 20;

/// Granularity and alignment of reservations: a cache line.
const GRANULE: usize = 64;

/// Slack added to an object file's size when reserving for it: covers the stubs and GOT
/// entries the linker adds and section alignment padding (the object's headers, symbol and
/// relocation tables, which are not loaded, already exceed them in practice).
const RESERVATION_SLACK: usize = 4096;

/// Why machine code could not be given memory. The contract is not compiled and runs in
/// revm's interpreter; the process carries on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeMemoryExhausted {
    /// The contract's code, or the region it would need mapped, would exceed the limit.
    #[error(
        "JIT code memory limit reached: {requested} bytes requested, {in_use} bytes in use and {mapped} mapped, limit {limit}"
    )]
    Limit {
        /// Bytes the contract needed.
        requested: usize,
        /// Bytes of JIT memory in use by compiled contracts.
        in_use: usize,
        /// Bytes mapped for JIT code.
        mapped: usize,
        /// The limit ([`super::CompilerConfig::max_code_memory`]).
        limit: usize,
    },
    /// The kernel refused to map a region (out of memory or out of mappings).
    #[error("mapping {bytes} bytes for JIT code failed: {reason}")]
    Map {
        /// Size of the region that could not be mapped.
        bytes: usize,
        /// The OS error.
        reason: String,
    },
}

/// What the JIT's code memory costs the process right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CodeMemoryStats {
    /// Memory mappings held for JIT code (one per region).
    pub mappings: u64,
    /// Bytes of address space mapped for JIT code.
    pub mapped_bytes: u64,
    /// Bytes handed out to compiled contracts (code, data and unwind tables).
    pub allocated_bytes: u64,
    /// Bytes of those mappings backed by physical memory (from `mincore`).
    pub resident_bytes: u64,
    /// Contracts whose code lives in the regions.
    pub objects: u64,
}

/// The process-wide pool every JIT shares, so the bound holds however many compilers exist.
static POOL: Mutex<Pool> = Mutex::new(Pool { regions: Vec::new(), mapped: 0, allocated: 0, objects: 0 });

/// Current figures of the process-wide JIT code memory.
pub fn code_memory_stats() -> CodeMemoryStats {
    lock_pool().stats()
}

fn lock_pool() -> std::sync::MutexGuard<'static, Pool> {
    // The pool's invariants hold between calls: a panic elsewhere cannot leave it half-updated
    // (every method finishes its bookkeeping before anything can panic), so poisoning is moot.
    POOL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A span of a region: `len` bytes at `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) addr: usize,
    pub(crate) len: usize,
}

impl Span {
    fn end(self) -> usize {
        self.addr + self.len
    }
}

struct Pool {
    /// Regions sorted by address.
    regions: Vec<Region>,
    mapped: usize,
    allocated: usize,
    objects: usize,
}

struct Region {
    base: usize,
    len: usize,
    /// Free spans: offset → length, never adjacent (freed spans are merged).
    free: BTreeMap<usize, usize>,
    allocated: usize,
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

impl Region {
    fn map(len: usize) -> Result<Self, CodeMemoryExhausted> {
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches
        // no existing memory. MAP_NORESERVE: pages cost memory only once written.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            let reason = std::io::Error::last_os_error().to_string();
            return Err(CodeMemoryExhausted::Map { bytes: len, reason });
        }
        Ok(Self { base: base as usize, len, free: BTreeMap::from([(0, len)]), allocated: 0 })
    }

    fn contains(&self, addr: usize) -> bool {
        addr >= self.base && addr < self.base + self.len
    }

    /// First fit, lowest address first, so live code packs into the start of the region.
    fn take(&mut self, len: usize) -> Option<Span> {
        let (&offset, &free_len) = self.free.iter().find(|&(_, &free_len)| free_len >= len)?;
        self.free.remove(&offset);
        if free_len > len {
            self.free.insert(offset + len, free_len - len);
        }
        self.allocated += len;
        Some(Span { addr: self.base + offset, len })
    }

    /// Returns `span` to the free list, merging it with free neighbours, and gives the pages
    /// that became wholly free back to the kernel.
    fn give_back(&mut self, span: Span) {
        let mut start = span.addr - self.base;
        let mut end = start + span.len;
        if let Some((&prev, &prev_len)) = self.free.range(..start).next_back()
            && prev + prev_len == start
        {
            self.free.remove(&prev);
            start = prev;
        }
        if let Some(next_len) = self.free.remove(&end) {
            end += next_len;
        }
        self.free.insert(start, end - start);
        self.allocated -= span.len;
        self.discard_pages(Span { addr: self.base + start, len: end - start }, span);
    }

    /// `madvise(DONTNEED)` on the pages that lie wholly in `free` and touch `freed`.
    fn discard_pages(&self, free: Span, freed: Span) {
        let page = page_size();
        let lo = round_up(free.addr, page).max(freed.addr / page * page);
        let hi = (free.end() / page * page).min(round_up(freed.end(), page));
        if hi > lo {
            // SAFETY: [lo, hi) lies within this region's mapping and holds no live allocation
            // (it is inside a free span); discarding makes it read back as zeros.
            unsafe { libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_DONTNEED) };
        }
    }

    fn resident_bytes(&self) -> u64 {
        let page = page_size();
        let mut pages = vec![0u8; self.len.div_ceil(page)];
        // SAFETY: the region is one live mapping of `len` bytes at a page-aligned base, and
        // `pages` has one byte per page of it.
        let ok = unsafe { libc::mincore(self.base as *mut libc::c_void, self.len, pages.as_mut_ptr()) } == 0;
        if !ok {
            return 0;
        }
        pages.iter().filter(|&&p| p & 1 != 0).count() as u64 * page as u64
    }

    fn unmap(self) {
        // SAFETY: the region is wholly free, so no compiled code or data lives in it, and it
        // was mapped with exactly this base and length.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
    }
}

impl Pool {
    /// `len` bytes, within `limit` for both the bytes in use and the bytes mapped.
    fn reserve(&mut self, len: usize, limit: usize) -> Result<Span, CodeMemoryExhausted> {
        let len = round_up(len.max(1), GRANULE);
        if self.allocated + len > limit {
            return Err(self.over_limit(len, limit));
        }
        let found = self.regions.iter_mut().find_map(|region| region.take(len));
        let span = match found {
            Some(span) => span,
            None => self.map_region_for(len, limit)?,
        };
        self.allocated += span.len;
        Ok(span)
    }

    fn map_region_for(&mut self, len: usize, limit: usize) -> Result<Span, CodeMemoryExhausted> {
        let size = round_up(len, REGION_SIZE.max(page_size()));
        if self.mapped + size > limit {
            return Err(self.over_limit(len, limit));
        }
        let mut region = Region::map(size)?;
        let span = region.take(len).expect("a new region fits the reservation it was mapped for");
        self.mapped += size;
        let at = self.regions.partition_point(|r| r.base < region.base);
        self.regions.insert(at, region);
        tracing::debug!(regions = self.regions.len(), mapped = self.mapped, "mapped a JIT code region");
        Ok(span)
    }

    fn over_limit(&self, requested: usize, limit: usize) -> CodeMemoryExhausted {
        CodeMemoryExhausted::Limit { requested, in_use: self.allocated, mapped: self.mapped, limit }
    }

    fn release(&mut self, span: Span) {
        if span.len == 0 {
            return;
        }
        let at = self.regions.partition_point(|r| r.base + r.len <= span.addr);
        let region = &mut self.regions[at];
        debug_assert!(region.contains(span.addr), "released span outside every region");
        region.give_back(span);
        self.allocated -= span.len;
        if region.allocated == 0 && self.has_other_empty_region(at) {
            let region = self.regions.remove(at);
            self.mapped -= region.len;
            region.unmap();
        }
    }

    /// Whether some region other than `at` is empty, or `at` is an oversized one: one empty
    /// standard region stays mapped so that compiling and evicting one contract in a loop does
    /// not map and unmap a region each time.
    fn has_other_empty_region(&self, at: usize) -> bool {
        self.regions[at].len != REGION_SIZE || self.regions.iter().enumerate().any(|(i, r)| i != at && r.allocated == 0)
    }

    fn stats(&self) -> CodeMemoryStats {
        CodeMemoryStats {
            mappings: self.regions.len() as u64,
            mapped_bytes: self.mapped as u64,
            allocated_bytes: self.allocated as u64,
            resident_bytes: self.regions.iter().map(Region::resident_bytes).sum(),
            objects: self.objects as u64,
        }
    }
}

/// The memory of one linked object (one contract): its reservation, bump-allocated by section,
/// and any overflow spans.
#[derive(Debug, Default)]
pub(crate) struct ObjectMemory {
    reservation: Option<Span>,
    cursor: usize,
    overflow: Vec<Span>,
}

impl ObjectMemory {
    /// Reserves room for an object file of `object_len` bytes, mapping a region if needed and
    /// allowed by `limit` (bytes of address space for all JIT code in the process).
    pub(crate) fn reserve(object_len: usize, limit: usize) -> Result<Self, CodeMemoryExhausted> {
        let mut pool = lock_pool();
        let reservation = pool.reserve(object_len + RESERVATION_SLACK, limit)?;
        pool.objects += 1;
        Ok(Self { reservation: Some(reservation), cursor: 0, overflow: Vec::new() })
    }

    /// Memory for one section: from the reservation, or (should the reservation be too small,
    /// which the slack is sized to prevent) from the pool without a limit. Null only when the
    /// kernel refuses a new region.
    pub(crate) fn allocate(&mut self, size: usize, align: usize) -> *mut u8 {
        let align = align.clamp(1, 4096);
        if let Some(res) = self.reservation {
            let start = round_up(res.addr + self.cursor, align);
            if start + size <= res.end() {
                self.cursor = start + size - res.addr;
                return start as *mut u8;
            }
        }
        tracing::warn!(size, align, "JIT section did not fit its reservation");
        match lock_pool().reserve(size + align, usize::MAX) {
            Ok(span) => {
                self.overflow.push(span);
                round_up(span.addr, align) as *mut u8
            }
            Err(error) => {
                tracing::error!(%error, "no memory for a JIT section");
                std::ptr::null_mut()
            }
        }
    }

    /// Returns the unused tail of the reservation to the pool; the object is complete.
    pub(crate) fn finalize(&mut self) {
        let Some(res) = self.reservation else { return };
        let used = round_up(self.cursor, GRANULE).min(res.len);
        let tail = Span { addr: res.addr + used, len: res.len - used };
        lock_pool().release(tail);
        self.reservation = Some(Span { addr: res.addr, len: used });
    }

    /// Bytes this object occupies in the pool.
    pub(crate) fn bytes(&self) -> usize {
        self.reservation.map_or(0, |r| r.len) + self.overflow.iter().map(|s| s.len).sum::<usize>()
    }
}

impl Drop for ObjectMemory {
    fn drop(&mut self) {
        let mut pool = lock_pool();
        if let Some(res) = self.reservation.take() {
            pool.release(res);
            pool.objects -= 1;
        }
        for span in self.overflow.drain(..) {
            pool.release(span);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_a_region_and_free_space_is_reused() {
        let a = ObjectMemory::reserve(1000, usize::MAX).unwrap();
        let b = ObjectMemory::reserve(1000, usize::MAX).unwrap();
        let (ra, rb) = (a.reservation.unwrap(), b.reservation.unwrap());
        assert_ne!(ra.addr, rb.addr);
        assert_eq!(ra.len % GRANULE, 0);
        let before = code_memory_stats().mappings;
        drop(a);
        let c = ObjectMemory::reserve(1000, usize::MAX).unwrap();
        assert!(code_memory_stats().mappings <= before, "freed space is reused before mapping more");
        drop((b, c));
    }

    #[test]
    fn finalize_returns_the_unused_tail() {
        let mut object = ObjectMemory::reserve(10_000, usize::MAX).unwrap();
        let code = object.allocate(100, 16);
        let data = object.allocate(50, 32);
        assert!(!code.is_null() && !data.is_null());
        assert_eq!(data as usize % 32, 0);
        object.finalize();
        assert!(object.bytes() < 1000, "{} bytes kept", object.bytes());
    }

    #[test]
    fn a_limit_below_a_new_region_is_a_typed_error() {
        let err = ObjectMemory::reserve(REGION_SIZE * 4, REGION_SIZE * 2).unwrap_err();
        assert!(matches!(err, CodeMemoryExhausted::Limit { .. }), "{err}");
        let err = ObjectMemory::reserve(100, 1).unwrap_err();
        assert!(matches!(err, CodeMemoryExhausted::Limit { requested, .. } if requested >= 100), "{err}");
    }

    #[test]
    fn freed_regions_are_unmapped_and_pages_returned() {
        // An oversized reservation gets a region of its own, unmapped when it is released.
        let big = ObjectMemory::reserve(REGION_SIZE + 1, usize::MAX).unwrap();
        let span = big.reservation.unwrap();
        // SAFETY: the span is this test's own live reservation, mapped writable.
        unsafe { std::ptr::write_bytes(span.addr as *mut u8, 0xab, span.len) };
        assert!(lock_pool().regions.iter().any(|r| r.base == span.addr));
        drop(big);
        assert!(!lock_pool().regions.iter().any(|r| r.base == span.addr), "oversized region unmapped");
    }
}
