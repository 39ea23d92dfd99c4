//! Trap semantics: a failing host function never returns into the wasm that
//! called it. Wasm bodies built with Cranelift call a failing import and then
//! write a marker; the marker must stay unwritten, and the Springboard entry
//! that entered the body returns the failure — through every entry, every
//! host-function shape, nested entries and concurrent threads.
#![cfg(feature = "compiler")]

mod common;

use common::{Body, CallerContext, TestEngine};
use springboard::{Engine, Error, Func, Signature, Val, ValType};
use std::sync::atomic::Ordering;

/// Every way a Springboard call enters `body` with `args`: for each, its
/// name, its outcome, and whether the marker was written.
fn every_entry(
    engine: &Engine,
    body: &Body,
    args: &[Val],
) -> Vec<(&'static str, Result<(), Error>, bool)> {
    let f = &body.func;
    let mut results: Vec<Val> = f
        .ty()
        .results()
        .iter()
        .map(|&t| Val::default_for(t))
        .collect();
    let expected = engine.register(f.ty()).unwrap();
    let mut out = Vec::new();
    let result = f.call(args, &mut results);
    out.push(("Func::call", result, body.marker()));
    // SAFETY: a live funcref of this engine.
    let result = unsafe { engine.call_indirect(f.as_funcref(), &expected, args, &mut results) };
    out.push(("call_indirect", result, body.marker()));
    // SAFETY: the engine's own caller context.
    let result = unsafe { f.call_with_caller(engine.caller_vmctx(), args, &mut results) };
    out.push(("call_with_caller", result, body.marker()));
    out
}

fn a_failing_import_never_returns_into_the_wasm_that_called_it(engine: TestEngine) {
    let i32_to_i32 = Signature::new(&[ValType::I32], &[ValType::I32]).unwrap();
    let hosts: Vec<(&str, Func, &str)> = vec![
        (
            "typed, panics",
            Func::wrap(&engine, |x: i32| -> i32 {
                if x == 13 {
                    panic!("unlucky {x}")
                } else {
                    x + 1
                }
            })
            .unwrap(),
            "host function panicked: unlucky 13",
        ),
        (
            "typed, returns Err",
            Func::wrap(&engine, |x: i32| -> Result<i32, String> {
                if x == 13 {
                    Err(format!("refused {x}"))
                } else {
                    Ok(x + 1)
                }
            })
            .unwrap(),
            "host function failed: refused 13",
        ),
        (
            "untyped, returns Err",
            Func::new(&engine, &i32_to_i32, |p: &[Val], r: &mut [Val]| {
                match p[0] {
                    Val::I32(13) => Err(std::io::Error::other("untyped refused 13")),
                    Val::I32(x) => {
                        r[0] = Val::I32(x + 1);
                        Ok(())
                    }
                    _ => unreachable!(),
                }
            })
            .unwrap(),
            "host function failed: untyped refused 13",
        ),
        (
            "untyped, panics",
            Func::new(&engine, &i32_to_i32, |p: &[Val], r: &mut [Val]| {
                let Val::I32(x) = p[0] else { unreachable!() };
                assert_ne!(x, 13, "untyped panic");
                r[0] = Val::I32(x + 1);
                Ok::<(), std::convert::Infallible>(())
            })
            .unwrap(),
            "untyped panic",
        ),
        (
            "untyped, results of the wrong type",
            Func::new(&engine, &i32_to_i32, |p: &[Val], r: &mut [Val]| {
                r[0] = match p[0] {
                    Val::I32(13) => Val::I64(13),
                    Val::I32(x) => Val::I32(x + 1),
                    _ => unreachable!(),
                };
                Ok::<(), std::convert::Infallible>(())
            })
            .unwrap(),
            "results 0: expected i32, got i64",
        ),
    ];
    for (what, host, message) in hosts {
        let body = engine.body(&host);
        let typed = body.func.typed::<i32, i32>().unwrap();
        // The control: no failure, the code after the call runs.
        assert_eq!(typed.call(1).unwrap(), 2, "{what}");
        assert!(
            body.marker(),
            "{what}: the marker is written without a failure"
        );
        let expected = engine.register(&i32_to_i32).unwrap();
        let indirect = engine.typed_indirect::<i32, i32>(&expected).unwrap();
        // SAFETY: a live funcref of this engine.
        let call_indirect = |x| unsafe { indirect.call(body.func.as_funcref(), x) };
        let mut entries = every_entry(&engine, &body, &[Val::I32(1)]);
        entries.push(("TypedFunc::call", typed.call(1).map(drop), body.marker()));
        entries.push((
            "TypedIndirect::call",
            call_indirect(1).map(drop),
            body.marker(),
        ));
        for (entry, result, marker) in entries {
            result.unwrap_or_else(|e| panic!("{what} via {entry}: {e}"));
            assert!(marker, "{what} via {entry}");
        }
        // The failure: every entry returns it, and the marker stays unwritten.
        let mut entries = every_entry(&engine, &body, &[Val::I32(13)]);
        entries.push(("TypedFunc::call", typed.call(13).map(drop), body.marker()));
        entries.push((
            "TypedIndirect::call",
            call_indirect(13).map(drop),
            body.marker(),
        ));
        for (entry, result, marker) in entries {
            let err = result.expect_err(entry);
            assert!(
                err.to_string().contains(message),
                "{what} via {entry}: {err}"
            );
            assert!(!marker, "{what} via {entry}: wasm ran on after the failure");
        }
        assert!(
            springboard::take_host_failure().is_none(),
            "{what}: nothing pending"
        );
        assert_eq!(typed.call(41).unwrap(), 42, "{what}: usable after");
        assert!(body.marker());
    }
}

