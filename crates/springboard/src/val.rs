//! Values: untyped [`Val`] and the Rust types of typed calls ([`WasmTy`]).

use crate::error::Error;
use crate::registry::Registry;
use core::ffi::c_void;
use core::fmt;
use core::ptr::NonNull;
use springboard_environ::{GcRefWidth, HeapType, RefType, Top, TypeIndex, ValType};
use springboard_vm_abi::{VMFuncRef, ValRaw};

/// A nullable function reference: a pointer to a live `VMFuncRef`, or null.
/// Plain data; calling through it is [`Engine::call_indirect`](crate::Engine::call_indirect).
/// A non-null one passed into a function (as an argument, or a host
/// function's result) must point to a live `VMFuncRef`, as every funcref
/// wasm receives must: for typed function references (`(ref $t)`) the
/// check reads its `type_index`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct FuncRef(pub Option<NonNull<VMFuncRef>>);

/// A nullable external reference: an opaque host pointer, or null.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct ExternRef(pub Option<NonNull<c_void>>);

/// A GC reference (the `any` or `exn` hierarchy): bits only the runtime
/// gives meaning to, `0` being null. They must fit the engine's
/// [`GcRefWidth`] (32 bits by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct GcRef(pub u64);

impl GcRef {
    /// The null reference.
    pub const NULL: GcRef = GcRef(0);

    /// Whether it is null.
    pub const fn is_null(self) -> bool {
        self.0 == 0
    }

    /// Whether the bits fit `width` on this host.
    pub const fn fits(self, width: GcRefWidth) -> bool {
        match width {
            GcRefWidth::Bits32 => self.0 <= u32::MAX as u64,
            GcRefWidth::Pointer => self.0 <= usize::MAX as u64,
        }
    }

    /// Reads a reference `width` wide from a slot.
    #[inline]
    fn from_raw(raw: ValRaw, width: GcRefWidth) -> GcRef {
        GcRef(match width {
            GcRefWidth::Bits32 => u64::from(raw.get_u32()),
            GcRefWidth::Pointer => raw.get_externref() as usize as u64,
        })
    }
}

// SAFETY: both are addresses only; whoever dereferences them (an unsafe
// call) is responsible for their validity on that thread.
unsafe impl Send for FuncRef {}
// SAFETY: see `Send`.
unsafe impl Sync for FuncRef {}
// SAFETY: see `Send` for `FuncRef`.
unsafe impl Send for ExternRef {}
// SAFETY: see `Send` for `FuncRef`.
unsafe impl Sync for ExternRef {}

/// A 128-bit SIMD value as typed calls pass it: in a vector register.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct V128(V128Repr);

#[cfg(target_arch = "x86_64")]
type V128Repr = core::arch::x86_64::__m128i;
#[cfg(target_arch = "aarch64")]
type V128Repr = core::arch::aarch64::uint8x16_t;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
type V128Repr = u128;

// (Where `V128Repr` is `u128`, the transmutes are the identity.)
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(unnecessary_transmutes)
)]
impl V128 {
    /// The vector whose little-endian bytes are those of `bits`.
    pub fn from_u128(bits: u128) -> V128 {
        // SAFETY: both are 16 plain bytes; every bit pattern is valid.
        V128(unsafe { core::mem::transmute::<[u8; 16], V128Repr>(bits.to_le_bytes()) })
    }

    /// The vector's bytes as a little-endian `u128`.
    pub fn as_u128(self) -> u128 {
        // SAFETY: as in `from_u128`.
        u128::from_le_bytes(unsafe { core::mem::transmute::<V128Repr, [u8; 16]>(self.0) })
    }
}

impl PartialEq for V128 {
    fn eq(&self, other: &V128) -> bool {
        self.as_u128() == other.as_u128()
    }
}

impl Eq for V128 {}

impl fmt::Debug for V128 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "V128({:#034x})", self.as_u128())
    }
}

