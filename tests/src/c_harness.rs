//! Generates a C program that drives the trampolines of an ahead-of-time
//! object: C plays the host (calling `array_to_wasm` into the object's wasm
//! probe) and the callee (a native C function behind `entry`), and prints
//! every slot so the test can compare bits.
//!
//! Output lines: `<case> <which> <slot> <32 hex digits>` where `which` is
//! `values` (the array buffer after the call) or `record` (what the callee
//! received: slot 0 is its callee vmctx, then the arguments). Slots are
//! printed as the little-endian `u128` they hold.

use springboard_compiler::{Signature, ValType};
use springboard_vm_abi::ValRaw;
use std::collections::HashMap;
use std::fmt::Write;

/// One signature with the values to send and return.
pub struct Case {
    /// The signature.
    pub signature: Signature,
    /// One value per parameter.
    pub args: Vec<ValRaw>,
    /// One value per result.
    pub results: Vec<ValRaw>,
}

fn c_type(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "int32_t",
        ValType::I64 => "int64_t",
        ValType::F32 => "float",
        ValType::F64 => "double",
        ValType::V128 => "v128",
        ValType::FuncRef | ValType::ExternRef => "void*",
    }
}

fn slots_literal(values: &[ValRaw]) -> String {
    let mut s = String::from("{");
    for v in values {
        let bytes = v.to_le_bytes();
        s.push('{');
        for b in bytes {
            write!(s, "{b},").unwrap();
        }
        s.push_str("},");
    }
    s.push_str("{{0}}}"); // never empty
    s
}

/// The C source for `cases`, calling the object's symbols for each.
pub fn source(cases: &[Case]) -> String {
    let mut c = String::from(
        r#"#include <stdint.h>
#include <stdio.h>
#include <string.h>
typedef unsigned char v128 __attribute__((vector_size(16)));
typedef struct { unsigned char b[16]; } __attribute__((aligned(16))) vr;
static int little(void) { uint16_t x = 1; unsigned char c; memcpy(&c, &x, 1); return c == 1; }
/* Copies a native value of `n` bytes into a slot, little-endian, zero-extended. */
static void put(vr *slot, const void *src, size_t n) {
    unsigned char tmp[16]; memcpy(tmp, src, n); memset(slot, 0, 16);
    for (size_t i = 0; i < n; i++) slot->b[i] = little() || n == 16 ? tmp[i] : tmp[n - 1 - i];
}
/* Reads a native value of `n` bytes from a little-endian slot. */
static void get(void *dst, const vr *slot, size_t n) {
    unsigned char tmp[16];
    for (size_t i = 0; i < n; i++) tmp[i] = little() || n == 16 ? slot->b[i] : slot->b[n - 1 - i];
    memcpy(dst, tmp, n);
}
static void dump(int case_no, const char *which, const vr *slots, size_t n) {
    for (size_t i = 0; i < n; i++) {
        printf("%d %s %zu ", case_no, which, i);
        for (int b = 15; b >= 0; b--) printf("%02x", slots[i].b[b]);
        printf("\n");
    }
}
"#,
    );
    let mut mangled_seen = HashMap::new();
    for (n, case) in cases.iter().enumerate() {
        let sig = &case.signature;
        let m = sig.mangled();
        let (params, results) = (sig.params(), sig.results());
        let (np, nr) = (params.len(), results.len());
        let len = sig.array_len().max(1);
        if mangled_seen.insert(m.clone(), ()).is_none() {
            writeln!(
                c,
                "extern void springboard_entry_{m}(void*, void*, const void*, vr*);"
            )
            .unwrap();
            writeln!(
                c,
                "extern void springboard_array_to_wasm_{m}(void*, void*, vr*, size_t);"
            )
            .unwrap();
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
        writeln!(c, "static vr record_{n}[{}];", 1 + np + nr).unwrap();
        // The results area of the native convention: results 1.. in order.
        if nr > 1 {
            writeln!(c, "typedef struct {{").unwrap();
            for (i, &t) in results.iter().enumerate().skip(1) {
                writeln!(c, "    {} r{i};", c_type(t)).unwrap();
            }
            writeln!(c, "}} area_{n};").unwrap();
        }
        // The C callee, native convention.
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
        for i in 0..np {
            writeln!(c, "    put(&record_{n}[{}], &a{i}, sizeof a{i});", 1 + i).unwrap();
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
        // The driver: entry into the C callee, then array_to_wasm into the probe.
        writeln!(
            c,
            r#"static void run_{n}(void) {{
    vr values[{len}];
    memset(values, 0, sizeof values); memcpy(values, args_{n}, {np} * sizeof(vr));
    springboard_entry_{m}((void*)0x5b, (void*)0, (const void*)callee_{n}, values);
    dump({n}, "entry-values", values, {nr});
    dump({n}, "entry-record", record_{n}, {rec});
    memset(record_{n}, 0, sizeof record_{n});
    memcpy(record_{n} + 1 + {np}, results_{n}, {nr} * sizeof(vr));
    memset(values, 0, sizeof values); memcpy(values, args_{n}, {np} * sizeof(vr));
    springboard_array_to_wasm_{m}((void*)0x5b, record_{n}, values, {len});
    dump({n}, "array-values", values, {nr});
    dump({n}, "array-record", record_{n}, {rec});
}}"#,
            rec = 1 + np,
        )
        .unwrap();
    }
    c.push_str("int main(void) {\n");
    for n in 0..cases.len() {
        writeln!(c, "    run_{n}();").unwrap();
    }
    c.push_str("    return 0;\n}\n");
    c
}

/// Checks the program's output against `cases`; returns the number of slots
/// compared, or the first difference.
pub fn verify(cases: &[Case], stdout: &str) -> Result<usize, String> {
    let mut seen: HashMap<(usize, String, usize), u128> = HashMap::new();
    for line in stdout.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let [case, which, slot, hex] = parts[..] else {
            return Err(format!("unexpected line: {line}"));
        };
        let bits = u128::from_str_radix(hex, 16).map_err(|e| format!("{line}: {e}"))?;
        let key = (
            case.parse().map_err(|_| line.to_owned())?,
            which.to_owned(),
            slot.parse().map_err(|_| line.to_owned())?,
        );
        seen.insert(key, bits);
    }
    let mut compared = 0;
    for (n, case) in cases.iter().enumerate() {
        let sig = &case.signature;
        let vmctx = ValRaw::u64(0x5b);
        for prefix in ["entry", "array"] {
            let mut expect = |which: &str, slot: usize, ty: ValType, want: ValRaw| {
                let got = seen
                    .get(&(n, format!("{prefix}-{which}"), slot))
                    .ok_or_else(|| format!("case {n} {prefix}-{which} {slot} missing"))?;
                if !springboard_compiler::check::same_bits(ty, ValRaw::v128(*got), want) {
                    return Err(format!(
                        "case {n} ({sig}) {prefix}-{which} slot {slot} ({ty}): expected {want:?}, got {got:#034x}"
                    ));
                }
                compared += 1;
                Ok(())
            };
            expect("record", 0, ValType::ExternRef, vmctx)?;
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
