//! The catch point of an entry and the jump back to it, per ISA.
//!
//! [`catch_call`] saves the registers its caller expects preserved (the
//! callee-saved ones, the stack pointer and its return address) into a
//! [`JumpBuf`], calls `f(data)` and returns `0`. [`jump`] restores them and
//! returns `1` from that same `catch_call`, abandoning every frame `f`
//! pushed. To the Rust code around them both are ordinary calls that return
//! once, so nothing of Rust's "returns twice" problem of C's `setjmp`
//! arises; the frames skipped must own nothing that needs dropping (see
//! `super::enter` and `super::fail`). Neither touches signal masks or the
//! floating-point control registers (neither does `setjmp` on the targets
//! here, and generated code leaves them as it found them).

/// The saved state of one catch point. Large enough for every ISA below
/// (Windows x64 needs the most: ten words and ten 16-byte vector registers).
#[repr(C, align(16))]
pub(crate) struct JumpBuf([u64; 30]);

#[cfg(not(any(
    all(target_arch = "x86_64", not(windows)),
    all(target_arch = "x86_64", windows),
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "s390x",
)))]
compile_error!(
    "Springboard's trap handling has no catch point for this architecture (x86-64, aarch64, riscv64 and s390x have one)"
);

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
    // x86-64 System V: rbx, rbp, r12–r15 preserved; args in rdi, rsi, rdx.
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    core::arch::naked_asm!(
        "mov [rdi], rbx",
        "mov [rdi + 8], rbp",
        "mov [rdi + 16], r12",
        "mov [rdi + 24], r13",
        "mov [rdi + 32], r14",
        "mov [rdi + 40], r15",
        "lea rax, [rsp + 8]",
        "mov [rdi + 48], rax",
        "mov rax, [rsp]",
        "mov [rdi + 56], rax",
        // A frame: realigns the stack to 16 for the call, and keeps the
        // frame-pointer chain whole for profilers and runtimes' walkers.
        "push rbp",
        "mov rbp, rsp",
        "mov rdi, rdx",
        "call rsi",
        "pop rbp",
        "xor eax, eax",
        "ret",
    );
    // Windows x64: rbx, rbp, rdi, rsi, r12–r15 and xmm6–xmm15 preserved;
    // args in rcx, rdx, r8; a call needs 32 bytes of shadow space.
    #[cfg(all(target_arch = "x86_64", windows))]
    core::arch::naked_asm!(
        "mov [rcx], rbx",
        "mov [rcx + 8], rbp",
        "mov [rcx + 16], rdi",
        "mov [rcx + 24], rsi",
        "mov [rcx + 32], r12",
        "mov [rcx + 40], r13",
        "mov [rcx + 48], r14",
        "mov [rcx + 56], r15",
        "lea rax, [rsp + 8]",
        "mov [rcx + 64], rax",
        "mov rax, [rsp]",
        "mov [rcx + 72], rax",
        "movdqa [rcx + 80], xmm6",
        "movdqa [rcx + 96], xmm7",
        "movdqa [rcx + 112], xmm8",
        "movdqa [rcx + 128], xmm9",
        "movdqa [rcx + 144], xmm10",
        "movdqa [rcx + 160], xmm11",
        "movdqa [rcx + 176], xmm12",
        "movdqa [rcx + 192], xmm13",
        "movdqa [rcx + 208], xmm14",
        "movdqa [rcx + 224], xmm15",
        "sub rsp, 40",
        "mov rcx, r8",
        "call rdx",
        "add rsp, 40",
        "xor eax, eax",
        "ret",
    );
    // AAPCS64: x19–x28, x29 (fp), x30 (lr), sp and d8–d15 preserved; x18 is
    // the platform's and left alone.
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!(
        "stp x19, x20, [x0, #0]",
        "stp x21, x22, [x0, #16]",
        "stp x23, x24, [x0, #32]",
        "stp x25, x26, [x0, #48]",
        "stp x27, x28, [x0, #64]",
        "stp x29, x30, [x0, #80]",
        "mov x9, sp",
        "str x9, [x0, #96]",
        "stp d8, d9, [x0, #104]",
        "stp d10, d11, [x0, #120]",
        "stp d12, d13, [x0, #136]",
        "stp d14, d15, [x0, #152]",
        "stp x29, x30, [sp, #-16]!",
        "mov x29, sp",
        "mov x0, x2",
        "blr x1",
        "ldp x29, x30, [sp], #16",
        "mov w0, #0",
        "ret",
    );
    // RISC-V LP64D: ra, sp, s0–s11 and fs0–fs11 preserved.
    #[cfg(target_arch = "riscv64")]
    core::arch::naked_asm!(
        "sd ra, 0(a0)",
        "sd sp, 8(a0)",
        "sd s0, 16(a0)",
        "sd s1, 24(a0)",
        "sd s2, 32(a0)",
        "sd s3, 40(a0)",
        "sd s4, 48(a0)",
        "sd s5, 56(a0)",
        "sd s6, 64(a0)",
        "sd s7, 72(a0)",
        "sd s8, 80(a0)",
        "sd s9, 88(a0)",
        "sd s10, 96(a0)",
        "sd s11, 104(a0)",
        "fsd fs0, 112(a0)",
        "fsd fs1, 120(a0)",
        "fsd fs2, 128(a0)",
        "fsd fs3, 136(a0)",
        "fsd fs4, 144(a0)",
        "fsd fs5, 152(a0)",
        "fsd fs6, 160(a0)",
        "fsd fs7, 168(a0)",
        "fsd fs8, 176(a0)",
        "fsd fs9, 184(a0)",
        "fsd fs10, 192(a0)",
        "fsd fs11, 200(a0)",
        "addi sp, sp, -16",
        "sd ra, 8(sp)",
        "sd s0, 0(sp)",
        "addi s0, sp, 16",
        "mv a0, a2",
        "jalr a1",
        "ld ra, 8(sp)",
        "ld s0, 0(sp)",
        "addi sp, sp, 16",
        "li a0, 0",
        "ret",
    );
    // s390x ELF ABI: r6–r13, r14 (return address), r15 (sp) and f8–f15
    // preserved; a caller gives its callee a 160-byte register save area.
    #[cfg(target_arch = "s390x")]
    core::arch::naked_asm!(
        "stmg %r6, %r15, 0(%r2)",
        "std %f8, 80(%r2)",
        "std %f9, 88(%r2)",
        "std %f10, 96(%r2)",
        "std %f11, 104(%r2)",
        "std %f12, 112(%r2)",
        "std %f13, 120(%r2)",
        "std %f14, 128(%r2)",
        "std %f15, 136(%r2)",
        "stmg %r14, %r15, 112(%r15)",
        "aghi %r15, -160",
        "lgr %r2, %r4",
        "basr %r14, %r3",
        "lmg %r14, %r15, 272(%r15)",
        "lghi %r2, 0",
        "br %r14",
    );
}

