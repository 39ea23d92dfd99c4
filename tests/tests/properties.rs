//! Property tests: random signatures of up to 1000 parameters and 1000
//! results of every value type, every kind, random values — bit-exact.

use springboard_check::CodeSet;
use springboard_check::values::ValueGen;
use springboard_compiler::{Compiler, Signature, ValType};

/// A length in 0..=max, biased towards the interesting small and huge ends.
fn length(values: &mut ValueGen, max: usize) -> usize {
    match values.next_u64() % 4 {
        0 => (values.next_u64() % 4) as usize,
        1 => (values.next_u64() % 24) as usize,
        2 => max - (values.next_u64() % 8) as usize,
        _ => (values.next_u64() % (max as u64 + 1)) as usize,
    }
}

/// The signature, with what this host's C convention cannot carry by design
/// (docs/ABI.md, "Per ISA") replaced by integers of the same width: `v128`
/// parameters after the first, then every `v128`, then float parameters
/// after the eighth — as few as it takes.
fn carried_here(
    compiler: &Compiler,
    mut params: Vec<ValType>,
    mut results: Vec<ValType>,
) -> Signature {
    use ValType::*;
    let supported = |p: &[ValType], r: &[ValType]| {
        let sig = Signature::new(p, r).unwrap();
        compiler.supports(&sig).is_ok().then_some(sig)
    };
    if let Some(sig) = supported(&params, &results) {
        return sig;
    }
    for t in params.iter_mut().filter(|t| **t == V128).skip(1) {
        *t = I64;
    }
    if let Some(sig) = supported(&params, &results) {
        return sig;
    }
    for t in params
        .iter_mut()
        .chain(results.iter_mut())
        .filter(|t| **t == V128)
    {
        *t = I64;
    }
    if let Some(sig) = supported(&params, &results) {
        return sig;
    }
    for t in params.iter_mut().filter(|t| matches!(t, F32 | F64)).skip(8) {
        *t = if *t == F32 { I32 } else { I64 };
    }
    supported(&params, &results).expect("integers are carried everywhere")
}

#[test]
fn random_signatures_round_trip_through_every_kind() {
    let compiler = Compiler::host().unwrap();
    let mut values = ValueGen::new(0x5eed);
    let mut longest = (0, 0);
    for _ in 0..24 {
        let types = |values: &mut ValueGen, n: usize| -> Vec<ValType> {
            (0..n)
                .map(|_| ValType::ALL[(values.next_u64() % 7) as usize])
                .collect()
        };
        let (np, nr) = (length(&mut values, 1000), length(&mut values, 1000));
        let sig = carried_here(&compiler, types(&mut values, np), types(&mut values, nr));
        longest = (longest.0.max(np), longest.1.max(nr));
        let set = CodeSet::compile(&compiler, &sig).unwrap_or_else(|e| panic!("{sig}: {e}"));
        for _ in 0..3 {
            set.run(&values.values(sig.params()), &values.values(sig.results()))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    // The seed reaches both limits.
    assert!(longest.0 >= 990 && longest.1 >= 990, "{longest:?}");
}
