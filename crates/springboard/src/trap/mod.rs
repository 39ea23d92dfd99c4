//! Host failures: where control goes when a host function fails.
//!
//! Generated code cannot be unwound through, and a failing host function
//! must not return into the wasm that called it. So every Springboard entry
//! into code that may be wasm has a catch point, and a failing shim
//! ([`host_call`]) goes straight back to it, abandoning the frames in
//! between. Which way a failure goes is decided by the *landing* of this
//! thread: the state the shim's caller left, which the shim saves on entry
//! and resets for the closure it runs:
//!
//! - an armed [`VMHostCaller`] ([`TrapMode::Caught`]): the entry passed it as
//!   its caller vmctx, and the entry trampoline (Springboard's own, `tail`
//!   wasm convention) stored its frame pointer, stack pointer and exception
//!   handler in it before calling wasm. The failure is recorded and the shim
//!   resumes at the handler ([`resume`](arch::resume)), which returns zeros;
//!   the entry returns the failure. No register is saved on the way in.
//! - a jump buffer ([`TrapMode::Jump`]): for entries whose code is not
//!   Springboard's own (a foreign funcref, the `wasmtime17` convention, a
//!   runtime's caller vmctx), the entry saves its callee-saved registers
//!   ([`catch_call`](arch::catch_call)) and the shim jumps back to them.
//! - [`RETURN`]: Springboard called the shim directly (a typed call of a
//!   host function): no wasm lies between, the shim returns zeros and the
//!   caller returns the failure.
//! - foreign (null, the state of all host code): someone else's code called
//!   the shim — another runtime's wasm, say. The engine's raise hook gets
//!   the failure, if it has one; else the failure is recorded, the shim
//!   returns zeros, and whoever entered that code takes it with
//!   [`take_host_failure`].
//!
//! The assembly of both catch points is per ISA: `x86_64_sysv.rs`,
//! `x86_64_windows.rs`, `aarch64.rs`, `riscv64.rs`, `s390x.rs`.

/// Defines this ISA's [`catch_call`](arch::catch_call) and
/// [`jump`](arch::jump) from their assembly and the named operands (the
/// `JumpBuf` offsets) both use.
macro_rules! catch_point {
    (
        catch: [$($catch:tt)*],
        jump: [$($jump:tt)*],
        operands: { $($operands:tt)* }
    ) => {
        /// Calls `f(data)` under a catch point saved in `buf`: returns `0`
        /// when `f` returns, `1` when something under it called [`jump`]
        /// with `buf`.
        ///
        /// # Safety
        /// `buf` must stay valid (and unmoved) until this returns; `f` must
        /// not unwind.
        #[unsafe(naked)]
        pub(crate) unsafe extern "C" fn catch_call(
            buf: *mut JumpBuf,
            f: unsafe extern "C" fn(*mut u8),
            data: *mut u8,
        ) -> u32 {
            core::arch::naked_asm!($($catch)* $($operands)*)
        }

        /// Returns `1` from the [`catch_call`] that saved `buf`.
        ///
        /// # Safety
        /// `buf` must belong to a `catch_call` still running on this thread,
        /// and every frame above it must be one that may be abandoned.
        #[unsafe(naked)]
        pub(crate) unsafe extern "C" fn jump(buf: *const JumpBuf) -> ! {
            core::arch::naked_asm!($($jump)* $($operands)*)
        }
    };
}
use catch_point;

