//! Generic entries (a host function's `native_call` and `wasm_call` before
//! its type has compiled trampolines) against Cranelift's own code: random
//! signatures (the ABI conformance fuzzer's: up to 1,000 parameters of
//! every type, up to 16 results, edge values at every other slot) called
//! through the compiled `entry` and `array_to_wasm` trampolines of each
//! signature — what the host closure receives and what the caller gets back
//! are identical, bit for bit, before tier-up and after it; and many threads
//! first-calling one new type get one compilation and correct results.

#![cfg(feature = "compiler")]

mod common;

use common::assert_same;
use springboard::vm::ValRaw;
use springboard::{Config, Engine, Func, Signature, Val, ValType};
use springboard_check::values::{ValueGen, case_values, random_signature};
use springboard_check::{Driver, Via};
use springboard_compiler::{Compiler, TrampolineKind};
use std::sync::{Arc, Barrier, Mutex};

/// A signature and values for one call.
struct Case {
    signature: Signature,
    args: Vec<ValRaw>,
    results: Vec<ValRaw>,
}

/// `n` distinct signatures the host's compiler accepts (the first with
/// 1,000 parameters), with values; and those it refused on the way.
fn cases(compiler: &Compiler, seed: u64, n: usize) -> (Vec<Case>, Vec<Signature>) {
    let mut values = ValueGen::new(seed);
    let accepted = |s: &Signature| compiler.compile(TrampolineKind::Entry, s).is_ok();
    let mut sigs: Vec<Signature> = Vec::new();
    let mut refused = Vec::new();
    let wide: Vec<ValType> = (0..1000)
        .map(|i| [ValType::I32, ValType::F64, ValType::I64][i % 3])
        .collect();
    let first = Signature::new(&wide, &[ValType::F64, ValType::I32, ValType::I64]).unwrap();
    for _ in 0..n * 50 {
        if sigs.len() >= n {
            break;
        }
        let sig = if sigs.is_empty() && refused.is_empty() {
            first.clone()
        } else {
            random_signature(&mut values, &ValType::ALL)
        };
        if sigs.contains(&sig) {
            continue;
        }
        if accepted(&sig) {
            sigs.push(sig);
        } else {
            refused.push(sig);
        }
    }
    let cases = sigs
        .into_iter()
        .enumerate()
        .map(|(i, signature)| Case {
            args: case_values(&mut values, signature.params(), i, i),
            results: case_values(&mut values, signature.results(), i, i + 3),
            signature,
        })
        .collect();
    (cases, refused)
}

/// The seeds to run: `SPRINGBOARD_ABI_FUZZ_SEEDS` (`a..b`), else one.
fn seeds() -> std::ops::Range<u64> {
    std::env::var("SPRINGBOARD_ABI_FUZZ_SEEDS")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once("..")?;
            Some(a.trim().parse().ok()?..b.trim().parse().ok()?)
        })
        .unwrap_or(0xab1..0xab2)
}

/// An untyped host function of `case` that logs its arguments and returns
/// the case's results.
fn host(engine: &Engine, case: &Case, log: &Arc<Mutex<Vec<Vec<ValRaw>>>>) -> Func {
    let (log, results, ty) = (
        Arc::clone(log),
        case.results.clone(),
        case.signature.clone(),
    );
    Func::new(
        engine,
        &case.signature,
        move |args: &[Val], out: &mut [Val]| {
            log.lock()
                .unwrap()
                .push(args.iter().map(|v| v.to_raw()).collect());
            for ((o, raw), &t) in out.iter_mut().zip(&results).zip(ty.results()) {
                *o = Val::from_raw(*raw, t, springboard::GcRefWidth::Bits32);
            }
            Ok::<(), std::convert::Infallible>(())
        },
    )
    .unwrap()
}

/// Calls `func` of `case` through `via` and checks both directions.
fn check_call(driver: &Driver, via: Via, func: &Func, case: &Case, log: &Mutex<Vec<Vec<ValRaw>>>) {
    let sig = &case.signature;
    let what = format!("{via:?} -> {sig}");
    // SAFETY: a live funcref of `sig`; host functions ignore the caller vmctx.
    let got = unsafe {
        driver
            .call_funcref(
                via,
                func.vm_func_ref().as_ref(),
                std::ptr::null_mut(),
                &case.args,
            )
            .unwrap()
    };
    assert_same(
        &format!("{what}: results"),
        sig.results(),
        &got,
        &case.results,
    );
    let seen = std::mem::take(&mut *log.lock().unwrap());
    assert_eq!(seen.len(), 1, "{what}: called once");
    assert_same(
        &format!("{what}: params"),
        sig.params(),
        &seen[0],
        &case.args,
    );
}

const CASES: usize = 60;

