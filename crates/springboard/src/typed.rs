//! [`TypedFunc`]: a [`Func`] whose type is known statically, called through
//! `native_call` with no per-call check.

use crate::error::Error;
use crate::func::Func;
use crate::trap::{STRAIGHT_ABOVE, TrapMode};
use crate::tuples::{WasmParams, WasmResults};
use core::marker::PhantomData;
use core::ptr::NonNull;
use springboard_environ::{GcRefWidth, Signature, ValType};
use springboard_vm_abi::{VMNativeCallFunction, VMOpaqueContext, VMWasmCallFunction};

impl Func {
    /// A typed view, if every value of `P` is a value of the function's
    /// parameter type and every result of the function a value of `R`'s
    /// (a `FuncRef` result for a `(ref $t)` result type, say, but not a
    /// `FuncRef` argument for a `(ref $t)` parameter: call such functions
    /// untyped, which checks each funcref), with GC references of the
    /// engine's width; its calls go through `native_call` with no further
    /// check.
    pub fn typed<P: WasmParams, R: WasmResults>(&self) -> Result<TypedFunc<P, R>, Error> {
        check_fits::<P, R>(self.ty(), self.engine().gc_refs())?;
        // SAFETY: the funcref lives as long as `self` and is never mutated.
        let func_ref = unsafe { self.vm_func_ref().as_ref() };
        let mode = self.trap_mode();
        // The engine's own wasm (`Caught`: its `tail` entries are the catch
        // point), whose catch point the call itself can be.
        let tail =
            (calls_tail::<P, R>() && mode == TrapMode::Caught && self.engine().keeps_no_books())
                .then_some(func_ref.wasm_call)
                .flatten();
        Ok(TypedFunc {
            func: self.clone(),
            call: NativeCall {
                code: func_ref.native_call,
                tail,
                callee: func_ref.vmctx,
                caller: self.engine().caller_vmctx().as_ptr(),
                mode,
            },
            _marker: PhantomData,
        })
    }
}

/// Whether a typed call of `(P) -> R` can be its own catch point into the
/// engine's own wasm (`tail_call`): every result in a register, and every
/// parameter in one or else in a stack entry's carriers.
const fn calls_tail<P: WasmParams, R: WasmResults>() -> bool {
    R::TAIL && (P::TAIL || P::TAIL_STACK)
}

/// Whether calls of `(P) -> R` may go to code of type `ty` with no check of
/// the values: every value of `P` a value of `ty`'s parameter type, every
/// result of `ty` a value of `R`'s, GC references `width` wide.
pub(crate) fn check_fits<P: WasmParams, R: WasmResults>(
    ty: &Signature,
    width: GcRefWidth,
) -> Result<(), Error> {
    let expected = Signature::new(&P::types(), &R::types())?;
    let below = |a: &[ValType], b: &[ValType]| {
        a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| x.matches(y, |_, _| false))
    };
    let widths_fit = P::gc_widths()
        .into_iter()
        .chain(R::gc_widths())
        .flatten()
        .all(|w| w == width);
    if !below(expected.params(), ty.params())
        || !below(ty.results(), expected.results())
        || !widths_fit
    {
        return Err(Error::SignatureMismatch {
            expected,
            actual: ty.to_string(),
        });
    }
    Ok(())
}

/// A [`Func`] whose type is known statically: calls go straight through
/// `native_call`, with no per-call check.
pub struct TypedFunc<P, R> {
    func: Func,
    /// What every call passes, copied out of the funcref and the engine
    /// (both immutable while `func` lives) so a call loads them from here.
    call: NativeCall,
    _marker: PhantomData<fn(P) -> R>,
}

/// A native-convention call: the code, its callee context, the caller
/// context to pass, and the trap handling around it.
#[derive(Clone, Copy)]
struct NativeCall {
    code: NonNull<VMNativeCallFunction>,
    /// The `tail`-convention entry to call instead, with no trampoline
    /// (see `tail_call`).
    tail: Option<NonNull<VMWasmCallFunction>>,
    callee: *mut VMOpaqueContext,
    caller: *mut VMOpaqueContext,
    mode: TrapMode,
}

// SAFETY: addresses into the `Func` (and its engine) that `TypedFunc` keeps
// alive; calling them from any thread is the funcref contract.
unsafe impl Send for NativeCall {}
// SAFETY: as for `Send`.
unsafe impl Sync for NativeCall {}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        TypedFunc {
            func: self.func.clone(),
            call: self.call,
            _marker: PhantomData,
        }
    }
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Calls the function.
    // Always inlined: out of line, its frame (six saved registers, the
    // result through memory) costs more than the call it makes.
    #[inline(always)]
    pub fn call(&self, params: P) -> Result<R, Error> {
        // Host functions on a path of their own, with the mode a constant:
        // behind `TrapMode::call`'s own test, LLVM stored the out-of-line
        // modes' closure state before it on every call. (More parameters
        // go through one call site whatever the mode: `call_passing`.)
        if P::COUNT <= STRAIGHT_ABOVE && self.call.mode == TrapMode::DirectUnhooked {
            return self.call_through_entry(TrapMode::DirectUnhooked, params);
        }
        // Host functions with more parameters (`DirectUnhooked`) skip the
        // `tail` test too.
        #[cfg(all(target_arch = "x86_64", not(windows)))]
        if let (true, false, Some(tail)) = (
            calls_tail::<P, R>(),
            self.call.mode == TrapMode::DirectUnhooked,
            self.call.tail,
        ) {
            // SAFETY (both calls): `typed()` checked the type as below and
            // chose `tail` only for the engine's own `tail`-convention wasm
            // under `TrapMode::Caught`, and only for types `tail_call`
            // takes: every result in a register (`R::TAIL`), and every
            // parameter in one (`P::TAIL`) or else in a stack entry's
            // carriers (`P::TAIL_STACK`); the record is the landing.
            let (callee, caller) = (self.call.callee, self.call.caller);
            let mut args = crate::tail_call::TailArgs::new();
            params.tail_args(&mut args);
            return TrapMode::caught_by_call(|record| unsafe {
                let mut results = if P::TAIL {
                    crate::tail_call::call(tail, callee, caller, record, args)
                } else {
                    let slots = const { crate::tail_call::stack_slots(P::TYPES) };
                    crate::tail_call::call_with_stack(tail, callee, caller, record, args, slots)
                };
                R::from_tail(&mut results)
            });
        }
        #[cfg(not(all(target_arch = "x86_64", not(windows))))]
        let _ = self.call.tail;
        self.call_through_entry(self.call.mode, params)
    }

    /// The call through the native entry, under the function's trap mode
    /// `mode`.
    #[inline(always)]
    fn call_through_entry(&self, mode: TrapMode, params: P) -> Result<R, Error> {
        let NativeCall {
            code,
            callee,
            caller,
            ..
        } = self.call;
        mode.call_passing(P::COUNT, caller, |caller| {
            // SAFETY: `typed()` checked that the function's type is exactly
            // `(P) -> R`, and its native entry has that type; the contexts
            // are the funcref's and the engine's (or an armed one in its
            // place), alive with `self.func`.
            unsafe { P::call_native::<R>(code, callee, caller, params) }
        })
    }

    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }
}
