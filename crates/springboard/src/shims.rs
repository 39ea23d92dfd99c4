//! Every Rust shim behind a host function: the code a funcref's entries
//! point at when the callee is a Rust closure rather than generated code.
//!
//! | function | `native_call` | `array_call` |
//! |---|---|---|
//! | typed ([`Func::wrap`](crate::Func::wrap)) | `into_func!`'s `single`/`multi` | [`array_shim`] |
//! | untyped ([`Func::new`](crate::Func::new)) | `native_to_array` (generic until compiled) | [`untyped_array_shim`] |
//!
//! Each shim finds its closure in the `VMHostFuncContext` passed as its
//! callee vmctx ([`Hosted`]), runs it under [`trap::host_call`], and never
//! unwinds into its caller: a failure goes where the caller's landing says
//! (see [`trap`]).

use crate::error::{BoxError, Error};
use crate::registry::Registry;
#[cfg(all(target_arch = "x86_64", not(windows)))]
use crate::tail_call::TailFrame;
use crate::trap::{self, RaiseHook};
use crate::tuples::{WasmParams, WasmResults};
use crate::val::{Val, WasmTy, check_arity, check_values};
use core::marker::PhantomData;
use core::ptr::NonNull;
use springboard_environ::Signature;
use springboard_vm_abi::{
    PtrSize, SPRINGBOARD_HOST_CALLER_MAGIC, VM_ARRAY_CALL_HOST_FUNC_MAGIC,
    VM_NATIVE_CALL_HOST_FUNC_MAGIC, VMArrayCallFunction, VMFuncRef, VMHostFuncContext,
    VMNativeCallFunction, VMOpaqueContext, ValRaw,
};
use std::sync::Arc;

/// What a typed host closure returns: its results, or a `Result` of them.
/// An `Err` is caught at the boundary and returned by the enclosing call.
pub trait HostReturn: Send + 'static {
    /// The results.
    type Results: WasmResults;
    /// The results or the closure's error.
    fn into_result(self) -> Result<Self::Results, BoxError>;
}

impl<R: WasmResults> HostReturn for R {
    type Results = R;
    fn into_result(self) -> Result<R, BoxError> {
        Ok(self)
    }
}

impl<R: WasmResults, E: Into<BoxError> + Send + 'static> HostReturn for Result<R, E> {
    type Results = R;
    fn into_result(self) -> Result<R, BoxError> {
        self.map_err(Into::into)
    }
}

/// The context a host function was called from, which a host closure may
/// take as its first parameter ([`Func::wrap`](crate::Func::wrap),
/// [`Func::new_with_caller`](crate::Func::new_with_caller)), as Wasmtime's
/// `Caller` is.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    vmctx: *mut VMOpaqueContext,
    _call: PhantomData<&'a ()>,
}

impl Caller<'_> {
    fn new(vmctx: *mut VMOpaqueContext) -> Self {
        Caller {
            vmctx,
            _call: PhantomData,
        }
    }

    /// The caller vmctx: the calling wasm instance's context, the context a
    /// runtime gave its engine ([`Config::caller_vmctx`](crate::Config::caller_vmctx)),
    /// or a host caller context when the host called — the engine's own, or
    /// one the engine made for that call to carry its catch point (see
    /// `VMHostCaller`); [`is_host`](Self::is_host) is true of both. Never
    /// null when Springboard or Wasmtime calls; whatever a foreign caller
    /// passed otherwise.
    pub fn vmctx(&self) -> *mut VMOpaqueContext {
        self.vmctx
    }

    /// Whether the host called, through an engine given no context of its
    /// own: the caller context carries
    /// [`SPRINGBOARD_HOST_CALLER_MAGIC`](crate::vm::SPRINGBOARD_HOST_CALLER_MAGIC).
    pub fn is_host(&self) -> bool {
        // SAFETY: callers pass a live context, and every context starts with
        // its magic (see `springboard_vm_abi::VMOpaqueContext`).
        !self.vmctx.is_null()
            && unsafe { VMOpaqueContext::magic(self.vmctx) } == SPRINGBOARD_HOST_CALLER_MAGIC
    }
}

