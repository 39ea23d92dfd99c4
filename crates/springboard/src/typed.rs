//! Typed calls: parameter and result tuples, the native-convention calls
//! [`TypedFunc`](crate::TypedFunc) makes, and the Rust shims behind typed host
//! functions ([`Func::wrap`](crate::Func::wrap)).
//!
//! Native convention recap (see `docs/ABI.md`): `(callee_vmctx,
//! caller_vmctx, params…[, retptr]) -> result0`, results `1..` written
//! through `retptr` at naturally aligned offsets — which is exactly a
//! `#[repr(C)]` struct of their native types (the `RestN` structs here).

use crate::trap::{self, BoxError};
use crate::val::WasmTy;
use core::ptr::NonNull;
use springboard_loader::ValType;
use springboard_vm_abi::{
    VMArrayCallFunction, VMHostFuncContext, VMNativeCallFunction, VMOpaqueContext, ValRaw,
};

/// A tuple of parameters of a typed call: `()`, `(A,)`, `(A, B)`… up to 16.
pub trait WasmParams: Send + Sync + 'static {
    /// How many.
    const COUNT: usize;
    /// Their types.
    fn types() -> Vec<ValType>;
    /// Reads them from slots `0..COUNT`.
    fn load(raw: &[ValRaw]) -> Self;
    /// Writes them to slots `0..COUNT`.
    fn store(self, raw: &mut [ValRaw]);
    /// Calls native-convention code of signature `(Self) -> R`.
    ///
    /// # Safety
    /// `code` must be native-convention code of exactly that signature, and
    /// `callee` the context it expects.
    #[doc(hidden)]
    unsafe fn call_native<R: WasmResults>(
        code: NonNull<VMNativeCallFunction>,
        callee: *mut VMOpaqueContext,
        caller: *mut VMOpaqueContext,
        params: Self,
    ) -> R;
}

/// A tuple of results: `()`, a single [`WasmTy`], or `(A, B, …)` up to 16.
pub trait WasmResults: Send + Sync + 'static {
    /// How many.
    const COUNT: usize;
    /// Their types.
    fn types() -> Vec<ValType>;
    /// Reads them from slots `0..COUNT`.
    fn load(raw: &[ValRaw]) -> Self;
    /// Writes them to slots `0..COUNT`.
    fn store(self, raw: &mut [ValRaw]);
    /// The native type of the first result (`()` for none).
    #[doc(hidden)]
    type First: Copy;
    /// The `#[repr(C)]` results area of results `1..` (`()` for fewer than two).
    #[doc(hidden)]
    type Area: Copy;
    /// Splits into the first result and, when `COUNT > 1`, writes the rest to `area`.
    #[doc(hidden)]
    unsafe fn into_native(self, area: *mut Self::Area) -> Self::First;
    /// Joins the first result and, when `COUNT > 1`, the rest read from `area`.
    #[doc(hidden)]
    unsafe fn from_native(first: Self::First, area: *const Self::Area) -> Self;
}

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

macro_rules! one {
    ($x:tt) => {
        1
    };
}

macro_rules! rest_struct {
    ($name:ident $($t:ident)*) => {
        /// A `#[repr(C)]` native results area.
        #[doc(hidden)]
        #[derive(Clone, Copy)]
        #[repr(C)]
        pub struct $name<$($t),*>($(pub $t),*);
    };
}

rest_struct!(Rest1 B);
rest_struct!(Rest2 B C);
rest_struct!(Rest3 B C D);
rest_struct!(Rest4 B C D E);
rest_struct!(Rest5 B C D E F);
rest_struct!(Rest6 B C D E F G);
rest_struct!(Rest7 B C D E F G H);
rest_struct!(Rest8 B C D E F G H I);
rest_struct!(Rest9 B C D E F G H I J);
rest_struct!(Rest10 B C D E F G H I J K);
rest_struct!(Rest11 B C D E F G H I J K L);
rest_struct!(Rest12 B C D E F G H I J K L M);
rest_struct!(Rest13 B C D E F G H I J K L M N);
rest_struct!(Rest14 B C D E F G H I J K L M N O);
rest_struct!(Rest15 B C D E F G H I J K L M N O Q);

impl WasmResults for () {
    const COUNT: usize = 0;
    fn types() -> Vec<ValType> {
        Vec::new()
    }
    fn load(_: &[ValRaw]) {}
    fn store(self, _: &mut [ValRaw]) {}
    type First = ();
    type Area = ();
    unsafe fn into_native(self, _: *mut ()) {}
    unsafe fn from_native(_: (), _: *const ()) {}
}

impl<T: WasmTy> WasmResults for T {
    const COUNT: usize = 1;
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn load(raw: &[ValRaw]) -> T {
        T::from_raw(raw[0])
    }
    fn store(self, raw: &mut [ValRaw]) {
        raw[0] = self.into_raw();
    }
    type First = T::Abi;
    type Area = ();
    unsafe fn into_native(self, _: *mut ()) -> T::Abi {
        self.into_abi()
    }
    unsafe fn from_native(first: T::Abi, _: *const ()) -> T {
        T::from_abi(first)
    }
}

/// `(T,)` results: one result, like `T`.
impl<T: WasmTy> WasmResults for (T,) {
    const COUNT: usize = 1;
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn load(raw: &[ValRaw]) -> (T,) {
        (T::from_raw(raw[0]),)
    }
    fn store(self, raw: &mut [ValRaw]) {
        raw[0] = self.0.into_raw();
    }
    type First = T::Abi;
    type Area = ();
    unsafe fn into_native(self, _: *mut ()) -> T::Abi {
        self.0.into_abi()
    }
    unsafe fn from_native(first: T::Abi, _: *const ()) -> (T,) {
        (T::from_abi(first),)
    }
}

