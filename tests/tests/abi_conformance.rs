//! The ABI conformance fuzzer: random signatures (up to 1,000 parameters of
//! every type, several results, edge values) compiled into an object for
//! each ISA, driven from C compiled by that ISA's gcc — natively on the
//! host, under qemu-user elsewhere, under Wine for Windows x64 (COFF) — through all seven routes of
//! `c_harness`, every slot compared bit for bit. One fixed seed here;
//! `tests/abi-fuzz.sh` runs many. (The host's libffi half is
//! `libffi_differential.rs`.)

use springboard_compiler::{Compiler, ValType};
use springboard_tests::{abi_fuzz, c_harness};
use std::process::Command;

/// Cases per seed and ISA.
const CASES: usize = 10;

struct Target<'a> {
    triple: &'static str,
    cc: &'a [&'a str],
    runner: Option<&'a str>,
}

const FOREIGN: [Target<'static>; 4] = [
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
    // COFF objects and the Windows x64 convention, under Wine.
    Target {
        triple: "x86_64-pc-windows-gnu",
        cc: &[
            "x86_64-w64-mingw32-gcc",
            "-static",
            "-D__USE_MINGW_ANSI_STDIO=1",
        ],
        runner: Some("wine"),
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
    // The target these tests run on (natively, or under emulation).
    let host_c = c_harness::target_c();
    let host_cc: Vec<&str> = host_c
        .iter()
        .flat_map(|(cc, _)| cc)
        .map(String::as_str)
        .collect();
    let host = Target {
        triple: "host",
        cc: if host_cc.is_empty() {
            &["cc"]
        } else {
            &host_cc
        },
        runner: host_c.as_ref().and_then(|(_, r)| r.as_deref()),
    };
    let mut ran = 0;
    for target in std::iter::once(&host).chain(&FOREIGN) {
        let is_host = target.triple == "host";
        let foreign_here = !is_host
            && target.triple.starts_with(std::env::consts::ARCH)
            && target.triple.contains(std::env::consts::OS);
        let missing: Vec<&str> = [Some(target.cc[0]), target.runner]
            .into_iter()
            .flatten()
            .filter(|t| !available(t))
            .collect();
        if foreign_here {
            springboard_testing::skip(format_args!("{}: the host itself", target.triple));
            continue;
        }
        if !missing.is_empty() {
            springboard_testing::skip_missing_tool(&missing.join(", "), target.triple);
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
    // Under Wine no Linux tool can be started from the test.
    assert!(ran >= 1 || cfg!(windows), "not even the host ran");
}
