//! [`VMFuncRef`] and the entry-point types it holds.

use crate::{VMContext, VMOpaqueContext, VMSharedSignatureIndex, ValRaw};
use core::ptr::NonNull;

/// The *array* calling convention: every argument and result in a buffer of
/// [`ValRaw`] slots.
///
/// Arguments: the callee's context, the caller's context, the buffer and its
/// capacity in slots. The caller writes the arguments into slots
/// `0..params`; the callee writes the results into slots `0..results`. The
/// caller must make the capacity at least `max(params, results)`; the callee
/// may rely on that for the signature it was made for.
pub type VMArrayCallFunction =
    unsafe extern "C" fn(*mut VMOpaqueContext, *mut VMOpaqueContext, *mut ValRaw, usize);

/// The legacy host-to-wasm entry trampoline of Wasmtime v0.38 – v8.
///
/// Arguments: the callee's context, the caller's context, the function body to
/// call (with the *native* convention of its signature), and a [`ValRaw`]
/// buffer holding the arguments, overwritten with the results. The buffer
/// must hold `max(params, results)` slots.
pub type VMTrampoline =
    unsafe extern "C" fn(*mut VMOpaqueContext, *mut VMContext, *const VMFunctionBody, *mut ValRaw);

/// Opaque marker for machine code entered with the *native* convention
/// (SystemV C): `(callee_vmctx, caller_vmctx, params…[, retptr]) -> result0`.
/// Cast a pointer to it to the `extern "C"` function type of the signature.
#[repr(C)]
pub struct VMNativeCallFunction(VMFunctionBody);

/// Opaque marker for machine code entered with the *wasm* convention
/// (Cranelift `tail`): `(callee_vmctx, caller_vmctx, params…) -> results…`.
/// Rust cannot call this convention directly; only generated code can.
#[repr(C)]
pub struct VMWasmCallFunction(VMFunctionBody);

/// Opaque marker for the first byte of some machine code.
#[repr(C)]
pub struct VMFunctionBody(u8);

/// A caller-checked function reference: what a `funcref` value points to.
///
/// * **Written by** whoever creates the function (the engine, or a runtime
///   filling it from loaded code), completely, before the funcref is
///   published; afterwards only `wasm_call` may be filled in once, from
///   `None` to `Some`, while no caller can observe the change (see below).
/// * **Read by** every caller: `call_indirect`, the host API, trampolines.
/// * **Callers must** compare `type_index` with the index of the type they
///   intend to call *before* using any entry point, and must pass `vmctx`
///   as the callee context. Calling an entry point with the wrong signature
///   is undefined behaviour; the check is what makes it sound.
///
/// Layout is that of Wasmtime v9 – v17's `VMFuncRef` (checked in
/// `tests/wasmtime_compat.rs` against `wasmtime-environ = "=17.0.3"`).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct VMFuncRef {
    /// Entry with the *native* convention of the function's signature.
    pub native_call: NonNull<VMNativeCallFunction>,
    /// Entry with the *array* convention.
    pub array_call: VMArrayCallFunction,
    /// Entry with the *wasm* convention, when one exists. It is `None` for a
    /// host function whose `wasm_to_*` trampoline has not been made (no
    /// compiler and no loaded object holds one for its signature); a wasm
    /// caller then goes through `array_call` instead. Once `Some`, it never
    /// changes again.
    pub wasm_call: Option<NonNull<VMWasmCallFunction>>,
    /// The engine-wide identity of the function's type.
    pub type_index: VMSharedSignatureIndex,
    /// The callee context passed as the first argument of every entry.
    pub vmctx: *mut VMOpaqueContext,
}

// SAFETY: a `VMFuncRef` is plain data (code pointers, an index and a context
// pointer). Whoever publishes it guarantees the code and context stay valid
// and may be used from any thread, which is the contract of funcrefs in a
// multi-threaded engine.
unsafe impl Send for VMFuncRef {}
// SAFETY: see `Send`; a published funcref is never mutated through `&`.
unsafe impl Sync for VMFuncRef {}
