//! The catch point on x86-64 System V: rbx, rbp, r12–r15, the stack
//! pointer and the return address are preserved across a call; arguments
//! arrive in rdi, rsi, rdx.

use core::mem::offset_of;

/// The registers a catch point restores, at the offsets the assembly names.
#[repr(C, align(16))]
#[allow(dead_code)] // written and read by the assembly only
pub(crate) struct JumpBuf {
    rbx: u64,
    rbp: u64,
    r12: u64,
    r13: u64,
    r14: u64,
    r15: u64,
    sp: u64,
    pc: u64,
}

super::catch_point! {
    catch: [
        "mov [rdi + {rbx}], rbx",
        "mov [rdi + {rbp}], rbp",
        "mov [rdi + {r12}], r12",
        "mov [rdi + {r13}], r13",
        "mov [rdi + {r14}], r14",
        "mov [rdi + {r15}], r15",
        "lea rax, [rsp + 8]",
        "mov [rdi + {sp}], rax",
        "mov rax, [rsp]",
        "mov [rdi + {pc}], rax",
        // A frame: realigns the stack to 16 for the call, and keeps the
        // frame-pointer chain whole for profilers and runtimes' walkers.
        "push rbp",
        "mov rbp, rsp",
        "mov rdi, rdx",
        "call rsi",
        "pop rbp",
        "xor eax, eax",
        "ret",
    ],
    jump: [
        "mov rbx, [rdi + {rbx}]",
        "mov rbp, [rdi + {rbp}]",
        "mov r12, [rdi + {r12}]",
        "mov r13, [rdi + {r13}]",
        "mov r14, [rdi + {r14}]",
        "mov r15, [rdi + {r15}]",
        "mov rsp, [rdi + {sp}]",
        "mov eax, 1",
        "jmp qword ptr [rdi + {pc}]",
    ],
    operands: {
        rbx = const offset_of!(JumpBuf, rbx),
        rbp = const offset_of!(JumpBuf, rbp),
        r12 = const offset_of!(JumpBuf, r12),
        r13 = const offset_of!(JumpBuf, r13),
        r14 = const offset_of!(JumpBuf, r14),
        r15 = const offset_of!(JumpBuf, r15),
        sp = const offset_of!(JumpBuf, sp),
        pc = const offset_of!(JumpBuf, pc),
    }
}

super::resume_point! {
    "mov rsp, [rdi + {sp}]",
    "mov rbp, [rdi + {fp}]",
    "jmp qword ptr [rdi + {pc}]",
}
