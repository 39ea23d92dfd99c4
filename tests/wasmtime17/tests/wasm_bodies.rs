//! Springboard's trampolines driving wasm bodies that Wasmtime 17 compiled,
//! in Wasmtime's default configuration (Cranelift 0.104's `fast`), with an
//! engine of the `wasmtime17` convention: every export called through
//! Springboard's `array_call` (`Func::call`), its `native_call` and its
//! `wasm_call`, bit-exact against Wasmtime's own `Func::call`.
#![cfg(target_arch = "x86_64")]

use core::ptr::NonNull;
use springboard::vm::{VMFuncRef, VMOpaqueContext, ValRaw};
use springboard::{Config, Engine, Func, Val, WasmConv};
use springboard_check::{Driver, Via};
use springboard_compiler::Compiler;
use springboard_wasmtime17_tests::{BODIES, inside_wasmtime, signature, to_springboard};

/// Edge values of each type, cycled through the parameters.
fn args_for(ty: &wasmtime::FuncType, round: usize) -> Vec<wasmtime::Val> {
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
    ty.params()
        .enumerate()
        .map(|(i, t)| {
            let k = (i + round) % 5;
            match t {
                wasmtime::ValType::I32 => wasmtime::Val::I32(i32s[k]),
                wasmtime::ValType::I64 => wasmtime::Val::I64(i64s[k]),
                wasmtime::ValType::F32 => wasmtime::Val::F32(f32s[k]),
                wasmtime::ValType::F64 => wasmtime::Val::F64(f64s[k]),
                wasmtime::ValType::V128 => wasmtime::Val::V128(v128s[k].into()),
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

#[test]
fn every_plain_export_through_every_springboard_entry_is_bit_exact() {
    let wt_engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&wt_engine, BODIES).unwrap();
    let mut store = wasmtime::Store::new(&wt_engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
    let engine = wasmtime17_engine();
    let compiler = Compiler::builder()
        .wasm_conv(WasmConv::Wasmtime17)
        .build()
        .unwrap();
    for name in [
        "add",
        "mixed",
        "four_ints",
        "eight",
        "floats",
        "vectors",
        "twenty",
    ] {
        let wt_func = instance.get_func(&mut store, name).unwrap();
        let ty = wt_func.ty(&store);
        let sig = signature(&ty);
        // SAFETY: the store is alive for the whole test.
        let raw = unsafe { wt_func.to_raw(&mut store) }.cast::<VMFuncRef>();
        // SAFETY: a live Wasmtime 17 funcref, whose layout is ours.
        let (body, vmctx) = unsafe { ((*raw).wasm_call.unwrap(), (*raw).vmctx) };
        // SAFETY: `body` is Wasmtime 17 wasm code of `sig` in the
        // `wasmtime17` convention, expecting `vmctx`; both live as long as
        // the store, which outlives `func`.
        let func = unsafe { Func::from_raw_wasm(&engine, &sig, body, vmctx) }.unwrap();
        for round in 0..5 {
            let args = args_for(&ty, round);
            let mut expected = vec![wasmtime::Val::I32(0); ty.results().len()];
            wt_func.call(&mut store, &args, &mut expected).unwrap();
            let expected: Vec<Val> = expected.iter().map(to_springboard).collect();
            let params: Vec<Val> = args.iter().map(to_springboard).collect();
            let (func, sig2) = (func.clone(), sig.clone());
            let driver_sig = sig.clone();
            let compiler2 = compiler.clone();
            let got = inside_wasmtime(&mut store, move || {
                let mut through_array: Vec<Val> = sig2
                    .results()
                    .iter()
                    .map(|&t| Val::default_for(t))
                    .collect();
                func.call(&params, &mut through_array).unwrap();
                let raw_args: Vec<ValRaw> = params.iter().map(|v| v.to_raw()).collect();
                let driver = Driver::new(&compiler2, &driver_sig).unwrap();
                let mut others = Vec::new();
                for via in [Via::Native, Via::Wasm] {
                    // SAFETY: a live funcref of the driver's signature.
                    let raw = unsafe {
                        driver.call_funcref(
                            via,
                            func.vm_func_ref().as_ref(),
                            core::ptr::null_mut::<VMOpaqueContext>(),
                            &raw_args,
                        )
                    }
                    .unwrap();
                    let vals: Vec<Val> = raw
                        .iter()
                        .zip(driver_sig.results())
                        .map(|(&r, &t)| Val::from_raw(r, t))
                        .collect();
                    others.push((via, vals));
                }
                (through_array, others)
            });
            let (through_array, others) = got;
            assert_eq!(
                through_array, expected,
                "{name} via array_call, round {round}"
            );
            for (via, vals) in others {
                assert_eq!(vals, expected, "{name} via {via:?}, round {round}");
            }
        }
    }
}

/// `funcref` and `externref` through a Wasmtime 17 body and back: a real
/// Wasmtime funcref and a null externref, through every Springboard entry.
#[test]
fn references_pass_through_wasmtime_bodies() {
    use springboard::{ExternRef, FuncRef};
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

    let sig = signature(&refs.ty(&store));
    // SAFETY: a live Wasmtime funcref; its body and context live as long as
    // the store.
    let (body, vmctx) = unsafe {
        let raw = refs.to_raw(&mut store).cast::<VMFuncRef>();
        ((*raw).wasm_call.unwrap(), (*raw).vmctx)
    };
    let engine = wasmtime17_engine();
    // SAFETY: Wasmtime 17 wasm code of `sig` in the `wasmtime17` convention.
    let func = unsafe { Func::from_raw_wasm(&engine, &sig, body, vmctx) }.unwrap();
    let compiler = Compiler::builder()
        .wasm_conv(WasmConv::Wasmtime17)
        .build()
        .unwrap();
    let add_ref = FuncRef(NonNull::new(add_raw));
    let expected = [Val::ExternRef(ExternRef(None)), Val::FuncRef(add_ref)];
    let got = inside_wasmtime(&mut store, move || {
        let params = [Val::FuncRef(add_ref), Val::ExternRef(ExternRef(None))];
        let mut out = [Val::I32(0), Val::I32(0)];
        out[0] = Val::default_for(sig.results()[0]);
        out[1] = Val::default_for(sig.results()[1]);
        func.call(&params, &mut out).unwrap();
        let driver = Driver::new(&compiler, &sig).unwrap();
        let raw_args: Vec<ValRaw> = params.iter().map(|v| v.to_raw()).collect();
        let mut all = vec![out.to_vec()];
        for via in [Via::Native, Via::Wasm] {
            // SAFETY: a live funcref of the driver's signature.
            let raw = unsafe {
                driver.call_funcref(
                    via,
                    func.vm_func_ref().as_ref(),
                    core::ptr::null_mut::<VMOpaqueContext>(),
                    &raw_args,
                )
            }
            .unwrap();
            all.push(
                raw.iter()
                    .zip(sig.results())
                    .map(|(&r, &t)| Val::from_raw(r, t))
                    .collect(),
            );
        }
        all
    });
    for vals in got {
        assert_eq!(vals, expected);
    }
}
