//! 32-bit values in native-convention registers: generated code leaves the
//! upper bits of an `i32` as they are (a wasm `i32.wrap_i64` makes such a
//! value), while riscv64's and s390x's C conventions widen 32-bit integers
//! to the whole register and LLVM relies on it there (`i64::from(a)` is a
//! bare move). Springboard's shims must read only the low 32 bits, and its
//! calls must read only the low 32 bits of a 32-bit result, on every host.

use springboard::vm::{VMNativeCallFunction, VMOpaqueContext};
use springboard::{AnyRef32, Engine, Func};
use std::ptr::NonNull;

type Ctx = *mut VMOpaqueContext;

/// A register holding `low` with `high` above it.
fn dirty(high: u32, low: u32) -> u64 {
    (u64::from(high) << 32) | u64::from(low)
}

/// Calls `f`'s native entry as generated code calls it: each 32-bit
/// argument in a whole register whose upper half is `high`.
fn call_dirty(f: &Func, high: u32, args: &[u32]) -> u64 {
    type One = unsafe extern "C" fn(Ctx, Ctx, u64) -> u64;
    type Two = unsafe extern "C" fn(Ctx, Ctx, u64, u64) -> u64;
    // SAFETY: a live funcref of a host function alive for this call.
    let r = unsafe { f.vm_func_ref().as_ref() };
    let (code, callee, caller) = (r.native_call.as_ptr(), r.vmctx, std::ptr::null_mut());
    // SAFETY: the function's native entry takes its contexts and
    // `args.len()` integer arguments in integer registers and returns one
    // integer result in one: at the machine level this is the call
    // generated code makes, with the upper halves left dirty.
    unsafe {
        match *args {
            [a] => std::mem::transmute::<*mut VMNativeCallFunction, One>(code)(
                callee,
                caller,
                dirty(high, a),
            ),
            [a, b] => std::mem::transmute::<*mut VMNativeCallFunction, Two>(code)(
                callee,
                caller,
                dirty(high, a),
                dirty(high, b),
            ),
            _ => unreachable!("one or two arguments"),
        }
    }
}

#[test]
fn shims_read_only_the_low_half_of_32_bit_arguments() {
    let engine = Engine::default();
    let widen_signed = Func::wrap(&engine, |a: i32| i64::from(a)).unwrap();
    let widen_unsigned = Func::wrap(&engine, |a: u32| u64::from(a)).unwrap();
    let widen_ref = Func::wrap(&engine, |a: AnyRef32| u64::from(a.0)).unwrap();
    let less = Func::wrap(&engine, |a: i32, b: i32| i32::from(a < b)).unwrap();
    for high in [0, 0xA5A5_A5A5, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF] {
        for low in [
            0,
            5,
            0xFFFF_FFFB,
            i32::MIN as u32,
            i32::MAX as u32,
            u32::MAX,
        ] {
            assert_eq!(
                call_dirty(&widen_signed, high, &[low]) as i64,
                i64::from(low as i32),
                "i32 {low:#x} under {high:#x}"
            );
            assert_eq!(
                call_dirty(&widen_unsigned, high, &[low]),
                u64::from(low),
                "u32 {low:#x} under {high:#x}"
            );
            assert_eq!(
                call_dirty(&widen_ref, high, &[low]),
                u64::from(low),
                "anyref {low:#x} under {high:#x}"
            );
            for other in [0, 1, 0xFFFF_FFFF, i32::MIN as u32] {
                let want = i32::from((low as i32) < (other as i32));
                // Only the low half of an `i32` result is defined.
                let got = call_dirty(&less, high, &[low, other]) as u32 as i32;
                assert_eq!(got, want, "{low:#x} < {other:#x} under {high:#x}");
            }
        }
    }
}

/// Native entries that return 32-bit results with the upper half of the
/// register dirty, as generated code may.
extern "C" fn dirty_i32(_: Ctx, _: Ctx) -> u64 {
    dirty(0xA5A5_A5A5, -5i32 as u32)
}
extern "C" fn dirty_u32(_: Ctx, _: Ctx) -> u64 {
    dirty(0xFFFF_FFFF, 7)
}

#[test]
fn calls_read_only_the_low_half_of_32_bit_results() {
    let engine = Engine::default();
    let entry = |f: extern "C" fn(Ctx, Ctx) -> u64| NonNull::new(f as *mut _).unwrap();
    // SAFETY: each entry is native-convention code of `() -> i32` (its
    // result's upper half is what generated code may leave there) that
    // ignores its contexts.
    let (signed, unsigned) = unsafe {
        (
            Func::from_native_entry::<(), i32>(&engine, entry(dirty_i32), std::ptr::null_mut())
                .unwrap(),
            Func::from_native_entry::<(), u32>(&engine, entry(dirty_u32), std::ptr::null_mut())
                .unwrap(),
        )
    };
    let signed = signed.typed::<(), i32>().unwrap();
    let unsigned = unsigned.typed::<(), u32>().unwrap();
    // `i64::from` of a result the compiler believes widened is a bare move
    // on riscv64 and s390x: a dirty upper half would show here.
    assert_eq!(
        i64::from(std::hint::black_box(signed.call(()).unwrap())),
        -5
    );
    assert_eq!(
        u64::from(std::hint::black_box(unsigned.call(()).unwrap())),
        7
    );
}
