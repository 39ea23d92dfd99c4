//! Defined types and recursion groups: [`SubType`], [`RecGroup`] in its
//! canonical (iso-recursive) form, and [`TypeSpace`], an append-only engine
//! of canonical groups with O(1) subtype tests.
//!
//! Identity is iso-recursive: a group is canonicalised by writing each
//! reference into the group as [`TypeIndex::RecGroup`] and each reference
//! out of it as [`TypeIndex::Engine`]; two groups are the same exactly when
//! their canonical forms are equal, and a type is its group and position.
//! Each type keeps its chain of declared supertypes from the root (its
//! *ancestors*), so `a <: b` is `a.ancestors[depth(b)] == b`.

use crate::signature::Signature;
use crate::val_type::{Composite, TypeIndex, ValType};
use core::fmt;
use std::collections::HashMap;
use std::ops::Range;

/// The deepest subtype chain the standard allows (a type's supertypes).
pub const MAX_SUBTYPING_DEPTH: usize = 63;

/// A field's storage: a value type or a packed integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageType {
    /// `i8`, packed.
    I8,
    /// `i16`, packed.
    I16,
    /// A value type.
    Val(ValType),
}

/// A struct field or an array's element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldType {
    /// Whether it can be written.
    pub mutable: bool,
    /// What it holds.
    pub storage: StorageType,
}

/// What a defined type is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CompositeType {
    /// A function type.
    Func(Signature),
    /// A struct type.
    Struct(Box<[FieldType]>),
    /// An array type.
    Array(FieldType),
}

/// A defined type: its finality, its declared supertype and its structure.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SubType {
    /// Whether it may have subtypes (`final` types may not).
    pub is_final: bool,
    /// The declared supertype.
    pub supertype: Option<TypeIndex>,
    /// The structure.
    pub composite: CompositeType,
}

impl SubType {
    /// A final function type without a supertype: what a Wasm 2.0 `(type
    /// (func ...))` is, alone in its group.
    pub fn func(signature: Signature) -> SubType {
        SubType {
            is_final: true,
            supertype: None,
            composite: CompositeType::Func(signature),
        }
    }

    /// The kind of the type.
    pub fn kind(&self) -> Composite {
        match self.composite {
            CompositeType::Func(_) => Composite::Func,
            CompositeType::Struct(_) => Composite::Struct,
            CompositeType::Array(_) => Composite::Array,
        }
    }

    /// The function type, if it is one.
    pub fn as_func(&self) -> Option<&Signature> {
        match &self.composite {
            CompositeType::Func(sig) => Some(sig),
            _ => None,
        }
    }

    /// The same type with every index replaced by `f(kind, index)`: each
    /// reference's, with the kind it says, and the supertype's, with the
    /// type's own kind.
    pub fn map_index<E>(
        &self,
        mut f: impl FnMut(Composite, TypeIndex) -> Result<TypeIndex, E>,
    ) -> Result<SubType, E> {
        let mut field = |t: &FieldType| -> Result<FieldType, E> {
            Ok(FieldType {
                mutable: t.mutable,
                storage: match t.storage {
                    StorageType::Val(v) => StorageType::Val(v.map_index(&mut f)?),
                    packed => packed,
                },
            })
        };
        let composite = match &self.composite {
            CompositeType::Func(sig) => CompositeType::Func(sig.map_index(&mut f)?),
            CompositeType::Struct(fields) => {
                CompositeType::Struct(fields.iter().map(&mut field).collect::<Result<_, E>>()?)
            }
            CompositeType::Array(elem) => CompositeType::Array(field(elem)?),
        };
        let kind = self.kind();
        Ok(SubType {
            is_final: self.is_final,
            supertype: self.supertype.map(|s| f(kind, s)).transpose()?,
            composite,
        })
    }

