//! [`Signature`] and [`ValType`]: the function types trampolines are made for.

use crate::val_type::{Composite, GcRefWidth, SignatureError, TypeIndex, ValType};
use core::fmt;
use std::sync::Arc;

/// The most parameters a signature may have (the limit of the Wasm JS API).
pub const MAX_PARAMS: usize = 1000;
/// The most results a signature may have (the limit of the Wasm JS API).
pub const MAX_RESULTS: usize = 1000;

/// A function type that trampolines can be made for: at most [`MAX_PARAMS`]
/// parameters and [`MAX_RESULTS`] results, each of a supported [`ValType`].
///
/// Cheap to clone (shared). Displays in WebAssembly text form, e.g.
/// `(func (param i32 i64) (result f32))`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Signature {
    /// Parameters followed by results, so one allocation holds both.
    types: Arc<[ValType]>,
    params: usize,
    /// A keyed digest of the above, computed once: registries hash
    /// signatures often, and hashing it is one write. Keyed per process
    /// (`RandomState`), so inputs cannot be chosen to collide.
    digest: u64,
}

/// Hashes the digest only (equal signatures have equal digests).
impl core::hash::Hash for Signature {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.digest);
    }
}

fn digest(types: &[ValType], params: usize) -> u64 {
    use core::hash::{BuildHasher, Hash, Hasher};
    static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let mut h = KEY.get_or_init(Default::default).build_hasher();
    params.hash(&mut h);
    types.hash(&mut h);
    h.finish()
}

impl Signature {
    fn from_parts(types: Arc<[ValType]>, params: usize) -> Signature {
        let digest = digest(&types, params);
        Signature {
            types,
            params,
            digest,
        }
    }
}

impl Signature {
    /// A signature, if it is within the arity limits.
    pub fn new(params: &[ValType], results: &[ValType]) -> Result<Signature, SignatureError> {
        check_count("parameters", params.len(), MAX_PARAMS)?;
        check_count("results", results.len(), MAX_RESULTS)?;
        Ok(Signature::from_parts(
            params.iter().chain(results).copied().collect(),
            params.len(),
        ))
    }

    /// The signature of a parsed WebAssembly function type, or an error
    /// naming the first unsupported type or the exceeded limit. References
    /// to defined types keep their module index and take their kind from
    /// `kinds` (see [`ValType::from_wasm`]); `&()` refuses them.
    #[cfg(feature = "wasmparser")]
    pub fn from_wasm(
        ty: &wasmparser::FuncType,
        kinds: &(impl crate::val_type::TypeKinds + ?Sized),
    ) -> Result<Signature, SignatureError> {
        let convert = |types: &[wasmparser::ValType]| {
            types
                .iter()
                .map(|&t| ValType::from_wasm(t, kinds))
                .collect::<Result<Vec<_>, _>>()
        };
        check_count("parameters", ty.params().len(), MAX_PARAMS)?;
        check_count("results", ty.results().len(), MAX_RESULTS)?;
        Signature::new(&convert(ty.params())?, &convert(ty.results())?)
    }

    /// The signature trampolines are made for: each type's
    /// [`trampoline type`](ValType::trampoline_type). Signatures with the
    /// same trampoline type share every trampoline.
    pub fn trampoline_type(&self, gc: GcRefWidth) -> Signature {
        if self.types.iter().all(|t| t.trampoline_type(gc) == *t) {
            return self.clone();
        }
        Signature::from_parts(
            self.types.iter().map(|t| t.trampoline_type(gc)).collect(),
            self.params,
        )
    }

    /// Whether `self` structurally matches `other`: the same arity,
    /// parameters contravariant and results covariant by
    /// [`ValType::matches`] (`concrete(a, b)` for defined types). This is
    /// the rule for a declared supertype, and Wasmtime's
    /// `FuncType::matches`; it is not `call_indirect`'s relation between
    /// types (declared subtyping).
    pub fn matches(
        &self,
        other: &Signature,
        concrete: impl Fn(TypeIndex, TypeIndex) -> bool,
    ) -> bool {
        let val = |a: ValType, b: ValType| a.matches(b, &concrete);
        self.params().len() == other.params().len()
            && self.results().len() == other.results().len()
            && self
                .params()
                .iter()
                .zip(other.params())
                .all(|(&x, &y)| val(y, x))
            && self
                .results()
                .iter()
                .zip(other.results())
                .all(|(&x, &y)| val(x, y))
    }

