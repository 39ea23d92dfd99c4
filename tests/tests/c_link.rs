//! The object written for real modules' signatures links with the system C
//! toolchain: a generated C program plays host and callee, and every value
//! it prints is checked bit for bit.

use springboard_compiler::check::ValueGen;
use springboard_compiler::{CallConv, Compiler, ObjectBuilder, Signature, TrampolineKind, ValType};
use springboard_tests::c_harness::{self, Case};
use std::process::Command;

fn cases() -> Vec<Case> {
    use ValType::*;
    let mut sigs = springboard_tests::fixture_signatures();
    // Beyond the fixtures: every type, many params on the stack, many results.
    sigs.push(Signature::new(&ValType::ALL, &ValType::ALL).unwrap());
    sigs.push(
        Signature::new(
            &[I32, F64, I64, F32, V128, ExternRef].repeat(4),
            &[F64, I32, V128],
        )
        .unwrap(),
    );
    sigs.push(Signature::new(&[F32; 20], &[F32, F64, I64, I32, FuncRef]).unwrap());
    sigs.dedup();
    let mut values = ValueGen::new(0xc0ffee);
    sigs.into_iter()
        .map(|signature| Case {
            args: values.values(signature.params()),
            results: values.values(signature.results()),
            signature,
        })
        .collect()
}

#[test]
fn object_links_with_cc_and_runs_every_signature() -> anyhow::Result<()> {
    let compiler = Compiler::host()?;
    let cases = cases();
    let mut object = ObjectBuilder::new(&compiler)?;
    for case in &cases {
        object.add(&compiler.compile(TrampolineKind::Entry, &case.signature)?)?;
        object.add(&compiler.compile(TrampolineKind::ArrayToWasm, &case.signature)?)?;
        object.add(&compiler.compile_probe(CallConv::Wasm, &case.signature)?)?;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_link");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("trampolines.o"), object.finish()?)?;
    std::fs::write(dir.join("harness.c"), c_harness::source(&cases))?;
    let status = Command::new("cc")
        .current_dir(&dir)
        // Templates hold absolute callee addresses: link position-dependent.
        .args([
            "-O1",
            "-no-pie",
            "-o",
            "harness",
            "harness.c",
            "trampolines.o",
        ])
        .status()?;
    assert!(status.success(), "cc failed");
    let out = Command::new(dir.join("harness")).output()?;
    assert!(
        out.status.success(),
        "harness failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let compared =
        c_harness::verify(&cases, &String::from_utf8(out.stdout)?).map_err(anyhow::Error::msg)?;
    assert!(compared > cases.len() * 4, "compared only {compared} slots");
    Ok(())
}
