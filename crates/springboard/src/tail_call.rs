//! Typed calls straight into `tail`-convention wasm, with no entry
//! trampoline: on x86-64 System V, [`TypedFunc::call`](crate::TypedFunc::call)
//! of the engine's own wasm puts the arguments where Cranelift's `tail`
//! convention wants them, arms the catch point itself and calls
//! `wasm_call` (see `docs/ABI.md`, "Host failures").
//!
//! `tail` on x86-64 passes arguments as System V does — integer-class ones
//! (`i32`, `i64`, references) in `rdi`, `rsi`, `rdx`, `rcx`, `r8`, `r9`,
//! float-class ones in `xmm0`–`xmm7` — and returns results in `rax`, `rcx`,
//! `rdx`, `rsi`, `rdi`, `r8`, `r9`, `r10` and `xmm0`–`xmm7` (Cranelift's
//! `x64/abi.rs`); the first two integer arguments are the callee and
//! caller contexts. Signatures with every parameter in a register and at
//! most four results per class are called from one `asm!` block in the
//! caller's frame ([`call`]). With stack arguments (and at most one
//! result) the caller calls the stack entry as a native function instead
//! ([`stack_entry_to`]):
//! System V puts every argument where `tail` does, so the entry only saves
//! what a failure would clobber, arms the catch point and calls, and after
//! the return puts back the stack arguments the callee popped. (Stack
//! arguments in the `asm!` block would move the stack pointer inside the
//! caller's frame, where its unwind information does not expect it: a
//! backtrace taken in a host function beneath walked off the stack.)

use springboard_environ::ValType;

/// Integer-class parameter registers after the two contexts.
const INT_ARGS: usize = 4;
/// Float-class parameter registers.
const FLOAT_ARGS: usize = 8;
/// Results read per class (`rax`, `rcx`, `rdx`, `rsi`; `xmm0`–`xmm3`).
const RESULTS_PER_CLASS: usize = 4;

/// Whether typed calls with these parameters can go straight to
/// `tail`-convention code here: this ISA has such calls, no parameter is a
/// `v128`, and every one has a register.
pub(crate) const fn params_fit(params: &[ValType]) -> bool {
    match classes(params) {
        Some((ints, floats)) => {
            cfg!(all(target_arch = "x86_64", not(windows)))
                && ints <= INT_ARGS
                && floats <= FLOAT_ARGS
        }
        None => false,
    }
}

/// Whether typed calls with these results can: no `v128`, and every one
/// in a register the call reads.
pub(crate) const fn results_fit(results: &[ValType]) -> bool {
    match classes(results) {
        Some((ints, floats)) => ints <= RESULTS_PER_CLASS && floats <= RESULTS_PER_CLASS,
        None => false,
    }
}

/// How many of `tys` are of the integer and of the float class; `None`
/// with a `v128`.
const fn classes(tys: &[ValType]) -> Option<(usize, usize)> {
    let (mut ints, mut floats, mut i) = (0, 0, 0);
    while i < tys.len() {
        match tys[i] {
            ValType::V128 => return None,
            t if is_float(t) => floats += 1,
            _ => ints += 1,
        }
        i += 1;
    }
    Some((ints, floats))
}

const fn is_float(t: ValType) -> bool {
    matches!(t, ValType::F32 | ValType::F64)
}

/// The arguments of a `tail` call, placed as the convention places them:
/// each value's bits (zero-extended) in the next register of its class.
#[doc(hidden)]
pub struct TailArgs {
    ints: [u64; INT_ARGS],
    floats: [u64; FLOAT_ARGS],
    used_ints: usize,
    used_floats: usize,
}

impl TailArgs {
    /// No argument placed yet.
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    #[inline(always)]
    pub(crate) fn new() -> TailArgs {
        TailArgs {
            ints: [0; INT_ARGS],
            floats: [0; FLOAT_ARGS],
            used_ints: 0,
            used_floats: 0,
        }
    }

    /// Places the next argument ([`params_fit`] held). With its type a
    /// constant, the choice folds away.
    #[inline(always)]
    pub(crate) fn push<T: crate::val::WasmTy>(&mut self, value: T) {
        let bits = value.into_raw().get_u64();
        let (regs, used): (&mut [u64], &mut usize) = if is_float(T::TYPE) {
            (&mut self.floats, &mut self.used_floats)
        } else {
            (&mut self.ints, &mut self.used_ints)
        };
        if let Some(reg) = regs.get_mut(*used) {
            *reg = bits;
        }
        *used += 1;
    }
}

