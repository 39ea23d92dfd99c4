//! Instructions and memory writes per call, for `valgrind --tool=callgrind`
//! (which counts them, not seconds: the same on a loaded machine). Run a
//! path `n` times; the difference between two `n` is the cost of `Δn` calls,
//! free of set-up. `bench/call-cost.sh` runs it.
//!
//! `cargo run --release --bin call_cost -- <path> <n> [signature]`, the
//! signature one of `bench/src/callees.rs`'s (`none`, `add` — the default —,
//! `mixed6`, `sum16`, `multi`) and the path one of:
//! - `direct`: the native callee through a function pointer (the baseline);
//! - `typed`: `TypedFunc::call` of the host function;
//! - `untyped`: `Func::call` of it;
//! - `call-indirect`: `TypedIndirect::call` of it;
//! - `host-from-wasm`: a typed call of a wasm function that is the host
//!   function's `wasm_call` (entry, trampolines, shim);
//! - `generic-from-wasm`: the same while `wasm_call` is a generic entry (it
//!   never tiers up);
//! - `no-catch`, `no-catch-host-from-wasm`: the raw `native_call` of the
//!   host function and of that wasm function with the engine's unarmed
//!   caller context, then the failure check (the benchmarks' `no-catch`
//!   rows).
//!
//! With `PERF_MAP` set, the engine writes a perf map, so that
//! `perf record`/`perf annotate` of a run name the generated code.

use springboard::vm::VMNativeCallFunction;
use springboard::{
    Config, Engine, Func, FuncRef, IntoFunc, TypedFunc, TypedIndirect, WasmParams, WasmResults,
};
use springboard_bench::callees;
use std::hint::black_box;
use std::ptr::{NonNull, null_mut};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (path, n, signature) = match &args[..] {
        [_, path, n] => (path.as_str(), n, "add"),
        [_, path, n, signature] => (path.as_str(), n, signature.as_str()),
        _ => panic!("usage: call_cost <path> <n> [none|add|mixed6|sum16|multi]"),
    };
    let n = n.parse::<u32>().expect("a call count");
    match signature {
        "none" => run(path, n, callees::host_none, callees::none as *const (), ()),
        "add" => run(
            path,
            n,
            callees::host_add,
            callees::add as *const (),
            callees::ADD,
        ),
        "mixed6" => run(
            path,
            n,
            callees::host_mixed6,
            callees::mixed6 as *const (),
            callees::MIXED6,
        ),
        "sum16" => run(
            path,
            n,
            callees::host_sum16,
            callees::sum16 as *const (),
            callees::SUM16,
        ),
        "multi" => run(
            path,
            n,
            callees::host_multi,
            callees::multi as *const (),
            callees::MULTI,
        ),
        other => panic!("unknown signature {other}"),
    }
}

fn run<P, R, F>(path: &str, n: u32, host: F, direct: *const (), params: P)
where
    P: WasmParams + Copy,
    R: WasmResults,
    F: IntoFunc<P, R>,
{
    let mut config = Config::new();
    config.perf_map(std::env::var_os("PERF_MAP").is_some());
    if path == "generic-from-wasm" {
        config.tier_up_after(u32::MAX);
    }
    let engine = Engine::new(&config).unwrap();
    let func = Func::wrap(&engine, host).unwrap();
    // SAFETY: `func` outlives `via_wasm`; its wasm entry is wasm-convention code.
    let via_wasm = unsafe {
        let r = func.vm_func_ref().as_ref();
        Func::from_raw_wasm(&engine, func.ty(), r.wasm_call.unwrap(), r.vmctx).unwrap()
    };
    let typed = func.typed::<P, R>().unwrap();
    let typed_via_wasm = via_wasm.typed::<P, R>().unwrap();
    // The steady state: the host function's type tiered up (compiled in the
    // background after its first calls through the generic entry).
    typed_calls(&typed_via_wasm, params, 1000);
    engine.finish_tier_up();
    match path {
        "direct" => {
            let direct = NonNull::new(direct as *mut VMNativeCallFunction).unwrap();
            // SAFETY: the callee has exactly this native signature.
            unsafe { raw_calls::<P, R, false>(direct, null_mut(), null_mut(), params, n) }
        }
        "typed" => typed_calls(&typed, params, n),
        "host-from-wasm" | "generic-from-wasm" => typed_calls(&typed_via_wasm, params, n),
        "untyped" => untyped_calls(&func, params, n),
        "call-indirect" => {
            let expected = engine.register(func.ty()).unwrap();
            let indirect = engine.typed_indirect::<P, R>(&expected).unwrap();
            // SAFETY: a live funcref of this engine.
            unsafe { indirect_calls(&indirect, func.as_funcref(), params, n) }
        }
        "no-catch" | "no-catch-host-from-wasm" => {
            let f = if path == "no-catch" { &func } else { &via_wasm };
            // SAFETY: a live funcref of this engine.
            let r = unsafe { f.vm_func_ref().as_ref() };
            let caller = engine.caller_vmctx().as_ptr();
            // SAFETY: the function's own native entry and contexts.
            unsafe { raw_calls::<P, R, true>(r.native_call, r.vmctx, caller, params, n) }
        }
        other => panic!("unknown path {other}"),
    }
}

/// The measured loops, out of line so that they can be read in a disassembly.
#[inline(never)]
fn typed_calls<P: WasmParams + Copy, R: WasmResults>(f: &TypedFunc<P, R>, params: P, n: u32) {
    for _ in 0..n {
        black_box(f.call(black_box(params)).unwrap());
    }
}

/// # Safety
/// `funcref` must be live.
#[inline(never)]
unsafe fn indirect_calls<P: WasmParams + Copy, R: WasmResults>(
    indirect: &TypedIndirect<P, R>,
    funcref: FuncRef,
    params: P,
    n: u32,
) {
    for _ in 0..n {
        // SAFETY: per the caller.
        black_box(unsafe { indirect.call(black_box(funcref), black_box(params)) }.unwrap());
    }
}

/// Calls of a raw native entry: the direct baseline (`NO_CATCH` false)
/// through an opaque function pointer, as `benches/calls.rs` makes it; a
/// `no-catch` row (`NO_CATCH`) through the function's own entry, then the
/// failure check.
///
/// # Safety
/// `code` must be native-convention code of `(P) -> R` taking these contexts.
#[inline(never)]
unsafe fn raw_calls<P: WasmParams + Copy, R: WasmResults, const NO_CATCH: bool>(
    code: NonNull<VMNativeCallFunction>,
    callee: *mut springboard::vm::VMOpaqueContext,
    caller: *mut springboard::vm::VMOpaqueContext,
    params: P,
    n: u32,
) {
    for _ in 0..n {
        // SAFETY: per the caller.
        black_box(unsafe {
            P::call_native::<R>(
                if NO_CATCH { code } else { black_box(code) },
                callee,
                caller,
                black_box(params),
            )
        });
        if NO_CATCH {
            assert!(springboard::take_host_failure().is_none());
        }
    }
}

#[inline(never)]
fn untyped_calls<P: WasmParams>(f: &Func, params: P, n: u32) {
    let callees::Untyped {
        params,
        mut results,
        ..
    } = callees::untyped(params, f.ty());
    for _ in 0..n {
        f.call(black_box(&params), &mut results).unwrap();
        black_box(&results);
    }
}
