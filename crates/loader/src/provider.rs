//! [`CodeProvider`]: where executable pages come from, so that a runtime can
//! supply its own (a pool, a pre-reserved arena, memory its trap handler
//! knows), as cranelift-jit's `JITMemoryProvider` and Wasmtime's
//! `CustomCodeMemory` allow.
//!
//! A provider only hands out pages and changes their protection; copying,
//! relocating and the instruction-cache maintenance stay in
//! [`CodeMemory`](crate::CodeMemory), in the one order the platform requires.

use std::io;

/// A source of pages for [`CodeMemory`](crate::CodeMemory).
pub trait CodeProvider: Send + Sync {
    /// Fresh read+write pages of at least `len` bytes (`len > 0`), starting
    /// at a page boundary, that nothing else uses.
    fn allocate(&self, len: usize) -> io::Result<Box<dyn CodePages>>;
}

/// Pages from a [`CodeProvider`], owned: their `Drop` returns them.
pub trait CodePages: Send + Sync {
    /// The first byte.
    fn as_ptr(&self) -> *const u8;

    /// The first byte, for writing while the pages are still read+write.
    fn as_mut_ptr(&mut self) -> *mut u8;

    /// How many bytes they span (whole pages).
    fn len(&self) -> usize;

    /// Whether they span no byte (never, for pages a provider handed out).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes all of them read+execute, never writable again.
    ///
    /// # Safety
    /// Nothing may write to the pages after this, and no code in them may
    /// have been handed out before it.
    unsafe fn make_executable(&mut self) -> io::Result<()>;
}

/// The default provider: fresh pages mapped from the operating system for
/// each batch, unmapped when it drops.
#[derive(Clone, Copy, Debug, Default)]
pub struct MmapProvider;

impl CodeProvider for MmapProvider {
    fn allocate(&self, len: usize) -> io::Result<Box<dyn CodePages>> {
        let alloc = region::alloc(len, region::Protection::READ_WRITE).map_err(io::Error::other)?;
        Ok(Box::new(Mapped(alloc)))
    }
}

/// A `region` mapping; its `Drop` unmaps it.
struct Mapped(region::Allocation);

// SAFETY: the mapping is owned by this value alone; it is written only
// through `&mut self` before it becomes executable, and only read after.
unsafe impl Send for Mapped {}
// SAFETY: as for `Send`: `&Mapped` only hands out its address.
unsafe impl Sync for Mapped {}

impl CodePages for Mapped {
    fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr::<u8>()
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.0.as_mut_ptr::<u8>()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    unsafe fn make_executable(&mut self) -> io::Result<()> {
        let base = self.0.as_mut_ptr::<u8>();
        let len = self.0.len();
        // SAFETY: exactly our own mapping; the caller guarantees no code in
        // it is running or handed out.
        unsafe { region::protect(base, len, region::Protection::READ_EXECUTE) }
            .map_err(io::Error::other)
    }
}
