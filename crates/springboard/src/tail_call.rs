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
//! function beneath walked off the stack). So a block hands them in
//! registers to a stack entry, a naked function that stores them in a
//! frame of its own and is the catch point ([`call_with_stack`]). Neither
//! saves a register per call: the blocks declare the callee-saved
//! registers clobbered, so the caller saves them once, in its prologue.

use springboard_environ::ValType;

/// Integer-class parameter registers after the two contexts.
const INT_ARGS: usize = 4;
/// Float-class parameter registers.
const FLOAT_ARGS: usize = 8;
/// Results read per class (`rax`, `rcx`, `rdx`, `rsi`; `xmm0`–`xmm3`).
const RESULTS_PER_CLASS: usize = 4;
/// Stack arguments a typed call passes to a stack entry in registers,
/// two to each of `xmm8`–`xmm13`: twelve, as many as sixteen parameters
/// (the most a tuple has) can need.
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

/// Where `tail` passes a parameter: in the `k`-th argument register of its
/// class (after the contexts), or in the `k`-th 8-byte stack slot.
#[derive(Clone, Copy)]
pub(crate) enum Place {
    Int(usize),
    Float(usize),
    Stack(usize),
}

/// Where `tail` passes the `i`-th of `params` (which have no `v128`, so
/// System V agrees): the next register of its class, else the next stack
/// slot. A constant for each parameter of a tuple, so that placing and
/// reading values compiles to plain moves.
pub(crate) const fn tail_place(params: &[ValType], i: usize) -> Place {
    let (mut ints, mut floats, mut stack, mut j) = (0, 0, 0, 0);
    loop {
        let place = if is_float(params[j]) {
            if floats < FLOAT_ARGS {
                floats += 1;
                Place::Float(floats - 1)
            } else {
                stack += 1;
                Place::Stack(stack - 1)
            }
        } else if ints < INT_ARGS {
            ints += 1;
            Place::Int(ints - 1)
        } else {
            stack += 1;
            Place::Stack(stack - 1)
        };
        if j == i {
            return place;
        }
        j += 1;
    }
}

/// How many stack slots `tail` gives `params`, which have no `v128`.
pub(crate) const fn stack_slots(params: &[ValType]) -> usize {
    match classes(params) {
        Some((ints, floats)) => ints.saturating_sub(INT_ARGS) + floats.saturating_sub(FLOAT_ARGS),
        None => 0,
    }
}

/// The arguments of a `tail` call, placed as the convention places them:
/// each value's bits (zero-extended) in the next register of its class.
#[doc(hidden)]
pub struct TailArgs {
    ints: [u64; INT_ARGS],
    floats: [u64; FLOAT_ARGS],
    stack: [u64; STACK_CARRIERS],
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
        }
    }

    /// Places an argument ([`params_fit`] or [`stack_params_fit`] held):
    /// in its register, or its stack slot's carrier.
    #[inline(always)]
    pub(crate) fn put<T: crate::val::WasmTy>(&mut self, place: Place, value: T) {
        let bits = value.into_raw().get_u64();
        let slot = match place {
            Place::Int(k) => self.ints.get_mut(k),
            Place::Float(k) => self.floats.get_mut(k),
            Place::Stack(k) => self.stack.get_mut(k),
        };
        if let Some(slot) = slot {
            *slot = bits;
        }
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
}

