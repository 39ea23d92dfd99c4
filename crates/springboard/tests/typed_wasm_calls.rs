//! Typed calls of the engine's own wasm. On x86-64 System V, those whose
//! results all have registers (four per class) and that have no `v128`
//! skip the entry trampoline and are their own catch point, their stack
//! arguments passed through a stack entry (`tail_call.rs`); the others, and
//! every call elsewhere, go through `native_to_wasm`.
//! Either way: every value bit-exact both ways, a failure beneath returns
//! `Err` with the caller intact, and a backtrace taken beneath is whole.
//!
//! The wasm function is a host function's `wasm_call` (its compiled entry,
//! or its native shim where the conventions agree): real generated code
//! with a recording host behind it.
#![cfg(feature = "compiler")]

use springboard::{Engine, Error, ExternRef, Func, FuncRef, IntoFunc, TypedFunc};
use springboard::{WasmParams, WasmResults};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// A typed view of `host`'s `wasm_call` as a wasm function; keep `host`
/// alive as long as it.
fn via_wasm<P: WasmParams, R: WasmResults>(engine: &Engine, host: &Func) -> TypedFunc<P, R> {
    // SAFETY: the caller keeps `host` alive; its wasm entry is
    // wasm-convention code of its type.
    let wasm = unsafe {
        let r = host.vm_func_ref().as_ref();
        Func::from_raw_wasm(engine, host.ty(), r.wasm_call.unwrap(), r.vmctx)
    };
    wasm.unwrap().typed::<P, R>().unwrap()
}

const F32S: [u32; 4] = [0x7fc0_0001, 0x8000_0000, 0xff80_0001, 0x0000_0001];
const F64S: [u64; 4] = [
    0x7ff8_0000_0000_0001,
    0x8000_0000_0000_0000,
    0xfff0_0000_0000_0001,
    0x0000_0000_0000_0001,
];
// `-1` is `u32::MAX`: every bit set.
const I32S: [i32; 4] = [i32::MIN, -1, i32::MAX, 1];
const I64S: [i64; 4] = [i64::MIN, -1, i64::MAX, 0];

type Twelve = (i32, i64, f32, f64, i32, i64, f32, f64, f32, f64, f32, f64);

/// Four integer and eight float parameters (every register the direct
/// call has), one result.
fn twelve(k: usize) -> Twelve {
    let (i, j) = (k % 4, (k + 1) % 4);
    (
        I32S[i],
        I64S[i],
        f32::from_bits(F32S[i]),
        f64::from_bits(F64S[i]),
        I32S[j],
        I64S[j],
        f32::from_bits(F32S[j]),
        f64::from_bits(F64S[j]),
        f32::from_bits(F32S[(k + 2) % 4]),
        f64::from_bits(F64S[(k + 2) % 4]),
        f32::from_bits(F32S[(k + 3) % 4]),
        f64::from_bits(F64S[(k + 3) % 4]),
    )
}

fn bits(p: Twelve) -> [u64; 12] {
    [
        p.0 as u32 as u64,
        p.1 as u64,
        p.2.to_bits() as u64,
        p.3.to_bits(),
        p.4 as u32 as u64,
        p.5 as u64,
        p.6.to_bits() as u64,
        p.7.to_bits(),
        p.8.to_bits() as u64,
        p.9.to_bits(),
        p.10.to_bits() as u64,
        p.11.to_bits(),
    ]
}

/// Sends `make(k)` for several `k` through a typed wasm call to a host
/// function that records what it got and returns `ret(k)`; checks both
/// ways bit for bit (`bits` of each).
fn round_trip<P, R, F>(
    engine: &Engine,
    make: impl Fn(usize) -> P,
    p_bits: impl Fn(&P) -> Vec<u64>,
    ret: impl Fn(usize) -> R + Send + Sync + 'static,
    r_bits: impl Fn(&R) -> Vec<u64>,
    host: impl Fn(Arc<Mutex<Vec<Vec<u64>>>>) -> F,
) where
    P: WasmParams + Copy,
    R: WasmResults + Copy,
    F: IntoFunc<P, R>,
{
    let seen = Arc::new(Mutex::new(Vec::new()));
    let host = Func::wrap(engine, host(Arc::clone(&seen))).unwrap();
    let typed = via_wasm::<P, R>(engine, &host);
    for k in 0..4 {
        let got = typed.call(make(k)).unwrap();
        assert_eq!(r_bits(&got), r_bits(&ret(k)), "result {k}");
        let sent = seen.lock().unwrap().pop().expect("the host ran");
        assert_eq!(sent, p_bits(&make(k)), "parameters {k}");
    }
}

