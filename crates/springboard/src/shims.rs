//! Every Rust shim behind a host function: the code a funcref's entries
//! point at when the callee is a Rust closure rather than generated code.
//!
//! | function | `native_call` | `array_call` |
//! |---|---|---|
//! | typed ([`Func::wrap`](crate::Func::wrap)) | `into_func!`'s `single`/`multi` | [`array_shim`] |
//! | untyped ([`Func::new`](crate::Func::new)) | compiled `native_to_array` | [`untyped_array_shim`] |
//!
//! Each shim finds its closure in the `VMHostFuncContext` passed as its
//! callee vmctx, runs it under [`trap::catch`], and never unwinds into its
//! caller.

use crate::func::check_values;
use crate::trap::{self, BoxError};
use crate::typed::{WasmParams, WasmResults};
use crate::val::WasmTy;
use crate::{Error, Val};
use core::ptr::NonNull;
use springboard_environ::Signature;
use springboard_vm_abi::{
    VMArrayCallFunction, VMHostFuncContext, VMNativeCallFunction, VMOpaqueContext, ValRaw,
};

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

/// A Rust closure usable as a typed host function: `Fn(A1, …, An) -> R`
/// for `n <= 16`, with every `Ai: WasmTy` and `R: HostReturn`.
pub trait IntoFunc<P: WasmParams, R: HostReturn>: Send + Sync + Sized + 'static {
    /// Calls the closure with a parameter tuple.
    #[doc(hidden)]
    fn call_tuple(&self, params: P) -> R;
    /// The native-convention shim for `VMFuncRef::native_call`, which
    /// expects its callee vmctx to be a `VMHostFuncContext<Self>`.
    #[doc(hidden)]
    fn native_shim() -> NonNull<VMNativeCallFunction>;
}

/// The zero value of any native ABI type (integers, floats, pointers, vectors).
fn zeroed<T: Copy>() -> T {
    // SAFETY: only instantiated with the `Abi` types of `WasmTy` and `()`:
    // integers, floats, raw pointers and SIMD vectors, all valid as zero bits.
    unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
}

/// The array-convention shim of a typed host function.
pub(crate) unsafe extern "C" fn array_shim<F, P, R>(
    callee: *mut VMOpaqueContext,
    _caller: *mut VMOpaqueContext,
    values: *mut ValRaw,
    capacity: usize,
) where
    F: IntoFunc<P, R>,
    P: WasmParams,
    R: HostReturn,
{
    if values.is_null() || capacity < P::COUNT.max(R::Results::COUNT) {
        trap::record(crate::Error::BufferTooSmall {
            capacity,
            needed: P::COUNT.max(R::Results::COUNT),
        });
        return;
    }
    // SAFETY: the caller passes a buffer of `capacity` slots (checked to be
    // enough), and `callee` is the `VMHostFuncContext<F>` this shim was
    // installed in.
    let (values, f) = unsafe {
        (
            core::slice::from_raw_parts_mut(values, capacity),
            &(*callee.cast::<VMHostFuncContext<F>>()).host_state,
        )
    };
    if let Some(results) = trap::catch(|| f.call_tuple(P::load(values)).into_result()) {
        results.store(values);
    }
}

/// The array shim of `F` as a function pointer.
pub(crate) fn array_shim_of<F: IntoFunc<P, R>, P: WasmParams, R: HostReturn>() -> VMArrayCallFunction
{
    array_shim::<F, P, R>
}

/// The state of an untyped host function: its type and its closure.
pub(crate) struct Untyped<F> {
    pub(crate) ty: Signature,
    pub(crate) f: F,
}

