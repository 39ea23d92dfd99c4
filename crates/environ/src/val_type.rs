//! [`ValType`], [`RefType`] and [`HeapType`]: WebAssembly 3.0 value types,
//! the standard's subtyping between them, and the *trampoline type* each one
//! travels as.

use core::fmt;

/// The width of GC references (the `any` and `exn` hierarchies) at the
/// boundary, chosen by the runtime per engine: Wasmtime ≥ 25 passes them as
/// 32-bit GC-heap indices, other runtimes as pointers. Function references
/// are always `*mut VMFuncRef` and external references host pointers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GcRefWidth {
    /// 32 bits, as Wasmtime passes them (`ValRaw::anyref(u32)`).
    #[default]
    Bits32,
    /// Pointer-sized.
    Pointer,
}

/// What a concrete type index is relative to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TypeIndex {
    /// An index into a module's type section, as parsed.
    Module(u32),
    /// An index into the recursion group that contains the reference: the
    /// canonical form of references within a group.
    RecGroup(u32),
    /// An engine's type index (`VMSharedSignatureIndex` bits).
    Engine(u32),
}

/// The kind of a concrete (defined) type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Composite {
    /// A function type.
    Func,
    /// A struct type.
    Struct,
    /// An array type.
    Array,
}

/// A heap type: an abstract one, or a defined type by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeapType {
    /// `func`: every function.
    Func,
    /// `nofunc`: the bottom of the function hierarchy.
    NoFunc,
    /// `extern`: every external reference.
    Extern,
    /// `noextern`: the bottom of the external hierarchy.
    NoExtern,
    /// `any`: the top of the GC hierarchy.
    Any,
    /// `eq`: references that can be compared.
    Eq,
    /// `i31`: unboxed 31-bit scalars.
    I31,
    /// `struct`: every struct.
    Struct,
    /// `array`: every array.
    Array,
    /// `none`: the bottom of the GC hierarchy.
    None,
    /// `exn`: every exception.
    Exn,
    /// `noexn`: the bottom of the exception hierarchy.
    NoExn,
    /// A defined type: its kind and its index.
    Concrete(Composite, TypeIndex),
}

/// The four hierarchies of reference types, named by their tops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Top {
    /// `func`: function references, `*mut VMFuncRef` at the boundary.
    Func,
    /// `extern`: host references, pointers at the boundary.
    Extern,
    /// `any`: GC references of the engine's [`GcRefWidth`].
    Any,
    /// `exn`: exception references of the engine's [`GcRefWidth`].
    Exn,
}

impl HeapType {
    /// The hierarchy the type belongs to.
    pub const fn top(self) -> Top {
        match self {
            HeapType::Func | HeapType::NoFunc | HeapType::Concrete(Composite::Func, _) => Top::Func,
            HeapType::Extern | HeapType::NoExtern => Top::Extern,
            HeapType::Exn | HeapType::NoExn => Top::Exn,
            HeapType::Any
            | HeapType::Eq
            | HeapType::I31
            | HeapType::Struct
            | HeapType::Array
            | HeapType::None
            | HeapType::Concrete(Composite::Struct | Composite::Array, _) => Top::Any,
        }
    }

    /// The defined type's index, if the type is a defined one.
    pub const fn concrete(self) -> Option<TypeIndex> {
        match self {
            HeapType::Concrete(_, index) => Some(index),
            _ => Option::None,
        }
    }

    /// The same type with its index (if any) replaced by `f(kind, index)`.
    pub fn map_index<E>(
        self,
        f: &mut impl FnMut(Composite, TypeIndex) -> Result<TypeIndex, E>,
    ) -> Result<HeapType, E> {
        Ok(match self {
            HeapType::Concrete(kind, index) => HeapType::Concrete(kind, f(kind, index)?),
            other => other,
        })
    }

    /// Whether `self` is a subtype of `other`, the standard's relation
    /// (`heaptype` matching), given `concrete(a, b)` for two defined types:
    /// whether `a` is (declared, transitively) a subtype of `b`.
    pub fn matches(
        self,
        other: HeapType,
        concrete: impl FnOnce(TypeIndex, TypeIndex) -> bool,
    ) -> bool {
        use HeapType::*;
        if self == other {
            return true;
        }
        match (self, other) {
            (Concrete(_, a), Concrete(_, b)) => concrete(a, b),
            // The bottoms are below everything of their hierarchy.
            (NoFunc | NoExtern | None | NoExn, _) => self.top() == other.top(),
            (_, NoFunc | NoExtern | None | NoExn) => false,
            (Concrete(Composite::Func, _), Func) => true,
            (Concrete(Composite::Struct, _), Struct | Eq | Any) => true,
            (Concrete(Composite::Array, _), Array | Eq | Any) => true,
            (Eq | I31 | Struct | Array, Any) => true,
            (I31 | Struct | Array, Eq) => true,
            _ => false,
        }
    }