/// Defines this ISA's [`resume`](arch::resume) from its assembly and the
/// `VMHostCaller` offsets it names (`fp`, `sp`, `pc`).
macro_rules! resume_point {
    ($($asm:tt)*) => {
        /// Resumes at the exception handler of the entry trampoline that
        /// armed `host`, with its stack and frame pointers.
        ///
        /// # Safety
        /// `host` must have been armed by an entry trampoline still running
        /// on this thread, and every frame above it must be one that may be
        /// abandoned.
        #[unsafe(naked)]
        pub(crate) unsafe extern "C" fn resume(host: *const springboard_vm_abi::VMHostCaller) -> ! {
            core::arch::naked_asm!(
                $($asm)*
                fp = const core::mem::offset_of!(springboard_vm_abi::VMHostCaller, entry_fp),
                sp = const core::mem::offset_of!(springboard_vm_abi::VMHostCaller, entry_sp),
                pc = const core::mem::offset_of!(springboard_vm_abi::VMHostCaller, entry_pc),
            )
        }
    };
}
use resume_point;

#[cfg(target_arch = "aarch64")]
#[path = "aarch64.rs"]
mod arch;
#[cfg(target_arch = "riscv64")]
#[path = "riscv64.rs"]
mod arch;
#[cfg(target_arch = "s390x")]
#[path = "s390x.rs"]
mod arch;
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[path = "x86_64_sysv.rs"]
mod arch;
#[cfg(all(target_arch = "x86_64", windows))]
#[path = "x86_64_windows.rs"]
mod arch;
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "s390x",
)))]
compile_error!(
    "Springboard's trap handling has no catch point for this architecture (x86-64, aarch64, riscv64 and s390x have one)"
);

use crate::error::Error;
use arch::{JumpBuf, catch_call};
use core::mem::{ManuallyDrop, MaybeUninit};
use springboard_vm_abi::{VMHostCaller, VMOpaqueContext};
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A landing (see the module docs): [`FOREIGN`], [`RETURN`], a
/// [`JumpBuf`], or an armed [`VMHostCaller`] tagged with [`RESUME`]. Both
/// are 16-byte aligned, so the tag and the two constants never collide.
type Landing = *const u8;

thread_local! {
    static PENDING: RefCell<Option<Error>> = const { RefCell::new(None) };
    /// Whether `PENDING` holds an error. Every call reads this, and only
    /// this: a `Cell<bool>` needs no destructor, so reading it is a plain
    /// thread-local load, where `PENDING` (which owns an error) checks its
    /// destructor registration on each access.
    static FAILED: Cell<bool> = const { Cell::new(false) };
    /// Where a failing shim's failure goes (see the module docs).
    static LANDING: Cell<Landing> = const { Cell::new(FOREIGN) };
}

/// The landing of host code and of other runtimes' code.
const FOREIGN: Landing = core::ptr::null();
/// The landing of a direct call from Springboard.
const RETURN: Landing = core::ptr::without_provenance(1);
/// The tag of an armed `VMHostCaller`'s address.
const RESUME: usize = 2;

const _: () = assert!(align_of::<JumpBuf>() >= 4 && align_of::<VMHostCaller>() >= 4);

/// The most parameters a call takes through [`TrapMode::call`]; more go
/// through [`TrapMode::call_straight`]. Six measured faster the first way,
/// sixteen the second.
pub(crate) const STRAIGHT_ABOVE: usize = 8;

/// A runtime's way to turn a host failure into its own trap: called by a
/// failing host function that no Springboard entry can catch (see
/// [`Config::raise_hook`](crate::Config::raise_hook)). It must not return.
pub type RaiseHook = unsafe fn(Error) -> !;

/// The facade's armed context: the [`VMHostCaller`] an entry receives,
/// then the word where a direct `tail` call (`tail_call.rs`) keeps `rbx`
/// for its resume. A direct call writes only what `resume` and `fail`
/// read: the frame and stack pointers, the resume address and `rbx`.
#[repr(C)]
pub(crate) struct ArmedRecord {
    host: VMHostCaller,
    pub(crate) spare: usize,
}

