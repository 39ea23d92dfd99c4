//! `include/springboard_vm_abi.h` against the Rust definitions: a C file
//! generated from this crate's constants asserts, at compile time, that every
//! magic, offset, size and alignment the header gives (and C's own layout of
//! its structs) equals Rust's, for the target's pointer width. It is
//! compiled with `-std=c11 -Wall -Wextra -Werror -pedantic` by the gcc of
//! every ISA the project targets that is installed (and as C++11), so each
//! compiler checks its own ABI's layout.

use springboard_vm_abi::{self as abi, PtrSize};
use std::fmt::Write;
use std::path::Path;
use std::process::Command;

/// `(compiler and flags, what it targets)`; the 32-bit x86 check needs no
/// 32-bit C library, hence freestanding.
const COMPILERS: [(&[&str], &str); 7] = [
    (&["cc", "-x", "c", "-std=c11"], "host C11"),
    (&["c++", "-x", "c++", "-std=c++11"], "host C++11"),
    (
        &["gcc", "-x", "c", "-std=c11", "-m32", "-ffreestanding"],
        "i686",
    ),
    (&["aarch64-linux-gnu-gcc", "-x", "c", "-std=c11"], "aarch64"),
    (&["riscv64-linux-gnu-gcc", "-x", "c", "-std=c11"], "riscv64"),
    (&["s390x-linux-gnu-gcc", "-x", "c", "-std=c11"], "s390x"),
    (
        &["x86_64-w64-mingw32-gcc", "-x", "c", "-std=c11"],
        "x86_64 Windows",
    ),
];

fn header_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/include"))
}

/// Static assertions of the header's answers for pointer width `p`.
fn assertions(p: PtrSize) -> String {
    let mut c = String::new();
    let mut eq = |lhs: &str, rhs: u64| {
        writeln!(c, "SB_STATIC_ASSERT({lhs} == {rhs}u, \"{lhs}\");").unwrap();
    };
    eq("SB_POINTER_SIZE", p.bytes().into());
    eq(
        "SB_FUNC_REF_NATIVE_CALL",
        p.vm_func_ref_native_call().into(),
    );
    eq("SB_FUNC_REF_ARRAY_CALL", p.vm_func_ref_array_call().into());
    eq("SB_FUNC_REF_WASM_CALL", p.vm_func_ref_wasm_call().into());
    eq("SB_FUNC_REF_TYPE_INDEX", p.vm_func_ref_type_index().into());
    eq("SB_FUNC_REF_VMCTX", p.vm_func_ref_vmctx().into());
    eq("SB_SIZE_OF_FUNC_REF", p.size_of_vm_func_ref().into());
    eq(
        "SB_SIZE_OF_SHARED_SIGNATURE_INDEX",
        p.size_of_vmshared_signature_index().into(),
    );
    eq("SB_SIZE_OF_VAL_RAW", p.size_of_val_raw().into());
    eq("SB_ALIGN_OF_VAL_RAW", p.align_of_val_raw().into());
    eq(
        "SB_HOST_FUNC_CONTEXT_MAGIC",
        p.vm_host_func_context_magic().into(),
    );
    eq(
        "SB_HOST_FUNC_CONTEXT_FUNC_REF",
        p.vm_host_func_context_func_ref().into(),
    );
    eq(
        "SB_HOST_FUNC_CONTEXT_HOST_STATE",
        p.vm_host_func_context_host_state().into(),
    );
    eq(
        "SB_HOST_CALLER_CATCH_OFFSET",
        p.vm_host_caller_catch().into(),
    );
    eq(
        "SB_HOST_CALLER_ENTRY_FP",
        p.vm_host_caller_entry_fp().into(),
    );
    eq(
        "SB_HOST_CALLER_ENTRY_SP",
        p.vm_host_caller_entry_sp().into(),
    );
    eq(
        "SB_HOST_CALLER_ENTRY_PC",
        p.vm_host_caller_entry_pc().into(),
    );
    eq("SB_HOST_CALLER_CATCH", abi::VMHostCaller::CATCH.into());
    // C's layout of the structs, beyond what the header asserts of itself.
    eq("offsetof(sb_func_ref, vmctx)", p.vm_func_ref_vmctx().into());
    eq(
        "offsetof(sb_host_func_context, func_ref)",
        p.vm_host_func_context_func_ref().into(),
    );
    eq("sizeof(sb_val_raw)", p.size_of_val_raw().into());
    eq("SB_ALIGNOF(sb_val_raw)", p.align_of_val_raw().into());
    c
}

fn checker() -> String {
    let mut c = String::from("#include \"springboard_vm_abi.h\"\n");
    for (name, value) in [
        ("SB_VMCONTEXT_MAGIC", abi::VMCONTEXT_MAGIC),
        ("SB_HOST_CALLER_MAGIC", abi::SPRINGBOARD_HOST_CALLER_MAGIC),
        (
            "SB_ARRAY_CALL_HOST_FUNC_MAGIC",
            abi::VM_ARRAY_CALL_HOST_FUNC_MAGIC,
        ),
        (
            "SB_NATIVE_CALL_HOST_FUNC_MAGIC",
            abi::VM_NATIVE_CALL_HOST_FUNC_MAGIC,
        ),
        (
            "SB_SHARED_SIGNATURE_INDEX_RESERVED",
            abi::VMSharedSignatureIndex::RESERVED.bits(),
        ),
    ] {
        writeln!(c, "SB_STATIC_ASSERT({name} == {value:#x}u, \"{name}\");").unwrap();
    }
    writeln!(c, "#if UINTPTR_MAX == 0xffffffffu").unwrap();
    c.push_str(&assertions(PtrSize::P32));
    writeln!(c, "#else").unwrap();
    c.push_str(&assertions(PtrSize::P64));
    writeln!(c, "#endif").unwrap();
    c
}

fn available(cc: &str) -> bool {
    Command::new(cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_c_header_agrees_with_rust_on_every_isa() {
    let source = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_header_check.c");
    std::fs::write(&source, checker()).unwrap();
    let mut checked = Vec::new();
    for (command, what) in COMPILERS {
        if !available(command[0]) {
            springboard_testing::skip_missing_tool(command[0], what);
            continue;
        }
        let out = Command::new(command[0])
            .args(&command[1..])
            .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"])
            .arg("-I")
            .arg(header_dir())
            .arg(&source)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{what} ({}): {}",
            command.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        checked.push(what);
    }
    println!("header agrees with Rust for: {}", checked.join(", "));
    assert!(!checked.is_empty() || cfg!(windows), "no C compiler at all");
}

/// The checker can fail: a wrong constant is caught by the compiler.
#[test]
fn a_wrong_constant_fails_the_check() {
    if !available("cc") {
        springboard_testing::skip_missing_tool("cc", "the mutated header");
        return;
    }
    let source = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_header_wrong.c");
    let wrong = checker().replace(
        &format!("{:#x}u", abi::VMCONTEXT_MAGIC),
        &format!("{:#x}u", abi::VMCONTEXT_MAGIC.swap_bytes()),
    );
    std::fs::write(&source, wrong).unwrap();
    let out = Command::new("cc")
        .args(["-x", "c", "-std=c11", "-fsyntax-only", "-I"])
        .arg(header_dir())
        .arg(&source)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SB_VMCONTEXT_MAGIC"));
}