    /// Every type index the type mentions, its supertype's included, with
    /// the kind each reference says.
    pub fn type_indices(&self) -> Vec<(Composite, TypeIndex)> {
        let mut out = Vec::new();
        let _ = self.map_index(|kind, i| {
            out.push((kind, i));
            Ok::<_, ()>(i)
        });
        out
    }
}

impl fmt::Display for StorageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageType::I8 => f.write_str("i8"),
            StorageType::I16 => f.write_str("i16"),
            StorageType::Val(v) => write!(f, "{v}"),
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mutable {
            true => write!(f, "(mut {})", self.storage),
            false => write!(f, "{}", self.storage),
        }
    }
}

/// In wasm text form: `(func ...)`, `(struct (field ...) ...)` or `(array
/// ...)`, inside `(sub final? supertype? ...)` unless final without a
/// supertype.
impl fmt::Display for SubType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self.is_final && self.supertype.is_none();
        if !plain {
            f.write_str("(sub ")?;
            if self.is_final {
                f.write_str("final ")?;
            }
            if let Some(s) = self.supertype {
                write!(f, "{} ", crate::HeapType::Concrete(self.kind(), s))?;
            }
        }
        match &self.composite {
            CompositeType::Func(sig) => write!(f, "{sig}")?,
            CompositeType::Struct(fields) => {
                f.write_str("(struct")?;
                for field in fields.iter() {
                    write!(f, " (field {field})")?;
                }
                f.write_str(")")?;
            }
            CompositeType::Array(elem) => write!(f, "(array {elem})")?,
        }
        if !plain {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Why a group of types cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TypeError {
    /// A reference to a type that does not exist (or is not yet defined
    /// where it is used).
    #[error("type {index}: refers to unknown type {to:?}")]
    UnknownType {
        /// The position of the referring type in its group.
        index: usize,
        /// The reference.
        to: TypeIndex,
    },
    /// A reference whose kind (func, struct, array) is not the kind of the
    /// type it names.
    #[error("type {index}: refers to {to:?} as a {said:?} type, but it is a {is:?} type")]
    WrongKind {
        /// The position of the referring type in its group.
        index: usize,
        /// The reference.
        to: TypeIndex,
        /// The kind the reference says.
        said: Composite,
        /// The kind of the type.
        is: Composite,
    },
    /// A declared supertype that is final, later in the group, or not
    /// structurally a supertype.
    #[error("type {index}: invalid supertype: {why}")]
    BadSupertype {
        /// The position of the type in its group.
        index: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// A subtype chain deeper than [`MAX_SUBTYPING_DEPTH`].
    #[error("type {index}: subtype chain deeper than {MAX_SUBTYPING_DEPTH}")]
    TooDeep {
        /// The position of the type in its group.
        index: usize,
    },
    /// A group whose indices would not fit a `u32`.
    #[error("a recursion group may hold at most {max} types, not {len}")]
    BadGroupSize {
        /// The group's size.
        len: usize,
        /// The most it may hold.
        max: usize,
    },
}

/// The most types one group may hold (the standard's limit on types).
pub const MAX_GROUP_TYPES: usize = 1_000_000;

/// A recursion group in canonical form: references into the group are
/// [`TypeIndex::RecGroup`], references out of it [`TypeIndex::Engine`].
/// Equal canonical forms are the same group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecGroup {
    types: Box<[SubType]>,
}

impl RecGroup {
    /// The canonical form of a module's group whose first type is the
    /// module's type `start`: indices in the group become relative, earlier
    /// module indices become `engine(index)`'s engine indices. Engine
    /// indices are kept. Errors name references to unknown types and kinds
    /// that do not match (see [`TypeError`]).
    pub fn canonicalize(
        types: Vec<SubType>,
        start: u32,
        engine: impl Fn(u32) -> Option<(u32, Composite)>,
    ) -> Result<RecGroup, TypeError> {
        check_size(types.len())?;
        let kinds: Vec<Composite> = types.iter().map(SubType::kind).collect();
        let end = start as u64 + types.len() as u64;
        let canonical = types
            .iter()
            .enumerate()
            .map(|(index, ty)| {
                ty.map_index(|said, to| {
                    let unknown = TypeError::UnknownType { index, to };
                    let in_group = |i: u32| u64::from(i) >= u64::from(start) && u64::from(i) < end;
                    let (canonical, is) = match to {
                        TypeIndex::Module(i) if in_group(i) => {
                            (TypeIndex::RecGroup(i - start), kinds[(i - start) as usize])
                        }
                        TypeIndex::Module(i) if i < start => {
                            let (e, kind) = engine(i).ok_or(unknown)?;
                            (TypeIndex::Engine(e), kind)
                        }
                        TypeIndex::RecGroup(i) => (to, *kinds.get(i as usize).ok_or(unknown)?),
                        // Checked when the group is registered.
                        TypeIndex::Engine(_) => (to, said),
                        TypeIndex::Module(_) => return Err(unknown),
                    };
                    if said != is {
                        return Err(TypeError::WrongKind {
                            index,
                            to,
                            said,
                            is,
                        });
                    }
                    Ok(canonical)
                })
            })
            .collect::<Result<Box<[SubType]>, TypeError>>()?;
        Ok(RecGroup { types: canonical })
    }

    /// The group's types, in canonical form.
    pub fn types(&self) -> &[SubType] {
        &self.types
    }

    /// How many types the group holds.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether the group is empty (a canonical group never is).
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The engine indices the group refers to (outside itself).
    pub fn outside_references(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .types
            .iter()
            .flat_map(SubType::type_indices)
            .filter_map(|(_, i)| match i {
                TypeIndex::Engine(e) => Some(e),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The group's types with in-group references replaced by engine
    /// indices, the group's types being `own`: what each type is once
    /// registered.
    pub fn in_engine(&self, own: &[u32]) -> Vec<SubType> {
        self.types
            .iter()
            .map(|t| {
                t.map_index(|_, i| {
                    Ok::<_, core::convert::Infallible>(match i {
                        TypeIndex::RecGroup(r) => TypeIndex::Engine(own[r as usize]),
                        other => other,
                    })
                })
                .unwrap_or_else(|never| match never {})
            })
            .collect()
    }
}

fn check_size(len: usize) -> Result<(), TypeError> {
    // Empty groups are valid (and register nothing).
    if len > MAX_GROUP_TYPES {
        return Err(TypeError::BadGroupSize {
            len,
            max: MAX_GROUP_TYPES,
        });
    }
    Ok(())
}

/// A registered type's place in the subtype hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Supertypes {
    /// Whether the type is final.
    pub is_final: bool,
    /// Its declared supertypes from the root down, itself last: the type
    /// `b` is a supertype of it exactly when `ancestors[depth(b)] == b`.
    pub ancestors: Box<[u32]>,
}

impl Supertypes {
    /// The type's depth: how many declared supertypes it has.
    pub fn depth(&self) -> usize {
        self.ancestors.len() - 1
    }

    /// Whether a type with these supertypes is `other` or a subtype of it,
    /// in O(1). `other` is given by its index and supertypes.
    #[inline]
    pub fn is_subtype_of(&self, other_index: u32, other: &Supertypes) -> bool {
        self.ancestors.get(other.depth()) == Some(&other_index)
    }
}

/// What registering needs to know of types outside the group.
pub trait Known {
    /// The registered type `index`: its structure (with engine indices) and
    /// its supertypes.
    fn known(&self, index: u32) -> Option<(&SubType, &Supertypes)>;
}

/// Checks `group` (canonical, to be registered with its types at the engine
/// indices `own`, one per type) against the standard's rules for declared supertypes and
/// returns each type as registered ([`RecGroup::in_engine`]) with its
/// [`Supertypes`]: the supertype exists, is earlier,
/// is not final, has the same kind and is structurally a supertype; chains
/// are at most [`MAX_SUBTYPING_DEPTH`] deep. References to outside types
/// must name registered types of the kind they say.
pub fn check_group(
    group: &RecGroup,
    own: &[u32],
    known: &impl Known,
) -> Result<Vec<(SubType, Supertypes)>, TypeError> {
    if own.len() != group.len() {
        return Err(TypeError::BadGroupSize {
            len: own.len(),
            max: group.len(),
        });
    }
    // First every type's place (a supertype is earlier), then the structural
    // rule, which may involve any type of the group.
    let mut supers: Vec<Supertypes> = Vec::with_capacity(group.len());
    for (index, ty) in group.types().iter().enumerate() {
        for (said, to) in ty.type_indices() {
            if let TypeIndex::Engine(e) = to {
                let is = known
                    .known(e)
                    .ok_or(TypeError::UnknownType { index, to })?
                    .0
                    .kind();
                if is != said {
                    return Err(TypeError::WrongKind {
                        index,
                        to,
                        said,
                        is,
                    });
                }
            }
        }
        let bad = |why| TypeError::BadSupertype { index, why };
        let mut ancestors = match ty.supertype {
            None => Vec::new(),
            Some(TypeIndex::RecGroup(r)) if (r as usize) < index => {
                supers[r as usize].ancestors.to_vec()
            }
            Some(TypeIndex::RecGroup(_)) => return Err(bad("it is not earlier in the group")),
            Some(to @ TypeIndex::Engine(e)) => known
                .known(e)
                .ok_or(TypeError::UnknownType { index, to })?
                .1
                .ancestors
                .to_vec(),
            Some(TypeIndex::Module(_)) => return Err(bad("not canonical")),
        };
        if ancestors.len() > MAX_SUBTYPING_DEPTH {
            return Err(TypeError::TooDeep { index });
        }
        ancestors.push(own[index]);
        supers.push(Supertypes {
            is_final: ty.is_final,
            ancestors: ancestors.into(),
        });
    }
    let in_engine = group.in_engine(own);
    let position: HashMap<u32, usize> = own.iter().enumerate().map(|(p, &i)| (i, p)).collect();
    let lookup = |i: u32| -> Option<(&SubType, &Supertypes)> {
        match position.get(&i) {
            Some(&p) => Some((&in_engine[p], &supers[p])),
            None => known.known(i),
        }
    };
    for (index, ty) in group.types().iter().enumerate() {
        let Some(sup) = ty.supertype else { continue };
        let sup = match sup {
            TypeIndex::RecGroup(r) => own[r as usize],
            TypeIndex::Engine(e) => e,
            TypeIndex::Module(_) => continue,
        };
        let (sup_ty, sup_supers) = lookup(sup).ok_or(TypeError::UnknownType {
            index,
            to: TypeIndex::Engine(sup),
        })?;
        // `b` is among `a`'s ancestors exactly when `a <: b` (and only `a`
        // need be known: the group refers to it).
        let concrete = |a: TypeIndex, b: TypeIndex| match (a, b) {
            (TypeIndex::Engine(a), TypeIndex::Engine(b)) => {
                lookup(a).is_some_and(|(_, sa)| sa.ancestors.contains(&b))
            }
            _ => false,
        };
        check_supertype(&in_engine[index], sup_ty, sup_supers, concrete)
            .map_err(|why| TypeError::BadSupertype { index, why })?;
    }
    Ok(in_engine.into_iter().zip(supers).collect())
}

/// The standard's rule for a declared supertype `sup` of `ty` (both with
/// engine indices).
fn check_supertype(
    ty: &SubType,
    sup: &SubType,
    sup_supers: &Supertypes,
    concrete: impl Fn(TypeIndex, TypeIndex) -> bool,
) -> Result<(), &'static str> {
    if sup_supers.is_final {
        return Err("it is final");
    }
    let val = |a: ValType, b: ValType| a.matches(b, &concrete);
    let storage = |a: StorageType, b: StorageType| match (a, b) {
        (StorageType::Val(a), StorageType::Val(b)) => val(a, b),
        (a, b) => a == b,
    };
    let field = |a: &FieldType, b: &FieldType| {
        a.mutable == b.mutable
            && storage(a.storage, b.storage)
            && (!a.mutable || storage(b.storage, a.storage))
    };
    let ok = match (&ty.composite, &sup.composite) {
        (CompositeType::Func(a), CompositeType::Func(b)) => a.matches(b, &concrete),
        (CompositeType::Struct(a), CompositeType::Struct(b)) => {
            a.len() >= b.len() && a.iter().zip(b.iter()).all(|(x, y)| field(x, y))
        }
        (CompositeType::Array(a), CompositeType::Array(b)) => field(a, b),
        _ => return Err("it is of another kind"),
    };
    if ok {
        Ok(())
    } else {
        Err("it is not structurally a supertype")
    }
}

/// Registered types: canonical groups interned once each, in order, with
/// their supertypes. Append-only (a tool's or a test's engine; the facade's
/// registry adds reference counting and index reuse on the same rules).
#[derive(Default)]
pub struct TypeSpace {
    groups: HashMap<RecGroup, u32>,
    types: Vec<(SubType, Supertypes)>,
}

impl Known for TypeSpace {
    fn known(&self, index: u32) -> Option<(&SubType, &Supertypes)> {
        self.types.get(index as usize).map(|(t, s)| (t, s))
    }
}

impl TypeSpace {
    /// An empty space.
    pub fn new() -> TypeSpace {
        TypeSpace::default()
    }

    /// Registers a canonical group, or finds it registered: the indices of
    /// its types.
    pub fn register(&mut self, group: RecGroup) -> Result<Range<u32>, TypeError> {
        if let Some(&first) = self.groups.get(&group) {
            return Ok(first..first + group.len() as u32);
        }
        let first = u32::try_from(self.types.len())
            .ok()
            .filter(|f| f.checked_add(group.len() as u32).is_some())
            .ok_or(TypeError::BadGroupSize {
                len: group.len(),
                max: MAX_GROUP_TYPES,
            })?;
        let own: Vec<u32> = (first..first + group.len() as u32).collect();
        let checked = check_group(&group, &own, self)?;
        self.types.extend(checked);
        let range = first..first + group.len() as u32;
        self.groups.insert(group, first);
        Ok(range)
    }

    /// The registered type `index`.
    pub fn get(&self, index: u32) -> Option<&SubType> {
        self.types.get(index as usize).map(|(t, _)| t)
    }

    /// How many types are registered.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Whether type `a` is `b` or a declared subtype of it, in O(1).
    pub fn is_subtype(&self, a: u32, b: u32) -> bool {
        match (self.types.get(a as usize), self.types.get(b as usize)) {
            (Some((_, sa)), Some((_, sb))) => a == b || (!sb.is_final && sa.is_subtype_of(b, sb)),
            _ => false,
        }
    }

    /// Whether `a` matches `b` (value types with engine indices).
    pub fn matches(&self, a: ValType, b: ValType) -> bool {
        a.matches(b, |x, y| match (x, y) {
            (TypeIndex::Engine(x), TypeIndex::Engine(y)) => self.is_subtype(x, y),
            _ => false,
        })
    }
}

impl fmt::Debug for TypeSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypeSpace")
            .field("groups", &self.groups.len())
            .field("types", &self.types.len())
            .finish()
    }
}

