//! Proves bit-compatibility with the real Wasmtime crates: `VMFuncRef` and
//! `VMSharedSignatureIndex` against `wasmtime-environ = "=17.0.3"`, `ValRaw`
//! against `wasmtime-runtime` 17.0.3 and 8.0.1, and `VMTrampoline` against
//! `wasmtime-runtime = "=8.0.1"`.

#![cfg(not(windows))]

use core::mem::{align_of, size_of};
use springboard_vm_abi::{self as abi, PtrSize};
use wasmtime_environ::{HostPtr, Module, PtrSize as _, VMOffsets};
use wasmtime_runtime as wt;
use wasmtime_runtime17 as wt17;

/// Every `VMFuncRef` offset and size, from our `PtrSize` and from Wasmtime's.
fn ours(p: PtrSize) -> [u8; 7] {
    [
        p.vm_func_ref_native_call(),
        p.vm_func_ref_array_call(),
        p.vm_func_ref_wasm_call(),
        p.vm_func_ref_type_index(),
        p.vm_func_ref_vmctx(),
        p.size_of_vm_func_ref(),
        p.size_of_vmshared_signature_index(),
    ]
}

fn theirs<P: wasmtime_environ::PtrSize + Copy>(p: P) -> [u8; 7] {
    [
        p.vm_func_ref_native_call(),
        p.vm_func_ref_array_call(),
        p.vm_func_ref_wasm_call(),
        p.vm_func_ref_type_index(),
        p.vm_func_ref_vmctx(),
        p.size_of_vm_func_ref(),
        VMOffsets::new(p, &Module::new()).size_of_vmshared_signature_index(),
    ]
}

#[test]
fn func_ref_offsets_match_wasmtime_17_for_both_pointer_widths() {
    assert_eq!(ours(PtrSize::P32), theirs(4u8));
    assert_eq!(ours(PtrSize::P64), theirs(8u8));
    assert_eq!(ours(PtrSize::HOST), theirs(HostPtr.size()));
    // And the host answers agree with Rust's actual layout of our type.
    assert_eq!(
        size_of::<abi::VMFuncRef>(),
        usize::from(HostPtr.size_of_vm_func_ref())
    );
    assert_eq!(size_of::<abi::VMSharedSignatureIndex>(), 4);
}

const I32S: [i32; 6] = [0, 1, -1, i32::MIN, i32::MAX, 0x1234_5678];
const I64S: [i64; 5] = [0, -1, i64::MIN, i64::MAX, 0x0123_4567_89ab_cdef];
const F32S: [u32; 6] = [
    0x0000_0000,
    0x8000_0000,
    0x7fc0_0000,
    0x7fa0_0001,
    0xffc0_1234,
    0x7f80_0000,
];
const F64S: [u64; 5] = [
    0,
    0x8000_0000_0000_0000,
    0x7ff8_0000_0000_0000,
    0x7ff4_0000_0000_0001,
    0xfff8_dead_beef_0001,
];
const V128S: [u128; 4] = [
    0,
    u128::MAX,
    0x0011_2233_4455_6677_8899_aabb_ccdd_eeff,
    1 << 127,
];

/// How a release's `ValRaw` takes and gives references: Wasmtime 8 as a
/// `usize`, Wasmtime 17 as a `*mut c_void`.
trait Pointer {
    fn from_ptr(ptr: *mut core::ffi::c_void) -> Self;
    fn addr(self) -> usize;
}

impl Pointer for usize {
    fn from_ptr(ptr: *mut core::ffi::c_void) -> usize {
        ptr as usize
    }
    fn addr(self) -> usize {
        self
    }
}

impl Pointer for *mut core::ffi::c_void {
    fn from_ptr(ptr: *mut core::ffi::c_void) -> Self {
        ptr
    }
    fn addr(self) -> usize {
        self as usize
    }
}