#[test]
fn generic_entries_are_bit_exact_before_and_after_tier_up() {
    let compiler = Compiler::host().unwrap();
    let mut total = (0, 0);
    let here = Engine::default().generic_entries();
    if !here {
        springboard_testing::skip(
            "no generic entries on this host; the compiled path is checked instead",
        );
    }
    let mut refused = 0;
    for seed in seeds() {
        let (cases, refusals) = cases(&compiler, seed, CASES);
        refused += refusals.len();
        let drivers: Vec<Driver> = cases
            .iter()
            .map(|c| Driver::new(&compiler, &c.signature).unwrap())
            .collect();
        // Generic entries only: nothing ever tiers up.
        let generic = Engine::new(Config::new().tier_up_after(u32::MAX)).unwrap();
        // What the compiler refuses here has no generic entries either.
        for sig in &refusals {
            let refused = Func::new(&generic, sig, |_: &[Val], _: &mut [Val]| {
                Ok::<(), String>(())
            });
            assert!(
                refused.is_err(),
                "{sig} is refused by the compiler but not by Func::new"
            );
        }
        // Generic for the first call, compiled for the second.
        let tiered = Engine::new(Config::new().tier_up_after(1)).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut tiered_funcs = Vec::new();
        for (case, driver) in cases.iter().zip(&drivers) {
            let f = host(&generic, case, &log);
            for via in Via::ALL {
                check_call(driver, via, &f, case, &log);
            }
            let f = host(&tiered, case, &log);
            for via in [Via::Native, Via::Wasm] {
                check_call(driver, via, &f, case, &log);
            }
            tiered_funcs.push(f);
            total.0 += case.signature.params().len();
            total.1 += 1;
        }
        tiered.finish_tier_up();
        if here {
            assert_eq!(generic.compiled_trampolines(), 0, "seed {seed}");
        }
        // A type whose native entry serves wasm too (the conventions put
        // every value in the same place) has no wasm_to_array.
        let kinds: usize = tiered_funcs
            .iter()
            .map(|f| if common::wasm_is_native(f) { 1 } else { 2 })
            .sum();
        assert_eq!(
            tiered.compiled_trampolines(),
            kinds,
            "seed {seed}: each type's native_to_array and wasm_to_array, once"
        );
        // Compiled now: the same funcrefs reach it through their generic
        // entries, and new functions of the types get it directly.
        for ((case, driver), old) in cases.iter().zip(&drivers).zip(&tiered_funcs) {
            let new = host(&tiered, case, &log);
            for via in [Via::Native, Via::Wasm] {
                check_call(driver, via, old, case, &log);
                check_call(driver, via, &new, case, &log);
            }
        }
        assert_eq!(tiered.compiled_trampolines(), kinds, "seed {seed}");
    }
    println!(
        "{} signatures, {} parameters, bit-exact ({refused} the host's compiler refuses skipped)",
        total.1, total.0
    );
}

#[test]
fn threads_first_calling_one_new_type_compile_it_once() {
    const THREADS: usize = 8;
    let compiler = Compiler::host().unwrap();
    let sig = Signature::new(
        &[
            ValType::I32,
            ValType::F64,
            ValType::EXTERNREF,
            ValType::I64,
            ValType::F32,
        ],
        &[ValType::F64, ValType::I32, ValType::I64],
    )
    .unwrap();
    let driver = Driver::new(&compiler, &sig).unwrap();
    for round in 0..10 {
        // The budget runs out while the threads race through it.
        let engine = Engine::new(Config::new().tier_up_after(THREADS as u32 / 2)).unwrap();
        let f = Func::new(&engine, &sig, |args: &[Val], out: &mut [Val]| {
            let (Val::I32(a), Val::F64(b), Val::ExternRef(_), Val::I64(d), Val::F32(e)) =
                (args[0], args[1], args[2], args[3], args[4])
            else {
                return Err("wrong types");
            };
            out[0] = Val::F64(f64::from_bits(b).mul_add(2.0, a as f64).to_bits());
            out[1] = Val::I32(a.wrapping_mul(3) ^ d as i32);
            out[2] = Val::I64(d ^ i64::from(e));
            Ok(())
        })
        .unwrap();
        let barrier = Barrier::new(THREADS);
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (f, driver, barrier, sig) = (&f, &driver, &barrier, &sig);
                s.spawn(move || {
                    barrier.wait();
                    for i in 0..50u64 {
                        let a = (t as i32) * 1000 + i as i32;
                        let args = [
                            ValRaw::i32(a),
                            ValRaw::f64(1.25f64.to_bits()),
                            ValRaw::externref(std::ptr::null_mut()),
                            ValRaw::i64(i64::MIN + i as i64),
                            ValRaw::f32(0x7fc0_0001),
                        ];
                        let via = [Via::Native, Via::Wasm][(t + i as usize) % 2];
                        // SAFETY: a live funcref of `sig`.
                        let got = unsafe {
                            driver.call_funcref(
                                via,
                                f.vm_func_ref().as_ref(),
                                std::ptr::null_mut(),
                                &args,
                            )
                        }
                        .unwrap();
                        let want = [
                            ValRaw::f64(1.25f64.mul_add(2.0, a as f64).to_bits()),
                            ValRaw::i32(a.wrapping_mul(3) ^ (i64::MIN + i as i64) as i32),
                            ValRaw::i64((i64::MIN + i as i64) ^ 0x7fc0_0001),
                        ];
                        assert_same(
                            &format!("round {round}, thread {t}, call {i}"),
                            sig.results(),
                            &got,
                            &want,
                        );
                    }
                });
            }
        });
        engine.finish_tier_up();
        assert_eq!(
            engine.compiled_trampolines(),
            2,
            "round {round}: one per kind, once"
        );
    }
}
