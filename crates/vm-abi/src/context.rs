//! Contexts passed to every call: [`VMOpaqueContext`], [`VMContext`] and
//! (in `host_context.rs`, as it holds a funcref) [`VMHostFuncContext`](crate::VMHostFuncContext),
//! each recognisable by a 32-bit magic at offset 0.
//!
//! A magic is a `u32` stored in the target's own byte order, as Wasmtime
//! stores it (a plain `u32` field): its value is the little-endian reading
//! of four ASCII letters, so the bytes in memory spell them on little-endian
//! targets and spell them backwards on big-endian ones (s390x). Every reader
//! and writer here uses that one order ([`magic_from_bytes`]).

use core::marker::PhantomPinned;

/// The magic at offset 0 of a [`VMContext`]: `b"core"` as a little-endian `u32`.
pub const VMCONTEXT_MAGIC: u32 = u32::from_le_bytes(*b"core");

/// The magic at offset 0 of the caller context Springboard's facade passes
/// when the host calls and the runtime gave no context of its own:
/// `b"SBHC"` ("Springboard host caller"). Code that receives it as its caller
/// vmctx was called from the host, not from wasm.
pub const SPRINGBOARD_HOST_CALLER_MAGIC: u32 = u32::from_le_bytes(*b"SBHC");

/// The caller context Springboard's facade passes when the host calls and
/// the runtime gave no context of its own: [`SPRINGBOARD_HOST_CALLER_MAGIC`],
/// then a catch point for the entry trampoline it is passed to.
///
/// When `catch` is [`VMHostCaller::CATCH`], an entry into wasm (the
/// `native_to_wasm` and `array_to_wasm` trampolines of the `tail` wasm
/// convention) stores its own frame pointer, stack pointer and the address
/// of its exception handler here before it calls wasm. A failing host
/// function beneath then resumes at `entry_pc` with those two registers
/// restored: the trampoline returns zeros to the facade, which returns the
/// failure (see `docs/ABI.md`, "Host failures"). With `catch == 0` (the
/// engine's own context, which outlives every call) trampolines write
/// nothing. The facade makes one armed context per call, on its stack.
#[repr(C, align(16))]
#[derive(Debug)]
pub struct VMHostCaller {
    /// [`SPRINGBOARD_HOST_CALLER_MAGIC`].
    pub magic: u32,
    /// [`VMHostCaller::CATCH`], or 0.
    pub catch: u32,
    /// The entry trampoline's frame pointer.
    pub entry_fp: usize,
    /// The entry trampoline's stack pointer at its call into wasm.
    pub entry_sp: usize,
    /// The entry trampoline's exception handler.
    pub entry_pc: usize,
}

impl VMHostCaller {
    /// The `catch` of a context whose entry fields the entry trampoline writes.
    pub const CATCH: u32 = 1;

    /// A context that asks for a catch point (`catch` set, no entry yet).
    #[inline]
    pub const fn armed() -> VMHostCaller {
        VMHostCaller {
            magic: SPRINGBOARD_HOST_CALLER_MAGIC,
            catch: VMHostCaller::CATCH,
            entry_fp: 0,
            entry_sp: 0,
            entry_pc: 0,
        }
    }

    /// A context that asks for nothing.
    #[inline]
    pub const fn unarmed() -> VMHostCaller {
        VMHostCaller {
            catch: 0,
            ..VMHostCaller::armed()
        }
    }
}

/// The magic at offset 0 of a [`VMHostFuncContext`](crate::VMHostFuncContext) whose function is called
/// through the *array* convention: `b"ACHF"`.
pub const VM_ARRAY_CALL_HOST_FUNC_MAGIC: u32 = u32::from_le_bytes(*b"ACHF");

/// The magic at offset 0 of a [`VMHostFuncContext`](crate::VMHostFuncContext) whose function is called
/// through the *native* convention: `b"NCHF"`.
pub const VM_NATIVE_CALL_HOST_FUNC_MAGIC: u32 = u32::from_le_bytes(*b"NCHF");

/// The magic stored in the four `bytes` at offset 0 of a context written on
/// a target of the given byte order: how a tool reading another target's
/// memory (a debugger, a core dump, an emulated process) finds it.
#[inline]
pub const fn magic_from_bytes(bytes: [u8; 4], big_endian: bool) -> u32 {
    if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    }
}

/// A context of unknown kind: either a [`VMContext`] or a
/// [`VMHostFuncContext`](crate::VMHostFuncContext). Every convention passes the callee's context as this
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

    /// Reads the magic at offset 0.
    ///
    /// # Safety
    /// `ptr` must point to a live context whose first four bytes are
    /// initialised (every context type of this crate starts with its magic).
    #[inline]
    pub unsafe fn magic(ptr: *const VMOpaqueContext) -> u32 {
        // SAFETY: the caller guarantees `ptr` points to a live context, and
        // every context begins with a `u32` magic at offset 0.
        let bytes = unsafe { ptr.cast::<[u8; 4]>().read() };
        magic_from_bytes(bytes, cfg!(target_endian = "big"))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// On a big-endian target (s390x) the letters lie backwards in memory,
    /// and reading them as little-endian — what `magic` once did — would
    /// see a different value there.
    #[test]
    fn big_endian_bytes_hold_the_same_magic() {
        for (magic, letters) in [
            (VMCONTEXT_MAGIC, *b"core"),
            (VM_ARRAY_CALL_HOST_FUNC_MAGIC, *b"ACHF"),
            (VM_NATIVE_CALL_HOST_FUNC_MAGIC, *b"NCHF"),
        ] {
            let mut backwards = letters;
            backwards.reverse();
            assert_eq!(magic.to_be_bytes(), backwards);
            assert_eq!(magic_from_bytes(backwards, true), magic);
            assert_eq!(magic_from_bytes(letters, false), magic);
            assert_ne!(u32::from_le_bytes(backwards), magic);
            assert_eq!(
                magic_from_bytes(magic.to_ne_bytes(), cfg!(target_endian = "big")),
                magic
            );
        }
    }
}