/// A WebAssembly value of any supported type. Floats are kept as bits so
/// NaN payloads survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Val {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`, as its bits.
    F32(u32),
    /// `f64`, as its bits.
    F64(u64),
    /// `v128`, as a little-endian `u128`.
    V128(u128),
    /// `funcref`.
    FuncRef(FuncRef),
    /// `externref`.
    ExternRef(ExternRef),
    /// A reference of the `any` hierarchy (`anyref`, `eqref`, `i31ref`,
    /// structs, arrays).
    AnyRef(GcRef),
    /// A reference of the `exn` hierarchy (`exnref`).
    ExnRef(GcRef),
}

impl Val {
    /// The value's type: for a reference, the top of its hierarchy (its
    /// dynamic type is not in the value).
    #[inline]
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FUNCREF,
            Val::ExternRef(_) => ValType::EXTERNREF,
            Val::AnyRef(_) => ValType::ANYREF,
            Val::ExnRef(_) => ValType::EXNREF,
        }
    }

    /// The zero (or null) value of `ty`.
    #[inline]
    pub fn default_for(ty: ValType) -> Val {
        // Zero bits are null at either width.
        Val::from_raw(ValRaw::ZERO, ty, GcRefWidth::Bits32)
    }

    /// The value's slot representation.
    #[inline]
    pub fn to_raw(self) -> ValRaw {
        match self {
            Val::I32(v) => ValRaw::i32(v),
            Val::I64(v) => ValRaw::i64(v),
            Val::F32(bits) => ValRaw::f32(bits),
            Val::F64(bits) => ValRaw::f64(bits),
            Val::V128(v) => ValRaw::v128(v),
            Val::FuncRef(f) => {
                ValRaw::funcref(f.0.map_or(core::ptr::null_mut(), |p| p.as_ptr().cast()))
            }
            Val::ExternRef(e) => {
                ValRaw::externref(e.0.map_or(core::ptr::null_mut(), NonNull::as_ptr))
            }
            // Little-endian: a 32-bit reader finds the value in the low half.
            Val::AnyRef(g) | Val::ExnRef(g) => ValRaw::u64(g.0),
        }
    }

    /// Reads a value of `ty` from a slot, GC references being `gc` wide.
    #[inline]
    pub fn from_raw(raw: ValRaw, ty: ValType, gc: GcRefWidth) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw.get_i32()),
            ValType::I64 => Val::I64(raw.get_i64()),
            ValType::F32 => Val::F32(raw.get_f32()),
            ValType::F64 => Val::F64(raw.get_f64()),
            ValType::V128 => Val::V128(raw.get_v128()),
            ValType::Ref(r) => match r.heap().top() {
                Top::Func => Val::FuncRef(FuncRef(NonNull::new(raw.get_funcref().cast()))),
                Top::Extern => Val::ExternRef(ExternRef(NonNull::new(raw.get_externref()))),
                Top::Any => Val::AnyRef(GcRef::from_raw(raw, gc)),
                Top::Exn => Val::ExnRef(GcRef::from_raw(raw, gc)),
            },
        }
    }
}

mod private {
    pub trait Sealed {}

    /// How a native-convention argument or first result of an `Abi` type
    /// travels in its register. riscv64's and s390x's C conventions widen
    /// 32-bit integers to the whole register (sign-extended; `u32`
    /// zero-extended on s390x), and LLVM relies on it (`i64::from(a)` of an
    /// `i32` argument compiles to a bare move there); generated code does
    /// not widen (a wasm `i32` made by `i32.wrap_i64` keeps its upper bits).
    /// So on those ISAs Springboard's shims take and return 32-bit values
    /// as whole registers and truncate them, and its calls widen them as C
    /// expects: correct by construction, not because a value happens to
    /// pass through memory on its way.
    pub trait Register: Copy {
        type Reg: Copy;
        fn to_reg(self) -> Self::Reg;
        fn from_reg(reg: Self::Reg) -> Self;
    }
}
pub(crate) use private::Register;

/// Each `Abi` type travels as itself.
macro_rules! in_own_register {
    ($($t:ty),*) => {$(
        impl Register for $t {
            type Reg = $t;
            #[inline(always)]
            fn to_reg(self) -> $t { self }
            #[inline(always)]
            fn from_reg(reg: $t) -> $t { reg }
        }
    )*};
}
in_own_register!(i64, u64, f32, f64, usize, *mut VMFuncRef, *mut c_void);
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
in_own_register!(V128Repr);
#[cfg(not(any(target_arch = "riscv64", target_arch = "s390x")))]
in_own_register!(i32, u32);

