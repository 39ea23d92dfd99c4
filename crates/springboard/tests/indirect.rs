//! `TypedIndirect`: the host's typed `call_indirect`. Values cross the
//! compiled indirect entry and the callee's `wasm_call` (a wasm function
//! whose body is a host function's `wasm_call`), and the direct call of a
//! host function, bit-exact; the
//! check refuses what it must before anything runs and lets subtypes pass;
//! funcrefs without a `wasm_call`, and engines whose entries do not catch,
//! take `native_call`.

use springboard::types::ModuleTypes;
use springboard::{
    Config, Engine, Error, Func, FuncRef, SharedSignature, Signature, Val, ValType, WasmConv,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// The engines every value test runs on: the default (the indirect entry),
/// one whose host functions have no `wasm_call` and one of the
/// `wasmtime17` convention (both through `native_call`).
fn engines() -> Vec<(&'static str, Engine)> {
    let no_wasm_call = Config::new().host_wasm_call(false).clone();
    let wasmtime17 = Config::new().wasm_conv(WasmConv::Wasmtime17).clone();
    let mut out = vec![
        ("default", Engine::default()),
        ("no wasm_call", Engine::new(&no_wasm_call).unwrap()),
    ];
    if cfg!(target_arch = "x86_64") {
        out.push(("wasmtime17", Engine::new(&wasmtime17).unwrap()));
    }
    out
}

/// `host` itself and a wasm function whose body is `host`'s `wasm_call`
/// (when it has one): the two ways a funcref is called.
fn both_ways(engine: &Engine, host: &Func) -> Vec<(&'static str, Func)> {
    let mut out = vec![("host", host.clone())];
    // SAFETY: the funcref lives as long as `host`.
    let r = unsafe { host.vm_func_ref().as_ref() };
    if let Some(body) = r.wasm_call {
        // SAFETY: `host` outlives the returned functions (the tests keep
        // both); its `wasm_call` is wasm-convention code of its type.
        let wasm = unsafe { Func::from_raw_wasm(engine, host.ty(), body, r.vmctx) }.unwrap();
        out.push(("wasm", wasm));
    }
    out
}

fn register(engine: &Engine, params: &[ValType], results: &[ValType]) -> SharedSignature {
    engine
        .register(&Signature::new(params, results).unwrap())
        .unwrap()
}

#[test]
fn mixed_values_and_several_results_cross_bit_exact() {
    use ValType::*;
    for (name, engine) in engines() {
        let f = Func::wrap(&engine, |a: i32, b: i64, c: f32, d: f64, e: u32| {
            (d, a.wrapping_neg(), b ^ -1, c, e.rotate_left(1))
        })
        .unwrap();
        let ty = register(
            &engine,
            &[I32, I64, F32, F64, I32],
            &[F64, I32, I64, F32, I32],
        );
        let call = engine
            .typed_indirect::<(i32, i64, f32, f64, u32), (f64, i32, i64, f32, u32)>(&ty)
            .unwrap();
        let nan = f32::from_bits(0x7fc0_0001);
        let edges = [
            (i32::MIN, i64::MIN, nan, -0.0, u32::MAX),
            (-1, i64::MAX, -0.0, f64::from_bits(0x7ff8_dead_beef_0001), 0),
            (0, 0, f32::MIN_POSITIVE, f64::NEG_INFINITY, 1),
        ];
        for ((way, f), (a, b, c, d, e)) in both_ways(&engine, &f)
            .into_iter()
            .flat_map(|w| edges.map(|e| (w.clone(), e)))
        {
            let name = format!("{name}, {way}");
            // SAFETY: a live funcref of this engine.
            let (rd, ra, rb, rc, re) = unsafe { call.call(f.as_funcref(), (a, b, c, d, e)) }
                .unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(rd.to_bits(), d.to_bits(), "{name}");
            assert_eq!(ra, a.wrapping_neg(), "{name}");
            assert_eq!(rb, !b, "{name}");
            assert_eq!(rc.to_bits(), c.to_bits(), "{name}");
            assert_eq!(re, e.rotate_left(1), "{name}");
        }
    }
}

/// `a`'s values, weighted by their position: what the 16-parameter host
/// function returns.
fn weighted(a: &[i64]) -> i64 {
    a.iter().enumerate().fold(0i64, |acc, (w, &x)| {
        acc.wrapping_add(x.wrapping_mul(w as i64 + 1))
    })
}

#[test]
fn sixteen_parameters_pass_on_the_stack() {
    type P = (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    );
    #[rustfmt::skip]
    let sum16 = |a: i64, b: i64, c: i64, d: i64, e: i64, f: i64, g: i64, h: i64,
                 i: i64, j: i64, k: i64, l: i64, m: i64, n: i64, o: i64, p: i64| {
        weighted(&[a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p])
    };
    let a: [i64; 16] = [
        1,
        -2,
        3,
        i64::MIN,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
        15,
        i64::MAX,
    ];
    #[rustfmt::skip]
    let args: P = (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7],
                   a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
    for (name, engine) in engines() {
        let f = Func::wrap(&engine, sum16).unwrap();
        let ty = register(&engine, &[ValType::I64; 16], &[ValType::I64]);
        let call = engine.typed_indirect::<P, i64>(&ty).unwrap();
        for (way, f) in both_ways(&engine, &f) {
            // SAFETY: a live funcref of this engine.
            let got = unsafe { call.call(f.as_funcref(), args) }.unwrap();
            assert_eq!(got, weighted(&a), "{name}, {way}");
        }
    }
}

#[test]
fn a_refused_funcref_runs_nothing() {
    for (name, engine) in engines() {
        let ran = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&ran);
        let other = Func::wrap(&engine, move |x: i64| {
            seen.fetch_add(1, Ordering::SeqCst);
            x
        })
        .unwrap();
        let ty = register(&engine, &[ValType::I32], &[ValType::I32]);
        let call = engine.typed_indirect::<i32, i32>(&ty).unwrap();
        // SAFETY: a live funcref of this engine, and a null one.
        let (mismatch, null) = unsafe {
            (
                call.call(other.as_funcref(), 7),
                call.call(FuncRef(None), 7),
            )
        };
        assert!(
            matches!(mismatch, Err(Error::SignatureMismatch { .. })),
            "{name}: {mismatch:?}"
        );
        assert!(matches!(null, Err(Error::NullFuncRef)), "{name}: {null:?}");
        assert_eq!(ran.load(Ordering::SeqCst), 0, "{name}");
    }
}