#[test]
fn every_value_arrives_and_returns_bit_exact() {
    let engine = Engine::default();
    // Every register of both classes, a NaN payload back.
    let ret = |k: usize| f64::from_bits(F64S[k]);
    round_trip(
        &engine,
        twelve,
        |p| bits(*p).to_vec(),
        ret,
        |r: &f64| vec![r.to_bits()],
        |seen| {
            move |a: i32,
                  b: i64,
                  c: f32,
                  d: f64,
                  e: i32,
                  f: i64,
                  g: f32,
                  h: f64,
                  i: f32,
                  j: f64,
                  k: f32,
                  l: f64| {
                let p: Twelve = (a, b, c, d, e, f, g, h, i, j, k, l);
                let n = I32S.iter().position(|&x| x == p.0).unwrap();
                seen.lock().unwrap().push(bits(p).to_vec());
                f64::from_bits(F64S[n])
            }
        },
    );
    // 32-bit results: every bit of an i32, an f32 NaN payload.
    round_trip(
        &engine,
        |k| (I32S[k],),
        |p| vec![p.0 as u32 as u64],
        |k| I32S[3 - k],
        |r: &i32| vec![*r as u32 as u64],
        |seen| {
            move |x: i32| {
                seen.lock().unwrap().push(vec![x as u32 as u64]);
                I32S[3 - I32S.iter().position(|&y| y == x).unwrap()]
            }
        },
    );
    round_trip(
        &engine,
        |k| (f32::from_bits(F32S[k]),),
        |p| vec![p.0.to_bits() as u64],
        |k| f32::from_bits(F32S[3 - k]),
        |r: &f32| vec![r.to_bits() as u64],
        |seen| {
            move |x: f32| {
                seen.lock().unwrap().push(vec![x.to_bits() as u64]);
                f32::from_bits(F32S[3 - F32S.iter().position(|&y| y == x.to_bits()).unwrap()])
            }
        },
    );
    // Several results: every result register of both classes (four each),
    // then one integer more, which the entry trampoline returns instead.
    type Eight = (i32, f32, i64, f64, i32, f32, i64, f64);
    let eight = |k: usize| -> Eight {
        let j = 3 - k;
        (
            I32S[k],
            f32::from_bits(F32S[k]),
            I64S[k],
            f64::from_bits(F64S[k]),
            I32S[j],
            f32::from_bits(F32S[j]),
            I64S[j],
            f64::from_bits(F64S[j]),
        )
    };
    let eight_bits = |r: &Eight| {
        vec![
            r.0 as u32 as u64,
            r.1.to_bits() as u64,
            r.2 as u64,
            r.3.to_bits(),
            r.4 as u32 as u64,
            r.5.to_bits() as u64,
            r.6 as u64,
            r.7.to_bits(),
        ]
    };
    round_trip(
        &engine,
        |k| (I64S[k],),
        |p| vec![p.0 as u64],
        eight,
        eight_bits,
        |seen| {
            move |x: i64| {
                seen.lock().unwrap().push(vec![x as u64]);
                eight(I64S.iter().position(|&y| y == x).unwrap())
            }
        },
    );
    let nine = move |k: usize| {
        let e = eight(k);
        (e.0, e.1, e.2, e.3, e.4, e.5, e.6, e.7, I64S[3 - k])
    };
    round_trip(
        &engine,
        |k| (I32S[k],),
        |p| vec![p.0 as u32 as u64],
        nine,
        move |r| {
            let mut v = eight_bits(&(r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7));
            v.push(r.8 as u64);
            v
        },
        |seen| {
            move |x: i32| {
                seen.lock().unwrap().push(vec![x as u32 as u64]);
                nine(I32S.iter().position(|&y| y == x).unwrap())
            }
        },
    );
    // Stack arguments of both classes, interleaved (six integer and ten
    // float parameters): the host function's `wasm_call` reads them where
    // the caller put them and pops them.
    type Sixteen = (
        f32,
        i32,
        f64,
        i64,
        f32,
        f64,
        i32,
        f32,
        f64,
        i64,
        f32,
        f64,
        i32,
        f64,
        f32,
        i64,
    );
    let sixteen = |k: usize| -> Sixteen {
        let (a, b) = (twelve(k), twelve(k + 1));
        (
            a.2, a.0, a.3, a.1, a.6, a.7, a.4, a.8, a.9, a.5, a.10, a.11, b.0, b.3, b.2, b.1,
        )
    };
    let sixteen_bits = |p: &Sixteen| {
        let f32s = [p.0, p.4, p.7, p.10, p.14].map(|x| x.to_bits() as u64);
        let f64s = [p.2, p.5, p.8, p.11, p.13].map(f64::to_bits);
        let i32s = [p.1, p.6, p.12].map(|x| x as u32 as u64);
        let i64s = [p.3, p.9, p.15].map(|x| x as u64);
        [&f32s[..], &f64s, &i32s, &i64s].concat()
    };
    round_trip(
        &engine,
        sixteen,
        sixteen_bits,
        |k| I64S[3 - k],
        |r: &i64| vec![*r as u64],
        |seen| {
            move |a: f32,
                  b: i32,
                  c: f64,
                  d: i64,
                  e: f32,
                  f: f64,
                  g: i32,
                  h: f32,
                  i: f64,
                  j: i64,
                  k: f32,
                  l: f64,
                  m: i32,
                  n: f64,
                  o: f32,
                  p: i64| {
                let args: Sixteen = (a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p);
                seen.lock().unwrap().push(sixteen_bits(&args));
                I64S[3 - I32S.iter().position(|&x| x == b).unwrap()]
            }
        },
    );
    // References, null and not, and no results at all.
    let marker = NonNull::new(0x5b0 as *mut core::ffi::c_void);
    let target = Func::wrap(&engine, || {}).unwrap();
    let func_ref = FuncRef(Some(target.vm_func_ref()));
    round_trip(
        &engine,
        move |k| (ExternRef(marker.filter(|_| k % 2 == 0)), func_ref, I64S[k]),
        |p| {
            vec![
                p.0.0.map_or(0, |p| p.as_ptr() as u64),
                p.1.0.map_or(0, |p| p.as_ptr() as u64),
                p.2 as u64,
            ]
        },
        |_| (),
        |_: &()| vec![],
        |seen| {
            move |x: ExternRef, f: FuncRef, n: i64| {
                seen.lock().unwrap().push(vec![
                    x.0.map_or(0, |p| p.as_ptr() as u64),
                    f.0.map_or(0, |p| p.as_ptr() as u64),
                    n as u64,
                ]);
            }
        },
    );
}

