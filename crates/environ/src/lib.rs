//! The contract between Springboard's compiler, its loader and the objects
//! that pass between them — what `wasmtime-environ` is between
//! `wasmtime-cranelift` and Wasmtime's runtime.
//!
//! * [`Signature`] and [`ValType`]: the function types trampolines are made
//!   for (and, with the `wasmparser` feature, their conversion from parsed
//!   WebAssembly types);
//! * the [`TrampolineKind`]s, [`CallConv`]s and [`CodeKind`]s, with the kinds
//!   each sort of function needs and their frozen on-disk byte codes;
//! * [`Bookkeeping`]: where trampolines record a runtime's entry and exit
//!   state for its stack walker;
//! * [`Relocation`]s and [`CompiledTrampoline`]s: what compiled code is;
//! * the object [`format`](mod@format): symbol names, the index section and
//!   the ELF rules that the writer and the reader both obey.
//!
//! Layout facts of the runtime structures themselves (`VMFuncRef`, `ValRaw`,
//! contexts, the native results area) live in `springboard-vm-abi`.
#![deny(missing_docs)]

mod bookkeeping;
mod code;
pub mod format;
mod kind;
mod panic;
mod refusal;
mod reloc;
pub mod sha256;
mod signature;
pub mod types;
mod val_type;

pub use bookkeeping::Bookkeeping;
pub use code::{CompiledTrampoline, MIN_CODE_ALIGN};
pub use format::Isa;
pub use kind::{CallConv, CalleeSource, CodeKind, TrampolineKind, WasmConv};
pub use panic::panic_message;
pub use refusal::Refusal;
pub use reloc::{RelocKind, RelocTarget, Relocation};
pub use signature::{MAX_PARAMS, MAX_RESULTS, Signature};
#[cfg(feature = "wasmparser")]
pub use val_type::TypeKinds;
pub use val_type::{
    Composite, GcRefWidth, HeapType, RefType, SignatureError, Top, TypeIndex, ValType,
};
