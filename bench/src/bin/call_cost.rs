//! Per-call costs of the facade's paths, two ways.
//!
//! Instructions and memory writes, for `valgrind --tool=callgrind` (which
//! counts them, not seconds: the same on a loaded machine). Run a path `n`
//! times; the difference between two `n` is the cost of `Δn` calls, free
//! of set-up. `bench/call-cost.sh` runs it.
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
//! Time against the direct call, paired: `call_cost paired [blocks]` runs
//! every signature's paths in short blocks, each path's block between two
//! of the direct call, and prints the goals of issue 28 as the median over
//! blocks of each block's ratio (or difference). The criterion benchmark
//! runs each path for seconds after its baseline, and a shared machine's
//! speed drifts by more than these goals' margins over that time; blocks
//! of a fraction of a millisecond see the same speed on both sides.
//!
//! With `PERF_MAP` set, the engine writes a perf map, so that
//! `perf record`/`perf annotate` of a run name the generated code.

use springboard::vm::VMNativeCallFunction;
use springboard::{
    Config, Engine, Func, FuncRef, IntoFunc, TypedFunc, TypedIndirect, WasmParams, WasmResults,
};
use springboard_bench::{break_false_dependencies, callees};
use std::hint::black_box;
use std::ptr::{NonNull, null_mut};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("paired") {
        let blocks = args
            .get(2)
            .map_or(400, |b| b.parse().expect("a block count"));
        return paired(blocks);
    }
    let (path, n, signature) = match &args[..] {
        [_, path, n] => (path.as_str(), n, "add"),
        [_, path, n, signature] => (path.as_str(), n, signature.as_str()),
        _ => panic!(
            "usage: call_cost <path> <n> [none|add|mixed6|sum16|multi] | call_cost paired [blocks]"
        ),
    };
    let n = n.parse::<u32>().expect("a call count");
    /// Runs one path `n` times of the signature named `signature`.
    struct Run<'a> {
        path: &'a str,
        n: u32,
        signature: &'a str,
    }
    impl Visit for Run<'_> {
        fn wanted(&self, name: &str) -> bool {
            name == self.signature
        }
        fn visit<P: WasmParams + Copy, R: WasmResults>(&mut self, _: &str, paths: Paths<P, R>) {
            paths.calls(self.path, self.n);
        }
    }
    let found = each_signature(path != "generic-from-wasm", &mut Run { path, n, signature });
    assert!(found, "unknown signature {signature}");
}

/// What to do with the paths of some of `callees`' signatures.
trait Visit {
    /// Whether to set up the signature `name` (`none`, `add`, ...).
    fn wanted(&self, name: &str) -> bool;
    /// Uses the paths of the signature written `title`.
    fn visit<P: WasmParams + Copy, R: WasmResults>(&mut self, title: &str, paths: Paths<P, R>);
}

/// Sets up and visits every signature `v` wants, in `callees`' order
/// (`tier_up` as for [`Paths::new`]); whether it wanted any.
fn each_signature(tier_up: bool, v: &mut impl Visit) -> bool {
    let mut found = false;
    macro_rules! signature {
        ($name:literal, $title:literal, $host:expr, $direct:expr, $params:expr) => {
            if v.wanted($name) {
                found = true;
                v.visit(
                    $title,
                    Paths::new($host, $direct as *const (), $params, tier_up),
                );
            }
        };
    }
    signature!("none", "`()->()`", callees::host_none, callees::none, ());
    signature!(
        "add",
        "`(i32,i32)->i32`",
        callees::host_add,
        callees::add,
        callees::ADD
    );
    signature!(
        "mixed6",
        "`(i32,i64,f32,f64,i32,i64)->f64`",
        callees::host_mixed6,
        callees::mixed6,
        callees::MIXED6
    );
    signature!(
        "sum16",
        "`(i64x16)->i64`",
        callees::host_sum16,
        callees::sum16,
        callees::SUM16
    );
    signature!(
        "multi",
        "`(i32)->(i32,i64,f64)`",
        callees::host_multi,
        callees::multi,
        callees::MULTI
    );
    found
}

/// Every path of one signature, set up once.
struct Paths<P, R> {
    params: P,
    direct: NonNull<VMNativeCallFunction>,
    typed: TypedFunc<P, R>,
    typed_via_wasm: TypedFunc<P, R>,
    indirect: TypedIndirect<P, R>,
    // Declared before `func`, so dropped before it: it runs `func`'s code.
    via_wasm: Func,
    func: Func,
    engine: Engine,
}

