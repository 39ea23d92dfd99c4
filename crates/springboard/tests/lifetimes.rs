//! Drop order and leaks: a `Func` outliving the engine handle that made it,
//! funcs dropped while others run on other threads, and every mapping and
//! registry entry freed when the last user goes (loader accounting). One test
//! in its own binary, so the process-wide counters are ours alone.
#![cfg(feature = "compiler")]

mod common;

use common::WasmProbe;
use springboard::{Compilation, Config, Engine, Func, Signature, Val, ValType};
use springboard_compiler::Compiler;
use springboard_loader::stats;

fn signature(i: usize) -> Signature {
    // Distinct types: i parameters cycling through the scalar types, plus
    // one of three result shapes.
    let params: Vec<ValType> = (0..i % 12)
        .map(|k| [ValType::I32, ValType::I64, ValType::F32, ValType::F64][(k + i) % 4])
        .collect();
    let results: &[ValType] = match i / 12 % 3 {
        0 => &[],
        1 => &[ValType::I64],
        _ => &[ValType::F64, ValType::I32],
    };
    Signature::new(&params, results).unwrap()
}

fn make_funcs(engine: &Engine, probes: &[(Signature, WasmProbe)]) -> Vec<Func> {
    let mut funcs = Vec::new();
    for (i, (sig, probe)) in probes.iter().enumerate() {
        funcs.push(
            Func::new(engine, sig, move |_: &[Val], r: &mut [Val]| {
                for v in r.iter_mut() {
                    *v = Val::default_for(v.ty());
                }
                Ok::<(), std::convert::Infallible>(())
            })
            .unwrap(),
        );
        // SAFETY: the probe lives until the end of the test and ignores its
        // callee vmctx; these funcs are never called (the probe would write
        // to its caller vmctx).
        funcs.push(
            unsafe { Func::from_raw_wasm(engine, sig, probe.body(), std::ptr::null_mut()) }
                .unwrap(),
        );
        if i % 3 == 0 {
            funcs.push(Func::wrap(engine, move |a: i32| a.wrapping_add(i as i32)).unwrap());
        }
    }
    funcs
}

#[test]
fn everything_is_freed_when_the_last_user_goes() {
    let compiler = Compiler::host().unwrap();
    let probes: Vec<(Signature, WasmProbe)> = (0..36)
        .map(|i| (signature(i), WasmProbe::new(&compiler, &signature(i))))
        .collect();
    let baseline = stats();

    for compilation in [Compilation::Lazy, Compilation::Eager] {
        // 1. Funcs dropped while the engine lives: registry and code empty again.
        let engine = Engine::new(Config::new().compilation(compilation)).unwrap();
        let funcs = make_funcs(&engine, &probes);
        assert!(engine.registered_types() >= 36);
        assert!(stats().live_mappings > baseline.live_mappings);
        drop(funcs);
        assert_eq!(
            engine.registered_types(),
            0,
            "{compilation:?}: registry entries freed"
        );
        assert_eq!(
            stats(),
            baseline,
            "{compilation:?}: code freed with its types"
        );

        // 2. Funcs outliving the engine handle; half dropped on one thread
        // while the other half is called on another.
        let funcs = make_funcs(&engine, &probes);
        drop(engine);
        let (keep, dropped): (Vec<_>, Vec<_>) =
            funcs.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let wrapped: Vec<Func> = keep
            .into_iter()
            .map(|(_, f)| f)
            .filter(|f| *f.ty() == Signature::new(&[ValType::I32], &[ValType::I32]).unwrap())
            .collect();
        // Each wrapped closure adds its own `i` (a multiple of 3 below 36):
        // what a call returns names the closure that ran.
        let call = |f: &Func, x: i32| {
            let mut out = [Val::I32(0)];
            f.call(&[Val::I32(x)], &mut out).unwrap();
            out[0]
        };
        let expected: Vec<Val> = wrapped.iter().map(|f| call(f, 1)).collect();
        for (f, &first) in wrapped.iter().zip(&expected) {
            let Val::I32(one) = first else {
                panic!("{first:?}")
            };
            assert!((one - 1) % 3 == 0 && (0..36).contains(&(one - 1)), "{one}");
            assert_eq!(call(f, 101), Val::I32(one + 100));
        }
        let mut distinct = expected.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), wrapped.len(), "one closure per func");
        std::thread::scope(|s| {
            s.spawn(move || drop(dropped));
            s.spawn(|| {
                for _ in 0..200 {
                    for (f, &want) in wrapped.iter().zip(&expected) {
                        assert_eq!(call(f, 1), want);
                    }
                }
            });
        });
        assert!(!wrapped.is_empty());
        let engine = wrapped[0].engine().clone();
        drop(wrapped);
        assert_eq!(engine.registered_types(), 0);
        drop(engine);
        assert_eq!(
            stats(),
            baseline,
            "{compilation:?}: the last func freed everything"
        );
    }
}