/// A Rust closure usable as a typed host function: `Fn(A1, …, An) -> R` or
/// `Fn(Caller<'_>, A1, …, An) -> R` for `n <= 16`, with every `Ai: WasmTy`
/// and `R: HostReturn`. `P` tells the two apart.
pub trait IntoFunc<P, R: HostReturn>: Send + Sync + Sized + 'static {
    /// The wasm parameters (without the `Caller`).
    #[doc(hidden)]
    type Params: WasmParams;
    /// Whether the closure only forwards to code of another runtime, which
    /// may call back into wasm: then it runs under its caller's landing.
    #[doc(hidden)]
    const FORWARDS: bool = false;
    /// Calls the closure with its caller context and a parameter tuple.
    #[doc(hidden)]
    fn call_tuple(&self, caller: *mut VMOpaqueContext, params: Self::Params) -> R;
    /// The native-convention shim for `VMFuncRef::native_call`, which
    /// expects its callee vmctx to be a `VMHostFuncContext<Self>`.
    #[doc(hidden)]
    fn native_shim() -> NonNull<VMNativeCallFunction>;
}

/// The native shims of typed host functions with these parameters.
#[doc(hidden)]
pub trait NativeShims: WasmParams {
    /// The shim of `F`: `single` for at most one result, else `multi`.
    fn native_shim<F: IntoFunc<P, R, Params = Self>, P: 'static, R: HostReturn>()
    -> NonNull<VMNativeCallFunction>;
}

/// The host state of every host function: its engine's mark, its engine's
/// raise hook, and the function's own state (its closure).
#[repr(C)]
pub(crate) struct Hosted<T> {
    /// [`host_mark`] of the engine, first: where [`is_own_host`] reads it.
    pub(crate) mark: u64,
    pub(crate) raise: Option<RaiseHook>,
    pub(crate) state: T,
}

/// The mark of the host functions of the engine numbered `engine_id`:
/// "SB" in the top bits, which no pointer has on any 64-bit target
/// Springboard supports (nor, being over 2^32, on a 32-bit one), so no other
/// runtime's host state (a pointer, as Wasmtime's) can equal it.
pub(crate) const fn host_mark(engine_id: u64) -> u64 {
    (0x5342 << 48) | (engine_id & 0xffff_ffff_ffff)
}

/// Whether `func_ref` is the funcref of a host function made by the engine
/// whose mark is `mark` (see [`Func::wrap`](crate::Func::wrap)): one embedded
/// in its own host context, whose state carries the mark. Its `native_call`
/// is a shim that calls no wasm but through entries of its own.
///
/// # Safety
/// `func_ref` must point to a live funcref whose `vmctx` is a live context
/// (every context starts with its magic; a host function context has its
/// funcref and state where `VMHostFuncContext` says).
#[inline]
pub(crate) unsafe fn is_own_host(func_ref: NonNull<VMFuncRef>, mark: u64) -> bool {
    let p = PtrSize::HOST;
    // SAFETY: per the caller.
    unsafe {
        let vmctx = func_ref.as_ref().vmctx.cast::<u8>();
        vmctx.wrapping_add(usize::from(p.vm_host_func_context_func_ref()))
            == func_ref.as_ptr().cast()
            && matches!(
                VMOpaqueContext::magic(vmctx.cast()),
                VM_NATIVE_CALL_HOST_FUNC_MAGIC | VM_ARRAY_CALL_HOST_FUNC_MAGIC
            )
            && vmctx
                .add(usize::from(p.vm_host_func_context_host_state()))
                .cast::<u64>()
                .read()
                == mark
    }
}

