//! The `#[repr(C)]` types of the host⇄wasm call ABI, bit-compatible with
//! Wasmtime's (`VMFuncRef` of v9 – v17, `VMTrampoline` of v0.38 – v8).
//!
//! This crate is what runtimes share: it has no dependencies, is `no_std`, and
//! builds for any target. It defines
//!
//! * [`VMFuncRef`], the caller-checked function reference behind every
//!   `funcref`, with one entry point per calling convention;
//! * the entry-point types [`VMArrayCallFunction`] and [`VMTrampoline`], and
//!   opaque markers for native-, wasm-convention code;
//! * [`ValRaw`], one 16-byte little-endian slot of the array convention;
//! * the contexts passed to every call ([`VMOpaqueContext`], [`VMContext`],
//!   [`VMHostFuncContext`]) and their magics;
//! * [`VMSharedSignatureIndex`], the engine-wide identity of a function type,
//!   which callers compare before jumping, and [`VMSubtypeTable`] /
//!   [`VMSupertypes`], the layout in which a runtime publishes its types'
//!   supertypes for the compiled check's WebAssembly 3.0 subtype test;
//! * [`PtrSize`], field offsets and sizes for 32- and 64-bit targets, and
//!   [`ResultsArea`], the layout of the native convention's extra results.
//!
//! # Example: a host function called through `array_call`
//!
//! ```
//! use core::ptr::NonNull;
//! use springboard_vm_abi::*;
//!
//! // `(i32, i32) -> i32` with the array convention: read the arguments from
//! // slots 0 and 1, write the result to slot 0.
//! unsafe extern "C" fn add_array(
//!     _callee: *mut VMOpaqueContext,
//!     _caller: *mut VMOpaqueContext,
//!     values: *mut ValRaw,
//!     capacity: usize,
//! ) {
//!     assert!(capacity >= 2);
//!     // SAFETY: the caller passes a buffer of `capacity` slots.
//!     let values = unsafe { core::slice::from_raw_parts_mut(values, capacity) };
//!     let sum = values[0].get_i32().wrapping_add(values[1].get_i32());
//!     values[0] = ValRaw::i32(sum);
//! }
//!
//! // The same function with the native convention.
//! unsafe extern "C" fn add_native(
//!     _callee: *mut VMOpaqueContext,
//!     _caller: *mut VMOpaqueContext,
//!     a: i32,
//!     b: i32,
//! ) -> i32 {
//!     a.wrapping_add(b)
//! }
//!
//! // Type indices come from a signature registry; 7 stands in for one here.
//! let add_type = VMSharedSignatureIndex::new(7);
//! let func_ref = VMFuncRef {
//!     native_call: NonNull::new(add_native as *mut VMNativeCallFunction).unwrap(),
//!     array_call: add_array,
//!     wasm_call: None, // no wasm-convention entry without a compiled trampoline
//!     type_index: add_type,
//!     vmctx: core::ptr::null_mut(),
//! };
//!
//! // A caller checks the type before it jumps...
//! assert_eq!(func_ref.type_index, add_type);
//! // ...then calls through the array entry.
//! let mut values = [ValRaw::i32(40), ValRaw::i32(2)];
//! // SAFETY: the type was checked, the buffer holds max(2 params, 1 result)
//! // slots, and `vmctx` is what the function expects (it ignores it).
//! unsafe {
//!     (func_ref.array_call)(func_ref.vmctx, core::ptr::null_mut(), values.as_mut_ptr(), values.len());
//! }
//! assert_eq!(values[0].get_i32(), 42);
//! ```
#![no_std]
#![deny(missing_docs)]

/// `include/springboard_vm_abi.h`: these types, magics and offsets for C and
/// C++ hosts (C11 / C++11), with a `_Static_assert` of every size and offset.
/// A build script writes it out to compile C that calls funcrefs or links
/// Springboard's objects; `tests/c_header.rs` checks it against this crate
/// with every ISA's gcc.
pub const C_HEADER: &str = include_str!("../include/springboard_vm_abi.h");

mod context;
mod funcref;
mod host_context;
mod offsets;
mod results_area;
mod signature;
mod val_raw;

pub use context::{
    SPRINGBOARD_HOST_CALLER_MAGIC, VM_ARRAY_CALL_HOST_FUNC_MAGIC, VM_NATIVE_CALL_HOST_FUNC_MAGIC,
    VMCONTEXT_MAGIC, VMContext, VMHostCaller, VMOpaqueContext, magic_from_bytes,
};
pub use funcref::{
    VMArrayCallFunction, VMFuncRef, VMFunctionBody, VMNativeCallFunction, VMTrampoline,
    VMWasmCallFunction,
};
pub use host_context::VMHostFuncContext;
pub use offsets::PtrSize;
pub use results_area::ResultsArea;
pub use signature::{
    VM_SUBTYPE_CHUNK_BITS, VMSharedSignatureIndex, VMSubtypeChunk, VMSubtypeTable, VMSupertypes,
};
pub use val_raw::ValRaw;