impl<P: WasmParams + Copy, R: WasmResults> Paths<P, R> {
    /// The paths of `host`, whose native form is `direct`, called with
    /// `params`; with `tier_up`, the host function's type compiled first
    /// (the steady state), else its `wasm_call` left the generic entry.
    fn new<F: IntoFunc<P, R>>(host: F, direct: *const (), params: P, tier_up: bool) -> Self {
        let mut config = Config::new();
        config.perf_map(std::env::var_os("PERF_MAP").is_some());
        if !tier_up {
            config.tier_up_after(u32::MAX);
        }
        let engine = Engine::new(&config).unwrap();
        let func = Func::wrap(&engine, host).unwrap();
        // SAFETY: `func` outlives `via_wasm` (field order); its wasm entry is
        // wasm-convention code.
        let via_wasm = unsafe {
            let r = func.vm_func_ref().as_ref();
            Func::from_raw_wasm(&engine, func.ty(), r.wasm_call.unwrap(), r.vmctx).unwrap()
        };
        let typed_via_wasm = via_wasm.typed::<P, R>().unwrap();
        // The steady state: the host function's type tiered up (compiled in
        // the background after its first calls through the generic entry).
        typed_calls(&typed_via_wasm, params, 1000);
        engine.finish_tier_up();
        let expected = engine.register(func.ty()).unwrap();
        Paths {
            params,
            direct: NonNull::new(direct as *mut VMNativeCallFunction).unwrap(),
            typed: func.typed::<P, R>().unwrap(),
            typed_via_wasm,
            indirect: engine.typed_indirect::<P, R>(&expected).unwrap(),
            via_wasm,
            func,
            engine,
        }
    }

    /// `n` calls through `path`.
    fn calls(&self, path: &str, n: u32) {
        let params = self.params;
        match path {
            // SAFETY: the callee has exactly this native signature.
            "direct" => unsafe {
                raw_calls::<P, R, false>(self.direct, null_mut(), null_mut(), params, n)
            },
            "typed" => typed_calls(&self.typed, params, n),
            "host-from-wasm" | "generic-from-wasm" => typed_calls(&self.typed_via_wasm, params, n),
            "untyped" => untyped_calls(&self.func, params, n),
            // SAFETY: a live funcref of this engine.
            "call-indirect" => unsafe {
                indirect_calls(&self.indirect, self.func.as_funcref(), params, n)
            },
            "no-catch" | "no-catch-host-from-wasm" => {
                let f = if path == "no-catch" {
                    &self.func
                } else {
                    &self.via_wasm
                };
                // SAFETY: a live funcref of this engine.
                let r = unsafe { f.vm_func_ref().as_ref() };
                let caller = self.engine.caller_vmctx().as_ptr();
                // SAFETY: the function's own native entry and contexts.
                unsafe { raw_calls::<P, R, true>(r.native_call, r.vmctx, caller, params, n) }
            }
            other => panic!("unknown path {other}"),
        }
    }

    /// Nanoseconds per call of `n` calls through `path`.
    fn time(&self, path: &str, n: u32) -> f64 {
        let start = std::time::Instant::now();
        self.calls(path, n);
        start.elapsed().as_nanos() as f64 / f64::from(n)
    }
}

/// The paths `paired` times against the direct call.
const PAIRED: [&str; 4] = ["typed", "host-from-wasm", "call-indirect", "untyped"];

/// Prints issue 28's goals from `blocks` blocks of every signature (see the
/// module docs): in each, every path's calls between two runs of the
/// direct call's, in an order that turns from block to block.
fn paired(blocks: usize) {
    struct Paired(usize);
    impl Visit for Paired {
        fn wanted(&self, _: &str) -> bool {
            true
        }
        fn visit<P: WasmParams + Copy, R: WasmResults>(&mut self, title: &str, paths: Paths<P, R>) {
            paired_row(title, &paths, self.0);
        }
    }
    println!(
        "| signature | `TypedFunc::call` ÷ direct | host-from-wasm ÷ direct | `call_indirect` − `TypedFunc::call` | `Func::call` ÷ direct |"
    );
    println!("|---|---|---|---|---|");
    each_signature(true, &mut Paired(blocks));
}

fn paired_row<P: WasmParams + Copy, R: WasmResults>(
    title: &str,
    paths: &Paths<P, R>,
    blocks: usize,
) {
    // About 0.2 ms a block for the direct call: long against the timer,
    // short against the machine's drift.
    let n = (200_000.0 / paths.time("direct", 100_000).max(0.5)) as u32;
    let mut ratios = vec![Vec::with_capacity(blocks); PAIRED.len()];
    let mut gaps = Vec::with_capacity(blocks);
    for block in 0..blocks {
        let mut ns = [0.0; PAIRED.len()];
        let mut before = paths.time("direct", n);
        for k in 0..PAIRED.len() {
            let i = (block + k) % PAIRED.len();
            ns[i] = paths.time(PAIRED[i], n);
            // The block after this path's is the one before the next's.
            let after = paths.time("direct", n);
            ratios[i].push(ns[i] / ((before + after) / 2.0));
            before = after;
        }
        gaps.push(ns[2] - ns[0]);
    }
    let [typed, from_wasm, _, untyped] = [0, 1, 2, 3].map(|i| median(&mut ratios[i]));
    println!(
        "| {title} | {typed:.2}× | {from_wasm:.2}× | {:+.2} ns | {untyped:.2}× |",
        median(&mut gaps)
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The measured loops, out of line so that they can be read in a disassembly,
/// each call after `break_false_dependencies` as in `benches/calls.rs`.
#[inline(never)]
fn typed_calls<P: WasmParams + Copy, R: WasmResults>(f: &TypedFunc<P, R>, params: P, n: u32) {
    for _ in 0..n {
        break_false_dependencies();
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
        break_false_dependencies();
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
        break_false_dependencies();
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
        break_false_dependencies();
        f.call(black_box(&params), &mut results).unwrap();
        black_box(&results);
    }
}
