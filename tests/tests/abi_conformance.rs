//! The ABI conformance fuzzer: random signatures (up to 1,000 parameters of
//! every type, several results, edge values) compiled into an object for
//! each ISA, driven from C compiled by that ISA's gcc — natively on the
//! host, under qemu-user elsewhere — through all seven routes of
//! `c_harness`, every slot compared bit for bit. One fixed seed here;
//! `tests/abi-fuzz.sh` runs many. (The host's libffi half is
//! `libffi_differential.rs`.)

use springboard_compiler::{Compiler, ValType};
use springboard_tests::{abi_fuzz, c_harness};
use std::process::Command;

/// Cases per seed and ISA.
const CASES: usize = 10;

struct Target {
    triple: &'static str,
    cc: &'static [&'static str],
    runner: Option<&'static str>,
}

const FOREIGN: [Target; 3] = [
    Target {
        triple: "aarch64-unknown-linux-gnu",
        cc: &["aarch64-linux-gnu-gcc", "-static"],
        runner: Some("qemu-aarch64"),
    },
    Target {
        triple: "riscv64gc-unknown-linux-gnu",
        cc: &["riscv64-linux-gnu-gcc", "-static"],
        runner: Some("qemu-riscv64"),
    },
    Target {
        triple: "s390x-unknown-linux-gnu",
        cc: &["s390x-linux-gnu-gcc", "-static", "-march=z14"],
        runner: Some("qemu-s390x"),
    },
];

fn available(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn random_signatures_run_bit_exact_from_c_on_every_isa() {
    let host = Target {
        triple: "host",
        cc: &["cc"],
        runner: None,
    };
    let (mut ran, mut skipped) = (0, Vec::new());
    for target in std::iter::once(&host).chain(&FOREIGN) {
        let is_host = target.runner.is_none();
        let foreign_here = !is_host && target.triple.starts_with(std::env::consts::ARCH);
        let missing: Vec<&str> = [Some(target.cc[0]), target.runner]
            .into_iter()
            .flatten()
            .filter(|t| !available(t))
            .collect();
        if foreign_here || !missing.is_empty() {
            let why = if foreign_here {
                "the host itself".to_owned()
            } else {
                format!("{} not installed", missing.join(", "))
            };
            skipped.push(format!("{}: {why}", target.triple));
            continue;
        }
        let compiler = if is_host {
            Compiler::host()
        } else {
            Compiler::builder().target(target.triple).build()
        }
        .unwrap();
        for seed in abi_fuzz::seeds() {
            // riscv64 refuses v128 outright (docs/ABI.md): leave it out there.
            let types: Vec<ValType> = ValType::ALL
                .into_iter()
                .filter(|&t| !(target.triple.starts_with("riscv64") && t == ValType::V128))
                .collect();
            let (cases, refused) = abi_fuzz::cases(&compiler, seed, CASES, &types);
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("abi-fuzz-{}", target.triple));
            let compared =
                c_harness::build_and_run(&dir, &compiler, &cases, target.cc, target.runner)
                    .unwrap_or_else(|e| panic!("{} seed {seed}: {e}", target.triple));
            let params: usize = cases.iter().map(|c| c.signature.params().len()).sum();
            println!(
                "{} seed {seed}: {} signatures ({params} parameters in all), {compared} slots bit-exact, {refused} refused by the target",
                target.triple,
                cases.len(),
            );
            assert!(compared > 0);
        }
        ran += 1;
    }
    for s in &skipped {
        println!("skipped {s}");
    }
    assert!(ran >= 1, "not even the host ran: {skipped:?}");
}
