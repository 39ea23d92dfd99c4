//! Leak check: 10,000 funcs over 1,000 signatures, created and dropped;
//! mapped bytes, live mappings and registry entries return to their
//! baseline. One test in its own binary, so the counters are ours alone.
#![cfg(feature = "compiler")]

use springboard::{Engine, Func, Signature, Val, ValType};
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
    let sigs = springboard_check::values::supported_by(
        &springboard_compiler::Compiler::host().unwrap(),
        (0..1000).map(signature).collect(),
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
            let f = Func::new(engine, sig, |_: &[Val], r: &mut [Val]| {
                r.iter_mut().for_each(|v| *v = Val::default_for(v.ty()));
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
        // Call a sample so the code is really used.
        for f in funcs.iter().step_by(97) {
            let params: Vec<Val> = f
                .ty()
                .params()
                .iter()
                .map(|&t| Val::default_for(t))
                .collect();
            let mut results: Vec<Val> = f
                .ty()
                .results()
                .iter()
                .map(|&t| Val::default_for(t))
                .collect();
            f.call(&params, &mut results).unwrap();
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
