//! Contexts passed to every call: [`VMOpaqueContext`], [`VMContext`] and
//! [`VMHostFuncContext`], each recognisable by a 32-bit magic at offset 0.

use crate::VMFuncRef;
use core::marker::PhantomPinned;

/// The magic at offset 0 of a [`VMContext`]: `b"core"` as a little-endian `u32`.
pub const VMCONTEXT_MAGIC: u32 = u32::from_le_bytes(*b"core");

/// The magic at offset 0 of a [`VMHostFuncContext`] whose function is called
/// through the *array* convention: `b"ACHF"`.
pub const VM_ARRAY_CALL_HOST_FUNC_MAGIC: u32 = u32::from_le_bytes(*b"ACHF");

/// The magic at offset 0 of a [`VMHostFuncContext`] whose function is called
/// through the *native* convention: `b"NCHF"`.
pub const VM_NATIVE_CALL_HOST_FUNC_MAGIC: u32 = u32::from_le_bytes(*b"NCHF");

/// A context of unknown kind: either a [`VMContext`] or a
/// [`VMHostFuncContext`]. Every convention passes the callee's context as this
/// type; the callee knows which it is, and a debugging caller can tell them
/// apart by the magic at offset 0 ([`VMOpaqueContext::magic`]).
#[repr(C)]
pub struct VMOpaqueContext {
    _magic: u32,
    _marker: PhantomPinned,
}

impl VMOpaqueContext {
    /// Views a wasm instance context as an opaque one.
    #[inline]
    pub fn from_vmcontext(ptr: *mut VMContext) -> *mut VMOpaqueContext {
        ptr.cast()
    }

    /// Views a host function context as an opaque one.
    #[inline]
    pub fn from_host_func_context<T>(ptr: *mut VMHostFuncContext<T>) -> *mut VMOpaqueContext {
        ptr.cast()
    }

    /// Reads the magic at offset 0.
    ///
    /// # Safety
    /// `ptr` must point to a live context whose first four bytes are
    /// initialised (every context type of this crate starts with its magic).
    #[inline]
    pub unsafe fn magic(ptr: *const VMOpaqueContext) -> u32 {
        // SAFETY: the caller guarantees `ptr` points to a live context, and
        // every context begins with a `u32` magic at offset 0.
        u32::from_le(unsafe { ptr.cast::<u32>().read() })
    }
}

/// The context of a WebAssembly instance, owned by the runtime.
///
/// Springboard never looks inside it; it only passes it along as the
/// `caller_vmctx` of a call. A runtime that wants its contexts recognised
/// stores [`VMCONTEXT_MAGIC`] at offset 0, as Wasmtime does. The alignment of
/// 16 matches Wasmtime's `VMContext`.
#[repr(C, align(16))]
pub struct VMContext {
    _magic: u32,
    _marker: PhantomPinned,
}

/// The context of a host function: what its callee `vmctx` points to.
///
/// * **Written by** whoever creates the host function, once, before any
///   funcref to it is published; never changed while the function is alive.
/// * **Read by** the trampolines and shims of that function, which find the
///   host closure through `host_state`, and by debuggers through `magic`.
///
/// `magic` is [`VM_ARRAY_CALL_HOST_FUNC_MAGIC`] or
/// [`VM_NATIVE_CALL_HOST_FUNC_MAGIC`]; `func_ref` is the function's own
/// funcref, whose `vmctx` points back at this context. The header
/// (`magic`, `func_ref`) has the same layout for every `T`; its offsets are
/// given by [`PtrSize`](crate::PtrSize).
#[repr(C)]
pub struct VMHostFuncContext<T> {
    /// [`VM_ARRAY_CALL_HOST_FUNC_MAGIC`] or [`VM_NATIVE_CALL_HOST_FUNC_MAGIC`].
    pub magic: u32,
    /// The funcref that callers use to reach this function.
    pub func_ref: VMFuncRef,
    /// Whatever the host needs to run the function (a closure, a table...).
    pub host_state: T,
}

impl<T> VMHostFuncContext<T> {
    /// Whether `magic` is one of the two host-function magics.
    #[inline]
    pub const fn has_valid_magic(&self) -> bool {
        self.magic == VM_ARRAY_CALL_HOST_FUNC_MAGIC || self.magic == VM_NATIVE_CALL_HOST_FUNC_MAGIC
    }
}
