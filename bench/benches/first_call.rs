//! First-call latency of a never-seen signature: creating a host function
//! of a type the engine holds no code for and calling it once — through
//! `Func::call`, `TypedFunc::call`, and a runtime's own compiled code
//! through `native_call` and `wasm_call` — against Wasmtime 48 in the same
//! run, and against Springboard compiling at creation
//! (`Config::tier_up_after(0)`, what it did before generic entries).
//!
//! "Never seen": every iteration takes the next signature of a stream of
//! distinct ones (8–11, 2 or 40 parameters), and Springboard functions are
//! dropped before the next, so the engine's registry forgets the type and
//! its code. Untimed set-up per Springboard iteration: compiling the
//! caller-side `entry` and `array_to_wasm` trampolines the runtime would
//! already have (its own code).

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use springboard::vm::ValRaw;
use springboard::{Config, Engine, Func, Signature, Val, ValType};
use springboard_check::values::ValueGen;
use springboard_check::{Driver, Via};
use springboard_compiler::Compiler;
use std::hint::black_box;

const TYPES: [ValType; 5] = [
    ValType::I32,
    ValType::I64,
    ValType::F32,
    ValType::F64,
    ValType::V128,
];

/// The `n`-th signature of the stream with `arity` parameters (`arity == 8`:
/// 8–11 parameters, as in issue 19's measurement): its digits in base 5
/// pick the types, so consecutive `n` give distinct signatures.
fn signature(arity: usize, n: u64) -> Signature {
    let len = if arity == 8 {
        8 + (n % 4) as usize
    } else {
        arity
    };
    let mut k = n / 4;
    let params: Vec<ValType> = (0..len)
        .map(|_| {
            let t = TYPES[(k % 5) as usize];
            k /= 5;
            t
        })
        .collect();
    let results = [TYPES[(n % 5) as usize]];
    Signature::new(&params, &results).unwrap()
}

fn zero(ty: &Signature) -> (Vec<Val>, Vec<Val>) {
    (
        ty.params().iter().map(|&t| Val::default_for(t)).collect(),
        ty.results().iter().map(|&t| Val::default_for(t)).collect(),
    )
}

