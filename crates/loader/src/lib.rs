//! Maps Springboard trampolines into executable memory that is never
//! writable and executable at once, and loads the ahead-of-time objects
//! `springboard-compiler` writes — without Cranelift in the dependency tree,
//! so a runtime that ships precompiled trampolines needs only this small,
//! auditable crate.
//!
//! What it loads is described by `springboard-environ` (re-exported as
//! [`environ`]): signatures, kinds, relocations and the object format that
//! the compiler writes. Pages come from a [`CodeProvider`]: the operating
//! system by default, or a runtime's own.
//!
//! # Example: map a function and call it
//!
//! ```
//! use springboard_loader::{CodeItem, CodeMemory};
//!
//! # fn main() -> Result<(), springboard_loader::Error> {
//! // `mov eax, 42; ret` on x86-64; `mov w0, #42; ret` on aarch64.
//! #[cfg(target_arch = "x86_64")]
//! let code: &[u8] = &[0xb8, 42, 0, 0, 0, 0xc3];
//! #[cfg(target_arch = "aarch64")]
//! let code: &[u8] = &[0x40, 0x05, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6];
//! # #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))] {
//! let memory = CodeMemory::new(&[CodeItem { code, relocations: &[], align: 16, callee: None, name: None }])?;
//! let entry = memory.entry(0).expect("one item");
//! // SAFETY: the bytes are a complete function of this type for this host.
//! let f: extern "C" fn() -> i32 = unsafe { core::mem::transmute(entry.as_ptr()) };
//! assert_eq!(f(), 42);
//! # }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod features;
mod memory;
mod object;
pub mod perf_map;
mod provider;

pub use memory::{CodeItem, CodeMemory, MemoryStats, page_size, stats};
pub use object::{Inconsistency, ObjectError, ObjectFile, RelocationProblem, SymbolProblem};
pub use provider::{CodePages, CodeProvider, MmapProvider};
pub use springboard_environ as environ;

/// Why code could not be mapped or an object not loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A batch with nothing in it.
    #[error("nothing to map: the batch is empty")]
    Empty,
    /// An item asked for an alignment that is not a power of two.
    #[error("item {index} asks for alignment {align}, which is not a power of two")]
    BadAlignment {
        /// The item's position in the batch.
        index: usize,
        /// The alignment it asked for.
        align: u32,
    },
    /// A relocation whose hole is not inside its code.
    #[error("item {index} has a relocation at offset {offset} outside its code")]
    RelocationOutOfBounds {
        /// The item's position in the batch.
        index: usize,
        /// The relocation's offset.
        offset: u32,
    },
    /// A template was mapped without the callee its relocation needs.
    #[error("item {index} is a template but no callee address was given")]
    MissingCallee {
        /// The item's position in the batch.
        index: usize,
    },
    /// The operating system (or the code provider) refused to map or
    /// protect memory.
    #[error("cannot map executable memory: {0}")]
    Map(std::io::Error),
    /// A code provider handed out pages too small or misaligned.
    #[error(
        "the code provider gave {got} bytes at {address:#x} for {wanted}: too small or not 16-byte aligned"
    )]
    BadProvider {
        /// Bytes asked for.
        wanted: usize,
        /// Bytes given.
        got: usize,
        /// Where.
        address: usize,
    },
    /// The instruction cache could not be made coherent.
    #[error("cannot flush the instruction cache: {0}")]
    Icache(std::io::Error),
}
