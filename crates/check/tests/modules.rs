//! Every distinct signature of every real-world module under `tests/data/`
//! compiles for every kind, and its trampolines carry values bit-exact.

use springboard_check::CodeSet;
use springboard_check::module::ModuleInfo;
use springboard_check::values::ValueGen;
use springboard_compiler::{Compiler, TrampolineKind};
use std::path::PathBuf;

fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected the real-world fixtures in {}",
        dir.display()
    );
    files
}

#[test]
fn every_signature_of_every_fixture_compiles_for_every_kind_and_runs() {
    let compiler = Compiler::host().unwrap();
    for path in fixtures() {
        let info = ModuleInfo::parse(&std::fs::read(&path).unwrap()).unwrap();
        assert!(
            !info.types.is_empty(),
            "{}: no function types",
            path.display()
        );
        for ty in &info.types {
            let sig = ty
                .signature
                .as_ref()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for kind in TrampolineKind::ALL {
                let code = compiler.compile(kind, sig).unwrap();
                assert!(!code.code.is_empty());
                assert_eq!(
                    code.relocations.len(),
                    usize::from(kind.is_template()),
                    "{kind} of {sig}"
                );
            }
            let set = CodeSet::compile(&compiler, sig).unwrap();
            let mut values = ValueGen::new(1);
            set.run(&values.values(sig.params()), &values.values(sig.results()))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn module_analysis_counts_functions_and_needs() {
    let path = fixtures()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("lz4"))
        .unwrap();
    let info = ModuleInfo::parse(&std::fs::read(path).unwrap()).unwrap();
    let total: usize = info.types.iter().map(|t| t.functions).sum();
    assert_eq!(total, info.functions);
    // A wasm-bindgen module imports host functions and exports its API.
    assert!(
        info.types
            .iter()
            .any(|t| t.needed_kinds().contains(&TrampolineKind::WasmToNative))
    );
    assert!(
        info.types
            .iter()
            .any(|t| t.needed_kinds().contains(&TrampolineKind::ArrayToWasm))
    );
}

#[test]
fn malformed_modules_are_errors() {
    for bytes in [
        &b""[..],
        b"\0asm",
        b"not wasm at all",
        b"\0asm\x01\0\0\0\x01\xff",
    ] {
        assert!(ModuleInfo::parse(bytes).is_err());
    }
}

/// `ref.func` in every form a module can use it counts its function as
/// reachable; an import and an unreached function do not.
#[test]
fn every_ref_func_form_makes_its_function_reachable() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/ref-func-forms.wat");
    let wasm = wat::parse_file(&path).unwrap();
    let info = ModuleInfo::parse(&wasm).unwrap();
    let reachable = |sig: &str| {
        let ty = info
            .types
            .iter()
            .find(|t| t.signature.as_ref().unwrap().to_string() == sig)
            .unwrap_or_else(|| panic!("no type {sig}"));
        (ty.reachable, ty.imported)
    };
    for (sig, form) in [
        (
            "(func (param i32) (result i32))",
            "active element, expression form",
        ),
        ("(func (result f64))", "passive element, expression form"),
        (
            "(func (param f32 f32))",
            "declarative element, expression form",
        ),
        ("(func (param i64) (result i64))", "global initialiser"),
        ("(func (param f64))", "active element, function-index form"),
    ] {
        assert_eq!(reachable(sig), (1, 0), "{form}: {sig}");
    }
    assert_eq!(reachable("(func (param i32 i64) (result f32))"), (0, 0));
    assert_eq!(reachable("(func (param externref))"), (0, 1));
    assert_eq!(reachable("(func)"), (0, 0));
    let needing_wasm_side = info
        .types
        .iter()
        .filter(|t| t.needed_kinds().contains(&TrampolineKind::ArrayToWasm))
        .count();
    assert_eq!(needing_wasm_side, 5);
}
