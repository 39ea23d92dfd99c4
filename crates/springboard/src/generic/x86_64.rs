//! x86-64: the conventions as Cranelift implements them, and the generic
//! entries' assembly.

use super::{FRAME, GPR, INCOMING, Which};
use crate::plan::{Rules, Sret};
use springboard_environ::ValType;

// Frame `gpr` indices: every register that carries an argument or a result
// in some convention here.
const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;
const RSI: u8 = 3;
const RDI: u8 = 4;
const R8: u8 = 5;
const R9: u8 = 6;
const R10: u8 = 7;
pub(super) const GPRS: usize = 8;
pub(super) const VECS: usize = 8;

const XMM: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7];

/// System V: `get_intreg_for_arg`/`get_fltreg_for_arg` of `x64/abi.rs`.
#[cfg(not(windows))]
pub(super) const NATIVE: Rules = Rules {
    int_args: &[RDI, RSI, RDX, RCX, R8, R9],
    float_args: XMM,
    int_rets: &[RAX],
    float_rets: &[0],
    positional: false,
    shadow: 0,
    v128_by_ref: false,
    sret: Sret::FirstInt,
    callee_pops: false,
    first_int: 0,
    v128_align: 16,
};

/// Windows x64: positional registers, 32 bytes of shadow space, `v128`
/// arguments by reference.
#[cfg(windows)]
pub(super) const NATIVE: Rules = Rules {
    int_args: &[RCX, RDX, R8, R9],
    float_args: &[0, 1, 2, 3],
    int_rets: &[RAX],
    float_rets: &[0],
    positional: true,
    shadow: 32,
    v128_by_ref: true,
    sret: Sret::FirstInt,
    callee_pops: false,
    first_int: 0,
    v128_align: 16,
};

/// System V and `tail` agree on everything `Rules` leaves out: the same
/// callee-saved registers (`compute_frame_layout` of `x64/abi.rs` filters
/// both with `is_callee_save_systemv`) and the same clobbers at a call, and
/// neither extends an `i32` argument. Windows' native rules differ anyway.
pub(super) const NATIVE_SERVES_WASM: bool = cfg!(not(windows));

/// Cranelift's `tail`: System V's argument registers, eight return
/// registers per class, the implicit return area's address first, and the
/// callee pops its stack arguments.
pub(super) const WASM: Rules = Rules {
    int_args: &[RDI, RSI, RDX, RCX, R8, R9],
    float_args: XMM,
    int_rets: &[RAX, RCX, RDX, RSI, RDI, R8, R9, R10],
    float_rets: XMM,
    positional: false,
    shadow: 0,
    v128_by_ref: false,
    sret: Sret::FirstInt,
    callee_pops: true,
    first_int: 0,
    v128_align: 16,
};

/// A scalar's bits as a vector register holds them (upper bits zero, as a
/// scalar load leaves them).
pub(super) fn to_vec(_: ValType, bits: u64) -> u128 {
    u128::from(bits)
}

/// The entry of each kind, as an address.
pub(super) fn entry(which: Which) -> *const u8 {
    match which {
        Which::Native => native_entry as *const u8,
        Which::Wasm => wasm_entry as *const u8,
        Which::WasmSret => wasm_sret_entry as *const u8,
    }
}

/// Space for the callee of a call: Windows' 32-byte shadow area.
const SHADOW: usize = if cfg!(windows) { 32 } else { 0 };