/// The array-convention shim of an untyped host function.
pub(crate) unsafe extern "C" fn untyped_array_shim<F, E>(
    callee: *mut VMOpaqueContext,
    _caller: *mut VMOpaqueContext,
    values: *mut ValRaw,
    capacity: usize,
) where
    F: Fn(&[Val], &mut [Val]) -> Result<(), E> + Send + Sync + 'static,
    E: Into<BoxError>,
{
    // SAFETY: this shim is only installed in a `VMHostFuncContext<Untyped<F>>`,
    // passed as the callee vmctx.
    let host = unsafe { &(*callee.cast::<VMHostFuncContext<Untyped<F>>>()).host_state };
    let ty = &host.ty;
    if values.is_null() || capacity < ty.array_len() {
        trap::record(Error::BufferTooSmall {
            capacity,
            needed: ty.array_len(),
        });
        return;
    }
    // SAFETY: the caller passes `capacity` slots, checked to be enough.
    let values = unsafe { core::slice::from_raw_parts_mut(values, capacity) };
    let params: Vec<Val> = ty
        .params()
        .iter()
        .zip(values.iter())
        .map(|(&t, &raw)| Val::from_raw(raw, t))
        .collect();
    let mut results: Vec<Val> = ty.results().iter().map(|&t| Val::default_for(t)).collect();
    if trap::catch(|| (host.f)(&params, &mut results).map_err(Into::into)).is_none() {
        return;
    }
    if let Err(e) = check_values(
        "results",
        ty.results(),
        results.iter().map(Val::ty),
        results.len(),
    ) {
        trap::record(e);
        return;
    }
    for (slot, v) in values.iter_mut().zip(&results) {
        *slot = v.to_raw();
    }
}

macro_rules! into_func {
    ($($a:ident $i:tt)*) => {
        #[allow(non_snake_case)]
        impl<Func, Ret, $($a: WasmTy),*> IntoFunc<($($a,)*), Ret> for Func
        where
            Func: Fn($($a),*) -> Ret + Send + Sync + 'static,
            Ret: HostReturn,
        {
            fn call_tuple(&self, params: ($($a,)*)) -> Ret {
                let ($($a,)*) = params;
                self($($a),*)
            }

            fn native_shim() -> NonNull<VMNativeCallFunction> {
                type Res<Ret> = <Ret as HostReturn>::Results;

                unsafe extern "C" fn single<Func, Ret, $($a: WasmTy),*>(
                    callee: *mut VMOpaqueContext,
                    _caller: *mut VMOpaqueContext,
                    $($a: $a::Abi,)*
                ) -> <Res<Ret> as WasmResults>::First
                where
                    Func: Fn($($a),*) -> Ret + Send + Sync + 'static,
                    Ret: HostReturn,
                {
                    // SAFETY: this shim is only installed in a
                    // `VMHostFuncContext<Func>`, passed as the callee vmctx.
                    let f = unsafe { &(*callee.cast::<VMHostFuncContext<Func>>()).host_state };
                    match trap::catch(|| f($($a::from_abi($a)),*).into_result()) {
                        // SAFETY: at most one result: no area is written.
                        Some(results) => unsafe { results.into_native(core::ptr::null_mut()) },
                        None => zeroed(),
                    }
                }

                unsafe extern "C" fn multi<Func, Ret, $($a: WasmTy),*>(
                    callee: *mut VMOpaqueContext,
                    _caller: *mut VMOpaqueContext,
                    $($a: $a::Abi,)*
                    area: *mut <Res<Ret> as WasmResults>::Area,
                ) -> <Res<Ret> as WasmResults>::First
                where
                    Func: Fn($($a),*) -> Ret + Send + Sync + 'static,
                    Ret: HostReturn,
                {
                    // SAFETY: as in `single`; the caller passes a results
                    // area for results `1..`.
                    let f = unsafe { &(*callee.cast::<VMHostFuncContext<Func>>()).host_state };
                    match trap::catch(|| f($($a::from_abi($a)),*).into_result()) {
                        // SAFETY: `area` is the caller's results area.
                        Some(results) => unsafe { results.into_native(area) },
                        None => zeroed(),
                    }
                }

                let shim = if Res::<Ret>::COUNT > 1 {
                    multi::<Func, Ret, $($a),*> as *mut VMNativeCallFunction
                } else {
                    single::<Func, Ret, $($a),*> as *mut VMNativeCallFunction
                };
                NonNull::new(shim).expect("function pointers are not null")
            }
        }
    };
}

for_each_arity!(into_func);