/// The host state in the context a shim was called with.
///
/// # Safety
/// `callee` must be a live `VMHostFuncContext<Hosted<T>>`.
unsafe fn hosted<'a, T>(callee: *mut VMOpaqueContext) -> &'a Hosted<T> {
    // SAFETY: per the caller.
    unsafe { &(*callee.cast::<VMHostFuncContext<Hosted<T>>>()).host_state }
}

/// The zero value of any native ABI type (integers, floats, pointers,
/// vectors) or results area (a `repr(C)` struct of them).
fn zeroed<T: Copy>() -> T {
    // SAFETY: only instantiated with the `Abi` types of `WasmTy` (and
    // their register types), `()` and `WasmResults::Area` structs of them:
    // integers, floats, raw pointers and SIMD vectors, all valid as zero
    // bits.
    unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
}

/// The array-convention shim of a typed host function.
pub(crate) unsafe extern "C" fn array_shim<F, P, R>(
    callee: *mut VMOpaqueContext,
    caller: *mut VMOpaqueContext,
    values: *mut ValRaw,
    capacity: usize,
) where
    F: IntoFunc<P, R>,
    R: HostReturn,
{
    // SAFETY: this shim is only installed in a `VMHostFuncContext<Hosted<F>>`,
    // passed as the callee vmctx.
    let host = unsafe { hosted::<F>(callee) };
    let done = run_hosted(host, || {
        let needed = F::Params::COUNT.max(R::Results::COUNT);
        if values.is_null() || capacity < needed {
            return Err(Error::BufferTooSmall { capacity, needed });
        }
        // SAFETY: the caller passes a buffer of `capacity` slots, checked to
        // be enough.
        let values = unsafe { core::slice::from_raw_parts_mut(values, capacity) };
        let results = host
            .state
            .call_tuple(caller, F::Params::load(values))
            .into_result()
            .map_err(Error::Host)?;
        results.store(values);
        Ok(())
    });
    if done.is_none() {
        // A failure that returns leaves every result zero.
        zero_results(values, capacity, R::Results::COUNT);
    }
}

/// Zeroes the first `count` slots of an array call's buffer (as many as it
/// has): the results of a failed call that returns to its caller.
fn zero_results(values: *mut ValRaw, capacity: usize, count: usize) {
    if values.is_null() {
        return;
    }
    for i in 0..count.min(capacity) {
        // SAFETY: the caller passes a buffer of `capacity` slots.
        unsafe { values.add(i).write(ValRaw::ZERO) };
    }
}

/// A host function's closure called from values (see `Func::call`), with
/// what it needs of its function: its host context, and its type and
/// registry to check the values by before anything runs.
pub(crate) struct HostVals {
    call: ValsCall,
    callee: *mut VMOpaqueContext,
    ty: NonNull<Signature>,
    registry: NonNull<Registry>,
}

/// The closure's half of a [`HostVals`]: [`typed_vals`] or [`untyped_vals`].
pub(crate) type ValsCall = unsafe fn(
    host: &HostVals,
    caller: *mut VMOpaqueContext,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), Error>;

impl HostVals {
    /// # Safety
    /// `callee` must be a live host context of the kind `call` takes, of
    /// type `ty`; it, `ty` and `registry` must outlive the `HostVals`.
    pub(crate) unsafe fn new(
        call: ValsCall,
        callee: *mut VMOpaqueContext,
        ty: &Signature,
        registry: &Registry,
    ) -> Self {
        HostVals {
            call,
            callee,
            ty: NonNull::from(ty),
            registry: NonNull::from(registry),
        }
    }

    /// Calls the closure with `params`, into `results`.
    ///
    /// # Safety
    /// `caller` must be a context the function accepts as its caller.
    #[inline]
    pub(crate) unsafe fn call(
        &self,
        caller: *mut VMOpaqueContext,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        // SAFETY: `call` takes `self`'s kind of context, per `new`.
        unsafe { (self.call)(self, caller, params, results) }
    }

    fn ty(&self) -> &Signature {
        // SAFETY: outlives `self`, per `new`.
        unsafe { self.ty.as_ref() }
    }

