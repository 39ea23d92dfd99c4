//! Every reader of a `ValRaw` slot reads only the bytes its type defines:
//! values whose other bytes are poisoned — as Wasmtime 17's 4-byte stores of
//! `i32`/`f32` results leave them — arrive intact through every read path
//! of the facade: results of `Func::call` and of a typed call, and the
//! parameters host shims (typed and untyped) read.

use springboard::vm::{VMOpaqueContext, ValRaw};
use springboard::{Config, Engine, Func, Signature, Val, ValType};
use springboard_check::values::poisoned;

const POISON: u8 = 0xa5;

/// An array-convention function of `(i32, f32, i64) -> (i32, f32, i64)`
/// that writes each result with only its own bytes and poisons the rest, as
/// a foreign runtime may.
unsafe extern "C" fn foreign_array(
    _callee: *mut VMOpaqueContext,
    _caller: *mut VMOpaqueContext,
    values: *mut ValRaw,
    capacity: usize,
) {
    // SAFETY: called with a buffer of `capacity` >= 3 slots.
    let values = unsafe { core::slice::from_raw_parts_mut(values, capacity) };
    let (a, b, c) = (
        values[0].get_i32(),
        values[1].get_f32(),
        values[2].get_i64(),
    );
    values[0] = poisoned(ValType::I32, ValRaw::i32(a.wrapping_neg()), POISON);
    values[1] = poisoned(ValType::F32, ValRaw::f32(b ^ 0x8000_0000), POISON);
    values[2] = poisoned(ValType::I64, ValRaw::i64(c.rotate_left(1)), POISON);
}

fn sig() -> Signature {
    let tys = [ValType::I32, ValType::F32, ValType::I64];
    Signature::new(&tys, &tys).unwrap()
}

/// An engine whose host functions' entries are generic (the default), and
/// (with a compiler) one whose are compiled when the function is created.
fn engines() -> Vec<(Engine, &'static str)> {
    let mut engines = vec![(Engine::new(&Config::new()).unwrap(), "generic")];
    if cfg!(feature = "compiler") {
        let compiled = Engine::new(Config::new().tier_up_after(0)).unwrap();
        engines.push((compiled, "compiled"));
    }
    engines
}

#[test]
fn results_written_without_extension_read_back_exactly() {
    for (engine, entries) in engines() {
        results_read_back_exactly(&engine, entries);
    }
}

fn results_read_back_exactly(engine: &Engine, entries: &str) {
    // SAFETY: `foreign_array` has the array convention of `sig()` and needs
    // no context.
    let f = unsafe { Func::from_array_entry(engine, &sig(), foreign_array, core::ptr::null_mut()) }
        .unwrap();
    // The compiled engine made its native_to_array now; the default one
    // compiled nothing (its entries are generic).
    #[cfg(feature = "compiler")]
    assert_eq!(engine.compiled_trampolines() > 0, entries == "compiled");
    let params = [
        Val::I32(i32::MIN + 1),
        Val::F32(0x7fa0_0001),
        Val::I64(i64::MIN),
    ];
    let expected = [Val::I32(i32::MAX), Val::F32(0xffa0_0001), Val::I64(1)];
    let mut out = [Val::I32(0), Val::F32(0), Val::I64(0)];
    f.call(&params, &mut out).unwrap();
    assert_eq!(out, expected, "Func::call");
    // Through the native_to_array entry (generic, or compiled), which loads
    // each result.
    let typed = f.typed::<(i32, f32, i64), (i32, f32, i64)>().unwrap();
    let (a, b, c) = typed
        .call((i32::MIN + 1, f32::from_bits(0x7fa0_0001), i64::MIN))
        .unwrap();
    assert_eq!(
        (a, b.to_bits(), c),
        (i32::MAX, 0xffa0_0001, 1),
        "typed, {entries}"
    );
}

#[test]
fn host_shims_read_poisoned_parameters_exactly() {
    let engine = Engine::default();
    let typed = Func::wrap(&engine, |a: i32, b: f32, c: i64| (a, b, c)).unwrap();
    let untyped = Func::new(&engine, &sig(), |p, r| {
        r.copy_from_slice(p);
        Ok::<(), springboard::Error>(())
    })
    .unwrap();
    let args = [
        (ValType::I32, ValRaw::i32(-2)),
        (ValType::F32, ValRaw::f32(0x8000_0000)),
        (ValType::I64, ValRaw::i64(0x0102_0304_0506_0708)),
    ];
    for f in [&typed, &untyped] {
        let mut values: Vec<ValRaw> = args.iter().map(|&(t, v)| poisoned(t, v, POISON)).collect();
        // SAFETY: a live funcref of `sig()`, a buffer of three slots and the
        // engine's caller context.
        unsafe {
            let func_ref = f.vm_func_ref().as_ref();
            (func_ref.array_call)(
                func_ref.vmctx,
                engine.caller_vmctx().as_ptr(),
                values.as_mut_ptr(),
                values.len(),
            );
        }
        assert_eq!(
            springboard::take_host_failure().map(|e| e.to_string()),
            None
        );
        assert_eq!(values[0].get_i32(), -2);
        assert_eq!(values[1].get_f32(), 0x8000_0000);
        assert_eq!(values[2].get_i64(), 0x0102_0304_0506_0708);
    }
}
