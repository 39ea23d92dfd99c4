//! The object written for real modules' signatures links with the system C
//! toolchain: a generated C program plays host and callee and drives every
//! trampoline kind, and every value it prints is checked bit for bit.

use springboard_check::values::ValueGen;
use springboard_compiler::{Compiler, Signature, ValType};
use springboard_tests::c_harness::{self, Case};

fn cases() -> Vec<Case> {
    use ValType::*;
    let mut sigs = springboard_tests::fixture_signatures();
    sigs.extend(springboard_tests::example_signatures());
    // Beyond the fixtures: every type, many params on the stack, many results.
    sigs.push(Signature::new(&ValType::ALL, &ValType::ALL).unwrap());
    sigs.push(
        Signature::new(
            &[I32, F64, I64, F32, V128, ValType::EXTERNREF].repeat(4),
            &[F64, I32, V128],
        )
        .unwrap(),
    );
    sigs.push(Signature::new(&[F32; 20], &[F32, F64, I64, I32, ValType::FUNCREF]).unwrap());
    sigs.sort();
    sigs.dedup();
    let mut values = ValueGen::new(0xc0ffee);
    springboard_testing::only(
        sigs,
        springboard_check::values::supported_here,
        springboard_check::values::REFUSED,
    )
    .into_iter()
    .map(|signature| Case {
        args: values.values(signature.params()),
        results: values.values(signature.results()),
        signature,
    })
    .collect()
}

#[test]
fn object_links_with_cc_and_runs_every_kind_of_every_signature() {
    let Some((cc, runner)) = c_harness::target_c() else {
        springboard_testing::skip_missing_tool(
            "a C compiler for this target",
            "linking the object",
        );
        return;
    };
    let compiler = Compiler::host().unwrap();
    let cases = cases();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_link");
    // Templates hold absolute callee addresses: link position-dependent.
    let mut cc: Vec<&str> = cc.iter().map(String::as_str).collect();
    cc.push("-no-pie");
    let compared =
        c_harness::build_and_run(&dir, &compiler, &cases, &cc, runner.as_deref()).unwrap();
    let params: usize = cases
        .iter()
        .map(|c| 1 + c.signature.params().len() + c.signature.results().len())
        .sum();
    assert_eq!(
        compared,
        params * c_harness::ROUTES.len(),
        "every slot of every route"
    );
}