/// `record` made a [`VMHostCaller`] that asks for a catch point, as
/// [`VMHostCaller::armed`] but writing only the words read before an entry
/// trampoline arms it: the magic and `catch` (the trampoline's test, a
/// host function's `Caller::is_host`) and a zero `entry_pc` (a failing
/// host function resumes only at a non-zero one). The trampoline writes
/// the frame and stack pointers with the handler, and nothing reads them
/// otherwise: three stores instead of five on every entry.
#[inline(always)]
fn armed(record: &mut MaybeUninit<ArmedRecord>) -> *mut VMOpaqueContext {
    let host = record.as_mut_ptr().cast::<VMHostCaller>();
    // SAFETY: fields of a live, aligned record, written through raw places
    // (no reference to the partly written whole is made, here or later).
    unsafe {
        (&raw mut (*host).magic).write(springboard_vm_abi::SPRINGBOARD_HOST_CALLER_MAGIC);
        (&raw mut (*host).catch).write(VMHostCaller::CATCH);
        (&raw mut (*host).entry_pc).write(0);
    }
    host.cast()
}

/// Runs `call` with `host`, an armed context, as its caller context and
/// the landing of this thread. The entry `call` calls (a `tail` entry
/// trampoline, or `tail_call`'s own) is the catch point, and returns even
/// when a host function beneath fails: nothing here is abandoned.
#[inline(always)]
fn caught<R>(
    host: *mut VMOpaqueContext,
    call: impl FnOnce(*mut VMOpaqueContext) -> R,
) -> Result<R, Error> {
    let outer = LANDING.replace(resume_landing(host));
    let result = call(host);
    LANDING.set(outer);
    take()?;
    Ok(result)
}

/// The landing of an armed `VMHostCaller` at `host`: its address tagged
/// with [`RESUME`] (`fail` takes the tag off).
fn resume_landing(host: *mut VMOpaqueContext) -> Landing {
    host.cast::<u8>().wrapping_byte_add(RESUME).cast_const()
}

/// Records `error` unless an earlier failure is already pending (the first
/// failure is the cause; later ones are consequences of the zeroed results).
fn record(error: Error) {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.is_none() {
            *p = Some(error);
            FAILED.set(true);
        }
    });
}

/// Records `error` as the failure that ends the current entry, in place of
/// any older one nobody took (left by code Springboard did not enter).
fn record_for_jump(error: Error) {
    let older = PENDING.with(|p| p.borrow_mut().replace(error));
    FAILED.set(true);
    drop_guarded(older);
}

/// Runs a host closure from a shim: under the foreign landing (its host
/// code is not under the shim's caller's catch point), catching its panic.
/// Returns its value, or sends its failure where the caller's landing says
/// — which may not return — and returns `None`. By then the closure and
/// everything it owned are dropped.
#[inline]
pub(crate) fn host_call<T>(
    raise: Option<RaiseHook>,
    f: impl FnOnce() -> Result<T, Error>,
) -> Option<T> {
    let landing = LANDING.replace(FOREIGN);
    let outcome = catch_unwind(AssertUnwindSafe(f));
    LANDING.set(landing);
    let error = match outcome {
        Ok(Ok(value)) => return Some(value),
        Ok(Err(error)) => error,
        Err(payload) => Error::HostPanic(panic_message(payload)),
    };
    fail(landing, raise, error);
    None
}

/// Runs a host closure called straight from the host (`Func::call` of a
/// host function) and returns the failure of the call, as a direct typed
/// call does: its own, or an older one nobody took (the first is the cause).
#[inline]
pub(crate) fn direct_host_call<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    debug_assert!(LANDING.get() == FOREIGN, "only host code calls");
    let outcome = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(outcome) => outcome,
        Err(payload) => Err(Error::HostPanic(panic_message(payload))),
    };
    match outcome {
        Ok(value) => take().map(|()| value),
        Err(error) => {
            record(error);
            Err(take().err().unwrap_or_else(missing_result))
        }
    }
}