    /// A number per abstract type (below 16), for hashing.
    fn abstract_index(self) -> u64 {
        match self {
            HeapType::Func => 0,
            HeapType::NoFunc => 1,
            HeapType::Extern => 2,
            HeapType::NoExtern => 3,
            HeapType::Any => 4,
            HeapType::Eq => 5,
            HeapType::I31 => 6,
            HeapType::Struct => 7,
            HeapType::Array => 8,
            HeapType::None => 9,
            HeapType::Exn => 10,
            HeapType::NoExn => 11,
            HeapType::Concrete(..) => 12,
        }
    }

    fn abstract_name(self) -> Option<&'static str> {
        Some(match self {
            HeapType::Func => "func",
            HeapType::NoFunc => "nofunc",
            HeapType::Extern => "extern",
            HeapType::NoExtern => "noextern",
            HeapType::Any => "any",
            HeapType::Eq => "eq",
            HeapType::I31 => "i31",
            HeapType::Struct => "struct",
            HeapType::Array => "array",
            HeapType::None => "none",
            HeapType::Exn => "exn",
            HeapType::NoExn => "noexn",
            HeapType::Concrete(..) => return Option::None,
        })
    }
}

impl fmt::Display for HeapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.abstract_name(), self) {
            (Some(name), _) => f.write_str(name),
            (_, HeapType::Concrete(_, TypeIndex::Module(i))) => write!(f, "{i}"),
            (_, HeapType::Concrete(_, TypeIndex::RecGroup(i))) => write!(f, "(rec {i})"),
            (_, HeapType::Concrete(_, TypeIndex::Engine(i))) => write!(f, "(engine {i})"),
            _ => Ok(()),
        }
    }
}

/// A reference type: `(ref null? heaptype)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefType {
    nullable: bool,
    heap: HeapType,
}

impl RefType {
    /// `(ref null? heap)`.
    pub const fn new(nullable: bool, heap: HeapType) -> RefType {
        RefType { nullable, heap }
    }

    /// Whether null is a value of the type.
    pub const fn nullable(self) -> bool {
        self.nullable
    }

    /// The heap type.
    pub const fn heap(self) -> HeapType {
        self.heap
    }

    /// Whether `self` is a subtype of `other` (see [`HeapType::matches`]).
    pub fn matches(
        self,
        other: RefType,
        concrete: impl FnOnce(TypeIndex, TypeIndex) -> bool,
    ) -> bool {
        (!self.nullable || other.nullable) && self.heap.matches(other.heap, concrete)
    }
}

impl fmt::Display for RefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = match self.heap {
            HeapType::Func => "funcref",
            HeapType::NoFunc => "nullfuncref",
            HeapType::Extern => "externref",
            HeapType::NoExtern => "nullexternref",
            HeapType::Any => "anyref",
            HeapType::Eq => "eqref",
            HeapType::I31 => "i31ref",
            HeapType::Struct => "structref",
            HeapType::Array => "arrayref",
            HeapType::None => "nullref",
            HeapType::Exn => "exnref",
            HeapType::NoExn => "nullexnref",
            HeapType::Concrete(..) => "",
        };
        match (self.nullable, short) {
            (true, s) if !s.is_empty() => f.write_str(s),
            (true, _) => write!(f, "(ref null {})", self.heap),
            (false, _) => write!(f, "(ref {})", self.heap),
        }
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A value type outside WebAssembly 3.0's (a shared or exact
    /// reference, a continuation), or a reference to a type that is not
    /// known where it is used.
    #[error(
        "unsupported value type `{0}` (supported: WebAssembly 3.0's numbers, vectors and references)"
    )]
    UnsupportedType(String),
    /// More parameters or results than [`MAX_PARAMS`](crate::MAX_PARAMS) / [`MAX_RESULTS`](crate::MAX_RESULTS).
    #[error("too many {what}: {count} (at most {max})")]
    TooMany {
        /// `"parameters"` or `"results"`.
        what: &'static str,
        /// How many the signature has.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes that are not a signature encoding (see [`Signature::decode`](crate::Signature::decode)).
    #[error("malformed signature encoding: {0}")]
    Malformed(&'static str),
}

/// A WebAssembly 3.0 value type.
///
/// Hashes as one `u64` (registries hash long signatures often).
///
/// Trampolines are made for [*trampoline types*](Self::trampoline_type):
/// every reference travels as its hierarchy's representation, so
/// `(ref $f)` and `funcref` share code, as do `anyref` and `i32` under
/// 32-bit GC references.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE float, carried as bits.
    F32,
    /// 64-bit IEEE float, carried as bits.
    F64,
    /// 128-bit SIMD vector.
    V128,
    /// A reference.
    Ref(RefType),
}

