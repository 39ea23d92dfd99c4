//! The lock-free side of the registry: from a type index (what a funcref
//! carries) to the type's supertypes, for the O(1) subtype test of
//! `call_indirect` and the host API's checks, without taking a lock.
//!
//! The layout is `springboard_vm_abi::VMSubtypeTable`'s, which the compiled
//! check reads too: two levels of 2¹⁶ pointers, then a `VMSupertypes`
//! header with the type's ancestors after it. An entry's memory is never
//! freed while the table lives: when a type drops its entry is cleared and
//! kept for reuse by a type of the same depth (so an entry's length never
//! changes), and a reader racing with a drop reads a stale or cleared entry,
//! never freed memory. Every field is written atomically, so such a race is
//! no data race either; the answer it gets concerns a dead type, which no
//! live funcref has.

use springboard_vm_abi::{VM_SUBTYPE_CHUNK_BITS, VMSubtypeTable, VMSupertypes};
use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

const SLOTS: usize = 1 << VM_SUBTYPE_CHUNK_BITS;
const CHUNKS: usize = 1 << (32 - VM_SUBTYPE_CHUNK_BITS);

/// Words of a `VMSupertypes` header, before the ancestors.
const HEADER_WORDS: usize = size_of::<VMSupertypes>() / size_of::<u32>();

/// One type's entry: a `VMSupertypes` of `depth + 1` ancestors, as atomic
/// words (index, depth, ancestors...).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry(NonNull<AtomicU32>);

// SAFETY: an entry is memory owned by its table and read through atomics.
unsafe impl Send for Entry {}
// SAFETY: as for `Send`.
unsafe impl Sync for Entry {}

impl Entry {
    fn layout(depth: usize) -> Layout {
        Layout::array::<AtomicU32>(HEADER_WORDS + depth + 1).expect("at most 64 ancestors")
    }

    /// Word `i` of the entry.
    fn word(&self, i: usize) -> &AtomicU32 {
        // SAFETY: the entry has `HEADER_WORDS + depth + 1` words, the depth
        // word never changes, and callers stay within it; entries live as
        // long as their table, which outlives every `Entry` handed out.
        unsafe { &*self.0.as_ptr().add(i) }
    }

    fn index(&self) -> u32 {
        self.word(0).load(Ordering::Relaxed)
    }

    fn depth(&self) -> usize {
        self.word(1).load(Ordering::Relaxed) as usize
    }

    /// Ancestor `d` from the root, if the type is at least `d` deep.
    fn ancestor(&self, d: usize) -> Option<u32> {
        (d <= self.depth()).then(|| self.word(HEADER_WORDS + d).load(Ordering::Relaxed))
    }
}

/// Index → entry, for one registry.
pub(crate) struct SubtypeTable {
    /// `VMSubtypeTable::chunks`.
    chunks: Box<[AtomicPtr<AtomicPtr<AtomicU32>>]>,
    /// Cleared entries by depth, for reuse; and every entry ever made, for
    /// the table's drop.
    pool: Mutex<Pool>,
}

#[derive(Default)]
struct Pool {
    free: Vec<Vec<Entry>>,
    all: Vec<(Entry, usize)>,
}

fn zeroed_slots<T>(n: usize) -> Box<[AtomicPtr<T>]> {
    (0..n)
        .map(|_| AtomicPtr::new(core::ptr::null_mut()))
        .collect()
}

impl SubtypeTable {
    pub(crate) fn new() -> SubtypeTable {
        SubtypeTable {
            chunks: zeroed_slots(CHUNKS),
            pool: Mutex::default(),
        }
    }

    /// The table in the layout the compiled check reads.
    pub(crate) fn as_vm(&self) -> *const VMSubtypeTable {
        self.chunks.as_ptr().cast()
    }

    fn slot(&self, index: u32) -> Option<&AtomicPtr<AtomicU32>> {
        let chunk = self.chunks[(index >> VM_SUBTYPE_CHUNK_BITS) as usize].load(Ordering::Acquire);
        // SAFETY: chunks are allocated once, with `SLOTS` slots, and freed
        // only by `Drop`.
        (!chunk.is_null()).then(|| unsafe { &*chunk.add(index as usize & (SLOTS - 1)) })
    }

