//! Panics and errors in host closures, at every depth of re-entrant calls
//! (host → wasm → host → wasm …): `Err` from the outermost call, the engine
//! still usable, no unwinding through generated code.
#![cfg(feature = "compiler")]

mod common;

use springboard::{Engine, Error, Func, Signature, TypedFunc, Val, ValType, take_host_failure};
use springboard_check::{Driver, Via};
use springboard_compiler::Compiler;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn panics_and_errors_become_err_and_the_engine_stays_usable() {
    let engine = Engine::default();
    let panics = Func::wrap(&engine, |x: i32| -> i32 {
        if x < 0 {
            panic!("negative input {x}");
        }
        x * 2
    })
    .unwrap();
    let fails = Func::wrap(&engine, |x: i64| -> Result<i64, String> {
        if x == 0 {
            Err("zero is not allowed".to_owned())
        } else {
            Ok(100 / x)
        }
    })
    .unwrap();
    let typed = panics.typed::<i32, i32>().unwrap();
    for _ in 0..3 {
        match typed.call(-1) {
            Err(Error::HostPanic(m)) => assert_eq!(m, "negative input -1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(typed.call(21).unwrap(), 42, "usable after a panic");
        let mut out = [Val::I64(0)];
        let err = fails.call(&[Val::I64(0)], &mut out).unwrap_err();
        assert_eq!(err.to_string(), "host function failed: zero is not allowed");
        fails.call(&[Val::I64(4)], &mut out).unwrap();
        assert_eq!(out, [Val::I64(25)]);
    }
    let untyped = Func::new(
        &engine,
        &Signature::new(&[], &[ValType::I32]).unwrap(),
        |_: &[Val], _: &mut [Val]| Err::<(), _>(std::io::Error::other("disk on fire")),
    )
    .unwrap();
    let err = untyped.typed::<(), i32>().unwrap().call(()).unwrap_err();
    assert_eq!(err.to_string(), "host function failed: disk on fire");
}

#[test]
fn failures_reached_through_wasm_call_are_reported_to_the_runtime() {
    let compiler = Compiler::host().unwrap();
    let engine = Engine::default();
    let f = Func::wrap(&engine, |x: i32| -> i32 {
        if x == 7 { panic!("seven") } else { x }
    })
    .unwrap();
    let driver = Driver::new(&compiler, f.ty()).unwrap();
    // SAFETY: a live funcref of the driver's signature.
    let out = unsafe {
        driver
            .call_funcref(
                Via::Wasm,
                f.vm_func_ref().as_ref(),
                std::ptr::null_mut(),
                &[springboard::vm::ValRaw::i32(7)],
            )
            .unwrap()
    };
    assert_eq!(out[0].get_i32(), 0, "zeroed result after the failure");
    assert!(matches!(take_host_failure(), Some(Error::HostPanic(m)) if m == "seven"));
    assert!(take_host_failure().is_none(), "taken once");
}

/// A chain host → wasm → host → … of `depth` host levels; the innermost
/// host function panics when `fail_at` equals its level. Returns the
/// outermost typed function and a counter of host calls.
fn chain(
    engine: &Engine,
    depth: usize,
    fail_at: Arc<AtomicUsize>,
) -> (TypedFunc<i32, i32>, Arc<AtomicUsize>, Vec<Func>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut keep = Vec::new();
    let c = Arc::clone(&calls);
    let fail = Arc::clone(&fail_at);
    let mut inner = Func::wrap(engine, move |x: i32| -> i32 {
        c.fetch_add(1, Ordering::SeqCst);
        if fail.load(Ordering::SeqCst) == 0 {
            panic!("innermost failure");
        }
        x + 1
    })
    .unwrap();
    for level in 1..depth {
        // The wasm body of this level: the previous host function's wasm
        // entry (compiled wasm_to_native), wrapped as a raw wasm function.
        // SAFETY: `inner` is kept alive in `keep` for as long as `wasm`.
        let wasm = unsafe {
            let r = inner.vm_func_ref().as_ref();
            Func::from_raw_wasm(engine, inner.ty(), r.wasm_call.unwrap(), r.vmctx).unwrap()
        };
        let next = wasm.typed::<i32, i32>().unwrap();
        keep.push(inner);
        keep.push(wasm);
        let (c, fail) = (Arc::clone(&calls), Arc::clone(&fail_at));
        inner = Func::wrap(engine, move |x: i32| -> Result<i32, Error> {
            c.fetch_add(1, Ordering::SeqCst);
            if fail.load(Ordering::SeqCst) == level {
                panic!("failure at level {level}");
            }
            Ok(next.call(x)? * 2) // propagate an inner failure with `?`
        })
        .unwrap();
    }
    let typed = inner.typed::<i32, i32>().unwrap();
    keep.push(inner);
    (typed, calls, keep)
}

#[test]
fn reentrant_calls_work_and_fail_cleanly_at_every_depth() {
    let engine = Engine::default();
    const DEPTH: usize = 6;
    let fail_at = Arc::new(AtomicUsize::new(usize::MAX));
    let (outer, calls, _keep) = chain(&engine, DEPTH, Arc::clone(&fail_at));
    // No failure: ((x + 1) * 2 * 2 …), one host call per level.
    assert_eq!(outer.call(1).unwrap(), 2 << (DEPTH - 1));
    assert_eq!(calls.swap(0, Ordering::SeqCst), DEPTH);
    for level in 0..DEPTH {
        fail_at.store(level, Ordering::SeqCst);
        let err = outer.call(1).unwrap_err();
        let expected = if level == 0 {
            "innermost failure".to_owned()
        } else {
            format!("failure at level {level}")
        };
        let message = err.to_string();
        assert!(message.contains(&expected), "level {level}: {message}");
        // Levels above the failing one ran; those below did not.
        assert_eq!(
            calls.swap(0, Ordering::SeqCst),
            DEPTH - level,
            "level {level}"
        );
        assert!(take_host_failure().is_none(), "nothing left pending");
        fail_at.store(usize::MAX, Ordering::SeqCst);
        assert_eq!(
            outer.call(3).unwrap(),
            4 << (DEPTH - 1),
            "usable after a failure at {level}"
        );
        calls.store(0, Ordering::SeqCst);
    }
}

#[test]
fn a_failure_that_returns_leaves_every_result_zero() {
    // A runtime calling the entries itself (no Springboard entry above):
    // the shim returns, and every result is zero — the returned one, the
    // results area, the result slots of an array call.
    use springboard::vm::ValRaw;
    let engine = Engine::default();
    let typed = Func::wrap(&engine, |x: i32| -> Result<(i32, i64, f64), String> {
        Err(format!("refused {x}"))
    })
    .unwrap();
    #[repr(C)]
    struct Area(i64, f64);
    let mut area = Area(-1, f64::from_bits(u64::MAX));
    // SAFETY: the function's own native entry, of `(i32) -> (i32, i64, f64)`.
    let first = unsafe {
        let r = typed.vm_func_ref().as_ref();
        let f: unsafe extern "C" fn(_, _, i32, *mut Area) -> i32 =
            core::mem::transmute(r.native_call);
        f(r.vmctx, engine.caller_vmctx().as_ptr(), 7, &mut area)
    };
    assert_eq!((first, area.0, area.1.to_bits()), (0, 0, 0));
    assert!(take_host_failure().is_some());

    let untyped = Func::new(
        &engine,
        &Signature::new(&[ValType::I64, ValType::I64], &[ValType::I64]).unwrap(),
        |_: &[Val], _: &mut [Val]| Err::<(), _>(std::io::Error::other("no")),
    )
    .unwrap();
    for (f, results) in [(&typed, 3), (&untyped, 1)] {
        let mut buffer = [ValRaw::i64(-1); 3];
        // SAFETY: a live funcref; the buffer holds max(params, results).
        unsafe {
            let r = f.vm_func_ref().as_ref();
            (r.array_call)(
                r.vmctx,
                engine.caller_vmctx().as_ptr(),
                buffer.as_mut_ptr(),
                3,
            );
        }
        for (i, slot) in buffer.iter().take(results).enumerate() {
            assert_eq!(slot.get_u64(), 0, "{}: result {i}", f.ty());
        }
        assert!(take_host_failure().is_some());
    }
}

#[test]
fn a_panic_payload_whose_destructor_panics_is_an_error_not_an_abort() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("the payload's destructor panics too");
        }
    }
    let engine = Engine::default();
    let f = Func::wrap(&engine, |x: i32| -> i32 {
        if x < 0 {
            std::panic::panic_any(Bomb);
        }
        x
    })
    .unwrap();
    let typed = f.typed::<i32, i32>().unwrap();
    match typed.call(-1) {
        Err(Error::HostPanic(m)) => assert_eq!(m, "non-string panic payload"),
        other => panic!("{other:?}"),
    }
    assert_eq!(typed.call(3).unwrap(), 3, "usable after");
}

