//! `springboard inspect`.

use crate::{compiler, print_table, read_module, short};
use anyhow::Result;
use serde::Serialize;
use springboard_compiler::{Error, OptLevel, TrampolineKind, WasmConv};
use std::path::Path;

#[derive(Serialize)]
struct Report {
    file: String,
    functions: usize,
    target: String,
    signatures: Vec<SignatureReport>,
    trampolines: usize,
    code_bytes: usize,
}

#[derive(Serialize)]
struct SignatureReport {
    signature: String,
    functions: usize,
    imported: usize,
    reachable: usize,
    kinds: Vec<&'static str>,
    code_bytes: usize,
    /// Why this target's compiler refuses the signature (docs/ABI.md).
    unsupported: Option<String>,
}

pub(crate) fn run(path: &Path, json: bool) -> Result<bool> {
    let module = read_module(path)?;
    // Code size is measured, not guessed: trampolines compile in microseconds.
    let compiler = compiler(None, OptLevel::default(), WasmConv::default())?;
    let mut signatures = Vec::new();
    for (ty, sig) in module.info.types.iter().zip(&module.signatures) {
        let kinds: Vec<TrampolineKind> = ty.needed_kinds();
        let compiled = kinds
            .iter()
            .map(|&k| Ok(compiler.compile(k, sig)?.code.len()))
            .sum::<Result<usize, Error>>();
        let (code_bytes, unsupported) = match compiled {
            Ok(bytes) => (bytes, None),
            Err(Error::Refused { reason, .. }) => (0, Some(reason.to_string())),
            Err(e) => return Err(e.into()),
        };
        signatures.push(SignatureReport {
            signature: sig.to_string(),
            functions: ty.functions,
            imported: ty.imported,
            reachable: ty.reachable,
            kinds: kinds.iter().map(|k| k.name()).collect(),
            code_bytes,
            unsupported,
        });
    }
    let report = Report {
        file: path.display().to_string(),
        functions: module.info.functions,
        target: compiler.triple(),
        trampolines: signatures.iter().map(|s| s.kinds.len()).sum(),
        code_bytes: signatures.iter().map(|s| s.code_bytes).sum(),
        signatures,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(true);
    }
    println!(
        "{}: {} functions, {} distinct signatures",
        report.file,
        report.functions,
        report.signatures.len()
    );
    let rows: Vec<Vec<String>> = report
        .signatures
        .iter()
        .map(|s| {
            vec![
                short(&s.signature, 60),
                s.functions.to_string(),
                s.imported.to_string(),
                s.reachable.to_string(),
                if s.kinds.is_empty() {
                    "-".into()
                } else {
                    s.kinds.join(",")
                },
                if s.unsupported.is_some() {
                    "refused".into()
                } else {
                    s.code_bytes.to_string()
                },
            ]
        })
        .collect();
    print_table(
        &[
            "signature",
            "funcs",
            "imported",
            "reachable",
            "trampolines needed",
            "bytes",
        ],
        &rows,
    );
    println!(
        "needs {} trampolines, {} bytes of code for {}",
        report.trampolines, report.code_bytes, report.target
    );
    for s in report.signatures.iter().filter(|s| s.unsupported.is_some()) {
        let why = s.unsupported.as_deref().unwrap_or_default();
        println!("refused by this target (docs/ABI.md): {why}");
    }
    Ok(true)
}