/// One generic entry: check for compiled code and jump there, else save the
/// argument registers into a `Frame`, call `super::generic_call`, load the
/// result registers and return, popping what it says.
///
/// `$vmctx`: where the callee vmctx arrives; `$slot`: the offset of the
/// forward slot's address below it (see `super::Header`).
macro_rules! entry {
    ($name:ident, $vmctx:literal, $slot:literal, $which:expr) => {
        #[unsafe(naked)]
        unsafe extern "C" fn $name() {
            core::arch::naked_asm!(
                concat!("mov r11, [", $vmctx, " - ", $slot, "]"),
                "mov r11, [r11]",
                "test r11, r11",
                "jz 2f",
                "jmp r11",
                "2:",
                "push rbp",
                "mov rbp, rsp",
                "sub rsp, {size}",
                "movups [rsp + {shadow} + 0], xmm0",
                "movups [rsp + {shadow} + 16], xmm1",
                "movups [rsp + {shadow} + 32], xmm2",
                "movups [rsp + {shadow} + 48], xmm3",
                "movups [rsp + {shadow} + 64], xmm4",
                "movups [rsp + {shadow} + 80], xmm5",
                "movups [rsp + {shadow} + 96], xmm6",
                "movups [rsp + {shadow} + 112], xmm7",
                "mov [rsp + {shadow} + {gpr} + 0], rax",
                "mov [rsp + {shadow} + {gpr} + 8], rcx",
                "mov [rsp + {shadow} + {gpr} + 16], rdx",
                "mov [rsp + {shadow} + {gpr} + 24], rsi",
                "mov [rsp + {shadow} + {gpr} + 32], rdi",
                "mov [rsp + {shadow} + {gpr} + 40], r8",
                "mov [rsp + {shadow} + {gpr} + 48], r9",
                "mov [rsp + {shadow} + {gpr} + 56], r10",
                "lea rax, [rbp + 16]",
                "mov [rsp + {shadow} + {incoming}], rax",
                // generic_call(frame, which), in the host's C convention.
                concat!("lea ", arg0!(), ", [rsp + {shadow}]"),
                concat!("mov ", arg1!(), ", {which}"),
                "call {handler}",
                // Pop `rax` bytes of arguments: move the saved rbp and the
                // return address up by that much.
                "mov rcx, [rbp]",
                "mov rdx, [rbp + 8]",
                "lea r11, [rbp + rax]",
                "mov [r11], rcx",
                "mov [r11 + 8], rdx",
                "movups xmm0, [rsp + {shadow} + 0]",
                "movups xmm1, [rsp + {shadow} + 16]",
                "movups xmm2, [rsp + {shadow} + 32]",
                "movups xmm3, [rsp + {shadow} + 48]",
                "movups xmm4, [rsp + {shadow} + 64]",
                "movups xmm5, [rsp + {shadow} + 80]",
                "movups xmm6, [rsp + {shadow} + 96]",
                "movups xmm7, [rsp + {shadow} + 112]",
                "mov rax, [rsp + {shadow} + {gpr} + 0]",
                "mov rcx, [rsp + {shadow} + {gpr} + 8]",
                "mov rdx, [rsp + {shadow} + {gpr} + 16]",
                "mov rsi, [rsp + {shadow} + {gpr} + 24]",
                "mov rdi, [rsp + {shadow} + {gpr} + 32]",
                "mov r8, [rsp + {shadow} + {gpr} + 40]",
                "mov r9, [rsp + {shadow} + {gpr} + 48]",
                "mov r10, [rsp + {shadow} + {gpr} + 56]",
                "mov rsp, r11",
                "pop rbp",
                "ret",
                size = const FRAME + SHADOW,
                shadow = const SHADOW,
                gpr = const GPR,
                incoming = const INCOMING,
                which = const $which as usize,
                handler = sym super::generic_call,
            );
        }
    };
}

// The host C convention's first two argument registers.
#[cfg(not(windows))]
macro_rules! arg0 {
    () => {
        "rdi"
    };
}
#[cfg(not(windows))]
macro_rules! arg1 {
    () => {
        "rsi"
    };
}
#[cfg(windows)]
macro_rules! arg0 {
    () => {
        "rcx"
    };
}
#[cfg(windows)]
macro_rules! arg1 {
    () => {
        "rdx"
    };
}

#[cfg(not(windows))]
entry!(native_entry, "rdi", "8", Which::Native);
#[cfg(windows)]
entry!(native_entry, "rcx", "8", Which::Native);
entry!(wasm_entry, "rdi", "16", Which::Wasm);
entry!(wasm_sret_entry, "rsi", "16", Which::WasmSret);

/// The popping entry (System V): a typed host function's `wasm_call` where
/// System V and `tail` put every argument and the result in the same place
/// and only `tail` pops the stack arguments (`super::popping_entry`).
pub(super) fn popping_entry() -> Option<*const u8> {
    #[cfg(not(windows))]
    return Some(popping as *const u8);
    #[cfg(windows)]
    None
}

/// Calls the function's stack shim (`vmctx - 24`) with the registers as
/// they came and, as its one stack argument, the address of the caller's
/// stack arguments, which it reads in place; then returns popping
/// `vmctx - 32` bytes of them as `tail` does. What it needs after the call
/// (the byte count and the return address) stays on the stack, above the
/// shim's frame: nothing is copied, and no register is saved.
#[cfg(not(windows))]
#[unsafe(naked)]
unsafe extern "C" fn popping() {
    core::arch::naked_asm!(
        ".cfi_startproc",
        "mov r11, [rdi - 24]",
        "push qword ptr [rdi - 32]",
        ".cfi_adjust_cfa_offset 8",
        "lea r10, [rsp + 16]",
        // Keeps the shim's entry 16-byte aligned.
        "sub rsp, 8",
        ".cfi_adjust_cfa_offset 8",
        "push r10",
        ".cfi_adjust_cfa_offset 8",
        "call r11",
        "add rsp, 16",
        ".cfi_adjust_cfa_offset -16",
        "pop r11",
        ".cfi_adjust_cfa_offset -8",
        "pop r10",
        ".cfi_adjust_cfa_offset -8",
        ".cfi_register rip, r10",
        "add rsp, r11",
        // The frame's address is now `rsp - r11`, then `rsp + 8 - r11`
        // (DW_CFA_def_cfa_expression: DW_OP_breg7 (rsp), DW_OP_breg11
        // (r11), DW_OP_minus).
        ".cfi_escape 0x0f, 5, 0x77, 0, 0x7b, 0, 0x1c",
        // `push` and `ret` rather than `jmp`: returns stay paired with
        // calls for the return predictor.
        "push r10",
        ".cfi_escape 0x0f, 5, 0x77, 8, 0x7b, 0, 0x1c",
        "ret",
        ".cfi_endproc",
    );
}

/// Where the callee vmctx is for each entry.
pub(super) fn vmctx(which: Which) -> u8 {
    match which {
        Which::Native if cfg!(windows) => RCX,
        Which::Native | Which::Wasm => RDI,
        Which::WasmSret => RSI,
    }
}
