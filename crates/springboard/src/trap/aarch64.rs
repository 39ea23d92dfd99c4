//! The catch point on AArch64 (AAPCS64): x19–x28, x29 (fp), x30 (lr), sp
//! and d8–d15 are preserved across a call; x18 is the platform's and left
//! alone.

use core::mem::offset_of;

/// The registers a catch point restores, at the offsets the assembly names.
#[repr(C, align(16))]
#[allow(dead_code)] // written and read by the assembly only
pub(crate) struct JumpBuf {
    x19: u64,
    x20: u64,
    x21: u64,
    x22: u64,
    x23: u64,
    x24: u64,
    x25: u64,
    x26: u64,
    x27: u64,
    x28: u64,
    x29: u64,
    x30: u64,
    sp: u64,
    d8: u64,
    d9: u64,
    d10: u64,
    d11: u64,
    d12: u64,
    d13: u64,
    d14: u64,
    d15: u64,
}

// `stp`/`ldp` move pairs: each pair's second register right after its first.
const _: () = {
    assert!(offset_of!(JumpBuf, x20) == offset_of!(JumpBuf, x19) + 8);
    assert!(offset_of!(JumpBuf, x22) == offset_of!(JumpBuf, x21) + 8);
    assert!(offset_of!(JumpBuf, x24) == offset_of!(JumpBuf, x23) + 8);
    assert!(offset_of!(JumpBuf, x26) == offset_of!(JumpBuf, x25) + 8);
    assert!(offset_of!(JumpBuf, x28) == offset_of!(JumpBuf, x27) + 8);
    assert!(offset_of!(JumpBuf, x30) == offset_of!(JumpBuf, x29) + 8);
    assert!(offset_of!(JumpBuf, d9) == offset_of!(JumpBuf, d8) + 8);
    assert!(offset_of!(JumpBuf, d11) == offset_of!(JumpBuf, d10) + 8);
    assert!(offset_of!(JumpBuf, d13) == offset_of!(JumpBuf, d12) + 8);
    assert!(offset_of!(JumpBuf, d15) == offset_of!(JumpBuf, d14) + 8);
};

super::catch_point! {
    catch: [
        "stp x19, x20, [x0, #{x19}]",
        "stp x21, x22, [x0, #{x21}]",
        "stp x23, x24, [x0, #{x23}]",
        "stp x25, x26, [x0, #{x25}]",
        "stp x27, x28, [x0, #{x27}]",
        "stp x29, x30, [x0, #{x29}]",
        "mov x9, sp",
        "str x9, [x0, #{sp}]",
        "stp d8, d9, [x0, #{d8}]",
        "stp d10, d11, [x0, #{d10}]",
        "stp d12, d13, [x0, #{d12}]",
        "stp d14, d15, [x0, #{d14}]",
        // A frame record, for profilers and runtimes' walkers.
        "stp x29, x30, [sp, #-16]!",
        "mov x29, sp",
        "mov x0, x2",
        "blr x1",
        "ldp x29, x30, [sp], #16",
        "mov w0, #0",
        "ret",
    ],
    jump: [
        "ldp x19, x20, [x0, #{x19}]",
        "ldp x21, x22, [x0, #{x21}]",
        "ldp x23, x24, [x0, #{x23}]",
        "ldp x25, x26, [x0, #{x25}]",
        "ldp x27, x28, [x0, #{x27}]",
        "ldp x29, x30, [x0, #{x29}]",
        "ldp d8, d9, [x0, #{d8}]",
        "ldp d10, d11, [x0, #{d10}]",
        "ldp d12, d13, [x0, #{d12}]",
        "ldp d14, d15, [x0, #{d14}]",
        "ldr x9, [x0, #{sp}]",
        "mov sp, x9",
        "mov w0, #1",
        "ret",
    ],
    operands: {
        x19 = const offset_of!(JumpBuf, x19),
        x21 = const offset_of!(JumpBuf, x21),
        x23 = const offset_of!(JumpBuf, x23),
        x25 = const offset_of!(JumpBuf, x25),
        x27 = const offset_of!(JumpBuf, x27),
        x29 = const offset_of!(JumpBuf, x29),
        sp = const offset_of!(JumpBuf, sp),
        d8 = const offset_of!(JumpBuf, d8),
        d10 = const offset_of!(JumpBuf, d10),
        d12 = const offset_of!(JumpBuf, d12),
        d14 = const offset_of!(JumpBuf, d14),
    }
}

super::resume_point! {
    "ldr x9, [x0, #{sp}]",
    "mov sp, x9",
    "ldr x29, [x0, #{fp}]",
    "ldr x9, [x0, #{pc}]",
    "br x9",
}