/// The arguments of a `tail` call as a host function's stack shim receives
/// them (see `generic::popping_entry`): the argument registers after the two
/// contexts, as they came, and the caller's stack arguments in place.
#[doc(hidden)]
pub struct TailFrame {
    ints: [u64; INT_ARGS],
    floats: [u64; FLOAT_ARGS],
    stack: *const u64,
    used_ints: usize,
    used_floats: usize,
    used_stack: usize,
}

impl TailFrame {
    /// # Safety
    /// `stack` must point to the 8-byte stack argument slots of a `tail`
    /// call whose parameters, read in order by [`pop`](Self::pop), have no
    /// `v128`.
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    #[inline(always)]
    pub(crate) unsafe fn new(
        ints: [u64; INT_ARGS],
        floats: [u64; FLOAT_ARGS],
        stack: *const u64,
    ) -> TailFrame {
        TailFrame {
            ints,
            floats,
            stack,
            used_ints: 0,
            used_floats: 0,
            used_stack: 0,
        }
    }

    /// The next parameter: in the next register of its class, or else in
    /// the next stack slot (the low bytes of it, for 32-bit values).
    #[inline(always)]
    pub(crate) fn pop<T: crate::val::WasmTy>(&mut self) -> T {
        let (regs, used): (&[u64], &mut usize) = if is_float(T::TYPE) {
            (&self.floats, &mut self.used_floats)
        } else {
            (&self.ints, &mut self.used_ints)
        };
        let bits = match regs.get(*used) {
            Some(&bits) => bits,
            None => {
                // SAFETY: a parameter without a register has the next
                // stack slot (`new`'s contract).
                let bits = unsafe { self.stack.add(self.used_stack).read() };
                self.used_stack += 1;
                bits
            }
        };
        *used += 1;
        T::from_raw(springboard_vm_abi::ValRaw::u64(bits))
    }
}

/// The result of a `tail` call, read back as the convention returns it.
#[doc(hidden)]
pub struct TailResults {
    ints: [u64; RESULTS_PER_CLASS],
    floats: [u64; RESULTS_PER_CLASS],
    next_int: usize,
    next_float: usize,
}

impl TailResults {
    /// The next result ([`results_fit`] held: it has a register).
    #[inline(always)]
    pub(crate) fn pop<T: crate::val::WasmTy>(&mut self) -> T {
        let (regs, next) = if is_float(T::TYPE) {
            (&self.floats, &mut self.next_float)
        } else {
            (&self.ints, &mut self.next_int)
        };
        let bits = regs.get(*next).copied().unwrap_or(0);
        *next += 1;
        T::from_raw(springboard_vm_abi::ValRaw::u64(bits))
    }
}

