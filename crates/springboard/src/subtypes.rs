//! The lock-free side of the registry: from a type index (what a funcref
//! carries) to the type's supertypes, for the O(1) subtype test of
//! `call_indirect` and the host API's checks, without taking a lock.
//!
//! A two-level table (2^16 × 2^16 slots) maps an index to an [`Entry`]. An
//! entry's memory is never freed while the table lives: when a type drops
//! its entry is cleared and kept for reuse by a type of the same depth, so a
//! reader racing with a drop reads a stale or cleared entry, never freed
//! memory. Every field is atomic, so such a race is no data race either; the
//! answer it gets concerns a dead type, which no live funcref has.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

const LOW_BITS: u32 = 16;
const SLOTS: usize = 1 << LOW_BITS;

/// One registered type's place in the hierarchy, readable without a lock.
pub(crate) struct Entry {
    /// The index of the type the entry is for, `u32::MAX` when cleared.
    index: AtomicU32,
    is_final: AtomicBool,
    /// Its supertypes from the root, itself last (`depth + 1` of them).
    ancestors: Box<[AtomicU32]>,
}

impl Entry {
    /// The type's depth.
    #[inline]
    pub(crate) fn depth(&self) -> usize {
        self.ancestors.len() - 1
    }

    /// Whether the type may have subtypes.
    #[inline]
    pub(crate) fn is_final(&self) -> bool {
        self.is_final.load(Ordering::Relaxed)
    }

    /// The type's index.
    #[inline]
    pub(crate) fn index(&self) -> u32 {
        self.index.load(Ordering::Relaxed)
    }
}

type Chunk = [AtomicPtr<Entry>; SLOTS];

/// Index → entry, for one registry.
pub(crate) struct SubtypeTable {
    chunks: Box<[AtomicPtr<Chunk>]>,
    /// Cleared entries by depth, for reuse; and every entry ever made, for
    /// the table's drop.
    pool: Mutex<Pool>,
}

#[derive(Default)]
struct Pool {
    free: Vec<Vec<*mut Entry>>,
    all: Vec<*mut Entry>,
}

// SAFETY: the pool's raw pointers are boxes owned by the table, reached only
// under the mutex or through atomics.
unsafe impl Send for Pool {}

fn zeroed_slots<T>(n: usize) -> Box<[AtomicPtr<T>]> {
    (0..n)
        .map(|_| AtomicPtr::new(core::ptr::null_mut()))
        .collect()
}

impl SubtypeTable {
    pub(crate) fn new() -> SubtypeTable {
        SubtypeTable {
            chunks: zeroed_slots(SLOTS),
            pool: Mutex::default(),
        }
    }

    /// The entry of live type `index`, if any.
    #[inline]
    pub(crate) fn get(&self, index: u32) -> Option<&Entry> {
        let chunk = self.chunks[(index >> LOW_BITS) as usize].load(Ordering::Acquire);
        if chunk.is_null() {
            return None;
        }
        // SAFETY: chunks are allocated once and freed only by `Drop`.
        let slot = unsafe { &(*chunk)[(index as usize) & (SLOTS - 1)] };
        let entry = slot.load(Ordering::Acquire);
        // SAFETY: entries are freed only by `Drop` (see the module docs).
        (!entry.is_null()).then(|| unsafe { &*entry })
    }

    /// Whether the live type `actual` is the type of `expected` or one of
    /// its declared subtypes: O(1), no lock.
    #[inline]
    pub(crate) fn is_subtype(&self, actual: u32, expected: &Entry) -> bool {
        let want = expected.index();
        if actual == want {
            return true;
        }
        if expected.is_final() {
            return false;
        }
        self.get(actual).is_some_and(|e| {
            e.index() == actual
                && e.ancestors
                    .get(expected.depth())
                    .is_some_and(|a| a.load(Ordering::Relaxed) == want)
        })
    }

    /// Publishes type `index`'s place. Called with the registry's write
    /// lock held (one writer at a time).
    pub(crate) fn insert(&self, index: u32, is_final: bool, ancestors: &[u32]) -> *const Entry {
        let mut pool = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let depth = ancestors.len() - 1;
        let entry = match pool.free.get_mut(depth).and_then(Vec::pop) {
            Some(entry) => entry,
            None => {
                let fresh = Box::into_raw(Box::new(Entry {
                    index: AtomicU32::new(u32::MAX),
                    is_final: AtomicBool::new(true),
                    ancestors: ancestors.iter().map(|_| AtomicU32::new(u32::MAX)).collect(),
                }));
                pool.all.push(fresh);
                fresh
            }
        };
        // SAFETY: owned by the table; no other writer (registry lock).
        let e = unsafe { &*entry };
        for (slot, &a) in e.ancestors.iter().zip(ancestors) {
            slot.store(a, Ordering::Relaxed);
        }
        e.is_final.store(is_final, Ordering::Relaxed);
        e.index.store(index, Ordering::Relaxed);
        let top = &self.chunks[(index >> LOW_BITS) as usize];
        let mut chunk = top.load(Ordering::Acquire);
        if chunk.is_null() {
            let fresh: Box<[AtomicPtr<Entry>]> = zeroed_slots(SLOTS);
            chunk = Box::into_raw(fresh).cast::<Chunk>();
            top.store(chunk, Ordering::Release);
        }
        // SAFETY: a live chunk of this table.
        unsafe { &(*chunk)[(index as usize) & (SLOTS - 1)] }.store(entry, Ordering::Release);
        entry
    }

    /// Withdraws type `index`'s entry and keeps it for reuse.
    pub(crate) fn remove(&self, index: u32, entry: *const Entry) {
        let mut pool = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let chunk = self.chunks[(index >> LOW_BITS) as usize].load(Ordering::Acquire);
        if !chunk.is_null() {
            // SAFETY: a live chunk of this table.
            let slot = unsafe { &(*chunk)[(index as usize) & (SLOTS - 1)] };
            let _ = slot.compare_exchange(
                entry.cast_mut(),
                core::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
        // SAFETY: `entry` came from `insert` and is still owned by the table.
        let e = unsafe { &*entry };
        e.index.store(u32::MAX, Ordering::Relaxed);
        let depth = e.depth();
        if pool.free.len() <= depth {
            pool.free.resize_with(depth + 1, Vec::new);
        }
        pool.free[depth].push(entry.cast_mut());
    }
}

impl Drop for SubtypeTable {
    fn drop(&mut self) {
        let pool = self
            .pool
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for &entry in &pool.all {
            // SAFETY: made by `Box::into_raw` in `insert`, freed once here.
            drop(unsafe { Box::from_raw(entry) });
        }
        for top in self.chunks.iter() {
            let chunk = top.load(Ordering::Relaxed);
            if !chunk.is_null() {
                // SAFETY: made from a boxed slice of `SLOTS` slots in `insert`.
                drop(unsafe {
                    Box::from_raw(core::ptr::slice_from_raw_parts_mut(
                        chunk.cast::<AtomicPtr<Entry>>(),
                        SLOTS,
                    ))
                });
            }
        }
    }
}