/// A raise hook that must never run: nothing here is inside a runtime's trap
/// scope, so a call would abort the test binary.
unsafe fn abort_if_raised(error: Error) -> ! {
    eprintln!("the raise hook ran for a direct call: {error}");
    std::process::abort()
}

#[test]
fn an_engine_with_a_raise_hook_returns_direct_failures_without_raising() {
    let mut config = springboard::Config::new();
    // SAFETY: the hook never returns; the test makes no call that may raise.
    unsafe { config.raise_hook(abort_if_raised) };
    let engine = Engine::new(&config).unwrap();
    let f = Func::wrap(&engine, |x: i32| -> Result<i32, String> {
        match x {
            0 => Err("zero".to_owned()),
            1 => panic!("one"),
            _ => Ok(x + 1),
        }
    })
    .unwrap();
    let typed = f.typed::<i32, i32>().unwrap();
    for _ in 0..3 {
        assert_eq!(
            typed.call(0).unwrap_err().to_string(),
            "host function failed: zero"
        );
        assert!(matches!(typed.call(1), Err(Error::HostPanic(m)) if m == "one"));
        assert_eq!(typed.call(i32::MIN).unwrap(), i32::MIN + 1, "usable after");
        let mut out = [Val::I32(7)];
        let err = f.call(&[Val::I32(0)], &mut out).unwrap_err();
        assert_eq!(err.to_string(), "host function failed: zero");
        f.call(&[Val::I32(-2)], &mut out).unwrap();
        assert_eq!(out, [Val::I32(-1)]);
    }
    assert!(take_host_failure().is_none(), "nothing left pending");
}

