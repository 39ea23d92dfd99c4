//! Without the `compiler` feature: trampolines come only from loaded objects,
//! and with generic entries off, `wasm_call` of a typed host function stays
//! `None` when no object holds one (unless its native shim serves wasm);
//! with them (where the host has them), host functions of any type work
//! through every entry with no object at all. Run with
//! `cargo test -p springboard --no-default-features --test no_compiler`.
#![cfg(not(feature = "compiler"))]

mod common;

use springboard::vm::ValRaw;
use springboard::{Config, Engine, Error, Func, Signature, TrampolineKind, Val, ValType};
use springboard_check::{Driver, Via};
use springboard_compiler::{Compiler, ObjectBuilder};

#[test]
fn trampolines_come_from_loaded_objects_only() {
    // No generic entries: only objects supply entries.
    let engine = Engine::new(Config::new().tier_up_after(0)).unwrap();
    // Two results: a type whose native entry cannot serve wasm (a results
    // area), so its wasm entry must come from an object.
    let sig = Signature::new(&[ValType::I32, ValType::F64], &[ValType::F64, ValType::I32]).unwrap();
    let add = |a: i32, b: f64| (f64::from(a) + b, a);

    // Before any object: typed host functions work through their Rust shims,
    // with no wasm entry; untyped ones need a compiled native entry.
    let early = Func::wrap(&engine, add).unwrap();
    assert!(unsafe { early.vm_func_ref().as_ref() }.wasm_call.is_none());
    assert_eq!(
        early
            .typed::<(i32, f64), (f64, i32)>()
            .unwrap()
            .call((1, 0.5))
            .unwrap(),
        (1.5, 1)
    );
    let untyped = |engine: &Engine| {
        Func::new(engine, &sig, |a: &[Val], r: &mut [Val]| {
            let (Val::I32(x), Val::F64(y)) = (a[0], a[1]) else {
                return Err("types");
            };
            r[0] = Val::F64((f64::from(x) * f64::from_bits(y)).to_bits());
            r[1] = Val::I32(x);
            Ok(())
        })
    };
    assert!(matches!(
        untyped(&engine),
        Err(Error::MissingTrampoline {
            kind: TrampolineKind::NativeToArray,
            ..
        })
    ));

    // An object with every kind for `sig`.
    let compiler = Compiler::host().unwrap();
    let mut object = ObjectBuilder::new(&compiler).unwrap();
    for kind in TrampolineKind::ALL {
        object.add(&compiler.compile(kind, &sig).unwrap()).unwrap();
    }
    assert_eq!(engine.load_object(&object.finish().unwrap()).unwrap(), 6);

    // Now funcs of `sig` get every entry, and they work through each.
    let typed = Func::wrap(&engine, add).unwrap();
    let untyped = untyped(&engine).unwrap();
    let driver = Driver::new(&compiler, &sig).unwrap();
    for (f, want) in [(&typed, 3.5), (&untyped, 3.0)] {
        assert!(unsafe { f.vm_func_ref().as_ref() }.wasm_call.is_some());
        for via in [Via::Array, Via::Native, Via::Wasm] {
            let args = [ValRaw::i32(2), ValRaw::f64(1.5f64.to_bits())];
            // SAFETY: a live funcref of `sig`.
            let out = unsafe {
                driver
                    .call_funcref(via, f.vm_func_ref().as_ref(), std::ptr::null_mut(), &args)
                    .unwrap()
            };
            assert_eq!(f64::from_bits(out[0].get_f64()), want, "{via:?}");
            assert_eq!(out[1].get_i32(), 2, "{via:?}");
        }
    }
    // The early func keeps its `None`: a published funcref never changes.
    assert!(unsafe { early.vm_func_ref().as_ref() }.wasm_call.is_none());
    // Another type, absent from the object: `None`, and not an error.
    let other = Func::wrap(&engine, |a: i64| (a, a)).unwrap();
    assert!(unsafe { other.vm_func_ref().as_ref() }.wasm_call.is_none());
    assert_eq!(
        other.typed::<i64, (i64, i64)>().unwrap().call(-9).unwrap(),
        (-9, -9)
    );
    // A type whose native shim serves wasm (x86-64 System V, riscv64) has
    // a wasm entry with no object: the shim itself.
    let shared = Func::wrap(&engine, |a: i64| a).unwrap();
    // SAFETY: the funcref of a live function.
    let r = unsafe { shared.vm_func_ref().as_ref() };
    let serves = cfg!(any(
        all(target_arch = "x86_64", not(windows)),
        target_arch = "riscv64"
    ));
    assert_eq!(r.wasm_call.is_some(), serves);
    if serves {
        assert_eq!(
            r.wasm_call.unwrap().cast::<u8>(),
            r.native_call.cast::<u8>()
        );
    }
}

#[test]
fn generic_entries_serve_every_type_without_a_compiler_or_an_object() {
    let engine = Engine::new(&Config::new()).unwrap();
    if !engine.generic_entries() {
        springboard_testing::skip("no generic entries on this host");
        return;
    }
    let sig = Signature::new(&[ValType::I32, ValType::F64], &[ValType::F64, ValType::I64]).unwrap();
    let untyped = Func::new(&engine, &sig, |a: &[Val], r: &mut [Val]| {
        let (Val::I32(x), Val::F64(y)) = (a[0], a[1]) else {
            return Err("types");
        };
        r[0] = Val::F64((f64::from(x) * f64::from_bits(y)).to_bits());
        r[1] = Val::I64(i64::MIN + i64::from(x));
        Ok(())
    })
    .unwrap();
    let typed = Func::wrap(&engine, |a: i32, b: f64| {
        (f64::from(a) + b, i64::MIN + i64::from(a))
    })
    .unwrap();
    // The test's own compiler drives the calls; the engine has none.
    let driver = Driver::new(&Compiler::host().unwrap(), &sig).unwrap();
    for (f, want) in [(&untyped, 3.0), (&typed, 3.5)] {
        for via in [Via::Array, Via::Native, Via::Wasm] {
            let args = [ValRaw::i32(2), ValRaw::f64(1.5f64.to_bits())];
            // Far past any budget: without a compiler nothing tiers up.
            for _ in 0..200 {
                // SAFETY: a live funcref of `sig`.
                let out = unsafe {
                    driver
                        .call_funcref(via, f.vm_func_ref().as_ref(), std::ptr::null_mut(), &args)
                        .unwrap()
                };
                assert_eq!(f64::from_bits(out[0].get_f64()), want, "{via:?}");
                assert_eq!(out[1].get_i64(), i64::MIN + 2, "{via:?}");
            }
        }
    }
    engine.finish_tier_up();
}
