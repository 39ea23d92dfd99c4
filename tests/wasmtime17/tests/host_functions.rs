//! Springboard host functions imported by Wasmtime 17 modules and called
//! from their wasm: typed ones (`wasm_call` = Springboard's `wasm_to_native`)
//! and untyped ones (`wasm_to_array`) in Wasmtime's default configuration,
//! and typed ones with `wasm_call` left for Wasmtime to fill when tail calls
//! are on — each bit-exact against the same module instantiated with
//! Wasmtime's own host functions. Types are numbered by Wasmtime
//! (`WasmtimeIndices`), so the imports pass Wasmtime's type checks.
#![cfg(target_arch = "x86_64")]

use springboard::{Config, Engine, Error, Val, WasmConv};
use springboard_wasmtime17_tests::{WasmtimeIndices, signature, to_springboard, to_wasmtime};

const IMPORTER: &str = r#"
(module
  (import "host" "mixed" (func $mixed (param i32 i64 f32 f64) (result i64 f64 i32 f32)))
  (import "host" "vectors" (func $vectors (param v128 v128) (result v128 v128)))
  (import "host" "twenty" (func $twenty
    (param i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64)
    (result i64 f64 i32)))
  ;; Each caller keeps a value of its own live across the call.
  (func (export "call_mixed") (param i32 i64 f32 f64) (result i64 i64 f64 i32 f32)
    local.get 1 i64.const 3 i64.mul
    local.get 0 local.get 1 local.get 2 local.get 3 call $mixed)
  (func (export "call_vectors") (param v128 v128) (result v128 v128 v128)
    local.get 0 local.get 1 i32x4.sub
    local.get 0 local.get 1 call $vectors)
  (func (export "call_twenty")
    (param i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64)
    (result i32 i64 f64 i32)
    local.get 0 i32.const 5 i32.mul
    local.get 0 local.get 1 local.get 2 local.get 3 local.get 4
    local.get 5 local.get 6 local.get 7 local.get 8 local.get 9
    local.get 10 local.get 11 local.get 12 local.get 13 local.get 14
    local.get 15 local.get 16 local.get 17 local.get 18 local.get 19
    call $twenty)
)
"#;

/// What every `mixed` host function computes, on either side.
fn mixed(a: i32, b: i64, c: f32, d: f64) -> (i64, f64, i32, f32) {
    (b.wrapping_mul(7) ^ 1, d, a.rotate_left(3), c)
}

/// What every `vectors` host function computes.
fn vectors(params: &[Val], results: &mut [Val]) {
    let (Val::V128(x), Val::V128(y)) = (params[0], params[1]) else {
        panic!("v128 parameters")
    };
    results[0] = Val::V128(x ^ y);
    results[1] = Val::V128(x.rotate_left(8));
}

/// What every `twenty` host function computes: the `i64`s summed, the last
/// `f64` as it came, the two ends' `i32`s mixed.
fn twenty(params: &[Val], results: &mut [Val]) {
    let sum = params
        .iter()
        .filter_map(|v| match v {
            Val::I64(x) => Some(*x),
            _ => None,
        })
        .fold(0i64, i64::wrapping_add);
    let (Val::I32(first), Val::F64(last_f64), Val::I32(i16)) = (params[0], params[19], params[16])
    else {
        panic!("the declared types")
    };
    results[0] = Val::I64(sum);
    results[1] = Val::F64(last_f64);
    results[2] = Val::I32(first ^ i16.rotate_left(7));
}

fn wasmtime_untyped(
    store: &mut wasmtime::Store<()>,
    ty: wasmtime::FuncType,
    f: fn(&[Val], &mut [Val]),
) -> wasmtime::Func {
    let result_types = signature(&ty).results().to_vec();
    wasmtime::Func::new(store, ty, move |_, params, results| {
        let params: Vec<Val> = params.iter().map(to_springboard).collect();
        let mut out: Vec<Val> = result_types.iter().map(|&t| Val::default_for(t)).collect();
        f(&params, &mut out);
        for (r, v) in results.iter_mut().zip(&out) {
            *r = to_wasmtime(v);
        }
        Ok(())
    })
}

