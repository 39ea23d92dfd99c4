//! aarch64 (AAPCS64 on Linux): the conventions as Cranelift implements them,
//! and the generic entries' assembly.

use super::{FRAME, GPR, INCOMING, Which};
use crate::plan::{Rules, Sret};
use springboard_environ::ValType;

/// Frame `gpr` indices are register numbers: x0–x8.
pub(super) const GPRS: usize = 9;
/// Frame `vec` indices are register numbers: v0–v7.
pub(super) const VECS: usize = 8;

const X: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7];
const V: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7];

/// `tail` passes its first argument in `x2`: no plan of both agrees.
pub(super) const NATIVE_SERVES_WASM: bool = false;

/// AAPCS64: `compute_arg_locs` of `aarch64/abi.rs` for `SystemV`.
pub(super) const NATIVE: Rules = Rules {
    int_args: X,
    float_args: V,
    int_rets: &[0],
    float_rets: &[0],
    positional: false,
    shadow: 0,
    v128_by_ref: false,
    sret: Sret::Reg(8),
    callee_pops: false,
    first_int: 0,
    v128_align: 16,
};

/// Cranelift's `tail`: integers from x2 (x0 and x1 stay free), results in
/// x2–x7 and v0–v7, the implicit return area's address in x8, and the
/// callee pops its stack arguments.
pub(super) const WASM: Rules = Rules {
    int_args: X,
    float_args: V,
    int_rets: X,
    float_rets: V,
    positional: false,
    shadow: 0,
    v128_by_ref: false,
    sret: Sret::Reg(8),
    callee_pops: true,
    first_int: 2,
    v128_align: 16,
};

/// A scalar's bits as a vector register holds them (upper bits zero, as a
/// scalar load leaves them).
pub(super) fn to_vec(_: ValType, bits: u64) -> u128 {
    u128::from(bits)
}

pub(super) fn entry(which: Which) -> *const u8 {
    match which {
        Which::Native => native_entry as *const u8,
        Which::Wasm | Which::WasmSret => wasm_entry as *const u8,
    }
}

/// Where the callee vmctx is for each entry.
/// No popping entry here (see `x86_64.rs`).
pub(super) fn popping_entry() -> Option<*const u8> {
    None
}

pub(super) fn vmctx(which: Which) -> u8 {
    match which {
        Which::Native => 0,
        Which::Wasm | Which::WasmSret => 2,
    }
}

/// One generic entry (see `x86_64.rs`): `$vmctx` is where the callee vmctx
/// arrives, `$slot` the offset of its forward slot's address below it.
macro_rules! entry {
    ($name:ident, $vmctx:literal, $slot:literal, $which:expr) => {
        #[unsafe(naked)]
        unsafe extern "C" fn $name() {
            core::arch::naked_asm!(
                concat!("ldur x16, [", $vmctx, ", #-", $slot, "]"),
                "ldr x16, [x16]",
                "cbz x16, 2f",
                "br x16",
                "2:",
                "stp x29, x30, [sp, #-16]!",
                "mov x29, sp",
                "sub sp, sp, #{size}",
                "stp q0, q1, [sp, #0]",
                "stp q2, q3, [sp, #32]",
                "stp q4, q5, [sp, #64]",
                "stp q6, q7, [sp, #96]",
                "stp x0, x1, [sp, #{gpr}]",
                "stp x2, x3, [sp, #{gpr} + 16]",
                "stp x4, x5, [sp, #{gpr} + 32]",
                "stp x6, x7, [sp, #{gpr} + 48]",
                "str x8, [sp, #{gpr} + 64]",
                "add x16, x29, #16",
                "str x16, [sp, #{incoming}]",
                "mov x0, sp",
                "mov x1, #{which}",
                "bl {handler}",
                // Bytes of stack arguments to pop.
                "mov x17, x0",
                "ldp q0, q1, [sp, #0]",
                "ldp q2, q3, [sp, #32]",
                "ldp q4, q5, [sp, #64]",
                "ldp q6, q7, [sp, #96]",
                "ldp x0, x1, [sp, #{gpr}]",
                "ldp x2, x3, [sp, #{gpr} + 16]",
                "ldp x4, x5, [sp, #{gpr} + 32]",
                "ldp x6, x7, [sp, #{gpr} + 48]",
                "ldr x8, [sp, #{gpr} + 64]",
                "mov sp, x29",
                "ldp x29, x30, [sp], #16",
                "add sp, sp, x17",
                "ret",
                size = const FRAME,
                gpr = const GPR,
                incoming = const INCOMING,
                which = const $which as usize,
                handler = sym super::generic_call,
            );
        }
    };
}

entry!(native_entry, "x0", "8", Which::Native);
entry!(wasm_entry, "x2", "16", Which::Wasm);
