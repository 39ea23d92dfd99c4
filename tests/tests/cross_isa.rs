//! Ahead-of-time trampolines for aarch64, riscv64, s390x and Windows x64,
//! proven by running them: the bundled example module's signatures (and a
//! few long ones) are compiled with probes into an object for each target
//! (COFF for Windows, ELF elsewhere), linked statically with a C harness by
//! that target's gcc (MinGW's for Windows), run under qemu-user or Wine, and
//! every value of every kind is checked bit-exact. s390x is big-endian: the
//! asymmetric values of `ValueGen` and the edge values prove the byte order
//! conversions. Skipped, with the reason printed, where the tools are absent
//! (`.ci/run` installs them).

use springboard_check::values::ValueGen;
use springboard_compiler::{Compiler, Error, Refusal, Signature, ValType};
use springboard_loader::{ObjectError, ObjectFile};
use springboard_tests::c_harness::{self, Case};
use std::process::Command;

struct Isa {
    triple: &'static str,
    gcc: &'static str,
    runner: &'static str,
    cflags: &'static [&'static str],
    machine: &'static str,
    /// Debian's packages of `gcc` and `runner`.
    packages: &'static str,
}

const ISAS: [Isa; 4] = [
    Isa {
        triple: "aarch64-unknown-linux-gnu",
        gcc: "aarch64-linux-gnu-gcc",
        runner: "qemu-aarch64",
        cflags: &[],
        machine: "aarch64",
        packages: "qemu-user gcc-aarch64-linux-gnu",
    },
    Isa {
        triple: "riscv64gc-unknown-linux-gnu",
        gcc: "riscv64-linux-gnu-gcc",
        runner: "qemu-riscv64",
        cflags: &[],
        machine: "riscv64",
        packages: "qemu-user gcc-riscv64-linux-gnu",
    },
    // z14 for the vector facility, whose registers carry v128 in the C ABI.
    Isa {
        triple: "s390x-unknown-linux-gnu",
        gcc: "s390x-linux-gnu-gcc",
        runner: "qemu-s390x",
        cflags: &["-march=z14"],
        machine: "s390x",
        packages: "qemu-user gcc-s390x-linux-gnu",
    },
    // The Windows x64 convention, COFF objects; C99 printf from MinGW.
    Isa {
        triple: "x86_64-pc-windows-gnu",
        gcc: "x86_64-w64-mingw32-gcc",
        runner: "wine",
        cflags: &["-D__USE_MINGW_ANSI_STDIO=1"],
        machine: "x86_64",
        packages: "wine gcc-mingw-w64-x86-64",
    },
];

