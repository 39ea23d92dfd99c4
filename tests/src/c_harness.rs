//! Drives every trampoline kind of an ahead-of-time object from C, for the
//! host or (under qemu-user) for another ISA.
//!
//! [`object`] writes, per signature, all six kinds, the three probes, and two
//! extra copies of `array_to_wasm` ("drivers") whose callees are
//! `wasm_to_native` and `wasm_to_array` — C cannot call the wasm convention
//! itself. [`source`] generates a C program that reaches every kind:
//!
//! | route | C calls | which reaches |
//! |---|---|---|
//! | `entry-c` | `entry` | a C callee (C plays callee) |
//! | `entry` | `entry` | the native probe |
//! | `array_to_wasm` | it | the wasm probe |
//! | `native_to_wasm` | `entry` | `native_to_wasm` → wasm probe |
//! | `native_to_array` | `entry` | `native_to_array` → array probe (via a host context) |
//! | `wasm_to_native` | a driver | `wasm_to_native` → native probe (via the host context) |
//! | `wasm_to_array` | a driver | `wasm_to_array` → array probe (via the host context) |
//!
//! Output lines: `<case> <route>-<values|record> <slot> <32 hex digits>`:
//! the array buffer after the call, and what the callee received (slot 0 is
//! the callee vmctx, normalised by C to 0x5b when it is the expected one).
//! Slots print as the little-endian `u128` they hold, whatever the ISA.

use springboard_compiler::{
    CallConv, Compiler, Error, ObjectBuilder, Signature, TrampolineKind, ValType,
};
use springboard_vm_abi::ValRaw;
use std::collections::{HashMap, HashSet};
use std::fmt::Write;

/// One signature with the values to send and return.
pub struct Case {
    /// The signature (distinct across the cases of one program).
    pub signature: Signature,
    /// One value per parameter.
    pub args: Vec<ValRaw>,
    /// One value per result.
    pub results: Vec<ValRaw>,
}

/// The routes of the module doc, in order.
pub const ROUTES: [&str; 7] = [
    "entry-c",
    "entry",
    "array_to_wasm",
    "native_to_wasm",
    "native_to_array",
    "wasm_to_native",
    "wasm_to_array",
];

fn driver_name(kind: TrampolineKind, sig: &Signature) -> String {
    format!("sbtest_drive_{}_{}", kind.name(), sig.mangled())
}

/// The object every route needs, for the compiler's target.
pub fn object(compiler: &Compiler, cases: &[Case]) -> Result<Vec<u8>, Error> {
    let mut object = ObjectBuilder::new(compiler)?;
    let mut seen = HashSet::new();
    for case in cases {
        let sig = &case.signature;
        assert!(
            seen.insert(sig.clone()),
            "cases must have distinct signatures: {sig}"
        );
        for kind in TrampolineKind::ALL {
            object.add(&compiler.compile(kind, sig)?)?;
        }
        for conv in CallConv::ALL {
            object.add(&compiler.compile_probe(conv, sig)?)?;
        }
        let array_to_wasm = compiler.compile(TrampolineKind::ArrayToWasm, sig)?;
        for kind in [TrampolineKind::WasmToNative, TrampolineKind::WasmToArray] {
            let callee = springboard_environ::format::symbol_name(
                springboard_compiler::CodeKind::Trampoline(kind),
                sig,
            );
            object.add_stamp(&array_to_wasm, &driver_name(kind, sig), &callee)?;
        }
    }
    object.finish()
}

fn c_type(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "int32_t",
        ValType::I64 => "int64_t",
        ValType::F32 => "float",
        ValType::F64 => "double",
        ValType::V128 => "v128",
        ValType::Ref(_) => "void*",
    }
}

fn slots_literal(values: &[ValRaw]) -> String {
    let mut s = String::from("{");
    for v in values {
        s.push_str("{{");
        for b in v.to_le_bytes() {
            write!(s, "{b},").unwrap();
        }
        s.push_str("}},");
    }
    s.push_str("{{0}}}"); // never empty
    s
}

