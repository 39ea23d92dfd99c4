//! The catch point on s390x (ELF ABI): r6–r13, r14 (return address), r15
//! (stack pointer) and f8–f15 are preserved across a call; a caller gives
//! its callee a 160-byte register save area. `stmg`/`lmg` move r6–r15 as
//! one block, `gprs`.

use core::mem::offset_of;

/// The registers a catch point restores, at the offsets the assembly names.
#[repr(C, align(16))]
#[allow(dead_code)] // written and read by the assembly only
pub(crate) struct JumpBuf {
    gprs: [u64; 10],
    f8: u64,
    f9: u64,
    f10: u64,
    f11: u64,
    f12: u64,
    f13: u64,
    f14: u64,
    f15: u64,
}

/// The s390x ELF ABI's register save area: what a caller gives its callee.
const SAVE_AREA: usize = 160;
/// Where r14 (then r15) goes in a save area.
const R14_SLOT: usize = 112;

super::catch_point! {
    catch: [
        "stmg %r6, %r15, {gprs}(%r2)",
        "std %f8, {f8}(%r2)",
        "std %f9, {f9}(%r2)",
        "std %f10, {f10}(%r2)",
        "std %f11, {f11}(%r2)",
        "std %f12, {f12}(%r2)",
        "std %f13, {f13}(%r2)",
        "std %f14, {f14}(%r2)",
        "std %f15, {f15}(%r2)",
        // The caller's register save area holds our r14 and r15; the callee
        // gets a save area of its own.
        "stmg %r14, %r15, {r14_slot}(%r15)",
        "aghi %r15, -{save_area}",
        "lgr %r2, %r4",
        "basr %r14, %r3",
        "lmg %r14, %r15, {save_area} + {r14_slot}(%r15)",
        "lghi %r2, 0",
        "br %r14",
    ],
    jump: [
        "ld %f8, {f8}(%r2)",
        "ld %f9, {f9}(%r2)",
        "ld %f10, {f10}(%r2)",
        "ld %f11, {f11}(%r2)",
        "ld %f12, {f12}(%r2)",
        "ld %f13, {f13}(%r2)",
        "ld %f14, {f14}(%r2)",
        "ld %f15, {f15}(%r2)",
        "lmg %r6, %r15, {gprs}(%r2)",
        "lghi %r2, 1",
        "br %r14",
        // (The save area is the caller's business here.)
        "# {save_area} {r14_slot}",
    ],
    operands: {
        gprs = const offset_of!(JumpBuf, gprs),
        f8 = const offset_of!(JumpBuf, f8),
        f9 = const offset_of!(JumpBuf, f9),
        f10 = const offset_of!(JumpBuf, f10),
        f11 = const offset_of!(JumpBuf, f11),
        f12 = const offset_of!(JumpBuf, f12),
        f13 = const offset_of!(JumpBuf, f13),
        f14 = const offset_of!(JumpBuf, f14),
        f15 = const offset_of!(JumpBuf, f15),
        save_area = const SAVE_AREA,
        r14_slot = const R14_SLOT,
    }
}

super::resume_point! {
    "lg %r1, {pc}(%r2)",
    "lg %r15, {sp}(%r2)",
    "br %r1",
    "# {fp}",
}
