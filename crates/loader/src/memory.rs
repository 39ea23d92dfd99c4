//! [`CodeMemory`]: executable memory that is never writable at the same time.

use crate::Error;
use crate::provider::{CodePages, CodeProvider, MmapProvider};
use core::ffi::c_void;
use core::ptr::NonNull;
use springboard_environ::{
    CodeKind, CompiledTrampoline, RelocKind, RelocTarget, Relocation, Signature,
};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Every item starts at least this aligned.
const MIN_ALIGN: usize = springboard_environ::MIN_CODE_ALIGN as usize;

/// One piece of code to map: bytes, the relocations to apply to them, and
/// the callee address that fills [`RelocTarget::Callee`] holes.
///
/// Stamping a template for many functions is many items that share `code`
/// and `relocations` and differ in `callee`: no recompilation, one copy each.
#[derive(Clone, Copy, Debug)]
pub struct CodeItem<'a> {
    /// The machine code.
    pub code: &'a [u8],
    /// Holes to fill before the code runs.
    pub relocations: &'a [Relocation],
    /// The required alignment of the first byte (a power of two; at least
    /// [`MIN_CODE_ALIGN`](springboard_environ::MIN_CODE_ALIGN) is used).
    pub align: u32,
    /// What [`RelocTarget::Callee`] resolves to; `None` if the code has no
    /// such relocation.
    pub callee: Option<NonNull<c_void>>,
    /// What the code is, for profilers ([`perf_map`](crate::perf_map));
    /// `None` leaves it unnamed.
    pub name: Option<(CodeKind, &'a Signature)>,
}