/// Runs the body of a shim that only forwards to another runtime's code:
/// under its caller's landing, so a failure beneath goes where it would
/// without the forwarder; its own failure (a malformed call) goes there too.
#[inline]
pub(crate) fn forward_call<T>(
    raise: Option<RaiseHook>,
    f: impl FnOnce() -> Result<T, Error>,
) -> Option<T> {
    match f() {
        Ok(value) => Some(value),
        Err(error) => {
            fail(LANDING.get(), raise, error);
            None
        }
    }
}

#[cold]
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let message = springboard_environ::panic_message(&*payload);
    drop_guarded(payload);
    message
}

/// Drops a value a host closure made (a panic payload, an error) inside a
/// shim, where a panic cannot unwind: a panic of its destructor is caught
/// and its payload dropped the same way, a few times over; a payload that
/// still panics on drop after that is leaked rather than chased forever.
fn drop_guarded<T>(value: T) {
    let Err(mut again) = catch_unwind(AssertUnwindSafe(move || drop(value))) else {
        return;
    };
    for _ in 0..8 {
        match catch_unwind(AssertUnwindSafe(move || drop(again))) {
            Ok(()) => return,
            Err(next) => again = next,
        }
    }
    core::mem::forget(again);
}

/// Sends `error` where `landing` says. Owns nothing when it jumps.
#[cold]
fn fail(landing: Landing, raise: Option<RaiseHook>, error: Error) {
    if landing == RETURN {
        record(error);
    } else if landing == FOREIGN {
        match raise {
            // SAFETY: the runtime that set the hook vouched that it may be
            // called from any failing host function of its engine.
            Some(raise) => unsafe { raise(error) },
            None => record(error),
        }
    } else if landing.addr() & RESUME != 0 {
        let host = landing.wrapping_byte_sub(RESUME).cast::<VMHostCaller>();
        // SAFETY: an armed context is the landing only while the call it
        // was passed to runs on this thread (`TrapMode::call` restores the
        // outer landing when it returns).
        if unsafe { (*host).entry_pc } == 0 {
            // No entry trampoline armed it (code that is not Springboard's
            // was called with it): nothing to resume at; return zeros.
            record(error);
            return;
        }
        record_for_jump(error);
        // SAFETY: armed by the entry trampoline still running beneath; the
        // frames above it are generated code and shims that own nothing:
        // the closure's frames are gone by now.
        unsafe { arch::resume(host) }
    } else {
        record_for_jump(error);
        // SAFETY: a catch point is the landing only while its `catch_call`
        // runs on this thread (`enter` restores the outer landing before it
        // returns), and the frames above it are generated code and shims
        // that own nothing: the closure's frames are gone by now.
        unsafe { arch::jump(landing.cast()) }
    }
}

/// The trap handling of a Springboard call into generated code or a shim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrapMode {
    /// Straight into a host function's shim, with no wasm in between: the
    /// shim returns its failure ([`RETURN`]).
    Direct,
    /// [`Direct`](Self::Direct) for an engine without a raise hook: the
    /// landing of host code, [`FOREIGN`], already sends a failure back the
    /// same way, so the landing is left as it is.
    DirectUnhooked,
    /// Into Springboard's own entry trampoline of the `tail` convention,
    /// with an armed [`VMHostCaller`] as the caller vmctx: the trampoline is
    /// the catch point.
    Caught,
    /// Into code that may be wasm but is not Springboard's own entry, under
    /// a catch point of saved registers.
    Jump,
    /// Into code that may be wasm, with no catch point: the engine's
    /// runtime handles host failures (its raise hook), and its traps may
    /// unwind past this frame, which a catch point would not survive.
    Uncaught,
}

