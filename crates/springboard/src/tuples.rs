//! The tuples of typed calls: parameters ([`WasmParams`]) and results
//! ([`WasmResults`]), and the native-convention calls
//! [`TypedFunc`](crate::TypedFunc) makes with them. The shims behind typed
//! host functions are in `shims.rs`.
//!
//! Native convention recap (see `docs/ABI.md`): `(callee_vmctx,
//! caller_vmctx, params…[, retptr]) -> result0`, results `1..` written
//! through `retptr` at the offsets `vm-abi`'s `ResultsArea` gives — which is
//! exactly a `#[repr(C)]` struct of their native types (the `RestN` structs
//! here, each checked against `ResultsArea` at compile time for every
//! instantiation in use).

use crate::tail_call::{
    TailArgs, TailFrame, TailResults, params_fit, results_fit, stack_params_fit, tail_place,
};
use crate::val::{Register, Val, WasmTy};
use core::ptr::NonNull;
use springboard_environ::{GcRefWidth, ValType};
use springboard_vm_abi::{ResultsArea, VMNativeCallFunction, VMOpaqueContext, ValRaw};

/// How the native convention passes a `T` as an argument or first result.
pub(crate) type Reg<T> = <<T as WasmTy>::Abi as Register>::Reg;

/// A tuple of parameters of a typed call: `()`, `(A,)`, `(A, B)`… up to 16.
pub trait WasmParams: Send + Sync + 'static {
    /// How many.
    const COUNT: usize;
    /// Their types, as a constant (the `tail` places are computed from it).
    #[doc(hidden)]
    const TYPES: &'static [ValType];
    /// Whether typed calls with them can skip the entry trampoline (see
    /// `tail_call.rs`).
    #[doc(hidden)]
    const TAIL: bool;
    /// Whether they can through a stack entry (see `tail_call.rs`).
    #[doc(hidden)]
    const TAIL_STACK: bool;
    /// Their types.
    fn types() -> Vec<ValType> {
        Self::TYPES.to_vec()
    }
    /// The GC reference width each stands for (`None`: not a GC reference).
    #[doc(hidden)]
    fn gc_widths() -> Vec<Option<GcRefWidth>>;
    /// Reads them from slots `0..COUNT`.
    fn load(raw: &[ValRaw]) -> Self;
    /// Writes them to slots `0..COUNT`.
    fn store(self, raw: &mut [ValRaw]);
    /// Them, from `COUNT` values that are all numbers of their types
    /// (`None` otherwise, or with references).
    #[doc(hidden)]
    fn from_numbers(vals: &[Val]) -> Option<Self>
    where
        Self: Sized;
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
    /// Places them as the `tail` convention passes them.
    #[doc(hidden)]
    fn tail_args(self, args: &mut TailArgs);
    /// Reads them as the `tail` convention passed them to a stack shim.
    #[doc(hidden)]
    fn from_tail_frame(frame: &TailFrame) -> Self
    where
        Self: Sized;
}

/// A tuple of results: `()`, a single [`WasmTy`], or `(A, B, …)` up to 16.
pub trait WasmResults: Send + Sync + 'static {
    /// How many.
    const COUNT: usize;
    /// Whether typed calls returning them can skip the entry trampoline
    /// (see `tail_call.rs`).
    #[doc(hidden)]
    const TAIL: bool;
    /// Their types.
    fn types() -> Vec<ValType>;
    /// The GC reference width each stands for (`None`: not a GC reference).
    #[doc(hidden)]
    fn gc_widths() -> Vec<Option<GcRefWidth>>;
    /// Reads them from slots `0..COUNT`.
    fn load(raw: &[ValRaw]) -> Self;
    /// Writes them to slots `0..COUNT`.
    fn store(self, raw: &mut [ValRaw]);
    /// Writes them as values into `vals[..COUNT]`.
    #[doc(hidden)]
    fn into_vals(self, vals: &mut [Val]);
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
    /// Reads them as the `tail` convention returns them.
    #[doc(hidden)]
    fn from_tail(results: &mut TailResults) -> Self;
}

macro_rules! one {
    ($x:tt) => {
        1
    };
}

macro_rules! rest_struct {
    ($name:ident $($t:ident $i:tt)*) => {
        /// A `#[repr(C)]` native results area.
        #[doc(hidden)]
        #[derive(Clone, Copy)]
        #[repr(C)]
        pub struct $name<$($t),*>($(pub $t),*);

        impl<$($t: Copy),*> $name<$($t),*> {
            /// Evaluates (failing the build) unless rustc lays the struct out
            /// where `ResultsArea` — what generated code uses — says.
            const AGREES_WITH_VM_ABI: () = {
                let area = ResultsArea::EMPTY;
                $(
                    let (offset, area) = area.push(
                        core::mem::size_of::<$t>() as u32,
                        core::mem::align_of::<$t>() as u32,
                    );
                    assert!(offset as usize == core::mem::offset_of!(Self, $i));
                )*
                let _ = area;
            };
        }
    };
}

