//! Instructions per call, for `valgrind --tool=callgrind` (which counts
//! instructions, not seconds: the same on a loaded machine). Run a path `n`
//! times; the difference between two `n` is the cost of `Δn` calls, free of
//! set-up. `bench/call-cost.sh` compares two source trees this way.
//!
//! `cargo run --release --bin call_cost -- <path> <n>`, path one of
//! `typed` (`TypedFunc::call` of a host `(i32, i32) -> i32`), `untyped`
//! (`Func::call` of it), `host-from-wasm` (a typed call of a wasm function
//! that is the host function's `wasm_call`: entry, two trampolines, shim),
//! `generic-from-wasm` (the same while `wasm_call` is a generic entry: it
//! never tiers up).

use springboard::{Engine, Func, Val};
use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (path, n) = match &args[..] {
        [_, path, n] => (path.as_str(), n.parse::<u32>().expect("a call count")),
        _ => panic!("usage: call_cost <typed|untyped|host-from-wasm|generic-from-wasm> <n>"),
    };
    let mut config = springboard::Config::new();
    if path == "generic-from-wasm" {
        config.tier_up_after(u32::MAX);
    }
    let engine = Engine::new(&config).unwrap();
    let add = Func::wrap(&engine, |a: i32, b: i32| a.wrapping_add(b)).unwrap();
    // SAFETY: `add` outlives `via_wasm`; its wasm entry is wasm-convention code.
    let via_wasm = unsafe {
        let r = add.vm_func_ref().as_ref();
        Func::from_raw_wasm(&engine, add.ty(), r.wasm_call.unwrap(), r.vmctx).unwrap()
    };
    let typed = add.typed::<(i32, i32), i32>().unwrap();
    let typed_via_wasm = via_wasm.typed::<(i32, i32), i32>().unwrap();
    // The steady state: the host function's type tiered up (compiled in the
    // background after its first calls through the generic entry).
    typed_calls(&typed_via_wasm, 1000);
    engine.finish_tier_up();
    match path {
        "typed" => typed_calls(&typed, n),
        "host-from-wasm" | "generic-from-wasm" => typed_calls(&typed_via_wasm, n),
        "untyped" => untyped_calls(&add, n),
        other => panic!("unknown path {other}"),
    }
}

/// The measured loops, out of line so that they can be read in a disassembly.
#[inline(never)]
fn typed_calls(f: &springboard::TypedFunc<(i32, i32), i32>, n: u32) {
    for i in 0..n {
        black_box(f.call(black_box((i as i32, 1))).unwrap());
    }
}

#[inline(never)]
fn untyped_calls(f: &Func, n: u32) {
    let mut out = [Val::I32(0)];
    for i in 0..n {
        f.call(black_box(&[Val::I32(i as i32), Val::I32(1)]), &mut out)
            .unwrap();
        black_box(&out);
    }
}