/// Calls `tail`-convention `code` with `args` after its context `callee`
/// and `caller`, the facade's armed record, as the caller's. Arms the
/// catch point first: a failing host function beneath resumes here
/// (`resume` leaves the record's address in `rdi`), where `rbx` comes back
/// from the record's spare word; the result is then meaningless, and the
/// caller must return the failure instead.
///
/// # Safety
/// `code` must be `tail`-convention code accepting `callee` whose
/// parameters `args` holds and whose results (as [`results_fit`] allows)
/// the caller reads as their types; `caller` must be an armed
/// [`ArmedRecord`](crate::trap::ArmedRecord) that is the landing of this
/// thread for the call.
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[inline(always)]
pub(crate) unsafe fn call(
    code: core::ptr::NonNull<springboard_vm_abi::VMWasmCallFunction>,
    callee: *mut springboard_vm_abi::VMOpaqueContext,
    caller: *mut springboard_vm_abi::VMOpaqueContext,
    args: TailArgs,
) -> TailResults {
    use crate::trap::ArmedRecord;
    use core::mem::offset_of;
    use springboard_vm_abi::VMHostCaller;
    let [a0, a1, a2, a3] = args.ints;
    let [f0, f1, f2, f3, f4, f5, f6, f7] = args.floats.map(f64::from_bits);
    let mut ints = [0u64; RESULTS_PER_CLASS];
    let mut floats = [0f64; RESULTS_PER_CLASS];
    // SAFETY: per the caller, `code` takes exactly these arguments and
    // returns these results, and `caller` is a writable record. The block
    // leaves `rsp`, `rbp` and `rbx` as it found them (a resume restores
    // the first two and the block `rbx`), so the frame's unwind
    // information holds throughout; it declares everything else `tail`
    // may clobber.
    unsafe {
        core::arch::asm!(
            // The catch point: this frame pointer, the stack pointer (the
            // callee pops nothing), `rbx` and the resume address.
            "mov [rsi + {fp}], rbp",
            "mov [rsi + {sp}], rsp",
            "mov [rsi + {spare}], rbx",
            "lea r10, [rip + 2f]",
            "mov [rsi + {pc}], r10",
            "call r11",
            "jmp 3f",
            // Resumed after a host failure. The results are whatever the
            // registers hold: the facade drops them (all plain values) and
            // returns the failure.
            "2:",
            "mov rbx, [rdi + {spare}]",
            "3:",
            fp = const offset_of!(VMHostCaller, entry_fp),
            sp = const offset_of!(VMHostCaller, entry_sp),
            pc = const offset_of!(VMHostCaller, entry_pc),
            spare = const offset_of!(ArmedRecord, spare) + RBX * 8,
            inout("rdi") callee => _,
            inout("rsi") caller => ints[3],
            inout("rdx") a0 => ints[2],
            inout("rcx") a1 => ints[1],
            inout("r8") a2 => _,
            inout("r9") a3 => _,
            lateout("rax") ints[0],
            out("r10") _,
            inout("r11") code.as_ptr() => _,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
            inout("xmm0") f0 => floats[0],
            inout("xmm1") f1 => floats[1],
            inout("xmm2") f2 => floats[2],
            inout("xmm3") f3 => floats[3],
            inout("xmm4") f4 => _,
            inout("xmm5") f5 => _,
            inout("xmm6") f6 => _,
            inout("xmm7") f7 => _,
            clobber_abi("sysv64"),
        );
    }
    TailResults {
        ints,
        floats: floats.map(f64::to_bits),
        next_int: 0,
        next_float: 0,
    }
}

/// Whether typed calls with these parameters can go to `tail`-convention
/// code through the stack entry ([`stack_entry_to`]): this ISA has it, and no parameter is a
/// `v128` (the native call and `tail` then agree on every place).
pub(crate) const fn stack_params_fit(params: &[ValType]) -> bool {
    cfg!(all(target_arch = "x86_64", not(windows))) && classes(params).is_some()
}

/// Whether typed calls with these results can: at most one, which both
/// conventions return in `rax` or `xmm0`.
pub(crate) const fn stack_results_fit(results: &[ValType]) -> bool {
    results.len() <= 1 && results_fit(results)
}

// Words of the record's `spare` the stack entry uses: the callee-saved
// registers a failure clobbers, then a frame record (the caller's `rbp`
// and the return address, where `rbp` points during the call), the
// caller's stack pointer after its call, and the code to call.
#[cfg(all(target_arch = "x86_64", not(windows)))]
const RBX: usize = 0;
#[cfg(all(target_arch = "x86_64", not(windows)))]
const R12: usize = 1;
#[cfg(all(target_arch = "x86_64", not(windows)))]
const LINK: usize = 5;
#[cfg(all(target_arch = "x86_64", not(windows)))]
const CFA: usize = 7;
#[cfg(all(target_arch = "x86_64", not(windows)))]
const CODE: usize = 8;

