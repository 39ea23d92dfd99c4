//! `springboard check`: every kind of every signature through real generated
//! code, bit-exact, and every signature refused when called as another.

use crate::{compiler, print_table, read_module, short};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use springboard::vm::ValRaw;
use springboard::{Config, Engine, Error, Func, Signature, Val, ValType, WasmConv};
use springboard_check::values::{ValueGen, edge_values};
use springboard_check::{CodeSet, MappedSet};
use springboard_compiler::{Error as CompileError, OptLevel, TrampolineKind};
use springboard_environ::MAX_PARAMS;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[derive(Serialize)]
struct Report {
    file: String,
    seed: u64,
    target: String,
    signatures: Vec<SignatureReport>,
    trampolines: usize,
    /// How many of the checked trampolines the module itself needs.
    needed_trampolines: usize,
    calls: usize,
    values: usize,
    refusals: usize,
    /// Cross-type refusals there are to check: every signature called as
    /// every other. Up to [`EXHAUSTIVE_REFUSALS`] all are checked; beyond,
    /// a seeded sample of about that many.
    cross_type_pairs: u64,
    /// Whether `refusals` is such a sample.
    refusals_sampled: bool,
    /// Signatures this target's compiler refuses (left unchecked).
    unsupported: usize,
    failures: usize,
    millis: u128,
}

/// Up to this many cross-type pairs, every signature is refused as every
/// other; beyond, each as a seeded sample of about `EXHAUSTIVE_REFUSALS / n`
/// others (at least one), keeping `check` linear in the number of types.
const EXHAUSTIVE_REFUSALS: u64 = 250_000;

#[derive(Serialize)]
struct SignatureReport {
    signature: String,
    /// The kinds the module needs for this type (see `inspect`).
    needed: Vec<&'static str>,
    calls: usize,
    values: usize,
    refusals: usize,
    /// Why this target's compiler refuses the signature (docs/ABI.md, "Per
    /// ISA"): not checked, and not a failure.
    unsupported: Option<String>,
    failure: Option<String>,
}

pub(crate) fn run(
    path: &Path,
    seed: u64,
    rounds: u32,
    wasm_conv: WasmConv,
    json: bool,
) -> Result<bool> {
    let module = read_module(path)?;
    let compiler = compiler(None, OptLevel::default(), wasm_conv)?;
    let mut config = Config::new();
    config.wasm_conv(wasm_conv);
    let engine = Engine::new(&config)?;
    let started = Instant::now();
    let bar = if json {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(module.signatures.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} signatures {msg}")
                .expect("a valid template"),
        );
        bar
    };
    let n = module.signatures.len() as u64;
    let cross_type_pairs = n * n.saturating_sub(1);
    let refusals_sampled = cross_type_pairs > EXHAUSTIVE_REFUSALS;
    let sample = (EXHAUSTIVE_REFUSALS / n.max(1)).max(1) as usize;
    let check_one = |i: usize, set: Result<&MappedSet<'_>, String>| {
        let (sig, ty) = (&module.signatures[i], &module.info.types[i]);
        let mut report = SignatureReport {
            signature: sig.to_string(),
            needed: ty
                .needed_kinds()
                .into_iter()
                .map(TrampolineKind::name)
                .collect(),
            calls: 0,
            values: 0,
            refusals: 0,
            unsupported: None,
            failure: None,
        };
        let mut values = ValueGen::new(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let others: Vec<&Signature> = if refusals_sampled {
            (0..sample)
                .map(|_| {
                    // Any index but `i`, uniformly.
                    let pick = values.next_u64() % (n - 1);
                    &module.signatures[(i + 1 + pick as usize) % n as usize]
                })
                .collect()
        } else {
            module.signatures.iter().filter(|s| *s != sig).collect()
        };
        let outcome = set
            .and_then(|set| round_trips(set, sig, &mut values, rounds, &mut report))
            .and_then(|()| refusals(&engine, sig, &others, &mut report));
        report.failure = outcome.err();
        bar.inc(1);
        report
    };
    // Compiled and mapped a chunk at a time: one mapping per chunk, not
    // several per signature, keeps a check of 100,000 types from spending
    // its time in the kernel.
    let check_chunk = |chunk: std::ops::Range<usize>| {
        let sets: Vec<Result<CodeSet, springboard_compiler::Error>> = chunk
            .clone()
            .map(|i| CodeSet::compile(&compiler, &module.signatures[i]))
            .collect();
        let compiled: Vec<&CodeSet> = sets.iter().filter_map(|s| s.as_ref().ok()).collect();
        let mapped = CodeSet::map_all(&compiled).map_err(|e| e.to_string());
        let mut mapped_sets = mapped.as_ref().ok().into_iter().flatten();
        chunk
            .zip(&sets)
            .map(|(i, set)| {
                // What this target's C convention cannot carry (docs/ABI.md).
                let refused_by_target = matches!(set, Err(CompileError::Refused { .. }));
                let set = match (set, &mapped) {
                    (Err(e), _) => Err(e.to_string()),
                    (Ok(_), Err(e)) => Err(e.clone()),
                    (Ok(_), Ok(_)) => Ok(mapped_sets.next().expect("one per compiled set")),
                };
                let mut report = check_one(i, set);
                if refused_by_target {
                    report.unsupported = report.failure.take();
                }
                report
            })
            .collect::<Vec<_>>()
    };
    let reports = in_parallel(module.signatures.len(), 64, check_chunk);
    bar.finish_and_clear();
    let failures = reports.iter().filter(|r| r.failure.is_some()).count();
    let unsupported = reports.iter().filter(|r| r.unsupported.is_some()).count();
    let report = Report {
        file: path.display().to_string(),
        seed,
        target: compiler.triple(),
        trampolines: (reports.len() - unsupported) * TrampolineKind::ALL.len(),
        needed_trampolines: reports.iter().map(|r| r.needed.len()).sum(),
        calls: reports.iter().map(|r| r.calls).sum(),
        values: reports.iter().map(|r| r.values).sum(),
        refusals: reports.iter().map(|r| r.refusals).sum(),
        cross_type_pairs,
        refusals_sampled,
        unsupported,
        failures,
        millis: started.elapsed().as_millis(),
        signatures: reports,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&report);
    }
    Ok(failures == 0)
}