/// The arguments of each export, edge values included.
fn cases() -> Vec<(&'static str, Vec<wasmtime::Val>)> {
    use wasmtime::Val as W;
    let mut out = Vec::new();
    for (a, b, c, d) in [
        (i32::MIN, i64::MIN, 0x8000_0000u32, 0x8000_0000_0000_0000u64),
        (
            -1,
            0x0102_0304_0506_0708,
            0x7fa0_0001,
            0x7ff4_0000_0000_0001,
        ),
        (0x1234_5678, -1, 0xffc0_1234, 0xfff8_dead_beef_0001),
    ] {
        out.push((
            "call_mixed",
            vec![W::I32(a), W::I64(b), W::F32(c), W::F64(d)],
        ));
        out.push((
            "call_vectors",
            vec![
                W::V128((u128::from(d) << 64 | u128::from(c)).into()),
                W::V128((u128::MAX ^ u128::from(a as u32)).into()),
            ],
        ));
        let twenty: Vec<W> = (0..20)
            .map(|i| match i % 4 {
                0 => W::I32(a.wrapping_add(i)),
                1 => W::I64(b.wrapping_sub(i64::from(i))),
                2 => W::F32(c ^ i as u32),
                _ => W::F64(d ^ i as u64),
            })
            .collect();
        out.push(("call_twenty", twenty));
    }
    out
}

/// Runs every case against the module instantiated with `imports`.
fn run(
    store: &mut wasmtime::Store<()>,
    module: &wasmtime::Module,
    imports: &[wasmtime::Extern],
    only: &[&str],
) -> Vec<Vec<Val>> {
    let instance = wasmtime::Instance::new(&mut *store, module, imports).unwrap();
    cases()
        .into_iter()
        .filter(|(name, _)| only.contains(name))
        .map(|(name, args)| {
            let f = instance.get_func(&mut *store, name).unwrap();
            let mut results = vec![wasmtime::Val::I32(0); f.ty(&*store).results().len()];
            f.call(&mut *store, &args, &mut results).unwrap();
            results.iter().map(to_springboard).collect()
        })
        .collect()
}

/// The importing module, a store, its import types, and Wasmtime's own
/// host functions for them: the reference.
struct Importer {
    module: wasmtime::Module,
    store: wasmtime::Store<()>,
    types: Vec<wasmtime::FuncType>,
    theirs: [wasmtime::Extern; 3],
}

fn importer(engine: &wasmtime::Engine) -> Importer {
    let module = wasmtime::Module::new(engine, IMPORTER).unwrap();
    let mut store = wasmtime::Store::new(engine, ());
    let types: Vec<wasmtime::FuncType> = module
        .imports()
        .map(|i| i.ty().func().unwrap().clone())
        .collect();
    let theirs = [
        wasmtime::Func::wrap(&mut store, mixed).into(),
        wasmtime_untyped(&mut store, types[1].clone(), vectors).into(),
        wasmtime_untyped(&mut store, types[2].clone(), twenty).into(),
    ];
    Importer {
        module,
        store,
        types,
        theirs,
    }
}

#[test]
fn springboard_host_functions_called_from_wasmtime_17_wasm() {
    let wt_engine = wasmtime::Engine::default();
    let Importer {
        module,
        mut store,
        types,
        theirs,
    } = importer(&wt_engine);
    let all = ["call_mixed", "call_vectors", "call_twenty"];
    let expected = run(&mut store, &module, &theirs, &all);

    let mut config = Config::new();
    config
        .wasm_conv(WasmConv::Wasmtime17)
        .type_indices(WasmtimeIndices::new(&wt_engine));
    let engine = Engine::new(&config).unwrap();
    let sig = |i: usize| signature(&types[i]);
    let ours = [
        springboard::Func::wrap(&engine, mixed).unwrap(),
        springboard::Func::new(&engine, &sig(1), |p, r| {
            vectors(p, r);
            Ok::<(), Error>(())
        })
        .unwrap(),
        springboard::Func::new(&engine, &sig(2), |p, r| {
            twenty(p, r);
            Ok::<(), Error>(())
        })
        .unwrap(),
    ];
    for (f, ty) in ours.iter().zip(&types) {
        assert_eq!(f.ty(), &signature(ty));
        assert!(f.as_funcref().0.is_some());
    }
    let imports: Vec<wasmtime::Extern> = ours
        .iter()
        .map(|f| {
            // SAFETY: a live funcref whose type index is Wasmtime's own for
            // its type (`WasmtimeIndices`), with Wasmtime 17's conventions;
            // `ours` outlives every call below.
            unsafe { wasmtime::Func::from_raw(&mut store, f.vm_func_ref().as_ptr().cast()) }
                .unwrap()
                .into()
        })
        .collect();
    let got = run(&mut store, &module, &imports, &all);
    assert_eq!(got, expected);
    assert_eq!(got.len(), 9);
}