/// 32-bit integers as whole registers, widened as this ISA's C convention
/// widens them (see `Register`).
#[cfg(any(target_arch = "riscv64", target_arch = "s390x"))]
mod widened {
    use super::Register;

    impl Register for i32 {
        type Reg = u64;
        #[inline(always)]
        fn to_reg(self) -> u64 {
            i64::from(self) as u64
        }
        #[inline(always)]
        fn from_reg(reg: u64) -> i32 {
            reg as i32
        }
    }

    impl Register for u32 {
        type Reg = u64;
        #[inline(always)]
        fn to_reg(self) -> u64 {
            // riscv64 sign-extends every 32-bit integer; s390x extends as
            // the type's sign says.
            if cfg!(target_arch = "riscv64") {
                i64::from(self as i32) as u64
            } else {
                u64::from(self)
            }
        }
        #[inline(always)]
        fn from_reg(reg: u64) -> u32 {
            reg as u32
        }
    }
}

/// A Rust type that stands for one WebAssembly value type in typed calls
/// and typed host functions.
///
/// # Safety
/// `Abi` (and in registers its `Register::Reg`) must be passed by the
/// native convention exactly as the compiler passes `TYPE` (an integer
/// register for `i32`/`i64`, a float register for floats, a vector register
/// for `v128`, a pointer for references). Sealed: implemented only by this
/// crate.
pub unsafe trait WasmTy: Copy + Send + Sync + 'static + private::Sealed {
    /// The WebAssembly type.
    const TYPE: ValType;
    /// The GC reference width the type is for (`None`: not a GC reference).
    #[doc(hidden)]
    const GC_WIDTH: Option<GcRefWidth> = None;
    /// How the native convention passes it (in a results area; in a
    /// register, as its `Register::Reg`).
    #[doc(hidden)]
    type Abi: Register;
    #[doc(hidden)]
    fn into_abi(self) -> Self::Abi;
    #[doc(hidden)]
    fn from_abi(abi: Self::Abi) -> Self;
    /// The value as a native-convention argument or first result passes it.
    #[doc(hidden)]
    #[inline(always)]
    fn into_reg(self) -> <Self::Abi as Register>::Reg {
        self.into_abi().to_reg()
    }
    /// The value from a native-convention argument or first result.
    #[doc(hidden)]
    #[inline(always)]
    fn from_reg(reg: <Self::Abi as Register>::Reg) -> Self {
        Self::from_abi(Register::from_reg(reg))
    }
    /// The slot representation.
    fn into_raw(self) -> ValRaw;
    /// Reads the value from a slot.
    fn from_raw(raw: ValRaw) -> Self;
    /// The value of `val`, if `val` is a number of `TYPE` (a reference
    /// gives `None`: its check needs the registry). With `TYPE` constant,
    /// one compare of the variant.
    #[doc(hidden)]
    #[inline(always)]
    fn from_number(val: &Val) -> Option<Self> {
        number_raw(val, Self::TYPE).map(Self::from_raw)
    }
    /// The value as a [`Val`].
    #[doc(hidden)]
    #[inline(always)]
    fn into_val(self) -> Val {
        Val::from_raw(
            self.into_raw(),
            Self::TYPE,
            Self::GC_WIDTH.unwrap_or(GcRefWidth::Bits32),
        )
    }
}

macro_rules! wasm_ty {
    ($($t:ty => $ty:ident, $abi:ty, |$s:ident| $into_abi:expr, |$a:ident| $from_abi:expr,
        |$v:ident| $into_raw:expr, |$r:ident| $from_raw:expr;)*) => {$(
        impl private::Sealed for $t {}
        // SAFETY: each `Abi` is the register class the compiler uses for the
        // type (see `abi.rs` in springboard-compiler).
        unsafe impl WasmTy for $t {
            const TYPE: ValType = ValType::$ty;
            const GC_WIDTH: Option<GcRefWidth> = gc_width(ValType::$ty, core::mem::size_of::<$abi>());
            type Abi = $abi;
            #[inline]
            fn into_abi(self) -> $abi { let $s = self; $into_abi }
            #[inline]
            fn from_abi(abi: $abi) -> $t { let $a = abi; $from_abi }
            #[inline]
            fn into_raw(self) -> ValRaw { let $v = self; $into_raw }
            #[inline]
            fn from_raw(raw: ValRaw) -> $t { let $r = raw; $from_raw }
        }
    )*};
}