#[cfg(feature = "wasmparser")]
mod from_wasmparser {
    use super::*;
    use crate::val_type::SignatureError;

    /// A module's types as parsed, group by group: each type's kind (so
    /// that references know their hierarchy) and each group's types with
    /// module indices, ready for [`RecGroup::canonicalize`].
    #[derive(Clone, Debug, Default)]
    pub struct ModuleTypes {
        kinds: Vec<Composite>,
        groups: Vec<(u32, Vec<SubType>)>,
    }

    impl ModuleTypes {
        /// No types yet.
        pub fn new() -> ModuleTypes {
            ModuleTypes::default()
        }

        /// Adds the module's next recursion group. Shared types, descriptors
        /// and continuations are refused, naming the type.
        pub fn push(&mut self, group: &wasmparser::RecGroup) -> Result<(), SignatureError> {
            let start = self.kinds.len() as u32;
            for ty in group.types() {
                self.kinds.push(match &ty.composite_type.inner {
                    wasmparser::CompositeInnerType::Func(_) => Composite::Func,
                    wasmparser::CompositeInnerType::Struct(_) => Composite::Struct,
                    wasmparser::CompositeInnerType::Array(_) => Composite::Array,
                    wasmparser::CompositeInnerType::Cont(_) => {
                        return Err(SignatureError::UnsupportedType(ty.to_string()));
                    }
                });
            }
            let types = group
                .types()
                .map(|ty| self.sub_type(ty))
                .collect::<Result<Vec<_>, _>>()?;
            self.groups.push((start, types));
            Ok(())
        }