const PRELUDE: &str = r#"#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "springboard_vm_abi.h"
typedef unsigned char v128 __attribute__((vector_size(16)));
typedef sb_val_raw vr;
static int little(void) { uint16_t x = 1; unsigned char c; memcpy(&c, &x, 1); return c == 1; }
/* Copies a native value of `n` bytes into a slot, little-endian, zero-extended. */
static void put(vr *slot, const void *src, size_t n) {
    unsigned char tmp[16]; memcpy(tmp, src, n); memset(slot, 0, 16);
    for (size_t i = 0; i < n; i++) slot->bytes[i] = little() || n == 16 ? tmp[i] : tmp[n - 1 - i];
}
/* Reads a native value of `n` bytes from a little-endian slot. */
static void get(void *dst, const vr *slot, size_t n) {
    unsigned char tmp[16];
    for (size_t i = 0; i < n; i++) tmp[i] = little() || n == 16 ? slot->bytes[i] : slot->bytes[n - 1 - i];
    memcpy(dst, tmp, n);
}
static void dump(int case_no, const char *route, const char *which, const vr *slots, size_t n) {
    for (size_t i = 0; i < n; i++) {
        printf("%d %s-%s %zu ", case_no, route, which, i);
        for (int b = 15; b >= 0; b--) printf("%02x", slots[i].bytes[b]);
        printf("\n");
    }
}
/* Replaces the recorded callee vmctx by 0x5b if it is `expected`, 0xbad if not. */
static void normalise_vmctx(vr *record, void *expected) {
    void *got; get(&got, &record[0], sizeof got);
    void *marker = got == expected ? (void*)0x5b : (void*)0xbad;
    put(&record[0], &marker, sizeof marker);
}
"#;

/// The C source for `cases`.
pub fn source(cases: &[Case]) -> String {
    let mut c = String::from(PRELUDE);
    for (n, case) in cases.iter().enumerate() {
        write_case(&mut c, n, case);
    }
    c.push_str("int main(void) {\n");
    for n in 0..cases.len() {
        writeln!(c, "    run_{n}();").unwrap();
    }
    c.push_str("    return 0;\n}\n");
    c
}