wasm_ty! {
    i32 => I32, i32, |s| s, |a| a, |v| ValRaw::i32(v), |r| r.get_i32();
    u32 => I32, u32, |s| s, |a| a, |v| ValRaw::u32(v), |r| r.get_u32();
    i64 => I64, i64, |s| s, |a| a, |v| ValRaw::i64(v), |r| r.get_i64();
    u64 => I64, u64, |s| s, |a| a, |v| ValRaw::u64(v), |r| r.get_u64();
    f32 => F32, f32, |s| s, |a| a, |v| ValRaw::f32(v.to_bits()), |r| f32::from_bits(r.get_f32());
    f64 => F64, f64, |s| s, |a| a, |v| ValRaw::f64(v.to_bits()), |r| f64::from_bits(r.get_f64());
    FuncRef => FUNCREF, *mut VMFuncRef, |s| s.0.map_or(core::ptr::null_mut(), NonNull::as_ptr), |a| FuncRef(NonNull::new(a)),
        |v| Val::FuncRef(v).to_raw(), |r| FuncRef(NonNull::new(r.get_funcref().cast()));
    ExternRef => EXTERNREF, *mut c_void, |s| s.0.map_or(core::ptr::null_mut(), NonNull::as_ptr), |a| ExternRef(NonNull::new(a)),
        |v| Val::ExternRef(v).to_raw(), |r| ExternRef(NonNull::new(r.get_externref()));
    AnyRef32 => ANYREF, u32, |s| s.0, |a| AnyRef32(a), |v| ValRaw::u32(v.0), |r| AnyRef32(r.get_u32());
    ExnRef32 => EXNREF, u32, |s| s.0, |a| ExnRef32(a), |v| ValRaw::u32(v.0), |r| ExnRef32(r.get_u32());
    AnyRefPtr => ANYREF, usize, |s| s.0, |a| AnyRefPtr(a), |v| ValRaw::u64(v.0 as u64), |r| AnyRefPtr(r.get_externref() as usize);
    ExnRefPtr => EXNREF, usize, |s| s.0, |a| ExnRefPtr(a), |v| ValRaw::u64(v.0 as u64), |r| ExnRefPtr(r.get_externref() as usize);
}

/// The GC width a Rust type of `abi_bytes` stands for, if `ty` is a GC
/// reference.
const fn gc_width(ty: ValType, abi_bytes: usize) -> Option<GcRefWidth> {
    match ty {
        ValType::Ref(r) if matches!(r.heap().top(), Top::Any | Top::Exn) => {
            Some(if abi_bytes == 4 {
                GcRefWidth::Bits32
            } else {
                GcRefWidth::Pointer
            })
        }
        _ => None,
    }
}

macro_rules! gc_refs {
    ($($name:ident($bits:ty), $what:literal;)*) => {$(
        #[doc = concat!("A nullable ", $what, " for typed calls and typed host functions (`0` is null).")]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        #[repr(transparent)]
        pub struct $name(pub $bits);
    )*};
}

gc_refs! {
    AnyRef32(u32), "`anyref` of an engine with 32-bit GC references";
    ExnRef32(u32), "`exnref` of an engine with 32-bit GC references";
    AnyRefPtr(usize), "`anyref` of an engine with pointer-sized GC references";
    ExnRefPtr(usize), "`exnref` of an engine with pointer-sized GC references";
}

// `V128` is typed only where `V128Repr` is a vector register type.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
wasm_ty! {
    V128 => V128, V128Repr, |s| s.0, |a| V128(a), |v| ValRaw::v128(v.as_u128()), |r| V128::from_u128(r.get_v128());
}

