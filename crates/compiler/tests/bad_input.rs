//! Bad input gets a clear error naming the problem, never a panic.

use springboard_compiler::{
    Compiler, Error, ObjectBuilder, Signature, SignatureError, TrampolineKind, ValType,
};
use wasmparser::{AbstractHeapType, FuncType, HeapType, RefType, ValType as W};

fn from_wasm(params: &[W], results: &[W]) -> Result<Signature, Error> {
    Ok(Signature::from_wasm(
        &FuncType::new(params.iter().copied(), results.iter().copied()),
        &(),
    )?)
}

#[test]
fn unsupported_value_types_are_named() {
    let heap_ref =
        |shared, ty| W::Ref(RefType::new(true, HeapType::Abstract { shared, ty }).unwrap());
    // Every abstract WebAssembly 3.0 type converts, and compiles as its
    // trampoline type.
    let compiler = Compiler::host().unwrap();
    for ty in [
        AbstractHeapType::Func,
        AbstractHeapType::Any,
        AbstractHeapType::I31,
        AbstractHeapType::Exn,
        AbstractHeapType::NoExn,
        AbstractHeapType::None,
    ] {
        let sig = from_wasm(&[heap_ref(false, ty)], &[heap_ref(false, ty)]).unwrap();
        let code = compiler.compile(TrampolineKind::ArrayToWasm, &sig).unwrap();
        assert!(code.signature.is_trampoline_type(), "{}", code.signature);
    }
    // Shared types (shared-everything threads) and references to types no
    // module defines are named.
    let concrete = W::Ref(
        RefType::new(
            false,
            HeapType::Concrete(wasmparser::UnpackedIndex::Module(7)),
        )
        .unwrap(),
    );
    let cases = [
        (heap_ref(true, AbstractHeapType::Any), "shared"),
        (concrete, "module 7"),
    ];
    for (ty, name) in cases {
        for (p, r) in [(&[W::I32, ty][..], &[][..]), (&[], &[ty])] {
            match from_wasm(p, r) {
                Err(Error::Unsupported(t)) => assert!(t.contains(name), "{t} should name {name}"),
                other => panic!("expected Unsupported for {ty}, got {other:?}"),
            }
        }
    }
    let message = from_wasm(&[heap_ref(true, AbstractHeapType::Any)], &[])
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("unsupported value type") && message.contains("shared"),
        "{message}"
    );
}

#[test]
fn over_long_signatures_are_refused() {
    let err = from_wasm(&[W::I32; 1001], &[]).unwrap_err();
    assert!(matches!(
        err,
        Error::Signature(SignatureError::TooMany {
            what: "parameters",
            count: 1001,
            ..
        })
    ));
    assert_eq!(err.to_string(), "too many parameters: 1001 (at most 1000)");
    let err = Signature::new(&[], &[ValType::V128; 5000]).unwrap_err();
    assert_eq!(err.to_string(), "too many results: 5000 (at most 1000)");
}

#[test]
fn targets_the_build_lacks_or_that_do_not_exist_are_errors() {
    // Backends Cranelift does not have, and a malformed triple.
    let mut lacking = vec![
        "mips64-unknown-linux-gnuabi64",
        "not-a-triple",
        "wasm32-unknown-unknown",
    ];
    // Without `all-targets`, only the host's backend is built.
    if !cfg!(feature = "all-targets") {
        lacking.push(if cfg!(target_arch = "x86_64") {
            "aarch64-unknown-linux-gnu"
        } else {
            "x86_64-unknown-linux-gnu"
        });
    }
    for triple in lacking {
        match Compiler::builder().target(triple).build() {
            Err(Error::Target { triple: t, reason }) => {
                assert_eq!(t, triple);
                assert!(!reason.is_empty());
            }
            other => panic!("{triple}: expected a target error, got {other:?}"),
        }
    }
}

/// Every triple rustc knows, and variants Cranelift's ISA builders assert
/// on: a compiler and an object, or a target error naming the triple —
/// never a panic.
#[test]
fn no_target_triple_panics() {
    let mut triples: Vec<String> = [
        "aarch64_be-unknown-linux-gnu",
        "aarch64_be-unknown-none-softfloat",
        "x86_64-unknown-linux-gnux32",
        "riscv64imac-unknown-none-elf",
        "riscv64gc-unknown-linux-gnu",
        "s390x-unknown-linux-gnu",
        "pulley64-unknown-none",
        "pulley32be-unknown-none",
        "arm64_32-apple-watchos",
        "x86_64h-apple-darwin",
        "x86_64",
        "aarch64",
        "",
        "-",
        "x86_64-unknown-linux-gnu-extra-parts",
    ]
    .map(str::to_owned)
    .to_vec();
    // rustc's own list, where rustc runs (it does wherever cargo tests).
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    match std::process::Command::new(rustc)
        .args(["--print", "target-list"])
        .output()
    {
        Ok(out) if out.status.success() => triples.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned),
        ),
        _ => springboard_testing::skip_missing_tool("rustc", "its target list"),
    }
    // Whatever rustc said, the ISAs the checks below expect.
    triples.extend(["aarch64-unknown-linux-gnu", "s390x-unknown-linux-gnu"].map(str::to_owned));
    let (mut built, mut refused) = (Vec::new(), 0);
    for triple in &triples {
        let outcome = std::panic::catch_unwind(|| {
            let compiler = Compiler::builder().target(triple).build()?;
            let mut object = ObjectBuilder::new(&compiler)?;
            object.add(&compiler.compile_signature_check()?)?;
            object.finish()
        });
        match outcome {
            Ok(Ok(_)) => built.push(triple.as_str()),
            Ok(Err(Error::Target { triple: t, reason })) => {
                assert_eq!(&t, triple);
                assert!(!reason.is_empty());
                refused += 1;
            }
            Ok(Err(other)) => panic!("{triple}: expected a target error, got {other:?}"),
            Err(_) => panic!("{triple}: panicked"),
        }
    }
    println!(
        "{} triples: {} built objects, {refused} refused",
        triples.len(),
        built.len()
    );
    if cfg!(feature = "all-targets") {
        assert!(built.contains(&"aarch64-unknown-linux-gnu"), "{built:?}");
        assert!(built.contains(&"s390x-unknown-linux-gnu"), "{built:?}");
    }
    assert!(!built.contains(&"aarch64_be-unknown-linux-gnu"));
}

#[test]
fn duplicate_object_entries_are_refused() {
    let compiler = Compiler::host().unwrap();
    let sig = Signature::new(&[ValType::I32], &[]).unwrap();
    let code = compiler.compile(TrampolineKind::Entry, &sig).unwrap();
    let mut object = ObjectBuilder::new(&compiler).unwrap();
    object.add(&code).unwrap();
    let err = object.add(&code).unwrap_err();
    assert!(err.to_string().contains("added twice"), "{err}");
}
