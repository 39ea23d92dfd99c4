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

/// Calls `f(data)` under a catch point saved in `buf`: returns `0` when `f`
/// returns, `1` when something under it called [`jump`] with `buf`.
///
/// # Safety
/// `buf` must stay valid (and unmoved) until this returns; `f` must not
/// unwind.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn catch_call(
    buf: *mut JumpBuf,
    f: unsafe extern "C" fn(*mut u8),
    data: *mut u8,
) -> u32 {
    core::arch::naked_asm!(
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
        rbx = const offset_of!(JumpBuf, rbx),
        rbp = const offset_of!(JumpBuf, rbp),
        r12 = const offset_of!(JumpBuf, r12),
        r13 = const offset_of!(JumpBuf, r13),
        r14 = const offset_of!(JumpBuf, r14),
        r15 = const offset_of!(JumpBuf, r15),
        sp = const offset_of!(JumpBuf, sp),
        pc = const offset_of!(JumpBuf, pc),
    );
}

/// Returns `1` from the [`catch_call`] that saved `buf`.
///
/// # Safety
/// `buf` must belong to a `catch_call` still running on this thread, and
/// every frame above it must be one that may be abandoned.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn jump(buf: *const JumpBuf) -> ! {
    core::arch::naked_asm!(
        "mov rbx, [rdi + {rbx}]",
        "mov rbp, [rdi + {rbp}]",
        "mov r12, [rdi + {r12}]",
        "mov r13, [rdi + {r13}]",
        "mov r14, [rdi + {r14}]",
        "mov r15, [rdi + {r15}]",
        "mov rsp, [rdi + {sp}]",
        "mov eax, 1",
        "jmp qword ptr [rdi + {pc}]",
        rbx = const offset_of!(JumpBuf, rbx),
        rbp = const offset_of!(JumpBuf, rbp),
        r12 = const offset_of!(JumpBuf, r12),
        r13 = const offset_of!(JumpBuf, r13),
        r14 = const offset_of!(JumpBuf, r14),
        r15 = const offset_of!(JumpBuf, r15),
        sp = const offset_of!(JumpBuf, sp),
        pc = const offset_of!(JumpBuf, pc),
    );
}
