//! `springboard compile`.

use crate::{compiler, outln, read_module};
use anyhow::Result;
use serde::Serialize;
use springboard_compiler::{Error, ObjectBuilder, OptLevel, WasmConv};
use std::path::Path;
use std::time::Instant;

#[derive(Serialize)]
struct Report {
    file: String,
    output: String,
    target: String,
    /// The wasm convention the object's code uses (recorded in it).
    wasm_conv: &'static str,
    /// The object's SHA-256 digest (its index's seal), for a runtime to pin
    /// (`Engine::load_object_with_digest`).
    digest: String,
    signatures: usize,
    trampolines: usize,
    code_bytes: usize,
    object_bytes: usize,
    compile_micros: u128,
    /// Signatures the target cannot carry, with the reason (not in the object).
    refused: Vec<String>,
}

/// How to compile.
pub(crate) struct Options<'a> {
    pub(crate) target: Option<&'a str>,
    pub(crate) opt: OptLevel,
    pub(crate) wasm_conv: WasmConv,
}

pub(crate) fn run(path: &Path, output: &Path, options: &Options<'_>, json: bool) -> Result<bool> {
    let module = read_module(path)?;
    let compiler = compiler(options.target, options.opt, options.wasm_conv)?;
    let mut object = ObjectBuilder::new(&compiler)?;
    let (mut trampolines, mut code_bytes, mut refused) = (0, 0, Vec::new());
    let started = Instant::now();
    // One object serves one GC width: the compiler's (32 bits, Wasmtime's).
    let wanted: Vec<_> = module.trampolines_for(compiler.gc_refs()).collect();
    for t in &wanted {
        let mut codes = Vec::new();
        for &kind in &t.needed {
            match compiler.compile(kind, &t.signature) {
                Ok(code) => codes.push(code),
                // What this target's C convention cannot carry is left out;
                // a runtime falls back (e.g. to the array convention) for it.
                Err(e @ Error::Refused { .. }) => {
                    refused.push(e.to_string());
                    codes.clear();
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        for code in codes {
            trampolines += 1;
            code_bytes += code.code.len();
            object.add(&code)?;
        }
    }
    let compile_micros = started.elapsed().as_micros();
    let (bytes, digest) = object.finish_with_digest()?;
    crate::output::write_output(output, &bytes)?;
    let report = Report {
        file: path.display().to_string(),
        output: output.display().to_string(),
        target: compiler.triple(),
        wasm_conv: compiler.wasm_conv().name(),
        digest: springboard_environ::sha256::to_hex(&digest),
        signatures: wanted.len(),
        trampolines,
        code_bytes,
        object_bytes: bytes.len(),
        compile_micros,
        refused,
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        for r in &report.refused {
            eprintln!("springboard: warning: {}: left out {r}", report.file);
        }
        outln!(
            "wrote {} for {}: {} signatures, {} trampolines, {} code bytes ({} object bytes), compiled in {:.2} ms",
            report.output,
            report.target,
            report.signatures,
            report.trampolines,
            report.code_bytes,
            report.object_bytes,
            report.compile_micros as f64 / 1000.0
        )?;
        outln!("digest (sha256) {}", report.digest)?;
    }
    Ok(true)
}
