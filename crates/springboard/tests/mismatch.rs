//! Every way to get a signature wrong is refused with the right error, and
//! nothing runs.
#![cfg(feature = "compiler")]

use springboard::{Engine, Error, Func, FuncRef, Signature, Val, ValType};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A host function of `(i32, i64) -> f64` counting its calls.
fn counted(engine: &Engine) -> (Func, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let f = Func::wrap(engine, move |a: i32, b: i64| {
        c.fetch_add(1, Ordering::SeqCst);
        a as f64 + b as f64
    })
    .unwrap();
    (f, calls)
}

fn sig(params: &[ValType], results: &[ValType]) -> Signature {
    Signature::new(params, results).unwrap()
}

#[test]
fn call_indirect_with_another_type_is_a_mismatch_naming_both() {
    let engine = Engine::default();
    let (f, calls) = counted(&engine);
    let wrong = [
        sig(&[ValType::I32, ValType::I64], &[ValType::F32]), // result differs
        sig(&[ValType::I64, ValType::I32], &[ValType::F64]), // params swapped
        sig(&[ValType::I32], &[ValType::F64]),               // one param short
        sig(&[], &[]),
    ];
    for expected in wrong {
        let shared = engine.register(&expected).unwrap();
        let params: Vec<Val> = expected
            .params()
            .iter()
            .map(|&t| Val::default_for(t))
            .collect();
        let mut results: Vec<Val> = expected
            .results()
            .iter()
            .map(|&t| Val::default_for(t))
            .collect();
        // SAFETY: `f` is a live funcref of this engine.
        let err = unsafe { engine.call_indirect(f.as_funcref(), &shared, &params, &mut results) }
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::SignatureMismatch { .. }), "{err:?}");
        assert!(message.contains(&expected.to_string()), "{message}");
        assert!(
            message.contains("(func (param i32 i64) (result f64))"),
            "{message}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing ran");
    // The right type passes and runs.
    let right = engine.register(f.ty()).unwrap();
    let mut out = [Val::F64(0)];
    // SAFETY: as above.
    unsafe {
        engine.call_indirect(
            f.as_funcref(),
            &right,
            &[Val::I32(1), Val::I64(2)],
            &mut out,
        )
    }
    .unwrap();
    assert_eq!(out, [Val::F64(3.0f64.to_bits())]);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn null_funcrefs_are_refused() {
    let engine = Engine::default();
    let ty = engine.register(&sig(&[], &[])).unwrap();
    // SAFETY: null is always allowed.
    let err = unsafe { engine.call_indirect(FuncRef(None), &ty, &[], &mut []) }.unwrap_err();
    assert!(matches!(err, Error::NullFuncRef));
}

