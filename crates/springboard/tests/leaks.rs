//! Leak check: 10,000 funcs over 1,000 signatures, created and dropped;
//! mapped bytes, live mappings and registry entries return to their
//! baseline. One test in its own binary, so the counters are ours alone.
#![cfg(feature = "compiler")]

use springboard::vm::ValRaw;
use springboard::{Engine, Func, Signature, Val, ValType};
use springboard_check::Via;
use springboard_loader::stats;

fn signature(i: usize) -> Signature {
    // 1,000 distinct types: parameter lists spelling `i` in base 4 over the
    // scalar types, with one of three result shapes.
    let scalars = [ValType::I32, ValType::I64, ValType::F32, ValType::F64];
    let mut params = Vec::new();
    let mut n = i / 3 + 1;
    while n > 0 {
        params.push(scalars[n % 4]);
        n /= 4;
    }
    let results: &[ValType] = [&[][..], &[ValType::I64], &[ValType::F32, ValType::V128]][i % 3];
    Signature::new(&params, results).unwrap()
}

#[test]
fn ten_thousand_funcs_over_a_thousand_signatures_leave_nothing_behind() {
    let sigs = springboard_testing::only(
        (0..1000).map(signature).collect(),
        springboard_check::values::supported_here,
        springboard_check::values::REFUSED,
    );
    let mut distinct = sigs.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), sigs.len());
    let baseline = stats();
    // Compiled at creation, and with generic entries (nothing mapped).
    for tier_up_after in [0, 100] {
        let engine = Engine::new(springboard::Config::new().tier_up_after(tier_up_after)).unwrap();
        rounds(&engine, &sigs, &baseline, engine.generic_entries());
    }
}

fn rounds(
    engine: &Engine,
    sigs: &[Signature],
    baseline: &springboard_loader::MemoryStats,
    generic: bool,
) {
    for round in 0..2 {
        let mut funcs = Vec::with_capacity(10_000);
        for i in 0..10_000 {
            let sig = &sigs[i % sigs.len()];
            let f = Func::new(engine, sig, |p: &[Val], r: &mut [Val]| {
                r.iter_mut().for_each(|v| *v = marker(v.ty(), p.len()));
                Ok::<(), std::convert::Infallible>(())
            })
            .unwrap();
            funcs.push(f);
        }
        assert_eq!(engine.registered_types(), sigs.len());
        let during = stats();
        if generic {
            assert_eq!(during, *baseline, "generic entries map nothing");
        } else {
            assert!(during.mapped_bytes > baseline.mapped_bytes);
        }
        // Call a sample through its native and wasm entries (generic, or the
        // compiled trampolines), so the code is really used: the results
        // name the parameter count.
        let compiler = springboard_compiler::Compiler::host().unwrap();
        for f in funcs.iter().step_by(97) {
            let driver = springboard_check::Driver::new(&compiler, f.ty()).unwrap();
            let args: Vec<ValRaw> = f.ty().params().iter().map(|&t| zero(t)).collect();
            let want: Vec<ValRaw> = f
                .ty()
                .results()
                .iter()
                .map(|&t| marker(t, args.len()).to_raw())
                .collect();
            for via in [Via::Native, Via::Wasm] {
                // SAFETY: a live funcref of the driver's signature, with a
                // wasm entry (Func::new always has one here).
                let got = unsafe {
                    driver.call_funcref(
                        via,
                        f.vm_func_ref().as_ref(),
                        engine.caller_vmctx().as_ptr(),
                        &args,
                    )
                }
                .unwrap();
                for ((g, w), &t) in got.iter().zip(&want).zip(f.ty().results()) {
                    assert_eq!(
                        Val::from_raw(*g, t, springboard::GcRefWidth::Bits32),
                        Val::from_raw(*w, t, springboard::GcRefWidth::Bits32),
                        "{} via {via:?}",
                        f.ty()
                    );
                }
            }
        }
        drop(funcs);
        assert_eq!(
            engine.registered_types(),
            0,
            "round {round}: registry entries freed"
        );
        assert_eq!(stats(), *baseline, "round {round}: every mapping freed");
    }
    println!(
        "compiled {} trampolines over 2 rounds; peak while alive was freed",
        engine.compiled_trampolines()
    );
}

/// A result that says how many parameters the call had.
fn marker(ty: ValType, params: usize) -> Val {
    match ty {
        ValType::I64 => Val::I64(params as i64),
        ValType::F32 => Val::F32((params as f32).to_bits()),
        ValType::V128 => Val::V128(params as u128 * 0x0101_0101),
        other => Val::default_for(other),
    }
}

fn zero(ty: ValType) -> ValRaw {
    Val::default_for(ty).to_raw()
}