/// Checks a typed wasm call of `$n` `i64` parameters (every count of
/// stack arguments from one to twelve, through every carrier a stack entry
/// takes them in, and every stack entry) with four results of both classes
/// (the registers a call with stack arguments reads back), bit for bit.
macro_rules! check_i64_params {
    ($engine:expr; $n:literal: $($p:ident)*) => {{
        type Params = ($(check_i64_params!(@i64 $p),)*);
        type Results = (i64, f64, i32, f32);
        fn make(k: usize) -> Params {
            // Edge values, rotated so that no two neighbours are alike.
            let v: [i64; $n] =
                core::array::from_fn(|i| I64S[(k + i) % 4].rotate_left(5 * i as u32) ^ i as i64);
            let [$($p),*] = v;
            ($($p,)*)
        }
        fn bits(p: &Params) -> Vec<u64> {
            let ($($p,)*) = *p;
            vec![$($p as u64),*]
        }
        fn ret(k: usize) -> Results {
            let ($($p,)*) = make(k);
            let x = 0 $(^ $p)*;
            (x, f64::from_bits(F64S[k % 4]), x as i32, f32::from_bits(F32S[k % 4]))
        }
        round_trip(
            &$engine,
            make,
            bits,
            ret,
            |r: &Results| vec![r.0 as u64, r.1.to_bits(), r.2 as u32 as u64, r.3.to_bits() as u64],
            |seen| {
                move |$($p: i64),*| -> Results {
                    let args = bits(&($($p,)*));
                    let k = (0..4).find(|&k| bits(&make(k)) == args).unwrap();
                    seen.lock().unwrap().push(args);
                    ret(k)
                }
            },
        );
    }};
    (@i64 $p:ident) => { i64 };
}

