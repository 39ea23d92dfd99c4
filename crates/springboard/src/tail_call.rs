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
//! caller's frame ([`call`]). Stack arguments cannot come from that block:
//! it would move the stack pointer inside the caller's frame, where its
//! unwind information does not expect it (a backtrace taken in a host
//! function beneath walked off the stack). So the block hands them in registers to a stack entry, a naked function
//! that stores them in a frame of its own and is the catch point
//! ([`call_with_stack`]). Neither saves a register per call: the block
//! declares the callee-saved registers clobbered, so the caller saves them
//! once, in its prologue.

use springboard_environ::ValType;

/// Integer-class parameter registers after the two contexts.
const INT_ARGS: usize = 4;
/// Float-class parameter registers.
const FLOAT_ARGS: usize = 8;
/// Results read per class (`rax`, `rcx`, `rdx`, `rsi`; `xmm0`–`xmm3`).
const RESULTS_PER_CLASS: usize = 4;
/// Stack arguments a typed call passes to a stack entry in registers
/// (`rax`, `r10`, `r12`–`r15`, `xmm8`–`xmm13`): twelve, as many as sixteen
/// parameters (the most a tuple has) can need.
const STACK_CARRIERS: usize = 12;

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
    stack: [u64; STACK_CARRIERS],
    used_ints: usize,
    used_floats: usize,
    used_stack: usize,
}

impl TailArgs {
    /// No argument placed yet.
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    #[inline(always)]
    pub(crate) fn new() -> TailArgs {
        TailArgs {
            ints: [0; INT_ARGS],
            floats: [0; FLOAT_ARGS],
            stack: [0; STACK_CARRIERS],
            used_ints: 0,
            used_floats: 0,
            used_stack: 0,
        }
    }