/// Checks that `got` are values of the `expected` types, as the standard's
/// subtyping says: the arity first, then each value (its hierarchy, null
/// for non-nullable types, a funcref's type for typed function references,
/// a GC reference's width).
///
/// A GC reference's dynamic type is the runtime's to know: Springboard
/// checks its hierarchy, nullability and width, not whether it is, say, an
/// `i31` or a struct of some type.
#[inline]
pub(crate) fn check_values(
    what: &'static str,
    expected: &[ValType],
    got: &[Val],
    registry: &Registry,
) -> Result<(), Error> {
    check_arity(what, expected.len(), got.len())?;
    for (index, (&expected, got)) in expected.iter().zip(got).enumerate() {
        if number_raw(got, expected).is_none() {
            check_value(what, index, expected, got, registry)?;
        }
    }
    Ok(())
}

/// Checks the number of values of a checked call.
#[inline]
pub(crate) fn check_arity(what: &'static str, expected: usize, got: usize) -> Result<(), Error> {
    if got != expected {
        return Err(Error::ArityMismatch {
            what,
            expected,
            got,
        });
    }
    Ok(())
}

/// `got`'s slot if `got` is a number of type `ty`: the check (and the
/// conversion) of most values, inline; `None` for references and mismatches.
#[inline(always)]
pub(crate) fn number_raw(got: &Val, ty: ValType) -> Option<ValRaw> {
    Some(match (*got, ty) {
        (Val::I32(v), ValType::I32) => ValRaw::i32(v),
        (Val::I64(v), ValType::I64) => ValRaw::i64(v),
        (Val::F32(bits), ValType::F32) => ValRaw::f32(bits),
        (Val::F64(bits), ValType::F64) => ValRaw::f64(bits),
        (Val::V128(v), ValType::V128) => ValRaw::v128(v),
        _ => return None,
    })
}

/// Checks one value of a checked call against its type (see
/// `check_values`): out of line, as numbers pass `number_raw` first.
#[inline(never)]
pub(crate) fn check_value(
    what: &'static str,
    index: usize,
    expected: ValType,
    got: &Val,
    registry: &Registry,
) -> Result<(), Error> {
    match (got, expected) {
        _ if number_raw(got, expected).is_some() => Ok(()),
        (_, ValType::Ref(r))
            if got.ty().as_ref().map(|g| g.heap().top()) == Some(r.heap().top()) =>
        {
            check_ref(got, r, registry).map_err(|reason| Error::ValueMismatch {
                what,
                index,
                expected,
                reason,
            })
        }
        _ => Err(Error::TypeMismatch {
            what,
            index,
            expected,
            got: got.ty(),
        }),
    }
}

/// Whether the reference `got` (of `expected`'s hierarchy) is a value of
/// `expected`, or why not.
#[cold]
fn check_ref(got: &Val, expected: RefType, registry: &Registry) -> Result<(), &'static str> {
    let null = match got {
        Val::FuncRef(f) => f.0.is_none(),
        Val::ExternRef(e) => e.0.is_none(),
        Val::AnyRef(g) | Val::ExnRef(g) => g.is_null(),
        _ => false,
    };
    if null {
        return match expected.nullable() {
            true => Ok(()),
            false => Err("null for a non-nullable reference"),
        };
    }
    match (got, expected.heap()) {
        (_, HeapType::NoFunc | HeapType::NoExtern | HeapType::None | HeapType::NoExn) => {
            Err("a reference where only null is a value")
        }
        (Val::AnyRef(g) | Val::ExnRef(g), _) if !g.fits(registry.gc()) => {
            Err("GC reference bits wider than the engine's GC references")
        }
        (Val::FuncRef(FuncRef(Some(f))), HeapType::Concrete(_, TypeIndex::Engine(want))) => {
            // SAFETY: a non-null funcref handed to a function must be live,
            // as every funcref passed into wasm must (see `FuncRef`).
            let actual = unsafe { f.as_ref().type_index.bits() };
            match registry.indices_match(actual, want) {
                true => Ok(()),
                false => Err("a funcref whose type is not a subtype of the expected type"),
            }
        }
        (Val::FuncRef(_), HeapType::Concrete(..)) => Err("a type index that is not the engine's"),
        _ => Ok(()),
    }
}
