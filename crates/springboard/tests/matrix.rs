//! The 3×3 matrix: callers {wasm, native, array} × callees {wasm body, typed
//! host, untyped host}, through the funcref fields, values bit-exact.
#![cfg(feature = "compiler")]

mod common;

use common::{Log, WasmProbe, assert_same};
use springboard::vm::{VMOpaqueContext, ValRaw};
use springboard::{Engine, ExternRef, Func, Signature, Val, ValType, WasmTy};
use springboard_check::values::ValueGen;
use springboard_check::{Driver, Via};
use springboard_compiler::{Compiler, TrampolineKind};
use std::ptr::NonNull;

fn signatures() -> Vec<Signature> {
    use ValType::*;
    let cycle = |n: usize, s: usize| {
        (0..n)
            .map(|i| ValType::ALL[(i + s) % 7])
            .collect::<Vec<_>>()
    };
    springboard_testing::only(
        vec![
            Signature::new(&[], &[]).unwrap(),
            Signature::new(&[I32, I32], &[I32]).unwrap(),
            Signature::new(&ValType::ALL, &ValType::ALL).unwrap(),
            Signature::new(&cycle(16, 2), &[F64, V128]).unwrap(),
            Signature::new(&cycle(100, 1), &cycle(20, 3)).unwrap(),
            Signature::new(&[F32, F64], &[ValType::FUNCREF, ValType::EXTERNREF, F32]).unwrap(),
        ],
        springboard_check::values::supported_here,
        springboard_check::values::REFUSED,
    )
}

/// A marker vmctx for wasm bodies: never dereferenced by the probe.
fn marker_vmctx() -> *mut VMOpaqueContext {
    0x5b0 as *mut VMOpaqueContext
}

#[test]
fn wasm_bodies_and_untyped_hosts_through_every_field() {
    let compiler = Compiler::host().unwrap();
    let engine = Engine::default();
    let mut values = ValueGen::new(3);
    for sig in signatures() {
        let driver = Driver::new(&compiler, &sig).unwrap();
        let (np, nr) = (sig.params().len(), sig.results().len());

        // Callee: a wasm body (a probe) with stamped array/native entries.
        let probe = WasmProbe::new(&compiler, &sig);
        // SAFETY: the probe is wasm-convention code of `sig` and never
        // dereferences its callee vmctx.
        let wasm =
            unsafe { Func::from_raw_wasm(&engine, &sig, probe.body(), marker_vmctx()) }.unwrap();

        // Callee: an untyped host function recording its arguments.
        let log = Log::default();
        let preset: Vec<ValRaw> = values.values(sig.results());
        let untyped = logging_host(&engine, &sig, &log, &preset);

        for via in Via::ALL {
            let args = values.values(sig.params());
            let results = values.values(sig.results());
            // The probe records into the caller vmctx: [callee vmctx, args, results].
            let mut record = vec![ValRaw::ZERO; 1 + np + nr];
            record[1 + np..].copy_from_slice(&results);
            // SAFETY: a live funcref of `sig`.
            let got = unsafe {
                driver
                    .call_funcref(
                        via,
                        wasm.vm_func_ref().as_ref(),
                        record.as_mut_ptr().cast(),
                        &args,
                    )
                    .unwrap()
            };
            let what = format!("{via:?} -> wasm body of {sig}");
            assert_same(&format!("{what}: results"), sig.results(), &got, &results);
            assert_same(
                &format!("{what}: params"),
                sig.params(),
                &record[1..1 + np],
                &args,
            );
            assert_eq!(
                record[0].get_u64(),
                marker_vmctx() as u64,
                "{what}: callee vmctx"
            );

            let what = format!("{via:?} -> untyped host of {sig}");
            call_logged_host(&driver, via, &untyped, &args, &preset, &log, &what);
        }
    }
}

