//! Field offsets and sizes for any pointer width, for code generators that
//! emit loads from these structures (possibly for another target).

use crate::{
    VMFuncRef, VMHostCaller, VMHostFuncContext, VMSharedSignatureIndex, VMSupertypes, ValRaw,
};
use core::mem::{align_of, offset_of, size_of};

/// A target's pointer size in bytes (4 or 8), answering every offset and size
/// of the structures in this crate for that target.
///
/// All methods are `const fn`, so offsets can be used in constants. The
/// answers for [`PtrSize::HOST`] are checked against Rust's own layout at
/// compile time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PtrSize(u8);

const fn align_to(offset: u8, align: u8) -> u8 {
    offset.div_ceil(align) * align
}

impl PtrSize {
    /// The pointer size of the target this crate was compiled for.
    pub const HOST: PtrSize = PtrSize(size_of::<usize>() as u8);

    /// A 32-bit target.
    pub const P32: PtrSize = PtrSize(4);

    /// A 64-bit target.
    pub const P64: PtrSize = PtrSize(8);

    /// A pointer size of `bytes`; only 4 and 8 are supported.
    pub const fn new(bytes: u8) -> Option<PtrSize> {
        match bytes {
            4 | 8 => Some(PtrSize(bytes)),
            _ => None,
        }
    }

    /// The pointer size in bytes.
    pub const fn bytes(self) -> u8 {
        self.0
    }

    /// Offset of `VMFuncRef::native_call`.
    pub const fn vm_func_ref_native_call(self) -> u8 {
        0
    }

    /// Offset of `VMFuncRef::array_call`.
    pub const fn vm_func_ref_array_call(self) -> u8 {
        self.0
    }

    /// Offset of `VMFuncRef::wasm_call`.
    pub const fn vm_func_ref_wasm_call(self) -> u8 {
        2 * self.0
    }

    /// Offset of `VMFuncRef::type_index`.
    pub const fn vm_func_ref_type_index(self) -> u8 {
        3 * self.0
    }

    /// Offset of `VMFuncRef::vmctx`.
    pub const fn vm_func_ref_vmctx(self) -> u8 {
        align_to(
            self.vm_func_ref_type_index() + self.size_of_vmshared_signature_index(),
            self.0,
        )
    }

    /// Size of `VMFuncRef`.
    pub const fn size_of_vm_func_ref(self) -> u8 {
        self.vm_func_ref_vmctx() + self.0
    }

    /// Size of `VMSharedSignatureIndex` (the same on every target).
    pub const fn size_of_vmshared_signature_index(self) -> u8 {
        4
    }

    /// Size of one `ValRaw` slot, which is also the stride of a buffer of them
    /// (the same on every target).
    pub const fn size_of_val_raw(self) -> u8 {
        16
    }

    /// Alignment of a `ValRaw` slot, and so of a buffer of them: 16, as in
    /// Wasmtime 17 (the same on every target).
    pub const fn align_of_val_raw(self) -> u8 {
        16
    }

    /// Offset of `VMHostFuncContext::magic`.
    pub const fn vm_host_func_context_magic(self) -> u8 {
        0
    }

    /// Offset of `VMHostFuncContext::func_ref`.
    pub const fn vm_host_func_context_func_ref(self) -> u8 {
        align_to(4, self.0)
    }

    /// Offset of `VMHostFuncContext::host_state` when the state needs at most
    /// pointer alignment (a `Box`, a pointer, an integer...).
    pub const fn vm_host_func_context_host_state(self) -> u8 {
        self.vm_host_func_context_func_ref() + self.size_of_vm_func_ref()
    }

    /// Offset of `VMHostCaller::catch` (the same on every target).
    pub const fn vm_host_caller_catch(self) -> u8 {
        4
    }

    /// Offset of `VMHostCaller::entry_fp`.
    pub const fn vm_host_caller_entry_fp(self) -> u8 {
        8
    }

    /// Offset of `VMHostCaller::entry_sp`.
    pub const fn vm_host_caller_entry_sp(self) -> u8 {
        8 + self.0
    }