impl TailFrame {
    /// # Safety
    /// `stack` must point to the 8-byte stack argument slots of a `tail`
    /// call whose parameters, read by [`get`](Self::get) at their places,
    /// have no `v128`.
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
        }
    }

    /// The parameter at `place` (the low bytes of its word, for 32-bit
    /// values).
    #[inline(always)]
    pub(crate) fn get<T: crate::val::WasmTy>(&self, place: Place) -> T {
        let bits = match place {
            Place::Int(k) => self.ints.get(k).copied().unwrap_or(0),
            Place::Float(k) => self.floats.get(k).copied().unwrap_or(0),
            // SAFETY: a parameter without a register has its stack slot
            // (`new`'s contract).
            Place::Stack(k) => unsafe { self.stack.add(k).read() },
        };
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

/// Where in the record the direct calls keep `rbx`, which a failure
/// clobbers.
#[cfg(all(target_arch = "x86_64", not(windows)))]
const RBX_SAVE: usize = core::mem::offset_of!(crate::trap::ArmedRecord, spare);

/// The template that arms the catch point in the record at `rax` and calls
/// the code in `r11`: the frame pointer, the stack pointer, `rbx` (which
/// a failure clobbers) and the resume address, label `2`; `r10` is
/// scratch. Its operands `fp`, `sp` and `pc` are the record's
/// `VMHostCaller` offsets, and `rbx` is [`RBX_SAVE`]; the register-only
/// block and the stack entries share it.
#[cfg(all(target_arch = "x86_64", not(windows)))]
macro_rules! arm_and_call {
    () => {
        concat!(
            "mov [rax + {fp}], rbp\n",
            "mov [rax + {sp}], rsp\n",
            "mov [rax + {rbx}], rbx\n",
            "lea r10, [rip + 2f]\n",
            "mov [rax + {pc}], r10\n",
            "call r11",
        )
    };
}

/// One `asm!` block calling `target` (in `r11`) with a [`TailArgs`]'s
/// register arguments after the contexts `callee` and `caller`, the
/// record to arm in `rax`, and reading a [`TailResults`]: `$template` says
/// how it calls, `$operands` what else it passes; the rest is common to
/// both calls. Both declare
/// `r12`–`r15` clobbered, though `tail` preserves them: a failure beneath
/// resumes past the frames that would restore them, and so the caller
/// saves them once in its prologue instead of an entry on every call.
#[cfg(all(target_arch = "x86_64", not(windows)))]
macro_rules! tail_asm {
    (
        $target:expr, $callee:expr, $caller:expr, $record:expr, $args:expr,
        [$($template:expr),*], $($operands:tt)*
    ) => {{
        let [a0, a1, a2, a3] = $args.ints;
        let [f0, f1, f2, f3, f4, f5, f6, f7] = $args.floats.map(f64::from_bits);
        let mut ints = [0u64; RESULTS_PER_CLASS];
        let mut floats = [0f64; RESULTS_PER_CLASS];
        core::arch::asm!(
            $($template,)*
            $($operands)*
            inout("rdi") $callee => _,
            inout("rsi") $caller => ints[3],
            inout("rdx") a0 => ints[2],
            inout("rcx") a1 => ints[1],
            inout("r8") a2 => _,
            inout("r9") a3 => _,
            inout("rax") $record => ints[0],
            inout("r11") $target => _,
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
        TailResults {
            ints,
            floats: floats.map(f64::to_bits),
            next_int: 0,
            next_float: 0,
        }
    }};
}

/// Calls `tail`-convention `code` with `args` (every one in a register:
/// [`params_fit`]) after its context `callee` and the caller's, `caller`.
/// Arms the catch point in `record` first: a failing host function
/// beneath resumes here (`resume` leaves the record's address in `rdi`),
/// where `rbx` comes back from the record's spare word; the result is
/// then meaningless, and the caller must return the failure instead.
///
/// # Safety
/// `code` must be `tail`-convention code accepting `callee` and `caller`,
/// whose parameters `args` holds and whose results (as [`results_fit`]
/// allows) the caller reads as their types; `record` must be a writable
/// [`ArmedRecord`](crate::trap::ArmedRecord) that is the landing of this
/// thread for the call.
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[inline(always)]
pub(crate) unsafe fn call(
    code: core::ptr::NonNull<springboard_vm_abi::VMWasmCallFunction>,
    callee: *mut springboard_vm_abi::VMOpaqueContext,
    caller: *mut springboard_vm_abi::VMOpaqueContext,
    record: *mut crate::trap::ArmedRecord,
    args: TailArgs,
) -> TailResults {
    use core::mem::offset_of;
    use springboard_vm_abi::VMHostCaller;
    // SAFETY: per the caller, `code` takes exactly these arguments and
    // returns these results, and `record` is writable. The block
    // leaves `rsp`, `rbp` and `rbx` as it found them (a resume restores
    // the first two and the block `rbx`), so the frame's unwind
    // information holds throughout; it declares everything else `tail`
    // may clobber.
    unsafe {
        tail_asm!(
            code.as_ptr(),
            callee,
            caller,
            record,
            args,
            [
                // The stack pointer is the caller's: the callee pops nothing.
                arm_and_call!(),
                "3:",
                // Resumed after a host failure, out of the way of the
                // return. The results are whatever the registers hold:
                // the facade drops them (all plain values) and returns the
                // failure.
                ".pushsection .text.springboard_resume,\"ax\",@progbits",
                "2:",
                "mov rbx, [rdi + {rbx}]",
                "jmp 3b",
                ".popsection"
            ],
            fp = const offset_of!(VMHostCaller, entry_fp),
            sp = const offset_of!(VMHostCaller, entry_sp),
            pc = const offset_of!(VMHostCaller, entry_pc),
            rbx = const RBX_SAVE,
            out("r10") _,
        )
    }
}

/// Calls `tail`-convention `code` as [`call`] does, with stack arguments
/// ([`stack_params_fit`]): the block passes them two by two in the
/// carriers `xmm8`–`xmm13`, in slot order, to the stack entry for their
/// count, which stores them where `tail` expects them in its own frame
/// (whose unwind information it describes), arms the catch point and
/// calls. The block itself never moves the stack pointer.
///
/// # Safety
/// As for [`call`], with parameters that [`stack_params_fit`] takes, of
/// which `slots` go on the stack ([`stack_slots`]).
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[inline(always)]
pub(crate) unsafe fn call_with_stack(
    code: core::ptr::NonNull<springboard_vm_abi::VMWasmCallFunction>,
    callee: *mut springboard_vm_abi::VMOpaqueContext,
    caller: *mut springboard_vm_abi::VMOpaqueContext,
    record: *mut crate::trap::ArmedRecord,
    args: TailArgs,
    slots: usize,
) -> TailResults {
    let [c0, c1, c2, c3, c4, c5] = [0, 1, 2, 3, 4, 5].map(|k| {
        let pair = [args.stack[2 * k], args.stack[2 * k + 1]];
        // SAFETY: sixteen bytes of plain data either way, the first word
        // low.
        unsafe { core::mem::transmute::<[u64; 2], core::arch::x86_64::__m128i>(pair) }
    });
    // SAFETY: per the caller, `code` takes exactly these arguments and
    // returns these results, and `record` is writable; the entry (in
    // `r10`) arms it and calls `code` (in `r11`), having stored the
    // first `slots` carried words (rounded up to a pair: `tail` pops
    // 16-byte multiples) as the stack arguments, and preserves `rsp`,
    // `rbp` and `rbx` however the call ends. The block declares
    // everything else `tail` may clobber.
    unsafe {
        tail_asm!(
            code.as_ptr(),
            callee,
            caller,
            record,
            args,
            ["call r10"],
            inout("r10") stack_entry(slots) => _,
            inout("xmm8") c0 => _,
            inout("xmm9") c1 => _,
            inout("xmm10") c2 => _,
            inout("xmm11") c3 => _,
            inout("xmm12") c4 => _,
            inout("xmm13") c5 => _,
        )
    }
}

/// Whether typed calls with these parameters can go to `tail`-convention
/// code through a stack entry ([`call_with_stack`]): this ISA has them, no
/// parameter is a `v128` (System V and `tail` then give each stack
/// parameter the next 8-byte slot, in order), and the stack arguments fit
/// the carriers.
pub(crate) const fn stack_params_fit(params: &[ValType]) -> bool {
    cfg!(all(target_arch = "x86_64", not(windows)))
        && classes(params).is_some()
        && stack_slots(params) <= STACK_CARRIERS
}

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

/// The stack entries, one per even count of stack slots: each stores the
/// carriers of its slots (the ones before them, then its own pair).
#[cfg(all(target_arch = "x86_64", not(windows)))]
macro_rules! stack_entries {
    ([$($done:literal),*]) => {};
    ([$($done:literal),*] $name:ident [$($pair:literal),*] $($rest:tt)*) => {
        stack_entry!($name, [$($done,)* $($pair),*]);
        stack_entries!([$($done,)* $($pair),*] $($rest)*);
    };
}

/// One stack entry: makes a frame (`rbp`) with `$stores.len()` pairs of
/// stack slots below it and stores the carriers there, arms the catch
/// point in the record (`rax`), saving `rbx` there, and calls the code in
/// `r11`, which pops the slots. Returned, or resumed after a failure (with
/// `rsp` and `rbp` as armed, the record in `rdi`, whence `rbx` comes
/// back), it leaves its frame and returns.
#[cfg(all(target_arch = "x86_64", not(windows)))]
macro_rules! stack_entry {
    ($name:ident, [$($store:literal),*]) => {
        #[unsafe(naked)]
        unsafe extern "C" fn $name() {
            core::arch::naked_asm!(
                ".cfi_startproc",
                "push rbp",
                ".cfi_def_cfa_offset 16",
                ".cfi_offset rbp, -16",
                "mov rbp, rsp",
                ".cfi_def_cfa_register rbp",
                "sub rsp, {bytes}",
                $($store,)*
                arm_and_call!(),
                "jmp 3f",
                "2:",
                "mov rbx, [rdi + {rbx}]",
                "3:",
                "leave",
                ".cfi_def_cfa rsp, 8",
                "ret",
                ".cfi_endproc",
                bytes = const [$($store),*].len() * 16,
                fp = const core::mem::offset_of!(springboard_vm_abi::VMHostCaller, entry_fp),
                sp = const core::mem::offset_of!(springboard_vm_abi::VMHostCaller, entry_sp),
                pc = const core::mem::offset_of!(springboard_vm_abi::VMHostCaller, entry_pc),
                rbx = const RBX_SAVE,
            );
        }
    };
}

#[cfg(all(target_arch = "x86_64", not(windows)))]
stack_entries!([]
    stack_entry_2 ["movups [rsp], xmm8"]
    stack_entry_4 ["movups [rsp + 16], xmm9"]
    stack_entry_6 ["movups [rsp + 32], xmm10"]
    stack_entry_8 ["movups [rsp + 48], xmm11"]
    stack_entry_10 ["movups [rsp + 64], xmm12"]
    stack_entry_12 ["movups [rsp + 80], xmm13"]
);