/// An untyped host function of `sig` that logs its arguments to `log` and
/// returns `preset`.
fn logging_host(engine: &Engine, sig: &Signature, log: &Log, preset: &[ValRaw]) -> Func {
    let (log, preset, ty) = (log.clone(), preset.to_vec(), sig.clone());
    Func::new(engine, sig, move |args: &[Val], results: &mut [Val]| {
        log.push(args.iter().map(|v| v.to_raw()).collect());
        for ((out, raw), &ty) in results.iter_mut().zip(&preset).zip(ty.results()) {
            *out = Val::from_raw(*raw, ty, springboard::GcRefWidth::Bits32);
        }
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap()
}

#[test]
fn precompiled_trampolines_serve_every_later_function() {
    let compiler = Compiler::host().unwrap();
    let engine = Engine::default();
    let sigs = signatures();
    let all = sigs.len() * TrampolineKind::ALL.len();
    // The returned types own the code: dropped, it goes too.
    drop(engine.precompile(&sigs).unwrap());
    assert_eq!(engine.registered_types(), 0);
    let types = engine.precompile(&sigs).unwrap();
    let compiled = engine.compiled_trampolines();
    assert_eq!(compiled, 2 * all);
    let again = engine.precompile(&sigs).unwrap();
    assert_eq!(
        engine.compiled_trampolines(),
        compiled,
        "precompiling again compiles nothing"
    );
    assert_eq!(again, types);
    let mut values = ValueGen::new(5);
    for sig in &sigs {
        let driver = Driver::new(&compiler, sig).unwrap();
        let log = Log::default();
        let preset = values.values(sig.results());
        let host = logging_host(&engine, sig, &log, &preset);
        for via in Via::ALL {
            let args = values.values(sig.params());
            let what = format!("{via:?} -> precompiled host of {sig}");
            call_logged_host(&driver, via, &host, &args, &preset, &log, &what);
        }
    }
    assert_eq!(
        engine.compiled_trampolines(),
        compiled,
        "later functions compile nothing"
    );
}

#[test]
fn an_untyped_hosts_two_trampolines_share_a_page() {
    // Compiled at creation (no generic entries), but together: one
    // mapping, not one each.
    // A type whose native entry serves wasm too has one trampoline.
    let engine = Engine::new(springboard::Config::new().tier_up_after(0)).unwrap();
    let mut kinds = 0;
    for sig in signatures() {
        let host = logging_host(&engine, &sig, &Log::default(), &[]);
        // SAFETY: a live funcref.
        let f = unsafe { host.vm_func_ref().as_ref() };
        let native = f.native_call.as_ptr() as usize;
        let wasm = f.wasm_call.expect("compiled").as_ptr() as usize;
        assert_eq!(native / 4096, wasm / 4096, "{sig}");
        kinds += if common::wasm_is_native(&host) { 1 } else { 2 };
    }
    assert_eq!(engine.compiled_trampolines(), kinds);
}

/// Where both conventions put every value of a type in the same place
/// (x86-64 System V: no stack argument, at most one result), a host
/// function's native entry is its `wasm_call` — a call from wasm crosses no
/// trampoline — and values still arrive bit-exact from compiled `tail`
/// code. Every other type, ISA and engine gets a `wasm_call` of its own.
#[test]
fn a_native_entry_serves_wasm_where_the_conventions_agree() {
    use ValType::*;
    // Where each type shares: x86-64 System V (six integer argument
    // registers, the contexts in two) and riscv64 (eight); nowhere else.
    let (x86_sysv, riscv64) = (
        cfg!(all(target_arch = "x86_64", not(windows))),
        cfg!(target_arch = "riscv64"),
    );
    let sharing_host = x86_sysv || riscv64;
    let cases: &[(&[ValType], &[ValType], bool, bool)] = &[
        // (params, results, shares on x86-64 System V, on riscv64)
        (&[], &[], true, true),
        (&[I32, I32], &[I32], true, true),
        (&[I32, I64, F32, F64, I32, I64], &[F64], true, true),
        (&[I64; 4], &[I64], true, true),
        (&[I64; 5], &[I64], false, true),
        (&[I64; 7], &[I64], false, false),
        (&[F64; 8], &[F32], true, true),
        // (riscv64 refuses the ninth float parameter: C passes it in an
        // integer register.)
        (&[F64; 9], &[], false, false),
        (
            &[V128, ValType::FUNCREF, ValType::EXTERNREF],
            &[V128],
            true,
            false,
        ),
        // The second result goes to a results area, or a register.
        (&[I32], &[I32, I64], false, false),
    ];
    let compiler = Compiler::host().unwrap();
    let engine = Engine::default();
    let wasmtime17 =
        Engine::new(springboard::Config::new().wasm_conv(springboard::WasmConv::Wasmtime17));
    let mut values = ValueGen::new(11);
    let mut shared = 0;
    for &(params, results, on_x86_sysv, on_riscv64) in cases {
        let agree = (x86_sysv && on_x86_sysv) || (riscv64 && on_riscv64);
        let sig = Signature::new(params, results).unwrap();
        if !springboard_check::values::supported_here(&sig) {
            continue;
        }
        let driver = Driver::new(&compiler, &sig).unwrap();
        let log = Log::default();
        let preset = values.values(sig.results());
        let host = logging_host(&engine, &sig, &log, &preset);
        assert_eq!(common::wasm_is_native(&host), agree, "{sig}");
        shared += usize::from(common::wasm_is_native(&host));
        for via in Via::ALL {
            let args = values.values(sig.params());
            let what = format!("{via:?} -> untyped host of {sig}");
            call_logged_host(&driver, via, &host, &args, &preset, &log, &what);
        }
        if let Ok(other) = &wasmtime17 {
            let host = logging_host(other, &sig, &log, &preset);
            assert!(!common::wasm_is_native(&host), "wasmtime17: {sig}");
        }
    }
    // A typed host function's native shim serves wasm the same way.
    let add = Func::wrap(&engine, |a: i32, b: i32| a.wrapping_add(b)).unwrap();
    assert_eq!(common::wasm_is_native(&add), sharing_host);
    let driver = Driver::new(&compiler, add.ty()).unwrap();
    for (a, b) in [(i32::MIN, -1), (i32::MAX, 1), (-7, 7)] {
        let args = [ValRaw::i32(a), ValRaw::i32(b)];
        // SAFETY: a live funcref of `(i32, i32) -> i32`.
        let got = unsafe {
            driver.call_funcref(
                Via::Wasm,
                add.vm_func_ref().as_ref(),
                std::ptr::null_mut(),
                &args,
            )
        }
        .unwrap();
        assert_eq!(got[0].get_i32(), a.wrapping_add(b));
    }
    if !sharing_host {
        springboard_testing::skip(format!(
            "native entries serving wasm are x86-64 System V and riscv64 only: checked that \
             none of this host's types does ({shared} did), not that one carries values"
        ));
    }
}

/// Calls host function `func` through `via` and checks that it returned
/// `results` and that its closure logged one call with exactly `args`.
fn call_logged_host(
    driver: &Driver,
    via: Via,
    func: &Func,
    args: &[ValRaw],
    results: &[ValRaw],
    log: &Log,
    what: &str,
) {
    let sig = func.ty();
    // SAFETY: a live funcref of `sig`; host functions ignore the caller vmctx.
    let got = unsafe {
        driver
            .call_funcref(via, func.vm_func_ref().as_ref(), std::ptr::null_mut(), args)
            .unwrap()
    };
    assert_same(&format!("{what}: results"), sig.results(), &got, results);
    let seen = log.take();
    assert_eq!(seen.len(), 1, "{what}: called once");
    assert_same(&format!("{what}: params"), sig.params(), &seen[0], args);
}

/// Checks a typed host function through every field: `make` builds it
/// around a log and returns the results it always returns.
fn check_typed(compiler: &Compiler, seed: u64, make: impl Fn(Log) -> (Func, Vec<ValRaw>)) {
    let log = Log::default();
    let (func, results) = make(log.clone());
    let sig = func.ty().clone();
    let driver = Driver::new(compiler, &sig).unwrap();
    let mut values = ValueGen::new(seed);
    for via in Via::ALL {
        for _ in 0..4 {
            let args = values.values(sig.params());
            let what = format!("{via:?} -> typed host of {sig}");
            call_logged_host(&driver, via, &func, &args, &results, &log, &what);
        }
    }
}

#[test]
fn typed_hosts_through_every_field() {
    let compiler = Compiler::host().unwrap();
    let engine = Engine::default();
    check_typed(&compiler, 1, |log| {
        let f = Func::wrap(&engine, move || log.push(vec![])).unwrap();
        (f, vec![])
    });
    check_typed(&compiler, 2, |log| {
        let f = Func::wrap(&engine, move |a: i32, b: i32| {
            log.push(vec![a.into_raw(), b.into_raw()]);
            i32::MIN
        })
        .unwrap();
        (f, vec![ValRaw::i32(i32::MIN)])
    });
    // `V128` is a typed parameter only where it is a vector register type.
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    springboard_testing::skip("the two typed cases with V128 (typed only on x86-64 and aarch64)");
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        use springboard::{FuncRef, V128};
        let v = V128::from_u128(0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100);
        check_typed(&compiler, 3, |log| {
            let f = Func::wrap(
                &engine,
                move |a: i64, b: f32, c: f64, d: V128, e: ExternRef, f: FuncRef, g: u32| {
                    log.push(vec![
                        a.into_raw(),
                        b.into_raw(),
                        c.into_raw(),
                        d.into_raw(),
                        e.into_raw(),
                        f.into_raw(),
                        g.into_raw(),
                    ]);
                    (
                        f64::from_bits(0x7ff4_0000_0000_0001),
                        -1i32,
                        v,
                        i64::MIN,
                        f32::from_bits(0x8000_0000),
                    )
                },
            )
            .unwrap();
            let results = vec![
                ValRaw::f64(0x7ff4_0000_0000_0001),
                ValRaw::i32(-1),
                ValRaw::v128(v.as_u128()),
                ValRaw::i64(i64::MIN),
                ValRaw::f32(0x8000_0000),
            ];
            (f, results)
        });
        check_typed(&compiler, 4, |log| {
            #[allow(clippy::too_many_arguments)]
            let f = Func::wrap(
                &engine,
                move |a: i32,
                      b: i64,
                      c: f32,
                      d: f64,
                      e: i32,
                      f: i64,
                      g: f32,
                      h: f64,
                      i: i32,
                      j: i64,
                      k: f32,
                      l: f64,
                      m: u32,
                      n: u64,
                      o: V128,
                      p: ExternRef| {
                    log.push(vec![
                        a.into_raw(),
                        b.into_raw(),
                        c.into_raw(),
                        d.into_raw(),
                        e.into_raw(),
                        f.into_raw(),
                        g.into_raw(),
                        h.into_raw(),
                        i.into_raw(),
                        j.into_raw(),
                        k.into_raw(),
                        l.into_raw(),
                        m.into_raw(),
                        n.into_raw(),
                        o.into_raw(),
                        p.into_raw(),
                    ]);
                    (f32::from_bits(0x7fa0_0001), u64::MAX)
                },
            )
            .unwrap();
            (f, vec![ValRaw::f32(0x7fa0_0001), ValRaw::u64(u64::MAX)])
        });
    }
    check_typed(&compiler, 5, |log| {
        let f = Func::wrap(&engine, move |x: ExternRef| {
            log.push(vec![x.into_raw()]);
            (ExternRef(NonNull::new(0x1234_5678 as *mut _)),)
        })
        .unwrap();
        (f, vec![ValRaw::u64(0x1234_5678)])
    });
}

#[test]
fn typed_calls_reach_every_callee_kind() {
    let engine = Engine::default();
    let sig = Signature::new(&[ValType::I32, ValType::I32], &[ValType::I32]).unwrap();
    let add = Func::wrap(&engine, |a: i32, b: i32| a.wrapping_add(b)).unwrap();
    let mul = Func::new(&engine, &sig, |a: &[Val], r: &mut [Val]| {
        let (Val::I32(x), Val::I32(y)) = (a[0], a[1]) else {
            return Err("bad types");
        };
        r[0] = Val::I32(x.wrapping_mul(y));
        Ok(())
    })
    .unwrap();
    // A wasm body that ignores its caller vmctx: the wasm entry of `add`
    // (its compiled wasm_to_native trampoline) with `add`'s own context.
    // SAFETY: `add` outlives `wasm` below, and its wasm entry is
    // wasm-convention code of `sig` expecting exactly that vmctx.
    let wasm = unsafe {
        let r = add.vm_func_ref().as_ref();
        Func::from_raw_wasm(&engine, &sig, r.wasm_call.unwrap(), r.vmctx)
    }
    .unwrap();
    assert_eq!(
        add.typed::<(i32, i32), i32>()
            .unwrap()
            .call((i32::MAX, 1))
            .unwrap(),
        i32::MIN
    );
    assert_eq!(
        mul.typed::<(i32, i32), i32>()
            .unwrap()
            .call((-3, 7))
            .unwrap(),
        -21
    );
    // native_call (stamped native_to_wasm) -> wasm_to_native -> Rust shim.
    assert_eq!(
        wasm.typed::<(i32, i32), i32>()
            .unwrap()
            .call((40, 2))
            .unwrap(),
        42
    );
    // array_call (stamped array_to_wasm) -> wasm_to_native -> Rust shim.
    let mut out = [Val::I32(0)];
    wasm.call(&[Val::I32(-50), Val::I32(8)], &mut out).unwrap();
    assert_eq!(out, [Val::I32(-42)]);
    // `wasm` runs `add`'s code but does not own it: drop it first.
    drop(wasm);
    drop(add);
}
