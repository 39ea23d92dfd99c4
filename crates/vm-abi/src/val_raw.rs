//! [`ValRaw`]: one untyped 16-byte slot of the array calling convention.

use core::ffi::c_void;
use core::fmt;

/// One untyped WebAssembly value as it travels through the *array* calling
/// convention ([`VMArrayCallFunction`](crate::VMArrayCallFunction)) and the
/// legacy [`VMTrampoline`](crate::VMTrampoline).
///
/// * **Written by** whoever produces a value: the caller writes the arguments
///   into slots `0..params`, the callee overwrites slots `0..results` with the
///   results.
/// * **Read by** the other side, which must know the signature: a `ValRaw`
///   carries no type tag.
/// * **Layout**: 16 bytes, alignment 16 (Wasmtime 17's: its `ValRaw` is a
///   union with a `u128` member), always **little-endian** in memory whatever
///   the host, so that machine code can load a slot with a fixed, endian-aware
///   memory access. Floats travel as raw bits, so NaN payloads and `-0.0`
///   survive; `v128` uses all 16 bytes; `funcref`/`externref` are pointers
///   stored like a `u64`.
/// * **What a reader may assume**: only the bytes its type defines — 4 for
///   `i32`/`f32`, 8 for `i64`/`f64`, pointer-sized for references, 16 for
///   `v128`. Every getter here reads exactly those. Springboard's writers
///   zero-extend `i32` and `f32` to 64 bits and zero the rest, but Wasmtime
///   17's array trampolines store `i32`/`f32` results with 4-byte stores,
///   leaving bytes 4..16 as they were: never rely on them.
///
/// Equal in size, alignment and stride to Wasmtime 17's `ValRaw` (and 8's);
/// `crates/vm-abi/tests/wasmtime_compat.rs` proves the layout and the bit
/// patterns against both. A buffer only 8-aligned crashes Wasmtime 17's host
/// shims on an aligned vector load.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C, align(16))]
pub struct ValRaw {
    bytes: [u8; 16],
}

impl ValRaw {
    /// The all-zero slot (`i32 0`, `f64 +0.0`, null reference...).
    pub const ZERO: ValRaw = ValRaw { bytes: [0; 16] };

    /// A slot holding the little-endian bytes of `bits`, the common
    /// representation every constructor funnels into.
    #[inline]
    pub const fn v128(bits: u128) -> ValRaw {
        ValRaw {
            bytes: bits.to_le_bytes(),
        }
    }

    /// An `i32`, stored zero-extended (not sign-extended) to 64 bits (a
    /// reader must not rely on the extension: see the type's docs).
    #[inline]
    pub const fn i32(value: i32) -> ValRaw {
        ValRaw::u64(value as u32 as u64)
    }

    /// A `u32` viewed as a wasm `i32`.
    #[inline]
    pub const fn u32(value: u32) -> ValRaw {
        ValRaw::u64(value as u64)
    }

    /// An `i64`.
    #[inline]
    pub const fn i64(value: i64) -> ValRaw {
        ValRaw::u64(value as u64)
    }

    /// A `u64` viewed as a wasm `i64`.
    #[inline]
    pub const fn u64(value: u64) -> ValRaw {
        ValRaw::v128(value as u128)
    }

    /// An `f32` given as its raw IEEE-754 bits (see [`f32::to_bits`]).
    #[inline]
    pub const fn f32(bits: u32) -> ValRaw {
        ValRaw::u32(bits)
    }

    /// An `f64` given as its raw IEEE-754 bits (see [`f64::to_bits`]).
    #[inline]
    pub const fn f64(bits: u64) -> ValRaw {
        ValRaw::u64(bits)
    }

    /// A `funcref`: a pointer to a `VMFuncRef`, or null.
    #[inline]
    pub fn funcref(ptr: *mut c_void) -> ValRaw {
        ValRaw::u64(ptr as usize as u64)
    }

    /// An `externref`: an opaque host pointer, or null.
    #[inline]
    pub fn externref(ptr: *mut c_void) -> ValRaw {
        ValRaw::u64(ptr as usize as u64)
    }

    /// The slot's 16 bytes read as a little-endian `u128`.
    #[inline]
    pub const fn get_v128(self) -> u128 {
        u128::from_le_bytes(self.bytes)
    }

    /// The low 64 bits of the slot (bytes 0..8; the rest do not matter).
    #[inline]
    pub const fn get_u64(self) -> u64 {
        self.get_v128() as u64
    }

    /// The low 64 bits of the slot as an `i64`.
    #[inline]
    pub const fn get_i64(self) -> i64 {
        self.get_u64() as i64
    }

    /// The low 32 bits of the slot (bytes 0..4; the rest do not matter).
    #[inline]
    pub const fn get_u32(self) -> u32 {
        self.get_v128() as u32
    }

    /// The low 32 bits of the slot as an `i32`.
    #[inline]
    pub const fn get_i32(self) -> i32 {
        self.get_u32() as i32
    }

    /// The raw bits of an `f32` (use [`f32::from_bits`]).
    #[inline]
    pub const fn get_f32(self) -> u32 {
        self.get_u32()
    }

    /// The raw bits of an `f64` (use [`f64::from_bits`]).
    #[inline]
    pub const fn get_f64(self) -> u64 {
        self.get_u64()
    }

