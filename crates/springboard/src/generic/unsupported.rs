//! Hosts without generic entries compile every trampoline at creation: s390x
//! (three register classes, and a vector lane order per convention) and
//! Apple's aarch64 convention are not described yet: nothing here is
//! ever called.

use super::Which;
use crate::plan::{Rules, Sret};
use springboard_environ::ValType;

pub(super) const GPRS: usize = 1;
pub(super) const VECS: usize = 1;
pub(super) const NATIVE_SERVES_WASM: bool = false;
pub(super) const NATIVE: Rules = Rules {
    int_args: &[],
    float_args: &[],
    int_rets: &[],
    float_rets: &[],
    positional: false,
    shadow: 0,
    v128_by_ref: false,
    sret: Sret::FirstInt,
    callee_pops: false,
    first_int: 0,
    v128_align: 16,
};
pub(super) const WASM: Rules = NATIVE;

pub(super) fn entry(_: Which) -> *const u8 {
    core::ptr::null()
}

/// No popping entry here (see `x86_64.rs`).
pub(super) fn popping_entry() -> Option<*const u8> {
    None
}

pub(super) fn vmctx(_: Which) -> u8 {
    0
}

pub(super) fn to_vec(_: ValType, bits: u64) -> u128 {
    u128::from(bits)
}