    fn registry(&self) -> &Registry {
        // SAFETY: outlives `self`, per `new`.
        unsafe { self.registry.as_ref() }
    }
}

/// The [`ValsCall`] of a typed host function: numbers straight into the
/// closure's parameters and out of its results, one compare each; anything
/// else checked as `Func::call` checks it.
///
/// # Safety
/// `host`'s context must be a live `VMHostFuncContext<Hosted<F>>`.
pub(crate) unsafe fn typed_vals<F, P, R>(
    host: &HostVals,
    caller: *mut VMOpaqueContext,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), Error>
where
    F: IntoFunc<P, R>,
    R: HostReturn,
{
    let args = match F::Params::from_numbers(params) {
        Some(args) if params.len() == F::Params::COUNT => args,
        _ => load_checked(host, params)?,
    };
    check_arity("results", R::Results::COUNT, results.len())?;
    // SAFETY: per the caller.
    let hosted = unsafe { hosted::<F>(host.callee) };
    let out = trap::direct_host_call(|| {
        hosted
            .state
            .call_tuple(caller, args)
            .into_result()
            .map_err(Error::Host)
    })?;
    out.into_vals(results);
    Ok(())
}

/// Parameters that are not all numbers, or not the closure's: checked as
/// `Func::call` checks them, then loaded (out of line, so that the numbers'
/// path carries no slot buffer).
#[cold]
#[inline(never)]
fn load_checked<P: WasmParams>(host: &HostVals, params: &[Val]) -> Result<P, Error> {
    check_values("parameters", host.ty().params(), params, host.registry())?;
    let mut raw = [ValRaw::ZERO; MAX_TUPLE];
    for (slot, v) in raw.iter_mut().zip(params) {
        *slot = v.to_raw();
    }
    Ok(P::load(&raw))
}

/// The most values a typed function takes.
const MAX_TUPLE: usize = 16;

/// The [`ValsCall`] of an untyped host function.
///
/// # Safety
/// `host`'s context must be a live `VMHostFuncContext<Hosted<Untyped<H>>>`.
pub(crate) unsafe fn untyped_vals<H: UntypedHost>(
    host: &HostVals,
    caller: *mut VMOpaqueContext,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), Error> {
    let (ty, registry) = (host.ty(), host.registry());
    check_values("parameters", ty.params(), params, registry)?;
    check_arity("results", ty.results().len(), results.len())?;
    // SAFETY: per the caller.
    let hosted = unsafe { hosted::<Untyped<H>>(host.callee) };
    // The closure's results start as zero values of the right types.
    for (slot, &t) in results.iter_mut().zip(ty.results()) {
        *slot = Val::default_for(t);
    }
    trap::direct_host_call(|| {
        hosted
            .state
            .host
            .call(caller, params, results)
            .map_err(Error::Host)?;
        check_values("results", ty.results(), results, registry)
    })
}

/// The array shim of `F` as a function pointer.
pub(crate) fn array_shim_of<F: IntoFunc<P, R>, P, R: HostReturn>() -> VMArrayCallFunction {
    array_shim::<F, P, R>
}

/// The stack shim of `F`, where a `wasm_call` through the popping entry
/// may serve it (see `generic::popping_entry`; at most one result, which
/// `tail` and the native convention return alike).
#[cfg(all(target_arch = "x86_64", not(windows)))]
pub(crate) fn stack_shim_of<F: IntoFunc<P, R>, P, R: HostReturn>()
-> Option<NonNull<core::ffi::c_void>> {
    (R::Results::COUNT <= 1)
        .then(|| NonNull::new(stack_shim::<F, P, R> as *mut core::ffi::c_void))
        .flatten()
}

/// No popping entry here: no stack shim.
#[cfg(not(all(target_arch = "x86_64", not(windows))))]
#[allow(clippy::extra_unused_type_parameters)] // the System V signature
pub(crate) fn stack_shim_of<F, P, R>() -> Option<NonNull<core::ffi::c_void>> {
    None
}