fn print_summary(report: &Report) {
    println!(
        "{}: {} signatures, seed {}, {}",
        report.file,
        report.signatures.len(),
        report.seed,
        report.target
    );
    let rows: Vec<Vec<String>> = report
        .signatures
        .iter()
        .map(|s| {
            vec![
                short(&s.signature, 60),
                s.calls.to_string(),
                s.values.to_string(),
                s.refusals.to_string(),
                match (&s.failure, &s.unsupported) {
                    (Some(failure), _) => failure.clone(),
                    (None, Some(why)) => format!("not on this target: {why}"),
                    (None, None) => "ok".into(),
                },
            ]
        })
        .collect();
    print_table(
        &["signature", "calls", "values", "refused", "result"],
        &rows,
    );
    let verdict = if report.failures == 0 {
        "passed"
    } else {
        "FAILED"
    };
    let sampled = if report.refusals_sampled {
        format!(
            " (a seeded sample: {} cross-type pairs in all)",
            report.cross_type_pairs
        )
    } else {
        String::new()
    };
    let unsupported = if report.unsupported > 0 {
        format!(
            ", {} signatures this target refuses (unchecked; docs/ABI.md)",
            report.unsupported
        )
    } else {
        String::new()
    };
    println!(
        "check {verdict}: {} trampolines ({} kinds x {} signatures), {} calls, {} values bit-exact, {} mismatches refused{sampled}{unsupported}, {} failures, {} ms",
        report.trampolines,
        TrampolineKind::ALL.len(),
        report.signatures.len() - report.unsupported,
        report.calls,
        report.values,
        report.refusals,
        report.failures,
        report.millis
    );
}