fn write_case(c: &mut String, n: usize, case: &Case) {
    let sig = &case.signature;
    let m = sig.mangled();
    let (params, results) = (sig.params(), sig.results());
    let (np, nr) = (params.len(), results.len());
    let (len, rec) = (sig.array_len().max(1), 1 + np + nr);
    for name in [
        "entry",
        "array_to_wasm",
        "native_to_wasm",
        "native_to_array",
        "probe_native",
        "probe_array",
    ] {
        writeln!(c, "extern void springboard_{name}_{m}(void);").unwrap();
    }
    for kind in [TrampolineKind::WasmToNative, TrampolineKind::WasmToArray] {
        writeln!(c, "extern void {}(void);", driver_name(kind, sig)).unwrap();
    }
    writeln!(
        c,
        "static const vr args_{n}[] = {};",
        slots_literal(&case.args)
    )
    .unwrap();
    writeln!(
        c,
        "static const vr results_{n}[] = {};",
        slots_literal(&case.results)
    )
    .unwrap();
    writeln!(c, "static vr record_{n}[{rec}];").unwrap();
    // The native results area: results 1.. as a struct of their C types.
    if nr > 1 {
        c.push_str("typedef struct {\n");
        for (i, &t) in results.iter().enumerate().skip(1) {
            writeln!(c, "    {} r{i};", c_type(t)).unwrap();
        }
        writeln!(c, "}} area_{n};").unwrap();
    }
    // The C callee, native convention: records like a probe.
    let ret = results.first().map_or("void", |&t| c_type(t));
    write!(c, "static {ret} callee_{n}(void *vmctx, void *caller").unwrap();
    for (i, &t) in params.iter().enumerate() {
        write!(c, ", {} a{i}", c_type(t)).unwrap();
    }
    if nr > 1 {
        write!(c, ", area_{n} *out").unwrap();
    }
    writeln!(
        c,
        ") {{\n    (void)caller;\n    put(&record_{n}[0], &vmctx, sizeof vmctx);"
    )
    .unwrap();
    for (i, &t) in params.iter().enumerate() {
        writeln!(c, "    put(&record_{n}[{}], &a{i}, sizeof a{i});", 1 + i).unwrap();
        if t == ValType::I32 {
            // Where the C convention widens 32-bit integers to the whole
            // register (riscv64, s390x), gcc compiles the cast to a bare
            // move; the copy through memory widens for sure.
            writeln!(
                c,
                "    {{ volatile int32_t t = a{i}; if ((int64_t)a{i} != (int64_t)t) {{ \
                 fprintf(stderr, \"case {n}: i32 argument {i} arrived unwidened: %#llx\\n\", \
                 (unsigned long long)(int64_t)a{i}); exit(3); }} }}"
            )
            .unwrap();
        }
    }
    for i in 1..nr {
        writeln!(
            c,
            "    get(&out->r{i}, &results_{n}[{i}], sizeof out->r{i});"
        )
        .unwrap();
    }
    if nr > 0 {
        writeln!(
            c,
            "    {ret} r0; get(&r0, &results_{n}[0], sizeof r0); return r0;"
        )
        .unwrap();
    }
    writeln!(c, "}}").unwrap();
    // One route: reset record and values, call, normalise, dump.
    writeln!(
        c,
        r#"static void route_{n}(const char *route, int via_entry, const void *code, const void *body, void *vmctx) {{
    vr values[{len}];
    memset(record_{n}, 0, sizeof record_{n});
    memcpy(record_{n} + 1 + {np}, results_{n}, {nr} * sizeof(vr));
    memset(values, 0, sizeof values);
    memcpy(values, args_{n}, {np} * sizeof(vr));
    if (via_entry) ((sb_trampoline_fn)code)(vmctx, (sb_vmcontext*)(void*)record_{n}, body, values);
    else ((sb_array_call_fn)code)(vmctx, (void*)record_{n}, values, {len});
    normalise_vmctx(record_{n}, vmctx);
    dump({n}, route, "values", values, {nr});
    dump({n}, route, "record", record_{n}, {pr});
    fflush(stdout); /* keep what ran if a later route crashes */
}}
static void run_{n}(void) {{
    static sb_host_func_context host;
    host.magic = SB_NATIVE_CALL_HOST_FUNC_MAGIC;
    host.func_ref.native_call = (sb_native_call_function*)(void*)springboard_probe_native_{m};
    host.func_ref.array_call = (sb_array_call_fn)(void*)springboard_probe_array_{m};
    host.func_ref.vmctx = (sb_opaque_context*)(void*)&host;
    void *entry = (void*)springboard_entry_{m}, *plain = (void*)0x5b;
    route_{n}("entry-c", 1, entry, (void*)callee_{n}, plain);
    route_{n}("entry", 1, entry, (void*)springboard_probe_native_{m}, plain);
    route_{n}("array_to_wasm", 0, (void*)springboard_array_to_wasm_{m}, 0, plain);
    route_{n}("native_to_wasm", 1, entry, (void*)springboard_native_to_wasm_{m}, plain);
    route_{n}("native_to_array", 1, entry, (void*)springboard_native_to_array_{m}, &host);
    route_{n}("wasm_to_native", 0, (void*){w2n}, 0, &host);
    route_{n}("wasm_to_array", 0, (void*){w2a}, 0, &host);
}}"#,
        pr = 1 + np,
        w2n = driver_name(TrampolineKind::WasmToNative, sig),
        w2a = driver_name(TrampolineKind::WasmToArray, sig),
    )
    .unwrap();
}