fn multi_value_and_stack_arguments_fail_the_same_way(engine: TestEngine) {
    // Sixteen parameters (some on the stack on every ISA) and four results
    // (a results area in the native convention).
    type P = (
        i64,
        f64,
        i32,
        f32,
        i64,
        f64,
        i32,
        f32,
        i64,
        f64,
        i32,
        f32,
        i64,
        f64,
        i32,
        f32,
    );
    let host = Func::wrap(
        &engine,
        |a: i64,
         b: f64,
         c: i32,
         d: f32,
         e: i64,
         _: f64,
         _: i32,
         _: f32,
         _: i64,
         _: f64,
         _: i32,
         _: f32,
         _: i64,
         _: f64,
         _: i32,
         p: f32|
         -> Result<(i64, f64, i32, f32), String> {
            if a == i64::MIN {
                return Err("i64::MIN".into());
            }
            Ok((a + e, b, c, d + p))
        },
    )
    .unwrap();
    let body = engine.body(&host);
    let typed = body.func.typed::<P, (i64, f64, i32, f32)>().unwrap();
    let args: P = (
        7,
        -0.0,
        u32::MAX as i32,
        2.5,
        8,
        0.0,
        0,
        0.0,
        0,
        0.0,
        0,
        0.0,
        0,
        0.0,
        0,
        1.0,
    );
    let (a, b, c, d) = typed.call(args).unwrap();
    assert_eq!((a, b.to_bits(), c, d), (15, (-0.0f64).to_bits(), -1, 3.5));
    assert!(body.marker());
    let mut failing = args;
    failing.0 = i64::MIN;
    let err = typed.call(failing).unwrap_err();
    assert_eq!(err.to_string(), "host function failed: i64::MIN");
    assert!(!body.marker());
    let vals: Vec<Val> = {
        let mut raw = vec![springboard::vm::ValRaw::ZERO; 16];
        springboard::WasmParams::store(failing, &mut raw);
        raw.iter()
            .zip(host.ty().params())
            .map(|(&r, &t)| Val::from_raw(r, t, springboard::GcRefWidth::Bits32))
            .collect()
    };
    for (entry, result, marker) in every_entry(&engine, &body, &vals) {
        assert_eq!(
            result.expect_err(entry).to_string(),
            "host function failed: i64::MIN"
        );
        assert!(!marker, "{entry}");
    }
}