impl<'a> CodeItem<'a> {
    /// `code` as an item; `callee` fills a template's hole.
    pub fn new(code: &'a CompiledTrampoline, callee: Option<NonNull<c_void>>) -> CodeItem<'a> {
        CodeItem {
            code: &code.code,
            relocations: &code.relocations,
            align: code.align,
            callee,
            name: Some((code.kind, &code.signature)),
        }
    }
}

/// A batch of code mapped read+execute, unmapped on `Drop`.
///
/// The batch is laid out in an ordinary `Vec`, relocated there, then copied
/// into fresh read+write pages from a [`CodeProvider`], which are flipped to
/// read+execute before anyone can call into them (`map_executable` is the
/// only place that flips). The pages are never writable again, so code added
/// later goes into a new `CodeMemory`: pack what is known together in one
/// batch (see `docs/ARCHITECTURE.md`).
pub struct CodeMemory {
    pages: Box<dyn CodePages>,
    offsets: Vec<usize>,
    used: usize,
}

impl CodeMemory {
    /// Relocates and maps `items` together, packed one after another, in
    /// fresh pages from the operating system ([`MmapProvider`]).
    pub fn new(items: &[CodeItem<'_>]) -> Result<CodeMemory, Error> {
        CodeMemory::new_in(&MmapProvider, items)
    }

    /// Like [`new`](Self::new), in pages from `provider`.
    pub fn new_in(
        provider: &dyn CodeProvider,
        items: &[CodeItem<'_>],
    ) -> Result<CodeMemory, Error> {
        if items.is_empty() {
            return Err(Error::Empty);
        }
        let mut image = Vec::new();
        let mut offsets = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let align = (item.align as usize).max(MIN_ALIGN);
            if !align.is_power_of_two() {
                return Err(Error::BadAlignment {
                    index,
                    align: item.align,
                });
            }
            image.resize(image.len().next_multiple_of(align), 0);
            let start = image.len();
            offsets.push(start);
            image.extend_from_slice(item.code);
            // The relocation is written in place; its target is where the copy
            // will live, which relocations here never depend on (absolute only).
            for reloc in item.relocations {
                apply(&mut image[start..], index, reloc, item.callee)?;
            }
        }
        let used = image.len();
        let pages = map_executable(provider, &image)?;
        STATS.mappings.fetch_add(1, Relaxed);
        STATS.mapped.fetch_add(pages.len(), Relaxed);
        STATS.used.fetch_add(used, Relaxed);
        let memory = CodeMemory {
            pages,
            offsets,
            used,
        };
        if crate::perf_map::is_enabled() {
            memory.write_perf_map(items);
        }
        Ok(memory)
    }

    fn write_perf_map(&self, items: &[CodeItem<'_>]) {
        use core::fmt::Write;
        let mut lines = String::new();
        for (index, item) in items.iter().enumerate() {
            if let (Some((kind, signature)), Some(start)) = (item.name, self.entry(index)) {
                let name = springboard_environ::format::symbol_name(kind, signature);
                let _ = writeln!(
                    lines,
                    "{:x} {:x} {name}",
                    start.as_ptr() as usize,
                    item.code.len()
                );
            }
        }
        crate::perf_map::append(&lines);
    }

    /// The address of item `index`, in the order given to [`new`](Self::new).
    pub fn entry(&self, index: usize) -> Option<NonNull<c_void>> {
        let offset = *self.offsets.get(index)?;
        // In bounds: `offset` is inside the mapping, which is never null.
        NonNull::new(self.pages.as_ptr().wrapping_add(offset) as *mut c_void)
    }

    /// How many items the batch holds.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether the batch holds no item (never true: empty batches are refused).
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Bytes of code and padding between items.
    pub fn used_bytes(&self) -> usize {
        self.used
    }

    /// Bytes mapped (whole pages).
    pub fn mapped_bytes(&self) -> usize {
        self.pages.len()
    }

    /// The mapped address range, for diagnostics such as `/proc/self/maps`.
    pub fn range(&self) -> core::ops::Range<usize> {
        let start = self.pages.as_ptr() as usize;
        start..start + self.pages.len()
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        // The pages' own `Drop` returns them to their provider.
        STATS.mappings.fetch_sub(1, Relaxed);
        STATS.mapped.fetch_sub(self.pages.len(), Relaxed);
        STATS.used.fetch_sub(self.used, Relaxed);
    }
}

impl core::fmt::Debug for CodeMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CodeMemory")
            .field("range", &self.range())
            .field("items", &self.offsets.len())
            .field("used", &self.used)
            .finish()
    }
}

fn apply(
    code: &mut [u8],
    index: usize,
    reloc: &Relocation,
    callee: Option<NonNull<c_void>>,
) -> Result<(), Error> {
    let at = reloc.offset as usize;
    let hole = code
        .get_mut(at..at + reloc.kind.size())
        .ok_or(Error::RelocationOutOfBounds {
            index,
            offset: reloc.offset,
        })?;
    let target = match reloc.target {
        RelocTarget::Callee => callee.ok_or(Error::MissingCallee { index })?,
    };
    let value = (target.as_ptr() as usize as u64).wrapping_add(reloc.addend as u64);
    match reloc.kind {
        // The code runs on this host, so the host's byte order is the target's.
        RelocKind::Abs8 => hole.copy_from_slice(&value.to_ne_bytes()),
    }
    Ok(())
}

/// The one place where memory becomes executable: take fresh read+write
/// pages, copy `image` in, make the instruction cache see the new bytes, flip
/// the pages to read+execute, and flush every thread's pipeline. The pages
/// are never writable and executable at once.
///
/// The cache is cleaned *before* the flip, as Wasmtime and cranelift-jit do:
/// the architecture allows either order, but some CPUs have had errata
/// about cache maintenance on memory that is no longer writable.
fn map_executable(provider: &dyn CodeProvider, image: &[u8]) -> Result<Box<dyn CodePages>, Error> {
    let mut pages = provider.allocate(image.len()).map_err(Error::Map)?;
    let base = pages.as_mut_ptr();
    if pages.len() < image.len() || base.align_offset(MIN_ALIGN) != 0 {
        return Err(Error::BadProvider {
            wanted: image.len(),
            got: pages.len(),
            address: base as usize,
        });
    }
    // SAFETY: `pages` is a fresh read+write allocation of at least
    // `image.len()` bytes (checked above) that nothing else refers to yet.
    unsafe { core::ptr::copy_nonoverlapping(image.as_ptr(), base, image.len()) };
    // SAFETY: the range is mapped and holds the code just written. On x86
    // this is a no-op (coherent caches); on aarch64, riscv64 and s390x it
    // cleans the data cache and invalidates the instruction cache.
    unsafe { wasmtime_jit_icache_coherence::clear_cache(base.cast(), image.len()) }
        .map_err(Error::Icache)?;
    // SAFETY: the pages are our own and no code in them has been handed out,
    // so changing their protection cannot break a running caller.
    unsafe { pages.make_executable() }.map_err(Error::Map)?;
    // Every thread, not only this one, must refetch before running the code.
    wasmtime_jit_icache_coherence::pipeline_flush_mt().map_err(Error::Icache)?;
    Ok(pages)
}

/// The size of a page of executable memory on this host.
pub fn page_size() -> usize {
    region::page::size()
}

/// Process-wide accounting of [`CodeMemory`] batches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Live batches, each one mapping.
    pub live_mappings: usize,
    /// Bytes mapped by them (whole pages).
    pub mapped_bytes: usize,
    /// Bytes of code (and alignment padding) in them.
    pub used_bytes: usize,
}

struct Counters {
    mappings: AtomicUsize,
    mapped: AtomicUsize,
    used: AtomicUsize,
}

static STATS: Counters = Counters {
    mappings: AtomicUsize::new(0),
    mapped: AtomicUsize::new(0),
    used: AtomicUsize::new(0),
};

/// The current totals over every live [`CodeMemory`] of this process.
pub fn stats() -> MemoryStats {
    MemoryStats {
        live_mappings: STATS.mappings.load(Relaxed),
        mapped_bytes: STATS.mapped.load(Relaxed),
        used_bytes: STATS.used.load(Relaxed),
    }
}
