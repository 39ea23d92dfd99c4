//! Wasmtime 17's own funcrefs through Springboard: typed by an engine that
//! shares Wasmtime's type numbering, called through their `array_call`
//! (`Func::call`) and `native_call` (`TypedFunc::call`) — wasm exports and
//! Wasmtime host functions, which need a real caller context — and checked
//! by `check_funcref`, with Wasmtime's numbering and without it.
#![cfg(target_arch = "x86_64")]

use springboard::vm::VMFuncRef;
use springboard::{Config, Engine, Error, Func, FuncRef, Val};
use springboard_wasmtime17_tests::{
    BODIES, WasmtimeIndices, func_then_through, inside_wasmtime, pattern_args, signature, through,
    to_springboard, wasmtime_results,
};
use std::ptr::NonNull;

struct Fixture {
    store: wasmtime::Store<()>,
    instance: wasmtime::Instance,
    indices: std::sync::Arc<WasmtimeIndices>,
}

fn fixture() -> Fixture {
    fixture_with(&wasmtime::Config::new())
}

fn fixture_with(config: &wasmtime::Config) -> Fixture {
    let engine = wasmtime::Engine::new(config).unwrap();
    let module = wasmtime::Module::new(&engine, BODIES).unwrap();
    let mut store = wasmtime::Store::new(&engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
    Fixture {
        indices: WasmtimeIndices::new(&engine),
        store,
        instance,
    }
}

fn raw(store: &mut wasmtime::Store<()>, f: &wasmtime::Func) -> NonNull<VMFuncRef> {
    // SAFETY: the store outlives every use in these tests.
    NonNull::new(unsafe { f.to_raw(&mut *store) }.cast()).unwrap()
}

#[test]
fn wasmtime_exports_through_springboard_array_and_native_calls() {
    let Fixture {
        mut store,
        instance,
        indices,
    } = fixture();
    let mut config = Config::new();
    config.type_indices(indices);
    let engine = Engine::new(&config).unwrap();
    for (name, args) in [
        ("add", vec![Val::I32(i32::MAX), Val::I32(1)]),
        (
            "mixed",
            vec![
                Val::I32(-7),
                Val::I64(i64::MIN),
                Val::F32(0x7fa0_0001),
                Val::F64(0x8000_0000_0000_0000),
            ],
        ),
        (
            "vectors",
            vec![Val::V128(u128::MAX), Val::V128(0x0102_0304_0506_0708_090a)],
        ),
    ] {
        let wt = instance.get_func(&mut store, name).unwrap();
        let sig = signature(&wt.ty(&store));
        let wt_args: Vec<wasmtime::Val> = args
            .iter()
            .map(springboard_wasmtime17_tests::to_wasmtime)
            .collect();
        let mut expected = vec![wasmtime::Val::I32(0); sig.results().len()];
        wt.call(&mut store, &wt_args, &mut expected).unwrap();
        let expected: Vec<Val> = expected.iter().map(to_springboard).collect();
        let funcref = raw(&mut store, &wt);
        // Unknown to the engine until it registers the type.
        // SAFETY: a live Wasmtime funcref.
        let unknown = unsafe { Func::from_raw_funcref(&engine, funcref) };
        assert!(matches!(unknown, Err(Error::UnknownTypeIndex { .. })));
        let _ty = engine.register(&sig).unwrap();
        // SAFETY: as above; its index is Wasmtime's for `sig`.
        let func = unsafe { Func::from_raw_funcref(&engine, funcref) }.unwrap();
        assert_eq!(func.ty(), &sig);
        let got = inside_wasmtime(&mut store, move || {
            let mut results: Vec<Val> =
                sig.results().iter().map(|&t| Val::default_for(t)).collect();
            func.call(&args, &mut results).unwrap();
            results
        });
        assert_eq!(got, expected, "{name} through Wasmtime's array_call");
    }
    // A typed call goes through Wasmtime's native_call. (The types above
    // were released with their last handle: register again.)
    let wt = instance.get_func(&mut store, "add").unwrap();
    let _ty = engine.register(&signature(&wt.ty(&store))).unwrap();
    let funcref = raw(&mut store, &wt);
    // SAFETY: a live Wasmtime funcref of a type the engine registered.
    let func = unsafe { Func::from_raw_funcref(&engine, funcref) }.unwrap();
    let sum = inside_wasmtime(&mut store, move || {
        func.typed::<(i32, i32), i32>()
            .unwrap()
            .call((-3, 45))
            .unwrap()
    });
    assert_eq!(sum, 42);
}

#[test]
fn a_wasmtime_host_function_gets_the_runtime_caller_context() {
    let Fixture {
        mut store,
        instance,
        indices,
    } = fixture();
    let host = wasmtime::Func::wrap(&mut store, |a: i64, b: i64| a.wrapping_sub(b));
    // The context of an instance of this store, as its caller.
    let export = instance.get_func(&mut store, "add").unwrap();
    // SAFETY: a live funcref of the store.
    let caller = unsafe { raw(&mut store, &export).as_ref() }.vmctx;
    let mut config = Config::new();
    config.type_indices(indices);
    // SAFETY: the instance lives as long as the store, which outlives the
    // engine's calls below; Wasmtime host functions accept any of its
    // instances' contexts as their caller.
    unsafe { config.caller_vmctx(NonNull::new(caller).unwrap()) };
    let engine = Engine::new(&config).unwrap();
    assert_eq!(engine.caller_vmctx().as_ptr(), caller);
    let sig = signature(&host.ty(&store));
    let _ty = engine.register(&sig).unwrap();
    let funcref = raw(&mut store, &host);
    // SAFETY: a live Wasmtime host funcref of a registered type.
    let func = unsafe { Func::from_raw_funcref(&engine, funcref) }.unwrap();
    let got = inside_wasmtime(&mut store, move || {
        let mut out = [Val::I64(0)];
        func.call(&[Val::I64(i64::MIN), Val::I64(1)], &mut out)
            .unwrap();
        let typed = func
            .typed::<(i64, i64), i64>()
            .unwrap()
            .call((10, 52))
            .unwrap();
        (out[0], typed)
    });
    assert_eq!(got, (Val::I64(i64::MAX), -42));
}

#[test]
fn check_funcref_with_and_without_wasmtimes_numbering() {
    let Fixture {
        mut store,
        instance,
        indices,
    } = fixture();
    let add = instance.get_func(&mut store, "add").unwrap();
    let mixed = instance.get_func(&mut store, "mixed").unwrap();
    let (add_raw, mixed_raw) = (raw(&mut store, &add), raw(&mut store, &mixed));
    let add_sig = signature(&add.ty(&store));

    // Sharing Wasmtime's numbering: its funcref of the type passes, one of
    // another type does not.
    let mut config = Config::new();
    config.type_indices(indices);
    let shared = Engine::new(&config).unwrap();
    let expected = shared.register(&add_sig).unwrap();
    // SAFETY: live Wasmtime funcrefs.
    unsafe {
        assert_eq!(
            shared
                .check_funcref(FuncRef(Some(add_raw)), &expected)
                .unwrap(),
            add_raw
        );
        let err = shared
            .check_funcref(FuncRef(Some(mixed_raw)), &expected)
            .unwrap_err();
        assert!(matches!(err, Error::SignatureMismatch { .. }), "{err}");
    }

    // Numbering its own types (from 2^31), the engine refuses every
    // Wasmtime funcref, whatever its type.
    let own = Engine::default();
    let expected = own.register(&add_sig).unwrap();
    assert!(expected.index().bits() >= springboard::OWN_INDEX_BASE);
    for funcref in [add_raw, mixed_raw] {
        // SAFETY: live Wasmtime funcrefs.
        let err = unsafe { own.check_funcref(FuncRef(Some(funcref)), &expected) }.unwrap_err();
        assert!(matches!(err, Error::SignatureMismatch { .. }), "{err}");
    }
}

/// Springboard code in front of Wasmtime's own `array_call`: the host
/// trampolines pass Wasmtime's context, not theirs, so every Springboard
/// entry reaches the Wasmtime function intact.
#[test]
fn springboard_trampolines_front_a_wasmtime_array_call() {
    use springboard_check::{Driver, Via};
    let Fixture {
        mut store,
        instance,
        indices: _,
    } = fixture();
    let engine = Engine::default();
    let compiler = springboard_compiler::Compiler::host().unwrap();
    for name in ["mixed", "twenty", "vectors"] {
        let wt = instance.get_func(&mut store, name).unwrap();
        let ty = wt.ty(&store);
        let sig = signature(&ty);
        let args = pattern_args(sig.params(), 0);
        let expected = wasmtime_results(&mut store, &wt, &args);
        let funcref = raw(&mut store, &wt);
        // SAFETY: a live Wasmtime funcref.
        let (array_call, vmctx) = unsafe { (funcref.as_ref().array_call, funcref.as_ref().vmctx) };
        // SAFETY: Wasmtime's array entry of `sig` and its own context, live
        // as long as the store.
        let front = unsafe { Func::from_array_entry(&engine, &sig, array_call, vmctx) }.unwrap();
        let driver = Driver::new(&compiler, &sig).unwrap();
        let got = inside_wasmtime(&mut store, move || {
            // SAFETY: a live funcref of the driver's signature.
            unsafe {
                func_then_through(
                    &front,
                    &driver,
                    &[Via::Native, Via::Wasm],
                    front.engine().caller_vmctx().as_ptr(),
                    &args,
                )
            }
        });
        for (via, vals) in got {
            assert_eq!(vals, expected, "{name} fronted, via {via:?}");
        }
    }
}

/// A Wasmtime funcref's entries driven by Springboard's own trampolines:
/// `native_call` through the legacy `entry` trampoline, `wasm_call` through a
/// stamped `array_to_wasm` of the `wasmtime17` convention — in Wasmtime's
/// default configuration, and with tail calls on, where `wasm_call` is
/// another convention and only the array and native entries are used.
#[test]
fn wasmtime_funcrefs_through_springboard_trampolines_in_both_configurations() {
    use springboard::WasmConv;
    use springboard_check::{Driver, Via};
    for tail_calls in [false, true] {
        let mut wt_config = wasmtime::Config::new();
        wt_config.wasm_tail_call(tail_calls);
        let Fixture {
            mut store,
            instance,
            indices: _,
        } = fixture_with(&wt_config);
        let compiler = springboard_compiler::Compiler::builder()
            .wasm_conv(WasmConv::Wasmtime17)
            .build()
            .unwrap();
        let vias: &[Via] = if tail_calls {
            &[Via::Array, Via::Native]
        } else {
            &Via::ALL
        };
        for name in ["add", "mixed", "four_ints", "eight", "twenty", "vectors"] {
            let wt = instance.get_func(&mut store, name).unwrap();
            let sig = signature(&wt.ty(&store));
            let args = pattern_args(sig.params(), 3);
            let expected = wasmtime_results(&mut store, &wt, &args);
            // An address only, which `FuncRef` carries across threads.
            let funcref = FuncRef(Some(raw(&mut store, &wt)));
            let driver = Driver::new(&compiler, &sig).unwrap();
            let vias = vias.to_vec();
            let got = inside_wasmtime(&mut store, move || {
                let funcref: FuncRef = funcref; // the whole value, which is Send
                // SAFETY: a live Wasmtime funcref of the driver's signature,
                // whose wasm_call (used only with tail calls off) has the
                // `wasmtime17` convention; its own context as caller.
                unsafe {
                    let funcref = funcref.0.expect("not null").as_ref();
                    through(&driver, &vias, funcref, funcref.vmctx, &args)
                }
            });
            for (via, vals) in got {
                assert_eq!(
                    vals, expected,
                    "{name} via {via:?}, tail calls {tail_calls}"
                );
            }
        }
    }
}

/// Springboard in front of Wasmtime's own `native_call`, for a type known
/// statically: every entry reaches Wasmtime's function with Wasmtime's
/// context.
#[test]
fn springboard_fronts_a_wasmtime_native_call() {
    use springboard_check::{Driver, Via};
    let Fixture {
        mut store,
        instance,
        indices: _,
    } = fixture();
    let engine = Engine::default();
    let wt = instance.get_func(&mut store, "mixed").unwrap();
    let sig = signature(&wt.ty(&store));
    let args = pattern_args(sig.params(), 11);
    let expected = wasmtime_results(&mut store, &wt, &args);
    let funcref = raw(&mut store, &wt);
    // SAFETY: a live Wasmtime funcref.
    let (native_call, vmctx) = unsafe { (funcref.as_ref().native_call, funcref.as_ref().vmctx) };
    type P = (i32, i64, f32, f64);
    type R = (i64, f64, i32, f32);
    // SAFETY: Wasmtime's native entry of `(P) -> R` and its own context,
    // live as long as the store.
    let front = unsafe { Func::from_native_entry::<P, R>(&engine, native_call, vmctx) }.unwrap();
    assert_eq!(front.ty(), &sig);
    let driver = Driver::new(&springboard_compiler::Compiler::host().unwrap(), &sig).unwrap();
    let got = inside_wasmtime(&mut store, move || {
        let [Val::I32(a), Val::I64(b), Val::F32(c), Val::F64(d)] = args[..] else {
            unreachable!()
        };
        let (e, f, g, h) = front
            .typed::<P, R>()
            .unwrap()
            .call((a, b, f32::from_bits(c), f64::from_bits(d)))
            .unwrap();
        let typed = vec![
            Val::I64(e),
            Val::F64(f.to_bits()),
            Val::I32(g),
            Val::F32(h.to_bits()),
        ];
        // SAFETY: a live funcref of the driver's signature and convention.
        let mut all = unsafe {
            func_then_through(
                &front,
                &driver,
                &Via::ALL,
                front.engine().caller_vmctx().as_ptr(),
                &args,
            )
        };
        all.push((Via::Native, typed));
        all
    });
    for (via, vals) in got {
        assert_eq!(vals, expected, "fronted native_call, via {via:?}");
    }
}