/// A typed host function's `wasm_call` behind the popping entry: `tail`'s
/// argument registers as they came, then the address of the caller's
/// stack arguments, which it reads in place (the entry pops them).
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn stack_shim<F, P, R>(
    callee: *mut VMOpaqueContext,
    caller: *mut VMOpaqueContext,
    i0: u64,
    i1: u64,
    i2: u64,
    i3: u64,
    f0: f64,
    f1: f64,
    f2: f64,
    f3: f64,
    f4: f64,
    f5: f64,
    f6: f64,
    f7: f64,
    stack: *const u64,
) -> <R::Results as WasmResults>::First
where
    F: IntoFunc<P, R>,
    R: HostReturn,
{
    // SAFETY: installed only in a `VMHostFuncContext<Hosted<F>>` whose
    // header sends the popping entry here (`stack_shim_of`), which passes
    // the callee vmctx and the address of the stack arguments of a `tail`
    // call of `F`'s type, which has no `v128` (`generic::popping_entry`).
    let (host, frame) = unsafe {
        let floats = [f0, f1, f2, f3, f4, f5, f6, f7].map(f64::to_bits);
        (
            hosted::<F>(callee),
            TailFrame::new([i0, i1, i2, i3], floats, stack),
        )
    };
    match run_native(host, caller, F::Params::from_tail_frame(&frame)) {
        // SAFETY: at most one result: no area is written.
        Some(results) => unsafe { results.into_native(core::ptr::null_mut()) },
        None => zeroed(),
    }
}

/// An untyped host closure, with or without a `Caller`.
pub(crate) trait UntypedHost: Send + Sync + 'static {
    fn call(
        &self,
        caller: *mut VMOpaqueContext,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), BoxError>;
}

/// `Fn(&[Val], &mut [Val])`: [`Func::new`](crate::Func::new).
pub(crate) struct NoCaller<F, E>(pub(crate) F, pub(crate) PhantomData<fn() -> E>);

impl<F, E> UntypedHost for NoCaller<F, E>
where
    F: Fn(&[Val], &mut [Val]) -> Result<(), E> + Send + Sync + 'static,
    E: Into<BoxError> + 'static,
{
    fn call(&self, _: *mut VMOpaqueContext, p: &[Val], r: &mut [Val]) -> Result<(), BoxError> {
        (self.0)(p, r).map_err(Into::into)
    }
}

/// `Fn(Caller, &[Val], &mut [Val])`: [`Func::new_with_caller`](crate::Func::new_with_caller).
pub(crate) struct WithCaller<F, E>(pub(crate) F, pub(crate) PhantomData<fn() -> E>);