    /// The entry of live type `index`, if any.
    fn get(&self, index: u32) -> Option<Entry> {
        let entry = NonNull::new(self.slot(index)?.load(Ordering::Acquire))?;
        Some(Entry(entry)).filter(|e| e.index() == index)
    }

    /// Whether the live type `actual` has `expected`, of depth `depth`,
    /// among its declared supertypes: O(1), no lock.
    #[inline]
    pub(crate) fn has_ancestor(&self, actual: u32, expected: u32, depth: usize) -> bool {
        self.get(actual)
            .and_then(|e| e.ancestor(depth))
            .is_some_and(|a| a == expected)
    }

    /// Whether live type `actual` is live type `expected` or one of its
    /// declared subtypes (`false` when either is not a live type).
    pub(crate) fn is_subtype(&self, actual: u32, expected: u32) -> bool {
        actual == expected
            || self
                .get(expected)
                .is_some_and(|e| self.has_ancestor(actual, expected, e.depth()))
    }

    /// Publishes type `index`'s place. Called with the registry's write
    /// lock held (one writer at a time).
    pub(crate) fn insert(&self, index: u32, ancestors: &[u32]) -> Entry {
        let mut pool = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let depth = ancestors.len() - 1;
        let entry = match pool.free.get_mut(depth).and_then(Vec::pop) {
            Some(entry) => entry,
            None => {
                let layout = Entry::layout(depth);
                // SAFETY: a layout of at least three words.
                let words = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<AtomicU32>();
                let Some(words) = NonNull::new(words) else {
                    std::alloc::handle_alloc_error(layout)
                };
                let entry = Entry(words);
                entry.word(0).store(u32::MAX, Ordering::Relaxed);
                entry.word(1).store(depth as u32, Ordering::Relaxed);
                pool.all.push((entry, depth));
                entry
            }
        };
        for (d, &a) in ancestors.iter().enumerate() {
            entry.word(HEADER_WORDS + d).store(a, Ordering::Relaxed);
        }
        entry.word(0).store(index, Ordering::Relaxed);
        let top = &self.chunks[(index >> VM_SUBTYPE_CHUNK_BITS) as usize];
        let mut chunk = top.load(Ordering::Acquire);
        if chunk.is_null() {
            chunk = Box::into_raw(zeroed_slots::<AtomicU32>(SLOTS)).cast();
            top.store(chunk, Ordering::Release);
        }
        // SAFETY: a live chunk of this table, of `SLOTS` slots.
        unsafe { &*chunk.add(index as usize & (SLOTS - 1)) }
            .store(entry.0.as_ptr(), Ordering::Release);
        entry
    }

    /// Withdraws type `index`'s entry and keeps it for reuse.
    pub(crate) fn remove(&self, index: u32, entry: Entry) {
        let mut pool = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = self.slot(index) {
            let _ = slot.compare_exchange(
                entry.0.as_ptr(),
                core::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
        entry.word(0).store(u32::MAX, Ordering::Relaxed);
        let depth = entry.depth();
        if pool.free.len() <= depth {
            pool.free.resize_with(depth + 1, Vec::new);
        }
        pool.free[depth].push(entry);
    }
}

impl Drop for SubtypeTable {
    fn drop(&mut self) {
        let pool = self
            .pool
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for &(entry, depth) in &pool.all {
            // SAFETY: allocated in `insert` with this layout, freed once here.
            unsafe { std::alloc::dealloc(entry.0.as_ptr().cast(), Entry::layout(depth)) };
        }
        for top in self.chunks.iter() {
            let chunk = top.load(Ordering::Relaxed);
            if !chunk.is_null() {
                // SAFETY: made from a boxed slice of `SLOTS` slots in `insert`.
                drop(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(chunk, SLOTS)) });
            }
        }
    }
}

// The table is `VMSubtypeTable`'s layout.
const _: () = {
    assert!(size_of::<AtomicPtr<AtomicPtr<AtomicU32>>>() == size_of::<*const u8>());
    assert!(size_of::<VMSubtypeTable>() == CHUNKS * size_of::<*const u8>());
};
