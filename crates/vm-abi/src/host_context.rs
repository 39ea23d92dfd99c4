//! [`VMHostFuncContext`]: the context of a host function, which holds the
//! function's own funcref.

use crate::context::{
    VM_ARRAY_CALL_HOST_FUNC_MAGIC, VM_NATIVE_CALL_HOST_FUNC_MAGIC, VMOpaqueContext,
};
use crate::funcref::VMFuncRef;

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

impl VMOpaqueContext {
    /// Views a host function context as an opaque one.
    #[inline]
    pub fn from_host_func_context<T>(ptr: *mut VMHostFuncContext<T>) -> *mut VMOpaqueContext {
        ptr.cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{VMSharedSignatureIndex, ValRaw};

    #[test]
    fn a_context_reads_back_its_own_magic() {
        let ctx = VMHostFuncContext {
            magic: VM_ARRAY_CALL_HOST_FUNC_MAGIC,
            func_ref: VMFuncRef {
                native_call: core::ptr::NonNull::dangling(),
                array_call: {
                    unsafe extern "C" fn nop(
                        _: *mut VMOpaqueContext,
                        _: *mut VMOpaqueContext,
                        _: *mut ValRaw,
                        _: usize,
                    ) {
                    }
                    nop
                },
                wasm_call: None,
                type_index: VMSharedSignatureIndex::RESERVED,
                vmctx: core::ptr::null_mut(),
            },
            host_state: (),
        };
        assert!(ctx.has_valid_magic());
        let opaque = VMOpaqueContext::from_host_func_context((&raw const ctx).cast_mut());
        // SAFETY: `ctx` is live and starts with its magic.
        assert_eq!(unsafe { VMOpaqueContext::magic(opaque) }, ctx.magic);
    }
}