impl core::hash::Hash for ValType {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.packed());
    }
}

impl ValType {
    /// An injective packing into 64 bits: type tag, nullability, heap type,
    /// index kind, index.
    fn packed(self) -> u64 {
        let ValType::Ref(r) = self else {
            return match self {
                ValType::I32 => 1,
                ValType::I64 => 2,
                ValType::F32 => 3,
                ValType::F64 => 4,
                _ => 5,
            };
        };
        let (heap, index) = match r.heap {
            HeapType::Concrete(kind, index) => {
                let (k, i) = match index {
                    TypeIndex::Module(i) => (0, i),
                    TypeIndex::RecGroup(i) => (1, i),
                    TypeIndex::Engine(i) => (2, i),
                };
                (16 + kind as u64 * 4 + k, u64::from(i))
            }
            abstract_heap => (abstract_heap.abstract_index(), 0),
        };
        6 | (u64::from(r.nullable) << 3) | (heap << 4) | (index << 32)
    }

    /// `funcref`: a nullable function reference (`*mut VMFuncRef`).
    pub const FUNCREF: ValType = ValType::Ref(RefType::new(true, HeapType::Func));
    /// `externref`: a nullable host reference (an opaque pointer).
    pub const EXTERNREF: ValType = ValType::Ref(RefType::new(true, HeapType::Extern));
    /// `anyref`: a nullable GC reference.
    pub const ANYREF: ValType = ValType::Ref(RefType::new(true, HeapType::Any));
    /// `exnref`: a nullable exception reference.
    pub const EXNREF: ValType = ValType::Ref(RefType::new(true, HeapType::Exn));

    /// Every type a trampoline can carry at the boundary ([`Self::trampoline_type`]
    /// gives one of these).
    pub const ALL: [ValType; 7] = [
        ValType::I32,
        ValType::I64,
        ValType::F32,
        ValType::F64,
        ValType::V128,
        ValType::FUNCREF,
        ValType::EXTERNREF,
    ];

