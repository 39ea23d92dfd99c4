//! The catch point on Windows x64: rbx, rbp, rdi, rsi, r12–r15, xmm6–xmm15,
//! the stack pointer and the return address are preserved across a call;
//! arguments arrive in rcx, rdx, r8; a call needs 32 bytes of shadow space.

use core::mem::offset_of;

/// The registers a catch point restores, at the offsets the assembly names.
#[repr(C, align(16))]
#[allow(dead_code)] // written and read by the assembly only
pub(crate) struct JumpBuf {
    rbx: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    r12: u64,
    r13: u64,
    r14: u64,
    r15: u64,
    sp: u64,
    pc: u64,
    xmm6: u128,
    xmm7: u128,
    xmm8: u128,
    xmm9: u128,
    xmm10: u128,
    xmm11: u128,
    xmm12: u128,
    xmm13: u128,
    xmm14: u128,
    xmm15: u128,
}

// `movdqa` needs 16-byte aligned slots.
const _: () = assert!(offset_of!(JumpBuf, xmm6).is_multiple_of(16));

super::catch_point! {
    catch: [
        "mov [rcx + {rbx}], rbx",
        "mov [rcx + {rbp}], rbp",
        "mov [rcx + {rdi}], rdi",
        "mov [rcx + {rsi}], rsi",
        "mov [rcx + {r12}], r12",
        "mov [rcx + {r13}], r13",
        "mov [rcx + {r14}], r14",
        "mov [rcx + {r15}], r15",
        "lea rax, [rsp + 8]",
        "mov [rcx + {sp}], rax",
        "mov rax, [rsp]",
        "mov [rcx + {pc}], rax",
        "movdqa [rcx + {xmm6}], xmm6",
        "movdqa [rcx + {xmm7}], xmm7",
        "movdqa [rcx + {xmm8}], xmm8",
        "movdqa [rcx + {xmm9}], xmm9",
        "movdqa [rcx + {xmm10}], xmm10",
        "movdqa [rcx + {xmm11}], xmm11",
        "movdqa [rcx + {xmm12}], xmm12",
        "movdqa [rcx + {xmm13}], xmm13",
        "movdqa [rcx + {xmm14}], xmm14",
        "movdqa [rcx + {xmm15}], xmm15",
        // 32 bytes of shadow space for the callee, and the stack realigned to 16.
        "sub rsp, 40",
        "mov rcx, r8",
        "call rdx",
        "add rsp, 40",
        "xor eax, eax",
        "ret",
    ],
    jump: [
        "mov rbx, [rcx + {rbx}]",
        "mov rbp, [rcx + {rbp}]",
        "mov rdi, [rcx + {rdi}]",
        "mov rsi, [rcx + {rsi}]",
        "mov r12, [rcx + {r12}]",
        "mov r13, [rcx + {r13}]",
        "mov r14, [rcx + {r14}]",
        "mov r15, [rcx + {r15}]",
        "movdqa xmm6, [rcx + {xmm6}]",
        "movdqa xmm7, [rcx + {xmm7}]",
        "movdqa xmm8, [rcx + {xmm8}]",
        "movdqa xmm9, [rcx + {xmm9}]",
        "movdqa xmm10, [rcx + {xmm10}]",
        "movdqa xmm11, [rcx + {xmm11}]",
        "movdqa xmm12, [rcx + {xmm12}]",
        "movdqa xmm13, [rcx + {xmm13}]",
        "movdqa xmm14, [rcx + {xmm14}]",
        "movdqa xmm15, [rcx + {xmm15}]",
        "mov rsp, [rcx + {sp}]",
        "mov eax, 1",
        "jmp qword ptr [rcx + {pc}]",
    ],
    operands: {
        rbx = const offset_of!(JumpBuf, rbx),
        rbp = const offset_of!(JumpBuf, rbp),
        rdi = const offset_of!(JumpBuf, rdi),
        rsi = const offset_of!(JumpBuf, rsi),
        r12 = const offset_of!(JumpBuf, r12),
        r13 = const offset_of!(JumpBuf, r13),
        r14 = const offset_of!(JumpBuf, r14),
        r15 = const offset_of!(JumpBuf, r15),
        sp = const offset_of!(JumpBuf, sp),
        pc = const offset_of!(JumpBuf, pc),
        xmm6 = const offset_of!(JumpBuf, xmm6),
        xmm7 = const offset_of!(JumpBuf, xmm7),
        xmm8 = const offset_of!(JumpBuf, xmm8),
        xmm9 = const offset_of!(JumpBuf, xmm9),
        xmm10 = const offset_of!(JumpBuf, xmm10),
        xmm11 = const offset_of!(JumpBuf, xmm11),
        xmm12 = const offset_of!(JumpBuf, xmm12),
        xmm13 = const offset_of!(JumpBuf, xmm13),
        xmm14 = const offset_of!(JumpBuf, xmm14),
        xmm15 = const offset_of!(JumpBuf, xmm15),
    }
}

super::resume_point! {
    "mov rsp, [rcx + {sp}]",
    "mov rbp, [rcx + {fp}]",
    "jmp qword ptr [rcx + {pc}]",
}