rest_struct!(Rest1 B 0);
rest_struct!(Rest2 B 0 C 1);
rest_struct!(Rest3 B 0 C 1 D 2);
rest_struct!(Rest4 B 0 C 1 D 2 E 3);
rest_struct!(Rest5 B 0 C 1 D 2 E 3 F 4);
rest_struct!(Rest6 B 0 C 1 D 2 E 3 F 4 G 5);
rest_struct!(Rest7 B 0 C 1 D 2 E 3 F 4 G 5 H 6);
rest_struct!(Rest8 B 0 C 1 D 2 E 3 F 4 G 5 H 6 I 7);
rest_struct!(Rest9 B 0 C 1 D 2 E 3 F 4 G 5 H 6 I 7 J 8);
rest_struct!(Rest10 B 0 C 1 D 2 E 3 F 4 G 5 H 6 I 7 J 8 K 9);
rest_struct!(Rest11 B 0 C 1 D 2 E 3 F 4 G 5 H 6 I 7 J 8 K 9 L 10);
rest_struct!(Rest12 B 0 C 1 D 2 E 3 F 4 G 5 H 6 I 7 J 8 K 9 L 10 M 11);
rest_struct!(Rest13 B 0 C 1 D 2 E 3 F 4 G 5 H 6 I 7 J 8 K 9 L 10 M 11 N 12);
rest_struct!(Rest14 B 0 C 1 D 2 E 3 F 4 G 5 H 6 I 7 J 8 K 9 L 10 M 11 N 12 O 13);
rest_struct!(Rest15 B 0 C 1 D 2 E 3 F 4 G 5 H 6 I 7 J 8 K 9 L 10 M 11 N 12 O 13 Q 14);

impl WasmResults for () {
    const COUNT: usize = 0;
    const TAIL: bool = results_fit(&[]);
    fn types() -> Vec<ValType> {
        Vec::new()
    }
    fn gc_widths() -> Vec<Option<GcRefWidth>> {
        Vec::new()
    }
    #[inline]
    fn load(_: &[ValRaw]) {}
    #[inline]
    fn store(self, _: &mut [ValRaw]) {}
    #[inline]
    fn into_vals(self, _: &mut [Val]) {}
    type First = ();
    type Area = ();
    unsafe fn into_native(self, _: *mut ()) {}
    unsafe fn from_native(_: (), _: *const ()) {}
    #[inline(always)]
    fn from_tail(_: &mut TailResults) {}
}

impl<T: WasmTy> WasmResults for T {
    const COUNT: usize = 1;
    const TAIL: bool = results_fit(&[T::TYPE]);
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn gc_widths() -> Vec<Option<GcRefWidth>> {
        vec![T::GC_WIDTH]
    }
    #[inline]
    fn load(raw: &[ValRaw]) -> T {
        T::from_raw(raw[0])
    }
    #[inline]
    fn store(self, raw: &mut [ValRaw]) {
        raw[0] = self.into_raw();
    }
    #[inline]
    fn into_vals(self, vals: &mut [Val]) {
        vals[0] = self.into_val();
    }
    type First = Reg<T>;
    type Area = ();
    unsafe fn into_native(self, _: *mut ()) -> Reg<T> {
        self.into_reg()
    }
    unsafe fn from_native(first: Reg<T>, _: *const ()) -> T {
        T::from_reg(first)
    }
    #[inline(always)]
    fn from_tail(results: &mut TailResults) -> T {
        results.pop()
    }
}

/// `(T,)` results: one result, like `T`.
impl<T: WasmTy> WasmResults for (T,) {
    const COUNT: usize = 1;
    const TAIL: bool = results_fit(&[T::TYPE]);
    fn types() -> Vec<ValType> {
        vec![T::TYPE]
    }
    fn gc_widths() -> Vec<Option<GcRefWidth>> {
        vec![T::GC_WIDTH]
    }
    #[inline]
    fn load(raw: &[ValRaw]) -> (T,) {
        (T::from_raw(raw[0]),)
    }
    #[inline]
    fn store(self, raw: &mut [ValRaw]) {
        raw[0] = self.0.into_raw();
    }
    #[inline]
    fn into_vals(self, vals: &mut [Val]) {
        vals[0] = self.0.into_val();
    }
    type First = Reg<T>;
    type Area = ();
    unsafe fn into_native(self, _: *mut ()) -> Reg<T> {
        self.0.into_reg()
    }
    unsafe fn from_native(first: Reg<T>, _: *const ()) -> (T,) {
        (T::from_reg(first),)
    }
    #[inline(always)]
    fn from_tail(results: &mut TailResults) -> (T,) {
        (results.pop(),)
    }
}