    /// The reference type, if this is one.
    pub const fn as_ref(self) -> Option<RefType> {
        match self {
            ValType::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// What the value travels as between conventions: numbers and vectors
    /// as themselves; function references as `funcref`, host references as
    /// `externref` (pointers); GC and exception references as `i32` or, when
    /// pointer-sized, `externref`. Nothing of a reference's static type
    /// matters to a trampoline.
    pub const fn trampoline_type(self, gc: GcRefWidth) -> ValType {
        match self {
            ValType::Ref(r) => match (r.heap.top(), gc) {
                (Top::Func, _) => ValType::FUNCREF,
                (Top::Extern, _) | (Top::Any | Top::Exn, GcRefWidth::Pointer) => ValType::EXTERNREF,
                (Top::Any | Top::Exn, GcRefWidth::Bits32) => ValType::I32,
            },
            other => other,
        }
    }

    /// Size in bytes of the value in registers and in the native results
    /// area, for a target with pointers of `pointer_bytes`, GC references
    /// being `gc` wide.
    pub const fn byte_size(self, pointer_bytes: u8, gc: GcRefWidth) -> u32 {
        match self.trampoline_type(gc) {
            ValType::I32 | ValType::F32 => 4,
            ValType::I64 | ValType::F64 => 8,
            ValType::V128 => 16,
            ValType::Ref(_) => pointer_bytes as u32,
        }
    }

    /// The one-letter code used in symbol names and the signature encoding:
    /// one per hierarchy for references (`r` func, `e` extern, `a` any,
    /// `x` exn).
    pub const fn code(self) -> u8 {
        match self {
            ValType::I32 => b'i',
            ValType::I64 => b'I',
            ValType::F32 => b'f',
            ValType::F64 => b'F',
            ValType::V128 => b'v',
            ValType::Ref(r) => match r.heap.top() {
                Top::Func => b'r',
                Top::Extern => b'e',
                Top::Any => b'a',
                Top::Exn => b'x',
            },
        }
    }

    /// The trampoline type with the given [`code`](Self::code) (`a` and `x`
    /// are not trampoline types and give `None`).
    pub fn from_code(code: u8) -> Option<ValType> {
        ValType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Whether `self` is a subtype of `other` (the standard's `valtype`
    /// matching), given `concrete(a, b)` for defined types (see
    /// [`HeapType::matches`]).
    pub fn matches(
        self,
        other: ValType,
        concrete: impl FnOnce(TypeIndex, TypeIndex) -> bool,
    ) -> bool {
        match (self, other) {
            (ValType::Ref(a), ValType::Ref(b)) => a.matches(b, concrete),
            (a, b) => a == b,
        }
    }

    /// The same type with its index (if any) replaced by `f(kind, index)`.
    pub fn map_index<E>(
        self,
        f: &mut impl FnMut(Composite, TypeIndex) -> Result<TypeIndex, E>,
    ) -> Result<ValType, E> {
        Ok(match self {
            ValType::Ref(r) => ValType::Ref(RefType::new(r.nullable, r.heap.map_index(f)?)),
            other => other,
        })
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValType::I32 => f.write_str("i32"),
            ValType::I64 => f.write_str("i64"),
            ValType::F32 => f.write_str("f32"),
            ValType::F64 => f.write_str("f64"),
            ValType::V128 => f.write_str("v128"),
            ValType::Ref(r) => fmt::Display::fmt(r, f),
        }
    }
}

#[cfg(feature = "wasmparser")]
mod from_wasmparser {
    use super::*;
    use wasmparser::{AbstractHeapType as A, UnpackedIndex};

    /// The kinds of a module's types by index, so that a reference to a
    /// defined type knows its hierarchy (see [`ValType::from_wasm`]).
    pub trait TypeKinds {
        /// The kind of the module's type `index`, if it has one.
        fn kind(&self, index: u32) -> Option<Composite>;
    }

    impl TypeKinds for [Composite] {
        fn kind(&self, index: u32) -> Option<Composite> {
            self.get(index as usize).copied()
        }
    }

    /// No defined types: every concrete reference is refused.
    impl TypeKinds for () {
        fn kind(&self, _: u32) -> Option<Composite> {
            None
        }
    }

    impl ValType {
        /// The value type of a parsed one. References to defined types keep
        /// their module index ([`TypeIndex::Module`], or
        /// [`TypeIndex::RecGroup`] as the parser gives it) and take their
        /// kind from `kinds`; shared and exact types, and continuations,
        /// are refused.
        pub fn from_wasm(
            ty: wasmparser::ValType,
            kinds: &(impl TypeKinds + ?Sized),
        ) -> Result<ValType, SignatureError> {
            use wasmparser::ValType as W;
            Ok(match ty {
                W::I32 => ValType::I32,
                W::I64 => ValType::I64,
                W::F32 => ValType::F32,
                W::F64 => ValType::F64,
                W::V128 => ValType::V128,
                W::Ref(r) => {
                    let unsupported = || SignatureError::UnsupportedType(r.to_string());
                    let heap = match r.heap_type() {
                        wasmparser::HeapType::Abstract { shared: false, ty } => match ty {
                            A::Func => HeapType::Func,
                            A::NoFunc => HeapType::NoFunc,
                            A::Extern => HeapType::Extern,
                            A::NoExtern => HeapType::NoExtern,
                            A::Any => HeapType::Any,
                            A::Eq => HeapType::Eq,
                            A::I31 => HeapType::I31,
                            A::Struct => HeapType::Struct,
                            A::Array => HeapType::Array,
                            A::None => HeapType::None,
                            A::Exn => HeapType::Exn,
                            A::NoExn => HeapType::NoExn,
                            _ => return Err(unsupported()),
                        },
                        wasmparser::HeapType::Concrete(UnpackedIndex::Module(i)) => {
                            let kind = kinds.kind(i).ok_or_else(unsupported)?;
                            HeapType::Concrete(kind, TypeIndex::Module(i))
                        }
                        _ => return Err(unsupported()),
                    };
                    ValType::Ref(RefType::new(r.is_nullable(), heap))
                }
            })
        }
    }

    impl TryFrom<wasmparser::ValType> for ValType {
        type Error = SignatureError;

        /// Without a module, references to defined types are refused (see
        /// [`ValType::from_wasm`]).
        fn try_from(ty: wasmparser::ValType) -> Result<Self, SignatureError> {
            ValType::from_wasm(ty, &())
        }
    }
}

#[cfg(feature = "wasmparser")]
pub use from_wasmparser::TypeKinds;

#[cfg(test)]
mod tests {
    use super::*;
    use HeapType::*;

    const F: HeapType = Concrete(Composite::Func, TypeIndex::Engine(1));
    const S: HeapType = Concrete(Composite::Struct, TypeIndex::Engine(2));
    const ARR: HeapType = Concrete(Composite::Array, TypeIndex::Engine(3));
    const ABSTRACT: [HeapType; 12] = [
        Func, NoFunc, Extern, NoExtern, Any, Eq, I31, Struct, Array, None, Exn, NoExn,
    ];

    #[test]
    fn the_abstract_hierarchy_is_the_standards() {
        let below = |a: HeapType, b: HeapType| a.matches(b, |_, _| false);
        // Exactly these strict pairs (plus reflexivity) hold.
        let strict = [
            (NoFunc, Func),
            (NoFunc, F),
            (F, Func),
            (NoExtern, Extern),
            (NoExn, Exn),
            (Eq, Any),
            (I31, Any),
            (I31, Eq),
            (Struct, Any),
            (Struct, Eq),
            (Array, Any),
            (Array, Eq),
            (None, Any),
            (None, Eq),
            (None, I31),
            (None, Struct),
            (None, Array),
            (None, S),
            (None, ARR),
            (S, Struct),
            (S, Eq),
            (S, Any),
            (ARR, Array),
            (ARR, Eq),
            (ARR, Any),
        ];
        let all: Vec<HeapType> = ABSTRACT.into_iter().chain([F, S, ARR]).collect();
        for &a in &all {
            for &b in &all {
                let expected = a == b || strict.contains(&(a, b));
                assert_eq!(below(a, b), expected, "{a} <: {b}");
            }
        }
    }

    #[test]
    fn nullability_and_concrete_subtyping_combine() {
        let r = |n, h| RefType::new(n, h);
        assert!(r(false, F).matches(r(true, F), |_, _| unreachable!()));
        assert!(!r(true, F).matches(r(false, F), |_, _| unreachable!()));
        let g = Concrete(Composite::Func, TypeIndex::Engine(9));
        assert!(r(false, F).matches(r(false, g), |a, b| (a, b)
            == (TypeIndex::Engine(1), TypeIndex::Engine(9))));
        assert!(!r(false, F).matches(r(false, g), |_, _| false));
    }

    #[test]
    fn trampoline_types_follow_the_hierarchy_and_the_width() {
        let typed = ValType::Ref(RefType::new(false, F));
        assert_eq!(typed.trampoline_type(GcRefWidth::Bits32), ValType::FUNCREF);
        let s = ValType::Ref(RefType::new(false, S));
        assert_eq!(s.trampoline_type(GcRefWidth::Bits32), ValType::I32);
        assert_eq!(s.trampoline_type(GcRefWidth::Pointer), ValType::EXTERNREF);
        assert_eq!(
            ValType::EXNREF.trampoline_type(GcRefWidth::Bits32),
            ValType::I32
        );
        assert_eq!(ValType::EXNREF.byte_size(8, GcRefWidth::Pointer), 8);
        assert_eq!(ValType::EXNREF.byte_size(8, GcRefWidth::Bits32), 4);
        for t in ValType::ALL {
            assert_eq!(t.trampoline_type(GcRefWidth::Pointer), t);
            assert_eq!(ValType::from_code(t.code()), Some(t));
        }
        assert_eq!(ValType::from_code(ValType::ANYREF.code()), Option::None);
    }

    #[test]
    fn displays_in_wasm_text_form() {
        assert_eq!(ValType::EXNREF.to_string(), "exnref");
        assert_eq!(
            ValType::Ref(RefType::new(false, Func)).to_string(),
            "(ref func)"
        );
        let m = Concrete(Composite::Struct, TypeIndex::Module(4));
        assert_eq!(
            ValType::Ref(RefType::new(true, m)).to_string(),
            "(ref null 4)"
        );
        assert_eq!(
            ValType::Ref(RefType::new(true, None)).to_string(),
            "nullref"
        );
    }
}