#[test]
fn every_count_of_stack_arguments_arrives_bit_exact() {
    let engine = Engine::default();
    check_i64_params!(engine; 5: a b c d e);
    check_i64_params!(engine; 6: a b c d e f);
    check_i64_params!(engine; 7: a b c d e f g);
    check_i64_params!(engine; 8: a b c d e f g h);
    check_i64_params!(engine; 9: a b c d e f g h i);
    check_i64_params!(engine; 10: a b c d e f g h i j);
    check_i64_params!(engine; 11: a b c d e f g h i j k);
    check_i64_params!(engine; 12: a b c d e f g h i j k l);
    check_i64_params!(engine; 13: a b c d e f g h i j k l m);
    check_i64_params!(engine; 14: a b c d e f g h i j k l m n);
    check_i64_params!(engine; 15: a b c d e f g h i j k l m n o);
    check_i64_params!(engine; 16: a b c d e f g h i j k l m n o p);
    // Floats in stack slots too (eight of them, four carrier pairs),
    // with NaN payloads and -0.0, `f32`s among them (only the low half of
    // their slot is the value).
    #[rustfmt::skip]
    type Floats = (
        f64, f32, f64, f32, f64, f32, f64, f32, f64, f32, f64, f32, f64, f32, f64, f32,
    );
    let floats = |k: usize| -> Floats {
        let d = |i: usize| f64::from_bits(F64S[(k + i) % 4] ^ (i as u64) << 12);
        let s = |i: usize| f32::from_bits(F32S[(k + i) % 4] ^ (i as u32) << 4);
        (
            d(0),
            s(1),
            d(2),
            s(3),
            d(4),
            s(5),
            d(6),
            s(7),
            d(8),
            s(9),
            d(10),
            s(11),
            d(12),
            s(13),
            d(14),
            s(15),
        )
    };
    let float_bits = |p: &Floats| {
        let d = [p.0, p.2, p.4, p.6, p.8, p.10, p.12, p.14].map(f64::to_bits);
        let s = [p.1, p.3, p.5, p.7, p.9, p.11, p.13, p.15].map(|x| x.to_bits() as u64);
        [d, s].concat()
    };
    round_trip(
        &engine,
        floats,
        float_bits,
        |k| f64::from_bits(F64S[3 - k]),
        |r: &f64| vec![r.to_bits()],
        |seen| {
            move |a: f64,
                  b: f32,
                  c: f64,
                  d: f32,
                  e: f64,
                  f: f32,
                  g: f64,
                  h: f32,
                  i: f64,
                  j: f32,
                  k: f64,
                  l: f32,
                  m: f64,
                  n: f32,
                  o: f64,
                  p: f32| {
                let args: Floats = (a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p);
                seen.lock().unwrap().push(float_bits(&args));
                let k = (0..4).find(|&k| float_bits(&floats(k)) == float_bits(&args));
                f64::from_bits(F64S[3 - k.unwrap()])
            }
        },
    );
}