macro_rules! results_tuple {
    ($rest:ident; $a:ident $($t:ident $i:tt)*) => {
        #[allow(non_snake_case)]
        impl<$a: WasmTy, $($t: WasmTy),*> WasmResults for ($a, $($t,)*) {
            const COUNT: usize = 1 $(+ one!($i))*;
            fn types() -> Vec<ValType> {
                vec![$a::TYPE, $($t::TYPE),*]
            }
            fn load(raw: &[ValRaw]) -> Self {
                ($a::from_raw(raw[0]), $($t::from_raw(raw[$i]),)*)
            }
            fn store(self, raw: &mut [ValRaw]) {
                let ($a, $($t,)*) = self;
                raw[0] = $a.into_raw();
                $(raw[$i] = $t.into_raw();)*
            }
            type First = $a::Abi;
            type Area = $rest<$($t::Abi),*>;
            unsafe fn into_native(self, area: *mut Self::Area) -> $a::Abi {
                let ($a, $($t,)*) = self;
                // SAFETY: with two or more results the caller passes a
                // results area of this layout.
                unsafe { area.write($rest($($t.into_abi()),*)) };
                $a.into_abi()
            }
            unsafe fn from_native(first: $a::Abi, area: *const Self::Area) -> Self {
                // SAFETY: the callee filled the area it was given.
                let $rest($($t),*) = unsafe { area.read() };
                ($a::from_abi(first), $($t::from_abi($t),)*)
            }
        }
    };
}

results_tuple!(Rest1; A B 1);
results_tuple!(Rest2; A B 1 C 2);
results_tuple!(Rest3; A B 1 C 2 D 3);
results_tuple!(Rest4; A B 1 C 2 D 3 E 4);
results_tuple!(Rest5; A B 1 C 2 D 3 E 4 F 5);
results_tuple!(Rest6; A B 1 C 2 D 3 E 4 F 5 G 6);
results_tuple!(Rest7; A B 1 C 2 D 3 E 4 F 5 G 6 H 7);
results_tuple!(Rest8; A B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8);
results_tuple!(Rest9; A B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9);
results_tuple!(Rest10; A B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10);
results_tuple!(Rest11; A B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11);
results_tuple!(Rest12; A B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11 M 12);
results_tuple!(Rest13; A B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11 M 12 N 13);
results_tuple!(Rest14; A B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11 M 12 N 13 O 14);
results_tuple!(Rest15; A B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11 M 12 N 13 O 14 Q 15);

macro_rules! params_tuple {
    ($($a:ident $i:tt)*) => {
        #[allow(non_snake_case, unused_variables, clippy::unused_unit)]
        impl<$($a: WasmTy),*> WasmParams for ($($a,)*) {
            const COUNT: usize = 0 $(+ one!($i))*;
            fn types() -> Vec<ValType> {
                vec![$($a::TYPE),*]
            }
            fn load(raw: &[ValRaw]) -> Self {
                ($($a::from_raw(raw[$i]),)*)
            }
            fn store(self, raw: &mut [ValRaw]) {
                let ($($a,)*) = self;
                $(raw[$i] = $a.into_raw();)*
            }
            unsafe fn call_native<R: WasmResults>(
                code: NonNull<VMNativeCallFunction>,
                callee: *mut VMOpaqueContext,
                caller: *mut VMOpaqueContext,
                params: Self,
            ) -> R {
                let ($($a,)*) = params;
                // SAFETY: the caller guarantees `code` has this signature:
                // with two or more results it takes the results area last.
                unsafe {
                    if R::COUNT > 1 {
                        type Multi<$($a,)* First, Area> = unsafe extern "C" fn(
                            *mut VMOpaqueContext, *mut VMOpaqueContext, $($a,)* *mut Area) -> First;
                        let f: Multi<$($a::Abi,)* R::First, R::Area> = core::mem::transmute(code.as_ptr());
                        let mut area = core::mem::MaybeUninit::<R::Area>::uninit();
                        let first = f(callee, caller, $($a.into_abi(),)* area.as_mut_ptr());
                        R::from_native(first, area.as_ptr())
                    } else {
                        type Single<$($a,)* First> = unsafe extern "C" fn(
                            *mut VMOpaqueContext, *mut VMOpaqueContext, $($a,)*) -> First;
                        let f: Single<$($a::Abi,)* R::First> = core::mem::transmute(code.as_ptr());
                        R::from_native(f(callee, caller, $($a.into_abi(),)*), core::ptr::null())
                    }
                }
            }
        }

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

/// A single parameter, like `(T,)`.
impl<T: WasmTy> WasmParams for T {
    const COUNT: usize = 1;
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn load(raw: &[ValRaw]) -> T {
        T::from_raw(raw[0])
    }
    fn store(self, raw: &mut [ValRaw]) {
        raw[0] = self.into_raw();
    }
    unsafe fn call_native<R: WasmResults>(
        code: NonNull<VMNativeCallFunction>,
        callee: *mut VMOpaqueContext,
        caller: *mut VMOpaqueContext,
        params: T,
    ) -> R {
        // SAFETY: forwarded; `(T,)` has the same native signature.
        unsafe { <(T,)>::call_native(code, callee, caller, (params,)) }
    }
}

params_tuple!();
params_tuple!(A1 0);
params_tuple!(A1 0 A2 1);
params_tuple!(A1 0 A2 1 A3 2);
params_tuple!(A1 0 A2 1 A3 2 A4 3);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10 A12 11);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10 A12 11 A13 12);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10 A12 11 A13 12 A14 13);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10 A12 11 A13 12 A14 13 A15 14);
params_tuple!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10 A12 11 A13 12 A14 13 A15 14 A16 15);
