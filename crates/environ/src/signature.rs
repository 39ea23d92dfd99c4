//! [`Signature`] and [`ValType`]: the function types trampolines are made for.

use core::fmt;
use std::sync::Arc;

/// The most parameters a signature may have (the limit of the Wasm JS API).
pub const MAX_PARAMS: usize = 1000;
/// The most results a signature may have (the limit of the Wasm JS API).
pub const MAX_RESULTS: usize = 1000;

/// A WebAssembly value type that trampolines can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ValType {
    /// 32-bit integer.
    I32 = 0,
    /// 64-bit integer.
    I64 = 1,
    /// 32-bit IEEE float, carried as bits.
    F32 = 2,
    /// 64-bit IEEE float, carried as bits.
    F64 = 3,
    /// 128-bit SIMD vector.
    V128 = 4,
    /// Nullable function reference (a `*mut VMFuncRef`).
    FuncRef = 5,
    /// Nullable external reference (an opaque host pointer).
    ExternRef = 6,
}

impl ValType {
    /// Every supported type.
    pub const ALL: [ValType; 7] = [
        ValType::I32,
        ValType::I64,
        ValType::F32,
        ValType::F64,
        ValType::V128,
        ValType::FuncRef,
        ValType::ExternRef,
    ];

    /// Size in bytes of the value in registers and in the native results
    /// area, for a target with pointers of `pointer_bytes`.
    pub const fn byte_size(self, pointer_bytes: u8) -> u32 {
        match self {
            ValType::I32 | ValType::F32 => 4,
            ValType::I64 | ValType::F64 => 8,
            ValType::V128 => 16,
            ValType::FuncRef | ValType::ExternRef => pointer_bytes as u32,
        }
    }

    /// The one-letter code used in symbol names and the signature encoding.
    pub const fn code(self) -> u8 {
        match self {
            ValType::I32 => b'i',
            ValType::I64 => b'I',
            ValType::F32 => b'f',
            ValType::F64 => b'F',
            ValType::V128 => b'v',
            ValType::FuncRef => b'r',
            ValType::ExternRef => b'e',
        }
    }

    /// The type with the given [`code`](Self::code).
    pub fn from_code(code: u8) -> Option<ValType> {
        ValType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The type's name in the WebAssembly text format.
    pub const fn name(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(feature = "wasmparser")]
impl TryFrom<wasmparser::ValType> for ValType {
    type Error = SignatureError;

    fn try_from(ty: wasmparser::ValType) -> Result<Self, SignatureError> {
        use wasmparser::{RefType, ValType as W};
        Ok(match ty {
            W::I32 => ValType::I32,
            W::I64 => ValType::I64,
            W::F32 => ValType::F32,
            W::F64 => ValType::F64,
            W::V128 => ValType::V128,
            W::Ref(r) if r == RefType::FUNCREF => ValType::FuncRef,
            W::Ref(r) if r == RefType::EXTERNREF => ValType::ExternRef,
            W::Ref(r) => return Err(SignatureError::UnsupportedType(r.to_string())),
        })
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A value type other than i32, i64, f32, f64, v128, funcref, externref.
    #[error(
        "unsupported value type `{0}` (supported: i32, i64, f32, f64, v128, funcref, externref)"
    )]
    UnsupportedType(String),
    /// More parameters or results than [`MAX_PARAMS`] / [`MAX_RESULTS`].
    #[error("too many {what}: {count} (at most {max})")]
    TooMany {
        /// `"parameters"` or `"results"`.
        what: &'static str,
        /// How many the signature has.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes that are not a signature encoding (see [`Signature::decode`]).
    #[error("malformed signature encoding: {0}")]
    Malformed(&'static str),
}

/// A function type that trampolines can be made for: at most [`MAX_PARAMS`]
/// parameters and [`MAX_RESULTS`] results, each of a supported [`ValType`].
///
/// Cheap to clone (shared). Displays in WebAssembly text form, e.g.
/// `(func (param i32 i64) (result f32))`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signature {
    /// Parameters followed by results, so one allocation holds both.
    types: Arc<[ValType]>,
    params: usize,
}

impl Signature {
    /// A signature, if it is within the arity limits.
    pub fn new(params: &[ValType], results: &[ValType]) -> Result<Signature, SignatureError> {
        check_count("parameters", params.len(), MAX_PARAMS)?;
        check_count("results", results.len(), MAX_RESULTS)?;
        Ok(Signature {
            types: params.iter().chain(results).copied().collect(),
            params: params.len(),
        })
    }

    /// The signature of a parsed WebAssembly function type, or an error
    /// naming the first unsupported type or the exceeded limit.
    #[cfg(feature = "wasmparser")]
    pub fn from_wasm(ty: &wasmparser::FuncType) -> Result<Signature, SignatureError> {
        let convert = |types: &[wasmparser::ValType]| {
            types
                .iter()
                .map(|&t| ValType::try_from(t))
                .collect::<Result<Vec<_>, _>>()
        };
        check_count("parameters", ty.params().len(), MAX_PARAMS)?;
        check_count("results", ty.results().len(), MAX_RESULTS)?;
        Signature::new(&convert(ty.params())?, &convert(ty.results())?)
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

    /// Appends the binary encoding: parameter count and result count as
    /// little-endian `u16`, then one [`ValType::code`] byte per type.
    pub fn encode(&self, out: &mut Vec<u8>) {
        // Both counts are at most 1000, so they fit a u16.
        out.extend_from_slice(&(self.params().len() as u16).to_le_bytes());
        out.extend_from_slice(&(self.results().len() as u16).to_le_bytes());
        out.extend(self.types.iter().map(|t| t.code()));
    }

    /// Decodes one signature from the front of `bytes`, returning it and the
    /// number of bytes it took.
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

    #[test]
    fn displays_in_wasm_text_form() {
        let sig = Signature::new(&[I32, F64], &[V128, ExternRef]).unwrap();
        assert_eq!(
            sig.to_string(),
            "(func (param i32 f64) (result v128 externref))"
        );
        assert_eq!(Signature::new(&[], &[]).unwrap().to_string(), "(func)");
        assert_eq!(
            Signature::new(&[], &[FuncRef]).unwrap().to_string(),
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
        use wasmparser::{HeapType, RefType, ValType as W};
        let ty = wasmparser::FuncType::new([W::I32, W::FUNCREF, W::EXTERNREF], [W::V128]);
        let sig = Signature::from_wasm(&ty).unwrap();
        assert_eq!(
            sig.to_string(),
            "(func (param i32 funcref externref) (result v128))"
        );
        let non_null = RefType::new(false, HeapType::FUNC).unwrap();
        let ty = wasmparser::FuncType::new([W::Ref(non_null)], []);
        let err = Signature::from_wasm(&ty).unwrap_err();
        assert!(
            matches!(&err, SignatureError::UnsupportedType(t) if t.contains("func")),
            "{err}"
        );
    }

    #[test]
    fn mangling_is_distinct_per_signature() {
        let a = Signature::new(&[I32], &[]).unwrap();
        let b = Signature::new(&[], &[I32]).unwrap();
        assert_eq!(a.mangled(), "pi_r");
        assert_eq!(b.mangled(), "p_ri");
    }
}