    /// Places the next argument: in the next register of its class, or
    /// else in the next stack slot's carrier ([`params_fit`] or
    /// [`stack_params_fit`] held). With its type a constant, the choice
    /// folds away.
    #[inline(always)]
    pub(crate) fn push<T: crate::val::WasmTy>(&mut self, value: T) {
        let bits = value.into_raw().get_u64();
        let (regs, used): (&mut [u64], &mut usize) = if is_float(T::TYPE) {
            (&mut self.floats, &mut self.used_floats)
        } else {
            (&mut self.ints, &mut self.used_ints)
        };
        match regs.get_mut(*used) {
            Some(reg) => *reg = bits,
            None => {
                if let Some(slot) = self.stack.get_mut(self.used_stack) {
                    *slot = bits;
                }
                self.used_stack += 1;
            }
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

/// One `asm!` block calling `tail`-convention code with a [`TailArgs`]'s
/// register arguments after the contexts `callee` and `caller`, and
/// reading a [`TailResults`]: `$template` and `$operands` say how it calls
/// (and what else it passes); the rest is common to both calls.
#[cfg(all(target_arch = "x86_64", not(windows)))]
macro_rules! tail_asm {
    (
        $callee:expr, $caller:expr, $args:expr, $ints:ident, $floats:ident,
        [$($template:literal),*], $($operands:tt)*
    ) => {{
        let [a0, a1, a2, a3] = $args.ints;
        let [f0, f1, f2, f3, f4, f5, f6, f7] = $args.floats.map(f64::from_bits);
        let mut $ints = [0u64; RESULTS_PER_CLASS];
        let mut $floats = [0f64; RESULTS_PER_CLASS];
        core::arch::asm!(
            $($template,)*
            $($operands)*
            inout("rdi") $callee => _,
            inout("rsi") $caller => $ints[3],
            inout("rdx") a0 => $ints[2],
            inout("rcx") a1 => $ints[1],
            inout("r8") a2 => _,
            inout("r9") a3 => _,
            inout("xmm0") f0 => $floats[0],
            inout("xmm1") f1 => $floats[1],
            inout("xmm2") f2 => $floats[2],
            inout("xmm3") f3 => $floats[3],
            inout("xmm4") f4 => _,
            inout("xmm5") f5 => _,
            inout("xmm6") f6 => _,
            inout("xmm7") f7 => _,
            clobber_abi("sysv64"),
        );
        TailResults {
            ints: $ints,
            floats: $floats.map(f64::to_bits),
            next_int: 0,
            next_float: 0,
        }
    }};
}

/// Calls `tail`-convention `code` with `args` (every one in a register:
/// [`params_fit`]) after its context `callee` and `caller`, the facade's
/// armed record, as the caller's. Arms the catch point first: a failing
/// host function beneath resumes here (`resume` leaves the record's
/// address in `rdi`), where `rbx` comes back from the record's spare word;
/// the result is then meaningless, and the caller must return the failure
/// instead.
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
    // SAFETY: per the caller, `code` takes exactly these arguments and
    // returns these results, and `caller` is a writable record. The block
    // leaves `rsp`, `rbp` and `rbx` as it found them (a resume restores
    // the first two and the block `rbx`), so the frame's unwind
    // information holds throughout; it declares everything else `tail`
    // may clobber.
    unsafe {
        tail_asm!(
            callee,
            caller,
            args,
            ints,
            floats,
            [
                // The catch point: this frame pointer, the stack pointer
                // (the callee pops nothing), `rbx` and the resume address.
                "mov [rsi + {fp}], rbp",
                "mov [rsi + {sp}], rsp",
                "mov [rsi + {spare}], rbx",
                "lea r10, [rip + 2f]",
                "mov [rsi + {pc}], r10",
                "call r11",
                "jmp 3f",
                // Resumed after a host failure. The results are whatever
                // the registers hold: the facade drops them (all plain
                // values) and returns the failure.
                "2:",
                "mov rbx, [rdi + {spare}]",
                "3:"
            ],
            fp = const offset_of!(VMHostCaller, entry_fp),
            sp = const offset_of!(VMHostCaller, entry_sp),
            pc = const offset_of!(VMHostCaller, entry_pc),
            spare = const offset_of!(ArmedRecord, spare) + RBX * 8,
            lateout("rax") ints[0],
            out("r10") _,
            inout("r11") code.as_ptr() => _,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
        )
    }
}

/// Calls `tail`-convention `code` as [`call`] does, with stack arguments
/// ([`stack_params_fit`]): the block passes them in the carriers (`rax`,
/// `r10`, `r12`–`r15`, `xmm8`–`xmm13`, in slot order) to the stack entry
/// for their count, which stores them where `tail` expects them in its
/// own frame (whose unwind information it describes), arms the catch point
/// and calls. The block itself never moves the stack pointer, and declares
/// `r12`–`r15` clobbered as [`call`] does: nothing saves registers per call.
///
/// # Safety
/// As for [`call`], with parameters that [`stack_params_fit`] takes.
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[inline(always)]
pub(crate) unsafe fn call_with_stack(
    code: core::ptr::NonNull<springboard_vm_abi::VMWasmCallFunction>,
    callee: *mut springboard_vm_abi::VMOpaqueContext,
    caller: *mut springboard_vm_abi::VMOpaqueContext,
    args: TailArgs,
) -> TailResults {
    let record = caller.cast::<crate::trap::ArmedRecord>();
    // SAFETY: a writable record (the caller's contract).
    unsafe { (&raw mut (*record).spare[CODE]).write(code.as_ptr() as usize) };
    let entry = stack_entry(args.used_stack);
    let [s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11] = args.stack;
    // SAFETY: per the caller, `code` takes exactly these arguments and
    // returns these results, and `caller` is a writable record, where
    // `code` waits for the entry; the entry stores the first `used_stack`
    // carriers (rounded up to pairs: `tail` pops 16-byte multiples) as
    // the stack arguments, and preserves `rsp`, `rbp` and `rbx` however
    // the call ends. The block declares everything else `tail` may
    // clobber.
    unsafe {
        tail_asm!(
            callee,
            caller,
            args,
            ints,
            floats,
            ["call r11"],
            inout("rax") s0 => ints[0],
            inout("r10") s1 => _,
            inout("r11") entry => _,
            inout("r12") s2 => _,
            inout("r13") s3 => _,
            inout("r14") s4 => _,
            inout("r15") s5 => _,
            inout("xmm8") f64::from_bits(s6) => _,
            inout("xmm9") f64::from_bits(s7) => _,
            inout("xmm10") f64::from_bits(s8) => _,
            inout("xmm11") f64::from_bits(s9) => _,
            inout("xmm12") f64::from_bits(s10) => _,
            inout("xmm13") f64::from_bits(s11) => _,
        )
    }
}

/// Whether typed calls with these parameters can go to `tail`-convention
/// code through a stack entry ([`call_with_stack`]): this ISA has them, no
/// parameter is a `v128` (System V and `tail` then give each stack
/// parameter the next 8-byte slot, in order), and the stack arguments fit
/// the carriers.
pub(crate) const fn stack_params_fit(params: &[ValType]) -> bool {
    match classes(params) {
        Some((ints, floats)) => {
            cfg!(all(target_arch = "x86_64", not(windows)))
                && ints.saturating_sub(INT_ARGS) + floats.saturating_sub(FLOAT_ARGS)
                    <= STACK_CARRIERS
        }
        None => false,
    }
}

// Words of the record's `spare` the direct calls use: `rbx`, which a
// failure clobbers, and the code a stack entry calls.
#[cfg(all(target_arch = "x86_64", not(windows)))]
const RBX: usize = 0;
#[cfg(all(target_arch = "x86_64", not(windows)))]
const CODE: usize = 1;

/// The stack entry that takes `slots` stack arguments (at most
/// [`STACK_CARRIERS`]). With `slots` a constant, the choice folds away.
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[inline(always)]
fn stack_entry(slots: usize) -> unsafe extern "C" fn() {
    match slots.div_ceil(2) {
        0 | 1 => stack_entry_2,
        2 => stack_entry_4,
        3 => stack_entry_6,
        4 => stack_entry_8,
        5 => stack_entry_10,
        _ => stack_entry_12,
    }
}

/// The stack entries, one per even count of stack slots: each takes the
/// carriers of its slots (the ones before them, then its own pair).
#[cfg(all(target_arch = "x86_64", not(windows)))]
macro_rules! stack_entries {
    ([$($done:literal),*]) => {};
    ([$($done:literal),*] $name:ident [$($pair:literal),*] $($rest:tt)*) => {
        stack_entry!($name, [$($done,)* $($pair),*]);
        stack_entries!([$($done,)* $($pair),*] $($rest)*);
    };
}

/// One stack entry: makes a frame (`rbp`) with `$stores.len()` stack slots
/// below it and stores the carriers there, saves `rbx` in the record
/// (`rsi`), arms the catch point and calls the record's code, which pops
/// the slots. Returned, or resumed after a failure (with `rsp` and `rbp` as
/// armed, the record in `rdi`, whence `rbx` comes back), it leaves its
/// frame and returns.
#[cfg(all(target_arch = "x86_64", not(windows)))]
macro_rules! stack_entry {
    ($name:ident, [$($store:literal),*]) => {
        #[unsafe(naked)]
        unsafe extern "C" fn $name() {
            use crate::trap::ArmedRecord;
            use core::mem::offset_of;
            use springboard_vm_abi::VMHostCaller;
            core::arch::naked_asm!(
                ".cfi_startproc",
                "push rbp",
                ".cfi_def_cfa_offset 16",
                ".cfi_offset rbp, -16",
                "mov rbp, rsp",
                ".cfi_def_cfa_register rbp",
                "sub rsp, {bytes}",
                $($store,)*
                "mov [rsi + {spare} + {rbx}], rbx",
                "mov [rsi + {fp}], rbp",
                "mov [rsi + {sp}], rsp",
                "lea rax, [rip + 2f]",
                "mov [rsi + {pc}], rax",
                "call [rsi + {spare} + {code}]",
                "jmp 3f",
                "2:",
                "mov rbx, [rdi + {spare} + {rbx}]",
                "3:",
                "leave",
                ".cfi_def_cfa rsp, 8",
                "ret",
                ".cfi_endproc",
                bytes = const [$($store),*].len() * 8,
                spare = const offset_of!(ArmedRecord, spare),
                rbx = const RBX * 8,
                code = const CODE * 8,
                fp = const offset_of!(VMHostCaller, entry_fp),
                sp = const offset_of!(VMHostCaller, entry_sp),
                pc = const offset_of!(VMHostCaller, entry_pc),
            );
        }
    };
}

#[cfg(all(target_arch = "x86_64", not(windows)))]
stack_entries!([]
    stack_entry_2 ["mov [rsp], rax", "mov [rsp + 8], r10"]
    stack_entry_4 ["mov [rsp + 16], r12", "mov [rsp + 24], r13"]
    stack_entry_6 ["mov [rsp + 32], r14", "mov [rsp + 40], r15"]
    stack_entry_8 ["movsd qword ptr [rsp + 48], xmm8", "movsd qword ptr [rsp + 56], xmm9"]
    stack_entry_10 ["movsd qword ptr [rsp + 64], xmm10", "movsd qword ptr [rsp + 72], xmm11"]
    stack_entry_12 ["movsd qword ptr [rsp + 80], xmm12", "movsd qword ptr [rsp + 88], xmm13"]
);