    /// A `funcref` pointer (bytes `0..size_of::<usize>()`).
    #[inline]
    pub fn get_funcref(self) -> *mut c_void {
        self.get_usize() as *mut c_void
    }

    /// An `externref` pointer (bytes `0..size_of::<usize>()`).
    #[inline]
    pub fn get_externref(self) -> *mut c_void {
        self.get_usize() as *mut c_void
    }

    /// A pointer-sized value: 4 bytes on 32-bit hosts, 8 on 64-bit ones.
    #[inline]
    const fn get_usize(self) -> usize {
        if core::mem::size_of::<usize>() == 4 {
            self.get_u32() as usize
        } else {
            self.get_u64() as usize
        }
    }

    /// The 16 bytes exactly as they lie in memory.
    #[inline]
    pub const fn to_le_bytes(self) -> [u8; 16] {
        self.bytes
    }

    /// A slot from its 16 bytes as they lie in memory.
    #[inline]
    pub const fn from_le_bytes(bytes: [u8; 16]) -> ValRaw {
        ValRaw { bytes }
    }
}

impl fmt::Debug for ValRaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValRaw({:#034x})", self.get_v128())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_and_zero_extend() {
        for v in [0, 1, -1, i32::MIN, i32::MAX, 0x1234_5678] {
            let raw = ValRaw::i32(v);
            assert_eq!(raw.get_i32(), v);
            assert_eq!(
                raw.get_u64(),
                v as u32 as u64,
                "i32 {v} must be zero-extended"
            );
            assert_eq!(raw.get_v128() >> 64, 0);
        }
        for v in [0, u32::MAX, 0x8000_0000] {
            assert_eq!(ValRaw::u32(v).get_u32(), v);
            assert_eq!(ValRaw::u32(v).get_u64(), u64::from(v));
        }
        for v in [0, 1, -1, i64::MIN, i64::MAX, 0x0123_4567_89ab_cdef] {
            let raw = ValRaw::i64(v);
            assert_eq!(raw.get_i64(), v);
            assert_eq!(raw.get_v128() >> 64, 0);
        }
        assert_eq!(ValRaw::u64(u64::MAX).get_u64(), u64::MAX);
    }

    #[test]
    fn floats_keep_every_bit() {
        let f32s = [
            0.0f32.to_bits(),
            (-0.0f32).to_bits(),
            f32::NAN.to_bits(),
            0x7fa0_0001, // signalling NaN with payload
            0xffc0_1234, // negative quiet NaN with payload
            f32::INFINITY.to_bits(),
            f32::MIN_POSITIVE.to_bits(),
            1, // smallest subnormal
        ];
        for bits in f32s {
            assert_eq!(ValRaw::f32(bits).get_f32(), bits);
            assert_eq!(ValRaw::f32(bits).get_u64(), u64::from(bits));
        }
        let f64s = [
            0.0f64.to_bits(),
            (-0.0f64).to_bits(),
            f64::NAN.to_bits(),
            0x7ff4_0000_0000_0001,
            0xfff8_dead_beef_0001,
            f64::NEG_INFINITY.to_bits(),
            1,
        ];
        for bits in f64s {
            assert_eq!(ValRaw::f64(bits).get_f64(), bits);
        }
    }

    #[test]
    fn v128_and_references_round_trip() {
        for v in [
            0,
            u128::MAX,
            0x0011_2233_4455_6677_8899_aabb_ccdd_eeff,
            1 << 127,
        ] {
            assert_eq!(ValRaw::v128(v).get_v128(), v);
        }
        let mut target = 7u32;
        let p = (&raw mut target).cast::<c_void>();
        assert_eq!(ValRaw::funcref(p).get_funcref(), p);
        assert_eq!(ValRaw::externref(p).get_externref(), p);
        assert!(
            ValRaw::funcref(core::ptr::null_mut())
                .get_funcref()
                .is_null()
        );
    }

    /// Every getter reads only the bytes of its type: whatever lies past
    /// them (Wasmtime 17 leaves bytes 4..16 of an `i32` result as they were)
    /// changes nothing.
    #[test]
    fn getters_ignore_the_bytes_past_their_type() {
        for poison in [0u8, 0xff, 0xa5] {
            let with = |low: &[u8]| {
                let mut bytes = [poison; 16];
                bytes[..low.len()].copy_from_slice(low);
                ValRaw::from_le_bytes(bytes)
            };
            let v = with(&(-2i32).to_le_bytes());
            assert_eq!((v.get_i32(), v.get_u32()), (-2, 0xffff_fffe));
            let v = with(&0x7fa0_0001u32.to_le_bytes());
            assert_eq!(v.get_f32(), 0x7fa0_0001);
            let v = with(&i64::MIN.to_le_bytes());
            assert_eq!((v.get_i64(), v.get_f64()), (i64::MIN, 1 << 63));
            let p = 0x1234_5670usize;
            let v = with(&p.to_le_bytes());
            assert_eq!(v.get_funcref() as usize, p);
            assert_eq!(v.get_externref() as usize, p);
        }
    }

    #[test]
    fn memory_is_little_endian() {
        let raw = ValRaw::i32(0x0102_0304);
        assert_eq!(raw.to_le_bytes()[..8], [4, 3, 2, 1, 0, 0, 0, 0]);
        let raw = ValRaw::v128(0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100);
        let expect: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(raw.to_le_bytes(), expect);
        assert_eq!(ValRaw::from_le_bytes(expect), raw);
    }
}