fn host(engine: &Engine, sig: &Signature) -> Func {
    Func::new(engine, sig, |_: &[Val], out: &mut [Val]| {
        out.iter_mut().for_each(|v| *v = Val::default_for(v.ty()));
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap()
}

fn springboard_untyped(c: &mut Criterion) {
    let mut group = c.benchmark_group("first-call");
    let compiler = Compiler::host().unwrap();
    for arity in [2usize, 8, 40] {
        for (label, tier_up_after) in [("springboard", 100), ("springboard-compile-at-creation", 0)]
        {
            let engine = Engine::new(Config::new().tier_up_after(tier_up_after)).unwrap();
            let mut n = 1_000_003u64 * arity as u64;
            group.bench_function(
                BenchmarkId::new(format!("{label}/Func::call"), arity),
                |b| {
                    b.iter_batched(
                        || {
                            n += 1;
                            let sig = signature(arity, n);
                            let (p, r) = zero(&sig);
                            (sig, p, r)
                        },
                        |(sig, params, mut results)| {
                            let f = host(&engine, &sig);
                            f.call(&params, &mut results).unwrap();
                            (f, results)
                        },
                        BatchSize::PerIteration,
                    )
                },
            );
            for via in [Via::Native, Via::Wasm] {
                let name = format!(
                    "{label}/{}",
                    if via == Via::Native {
                        "native_call"
                    } else {
                        "wasm_call"
                    }
                );
                group.bench_function(BenchmarkId::new(name, arity), |b| {
                    let mut values = ValueGen::new(n);
                    b.iter_batched(
                        || {
                            // The runtime's own caller-side code, compiled
                            // and mapped before the function exists: one
                            // throwaway function of the type stamps the
                            // driver's `array_to_wasm` for the engine's
                            // entry, then goes, and the engine forgets the
                            // type.
                            n += 1;
                            let sig = signature(arity, n);
                            let driver = Driver::new(&compiler, &sig).unwrap();
                            let args = values.values(sig.params());
                            let warm = host(&engine, &sig);
                            // SAFETY: a live funcref of `sig`.
                            unsafe {
                                driver.call_funcref(
                                    via,
                                    warm.vm_func_ref().as_ref(),
                                    std::ptr::null_mut(),
                                    &args,
                                )
                            }
                            .unwrap();
                            drop(warm);
                            (sig, driver, args)
                        },
                        |(sig, driver, args): (Signature, Driver, Vec<ValRaw>)| {
                            let f = host(&engine, &sig);
                            // SAFETY: a live funcref of `sig`.
                            let out = unsafe {
                                driver.call_funcref(
                                    via,
                                    f.vm_func_ref().as_ref(),
                                    std::ptr::null_mut(),
                                    &args,
                                )
                            }
                            .unwrap();
                            (f, out, driver)
                        },
                        BatchSize::PerIteration,
                    )
                });
            }
            assert_eq!(engine.registered_types(), 0, "every type forgotten");
        }
    }
    group.finish();
}

/// The typed paths take a fixed type: it is new each iteration because the
/// previous function, its only user, is gone (Springboard), or because a new
/// store holds it (Wasmtime keeps a type registered while a store uses it).
fn typed(c: &mut Criterion) {
    type P = (i32, i64, f32, f64, i32, i64, f32, f64, i32, i64);
    let params: P = (1, 2, 3.0, 4.0, 5, 6, 7.0, 8.0, 9, 10);
    let mut group = c.benchmark_group("first-call");
    for (label, tier_up_after) in [("springboard", 100), ("springboard-compile-at-creation", 0)] {
        let engine = Engine::new(Config::new().tier_up_after(tier_up_after)).unwrap();
        group.bench_function(
            BenchmarkId::new(format!("{label}/TypedFunc::call"), 10),
            |b| {
                b.iter_batched(
                    || (),
                    |()| {
                        let f = Func::wrap(
                            &engine,
                            |a: i32,
                             b: i64,
                             _: f32,
                             _: f64,
                             _: i32,
                             _: i64,
                             _: f32,
                             _: f64,
                             _: i32,
                             j: i64| { i64::from(a) + b + j },
                        )
                        .unwrap();
                        let out = f
                            .typed::<P, i64>()
                            .unwrap()
                            .call(black_box(params))
                            .unwrap();
                        (f, out)
                    },
                    BatchSize::PerIteration,
                )
            },
        );
        // An untyped function of the same type, called typed: its native
        // entry is the generic one until it tiers up.
        let sig = Signature::new(
            &[
                ValType::I32,
                ValType::I64,
                ValType::F32,
                ValType::F64,
                ValType::I32,
                ValType::I64,
                ValType::F32,
                ValType::F64,
                ValType::I32,
                ValType::I64,
            ],
            &[ValType::I64],
        )
        .unwrap();
        group.bench_function(
            BenchmarkId::new(format!("{label}/Func::new+TypedFunc::call"), 10),
            |b| {
                b.iter_batched(
                    || (),
                    |()| {
                        let f = host(&engine, &sig);
                        let out = f
                            .typed::<P, i64>()
                            .unwrap()
                            .call(black_box(params))
                            .unwrap();
                        (f, out)
                    },
                    BatchSize::PerIteration,
                )
            },
        );
    }
    group.finish();
}

fn wasmtime_zero(t: ValType) -> wasmtime::Val {
    match t {
        ValType::I32 => wasmtime::Val::I32(0),
        ValType::I64 => wasmtime::Val::I64(0),
        ValType::F32 => wasmtime::Val::F32(0),
        ValType::F64 => wasmtime::Val::F64(0),
        _ => wasmtime::Val::V128(0u128.into()),
    }
}

fn wasmtime_peer(c: &mut Criterion) {
    let mut group = c.benchmark_group("first-call");
    let engine = wasmtime::Engine::default();
    let wt = |t: ValType| match t {
        ValType::I32 => wasmtime::ValType::I32,
        ValType::I64 => wasmtime::ValType::I64,
        ValType::F32 => wasmtime::ValType::F32,
        ValType::F64 => wasmtime::ValType::F64,
        _ => wasmtime::ValType::V128,
    };
    for arity in [2usize, 8, 40] {
        let mut n = 7_000_003u64 * arity as u64;
        let store = std::cell::RefCell::new(wasmtime::Store::new(&engine, ()));
        let mut made = 0;
        group.bench_function(BenchmarkId::new("wasmtime/Func::call", arity), |b| {
            b.iter_batched(
                || {
                    n += 1;
                    made += 1;
                    if made % 1000 == 0 {
                        // A store keeps every function (and its type) it made.
                        *store.borrow_mut() = wasmtime::Store::new(&engine, ());
                    }
                    let sig = signature(arity, n);
                    let params: Vec<wasmtime::Val> =
                        sig.params().iter().map(|&t| wasmtime_zero(t)).collect();
                    let results: Vec<wasmtime::Val> =
                        sig.results().iter().map(|&t| wasmtime_zero(t)).collect();
                    (sig, params, results)
                },
                |(sig, params, mut results)| {
                    let ty = wasmtime::FuncType::new(
                        &engine,
                        sig.params().iter().map(|&t| wt(t)),
                        sig.results().iter().map(|&t| wt(t)),
                    );
                    let tys = sig.results().to_vec();
                    let store = &mut *store.borrow_mut();
                    let f = wasmtime::Func::new(&mut *store, ty, move |_, _, out| {
                        for (o, &t) in out.iter_mut().zip(&tys) {
                            *o = wasmtime_zero(t);
                        }
                        Ok(())
                    });
                    f.call(&mut *store, &params, &mut results).unwrap();
                    results
                },
                BatchSize::PerIteration,
            )
        });
    }
    type P = (i32, i64, f32, f64, i32, i64, f32, f64, i32, i64);
    let params: P = (1, 2, 3.0, 4.0, 5, 6, 7.0, 8.0, 9, 10);
    group.bench_function(BenchmarkId::new("wasmtime/TypedFunc::call", 10), |b| {
        b.iter_batched(
            || wasmtime::Store::new(&engine, ()),
            |mut store| {
                let f = wasmtime::Func::wrap(
                    &mut store,
                    |a: i32,
                     b: i64,
                     _: f32,
                     _: f64,
                     _: i32,
                     _: i64,
                     _: f32,
                     _: f64,
                     _: i32,
                     j: i64| { i64::from(a) + b + j },
                );
                let out = f
                    .typed::<P, i64>(&store)
                    .unwrap()
                    .call(&mut store, black_box(params))
                    .unwrap();
                (store, out)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, springboard_untyped, typed, wasmtime_peer);
criterion_main!(benches);