/// Edge-value rounds (every edge value of every type reaches every
/// position), then `rounds` random rounds, through every kind.
fn round_trips(
    set: &MappedSet<'_>,
    sig: &Signature,
    values: &mut ValueGen,
    rounds: u32,
    report: &mut SignatureReport,
) -> Result<(), String> {
    let edge = |tys: &[ValType], round: usize| -> Vec<ValRaw> {
        tys.iter()
            .enumerate()
            .map(|(i, &t)| {
                let e = edge_values(t);
                e[(i + round) % e.len()]
            })
            .collect()
    };
    let edge_rounds = ValType::ALL
        .iter()
        .map(|&t| edge_values(t).len())
        .max()
        .unwrap_or(1);
    let mut run = |args: Vec<ValRaw>, results: Vec<ValRaw>| {
        set.run(&args, &results).map_err(|e| e.to_string())?;
        report.calls += TrampolineKind::ALL.len();
        report.values += TrampolineKind::ALL.len() * (1 + args.len() + results.len());
        Ok::<(), String>(())
    };
    for round in 0..edge_rounds {
        run(edge(sig.params(), round), edge(sig.results(), round + 3))?;
    }
    for _ in 0..rounds {
        run(values.values(sig.params()), values.values(sig.results()))?;
    }
    Ok(())
}

/// A type that differs from `sig`: one more (or one fewer) parameter.
fn mutated(sig: &Signature) -> Signature {
    let mut params = sig.params().to_vec();
    if params.len() < MAX_PARAMS {
        params.push(ValType::I32);
    } else {
        params.pop();
    }
    Signature::new(&params, sig.results()).expect("within limits")
}

/// `f` on chunks of `0..n` of at most `chunk` indices, on every core; the
/// results of all chunks in order.
fn in_parallel<T: Send>(
    n: usize,
    chunk: usize,
    f: impl Fn(std::ops::Range<usize>) -> Vec<T> + Sync,
) -> Vec<T> {
    let workers = std::thread::available_parallelism().map_or(1, |w| w.get());
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Vec<T>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.min(n.div_ceil(chunk)))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let start = next.fetch_add(chunk, Ordering::Relaxed);
                        if start >= n {
                            return mine;
                        }
                        mine.push((start, f(start..n.min(start + chunk))));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_unstable_by_key(|(start, _)| *start);
    done.into_iter().flat_map(|(_, t)| t).collect()
}

/// A host function of `sig` must be refused at `call_indirect` sites of
/// each of `others` and of one more type made from it (nothing runs), by
/// the Rust check and by the compiled stub, and accepted at its own.
fn refusals(
    engine: &Engine,
    sig: &Signature,
    others: &[&Signature],
    report: &mut SignatureReport,
) -> Result<(), String> {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let func = Func::new(engine, sig, move |_: &[Val], _: &mut [Val]| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok::<(), std::convert::Infallible>(())
    })
    .map_err(|e| e.to_string())?;
    let stub = engine.signature_check_stub().map_err(|e| e.to_string())?;
    let defaults = |tys: &[ValType]| tys.iter().map(|&t| Val::default_for(t)).collect::<Vec<_>>();
    let mutated = mutated(sig);
    for other in others.iter().copied().chain([&mutated]) {
        let expected = engine.register(other).map_err(|e| e.to_string())?;
        let mut results = defaults(other.results());
        // SAFETY: `func` is a live funcref of this engine.
        let outcome = unsafe {
            engine.call_indirect(
                func.as_funcref(),
                &expected,
                &defaults(other.params()),
                &mut results,
            )
        };
        if !matches!(outcome, Err(Error::SignatureMismatch { .. })) {
            return Err(format!("called as {other}: not refused ({outcome:?})"));
        }
        // SAFETY: the stub reads only the live funcref's `type_index`.
        if unsafe { stub(func.vm_func_ref().as_ptr(), expected.index().bits()) } != 2 {
            return Err(format!("compiled check accepted {other}"));
        }
        report.refusals += 1;
    }
    if calls.load(Ordering::SeqCst) != 0 {
        return Err("a refused call ran".into());
    }
    let own = engine.register(sig).map_err(|e| e.to_string())?;
    let mut results = defaults(sig.results());
    // SAFETY: as above.
    unsafe {
        engine.call_indirect(
            func.as_funcref(),
            &own,
            &defaults(sig.params()),
            &mut results,
        )
    }
    .map_err(|e| format!("refused its own type: {e}"))?;
    if calls.load(Ordering::SeqCst) != 1 {
        return Err("the accepted call did not run exactly once".into());
    }
    Ok(())
}
