//! Test values: a deterministic generator that favours edge values, and the
//! bit-level comparison of what a `ValRaw` slot carries. Types here are
//! trampoline types (`Signature::trampoline_type`): their references are
//! pointers.

use springboard_environ::{Signature, ValType};
use springboard_vm_abi::ValRaw;

/// How many bytes of a slot a value of `ty` defines on this host: what a
/// reader may look at (see `ValRaw`).
pub fn defined_bytes(ty: ValType) -> usize {
    match ty {
        ValType::I32 | ValType::F32 => 4,
        ValType::I64 | ValType::F64 => 8,
        ValType::V128 => 16,
        ValType::Ref(_) => core::mem::size_of::<usize>(),
    }
}

/// Whether `got` carries the same value of `ty` as `want`: the bytes the
/// type defines, and nothing else (Wasmtime 17 leaves the rest of an `i32`
/// slot as it was).
pub fn same_bits(ty: ValType, got: ValRaw, want: ValRaw) -> bool {
    let n = defined_bytes(ty);
    got.to_le_bytes()[..n] == want.to_le_bytes()[..n]
}

/// Whether a slot Springboard's generated code wrote for `ty` keeps its
/// promise: an `i32` or `f32` zero-extended to 64 bits.
pub fn zero_extended(ty: ValType, slot: ValRaw) -> bool {
    match ty {
        ValType::I32 | ValType::F32 => slot.to_le_bytes()[4..8] == [0; 4],
        _ => true,
    }
}

/// `value` of `ty` with every byte past the ones its type defines set to
/// `poison`: what a reader must not look at.
pub fn poisoned(ty: ValType, value: ValRaw, poison: u8) -> ValRaw {
    let mut bytes = value.to_le_bytes();
    bytes[defined_bytes(ty)..].fill(poison);
    ValRaw::from_le_bytes(bytes)
}

/// A small deterministic generator (SplitMix64) of test values, so that a
/// failing seed reproduces anywhere.
#[derive(Clone, Debug)]
pub struct ValueGen(u64);

impl ValueGen {
    /// A generator from a seed.
    pub fn new(seed: u64) -> ValueGen {
        ValueGen(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value of `ty`: half the time an edge value, otherwise random bits.
    pub fn value(&mut self, ty: ValType) -> ValRaw {
        let edges = edge_values(ty);
        let r = self.next_u64();
        if r & 1 == 0 {
            return edges[(r >> 1) as usize % edges.len()];
        }
        let wide = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        match ty {
            ValType::I32 | ValType::F32 => ValRaw::u32(wide as u32),
            ValType::I64 | ValType::F64 => ValRaw::u64(wide as u64),
            ValType::V128 => ValRaw::v128(wide),
            ValType::Ref(_) => ValRaw::u64(wide as usize as u64),
        }
    }

    /// One value per type in `tys`.
    pub fn values(&mut self, tys: &[ValType]) -> Vec<ValRaw> {
        tys.iter().map(|&t| self.value(t)).collect()
    }
}

/// The values most likely to expose a mistake for `ty`: zero, extremes,
/// sign bits, NaN payloads, `-0.0`, asymmetric byte patterns.
pub fn edge_values(ty: ValType) -> Vec<ValRaw> {
    match ty {
        ValType::I32 => [0, 1, -1, i32::MIN, i32::MAX, 0x0102_0304]
            .map(ValRaw::i32)
            .to_vec(),
        ValType::I64 => [0, -1, i64::MIN, i64::MAX, 0x0102_0304_0506_0708]
            .map(ValRaw::i64)
            .to_vec(),
        ValType::F32 => [
            0x8000_0000,
            0x7fc0_0000,
            0x7fa0_0001,
            0xffc0_1234,
            0x7f80_0000,
            1,
            u32::MAX,
        ]
        .map(ValRaw::f32)
        .to_vec(),
        ValType::F64 => [
            0x8000_0000_0000_0000,
            0x7ff8_0000_0000_0000,
            0x7ff4_0000_0000_0001,
            0xfff8_dead_beef_0001,
            0xfff0_0000_0000_0000,
            1,
        ]
        .map(ValRaw::f64)
        .to_vec(),
        ValType::V128 => [
            0,
            u128::MAX,
            0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100,
            1 << 127,
            1,
        ]
        .map(ValRaw::v128)
        .to_vec(),
        ValType::Ref(_) => [0, 8, usize::MAX as u64 & !7, 0x1234_5670]
            .map(ValRaw::u64)
            .to_vec(),
    }
}

/// Whether this host's target carries `sig` (see
/// [`Isa::refusal`](springboard_compiler::Isa::refusal)).
pub fn supported_here(sig: &Signature) -> bool {
    springboard_compiler::Isa::host().is_some_and(|isa| isa.refusal(sig).is_none())
}

/// What the signatures [`supported_here`] leaves out are, for a skip.
pub const REFUSED: &str = "signatures, which this host's target refuses by design (Isa::refusal)";

/// A random signature over `types`: usually a few parameters, one in eight
/// up to 1,000; up to six results, one in eight up to sixteen.
pub fn random_signature(values: &mut ValueGen, types: &[ValType]) -> Signature {
    let mut pick = |small: u64, large: u64| -> Vec<ValType> {
        let max = if values.next_u64().is_multiple_of(8) {
            large
        } else {
            small
        };
        let len = (values.next_u64() % (max + 1)) as usize;
        (0..len)
            .map(|_| types[(values.next_u64() % types.len() as u64) as usize])
            .collect()
    };
    let params = pick(24, 1000);
    let results = pick(6, 16);
    Signature::new(&params, &results).expect("within limits")
}

/// Values of `tys` for case `i`: edge values (NaN payloads, -0.0, extremes;
/// shifted by `shift`) at every other slot, random values at the rest.
pub fn case_values(values: &mut ValueGen, tys: &[ValType], i: usize, shift: usize) -> Vec<ValRaw> {
    tys.iter()
        .enumerate()
        .map(|(k, &t)| {
            if (i + k).is_multiple_of(2) {
                let e = edge_values(t);
                e[(k + shift) % e.len()]
            } else {
                values.value(t)
            }
        })
        .collect()
}
