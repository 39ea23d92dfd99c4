//! Call overhead, per signature, through every Springboard path and every
//! trampoline kind, against a direct call through a function pointer,
//! libffi's `Cif::call` and Wasmtime 48 — all in the same run.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use libffi::middle::{Arg, Cif, CodePtr, Ret, Type};
use springboard::vm::{VMNativeCallFunction, VMOpaqueContext, ValRaw};
use springboard::{Engine, Func, IntoFunc, Signature, Val, WasmParams, WasmResults};
use springboard_bench::callees;
use springboard_bench::{Kinds, break_false_dependencies};
use springboard_compiler::Compiler;
use std::hint::black_box;
use std::ptr::{NonNull, null_mut};

type Ctx = *mut VMOpaqueContext;

/// `b.iter(f)` with no false dependency carried from one call to the next
/// (see `break_false_dependencies`), for every path alike: the callees are
/// the same Rust code everywhere.
#[inline(always)]
fn iter<O>(b: &mut criterion::Bencher<'_>, mut f: impl FnMut() -> O) {
    b.iter(|| {
        break_false_dependencies();
        f()
    })
}

fn native(f: *const ()) -> NonNull<VMNativeCallFunction> {
    NonNull::new(f as *mut VMNativeCallFunction).unwrap()
}

fn ffi_type(ty: springboard::ValType) -> Type {
    match ty {
        springboard::ValType::I32 => Type::i32(),
        springboard::ValType::I64 => Type::i64(),
        springboard::ValType::F32 => Type::f32(),
        springboard::ValType::F64 => Type::f64(),
        _ => Type::pointer(),
    }
}

