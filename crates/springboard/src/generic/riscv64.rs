//! riscv64 (LP64D): the conventions as Cranelift implements them, and the
//! generic entries' assembly.

use super::{FRAME, GPR, INCOMING, Which};
use crate::plan::{Rules, Sret};
use springboard_environ::ValType;

/// Frame `gpr` indices: a0–a7 (x10–x17).
pub(super) const GPRS: usize = 8;
/// Frame `vec` indices: fa0–fa7 (f10–f17), 8 bytes each in 16.
pub(super) const VECS: usize = 8;

const A: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7];

/// `compute_arg_locs` of `riscv64/abi.rs`, the same for both conventions:
/// a0–a7 and fa0–fa7, two return registers per class, the implicit return
/// area's address in a0.
const RULES: Rules = Rules {
    int_args: A,
    float_args: A,
    int_rets: &[0, 1],
    float_rets: &[0, 1],
    positional: false,
    shadow: 0,
    v128_by_ref: false,
    sret: Sret::FirstInt,
    callee_pops: false,
    first_int: 0,
    v128_align: 16,
};

/// The psABI and `tail` agree on everything `Rules` leaves out: the same
/// callee-saved registers and clobbers (`compute_frame_layout` and
/// `get_regs_clobbered_by_call` of `riscv64/abi.rs` treat both alike). The
/// psABI widens 32-bit integers and `tail` does not, but no native entry
/// relies on it (`val::Register`: the shims read the low half).
pub(super) const NATIVE_SERVES_WASM: bool = true;

pub(super) const NATIVE: Rules = RULES;

/// Cranelift's `tail`: the same registers; the callee pops.
pub(super) const WASM: Rules = Rules {
    callee_pops: true,
    ..RULES
};

/// A scalar's bits as a float register holds them: an `f32` NaN-boxed
/// (upper 32 bits set), or the hardware reads it as the canonical NaN.
pub(super) fn to_vec(ty: ValType, bits: u64) -> u128 {
    match ty {
        ValType::F32 => u128::from(bits | 0xffff_ffff_0000_0000),
        _ => u128::from(bits),
    }
}

pub(super) fn entry(which: Which) -> *const u8 {
    match which {
        Which::Native => native_entry as *const u8,
        Which::Wasm => wasm_entry as *const u8,
        Which::WasmSret => wasm_sret_entry as *const u8,
    }
}

/// Where the callee vmctx is for each entry.
/// No popping entry here (see `x86_64.rs`).
pub(super) fn popping_entry() -> Option<*const u8> {
    None
}

pub(super) fn vmctx(which: Which) -> u8 {
    match which {
        Which::Native | Which::Wasm => 0,
        Which::WasmSret => 1,
    }
}

/// One generic entry (see `x86_64.rs`): `$vmctx` is where the callee vmctx
/// arrives, `$slot` the offset of its forward slot's address below it.
macro_rules! entry {
    ($name:ident, $vmctx:literal, $slot:literal, $which:expr) => {
        #[unsafe(naked)]
        unsafe extern "C" fn $name() {
            core::arch::naked_asm!(
                concat!("ld t1, -", $slot, "(", $vmctx, ")"),
                "ld t1, 0(t1)",
                "beqz t1, 2f",
                "jr t1",
                "2:",
                "addi sp, sp, -16",
                "sd ra, 8(sp)",
                "sd s0, 0(sp)",
                "addi s0, sp, 16",
                "addi sp, sp, -{size}",
                "fsd fa0, 0(sp)",
                "fsd fa1, 16(sp)",
                "fsd fa2, 32(sp)",
                "fsd fa3, 48(sp)",
                "fsd fa4, 64(sp)",
                "fsd fa5, 80(sp)",
                "fsd fa6, 96(sp)",
                "fsd fa7, 112(sp)",
                "sd a0, {gpr}(sp)",
                "sd a1, {gpr}+8(sp)",
                "sd a2, {gpr}+16(sp)",
                "sd a3, {gpr}+24(sp)",
                "sd a4, {gpr}+32(sp)",
                "sd a5, {gpr}+40(sp)",
                "sd a6, {gpr}+48(sp)",
                "sd a7, {gpr}+56(sp)",
                "sd s0, {incoming}(sp)",
                "mv a0, sp",
                "li a1, {which}",
                "call {handler}",
                // Bytes of stack arguments to pop.
                "mv t2, a0",
                "fld fa0, 0(sp)",
                "fld fa1, 16(sp)",
                "fld fa2, 32(sp)",
                "fld fa3, 48(sp)",
                "fld fa4, 64(sp)",
                "fld fa5, 80(sp)",
                "fld fa6, 96(sp)",
                "fld fa7, 112(sp)",
                "ld a0, {gpr}(sp)",
                "ld a1, {gpr}+8(sp)",
                "ld a2, {gpr}+16(sp)",
                "ld a3, {gpr}+24(sp)",
                "ld a4, {gpr}+32(sp)",
                "ld a5, {gpr}+40(sp)",
                "ld a6, {gpr}+48(sp)",
                "ld a7, {gpr}+56(sp)",
                "addi sp, s0, -16",
                "ld ra, 8(sp)",
                "ld s0, 0(sp)",
                "addi sp, sp, 16",
                "add sp, sp, t2",
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

entry!(native_entry, "a0", "8", Which::Native);
entry!(wasm_entry, "a0", "16", Which::Wasm);
entry!(wasm_sret_entry, "a1", "16", Which::WasmSret);