impl TrapMode {
    /// Runs `call` under this trap handling, passing it the caller vmctx to
    /// call with (`caller`, or an armed context in its place), and returns
    /// the failure of a host function beneath it, if any.
    ///
    /// `call` must not keep anything that needs dropping across its call
    /// into generated code: under [`TrapMode::Jump`], after a jump its
    /// frame is gone.
    #[inline(always)]
    pub(crate) fn call<R>(
        self,
        caller: *mut VMOpaqueContext,
        call: impl FnOnce(*mut VMOpaqueContext) -> R,
    ) -> Result<R, Error> {
        // The two modes of the hot paths (host functions called straight,
        // and the engine's own entries) each one compare away, not behind
        // a jump table on all five.
        if self == TrapMode::DirectUnhooked {
            debug_assert!(LANDING.get() == FOREIGN, "only host code calls");
            let result = call(caller);
            take()?;
            return Ok(result);
        }
        if self == TrapMode::Caught {
            let mut record = MaybeUninit::uninit();
            return caught(armed(&mut record), call);
        }
        // Everything else out of line, so that the paths above build no
        // closure state and carry no jump buffer; the closure stays in this
        // frame, read in place (copying it would load it with wider accesses
        // than it was stored with, which stalls store forwarding).
        let mut thunk = Thunk {
            call: ManuallyDrop::new(move || call(caller)),
            result: None,
        };
        self.enter(&mut thunk)?;
        // A jump always records a failure first, so `result` is there.
        thunk.result.ok_or_else(missing_result)
    }

    /// [`TrapMode::Caught`]'s [`call`](Self::call) into a call of
    /// `tail_call.rs`, which writes the catch point into the record it is
    /// given before it calls. The record is only the landing: the call
    /// passes the engine's own caller context, so nothing else reads the
    /// record, and it is left unwritten here. As for every catch point
    /// ([`caught`]), the outer landing comes back afterwards, whatever it
    /// was: one word kept across the call, which costs fewer instructions
    /// than testing for host code before it and sending every other caller
    /// through the entry trampoline.
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    #[inline(always)]
    pub(crate) fn caught_by_call<R>(call: impl FnOnce(*mut ArmedRecord) -> R) -> Result<R, Error> {
        let mut record = MaybeUninit::<ArmedRecord>::uninit();
        let record = record.as_mut_ptr();
        caught(record.cast(), |_| call(record))
    }

    /// [`call`](Self::call) of a call that passes `params` parameters: with
    /// more than [`STRAIGHT_ABOVE`], through [`call_straight`](Self::call_straight).
    /// `params` is a constant where it is called: the choice costs nothing.
    #[inline(always)]
    pub(crate) fn call_passing<R>(
        self,
        params: usize,
        caller: *mut VMOpaqueContext,
        call: impl FnOnce(*mut VMOpaqueContext) -> R,
    ) -> Result<R, Error> {
        if params > STRAIGHT_ABOVE {
            self.call_straight(caller, call)
        } else {
            self.call(caller, call)
        }
    }

    /// [`call`](Self::call) with one call site for every mode but `Jump`:
    /// the caller context and the landing are chosen without a branch, and
    /// the context is armed and the landing written whatever the mode. The
    /// parameters are loaded before the mode is known; held across a
    /// compare into two call sites, sixteen of them outnumber the registers
    /// and were spilled and reloaded on every call (`perf annotate`: a
    /// sixteen-`i64` typed call 5.9 ns, 4.9–5.0 ns this way). With few
    /// parameters the unconditional work costs more than it saves (six: 1.9
    /// against 2.5 ns).
    #[inline(always)]
    fn call_straight<R>(
        self,
        caller: *mut VMOpaqueContext,
        call: impl FnOnce(*mut VMOpaqueContext) -> R,
    ) -> Result<R, Error> {
        if self == TrapMode::Jump {
            return self.call(caller, call);
        }
        let mut record = MaybeUninit::uninit();
        let host = armed(&mut record);
        let caught = self == TrapMode::Caught;
        let outer = LANDING.get();
        let landing = if caught {
            resume_landing(host)
        } else if self == TrapMode::Direct {
            RETURN
        } else {
            outer
        };
        LANDING.set(landing);
        let result = call(if caught { host } else { caller });
        LANDING.set(outer);
        take()?;
        Ok(result)
    }