/// With tail calls on, Wasmtime 17 compiles wasm with Cranelift 0.104's
/// `tail`, which no `WasmConv` matches: typed host functions leave
/// `wasm_call` for Wasmtime to fill, and untyped ones are refused up front.
#[test]
fn with_tail_calls_on_wasmtime_fills_wasm_call() {
    let mut wt_config = wasmtime::Config::new();
    wt_config.wasm_tail_call(true);
    let wt_engine = wasmtime::Engine::new(&wt_config).unwrap();
    let Importer {
        module,
        mut store,
        types,
        theirs,
    } = importer(&wt_engine);
    let expected = run(&mut store, &module, &theirs, &["call_mixed"]);

    let mut config = Config::new();
    config
        .host_wasm_call(false)
        .type_indices(WasmtimeIndices::new(&wt_engine));
    let engine = Engine::new(&config).unwrap();
    let typed = springboard::Func::wrap(&engine, mixed).unwrap();
    // SAFETY: a live funcref of this engine.
    assert!(unsafe { typed.vm_func_ref().as_ref() }.wasm_call.is_none());
    let sig = signature(&types[1]);
    let refused = springboard::Func::new(&engine, &sig, |_, _| Ok::<(), Error>(()));
    assert!(
        matches!(refused, Err(Error::NoWasmCall { .. })),
        "{refused:?}"
    );
    let imports = [
        // SAFETY: as in the default-configuration test.
        unsafe { wasmtime::Func::from_raw(&mut store, typed.vm_func_ref().as_ptr().cast()) }
            .unwrap()
            .into(),
        theirs[1].clone(),
        theirs[2].clone(),
    ];
    let got = run(&mut store, &module, &imports, &["call_mixed"]);
    assert_eq!(got, expected);
    assert_eq!(got.len(), 3);
}

/// Called from Wasmtime 17's wasm, a Springboard host closure's `Caller`
/// is the calling instance's own `VMContext`.
#[test]
fn the_caller_is_the_calling_wasmtime_instance() {
    use springboard::Caller;
    use springboard::vm::{VMCONTEXT_MAGIC, VMOpaqueContext};
    use std::sync::{Arc, Mutex};
    let wt_engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(
        &wt_engine,
        r#"(module
             (import "host" "f" (func $f (param i32) (result i32)))
             (func (export "call") (param i32) (result i32) local.get 0 call $f))"#,
    )
    .unwrap();
    let mut store = wasmtime::Store::new(&wt_engine, ());
    let mut config = Config::new();
    config
        .wasm_conv(WasmConv::Wasmtime17)
        .type_indices(WasmtimeIndices::new(&wt_engine));
    let engine = Engine::new(&config).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let f = springboard::Func::wrap(&engine, move |caller: Caller<'_>, x: i32| {
        // SAFETY: Wasmtime passes its instance's live context.
        let magic = unsafe { VMOpaqueContext::magic(caller.vmctx()) };
        log.lock()
            .unwrap()
            .push((caller.vmctx() as usize, magic, caller.is_host()));
        x.wrapping_mul(3)
    })
    .unwrap();
    // SAFETY: as in the tests above.
    let import =
        unsafe { wasmtime::Func::from_raw(&mut store, f.vm_func_ref().as_ptr().cast()) }.unwrap();
    let instance = wasmtime::Instance::new(&mut store, &module, &[import.into()]).unwrap();
    let call = instance
        .get_typed_func::<i32, i32>(&mut store, "call")
        .unwrap();
    assert_eq!(call.call(&mut store, 14).unwrap(), 42);
    let export = instance.get_func(&mut store, "call").unwrap();
    // SAFETY: a live funcref of the store: its vmctx is the instance's.
    let instance_vmctx = unsafe {
        (*export
            .to_raw(&mut store)
            .cast::<springboard::vm::VMFuncRef>())
        .vmctx
    };
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(instance_vmctx as usize, VMCONTEXT_MAGIC, false)]
    );
}