#[test]
fn rust_types_must_fit_the_expected_type() {
    let engine = Engine::default();
    let ty = register(&engine, &[ValType::I32], &[ValType::I64]);
    assert!(engine.typed_indirect::<i64, i64>(&ty).is_err());
    assert!(engine.typed_indirect::<i32, i32>(&ty).is_err());
    assert!(engine.typed_indirect::<i32, i64>(&ty).is_ok());
    let other = Engine::default();
    assert!(matches!(
        other.typed_indirect::<i32, i64>(&ty),
        Err(Error::ForeignSignature { .. })
    ));
}

/// Declared subtypes pass the check, as in wasm's `call_indirect`, and the
/// call reaches the subtype's function.
#[test]
fn a_declared_subtype_passes() {
    let engine = Engine::default();
    let wasm = wat::parse_str(
        "(module (type $a (sub (func (param i32) (result i32)))) \
                 (type $b (sub $a (func (param i32) (result i32)))) \
                 (type $c (func (param i32) (result i32))))",
    )
    .unwrap();
    let mut module = ModuleTypes::new();
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let wasmparser::Payload::TypeSection(reader) = payload.unwrap() {
            for group in reader {
                module.push(&group.unwrap()).unwrap();
            }
        }
    }
    let types: Vec<SharedSignature> = engine
        .register_module_types(&module)
        .unwrap()
        .iter()
        .flat_map(|g| (0..g.len()).filter_map(|p| g.func(p)))
        .collect();
    let sub = Func::new_shared(&engine, &types[1], |p: &[Val], r: &mut [Val]| {
        let Val::I32(x) = p[0] else { unreachable!() };
        r[0] = Val::I32(x * 3);
        Ok::<_, Error>(())
    })
    .unwrap();
    let via_super = engine.typed_indirect::<i32, i32>(&types[0]).unwrap();
    let via_unrelated = engine.typed_indirect::<i32, i32>(&types[2]).unwrap();
    // (A wasm function is made of a structural type only: the subtype is
    // the host function's; the check is the same code whichever way the
    // call then goes.)
    for (way, f) in [("host", sub)] {
        // SAFETY: a live funcref of this engine.
        unsafe {
            assert_eq!(via_super.call(f.as_funcref(), 14).unwrap(), 42, "{way}");
            assert!(
                matches!(
                    via_unrelated.call(f.as_funcref(), 14),
                    Err(Error::SignatureMismatch { .. })
                ),
                "{way}"
            );
        }
    }
}