    /// Runs the closure in `thunk` under this mode's landing: a jump
    /// buffer (`Jump`), [`RETURN`] (`Direct`) or the caller's (`Uncaught`);
    /// its result, if it returned, is left in the thunk.
    #[inline(never)]
    fn enter<F: FnOnce() -> R, R>(self, thunk: &mut Thunk<F, R>) -> Result<(), Error> {
        let data = core::ptr::from_mut(thunk).cast::<u8>();
        match self {
            TrapMode::Jump => {
                let mut buf = MaybeUninit::<JumpBuf>::uninit();
                let outer = LANDING.replace(buf.as_ptr().cast());
                // SAFETY: `buf` lives in this frame until `catch_call`
                // returns; `run` does not unwind (it calls generated code,
                // whose host functions catch every panic).
                unsafe { catch_call(buf.as_mut_ptr(), run::<F, R>, data) };
                LANDING.set(outer);
            }
            TrapMode::Direct => {
                let outer = LANDING.replace(RETURN);
                // SAFETY: `data` is the live `Thunk<F, R>`.
                unsafe { run::<F, R>(data) };
                LANDING.set(outer);
            }
            // SAFETY: `data` is the live `Thunk<F, R>`.
            _ => unsafe { run::<F, R>(data) },
        }
        take()
    }
}

#[cold]
fn missing_result() -> Error {
    Error::HostPanic("host function failed without a recorded failure".to_owned())
}

/// An entry's closure in, its result out.
struct Thunk<F, R> {
    call: ManuallyDrop<F>,
    result: Option<R>,
}

/// Runs the closure in a `Thunk<F, R>`.
///
/// # Safety
/// `thunk` must point to a live `Thunk<F, R>` whose closure was not taken.
unsafe extern "C" fn run<F: FnOnce() -> R, R>(thunk: *mut u8) {
    // SAFETY: per the caller; `call` is taken exactly once, here (after a
    // jump, `run` had already taken it: nothing is dropped twice, and a
    // closure that only borrows has nothing to drop).
    unsafe {
        let thunk = &mut *thunk.cast::<Thunk<F, R>>();
        let call = ManuallyDrop::take(&mut thunk.call);
        thunk.result = Some(call());
    }
}

/// The failure recorded while the call that just returned ran, if any.
#[inline]
fn take() -> Result<(), Error> {
    if !FAILED.get() {
        return Ok(());
    }
    take_recorded()
}

/// [`take`] once a failure was recorded: out of line, so that every call
/// site's hot path is the flag's load and test alone.
#[cold]
#[inline(never)]
fn take_recorded() -> Result<(), Error> {
    FAILED.set(false);
    match PENDING.with(|p| p.borrow_mut().take()) {
        None => Ok(()),
        Some(error) => Err(error),
    }
}

/// Takes the host failure recorded on this thread since the last
/// Springboard call returned, if any.
///
/// Springboard's own calls do this themselves. A runtime that enters a
/// funcref from its own generated code (through `wasm_call`, say) on an
/// engine with no raise hook calls this when control comes back to it, to
/// learn whether a host function failed beneath (it returned zeros).
#[inline]
pub fn take_host_failure() -> Option<Error> {
    take().err()
}

/// Runs `f` as host code: a failing Springboard host function beneath it
/// never jumps past it. A runtime's own host function — one that is not a
/// Springboard `Func` — wraps its body in this when wasm entered through
/// Springboard can call it, so that a Springboard entry's catch point does
/// not reach through the runtime's frames.
pub fn as_host<R>(f: impl FnOnce() -> R) -> R {
    /// Puts the outer landing back, however `f` leaves.
    struct Restore(Landing);
    impl Drop for Restore {
        fn drop(&mut self) {
            LANDING.set(self.0);
        }
    }
    let _restore = Restore(LANDING.replace(FOREIGN));
    f()
}
