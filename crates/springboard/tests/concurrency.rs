//! Several threads registering and dropping types, creating funcs and calling
//! them across threads: no wrong result, no duplicate index, one compilation
//! per signature, no deadlock. Bounded iterations; run in release too.
#![cfg(feature = "compiler")]

use springboard::{Engine, Func, Signature, Val, ValType};
use std::collections::HashMap;
use std::sync::{Arc, Barrier, Mutex};

const THREADS: usize = 8;

#[test]
fn concurrent_first_uses_compile_once() {
    for _ in 0..20 {
        // Compiled at creation: no generic entries.
        let engine = Engine::new(springboard::Config::new().tier_up_after(0)).unwrap();
        let barrier = Barrier::new(THREADS);
        let funcs: Vec<Func> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (engine, barrier) = (&engine, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        // Two results: a `wasm_call` the native shim cannot
                        // serve (a results area), so one is compiled.
                        Func::wrap(engine, move |a: i64, b: f64| (a as f64 * b + t as f64, a))
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // One type, one wasm_to_native trampoline, shared by all.
        assert_eq!(engine.compiled_trampolines(), 1);
        assert_eq!(engine.registered_types(), 1);
        let wasm_calls: Vec<_> = funcs
            .iter()
            .map(|f| unsafe { f.vm_func_ref().as_ref() }.wasm_call)
            .collect();
        assert!(
            wasm_calls
                .windows(2)
                .all(|w| w[0] == w[1] && w[0].is_some())
        );
        for (t, f) in funcs.iter().enumerate() {
            assert_eq!(
                f.typed::<(i64, f64), (f64, i64)>()
                    .unwrap()
                    .call((3, 0.5))
                    .unwrap(),
                (1.5 + t as f64, 3)
            );
        }
    }
}

#[test]
fn threads_register_create_call_and_drop_without_interference() {
    let engine = Engine::default();
    let sigs: Vec<Signature> = (0..24)
        .map(|i| {
            let params: Vec<ValType> = (0..i % 6)
                .map(|k| [ValType::I32, ValType::I64][(k + i) % 2])
                .collect();
            Signature::new(&params, &[ValType::I64]).unwrap()
        })
        .collect();
    let shared: Mutex<Vec<Func>> = Mutex::default();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (engine, sigs, shared) = (&engine, &sigs, &shared);
            s.spawn(move || {
                for round in 0..60 {
                    let sig = &sigs[(t * 7 + round) % sigs.len()];
                    let n = sig.params().len();
                    // Sums its i32/i64 parameters, plus a per-func offset.
                    let offset = (t * 1000 + round) as i64;
                    let f = Func::new(engine, sig, move |args: &[Val], out: &mut [Val]| {
                        let sum: i64 = args
                            .iter()
                            .map(|v| match *v {
                                Val::I32(x) => i64::from(x),
                                Val::I64(x) => x,
                                _ => unreachable!("only integer parameters"),
                            })
                            .sum();
                        out[0] = Val::I64(sum + offset);
                        Ok::<(), std::convert::Infallible>(())
                    })
                    .unwrap();
                    // While a handle lives, its index maps back to its type.
                    let found = engine
                        .lookup(f.shared_signature().index())
                        .expect("live index");
                    assert_eq!(found.signature(), sig);
                    let args: Vec<Val> = sig
                        .params()
                        .iter()
                        .enumerate()
                        .map(|(k, &ty)| {
                            if ty == ValType::I32 {
                                Val::I32(k as i32)
                            } else {
                                Val::I64(k as i64)
                            }
                        })
                        .collect();
                    let mut out = [Val::I64(0)];
                    f.call(&args, &mut out).unwrap();
                    assert_eq!(out[0], Val::I64((0..n as i64).sum::<i64>() + offset));
                    // Hand some funcs to other threads; call and drop theirs.
                    let mut pool = shared.lock().unwrap();
                    if round % 3 == 0 {
                        pool.push(f);
                    } else if let Some(other) = pool.pop() {
                        drop(pool);
                        let args: Vec<Val> = other
                            .ty()
                            .params()
                            .iter()
                            .map(|&ty| Val::default_for(ty))
                            .collect();
                        let mut out = [Val::I64(0)];
                        other.call(&args, &mut out).unwrap();
                    }
                }
            });
        }
    });
    drop(shared);
    assert_eq!(
        engine.registered_types(),
        0,
        "every type freed with its last func"
    );
}

#[test]
fn live_types_never_share_an_index_across_threads_and_engines() {
    let engines: Vec<Engine> = (0..4).map(|_| Engine::default()).collect();
    let handles = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (engines, handles) = (&engines, Arc::clone(&handles));
            s.spawn(move || {
                for i in 0..100 {
                    let engine = &engines[(t + i) % engines.len()];
                    let sig = Signature::new(&vec![ValType::F32; i % 10], &[]).unwrap();
                    let h = engine.register(&sig).unwrap();
                    assert_eq!(
                        engine.register(&sig).unwrap(),
                        h,
                        "equal types, same handle"
                    );
                    handles
                        .lock()
                        .unwrap()
                        .push(((t + i) % engines.len(), sig, h));
                }
            });
        }
    });
    let handles = handles.lock().unwrap();
    let mut by_index: HashMap<u32, (usize, Signature)> = HashMap::new();
    for (engine, sig, h) in handles.iter() {
        match by_index.get(&h.index().bits()) {
            Some(existing) => assert_eq!(
                existing,
                &(*engine, sig.clone()),
                "index shared by different types"
            ),
            None => {
                by_index.insert(h.index().bits(), (*engine, sig.clone()));
            }
        }
    }
    // 4 engines × 10 types, each with its own index.
    assert_eq!(by_index.len(), 40);
}