fn available(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn cases(isa: &Isa, compiler: &Compiler) -> (Vec<Case>, usize) {
    use ValType::*;
    let mut sigs = springboard_tests::example_signatures();
    sigs.push(
        Signature::new(
            &[I32, F64, I64, F32, V128, ValType::EXTERNREF].repeat(4),
            &[F64, I32, V128, I64],
        )
        .unwrap(),
    );
    sigs.push(Signature::new(&[F32; 20], &[F32, F64, I64, I32, ValType::FUNCREF]).unwrap());
    sigs.push(Signature::new(&[I64; 30], &[I32; 12]).unwrap());
    let before = sigs.len();
    // What a target cannot carry is refused (checked separately below).
    sigs.retain(|s| {
        compiler
            .compile(springboard_compiler::TrampolineKind::Entry, s)
            .is_ok()
    });
    let skipped = before - sigs.len();
    let expected_refusals = match isa.machine {
        "riscv64" => 5, // every v128 signature, and 20 f32 parameters
        "s390x" => 2,   // two or more v128 parameters
        _ => 0,
    };
    assert_eq!(
        skipped, expected_refusals,
        "{}: signatures refused",
        isa.triple
    );
    let mut values = ValueGen::new(0xb16e);
    let cases = sigs
        .into_iter()
        .enumerate()
        .map(|(i, signature)| springboard_tests::abi_fuzz::case(i, signature, &mut values))
        .collect();
    (cases, skipped)
}

#[test]
fn every_kind_runs_bit_exact_on_every_foreign_isa() {
    let mut ran = 0;
    for isa in &ISAS {
        let missing: Vec<&str> = [isa.gcc, isa.runner]
            .into_iter()
            .filter(|t| !available(t))
            .collect();
        if !missing.is_empty() {
            springboard_testing::skip_missing_tool(
                &missing.join(", "),
                format_args!("{} (apt-get install {})", isa.triple, isa.packages),
            );
            continue;
        }
        let compiler = Compiler::builder().target(isa.triple).build().unwrap();
        let (cases, skipped) = cases(isa, &compiler);
        let dir =
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cross-{}", isa.triple));
        let mut cc = vec![isa.gcc, "-static"];
        cc.extend(isa.cflags);
        let compared = c_harness::build_and_run(&dir, &compiler, &cases, &cc, Some(isa.runner))
            .unwrap_or_else(|e| panic!("{}: {e}", isa.triple));
        let slots: usize = cases
            .iter()
            .map(|c| 1 + c.signature.params().len() + c.signature.results().len())
            .sum();
        assert_eq!(compared, slots * c_harness::ROUTES.len(), "{}", isa.triple);
        println!(
            "{}: {} signatures x {} routes, {compared} slots bit-exact ({skipped} refused by the target)",
            isa.triple,
            cases.len(),
            c_harness::ROUTES.len()
        );
        ran += 1;
    }
    assert!(ran > 0 || cfg!(windows) || !springboard_testing::in_ci());
}

#[test]
fn riscv64_refuses_v128_with_a_clear_error() {
    let compiler = Compiler::builder()
        .target("riscv64gc-unknown-linux-gnu")
        .build()
        .unwrap();
    let sig = Signature::new(&[ValType::V128], &[]).unwrap();
    for kind in springboard_compiler::TrampolineKind::ALL {
        match compiler.compile(kind, &sig) {
            Err(Error::Refused { reason, .. }) => assert_eq!(reason, Refusal::V128OnRiscv64),
            other => panic!("{kind}: {other:?}"),
        }
    }
}

#[test]
fn riscv64_refuses_more_than_eight_float_parameters() {
    let compiler = Compiler::builder()
        .target("riscv64gc-unknown-linux-gnu")
        .build()
        .unwrap();
    let ok = Signature::new(&[ValType::F64; 8], &[ValType::F32]).unwrap();
    assert!(
        compiler
            .compile(springboard_compiler::TrampolineKind::Entry, &ok)
            .is_ok()
    );
    let nine = Signature::new(&[ValType::F32; 9], &[]).unwrap();
    match compiler.compile(springboard_compiler::TrampolineKind::Entry, &nine) {
        Err(Error::Refused { reason, .. }) => {
            assert_eq!(reason, Refusal::FloatParamsBeyondEight { count: 9 })
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_loader_refuses_objects_of_another_isa_naming_both_machines() {
    let sig = Signature::new(&[ValType::I32], &[ValType::I64]).unwrap();
    let host = if cfg!(target_arch = "x86_64") {
        "x86_64"
    } else {
        std::env::consts::ARCH
    };
    for isa in &ISAS {
        if isa.machine == host {
            continue;
        }
        let compiler = Compiler::builder().target(isa.triple).build().unwrap();
        let mut object = springboard_compiler::ObjectBuilder::new(&compiler).unwrap();
        object
            .add(
                &compiler
                    .compile(springboard_compiler::TrampolineKind::Entry, &sig)
                    .unwrap(),
            )
            .unwrap();
        let bytes = object.finish().unwrap();
        match ObjectFile::parse(&bytes) {
            Err(e @ ObjectError::WrongMachine { .. }) => {
                assert_eq!(
                    e.to_string(),
                    format!("object is for {}, but this host is {host}", isa.machine)
                );
            }
            Err(e @ ObjectError::WrongLayout { .. }) if isa.machine == "s390x" => {
                panic!("s390x should be refused for its machine first: {e}")
            }
            other => panic!("{}: {:?}", isa.triple, other.err()),
        }
    }
}

/// Windows objects are COFF; a loader on another OS parses them and refuses
/// them for their platform (not as malformed), naming each difference.
#[test]
fn windows_objects_are_coff_and_refused_elsewhere_for_their_platform() {
    let compiler = Compiler::builder()
        .target("x86_64-pc-windows-gnu")
        .build()
        .unwrap();
    let sig = Signature::new(
        &[ValType::I32, ValType::V128],
        &[ValType::F64, ValType::I64],
    )
    .unwrap();
    let mut object = springboard_compiler::ObjectBuilder::new(&compiler).unwrap();
    for kind in springboard_compiler::TrampolineKind::ALL {
        object.add(&compiler.compile(kind, &sig).unwrap()).unwrap();
    }
    let bytes = object.finish().unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    assert_eq!(file.format(), object::BinaryFormat::Coff);
    let (windows, x86_64) = (cfg!(windows), cfg!(target_arch = "x86_64"));
    match ObjectFile::parse(&bytes) {
        Ok(_) => assert!(windows && x86_64, "loaded off Windows"),
        Err(ObjectError::WrongMachine { .. }) => assert!(!x86_64),
        Err(ObjectError::WrongTarget { differences, .. }) => {
            assert!(!windows);
            assert!(
                differences
                    .iter()
                    .any(|d| d.starts_with("operating system: `windows`")),
                "{differences:?}"
            );
        }
        Err(e) => panic!("{e}"),
    }
}