#[test]
fn funcrefs_and_types_of_another_engine_are_refused() {
    let (a, b) = (Engine::default(), Engine::default());
    let (f, calls) = counted(&a);
    // Structurally equal types registered in both engines get different indices.
    let in_b = b.register(f.ty()).unwrap();
    assert_ne!(in_b.index(), f.shared_signature().index());
    let params = [Val::I32(1), Val::I64(2)];
    let mut out = [Val::F64(0)];
    // SAFETY: `f` is live (though of engine `a`).
    let err = unsafe { b.call_indirect(f.as_funcref(), &in_b, &params, &mut out) }.unwrap_err();
    assert!(
        matches!(&err, Error::SignatureMismatch { actual, .. } if actual.contains("another engine")),
        "{err}"
    );
    // A type handle of engine `a` given to engine `b`.
    // SAFETY: as above.
    let err = unsafe { b.call_indirect(f.as_funcref(), f.shared_signature(), &params, &mut out) }
        .unwrap_err();
    assert!(matches!(err, Error::ForeignSignature { .. }), "{err}");
    assert!(b.lookup(f.shared_signature().index()).is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing ran");
}

#[test]
fn untyped_calls_check_count_and_type_of_every_value() {
    let engine = Engine::default();
    let (f, calls) = counted(&engine);
    let mut one = [Val::F64(0)];
    let cases: Vec<(Vec<Val>, usize, &str)> = vec![
        (vec![Val::I32(1)], 1, "expected 2 parameters, got 1"),
        (
            vec![Val::I32(1), Val::I64(2), Val::I32(3)],
            1,
            "expected 2 parameters, got 3",
        ),
        (
            vec![Val::I64(1), Val::I64(2)],
            1,
            "parameters 0: expected i32, got i64",
        ),
        (
            vec![Val::I32(1), Val::F64(2)],
            1,
            "parameters 1: expected i64, got f64",
        ),
        (
            vec![Val::I32(1), Val::I64(2)],
            0,
            "expected 1 results, got 0",
        ),
        (
            vec![Val::I32(1), Val::I64(2)],
            2,
            "expected 1 results, got 2",
        ),
    ];
    for (params, n_results, message) in cases {
        let mut results = vec![Val::F64(0); n_results];
        let err = f.call(&params, &mut results).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing ran");
    f.call(&[Val::I32(1), Val::I64(2)], &mut one).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn typed_views_of_another_type_are_refused() {
    let engine = Engine::default();
    let (f, _) = counted(&engine);
    assert!(f.typed::<(i32, i64), f64>().is_ok());
    for err in [
        f.typed::<(i32, i64), f32>().err(),
        f.typed::<(i64, i32), f64>().err(),
        f.typed::<(i32,), f64>().err(),
        f.typed::<(i32, i64), (f64, f64)>().err(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(matches!(err, Error::SignatureMismatch { .. }), "{err}");
    }
    // u32 and u64 are the same wasm types as i32 and i64.
    assert!(f.typed::<(u32, u64), f64>().is_ok());
}

#[test]
fn untyped_hosts_returning_wrong_types_fail_the_call() {
    let engine = Engine::default();
    let ty = sig(&[], &[ValType::I32, ValType::F32]);
    let f = Func::new(&engine, &ty, |_: &[Val], r: &mut [Val]| {
        r[1] = Val::I64(7); // wrong type for result 1
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap();
    let mut out = [Val::I32(0), Val::F32(0)];
    let err = f.call(&[], &mut out).unwrap_err();
    assert_eq!(err.to_string(), "results 1: expected f32, got i64");
    // The engine and the function stay usable.
    let ok = Func::new(&engine, &ty, |_: &[Val], r: &mut [Val]| {
        r[0] = Val::I32(5);
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap();
    ok.call(&[], &mut out).unwrap();
    assert_eq!(out[0], Val::I32(5));
}

#[test]
fn array_calls_with_a_short_buffer_are_refused_by_host_shims() {
    let engine = Engine::default();
    let (typed, calls) = counted(&engine);
    let untyped = Func::new(&engine, typed.ty(), |_: &[Val], _: &mut [Val]| {
        Err::<(), _>("must not run")
    })
    .unwrap();
    for f in [&typed, &untyped] {
        let r = unsafe { f.vm_func_ref().as_ref() };
        let mut one = [springboard::vm::ValRaw::ZERO];
        // SAFETY: a live funcref; the shim checks the capacity itself.
        unsafe { (r.array_call)(r.vmctx, std::ptr::null_mut(), one.as_mut_ptr(), 1) };
        // The failure surfaces at the next Springboard call on this thread.
        let err = f
            .call(&[Val::I32(0), Val::I64(0)], &mut [Val::F64(0)])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "array call with 1 slots, but the type needs 2"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "only the last checked call ran"
    );
}

#[test]
fn the_compiled_check_stub_agrees_with_the_rust_check() {
    let (a, b) = (Engine::default(), Engine::default());
    let stub = a.signature_check_stub().unwrap();
    let subtypes = a.subtype_table();
    // SAFETY (for each use): the stub reads only `type_index` of non-null
    // funcrefs and the live engine's subtype table.
    let check = |funcref, expected| unsafe { stub(funcref, expected, subtypes) };
    let (f, _) = counted(&a);
    let (g, _) = counted(&b);
    let right = f.shared_signature().index().bits();
    let other = a.register(&sig(&[], &[])).unwrap();
    assert_eq!(check(f.vm_func_ref().as_ptr(), right), 0);
    assert_eq!(check(std::ptr::null(), right), 1);
    assert_eq!(check(f.vm_func_ref().as_ptr(), other.index().bits()), 2);
    // A funcref of engine `b` with the same type: a mismatch.
    assert_eq!(check(g.vm_func_ref().as_ptr(), right), 2);
    assert_eq!(check(f.vm_func_ref().as_ptr(), u32::MAX), 2);
}

#[test]
fn unsupported_and_over_long_types_are_errors() {
    use wasmparser::{AbstractHeapType, HeapType, RefType, ValType as W};
    let engine = Engine::default();
    // Shared references are beyond WebAssembly 3.0.
    let shared_any = W::Ref(
        RefType::new(
            true,
            HeapType::Abstract {
                shared: true,
                ty: AbstractHeapType::Any,
            },
        )
        .unwrap(),
    );
    let err = engine
        .register_wasm(&wasmparser::FuncType::new([W::I32, shared_any], []))
        .unwrap_err();
    assert!(
        err.to_string().starts_with("unsupported value type `")
            && err.to_string().contains("shared"),
        "{err}"
    );
    let err = engine
        .register_wasm(&wasmparser::FuncType::new([W::I32; 1001], []))
        .unwrap_err();
    assert_eq!(err.to_string(), "too many parameters: 1001 (at most 1000)");
}