/// The `ValRaw` checks, for one Wasmtime release's `ValRaw`.
macro_rules! val_raw_against {
    ($release:ident, $wt:ident) => {
        mod $release {
            use super::*;
            use $wt as wt;

            #[test]
            fn val_raw_has_the_same_size_alignment_and_stride() {
                assert_eq!(size_of::<abi::ValRaw>(), size_of::<wt::ValRaw>());
                // Wasmtime's is a union with a `u128`, which s390x aligns to
                // 8: there a Springboard buffer (16) suits Wasmtime, but not
                // the other way round (docs/ABI.md, "What runs where").
                if cfg!(target_arch = "s390x") {
                    assert_eq!(align_of::<wt::ValRaw>(), 8);
                    springboard_testing::skip("equal alignment: Wasmtime's ValRaw is 8-aligned on s390x, Springboard's 16");
                    return;
                }
                assert_eq!(align_of::<abi::ValRaw>(), align_of::<wt::ValRaw>());
                assert_eq!(size_of::<[abi::ValRaw; 3]>(), size_of::<[wt::ValRaw; 3]>());
                assert_eq!(
                    usize::from(PtrSize::HOST.align_of_val_raw()),
                    align_of::<wt::ValRaw>()
                );
            }

            /// The first `n` bytes of a Wasmtime `ValRaw` (a union whose
            /// constructors initialise only the member they set, so only
            /// those bytes may be read).
            fn their_bytes(v: &wt::ValRaw, n: usize) -> Vec<u8> {
                // SAFETY: every constructor used below initialises at least
                // the first `n` bytes of the 16-byte union, and `v` is live.
                unsafe {
                    core::slice::from_raw_parts((v as *const wt::ValRaw).cast::<u8>(), n).to_vec()
                }
            }

            /// Reinterprets our slot as Wasmtime's, as a buffer shared by
            /// both would.
            fn as_theirs(v: abi::ValRaw) -> wt::ValRaw {
                // SAFETY: both are 16 bytes; ours is fully initialised, and
                // every bit pattern is a valid value of Wasmtime's
                // plain-integer union.
                unsafe { core::mem::transmute::<abi::ValRaw, wt::ValRaw>(v) }
            }

            /// Reinterprets Wasmtime's slot as ours, after setting every byte
            /// past the `n` its constructor wrote to `poison`: what we read
            /// must not depend on them.
            fn as_ours(v: wt::ValRaw, n: usize, poison: u8) -> abi::ValRaw {
                let mut bytes = [poison; 16];
                bytes[..n].copy_from_slice(&their_bytes(&v, n));
                abi::ValRaw::from_le_bytes(bytes)
            }

            #[test]
            fn val_raw_bits_written_by_either_side_read_back_by_the_other() {
                for v in I32S {
                    assert_eq!(
                        their_bytes(&wt::ValRaw::i32(v), 8),
                        abi::ValRaw::i32(v).to_le_bytes()[..8]
                    );
                    assert_eq!(as_theirs(abi::ValRaw::i32(v)).get_i32(), v);
                    assert_eq!(as_theirs(abi::ValRaw::u32(v as u32)).get_u32(), v as u32);
                }
                for v in I64S {
                    assert_eq!(
                        their_bytes(&wt::ValRaw::i64(v), 8),
                        abi::ValRaw::i64(v).to_le_bytes()[..8]
                    );
                    assert_eq!(as_theirs(abi::ValRaw::i64(v)).get_i64(), v);
                    assert_eq!(as_theirs(abi::ValRaw::u64(v as u64)).get_u64(), v as u64);
                }
                for bits in F32S {
                    assert_eq!(
                        their_bytes(&wt::ValRaw::f32(bits), 4),
                        abi::ValRaw::f32(bits).to_le_bytes()[..4]
                    );
                    assert_eq!(as_theirs(abi::ValRaw::f32(bits)).get_f32(), bits);
                }
                for bits in F64S {
                    assert_eq!(
                        their_bytes(&wt::ValRaw::f64(bits), 8),
                        abi::ValRaw::f64(bits).to_le_bytes()[..8]
                    );
                    assert_eq!(as_theirs(abi::ValRaw::f64(bits)).get_f64(), bits);
                }
                for v in V128S {
                    assert_eq!(
                        their_bytes(&wt::ValRaw::v128(v), 16),
                        abi::ValRaw::v128(v).to_le_bytes()
                    );
                    assert_eq!(as_theirs(abi::ValRaw::v128(v)).get_v128(), v);
                }
                let mut target = 0u64;
                let ptr = (&raw mut target).cast::<core::ffi::c_void>();
                let n = size_of::<usize>();
                let addr = ptr as usize;
                assert_eq!(
                    their_bytes(&wt::ValRaw::funcref(Pointer::from_ptr(ptr)), n),
                    abi::ValRaw::funcref(ptr).to_le_bytes()[..n]
                );
                assert_eq!(
                    their_bytes(&wt::ValRaw::externref(Pointer::from_ptr(ptr)), n),
                    abi::ValRaw::externref(ptr).to_le_bytes()[..n]
                );
                assert_eq!(
                    as_theirs(abi::ValRaw::funcref(ptr)).get_funcref().addr(),
                    addr
                );
                assert_eq!(
                    as_theirs(abi::ValRaw::externref(ptr))
                        .get_externref()
                        .addr(),
                    addr
                );
            }

            /// Wasmtime 17 stores `i32`/`f32` results with 4-byte stores;
            /// whatever the rest of the slot holds, we read the same value.
            #[test]
            fn we_read_only_the_bytes_their_type_defines() {
                for poison in [0x00, 0xff, 0x5a] {
                    for v in I32S {
                        assert_eq!(as_ours(wt::ValRaw::i32(v), 4, poison).get_i32(), v);
                    }
                    for bits in F32S {
                        assert_eq!(as_ours(wt::ValRaw::f32(bits), 4, poison).get_f32(), bits);
                    }
                    for v in I64S {
                        assert_eq!(as_ours(wt::ValRaw::i64(v), 8, poison).get_i64(), v);
                    }
                    for bits in F64S {
                        assert_eq!(as_ours(wt::ValRaw::f64(bits), 8, poison).get_f64(), bits);
                    }
                }
            }
        }
    };
}