#[test]
fn failures_beneath_return_err_and_the_caller_keeps_its_state() {
    let engine = Engine::default();
    let host = Func::wrap(&engine, |x: i64, y: f64| -> Result<i64, Error> {
        if x % 3 == 0 {
            return Err(Error::HostPanic(format!("refused {x}")));
        }
        if x % 3 == 1 && y < 0.0 {
            panic!("negative {y}");
        }
        Ok(x * 2)
    })
    .unwrap();
    let typed = via_wasm::<(i64, f64), i64>(&engine, &host);
    // Many values live across the calls, some failing: each call returns
    // its own outcome and nothing the caller holds changes.
    let (mut sum, mut failed, mut checksum) = (0i64, 0u32, 0u64);
    for x in 0..300i64 {
        let y = if x % 2 == 0 { -1.5 } else { 2.5 };
        match typed.call((x, y)) {
            Ok(v) => sum += v,
            Err(e) => {
                failed += 1;
                assert!(
                    e.to_string().contains(&format!("{x}")) || e.to_string().contains("-1.5"),
                    "{e}"
                );
            }
        }
        checksum = checksum.rotate_left(7) ^ x as u64;
    }
    let expected_sum: i64 = (0..300i64)
        .filter(|x| x % 3 == 2 || (x % 3 == 1 && x % 2 == 1))
        .map(|x| x * 2)
        .sum();
    let expected_checksum = (0..300u64).fold(0u64, |c, x| c.rotate_left(7) ^ x);
    assert_eq!(sum, expected_sum);
    assert_eq!(
        failed,
        300 - (0..300i64)
            .filter(|x| x % 3 == 2 || (x % 3 == 1 && x % 2 == 1))
            .count() as u32
    );
    assert_eq!(checksum, expected_checksum);

    // Stack arguments: a failure beneath the entry that pops them.
    type Ten = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let host = Func::wrap(
        &engine,
        |a: i64, b: i64, c: i64, d: i64, e: i64, f: i64, g: i64, h: i64, i: i64, j: i64| match j % 3
        {
            0 => Err(Error::HostPanic(format!("refused {j}"))),
            1 => panic!("refused {j}"),
            _ => Ok(a + b + c + d + e + f + g + h + i - j),
        },
    )
    .unwrap();
    let typed = via_wasm::<Ten, i64>(&engine, &host);
    let mut sum = 0;
    for x in 0..30i64 {
        match typed.call((1, 2, 3, 4, 5, 6, 7, 8, 9 * x, x)) {
            Ok(v) => sum += v,
            Err(e) => assert!(
                x % 3 != 2 && e.to_string().contains(&format!("refused {x}")),
                "{e}"
            ),
        }
    }
    assert_eq!(
        sum,
        (0..30)
            .filter(|x| x % 3 == 2)
            .map(|x| 36 + 8 * x)
            .sum::<i64>()
    );

    // Several results: a failure leaves none of them behind.
    let host = Func::wrap(&engine, |x: i64| -> Result<(i64, f64, i32), Error> {
        match x % 3 {
            0 => Err(Error::HostPanic(format!("refused {x}"))),
            1 => panic!("refused {x}"),
            _ => Ok((x * 2, -0.0, x as i32 - 1)),
        }
    })
    .unwrap();
    let typed = via_wasm::<i64, (i64, f64, i32)>(&engine, &host);
    for x in 0..30i64 {
        match typed.call(x) {
            Ok((a, b, c)) => {
                assert_eq!(x % 3, 2);
                assert_eq!(
                    (a, b.to_bits(), c),
                    (x * 2, (-0.0f64).to_bits(), x as i32 - 1)
                );
            }
            Err(e) => assert!(
                x % 3 != 2 && e.to_string().contains(&format!("refused {x}")),
                "{e}"
            ),
        }
    }
    assert!(
        springboard::take_host_failure().is_none(),
        "nothing left pending"
    );
}

#[test]
fn a_backtrace_taken_beneath_a_typed_wasm_call_is_whole() {
    let engine = Engine::default();
    let frames = Arc::new(Mutex::new(String::new()));
    let seen = Arc::clone(&frames);
    let host = Func::wrap(&engine, move |x: i32| -> i32 {
        // Walks every frame it can: through the shim into the caller's
        // frame (whose unwind information must hold across the call) or,
        // beneath an entry trampoline, up to generated code.
        *seen.lock().unwrap() = std::backtrace::Backtrace::force_capture().to_string();
        x + 1
    })
    .unwrap();
    let typed = via_wasm::<i32, i32>(&engine, &host);
    assert_eq!(call_in_named_frame(&typed, 41), 42);
    let trace = frames.lock().unwrap().clone();
    let direct = cfg!(all(target_arch = "x86_64", not(windows)));
    // Elsewhere the call goes through an entry trampoline, where the walk
    // may stop (it does under qemu on aarch64).
    assert!(!direct || trace.contains("call_in_named_frame"), "{trace}");

    // With stack arguments, beneath the entries that pass them on and pop
    // them (x86-64 System V): the walk passes through both (their unwind
    // information describes the stack and registers they keep) into the
    // caller. Elsewhere it stops at the first generated frame.
    let seen = Arc::clone(&frames);
    let host = Func::wrap(
        &engine,
        move |a: i64, b: i64, c: i64, d: i64, e: i64, f: i64, g: i64, h: i64| -> i64 {
            *seen.lock().unwrap() = std::backtrace::Backtrace::force_capture().to_string();
            a + b + c + d + e + f + g + h
        },
    )
    .unwrap();
    let typed = via_wasm::<(i64, i64, i64, i64, i64, i64, i64, i64), i64>(&engine, &host);
    assert_eq!(call_in_named_frame(&typed, (1, 2, 3, 4, 5, 6, 7, 8)), 36);
    let trace = frames.lock().unwrap().clone();
    if direct {
        let after = |a: &str, b: &str| trace.find(a).is_some_and(|i| trace[i..].contains(b));
        assert!(after("popping", "stack_entry"), "{trace}");
        assert!(after("stack_entry", "call_in_named_frame"), "{trace}");
    }
}

