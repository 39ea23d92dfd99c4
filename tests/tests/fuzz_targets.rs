//! Every fuzz target over its checked-in seed corpus (`fuzz/corpus/<name>/`)
//! and a fixed number of seeded random inputs.

use springboard_check::values::ValueGen;
use springboard_tests::fuzz;
use std::path::PathBuf;

/// Random inputs per target (each a few hundred bytes).
const RANDOM_INPUTS: u64 = 150;

fn corpus(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seed corpus in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

fn random_inputs(name: &str) -> impl Iterator<Item = Vec<u8>> {
    let seed = name
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut values = ValueGen::new(seed);
    (0..RANDOM_INPUTS).map(move |_| {
        let len = (values.next_u64() % 512) as usize;
        (0..len).map(|_| values.next_u64() as u8).collect()
    })
}

fn run_target(name: &str) {
    for (path, bytes) in corpus(name) {
        eprintln!("{name}: {}", path.display());
        fuzz::run(name, &bytes);
    }
    for bytes in random_inputs(name) {
        fuzz::run(name, &bytes);
    }
}

#[test]
fn signature_check() {
    run_target("signature_check");
}

#[test]
fn signature_model() {
    run_target("signature_model");
}

#[test]
fn trampoline_roundtrip() {
    run_target("trampoline_roundtrip");
}

#[test]
fn registry_model() {
    run_target("registry_model");
}

#[test]
fn object_loader() {
    run_target("object_loader");
}

#[test]
fn gc_subtyping() {
    run_target("gc_subtyping");
}

#[test]
fn every_target_is_tested_here() {
    assert_eq!(
        fuzz::TARGETS,
        [
            "signature_check",
            "signature_model",
            "trampoline_roundtrip",
            "registry_model",
            "object_loader",
            "gc_subtyping"
        ]
    );
}