val_raw_against!(wasmtime_8, wt);
val_raw_against!(wasmtime_17, wt17);

/// A trampoline written against our `VMTrampoline` type: it calls the body
/// `(vmctx, caller, i64, f64) -> f64` and leaves `a * 2 + b` in slot 0.
unsafe extern "C" fn our_trampoline(
    callee: *mut abi::VMOpaqueContext,
    caller: *mut abi::VMContext,
    body: *const abi::VMFunctionBody,
    values: *mut abi::ValRaw,
) {
    type Body =
        unsafe extern "C" fn(*mut abi::VMOpaqueContext, *mut abi::VMContext, i64, f64) -> f64;
    // SAFETY: the test passes `body_fn`, which has exactly this signature,
    // and a buffer of two initialised slots.
    unsafe {
        let body: Body = core::mem::transmute(body);
        let a = (*values).get_i64();
        let b = f64::from_bits((*values.add(1)).get_f64());
        *values = abi::ValRaw::f64(body(callee, caller, a, b).to_bits());
    }
}

unsafe extern "C" fn body_fn(
    _callee: *mut abi::VMOpaqueContext,
    _caller: *mut abi::VMContext,
    a: i64,
    b: f64,
) -> f64 {
    a as f64 * 2.0 + b
}

#[test]
fn vm_trampoline_is_callable_as_wasmtime_8s_type() {
    let ours: abi::VMTrampoline = our_trampoline;
    // SAFETY: the two function-pointer types have the same ABI: the same
    // `extern "C"` convention over four pointer arguments, which is what this
    // test proves by calling through the Wasmtime type.
    let theirs: wt::VMTrampoline = unsafe { core::mem::transmute(ours) };
    // Aligned as Springboard's slots must be (Wasmtime's own are only
    // 8-aligned on s390x).
    #[repr(C, align(16))]
    struct Slots([wt::ValRaw; 2]);
    let mut slots = Slots([wt::ValRaw::i64(-21), wt::ValRaw::f64((-0.5f64).to_bits())]);
    let values = &mut slots.0;
    // SAFETY: `body_fn` matches what `our_trampoline` calls; null contexts are
    // never dereferenced by either function.
    unsafe {
        theirs(
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            body_fn as *const wt::VMFunctionBody,
            values.as_mut_ptr(),
        );
    }
    assert_eq!(values[0].get_f64(), (-42.5f64).to_bits());
}