fn nested_entries_each_catch_their_own_failure(engine: TestEngine) {
    // host → wasm A → host h1 → wasm B → failing host h2: h1 sees B's
    // failure as its inner call's `Err`, handles it, and A runs on.
    let h2 = Func::wrap(&engine, |x: i32| -> Result<i32, String> {
        if x < 0 {
            Err("inner failure".into())
        } else {
            Ok(x * 10)
        }
    })
    .unwrap();
    let inner = engine.body(&h2);
    let inner_typed = inner.func.typed::<i32, i32>().unwrap();
    let inner_marker = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = std::sync::Arc::clone(&inner_marker);
    // SAFETY (of the raw pointer below): `inner` outlives every call.
    let inner_ctx = &raw const *inner.context as usize;
    let h1 = Func::wrap(&engine, move |x: i32| -> i32 {
        match inner_typed.call(x) {
            Ok(v) => v + 1,
            Err(e) => {
                assert_eq!(e.to_string(), "host function failed: inner failure");
                // SAFETY: see above.
                let ctx = unsafe { &*(inner_ctx as *const CallerContext) };
                seen.store(ctx.marker.load(Ordering::SeqCst), Ordering::SeqCst);
                -1
            }
        }
    })
    .unwrap();
    let outer = engine.body(&h1);
    let outer_typed = outer.func.typed::<i32, i32>().unwrap();
    assert_eq!(outer_typed.call(2).unwrap(), 21);
    assert!(outer.marker() && inner.marker());
    // The inner failure: only the inner entry sees it.
    assert_eq!(outer_typed.call(-5).unwrap(), -1);
    assert!(outer.marker(), "the outer wasm ran on");
    assert_eq!(
        inner_marker.load(Ordering::SeqCst),
        0,
        "the inner wasm stopped"
    );
    assert!(!inner.marker());
    // Propagated with `?`, it stops the outer wasm too.
    let h1_propagates = Func::wrap(&engine, {
        let inner_typed = inner.func.typed::<i32, i32>().unwrap();
        move |x: i32| -> Result<i32, Error> { Ok(inner_typed.call(x)? + 1) }
    })
    .unwrap();
    let outer2 = engine.body(&h1_propagates);
    let err = outer2
        .func
        .typed::<i32, i32>()
        .unwrap()
        .call(-5)
        .unwrap_err();
    assert!(err.to_string().contains("inner failure"), "{err}");
    assert!(!outer2.marker() && !inner.marker());
    assert_eq!(outer_typed.call(3).unwrap(), 31, "usable after");
}

