//! Values through real generated code: every kind, every value type, edge
//! values, 0 to 1000 parameters and results, bit-exact on both sides.

use springboard_check::CodeSet;
use springboard_check::values::{ValueGen, edge_values};
use springboard_compiler::{Compiler, Error, Signature, ValType};

/// Whether the host's compiler refuses `sig` as the target's rule says it
/// does (`Isa::refusal`), saying so as a skip. Any other error fails.
fn refused_here(compiler: &Compiler, sig: &Signature) -> bool {
    match CodeSet::compile(compiler, sig) {
        Ok(_) => false,
        Err(Error::Refused { reason, .. }) => {
            springboard_testing::skip(format_args!("{sig}: {reason}"));
            true
        }
        Err(e) => panic!("{sig}: {e}"),
    }
}

fn check(compiler: &Compiler, sig: &Signature, rounds: u64) {
    if refused_here(compiler, sig) {
        return;
    }
    let set = CodeSet::compile(compiler, sig).unwrap_or_else(|e| panic!("{sig}: {e}"));
    let mut values = ValueGen::new(sig.params().len() as u64 * 7919 + sig.results().len() as u64);
    for _ in 0..rounds {
        let args = values.values(sig.params());
        let results = values.values(sig.results());
        set.run(&args, &results).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn every_value_type_alone_as_param_and_result() {
    let compiler = Compiler::host().unwrap();
    for ty in ValType::ALL {
        for (p, r) in [(&[ty][..], &[][..]), (&[], &[ty]), (&[ty], &[ty])] {
            check(&compiler, &Signature::new(p, r).unwrap(), 8);
        }
    }
}

#[test]
fn every_edge_value_of_every_type_both_ways() {
    let compiler = Compiler::host().unwrap();
    for ty in ValType::ALL {
        let sig = Signature::new(&[ty, ty], &[ty, ty]).unwrap();
        if refused_here(&compiler, &sig) {
            continue;
        }
        let set = CodeSet::compile(&compiler, &sig).unwrap();
        let edges = edge_values(ty);
        for a in &edges {
            for b in &edges {
                set.run(&[*a, *b], &[*b, *a])
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}

#[test]
fn empty_signature() {
    check(
        &Compiler::host().unwrap(),
        &Signature::new(&[], &[]).unwrap(),
        1,
    );
}

/// `n` types cycling through every value type, starting at `shift`.
fn mixed(n: usize, shift: usize) -> Vec<ValType> {
    (0..n)
        .map(|i| ValType::ALL[(i + shift) % ValType::ALL.len()])
        .collect()
}

#[test]
fn many_params_spill_to_the_stack() {
    let compiler = Compiler::host().unwrap();
    for n in [2, 16, 100] {
        check(
            &compiler,
            &Signature::new(&mixed(n, 0), &[ValType::I64]).unwrap(),
            4,
        );
        check(
            &compiler,
            &Signature::new(&mixed(n, 3), &mixed(2, 1)).unwrap(),
            2,
        );
    }
}

#[test]
fn multi_value_results() {
    let compiler = Compiler::host().unwrap();
    for n in [2, 3, 16, 100, 175] {
        check(
            &compiler,
            &Signature::new(&[ValType::I32], &mixed(n, 2)).unwrap(),
            2,
        );
    }
}

#[test]
fn a_thousand_params_and_a_thousand_results() {
    let compiler = Compiler::host().unwrap();
    check(
        &compiler,
        &Signature::new(&mixed(1000, 0), &[ValType::F64]).unwrap(),
        1,
    );
    check(&compiler, &Signature::new(&[], &mixed(1000, 4)).unwrap(), 1);
    check(
        &compiler,
        &Signature::new(&mixed(1000, 1), &mixed(1000, 5)).unwrap(),
        1,
    );
}

#[test]
fn every_opt_level_generates_correct_code() {
    use springboard_compiler::OptLevel;
    let sig = Signature::new(&mixed(20, 0), &mixed(5, 3)).unwrap();
    for level in [OptLevel::None, OptLevel::Speed, OptLevel::SpeedAndSize] {
        let compiler = Compiler::builder().opt_level(level).build().unwrap();
        check(&compiler, &sig, 4);
    }
}

#[test]
fn reusing_a_threads_context_does_not_change_the_code() {
    // Each thread keeps one Cranelift context between compilations: code made
    // after other (larger) functions must equal code made on a fresh thread.
    use springboard_compiler::TrampolineKind;
    let compiler = Compiler::host().unwrap();
    let small = Signature::new(&mixed(3, 1), &mixed(2, 0)).unwrap();
    let mut large = Signature::new(&mixed(40, 2), &mixed(9, 1)).unwrap();
    if refused_here(&compiler, &large) {
        // The same length in what every ISA carries.
        large = Signature::new(&[ValType::I64; 40], &[ValType::I32; 9]).unwrap();
    }
    let on_fresh_thread = |sig: &Signature| {
        let (compiler, sig) = (compiler.clone(), sig.clone());
        std::thread::spawn(move || {
            TrampolineKind::ALL.map(|k| compiler.compile(k, &sig).unwrap().code)
        })
        .join()
        .unwrap()
    };
    let fresh = on_fresh_thread(&small);
    for sig in [&small, &large, &small, &large] {
        let reused = TrampolineKind::ALL.map(|k| compiler.compile(k, sig).unwrap().code);
        if sig == &small {
            assert_eq!(reused, fresh);
        } else {
            assert_eq!(reused, on_fresh_thread(&large));
        }
    }
}

/// The `wasmtime17` wasm convention carries every value bit-exact through
/// every kind, whatever goes to registers and whatever to its return area:
/// every type alone, edge values, stack arguments, results beyond the
/// registers of each class, up to a thousand of each. (That it matches
/// Wasmtime 17's own code is `tests/wasmtime17`'s to prove.)
#[test]
fn the_wasmtime17_convention_round_trips_on_x86_64() {
    use springboard_compiler::WasmConv;
    let built = Compiler::builder().wasm_conv(WasmConv::Wasmtime17).build();
    if !cfg!(target_arch = "x86_64") {
        let err = built.unwrap_err().to_string();
        assert!(err.contains("x86-64 only"), "{err}");
        springboard_testing::skip("the wasmtime17 convention is x86-64 only");
        return;
    }
    let compiler = built.unwrap();
    for ty in ValType::ALL {
        for (p, r) in [(&[ty][..], &[][..]), (&[], &[ty]), (&[ty], &[ty; 3])] {
            check(&compiler, &Signature::new(p, r).unwrap(), 4);
        }
        let sig = Signature::new(&[ty, ty], &[ty, ty, ty, ty]).unwrap();
        let set = CodeSet::compile(&compiler, &sig).unwrap();
        for a in edge_values(ty) {
            set.run(&[a, a], &[a, a, a, a])
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    for (params, results) in [(20, 4), (7, 9), (100, 175), (1000, 1000)] {
        check(
            &compiler,
            &Signature::new(&mixed(params, 1), &mixed(results, 2)).unwrap(),
            2,
        );
    }
}