/// Calls `typed` from a frame of its own, which a backtrace names however
/// the test is optimised.
#[inline(never)]
fn call_in_named_frame<P: WasmParams, R: WasmResults>(typed: &TypedFunc<P, R>, params: P) -> R {
    typed.call(params).unwrap()
}

/// A failure beneath a typed call with stack arguments (a stack entry on
/// x86-64 System V) gives its caller back every register the C convention
/// preserves, though the frames beneath never return: with sentinels in
/// `r12`–`r15` (`rbx` cannot be an operand), a function that makes failing
/// calls returns them intact. Only optimised code beneath uses them, so
/// `.ci/run` runs this file with `--release` too (there, with the typed
/// call's `asm!` block not declaring them clobbered, `r12` and `r13` come back
/// changed; without the entry's reload of `rbx`, the test binary crashes).
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[test]
fn a_failure_beneath_keeps_the_callers_preserved_registers() {
    use std::sync::OnceLock;
    type Ten = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    static HOST: OnceLock<(Func, TypedFunc<Ten, i64>)> = OnceLock::new();
    let engine = Engine::default();
    let host = Func::wrap(
        &engine,
        |a: i64, _: i64, _: i64, _: i64, _: i64, _: i64, _: i64, _: i64, _: i64, j: i64| {
            if j == 0 {
                panic!("refused");
            }
            Err::<i64, _>(Error::HostPanic(format!("refused {a}")))
        },
    )
    .unwrap();
    let typed = via_wasm::<Ten, i64>(&engine, &host);
    assert!(HOST.set((host, typed)).is_ok());

    /// Makes two failing calls (`Err`, then a panic); returns how many
    /// failed.
    extern "C" fn fail_twice() -> u64 {
        let typed = &HOST.get().unwrap().1;
        [1, 0]
            .map(|j| typed.call((7, 1, 2, 3, 4, 5, 6, 7, 8, j)).is_err() as u64)
            .iter()
            .sum()
    }

    const SENTINELS: [u64; 4] = [
        0x1212_1212_1212_1212,
        0x1313_1313_1313_1313,
        0x1414_1414_1414_1414,
        0x1515_1515_1515_1515,
    ];
    let (failed, r12, r13, r14, r15): (u64, u64, u64, u64, u64);
    // SAFETY: a call of a C function (the stack is aligned for one at the
    // block's entry, and the block moves it no further), with everything
    // the block changes declared.
    unsafe {
        core::arch::asm!(
            "mov r12, {s0}",
            "mov r13, {s1}",
            "mov r14, {s2}",
            "mov r15, {s3}",
            "call {fail}",
            s0 = const SENTINELS[0],
            s1 = const SENTINELS[1],
            s2 = const SENTINELS[2],
            s3 = const SENTINELS[3],
            fail = sym fail_twice,
            out("rax") failed,
            out("r12") r12,
            out("r13") r13,
            out("r14") r14,
            out("r15") r15,
            clobber_abi("C"),
        );
    }
    assert_eq!(failed, 2);
    assert_eq!([r12, r13, r14, r15], SENTINELS);
}