fn threads_catch_their_own_failures(engine: TestEngine) {
    let host = Func::wrap(&engine, |x: i32| -> Result<i32, String> {
        if x % 3 == 0 {
            Err(format!("multiple of three: {x}"))
        } else {
            Ok(x)
        }
    })
    .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let engine = engine.clone();
            let host = host.clone();
            std::thread::spawn(move || {
                let body = engine.body(&host);
                let typed = body.func.typed::<i32, i32>().unwrap();
                for i in 0..2_000 {
                    let x = t * 10_000 + i;
                    match typed.call(x) {
                        Ok(v) => {
                            assert_eq!(v, x);
                            assert!(x % 3 != 0 && body.marker());
                        }
                        Err(e) => {
                            assert_eq!(
                                e.to_string(),
                                format!("host function failed: multiple of three: {x}")
                            );
                            assert!(x % 3 == 0 && !body.marker());
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn a_direct_typed_call_of_a_host_function_returns_its_failure(engine: TestEngine) {
    // No wasm in between: the shim returns, and the call returns the `Err`.
    let f = Func::wrap(&engine, |x: i32| -> Result<i32, String> {
        if x == 0 { Err("zero".into()) } else { Ok(x) }
    })
    .unwrap();
    let typed = f.typed::<i32, i32>().unwrap();
    assert_eq!(
        typed.call(0).unwrap_err().to_string(),
        "host function failed: zero"
    );
    assert_eq!(typed.call(5).unwrap(), 5);
}

/// A host function `(i32) -> i32` that returns its argument, and fails
/// with "refused {x}" for a negative one.
fn refusing_negatives(engine: &Engine) -> Func {
    Func::wrap(engine, |x: i32| -> Result<i32, String> {
        if x < 0 {
            Err(format!("refused {x}"))
        } else {
            Ok(x)
        }
    })
    .unwrap()
}

/// What the runtime's own host function below reaches: its own generated
/// code (a driver compiled apart from the engine) and a Springboard host
/// function that fails.
struct RuntimeState {
    driver: springboard_check::Driver,
    failing: Func,
    saw: std::sync::Mutex<Option<String>>,
}

/// A runtime's own host function (an array-convention entry the runtime
/// made, not a Springboard `Func`), called from under a Springboard entry:
/// it calls the failing function through the runtime's own generated code,
/// inside `as_host`, and handles the failure itself.
unsafe extern "C" fn runtime_host(
    vmctx: *mut springboard::vm::VMOpaqueContext,
    _caller: *mut springboard::vm::VMOpaqueContext,
    values: *mut springboard::vm::ValRaw,
    _len: usize,
) {
    // SAFETY: the test passes a live `RuntimeState` as this entry's vmctx.
    let state = unsafe { &*vmctx.cast::<RuntimeState>() };
    let arg = springboard::vm::ValRaw::i32(-1);
    let out = springboard::as_host(|| {
        // SAFETY: a live funcref of the driver's signature, with a wasm entry.
        unsafe {
            state.driver.call_funcref(
                springboard_check::Via::Wasm,
                state.failing.vm_func_ref().as_ref(),
                core::ptr::null_mut(),
                &[arg],
            )
        }
        .unwrap()
    });
    // The failure came back here, not to the Springboard entry above.
    let failure = springboard::take_host_failure().map(|e| e.to_string());
    *state.saw.lock().unwrap() = failure;
    // SAFETY: the caller's buffer holds one slot.
    unsafe { *values = springboard::vm::ValRaw::i32(out[0].get_i32() + 77) };
}

fn as_host_keeps_a_failure_beneath_a_runtimes_own_host_function(engine: TestEngine) {
    let failing = refusing_negatives(&engine);
    let compiler = springboard_compiler::Compiler::host().unwrap();
    let state = Box::new(RuntimeState {
        driver: springboard_check::Driver::new(&compiler, failing.ty()).unwrap(),
        failing: failing.clone(),
        saw: Default::default(),
    });
    // SAFETY: `runtime_host` is an array entry of `(i32) -> i32` taking a
    // `RuntimeState`, which outlives the function.
    let runtime_func = unsafe {
        Func::from_array_entry(
            &engine,
            failing.ty(),
            runtime_host,
            (&raw const *state).cast_mut().cast(),
        )
    }
    .unwrap();
    // Entered by Springboard, under a catch point, through wasm.
    let body = engine.body(&runtime_func);
    let result = body.func.typed::<i32, i32>().unwrap().call(5);
    assert_eq!(result.unwrap(), 77, "zeros from the failing call, plus 77");
    assert!(
        body.marker(),
        "the wasm above the runtime's function ran on"
    );
    assert_eq!(
        state.saw.lock().unwrap().as_deref(),
        Some("host function failed: refused -1")
    );
}

/// What the runtime's host function below calls: a body of the engine's
/// own wasm whose import fails, and a failing Springboard function.
struct NestingState {
    inner: springboard::TypedFunc<i32, i32>,
    failing: Func,
    inner_saw: std::sync::Mutex<Option<String>>,
    ran_on: std::sync::atomic::AtomicBool,
}

/// A runtime's own host function that does not wrap its body in
/// `as_host`, so it runs under the landing of the Springboard entry above:
/// a typed call from it catches its own failure and leaves that landing as
/// it found it, so the failing function it then calls stops the entry
/// above, at once (nothing in this frame owns anything by then).
unsafe extern "C" fn runtime_host_without_as_host(
    vmctx: *mut springboard::vm::VMOpaqueContext,
    caller: *mut springboard::vm::VMOpaqueContext,
    values: *mut springboard::vm::ValRaw,
    _len: usize,
) {
    // SAFETY: the test passes a live `NestingState` as this entry's vmctx.
    let state = unsafe { &*vmctx.cast::<NestingState>() };
    let inner = state.inner.call(-2).map_err(|e| e.to_string());
    *state.inner_saw.lock().unwrap() = inner.err();
    // SAFETY: the failing function's own native entry, of `(i32) -> i32`.
    let zero = unsafe {
        let r = state.failing.vm_func_ref().as_ref();
        let f: unsafe extern "C" fn(_, _, i32) -> i32 = core::mem::transmute(r.native_call);
        f(r.vmctx, caller, -3)
    };
    state.ran_on.store(true, Ordering::SeqCst);
    // SAFETY: the caller's buffer holds one slot.
    unsafe { *values = springboard::vm::ValRaw::i32(zero) };
}

fn a_typed_call_under_a_runtimes_own_host_function_keeps_the_landing(engine: TestEngine) {
    let failing = refusing_negatives(&engine);
    let inner_body = engine.body(&failing);
    let state = Box::new(NestingState {
        inner: inner_body.func.typed::<i32, i32>().unwrap(),
        failing: failing.clone(),
        inner_saw: Default::default(),
        ran_on: Default::default(),
    });
    // SAFETY: an array entry of `(i32) -> i32` taking a `NestingState`,
    // which outlives the function.
    let runtime_func = unsafe {
        Func::from_array_entry(
            &engine,
            failing.ty(),
            runtime_host_without_as_host,
            (&raw const *state).cast_mut().cast(),
        )
    }
    .unwrap();
    let body = engine.body(&runtime_func);
    let err = body.func.typed::<i32, i32>().unwrap().call(5).unwrap_err();
    assert_eq!(
        state.inner_saw.lock().unwrap().as_deref(),
        Some("host function failed: refused -2"),
        "the inner call caught its own failure"
    );
    assert!(!inner_body.marker(), "the inner body stopped at its import");
    assert_eq!(err.to_string(), "host function failed: refused -3");
    assert!(
        !state.ran_on.load(Ordering::SeqCst),
        "the failure after the inner call went to the entry above"
    );
    assert!(!body.marker(), "the outer body stopped too");
    assert!(springboard::take_host_failure().is_none());
}

fn an_entry_returns_its_own_failure_not_an_older_one_nobody_took(engine: TestEngine) {
    let failing = Func::wrap(&engine, |x: i32| -> Result<i32, String> {
        Err(format!("refused {x}"))
    })
    .unwrap();
    // Code Springboard did not enter leaves a failure nobody takes.
    let compiler = springboard_compiler::Compiler::host().unwrap();
    let driver = springboard_check::Driver::new(&compiler, failing.ty()).unwrap();
    // SAFETY: a live funcref of the driver's signature, with a wasm entry.
    let zeros = unsafe {
        driver.call_funcref(
            springboard_check::Via::Wasm,
            failing.vm_func_ref().as_ref(),
            core::ptr::null_mut(),
            &[springboard::vm::ValRaw::i32(1)],
        )
    }
    .unwrap();
    assert_eq!(zeros[0].get_i32(), 0);
    // A Springboard entry whose own import fails reports its own failure.
    let body = engine.body(&failing);
    let err = body.func.typed::<i32, i32>().unwrap().call(2).unwrap_err();
    assert_eq!(err.to_string(), "host function failed: refused 2");
    assert!(!body.marker());
    assert!(springboard::take_host_failure().is_none());
}

fn a_function_fronting_a_foreign_entry_is_transparent_to_failures_beneath(engine: TestEngine) {
    // The foreign native entry is generated code (a wasm body's stamped
    // `native_to_wasm`) whose body calls a failing import: the failure must
    // stop that body and reach the Springboard entry above the forwarder.
    let failing = refusing_negatives(&engine);
    let body = engine.body(&failing);
    // SAFETY: the body's native entry and context, alive with `body`.
    let (code, vmctx) = unsafe {
        let r = body.func.vm_func_ref().as_ref();
        (r.native_call, r.vmctx)
    };
    // SAFETY: native code of `(i32) -> i32` accepting `vmctx`, which
    // outlives the function.
    let front = unsafe { Func::from_native_entry::<(i32,), i32>(&engine, code, vmctx) }.unwrap();
    let typed = front.typed::<i32, i32>().unwrap();
    assert_eq!(typed.call(4).unwrap(), 4);
    assert!(body.marker(), "the control");
    let err = typed.call(-4).unwrap_err();
    assert_eq!(err.to_string(), "host function failed: refused -4");
    assert!(!body.marker(), "the body ran on after its import failed");
    let mut out = [Val::I32(0)];
    let err = front.call(&[Val::I32(-5)], &mut out).unwrap_err();
    assert_eq!(err.to_string(), "host function failed: refused -5");
    assert!(!body.marker());
}

on_every_kind_of_entry!(
    a_failing_import_never_returns_into_the_wasm_that_called_it,
    multi_value_and_stack_arguments_fail_the_same_way,
    nested_entries_each_catch_their_own_failure,
    threads_catch_their_own_failures,
    a_direct_typed_call_of_a_host_function_returns_its_failure,
    as_host_keeps_a_failure_beneath_a_runtimes_own_host_function,
    a_typed_call_under_a_runtimes_own_host_function_keeps_the_landing,
    an_entry_returns_its_own_failure_not_an_older_one_nobody_took,
    a_function_fronting_a_foreign_entry_is_transparent_to_failures_beneath,
);