/// Ten parameters: more than a typed call takes through the trap mode's
/// compare (`TrapMode::call_straight`), and one on the stack on x86-64.
type Ten = (i64, f64, i64, f64, i64, f64, i64, f64, i64, f64);

/// A host function of [`Ten`] that fails on `a == 0`, panics on `a == 1`,
/// and returns `a + j` otherwise.
fn ten_parameters(engine: &Engine) -> Func {
    Func::wrap(
        engine,
        |a: i64, _: f64, _: i64, _: f64, _: i64, _: f64, _: i64, _: f64, _: i64, j: f64| match a {
            0 => Err("zero".to_owned()),
            1 => panic!("one"),
            _ => Ok(a as f64 + j),
        },
    )
    .unwrap()
}

/// Calls `func` failing, panicking and succeeding, three times over: as a
/// typed function, and by a typed `call_indirect` of its funcref.
fn fails_panics_and_returns(what: &str, engine: &Engine, func: &Func) {
    let typed: TypedFunc<Ten, f64> = func.typed().unwrap();
    let indirect = engine
        .typed_indirect::<Ten, f64>(&engine.register(func.ty()).unwrap())
        .unwrap();
    let args = |a: i64| (a, 0.5, 0, 0.0, 0, 0.0, 0, 0.0, 0, -0.25);
    type Call<'a> = &'a dyn Fn(Ten) -> Result<f64, Error>;
    let ways: [(&str, Call); 2] = [
        ("typed", &|a| typed.call(a)),
        // SAFETY: the funcref of `func`, alive for the call.
        ("call_indirect", &|a| unsafe {
            indirect.call(func.as_funcref(), a)
        }),
    ];
    for (way, call) in ways {
        let what = format!("{what}, {way}");
        for _ in 0..3 {
            let err = call(args(0)).unwrap_err();
            assert_eq!(err.to_string(), "host function failed: zero", "{what}");
            assert!(
                matches!(call(args(1)), Err(Error::HostPanic(m)) if m == "one"),
                "{what}"
            );
            assert_eq!(call(args(i64::MIN)).unwrap(), i64::MIN as f64 - 0.25);
            assert_eq!(call(args(2)).unwrap(), 1.75, "{what}: usable after");
        }
        assert!(
            take_host_failure().is_none(),
            "{what}: nothing left pending"
        );
    }
}

#[test]
fn calls_with_many_parameters_fail_the_same_way_in_every_trap_mode() {
    // A typed host function called straight (no raise hook, then with one:
    // the landing left alone, then set to return), and a wasm function
    // whose body is its `wasm_call` entered under the entry trampoline's
    // catch point (the engine's own caller) or a jump buffer (a runtime's
    // caller context).
    let mut hooked = springboard::Config::new();
    // SAFETY: the hook never returns; only direct calls are made with it.
    unsafe { hooked.raise_hook(abort_if_raised) };
    let runtime_caller = Box::new(springboard::vm::VMHostCaller::unarmed());
    let mut foreign = springboard::Config::new();
    // SAFETY: host functions accept any caller; the context outlives the
    // engine.
    unsafe {
        foreign.caller_vmctx(core::ptr::NonNull::from(&*runtime_caller).cast());
    }
    let engines = [
        ("default", Engine::default(), true),
        ("raise hook", Engine::new(&hooked).unwrap(), false),
        ("runtime caller", Engine::new(&foreign).unwrap(), true),
    ];
    for (name, engine, through_wasm) in &engines {
        let host = ten_parameters(engine);
        fails_panics_and_returns(&format!("{name}: host"), engine, &host);
        if !through_wasm {
            continue;
        }
        // SAFETY: the funcref of `host`, which outlives `body`.
        let r = unsafe { host.vm_func_ref().as_ref() };
        // SAFETY: `wasm_call` is wasm-convention code of the type, taking
        // the host's context; `host` outlives `body`.
        let body = unsafe {
            Func::from_raw_wasm(engine, host.ty(), r.wasm_call.unwrap(), r.vmctx).unwrap()
        };
        fails_panics_and_returns(&format!("{name}: wasm"), engine, &body);
    }
}