        /// Every type's kind, by module index.
        pub fn kinds(&self) -> &[Composite] {
            &self.kinds
        }

        /// Group `group` in canonical form, the module's earlier types being
        /// `earlier` in the engine (one index per module type before the
        /// group).
        pub fn canonical(&self, group: usize, earlier: &[u32]) -> Result<RecGroup, TypeError> {
            let (start, types) = &self.groups[group];
            RecGroup::canonicalize(types.clone(), *start, |i| {
                Some((*earlier.get(i as usize)?, *self.kinds.get(i as usize)?))
            })
        }

        /// The groups: each one's first module index and its types (with
        /// module indices).
        pub fn groups(&self) -> &[(u32, Vec<SubType>)] {
            &self.groups
        }

        fn sub_type(&self, ty: &wasmparser::SubType) -> Result<SubType, SignatureError> {
            let unsupported = || SignatureError::UnsupportedType(ty.to_string());
            let c = &ty.composite_type;
            if c.shared || c.descriptor_idx.is_some() || c.describes_idx.is_some() {
                return Err(unsupported());
            }
            let kinds = &self.kinds[..];
            let field = |f: &wasmparser::FieldType| -> Result<FieldType, SignatureError> {
                Ok(FieldType {
                    mutable: f.mutable,
                    storage: match f.element_type {
                        wasmparser::StorageType::I8 => StorageType::I8,
                        wasmparser::StorageType::I16 => StorageType::I16,
                        wasmparser::StorageType::Val(v) => {
                            StorageType::Val(ValType::from_wasm(v, kinds)?)
                        }
                    },
                })
            };
            let composite = match &c.inner {
                wasmparser::CompositeInnerType::Func(f) => {
                    CompositeType::Func(Signature::from_wasm(f, kinds)?)
                }
                wasmparser::CompositeInnerType::Struct(s) => {
                    CompositeType::Struct(s.fields.iter().map(field).collect::<Result<_, _>>()?)
                }
                wasmparser::CompositeInnerType::Array(a) => CompositeType::Array(field(&a.0)?),
                wasmparser::CompositeInnerType::Cont(_) => return Err(unsupported()),
            };
            let supertype = match ty.supertype_idxs.as_slice() {
                [] => None,
                [one] => match one.unpack() {
                    wasmparser::UnpackedIndex::Module(i) => Some(TypeIndex::Module(i)),
                    wasmparser::UnpackedIndex::RecGroup(i) => Some(TypeIndex::RecGroup(i)),
                    _ => return Err(unsupported()),
                },
                _ => return Err(unsupported()),
            };
            Ok(SubType {
                is_final: ty.is_final,
                supertype,
                composite,
            })
        }
    }
}
#[cfg(feature = "wasmparser")]
pub use from_wasmparser::ModuleTypes;
