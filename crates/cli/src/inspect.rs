//! `springboard inspect`.

use crate::{compiler, outln, print_table, read_module, short};
use anyhow::Result;
use serde::Serialize;
use springboard_compiler::{Error, OptLevel, Signature, TrampolineKind, WasmConv};
use std::collections::HashMap;
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
    /// What its trampolines are made for (references as their
    /// representation, GC references 32 bits wide).
    trampoline_type: String,
    /// No function has the type: a block type, needing no trampolines.
    block_type_only: bool,
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
    // Types of one trampoline type share their code: each size is measured
    // once. `Err` holds the target's refusal.
    let mut sizes: HashMap<(Signature, TrampolineKind), Result<usize, String>> = HashMap::new();
    for ty in &module.info.types {
        let sig = ty.signature.as_ref().map_err(Clone::clone)?;
        let tramp = sig.trampoline_type(compiler.gc_refs());
        let kinds: Vec<TrampolineKind> = ty.needed_kinds();
        let (mut code_bytes, mut unsupported) = (0, None);
        for &kind in &kinds {
            let key = (tramp.clone(), kind);
            if !sizes.contains_key(&key) {
                let size = match compiler.compile(kind, &tramp) {
                    Ok(code) => Ok(code.code.len()),
                    Err(Error::Refused { reason, .. }) => Err(reason.to_string()),
                    Err(e) => return Err(e.into()),
                };
                sizes.insert(key.clone(), size);
            }
            match &sizes[&key] {
                Ok(n) => code_bytes += n,
                Err(why) => unsupported = Some(why.clone()),
            }
        }
        if unsupported.is_some() {
            code_bytes = 0;
        }
        signatures.push(SignatureReport {
            signature: sig.to_string(),
            trampoline_type: tramp.to_string(),
            block_type_only: ty.block_type_only(),
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
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(true);
    }
    outln!(
        "{}: {} functions, {} distinct signatures",
        report.file,
        report.functions,
        report.signatures.len()
    )?;
    let rows: Vec<Vec<String>> = report
        .signatures
        .iter()
        .map(|s| {
            vec![
                short(&s.signature, 60),
                s.functions.to_string(),
                s.imported.to_string(),
                s.reachable.to_string(),
                if s.block_type_only {
                    "none: block type only".into()
                } else if s.kinds.is_empty() {
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
    )?;
    outln!(
        "needs {} trampolines, {} bytes of code for {}",
        report.trampolines,
        report.code_bytes,
        report.target
    )?;
    for s in report.signatures.iter().filter(|s| s.unsupported.is_some()) {
        let why = s.unsupported.as_deref().unwrap_or_default();
        outln!("refused by this target (docs/ABI.md): {why}")?;
    }
    Ok(true)
}