    /// Offset of `VMHostCaller::entry_pc`.
    pub const fn vm_host_caller_entry_pc(self) -> u8 {
        8 + 2 * self.0
    }

    /// Offset of `VMSupertypes::index` (the same on every target).
    pub const fn vm_supertypes_index(self) -> u8 {
        0
    }

    /// Offset of `VMSupertypes::depth` (the same on every target).
    pub const fn vm_supertypes_depth(self) -> u8 {
        4
    }

    /// Offset of a `VMSupertypes`'s ancestors, the `u32`s after its header
    /// (the same on every target).
    pub const fn vm_supertypes_ancestors(self) -> u8 {
        8
    }
}

// Rust's layout of the host must agree with what `PtrSize::HOST` says.
const _: () = {
    let p = PtrSize::HOST;
    assert!(offset_of!(VMFuncRef, native_call) == p.vm_func_ref_native_call() as usize);
    assert!(offset_of!(VMFuncRef, array_call) == p.vm_func_ref_array_call() as usize);
    assert!(offset_of!(VMFuncRef, wasm_call) == p.vm_func_ref_wasm_call() as usize);
    assert!(offset_of!(VMFuncRef, type_index) == p.vm_func_ref_type_index() as usize);
    assert!(offset_of!(VMFuncRef, vmctx) == p.vm_func_ref_vmctx() as usize);
    assert!(size_of::<VMFuncRef>() == p.size_of_vm_func_ref() as usize);
    assert!(align_of::<VMFuncRef>() == p.bytes() as usize);
    assert!(size_of::<VMSharedSignatureIndex>() == p.size_of_vmshared_signature_index() as usize);
    assert!(size_of::<ValRaw>() == p.size_of_val_raw() as usize);
    assert!(align_of::<ValRaw>() == p.align_of_val_raw() as usize);
    type Ctx = VMHostFuncContext<*mut u8>;
    assert!(offset_of!(Ctx, magic) == p.vm_host_func_context_magic() as usize);
    assert!(offset_of!(Ctx, func_ref) == p.vm_host_func_context_func_ref() as usize);
    assert!(offset_of!(Ctx, host_state) == p.vm_host_func_context_host_state() as usize);
    assert!(offset_of!(VMSupertypes, index) == p.vm_supertypes_index() as usize);
    assert!(offset_of!(VMSupertypes, depth) == p.vm_supertypes_depth() as usize);
    assert!(size_of::<VMSupertypes>() == p.vm_supertypes_ancestors() as usize);
    assert!(align_of::<VMSupertypes>() == 4);
    assert!(offset_of!(VMHostCaller, magic) == 0);
    assert!(offset_of!(VMHostCaller, catch) == p.vm_host_caller_catch() as usize);
    assert!(offset_of!(VMHostCaller, entry_fp) == p.vm_host_caller_entry_fp() as usize);
    assert!(offset_of!(VMHostCaller, entry_sp) == p.vm_host_caller_entry_sp() as usize);
    assert!(offset_of!(VMHostCaller, entry_pc) == p.vm_host_caller_entry_pc() as usize);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_widths_match_the_documented_layout() {
        let layout = |p: PtrSize| {
            [
                p.vm_func_ref_native_call(),
                p.vm_func_ref_array_call(),
                p.vm_func_ref_wasm_call(),
                p.vm_func_ref_type_index(),
                p.vm_func_ref_vmctx(),
                p.size_of_vm_func_ref(),
            ]
        };
        assert_eq!(layout(PtrSize::P64), [0, 8, 16, 24, 32, 40]);
        assert_eq!(layout(PtrSize::P32), [0, 4, 8, 12, 16, 20]);
        assert_eq!(PtrSize::P32.vm_host_func_context_host_state(), 24);
        assert_eq!(PtrSize::P64.vm_host_func_context_host_state(), 48);
    }

    #[test]
    fn only_real_pointer_sizes_exist() {
        assert_eq!(PtrSize::new(4), Some(PtrSize::P32));
        assert_eq!(PtrSize::new(8), Some(PtrSize::P64));
        for bad in [0, 1, 2, 3, 5, 16] {
            assert_eq!(PtrSize::new(bad), None);
        }
    }
}
