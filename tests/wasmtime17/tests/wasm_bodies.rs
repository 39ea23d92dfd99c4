//! Springboard's trampolines driving wasm bodies that Wasmtime 17 compiled,
//! in Wasmtime's default configuration (Cranelift 0.104's `fast`), with an
//! engine of the `wasmtime17` convention: every export called through
//! Springboard's `array_call` (`Func::call`), its `native_call` and its
//! `wasm_call`, bit-exact against Wasmtime's own `Func::call`.
#![cfg(target_arch = "x86_64")]

use core::ptr::NonNull;
use springboard::vm::{VMFuncRef, VMOpaqueContext};
use springboard::{Config, Engine, ExternRef, Func, FuncRef, Signature, Val, WasmConv};
use springboard_check::{Driver, Via};
use springboard_compiler::Compiler;
use springboard_wasmtime17_tests::{
    BODIES, func_then_through, inside_wasmtime, signature, wasmtime_results,
};

/// Edge values of each type, cycled through the parameters.
fn args_for(sig: &Signature, round: usize) -> Vec<Val> {
    let i32s = [0, -1, i32::MIN, i32::MAX, 0x0102_0304];
    let i64s = [i64::MIN, -1, i64::MAX, 0x0102_0304_0506_0708, 0];
    let f32s = [0x8000_0000u32, 0x7fa0_0001, 0xffc0_1234, 0x7f80_0000, 1];
    let f64s = [
        0x8000_0000_0000_0000u64,
        0x7ff4_0000_0000_0001,
        0xfff8_dead_beef_0001,
        0x3ff0_0000_0000_0000,
        1,
    ];
    let v128s = [
        0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100u128,
        u128::MAX,
        1 << 127,
        0,
        0x8000_0000_7fff_ffff_0000_0001_ffff_fffe,
    ];
    sig.params()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let k = (i + round) % 5;
            match t {
                springboard::ValType::I32 => Val::I32(i32s[k]),
                springboard::ValType::I64 => Val::I64(i64s[k]),
                springboard::ValType::F32 => Val::F32(f32s[k]),
                springboard::ValType::F64 => Val::F64(f64s[k]),
                springboard::ValType::V128 => Val::V128(v128s[k]),
                other => panic!("no plain value of {other}"),
            }
        })
        .collect()
}

fn wasmtime17_engine() -> Engine {
    let mut config = Config::new();
    config.wasm_conv(WasmConv::Wasmtime17);
    Engine::new(&config).unwrap()
}

fn wasmtime17_compiler() -> Compiler {
    Compiler::builder()
        .wasm_conv(WasmConv::Wasmtime17)
        .build()
        .unwrap()
}

/// A Springboard `Func` for the Wasmtime body of `wt`, and its type.
fn springboard_func(
    store: &mut wasmtime::Store<()>,
    engine: &Engine,
    wt: &wasmtime::Func,
) -> (Func, Signature) {
    let sig = signature(&wt.ty(&*store));
    // SAFETY: the store is alive for the whole test.
    let raw = unsafe { wt.to_raw(&mut *store) }.cast::<VMFuncRef>();
    // SAFETY: a live Wasmtime 17 funcref, whose layout is ours.
    let (body, vmctx) = unsafe { ((*raw).wasm_call.unwrap(), (*raw).vmctx) };
    // SAFETY: `body` is Wasmtime 17 wasm code of `sig` in the `wasmtime17`
    // convention, expecting `vmctx`; both live as long as the store, which
    // outlives the function.
    let func = unsafe { Func::from_raw_wasm(engine, &sig, body, vmctx) }.unwrap();
    (func, sig)
}

/// `func` through its `array_call`, `native_call` and `wasm_call`, inside
/// a call Wasmtime entered.
fn every_entry(
    store: &mut wasmtime::Store<()>,
    func: Func,
    sig: Signature,
    args: Vec<Val>,
) -> Vec<(Via, Vec<Val>)> {
    inside_wasmtime(store, move || {
        let driver = Driver::new(&wasmtime17_compiler(), &sig).unwrap();
        // SAFETY: a live funcref of the driver's signature and convention.
        unsafe {
            func_then_through(
                &func,
                &driver,
                &[Via::Native, Via::Wasm],
                core::ptr::null_mut::<VMOpaqueContext>(),
                &args,
            )
        }
    })
}

#[test]
fn every_plain_export_through_every_springboard_entry_is_bit_exact() {
    let wt_engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&wt_engine, BODIES).unwrap();
    let mut store = wasmtime::Store::new(&wt_engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
    let engine = wasmtime17_engine();
    for name in [
        "add",
        "mixed",
        "four_ints",
        "eight",
        "floats",
        "vectors",
        "twenty",
    ] {
        let wt = instance.get_func(&mut store, name).unwrap();
        let (func, sig) = springboard_func(&mut store, &engine, &wt);
        for round in 0..5 {
            let args = args_for(&sig, round);
            let expected = wasmtime_results(&mut store, &wt, &args);
            for (via, vals) in every_entry(&mut store, func.clone(), sig.clone(), args) {
                assert_eq!(vals, expected, "{name} via {via:?}, round {round}");
            }
        }
    }
}

/// `funcref` and `externref` through a Wasmtime 17 body and back: a real
/// Wasmtime funcref and a null externref, through every Springboard entry.
#[test]
fn references_pass_through_wasmtime_bodies() {
    let wt_engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&wt_engine, BODIES).unwrap();
    let mut store = wasmtime::Store::new(&wt_engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
    let add = instance.get_func(&mut store, "add").unwrap();
    // SAFETY: the store outlives every use.
    let add_raw = unsafe { add.to_raw(&mut store) }.cast::<VMFuncRef>();
    let refs = instance.get_func(&mut store, "refs").unwrap();
    let mut theirs = [wasmtime::Val::I32(0), wasmtime::Val::I32(0)];
    refs.call(
        &mut store,
        &[
            wasmtime::Val::FuncRef(Some(add)),
            wasmtime::Val::ExternRef(None),
        ],
        &mut theirs,
    )
    .unwrap();
    let wasmtime::Val::FuncRef(Some(back)) = &theirs[1] else {
        panic!("{theirs:?}")
    };
    // SAFETY: as above.
    assert_eq!(
        unsafe { back.to_raw(&mut store) }.cast::<VMFuncRef>(),
        add_raw
    );
    assert!(matches!(theirs[0], wasmtime::Val::ExternRef(None)));
    let add_ref = FuncRef(NonNull::new(add_raw));
    let expected = vec![Val::ExternRef(ExternRef(None)), Val::FuncRef(add_ref)];

    let engine = wasmtime17_engine();
    let (func, sig) = springboard_func(&mut store, &engine, &refs);
    let args = vec![Val::FuncRef(add_ref), Val::ExternRef(ExternRef(None))];
    for (via, vals) in every_entry(&mut store, func, sig, args) {
        assert_eq!(vals, expected, "via {via:?}");
    }
}
