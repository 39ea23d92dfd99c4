//! The cost of a failing call: 100,000 typed calls of a wasm function (a
//! host function's `wasm_call`) whose host function fails, each returning
//! its failure — by `Err` and by panic, with one parameter and (by `Err`)
//! with ten, some on the stack. Prints nanoseconds per failing call,
//! the median of `rounds` rounds. Uses only API older trees have, so
//! `bench/failures.sh OTHER_TREE` compares two trees in one run.
//!
//! `cargo run --release --bin failures [rounds]`

use springboard::{Engine, Func};
use std::hint::black_box;
use std::time::Instant;

const CALLS: u32 = 100_000;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(11, |n| n.parse().expect("a round count"));
    let engine = Engine::default();
    let errs = Func::wrap(&engine, |x: i64| -> Result<i64, String> {
        if x >= 0 {
            Err("refused".to_owned())
        } else {
            Ok(x)
        }
    })
    .unwrap();
    let panics = Func::wrap(&engine, |x: i64| -> i64 {
        if x >= 0 {
            std::panic::panic_any(7u32)
        }
        x
    })
    .unwrap();
    type Ten = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let stack_errs = Func::wrap(
        &engine,
        |x: i64, _: i64, _: i64, _: i64, _: i64, _: i64, _: i64, _: i64, _: i64, _: i64| {
            if x >= 0 {
                Err("refused".to_owned())
            } else {
                Ok(x)
            }
        },
    )
    .unwrap();
    std::panic::set_hook(Box::new(|_| {}));
    let wasm_of = |host: &Func| {
        // SAFETY: `host` outlives the wasm function; its `wasm_call` is
        // wasm-convention code of its type.
        unsafe {
            let r = host.vm_func_ref().as_ref();
            Func::from_raw_wasm(&engine, host.ty(), r.wasm_call.unwrap(), r.vmctx).unwrap()
        }
    };
    for (name, host) in [("Err", &errs), ("panic", &panics)] {
        let typed = wasm_of(host).typed::<i64, i64>().unwrap();
        report(name, rounds, |i| typed.call(black_box(i)).is_err());
    }
    let typed = wasm_of(&stack_errs).typed::<Ten, i64>().unwrap();
    report("Err, ten parameters", rounds, |i| {
        typed
            .call(black_box((i, 1, 2, 3, 4, 5, 6, 7, 8, 9)))
            .is_err()
    });
}

/// Prints the median over `rounds` rounds of the ns per call of `fails`,
/// which must fail for every non-negative argument.
fn report(name: &str, rounds: usize, fails: impl Fn(i64) -> bool) {
    let round = || {
        let start = Instant::now();
        for i in 0..CALLS {
            assert!(fails(i64::from(i)));
        }
        start.elapsed().as_nanos() as f64 / f64::from(CALLS)
    };
    round(); // warm-up: lazy compilation, thread-locals
    let mut times: Vec<f64> = (0..rounds).map(|_| round()).collect();
    times.sort_by(f64::total_cmp);
    println!(
        "failing call ({name}): {:.1} ns (median of {rounds} rounds of {CALLS})",
        times[rounds / 2]
    );
}
