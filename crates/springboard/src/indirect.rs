//! [`TypedIndirect`]: `call_indirect` from the host with a type known
//! statically — the signature check, then a call through compiled code.

use crate::engine::Engine;
use crate::error::Error;
use crate::registry::SharedSignature;
use crate::shims::is_own_host;
use crate::trap::{STRAIGHT_ABOVE, TrapMode};
use crate::tuples::{WasmParams, WasmResults};
use crate::typed::check_fits;
use crate::val::FuncRef;
use core::marker::PhantomData;
use core::ptr::NonNull;
use springboard_vm_abi::{VMFuncRef, VMNativeCallFunction, VMOpaqueContext};

impl Engine {
    /// A typed `call_indirect` of `expected` with Rust types `(P) -> R`
    /// (which must fit it as [`Func::typed`](crate::Func::typed)'s do):
    /// [`TypedIndirect::call`] checks a funcref against `expected` as
    /// [`check_funcref`](Self::check_funcref) does (subtypes pass), then
    /// calls it with no check of the values. The first use of a type
    /// compiles its indirect entry.
    pub fn typed_indirect<P: WasmParams, R: WasmResults>(
        &self,
        expected: &SharedSignature,
    ) -> Result<TypedIndirect<P, R>, Error> {
        self.check_own(expected)?;
        check_fits::<P, R>(expected.signature(), self.gc_refs())?;
        let expected = expected.clone();
        // Only entries that arm the caller's catch point may take a
        // funcref of any provenance: the indirect entry does.
        let entry = match self.entry_mode() {
            TrapMode::Caught => self.source().indirect_entry(&expected)?,
            _ => None,
        };
        Ok(TypedIndirect {
            engine: self.clone(),
            expected,
            entry: entry.map(NonNull::cast),
            host_mark: self.host_mark(),
            direct: self.direct_mode(),
            caller: self.caller_vmctx().as_ptr(),
            _marker: PhantomData,
        })
    }
}

/// `call_indirect` of `(P) -> R` from the host (see
/// [`Engine::typed_indirect`]): a funcref of a subtype of the type passes
/// the check; a host function of the engine is then called as
/// [`TypedFunc::call`](crate::TypedFunc::call) calls it, any other funcref
/// with a `wasm_call` is entered through the type's compiled indirect
/// entry, under its catch point, as wasm's own `call_indirect` enters it,
/// and one without through `native_call`.
pub struct TypedIndirect<P, R> {
    engine: Engine,
    expected: SharedSignature,
    entry: Option<NonNull<VMNativeCallFunction>>,
    /// The engine's host functions' mark, and how to call one directly.
    host_mark: u64,
    direct: TrapMode,
    caller: *mut VMOpaqueContext,
    _marker: PhantomData<fn(P) -> R>,
}

// SAFETY: code and context addresses the engine keeps alive while `engine`
// lives; calling them from any thread is the funcref contract.
unsafe impl<P, R> Send for TypedIndirect<P, R> {}
// SAFETY: as for `Send`; nothing is mutated.
unsafe impl<P, R> Sync for TypedIndirect<P, R> {}

impl<P: WasmParams, R: WasmResults> TypedIndirect<P, R> {
    /// Checks `funcref` against the type, then calls it with `params`.
    /// Nothing runs unless the check passes.
    ///
    /// # Safety
    /// As for [`Engine::call_indirect`]: a non-null `funcref` must point to
    /// a live `VMFuncRef` whose entry points really have the type its
    /// `type_index` says, and whose `vmctx` is a live context (every
    /// context starts with its magic, and a host function context is laid
    /// out as `VMHostFuncContext`: the call reads both to tell the
    /// engine's own host functions apart).
    // Always inlined: inlined where the compiler chose, its `Result`, built
    // on several paths, merged in the caller's frame in memory, written
    // field by field, and a caller's wider copy of several results stalled
    // on store forwarding (`(i32)->(i32,i64,f64)`: 5.3 against 2.5 ns).
    #[inline(always)]
    pub unsafe fn call(&self, funcref: FuncRef, params: P) -> Result<R, Error> {
        if P::COUNT > STRAIGHT_ABOVE {
            // SAFETY: forwarded to the caller.
            return unsafe { self.call_many(funcref, params) };
        }
        // SAFETY: forwarded to the caller.
        let checked = unsafe { self.check(funcref)? };
        // SAFETY: forwarded to the caller.
        unsafe { self.call_checked(checked, params) }
    }