/// One signature's benchmarks.
#[allow(clippy::too_many_arguments)]
fn bench_signature<P, R, F, WP, WR>(
    c: &mut Criterion,
    group_name: &str,
    params: P,
    host: F,
    direct: NonNull<VMNativeCallFunction>,
    wat_sig: &str,
    wat_body: &str,
) where
    P: WasmParams + wasmtime::WasmParams + Copy,
    R: WasmResults + wasmtime::WasmResults,
    F: IntoFunc<P, R> + wasmtime::IntoFunc<(), WP, WR> + Clone,
{
    let sig = Signature::new(&<P as WasmParams>::types(), &<R as WasmResults>::types()).unwrap();
    let mut group = c.benchmark_group(group_name);
    let id = |path: &str| BenchmarkId::from_parameter(path);

    // Baseline: a direct call through a function pointer.
    group.bench_function(id("direct"), |b| {
        // SAFETY: `direct` has exactly this native signature.
        iter(b, || unsafe {
            <P as WasmParams>::call_native::<R>(
                black_box(direct),
                null_mut(),
                null_mut(),
                black_box(params),
            )
        })
    });

    // Springboard's facade.
    let engine = Engine::default();
    let func = Func::wrap(&engine, host.clone()).unwrap();
    let typed = func.typed::<P, R>().unwrap();
    group.bench_function(id("springboard/TypedFunc::call"), |b| {
        iter(b, || typed.call(black_box(params)).unwrap())
    });
    let mut values = vec![ValRaw::ZERO; sig.array_len()];
    let func_ref = unsafe { func.vm_func_ref().as_ref() };
    group.bench_function(id("springboard/array_call"), |b| {
        iter(b, || {
            <P as WasmParams>::store(black_box(params), &mut values);
            // SAFETY: a live funcref; the buffer holds max(params, results).
            unsafe {
                (func_ref.array_call)(
                    func_ref.vmctx,
                    null_mut(),
                    values.as_mut_ptr(),
                    values.len(),
                )
            };
            <R as WasmResults>::load(&values)
        })
    });
    let callees::Untyped {
        raw,
        params: vals,
        mut results,
    } = callees::untyped(params, &sig);
    group.bench_function(id("springboard/Func::call"), |b| {
        iter(b, || func.call(black_box(&vals), &mut results).unwrap())
    });
    let expected = engine.register(&sig).unwrap();
    let indirect = engine.typed_indirect::<P, R>(&expected).unwrap();
    group.bench_function(id("springboard/call_indirect"), |b| {
        // SAFETY: a live funcref of this engine.
        iter(b, || unsafe {
            indirect
                .call(black_box(func.as_funcref()), black_box(params))
                .unwrap()
        })
    });
    group.bench_function(id("springboard/call_indirect (untyped)"), |b| {
        // SAFETY: a live funcref of this engine.
        iter(b, || unsafe {
            engine
                .call_indirect(black_box(func.as_funcref()), &expected, &vals, &mut results)
                .unwrap()
        })
    });
    // A host function reached through its wasm entry (wasm_to_native),
    // from a typed call of a wasm function wrapping that entry.
    // SAFETY: `func` outlives `via_wasm`; the entry is wasm-convention code.
    let via_wasm =
        unsafe { Func::from_raw_wasm(&engine, &sig, func_ref.wasm_call.unwrap(), func_ref.vmctx) }
            .unwrap();
    let via_wasm = via_wasm.typed::<P, R>().unwrap();
    group.bench_function(id("springboard/host-from-wasm"), |b| {
        iter(b, || via_wasm.call(black_box(params)).unwrap())
    });
    // The same two functions' raw `native_call` (no landing, no catch
    // point), then the failure check — what `TypedFunc::call` did before
    // host failures stopped wasm at once. Not the paths above minus their
    // trap handling: the calls are made differently (see
    // docs/PERFORMANCE.md), and the rows are not always faster.
    let caller_vmctx = engine.caller_vmctx().as_ptr();
    for (name, f) in [
        ("springboard/no-catch/TypedFunc::call", &func),
        ("springboard/no-catch/host-from-wasm", via_wasm.func()),
    ] {
        // SAFETY: a live funcref of this engine.
        let r = unsafe { f.vm_func_ref().as_ref() };
        let (code, vmctx) = (r.native_call, r.vmctx);
        group.bench_function(id(name), |b| {
            iter(b, || {
                // SAFETY: the function's own native entry and contexts.
                let out = unsafe {
                    <P as WasmParams>::call_native::<R>(
                        code,
                        vmctx,
                        caller_vmctx,
                        black_box(params),
                    )
                };
                assert!(springboard::take_host_failure().is_none());
                out
            })
        });
    }

    // Each trampoline kind alone, into a probe of the convention it calls.
    let compiler = Compiler::host().unwrap();
    let mut kinds = Kinds::new(&compiler, &sig);
    let caller = kinds.caller();
    let host_vmctx = kinds.host_vmctx();
    let mut buffer = vec![ValRaw::ZERO; sig.array_len()];
    let mut array_kind = |name: &str, f: springboard::vm::VMArrayCallFunction, vmctx: Ctx| {
        group.bench_function(id(name), |b| {
            iter(b, || {
                <P as WasmParams>::store(black_box(params), &mut buffer);
                // SAFETY: array-convention code of `sig`, buffer large enough.
                unsafe { f(vmctx, caller, buffer.as_mut_ptr(), buffer.len()) };
                <R as WasmResults>::load(&buffer)
            })
        });
    };
    array_kind("kind/array_to_wasm", kinds.array_to_wasm, null_mut());
    array_kind(
        "kind/array_to_wasm+wasm_to_native",
        kinds.via_wasm_to_native,
        host_vmctx,
    );
    array_kind(
        "kind/array_to_wasm+wasm_to_array",
        kinds.via_wasm_to_array,
        host_vmctx,
    );
    let (entry, probe) = (kinds.entry, kinds.native_probe);
    group.bench_function(id("kind/entry"), |b| {
        iter(b, || {
            <P as WasmParams>::store(black_box(params), &mut buffer);
            // SAFETY: the entry of `sig` calling the native probe of `sig`.
            unsafe {
                entry(
                    null_mut(),
                    caller.cast(),
                    probe.as_ptr().cast(),
                    buffer.as_mut_ptr(),
                )
            };
            <R as WasmResults>::load(&buffer)
        })
    });
    for (name, code, vmctx) in [
        ("kind/native_to_wasm", kinds.native_to_wasm, null_mut()),
        ("kind/native_to_array", kinds.native_to_array, host_vmctx),
    ] {
        group.bench_function(id(name), |b| {
            // SAFETY: native-convention code of `sig`.
            iter(b, || unsafe {
                <P as WasmParams>::call_native::<R>(code, vmctx, caller, black_box(params))
            })
        });
    }

    // libffi calling the same native function, arguments prepared once.
    let mut storage = vec![0u64; sig.params().len()];
    for ((s, r), &t) in storage.iter_mut().zip(&raw).zip(sig.params()) {
        *s = if matches!(t, springboard::ValType::I32 | springboard::ValType::F32) {
            u64::from(r.get_u32())
        } else {
            r.get_u64()
        };
    }
    let mut area = [0u64; 8];
    let (vm, area_ptr): (usize, *mut u64) = (0, area.as_mut_ptr());
    let mut args: Vec<Arg> = vec![Arg::new(&vm), Arg::new(&vm)];
    let mut types = vec![Type::pointer(), Type::pointer()];
    for (s, &t) in storage.iter().zip(sig.params()) {
        // Little-endian: a u32 value sits in the first 4 bytes of its u64.
        args.push(Arg::new(s));
        types.push(ffi_type(t));
    }
    if sig.results().len() > 1 {
        args.push(Arg::new(&area_ptr));
        types.push(Type::pointer());
    }
    let cif = Cif::new(
        types,
        sig.results().first().map_or(Type::void(), |&t| ffi_type(t)),
    );
    let code = CodePtr::from_ptr(direct.as_ptr().cast());
    group.bench_function(id("libffi/Cif::call"), |b| {
        iter(b, || {
            let mut ret = [0u64; 2];
            // SAFETY: the Cif describes `direct`'s signature; args live.
            unsafe { cif.call_return_into(black_box(code), &args, Ret::new(&mut ret)) };
            ret
        })
    });

    // Wasmtime 48 on an equivalent wasm function, and a host function called
    // from wasm.
    let wt_engine = wasmtime::Engine::default();
    let wat = format!(
        r#"(module
            (import "host" "f" (func $host {wat_sig}))
            (func (export "f") {wat_sig} {wat_body})
            (func (export "call_host") {wat_sig} {args} call $host))"#,
        args = (0..sig.params().len())
            .map(|i| format!("local.get {i}"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let module = wasmtime::Module::new(&wt_engine, &wat).unwrap();
    let mut linker = wasmtime::Linker::new(&wt_engine);
    linker.func_wrap("host", "f", host).unwrap();
    let mut store = wasmtime::Store::new(&wt_engine, ());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let wt_typed = instance.get_typed_func::<P, R>(&mut store, "f").unwrap();
    group.bench_function(id("wasmtime/TypedFunc::call"), |b| {
        iter(b, || wt_typed.call(&mut store, black_box(params)).unwrap())
    });
    let wt_func = instance.get_func(&mut store, "f").unwrap();
    let wt_params: Vec<wasmtime::Val> = vals
        .iter()
        .map(|v| match *v {
            Val::I32(x) => wasmtime::Val::I32(x),
            Val::I64(x) => wasmtime::Val::I64(x),
            Val::F32(x) => wasmtime::Val::F32(x),
            Val::F64(x) => wasmtime::Val::F64(x),
            _ => unreachable!("scalar benchmarks"),
        })
        .collect();
    let mut wt_results: Vec<wasmtime::Val> = sig
        .results()
        .iter()
        .map(|_| wasmtime::Val::I32(0))
        .collect();
    group.bench_function(id("wasmtime/Func::call"), |b| {
        iter(b, || {
            wt_func
                .call(&mut store, black_box(&wt_params), &mut wt_results)
                .unwrap()
        })
    });
    let mut wt_raw = vec![wasmtime::ValRaw::i32(0); sig.array_len().max(1)];
    group.bench_function(id("wasmtime/Func::call_unchecked"), |b| {
        iter(b, || {
            for (slot, v) in wt_raw.iter_mut().zip(&raw) {
                *slot = wasmtime::ValRaw::u64(v.get_u64());
            }
            // SAFETY: the buffer holds the parameters of `f`, and room for its results.
            unsafe {
                wt_func
                    .call_unchecked(&mut store, &raw mut wt_raw[..])
                    .unwrap()
            }
        })
    });
    let wt_host = instance
        .get_typed_func::<P, R>(&mut store, "call_host")
        .unwrap();
    group.bench_function(id("wasmtime/host-from-wasm"), |b| {
        iter(b, || wt_host.call(&mut store, black_box(params)).unwrap())
    });
    group.finish();
}

fn calls(c: &mut Criterion) {
    bench_signature(
        c,
        "call/()->()",
        (),
        callees::host_none,
        native(callees::none as *const ()),
        "",
        "",
    );
    bench_signature(
        c,
        "call/(i32,i32)->i32",
        callees::ADD,
        callees::host_add,
        native(callees::add as *const ()),
        "(param i32 i32) (result i32)",
        "local.get 0 local.get 1 i32.add",
    );
    bench_signature(
        c,
        "call/(i32,i64,f32,f64,i32,i64)->f64",
        callees::MIXED6,
        callees::host_mixed6,
        native(callees::mixed6 as *const ()),
        "(param i32 i64 f32 f64 i32 i64) (result f64)",
        "local.get 0 f64.convert_i32_s local.get 1 f64.convert_i64_s f64.add local.get 2 f64.promote_f32 f64.add \
         local.get 3 f64.add local.get 4 f64.convert_i32_s f64.add local.get 5 f64.convert_i64_s f64.add",
    );
    bench_signature(
        c,
        "call/(i64x16)->i64",
        callees::SUM16,
        callees::host_sum16,
        native(callees::sum16 as *const ()),
        "(param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)",
        "local.get 0 local.get 1 i64.add local.get 2 i64.add local.get 3 i64.add local.get 4 i64.add \
         local.get 5 i64.add local.get 6 i64.add local.get 7 i64.add local.get 8 i64.add local.get 9 i64.add \
         local.get 10 i64.add local.get 11 i64.add local.get 12 i64.add local.get 13 i64.add local.get 14 i64.add \
         local.get 15 i64.add",
    );
    bench_signature(
        c,
        "call/(i32)->(i32,i64,f64)",
        callees::MULTI,
        callees::host_multi,
        native(callees::multi as *const ()),
        "(param i32) (result i32 i64 f64)",
        "local.get 0 i32.const 1 i32.add local.get 0 i64.extend_i32_s i64.const 2 i64.mul \
         local.get 0 f64.convert_i32_s f64.const 2 f64.div",
    );
}

criterion_group!(benches, calls);
criterion_main!(benches);