/// Returns `1` from the [`catch_call`] that saved `buf`.
///
/// # Safety
/// `buf` must belong to a `catch_call` still running on this thread, and
/// every frame above it must be one that may be abandoned.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn jump(buf: *const JumpBuf) -> ! {
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    core::arch::naked_asm!(
        "mov rbx, [rdi]",
        "mov rbp, [rdi + 8]",
        "mov r12, [rdi + 16]",
        "mov r13, [rdi + 24]",
        "mov r14, [rdi + 32]",
        "mov r15, [rdi + 40]",
        "mov rsp, [rdi + 48]",
        "mov eax, 1",
        "jmp qword ptr [rdi + 56]",
    );
    #[cfg(all(target_arch = "x86_64", windows))]
    core::arch::naked_asm!(
        "mov rbx, [rcx]",
        "mov rbp, [rcx + 8]",
        "mov rdi, [rcx + 16]",
        "mov rsi, [rcx + 24]",
        "mov r12, [rcx + 32]",
        "mov r13, [rcx + 40]",
        "mov r14, [rcx + 48]",
        "mov r15, [rcx + 56]",
        "movdqa xmm6, [rcx + 80]",
        "movdqa xmm7, [rcx + 96]",
        "movdqa xmm8, [rcx + 112]",
        "movdqa xmm9, [rcx + 128]",
        "movdqa xmm10, [rcx + 144]",
        "movdqa xmm11, [rcx + 160]",
        "movdqa xmm12, [rcx + 176]",
        "movdqa xmm13, [rcx + 192]",
        "movdqa xmm14, [rcx + 208]",
        "movdqa xmm15, [rcx + 224]",
        "mov rsp, [rcx + 64]",
        "mov eax, 1",
        "jmp qword ptr [rcx + 72]",
    );
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!(
        "ldp x19, x20, [x0, #0]",
        "ldp x21, x22, [x0, #16]",
        "ldp x23, x24, [x0, #32]",
        "ldp x25, x26, [x0, #48]",
        "ldp x27, x28, [x0, #64]",
        "ldp x29, x30, [x0, #80]",
        "ldp d8, d9, [x0, #104]",
        "ldp d10, d11, [x0, #120]",
        "ldp d12, d13, [x0, #136]",
        "ldp d14, d15, [x0, #152]",
        "ldr x9, [x0, #96]",
        "mov sp, x9",
        "mov w0, #1",
        "ret",
    );
    #[cfg(target_arch = "riscv64")]
    core::arch::naked_asm!(
        "ld ra, 0(a0)",
        "ld sp, 8(a0)",
        "ld s0, 16(a0)",
        "ld s1, 24(a0)",
        "ld s2, 32(a0)",
        "ld s3, 40(a0)",
        "ld s4, 48(a0)",
        "ld s5, 56(a0)",
        "ld s6, 64(a0)",
        "ld s7, 72(a0)",
        "ld s8, 80(a0)",
        "ld s9, 88(a0)",
        "ld s10, 96(a0)",
        "ld s11, 104(a0)",
        "fld fs0, 112(a0)",
        "fld fs1, 120(a0)",
        "fld fs2, 128(a0)",
        "fld fs3, 136(a0)",
        "fld fs4, 144(a0)",
        "fld fs5, 152(a0)",
        "fld fs6, 160(a0)",
        "fld fs7, 168(a0)",
        "fld fs8, 176(a0)",
        "fld fs9, 184(a0)",
        "fld fs10, 192(a0)",
        "fld fs11, 200(a0)",
        "li a0, 1",
        "ret",
    );
    #[cfg(target_arch = "s390x")]
    core::arch::naked_asm!(
        "ld %f8, 80(%r2)",
        "ld %f9, 88(%r2)",
        "ld %f10, 96(%r2)",
        "ld %f11, 104(%r2)",
        "ld %f12, 112(%r2)",
        "ld %f13, 120(%r2)",
        "ld %f14, 128(%r2)",
        "ld %f15, 136(%r2)",
        "lmg %r6, %r15, 0(%r2)",
        "lghi %r2, 1",
        "br %r14",
    );
}