    /// [`call`](Self::call) with more parameters than the registers hold
    /// across a choice of call sites (see `TrapMode::call_straight`): the
    /// engine's own host functions get a call site of their own, as
    /// `TypedFunc::call` calls them. Held across the mode chosen from the
    /// checks, sixteen `i64`s were spilled and reloaded: 8.2–10.6 ns a call,
    /// 6.3–6.5 this way (alternated runs, `TypedFunc::call` 5.4–6.0).
    ///
    /// # Safety
    /// As for [`call`](Self::call).
    #[inline(always)]
    unsafe fn call_many(&self, funcref: FuncRef, params: P) -> Result<R, Error> {
        // SAFETY: forwarded to the caller.
        let checked = unsafe { self.check(funcref)? };
        // SAFETY: live per the caller, and its `vmctx` with it.
        if unsafe { is_own_host(checked, self.host_mark) } {
            // SAFETY: live per the caller.
            let f = unsafe { checked.as_ref() };
            let (code, callee) = (f.native_call, f.vmctx);
            return self.direct.call_passing(P::COUNT, self.caller, |caller| {
                // SAFETY: the host function's native entry, of a supertype
                // of the funcref's type (the check passed), and its context.
                unsafe { P::call_native::<R>(code, callee, caller, params) }
            });
        }
        // SAFETY: forwarded to the caller.
        unsafe { self.call_checked(checked, params) }
    }

    /// The call of a funcref that passed the check.
    ///
    /// # Safety
    /// As for [`call`](Self::call), `checked` of a subtype of the type.
    #[inline(always)]
    unsafe fn call_checked(&self, checked: NonNull<VMFuncRef>, params: P) -> Result<R, Error> {
        // SAFETY: live per the caller.
        let f = unsafe { checked.as_ref() };
        // SAFETY: live per the caller, and its `vmctx` with it.
        let (code, callee, mode) = if unsafe { is_own_host(checked, self.host_mark) } {
            // As `TypedFunc::call` calls it: no wasm lies between.
            (f.native_call, f.vmctx, self.direct)
        } else {
            match (self.entry, f.wasm_call) {
                // The indirect entry of a supertype of the funcref's type,
                // whose values share their representation: it takes the
                // funcref as its callee context and enters `wasm_call`.
                (Some(entry), Some(_)) => (entry, checked.as_ptr().cast(), TrapMode::Caught),
                _ => (f.native_call, f.vmctx, self.engine.foreign_mode()),
            }
        };
        // One call site: results merged from several would travel through
        // memory.
        mode.call(self.caller, |caller| {
            // SAFETY: native-convention code of a supertype of the funcref's
            // type (the check passed) and the context it takes, live per
            // the caller.
            unsafe { P::call_native::<R>(code, callee, caller, params) }
        })
    }

    /// The equal type inline; a subtype, or the error, out of line.
    ///
    /// # Safety
    /// As for [`call`](Self::call).
    #[inline(always)]
    unsafe fn check(&self, funcref: FuncRef) -> Result<NonNull<VMFuncRef>, Error> {
        match funcref.0 {
            // SAFETY: the caller guarantees a non-null funcref is live.
            Some(ptr) if unsafe { ptr.as_ref().type_index } == self.expected.index() => Ok(ptr),
            // SAFETY: forwarded to the caller.
            _ => unsafe { self.check_other(funcref) },
        }
    }

    /// The check of a funcref whose type is not the expected one.
    ///
    /// # Safety
    /// As for [`call`](Self::call).
    #[cold]
    #[inline(never)]
    unsafe fn check_other(&self, funcref: FuncRef) -> Result<NonNull<VMFuncRef>, Error> {
        // SAFETY: forwarded to the caller.
        unsafe { self.engine.check_funcref(funcref, &self.expected) }
    }

    /// The type funcrefs are checked against.
    pub fn ty(&self) -> &SharedSignature {
        &self.expected
    }
}