/// Checks the program's output against `cases`: every route of every case,
/// every slot. Returns the number of slots compared, or the first difference.
pub fn verify(cases: &[Case], stdout: &str) -> Result<usize, String> {
    let mut seen: HashMap<(usize, String, usize), u128> = HashMap::new();
    for line in stdout.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let [case, which, slot, hex] = parts[..] else {
            return Err(format!("unexpected line: {line}"));
        };
        let bits = u128::from_str_radix(hex, 16).map_err(|e| format!("{line}: {e}"))?;
        let case = case.parse().map_err(|_| line.to_owned())?;
        let slot = slot.parse().map_err(|_| line.to_owned())?;
        seen.insert((case, which.to_owned(), slot), bits);
    }
    let mut compared = 0;
    for (n, case) in cases.iter().enumerate() {
        let sig = &case.signature;
        for route in ROUTES {
            let mut expect = |which: &str, slot: usize, ty: ValType, want: ValRaw| {
                let got = seen
                    .get(&(n, format!("{route}-{which}"), slot))
                    .ok_or_else(|| format!("case {n} {route}-{which} {slot} missing"))?;
                if !springboard_check::values::same_bits(ty, ValRaw::v128(*got), want) {
                    return Err(format!(
                        "case {n} ({sig}) {route}-{which} slot {slot} ({ty}): expected {want:?}, got {got:#034x}"
                    ));
                }
                compared += 1;
                Ok(())
            };
            expect("record", 0, ValType::EXTERNREF, ValRaw::u64(0x5b))?;
            for (i, (&ty, &want)) in sig.params().iter().zip(&case.args).enumerate() {
                expect("record", 1 + i, ty, want)?;
            }
            for (i, (&ty, &want)) in sig.results().iter().zip(&case.results).enumerate() {
                expect("values", i, ty, want)?;
            }
        }
    }
    Ok(compared)
}

/// Builds the object and the C program for `cases` in `dir`, links them with
/// `cc` (a command line: compiler and flags), runs the result (through
/// `runner`, e.g. `qemu-aarch64`, if given) and verifies its output. Returns
/// the number of slots compared.
pub fn build_and_run(
    dir: &std::path::Path,
    compiler: &Compiler,
    cases: &[Case],
    cc: &[&str],
    runner: Option<&str>,
) -> Result<usize, String> {
    use std::process::Command;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let object = object(compiler, cases).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("trampolines.o"), object).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("harness.c"), source(cases)).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("springboard_vm_abi.h"),
        springboard_vm_abi::C_HEADER,
    )
    .map_err(|e| e.to_string())?;
    // `.exe`: MinGW's gcc would add it, and Wine looks for it.
    let out = Command::new(cc[0])
        .args(&cc[1..])
        .args([
            "-O1",
            "-Wall",
            "-Werror",
            "-o",
            "harness.exe",
            "harness.c",
            "trampolines.o",
        ])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("{}: {e}", cc[0]))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            cc[0],
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let harness = dir.join("harness.exe");
    let run = match runner {
        Some(r) => Command::new(r).arg(&harness).output(),
        None => Command::new(&harness).output(),
    }
    .map_err(|e| e.to_string())?;
    if !run.status.success() {
        return Err(format!(
            "harness failed ({}): {}",
            run.status,
            String::from_utf8_lossy(&run.stderr)
        ));
    }
    verify(cases, &String::from_utf8_lossy(&run.stdout))
}

/// The C compiler (command and flags) that builds programs for the target
/// these tests run on, and the program that runs them there: `cc` and
/// nothing natively; under emulation, what `.ci/cross-test` exports in
/// `SPRINGBOARD_TEST_CC` (e.g. `aarch64-linux-gnu-gcc -static`) and
/// `SPRINGBOARD_TEST_RUNNER` (e.g. `qemu-aarch64`). `None` when that
/// compiler cannot be started from here (e.g. inside Wine).
pub fn target_c() -> Option<(Vec<String>, Option<String>)> {
    let cc: Vec<String> = std::env::var("SPRINGBOARD_TEST_CC")
        .unwrap_or_else(|_| "cc".to_owned())
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let runner = std::env::var("SPRINGBOARD_TEST_RUNNER")
        .ok()
        .filter(|r| !r.is_empty());
    let works = std::process::Command::new(cc.first()?)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    works.then_some((cc, runner))
}