/// The stack entry, aimed at `tail`-convention `code` for the call about
/// to be made with `caller`, the facade's armed record: call it with the
/// native convention of `code`'s type, `(P) -> R` where
/// [`stack_params_fit`] and [`stack_results_fit`] hold, and it passes every
/// argument on in the place `tail` expects it (System V and `tail` agree on
/// them without `v128`s) and returns the one result where the native
/// convention does. After a failure beneath the result is meaningless,
/// and the caller must return the failure instead.
///
/// # Safety
/// `caller` must be a writable [`ArmedRecord`](crate::trap::ArmedRecord),
/// armed as the landing of this thread for the call.
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[inline(always)]
pub(crate) unsafe fn stack_entry_to(
    code: core::ptr::NonNull<springboard_vm_abi::VMWasmCallFunction>,
    caller: *mut springboard_vm_abi::VMOpaqueContext,
) -> core::ptr::NonNull<springboard_vm_abi::VMNativeCallFunction> {
    let record = caller.cast::<crate::trap::ArmedRecord>();
    // SAFETY: a writable record (the caller's contract).
    unsafe { (&raw mut (*record).spare[CODE]).write(code.as_ptr() as usize) };
    let entry: unsafe extern "C" fn() = stack_entry;
    // SAFETY: a function's address is not null.
    unsafe { core::ptr::NonNull::new_unchecked(entry as *mut _) }
}

/// Saves `rbx` and `r12`–`r15` in the record (`rsi`), makes `rbp` point at
/// a frame record in it (the caller's `rbp`, the return address), arms the
/// catch point and calls the record's code with the stack arguments where
/// the caller put them; then, returned or resumed after a failure,
/// restores the registers and the stack pointer (the callee popped its
/// stack arguments, the caller expects them) and returns.
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[unsafe(naked)]
unsafe extern "C" fn stack_entry() {
    use crate::trap::ArmedRecord;
    use core::mem::offset_of;
    use springboard_vm_abi::VMHostCaller;
    core::arch::naked_asm!(
        ".cfi_startproc",
        "mov [rsi + {spare} + {rbx}], rbx",
        "mov [rsi + {spare} + {r12}], r12",
        "mov [rsi + {spare} + {r12} + 8], r13",
        "mov [rsi + {spare} + {r12} + 16], r14",
        "mov [rsi + {spare} + {r12} + 24], r15",
        "mov [rsi + {spare} + {link}], rbp",
        "mov r11, [rsp]",
        "mov [rsi + {spare} + {link} + 8], r11",
        "lea r11, [rsp + 8]",
        "mov [rsi + {spare} + {cfa}], r11",
        "lea rbp, [rsi + {spare} + {link}]",
        // From here the frame is the record: the caller's stack pointer
        // at `[rbp + 16]` (DW_CFA_def_cfa_expression: DW_OP_breg6 16,
        // DW_OP_deref), the return address at `rbp + 8` and the caller's
        // `rbp` at `rbp` (DW_CFA_expression: DW_OP_breg6).
        ".cfi_escape 0x0f, 3, 0x76, 16, 0x06",
        ".cfi_escape 0x10, 16, 2, 0x76, 8",
        ".cfi_escape 0x10, 6, 2, 0x76, 0",
        // The callee's return address goes where ours was, right below
        // the stack arguments.
        "add rsp, 8",
        "mov [rsi + {fp}], rbp",
        "mov [rsi + {sp}], rsp",
        "lea r11, [rip + 2f]",
        "mov [rsi + {pc}], r11",
        "call [rsi + {spare} + {code}]",
        // Returned, or resumed here (`rsp` and `rbp` as armed).
        "2:",
        "mov rbx, [rbp + {rbx} - {link}]",
        "mov r12, [rbp + {r12} - {link}]",
        "mov r13, [rbp + {r12} + 8 - {link}]",
        "mov r14, [rbp + {r12} + 16 - {link}]",
        "mov r15, [rbp + {r12} + 24 - {link}]",
        "mov rsp, [rbp + {cfa} - {link}]",
        "mov r11, [rbp + 8]",
        "mov rbp, [rbp]",
        ".cfi_def_cfa rsp, 0",
        ".cfi_register rip, r11",
        ".cfi_restore rbp",
        // `push` and `ret` rather than `jmp`: returns stay paired with
        // calls for the return predictor.
        "push r11",
        ".cfi_def_cfa_offset 8",
        ".cfi_offset rip, -8",
        "ret",
        ".cfi_endproc",
        spare = const offset_of!(ArmedRecord, spare),
        rbx = const RBX * 8,
        r12 = const R12 * 8,
        link = const LINK * 8,
        cfa = const CFA * 8,
        code = const CODE * 8,
        fp = const offset_of!(VMHostCaller, entry_fp),
        sp = const offset_of!(VMHostCaller, entry_sp),
        pc = const offset_of!(VMHostCaller, entry_pc),
    );
}