impl<F, E> UntypedHost for WithCaller<F, E>
where
    F: Fn(Caller<'_>, &[Val], &mut [Val]) -> Result<(), E> + Send + Sync + 'static,
    E: Into<BoxError> + 'static,
{
    fn call(&self, c: *mut VMOpaqueContext, p: &[Val], r: &mut [Val]) -> Result<(), BoxError> {
        (self.0)(Caller::new(c), p, r).map_err(Into::into)
    }
}

/// The state of an untyped host function: its type and its closure.
pub(crate) struct Untyped<H> {
    pub(crate) ty: Signature,
    /// Checks the closure's results and knows the GC reference width.
    pub(crate) registry: Arc<Registry>,
    pub(crate) host: H,
}

/// The array-convention shim of an untyped host function.
pub(crate) unsafe extern "C" fn untyped_array_shim<H: UntypedHost>(
    callee: *mut VMOpaqueContext,
    caller: *mut VMOpaqueContext,
    values: *mut ValRaw,
    capacity: usize,
) {
    // SAFETY: this shim is only installed in a
    // `VMHostFuncContext<Hosted<Untyped<H>>>`, passed as the callee vmctx.
    let host = unsafe { hosted::<Untyped<H>>(callee) };
    // Everything that allocates runs inside the closure, so it is dropped
    // before a failure leaves the shim.
    let done = trap::host_call(host.raise, || {
        let ty = &host.state.ty;
        if values.is_null() || capacity < ty.array_len() {
            return Err(Error::BufferTooSmall {
                capacity,
                needed: ty.array_len(),
            });
        }
        // SAFETY: the caller passes `capacity` slots, checked to be enough.
        let values = unsafe { core::slice::from_raw_parts_mut(values, capacity) };
        let params: Vec<Val> = ty
            .params()
            .iter()
            .zip(values.iter())
            .map(|(&t, &raw)| Val::from_raw(raw, t, host.state.registry.gc()))
            .collect();
        let mut results: Vec<Val> = ty.results().iter().map(|&t| Val::default_for(t)).collect();
        host.state
            .host
            .call(caller, &params, &mut results)
            .map_err(Error::Host)?;
        check_values("results", ty.results(), &results, &host.state.registry)?;
        for (slot, v) in values.iter_mut().zip(&results) {
            *slot = v.to_raw();
        }
        Ok(())
    });
    if done.is_none() {
        // A failure that returns leaves every result zero.
        zero_results(values, capacity, host.state.ty.results().len());
    }
}

/// Runs the body of a typed host function's shim: a closure's under
/// [`trap::host_call`]; a forwarder's under its caller's landing, so that it
/// is transparent to failures beneath the code it forwards to.
#[inline]
fn run_hosted<F: IntoFunc<P, R>, P, R: HostReturn, T>(
    host: &Hosted<F>,
    body: impl FnOnce() -> Result<T, Error>,
) -> Option<T> {
    if F::FORWARDS {
        trap::forward_call(host.raise, body)
    } else {
        trap::host_call(host.raise, body)
    }
}

/// Runs a typed host function's closure for its native shim.
#[inline]
fn run_native<F: IntoFunc<P, R>, P, R: HostReturn>(
    host: &Hosted<F>,
    caller: *mut VMOpaqueContext,
    params: F::Params,
) -> Option<R::Results> {
    run_hosted(host, || {
        host.state
            .call_tuple(caller, params)
            .into_result()
            .map_err(Error::Host)
    })
}

macro_rules! into_func {
    ($($a:ident $i:tt)*) => {
        #[allow(non_snake_case)]
        impl<Func, Ret, $($a: WasmTy),*> IntoFunc<($($a,)*), Ret> for Func
        where
            Func: Fn($($a),*) -> Ret + Send + Sync + 'static,
            Ret: HostReturn,
        {
            type Params = ($($a,)*);

            #[inline]
            fn call_tuple(&self, _caller: *mut VMOpaqueContext, params: Self::Params) -> Ret {
                let ($($a,)*) = params;
                self($($a),*)
            }

            fn native_shim() -> NonNull<VMNativeCallFunction> {
                <Self::Params as NativeShims>::native_shim::<Func, ($($a,)*), Ret>()
            }
        }

        #[allow(non_snake_case)]
        impl<Func, Ret, $($a: WasmTy),*> IntoFunc<(Caller<'static>, $($a,)*), Ret> for Func
        where
            Func: Fn(Caller<'_>, $($a),*) -> Ret + Send + Sync + 'static,
            Ret: HostReturn,
        {
            type Params = ($($a,)*);

            #[inline]
            fn call_tuple(&self, caller: *mut VMOpaqueContext, params: Self::Params) -> Ret {
                let ($($a,)*) = params;
                self(Caller::new(caller), $($a),*)
            }

            fn native_shim() -> NonNull<VMNativeCallFunction> {
                <Self::Params as NativeShims>::native_shim::<Func, (Caller<'static>, $($a,)*), Ret>()
            }
        }

        #[allow(non_snake_case)]
        impl<$($a: WasmTy),*> NativeShims for ($($a,)*) {
            fn native_shim<F: IntoFunc<P, R, Params = Self>, P: 'static, R: HostReturn>()
            -> NonNull<VMNativeCallFunction> {
                type Res<R> = <R as HostReturn>::Results;

                unsafe extern "C" fn single<F, P, R, $($a: WasmTy),*>(
                    callee: *mut VMOpaqueContext,
                    caller: *mut VMOpaqueContext,
                    $($a: crate::tuples::Reg<$a>,)*
                ) -> <Res<R> as WasmResults>::First
                where
                    F: IntoFunc<P, R, Params = ($($a,)*)>,
                    R: HostReturn,
                {
                    // SAFETY: this shim is only installed in a
                    // `VMHostFuncContext<Hosted<F>>`, passed as the callee vmctx.
                    let host = unsafe { hosted::<F>(callee) };
                    match run_native(host, caller, ($($a::from_reg($a),)*)) {
                        // SAFETY: at most one result: no area is written.
                        Some(results) => unsafe { results.into_native(core::ptr::null_mut()) },
                        None => zeroed(),
                    }
                }

                unsafe extern "C" fn multi<F, P, R, $($a: WasmTy),*>(
                    callee: *mut VMOpaqueContext,
                    caller: *mut VMOpaqueContext,
                    $($a: crate::tuples::Reg<$a>,)*
                    area: *mut <Res<R> as WasmResults>::Area,
                ) -> <Res<R> as WasmResults>::First
                where
                    F: IntoFunc<P, R, Params = ($($a,)*)>,
                    R: HostReturn,
                {
                    // SAFETY: as in `single`; the caller passes a results
                    // area for results `1..`.
                    let host = unsafe { hosted::<F>(callee) };
                    match run_native(host, caller, ($($a::from_reg($a),)*)) {
                        // SAFETY: `area` is the caller's results area.
                        Some(results) => unsafe { results.into_native(area) },
                        None => {
                            // A failure that returns leaves every result zero.
                            if !area.is_null() {
                                // SAFETY: the caller's results area.
                                unsafe { area.write(zeroed()) };
                            }
                            zeroed()
                        }
                    }
                }

                let shim = if Res::<R>::COUNT > 1 {
                    multi::<F, P, R, $($a),*> as *mut VMNativeCallFunction
                } else {
                    single::<F, P, R, $($a),*> as *mut VMNativeCallFunction
                };
                NonNull::new(shim).expect("function pointers are not null")
            }
        }
    };
}

for_each_arity!(into_func);

/// The host state of a function that fronts a foreign native-convention
/// entry ([`Func::from_native_entry`](crate::Func::from_native_entry)):
/// every shim of the function calls the target with the target's context.
pub(crate) struct NativeTarget<P, R> {
    pub(crate) code: NonNull<VMNativeCallFunction>,
    pub(crate) vmctx: *mut VMOpaqueContext,
    pub(crate) _types: PhantomData<fn(P) -> R>,
}

// SAFETY: addresses only; `from_native_entry`'s caller guarantees the target
// is callable from any thread for as long as the function lives.
unsafe impl<P, R> Send for NativeTarget<P, R> {}
// SAFETY: as for `Send`.
unsafe impl<P, R> Sync for NativeTarget<P, R> {}

/// The `P` of [`IntoFunc`] for a [`NativeTarget`].
#[doc(hidden)]
pub struct Forward<P>(PhantomData<P>);

impl<P, R> IntoFunc<Forward<P>, R> for NativeTarget<P, R>
where
    P: NativeShims + 'static,
    R: WasmResults,
{
    type Params = P;
    const FORWARDS: bool = true;

    #[inline]
    fn call_tuple(&self, caller: *mut VMOpaqueContext, params: P) -> R {
        // SAFETY: the target is native-convention code of `(P) -> R` that
        // accepts `vmctx` (`from_native_entry`'s contract).
        unsafe { P::call_native::<R>(self.code, self.vmctx, caller, params) }
    }

    fn native_shim() -> NonNull<VMNativeCallFunction> {
        P::native_shim::<Self, Forward<P>, R>()
    }
}
