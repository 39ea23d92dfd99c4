//! The ABI conformance fuzzer's generator: random signatures (up to 1,000
//! parameters of mixed integer, float and vector types, several results)
//! with values, from a seed. `tests/abi_conformance.rs` drives them from C on
//! every ISA, `tests/libffi_differential.rs` against libffi on the host;
//! `SPRINGBOARD_ABI_FUZZ_SEEDS=a..b` (see `tests/abi-fuzz.sh`) runs more
//! seeds than the tests' fixed one.

use crate::c_harness::Case;
use springboard_check::values::{ValueGen, case_values, random_signature};
use springboard_compiler::{Compiler, Signature, TrampolineKind, ValType};

/// The seeds to run: `SPRINGBOARD_ABI_FUZZ_SEEDS` (`a..b`, or one number),
/// else the tests' fixed seed.
pub fn seeds() -> std::ops::Range<u64> {
    let fixed = 0xab1..0xab2;
    let Ok(spec) = std::env::var("SPRINGBOARD_ABI_FUZZ_SEEDS") else {
        return fixed;
    };
    let parse = |s: &str| {
        s.trim().parse::<u64>().unwrap_or_else(|_| {
            panic!("SPRINGBOARD_ABI_FUZZ_SEEDS: `{spec}` is not `a..b` or a number")
        })
    };
    match spec.split_once("..") {
        Some((a, b)) => parse(a)..parse(b),
        None => parse(&spec)..parse(&spec) + 1,
    }
}

/// `n` cases of distinct random signatures over `types` that `compiler`'s
/// target accepts — the first with 1,000 parameters (integers only, if the
/// target refuses the mixed one) — and how many were refused on the way.
pub fn cases(compiler: &Compiler, seed: u64, n: usize, types: &[ValType]) -> (Vec<Case>, usize) {
    let mut values = ValueGen::new(seed);
    let accepted = |s: &Signature| compiler.compile(TrampolineKind::Entry, s).is_ok();
    let mut refused = 0;
    let mut sigs: Vec<Signature> = Vec::new();
    let integers = [
        ValType::I32,
        ValType::I64,
        ValType::FUNCREF,
        ValType::EXTERNREF,
    ];
    for pool in [types, &integers[..]] {
        let params: Vec<ValType> = (0..1000)
            .map(|_| pool[(values.next_u64() % pool.len() as u64) as usize])
            .collect();
        let sig =
            Signature::new(&params, &[ValType::F64, ValType::I32, ValType::I64]).expect("fits");
        if accepted(&sig) {
            sigs.push(sig);
            break;
        }
        refused += 1;
    }
    // Bounded: a target that refuses nearly everything ends the search.
    for _ in 0..n * 50 {
        if sigs.len() >= n {
            break;
        }
        let sig = random_signature(&mut values, types);
        if sigs.contains(&sig) {
            continue;
        }
        if accepted(&sig) {
            sigs.push(sig);
        } else {
            refused += 1;
        }
    }
    let cases = sigs
        .into_iter()
        .enumerate()
        .map(|(i, signature)| case(i, signature, &mut values))
        .collect();
    (cases, refused)
}

/// Case `i` of a program: `signature` with edge values (NaN payloads,
/// -0.0, extremes; shifted per case) at every other slot, random values at
/// the rest.
pub fn case(i: usize, signature: Signature, values: &mut ValueGen) -> Case {
    Case {
        args: case_values(values, signature.params(), i, i),
        results: case_values(values, signature.results(), i, i + 3),
        signature,
    }
}
