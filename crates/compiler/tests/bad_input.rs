//! Bad input gets a clear error naming the problem, never a panic.

use springboard_compiler::{
    Compiler, Error, ObjectBuilder, Signature, SignatureError, TrampolineKind, ValType,
};
use wasmparser::{AbstractHeapType, FuncType, HeapType, RefType, ValType as W};

fn from_wasm(params: &[W], results: &[W]) -> Result<Signature, Error> {
    Ok(Signature::from_wasm(&FuncType::new(
        params.iter().copied(),
        results.iter().copied(),
    ))?)
}

#[test]
fn unsupported_value_types_are_named() {
    let abstract_ref =
        |ty| W::Ref(RefType::new(true, HeapType::Abstract { shared: false, ty }).unwrap());
    let cases = [
        (
            W::Ref(
                RefType::new(
                    false,
                    HeapType::Abstract {
                        shared: false,
                        ty: AbstractHeapType::Func,
                    },
                )
                .unwrap(),
            ),
            "func",
        ),
        (abstract_ref(AbstractHeapType::Any), "any"),
        (abstract_ref(AbstractHeapType::I31), "i31"),
        (abstract_ref(AbstractHeapType::Exn), "exn"),
    ];
    for (ty, name) in cases {
        for (p, r) in [(&[W::I32, ty][..], &[][..]), (&[], &[ty])] {
            match from_wasm(p, r) {
                Err(Error::Unsupported(t)) => assert!(t.contains(name), "{t} should name {name}"),
                other => panic!("expected Unsupported for {ty}, got {other:?}"),
            }
        }
    }
    let message = from_wasm(&[abstract_ref(AbstractHeapType::Any)], &[])
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("unsupported value type") && message.contains("any"),
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