    /// Whether this is its own trampoline type under either GC width: no
    /// reference but `funcref` and `externref`.
    pub fn is_trampoline_type(&self) -> bool {
        self.types.iter().all(|t| ValType::ALL.contains(t))
    }

    /// The same signature with each type index replaced by `f(kind, index)`.
    pub fn map_index<E>(
        &self,
        mut f: impl FnMut(Composite, TypeIndex) -> Result<TypeIndex, E>,
    ) -> Result<Signature, E> {
        // Most signatures refer to no defined type: share them.
        if self.type_indices().next().is_none() {
            return Ok(self.clone());
        }
        Ok(Signature::from_parts(
            self.types
                .iter()
                .map(|t| t.map_index(&mut f))
                .collect::<Result<_, E>>()?,
            self.params,
        ))
    }

    /// Every defined type the signature refers to.
    pub fn type_indices(&self) -> impl Iterator<Item = TypeIndex> + '_ {
        self.types
            .iter()
            .filter_map(|t| t.as_ref().and_then(|r| r.heap().concrete()))
    }

    /// The parameter types.
    #[inline]
    pub fn params(&self) -> &[ValType] {
        &self.types[..self.params]
    }

    /// The result types.
    #[inline]
    pub fn results(&self) -> &[ValType] {
        &self.types[self.params..]
    }

    /// How many [`ValRaw`](springboard_vm_abi::ValRaw) slots an array call of
    /// this signature needs: `max(params, results)`.
    #[inline]
    pub fn array_len(&self) -> usize {
        self.params().len().max(self.results().len())
    }

    /// The signature's part of symbol names: `p` and the parameter codes,
    /// `_r` and the result codes (see [`ValType::code`]); e.g.
    /// `(func (param i32 f64) (result i64))` is `piF_rI`.
    pub fn mangled(&self) -> String {
        let mut s = String::with_capacity(self.types.len() + 3);
        self.push_mangled(&mut s);
        s
    }

    /// Appends [`mangled`](Self::mangled) to `out`.
    pub fn push_mangled(&self, out: &mut String) {
        out.push('p');
        out.extend(self.params().iter().map(|t| char::from(t.code())));
        out.push_str("_r");
        out.extend(self.results().iter().map(|t| char::from(t.code())));
    }

    /// Appends the binary encoding of a trampoline type: parameter count and
    /// result count as little-endian `u16`, then one [`ValType::code`] byte
    /// per type (a reference's static type is not encoded).
    pub fn encode(&self, out: &mut Vec<u8>) {
        // Both counts are at most 1000, so they fit a u16.
        out.extend_from_slice(&(self.params().len() as u16).to_le_bytes());
        out.extend_from_slice(&(self.results().len() as u16).to_le_bytes());
        out.extend(self.types.iter().map(|t| t.code()));
    }

    /// Decodes one trampoline type from the front of `bytes`, returning it
    /// and the number of bytes it took.
    pub fn decode(bytes: &[u8]) -> Result<(Signature, usize), SignatureError> {
        let count = |at: usize| {
            bytes
                .get(at..at + 2)
                .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
                .ok_or(SignatureError::Malformed("truncated header"))
        };
        let (params, results) = (count(0)?, count(2)?);
        let end = 4 + params + results;
        let codes = bytes
            .get(4..end)
            .ok_or(SignatureError::Malformed("truncated type list"))?;
        let types = codes
            .iter()
            .map(|&c| ValType::from_code(c).ok_or(SignatureError::Malformed("unknown type code")))
            .collect::<Result<Vec<_>, _>>()?;
        let (p, r) = types.split_at(params);
        Ok((Signature::new(p, r)?, end))
    }
}