macro_rules! results_tuple {
    ($rest:ident; $a:ident $($t:ident $i:tt)*) => {
        #[allow(non_snake_case)]
        impl<$a: WasmTy, $($t: WasmTy),*> WasmResults for ($a, $($t,)*) {
            const COUNT: usize = 1 $(+ one!($i))*;
            const TAIL: bool = results_fit(&[$a::TYPE, $($t::TYPE),*]);
            fn types() -> Vec<ValType> {
                vec![$a::TYPE, $($t::TYPE),*]
            }
            fn gc_widths() -> Vec<Option<GcRefWidth>> {
                vec![$a::GC_WIDTH, $($t::GC_WIDTH),*]
            }
            #[inline]
            fn load(raw: &[ValRaw]) -> Self {
                ($a::from_raw(raw[0]), $($t::from_raw(raw[$i]),)*)
            }
            #[inline]
            fn store(self, raw: &mut [ValRaw]) {
                let ($a, $($t,)*) = self;
                raw[0] = $a.into_raw();
                $(raw[$i] = $t.into_raw();)*
            }
            #[inline]
            fn into_vals(self, vals: &mut [Val]) {
                let ($a, $($t,)*) = self;
                vals[0] = $a.into_val();
                $(vals[$i] = $t.into_val();)*
            }
            type First = Reg<$a>;
            type Area = $rest<$($t::Abi),*>;
            unsafe fn into_native(self, area: *mut Self::Area) -> Reg<$a> {
                let () = Self::Area::AGREES_WITH_VM_ABI;
                let ($a, $($t,)*) = self;
                // SAFETY: with two or more results the caller passes a
                // results area of this layout.
                unsafe { area.write($rest($($t.into_abi()),*)) };
                $a.into_reg()
            }
            unsafe fn from_native(first: Reg<$a>, area: *const Self::Area) -> Self {
                let () = Self::Area::AGREES_WITH_VM_ABI;
                // SAFETY: the callee filled the area it was given.
                let $rest($($t),*) = unsafe { area.read() };
                ($a::from_reg(first), $($t::from_abi($t),)*)
            }
            #[inline(always)]
            fn from_tail(results: &mut TailResults) -> Self {
                (results.pop::<$a>(), $(results.pop::<$t>(),)*)
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
            const TYPES: &'static [ValType] = &[$($a::TYPE),*];
            const TAIL: bool = params_fit(Self::TYPES);
            const TAIL_STACK: bool = stack_params_fit(Self::TYPES);
            fn gc_widths() -> Vec<Option<GcRefWidth>> {
                vec![$($a::GC_WIDTH),*]
            }
            #[inline]
            fn load(raw: &[ValRaw]) -> Self {
                ($($a::from_raw(raw[$i]),)*)
            }
            #[inline]
            fn store(self, raw: &mut [ValRaw]) {
                let ($($a,)*) = self;
                $(raw[$i] = $a.into_raw();)*
            }
            #[inline]
            fn from_numbers(vals: &[Val]) -> Option<Self> {
                Some(($($a::from_number(vals.get($i)?)?,)*))
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
                        let f: Multi<$(Reg<$a>,)* R::First, R::Area> = core::mem::transmute(code.as_ptr());
                        let mut area = core::mem::MaybeUninit::<R::Area>::uninit();
                        let first = f(callee, caller, $($a.into_reg(),)* area.as_mut_ptr());
                        R::from_native(first, area.as_ptr())
                    } else {
                        type Single<$($a,)* First> = unsafe extern "C" fn(
                            *mut VMOpaqueContext, *mut VMOpaqueContext, $($a,)*) -> First;
                        let f: Single<$(Reg<$a>,)* R::First> = core::mem::transmute(code.as_ptr());
                        R::from_native(f(callee, caller, $($a.into_reg(),)*), core::ptr::null())
                    }
                }
            }
            #[inline(always)]
            fn tail_args(self, args: &mut TailArgs) {
                let ($($a,)*) = self;
                $(args.put(const { tail_place(Self::TYPES, $i) }, $a);)*
            }
            #[inline(always)]
            fn from_tail_frame(frame: &TailFrame) -> Self {
                ($(frame.get::<$a>(const { tail_place(Self::TYPES, $i) }),)*)
            }
        }
    };
}

/// A single parameter, like `(T,)`.
impl<T: WasmTy> WasmParams for T {
    const COUNT: usize = 1;
    const TYPES: &'static [ValType] = &[T::TYPE];
    const TAIL: bool = params_fit(Self::TYPES);
    const TAIL_STACK: bool = stack_params_fit(Self::TYPES);
    fn gc_widths() -> Vec<Option<GcRefWidth>> {
        vec![T::GC_WIDTH]
    }
    #[inline]
    fn load(raw: &[ValRaw]) -> T {
        T::from_raw(raw[0])
    }
    #[inline]
    fn store(self, raw: &mut [ValRaw]) {
        raw[0] = self.into_raw();
    }
    #[inline]
    fn from_numbers(vals: &[Val]) -> Option<T> {
        T::from_number(vals.first()?)
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
    #[inline(always)]
    fn tail_args(self, args: &mut TailArgs) {
        args.put(const { tail_place(Self::TYPES, 0) }, self);
    }
    #[inline(always)]
    fn from_tail_frame(frame: &TailFrame) -> T {
        frame.get(const { tail_place(Self::TYPES, 0) })
    }
}

for_each_arity!(params_tuple);