fn check_count(what: &'static str, count: usize, max: usize) -> Result<(), SignatureError> {
    if count > max {
        return Err(SignatureError::TooMany { what, count, max });
    }
    Ok(())
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(func")?;
        for (keyword, types) in [("param", self.params()), ("result", self.results())] {
            if !types.is_empty() {
                write!(f, " ({keyword}")?;
                for t in types {
                    write!(f, " {t}")?;
                }
                f.write_str(")")?;
            }
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ValType::*;
    const FUNCREF: ValType = ValType::FUNCREF;
    const EXTERNREF: ValType = ValType::EXTERNREF;

    #[test]
    fn displays_in_wasm_text_form() {
        let sig = Signature::new(&[I32, F64], &[V128, EXTERNREF]).unwrap();
        assert_eq!(
            sig.to_string(),
            "(func (param i32 f64) (result v128 externref))"
        );
        assert_eq!(Signature::new(&[], &[]).unwrap().to_string(), "(func)");
        assert_eq!(
            Signature::new(&[], &[FUNCREF]).unwrap().to_string(),
            "(func (result funcref))"
        );
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let sig = Signature::new(&ValType::ALL, &[I64, I32]).unwrap();
        let mut bytes = Vec::new();
        sig.encode(&mut bytes);
        bytes.push(0xAA); // trailing data is not part of the signature
        assert_eq!(
            Signature::decode(&bytes).unwrap(),
            (sig.clone(), bytes.len() - 1)
        );
        for cut in 0..bytes.len() - 1 {
            assert!(
                Signature::decode(&bytes[..cut]).is_err(),
                "accepted a cut at {cut}"
            );
        }
        let mut bad = bytes.clone();
        bad[5] = b'z';
        assert_eq!(
            Signature::decode(&bad),
            Err(SignatureError::Malformed("unknown type code"))
        );
        let too_long = [0xE9, 0x03, 0, 0]; // 1001 params, none present
        assert!(Signature::decode(&too_long).is_err());
    }

    #[test]
    fn arity_limits_are_enforced() {
        assert!(Signature::new(&[I32; MAX_PARAMS], &[F32; MAX_RESULTS]).is_ok());
        assert_eq!(
            Signature::new(&[I32; MAX_PARAMS + 1], &[]),
            Err(SignatureError::TooMany {
                what: "parameters",
                count: 1001,
                max: 1000
            })
        );
        assert!(Signature::new(&[], &[I32; MAX_RESULTS + 1]).is_err());
    }

    #[cfg(feature = "wasmparser")]
    #[test]
    fn wasmparser_types_convert_or_name_the_unsupported_one() {
        use crate::val_type::{Composite, HeapType as H, RefType as R};
        use wasmparser::{HeapType, RefType, UnpackedIndex, ValType as W};
        let ty = wasmparser::FuncType::new([W::I32, W::FUNCREF, W::EXTERNREF], [W::V128]);
        let sig = Signature::from_wasm(&ty, &()).unwrap();
        assert_eq!(
            sig.to_string(),
            "(func (param i32 funcref externref) (result v128))"
        );
        let non_null = RefType::new(false, HeapType::FUNC).unwrap();
        let exn_heap = HeapType::Abstract {
            shared: false,
            ty: wasmparser::AbstractHeapType::Exn,
        };
        let exn = RefType::new(true, exn_heap).unwrap();
        let ty = wasmparser::FuncType::new([W::Ref(non_null)], [W::Ref(exn)]);
        assert_eq!(
            Signature::from_wasm(&ty, &()).unwrap().to_string(),
            "(func (param (ref func)) (result exnref))"
        );
        let concrete = RefType::new(false, HeapType::Concrete(UnpackedIndex::Module(1))).unwrap();
        let ty = wasmparser::FuncType::new([W::Ref(concrete)], []);
        let err = Signature::from_wasm(&ty, &()).unwrap_err();
        assert!(matches!(&err, SignatureError::UnsupportedType(_)), "{err}");
        let kinds = [Composite::Func, Composite::Struct];
        let sig = Signature::from_wasm(&ty, &kinds[..]).unwrap();
        let expected = R::new(false, H::Concrete(Composite::Struct, TypeIndex::Module(1)));
        assert_eq!(sig.params(), [ValType::Ref(expected)]);
        assert_eq!(sig.trampoline_type(GcRefWidth::Bits32).params(), [I32]);
    }

    #[test]
    fn mangling_is_distinct_per_signature() {
        let a = Signature::new(&[I32], &[]).unwrap();
        let b = Signature::new(&[], &[I32]).unwrap();
        assert_eq!(a.mangled(), "pi_r");
        assert_eq!(b.mangled(), "p_ri");
    }
}
