//! `springboard check`: every kind of every signature through real generated
//! code, bit-exact, and every signature refused when called as another.

use crate::{Module, StdoutError, compiler, outln, print_table, read_module, short};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use springboard::vm::ValRaw;
use springboard::{Config, Engine, Error, Func, Signature, Val, ValType, WasmConv};
use springboard_check::values::{ValueGen, edge_values};
use springboard_check::{CheckFailure, CodeSet, MappedSet};
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
    /// The module's own function types, each called as each (or a seeded
    /// sample): by the Rust check and the compiled one, against the
    /// module's type space and wasmparser's validator.
    subtyping: SubtypeReport,
    failures: usize,
    millis: u128,
}

#[derive(Serialize, Default)]
struct SubtypeReport {
    pairs: usize,
    /// Strict subtypes accepted.
    accepted: usize,
    refused: usize,
    failures: Vec<String>,
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

/// Why a signature's check failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Compile(CompileError),
    /// Mapping the chunk the signature was compiled with failed.
    #[error(transparent)]
    Map(Arc<CheckFailure>),
    #[error(transparent)]
    RoundTrip(CheckFailure),
    #[error(transparent)]
    Facade(#[from] Error),
    #[error("called as {other}: not refused ({outcome})")]
    NotRefused { other: Signature, outcome: String },
    #[error("compiled check accepted {0}")]
    StubAccepted(Signature),
    #[error("a refused call ran")]
    RefusedCallRan,
    #[error("refused its own type: {0}")]
    OwnTypeRefused(Error),
    #[error("the accepted call did not run exactly once")]
    NotRunOnce,
}

/// What a signature's check starts from.
enum Prepared<'a> {
    /// Its code, compiled and mapped.
    Mapped(&'a MappedSet<'a>),
    /// This target refuses the signature (docs/ABI.md): not checked.
    Refused(String),
    Failed(Failure),
}

/// Which other types each signature is refused as: every other, or a seeded
/// sample of about `EXHAUSTIVE_REFUSALS / n` of them (at least one).
struct RefusalPlan {
    n: u64,
    cross_type_pairs: u64,
    sampled: bool,
    per_signature: usize,
}

impl RefusalPlan {
    fn new(n: u64) -> RefusalPlan {
        let cross_type_pairs = n * n.saturating_sub(1);
        RefusalPlan {
            n,
            cross_type_pairs,
            sampled: cross_type_pairs > EXHAUSTIVE_REFUSALS,
            per_signature: (EXHAUSTIVE_REFUSALS / n.max(1)).max(1) as usize,
        }
    }

    /// The types signature `i` of `all` is refused as.
    fn others<'s>(
        &self,
        all: &'s [Signature],
        i: usize,
        values: &mut ValueGen,
    ) -> Vec<&'s Signature> {
        if !self.sampled {
            return all.iter().filter(|s| **s != all[i]).collect();
        }
        (0..self.per_signature)
            .map(|_| {
                // Any index but `i`, uniformly.
                let pick = values.next_u64() % (self.n - 1);
                &all[(i + 1 + pick as usize) % self.n as usize]
            })
            .collect()
    }
}

/// What every signature's check shares.
struct Checker<'m> {
    module: &'m Module,
    /// The module's trampoline types, in `module.trampolines` order.
    signatures: Vec<Signature>,
    compiler: springboard_compiler::Compiler,
    engine: Engine,
    seed: u64,
    rounds: u32,
    plan: RefusalPlan,
    bar: ProgressBar,
}

pub(crate) fn run(
    path: &Path,
    seed: u64,
    rounds: u32,
    wasm_conv: WasmConv,
    json: bool,
) -> Result<bool> {
    let module = read_module(path)?;
    let mut config = Config::new();
    config.wasm_conv(wasm_conv);
    let signatures: Vec<Signature> = module
        .trampolines
        .iter()
        .map(|t| t.signature.clone())
        .collect();
    let checker = Checker {
        module: &module,
        compiler: compiler(None, OptLevel::default(), wasm_conv)?,
        engine: Engine::new(&config)?,
        seed,
        rounds,
        plan: RefusalPlan::new(signatures.len() as u64),
        signatures,
        bar: progress_bar(json, module.trampolines.len()),
    };
    let started = Instant::now();
    // Compiled and mapped a chunk at a time: one mapping per chunk, not
    // several per signature, keeps a check of 100,000 types from spending
    // its time in the kernel.
    let reports = in_parallel(module.trampolines.len(), 64, |chunk| {
        checker.check_chunk(chunk)
    });
    checker.bar.finish_and_clear();
    let subtyping = subtyping(&checker.engine, &module, seed)?;
    let mut report = checker.summarize(path, reports, started);
    report.failures += subtyping.failures.len();
    report.subtyping = subtyping;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_summary(&report)?;
    }
    Ok(report.failures == 0)
}

fn progress_bar(hidden: bool, signatures: usize) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(signatures as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} signatures {msg}")
            .expect("a valid template"),
    );
    bar
}

impl Checker<'_> {
    /// Compiles the signatures of `chunk`, maps what compiled as one batch,
    /// and checks each.
    fn check_chunk(&self, chunk: std::ops::Range<usize>) -> Vec<SignatureReport> {
        let (sets, errors): (Vec<Option<CodeSet>>, Vec<Option<CompileError>>) = chunk
            .clone()
            .map(|i| {
                match CodeSet::compile(&self.compiler, &self.module.trampolines[i].signature) {
                    Ok(set) => (Some(set), None),
                    Err(e) => (None, Some(e)),
                }
            })
            .unzip();
        let compiled: Vec<&CodeSet> = sets.iter().flatten().collect();
        let mapped = CodeSet::map_all(&compiled).map_err(Arc::new);
        let mut mapped_sets = mapped.as_ref().ok().into_iter().flatten();
        chunk
            .zip(errors)
            .map(|(i, error)| {
                let prepared = match (error, &mapped) {
                    (Some(CompileError::Refused { reason, .. }), _) => {
                        Prepared::Refused(reason.to_string())
                    }
                    (Some(e), _) => Prepared::Failed(Failure::Compile(e)),
                    (None, Err(e)) => Prepared::Failed(Failure::Map(Arc::clone(e))),
                    (None, Ok(_)) => {
                        Prepared::Mapped(mapped_sets.next().expect("one per compiled set"))
                    }
                };
                let report = self.check_signature(i, prepared);
                self.bar.inc(1);
                report
            })
            .collect()
    }

    /// Round trips through every kind, then refusals as other types.
    fn check_signature(&self, i: usize, prepared: Prepared<'_>) -> SignatureReport {
        let t = &self.module.trampolines[i];
        let sig = &t.signature;
        let mut report = SignatureReport {
            signature: sig.to_string(),
            needed: t.needed.iter().map(|k| k.name()).collect(),
            calls: 0,
            values: 0,
            refusals: 0,
            unsupported: None,
            failure: None,
        };
        let set = match prepared {
            Prepared::Mapped(set) => set,
            Prepared::Refused(why) => {
                report.unsupported = Some(why);
                return report;
            }
            Prepared::Failed(failure) => {
                report.failure = Some(failure.to_string());
                return report;
            }
        };
        let mut values = ValueGen::new(self.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let others = self.plan.others(&self.signatures, i, &mut values);
        let outcome = round_trips(set, sig, &mut values, self.rounds, &mut report)
            .and_then(|()| refusals(&self.engine, sig, &others, &mut report));
        report.failure = outcome.err().map(|failure| failure.to_string());
        report
    }

    fn summarize(&self, path: &Path, reports: Vec<SignatureReport>, started: Instant) -> Report {
        let failures = reports.iter().filter(|r| r.failure.is_some()).count();
        let unsupported = reports.iter().filter(|r| r.unsupported.is_some()).count();
        Report {
            file: path.display().to_string(),
            seed: self.seed,
            target: self.compiler.triple(),
            trampolines: (reports.len() - unsupported) * TrampolineKind::ALL.len(),
            needed_trampolines: reports.iter().map(|r| r.needed.len()).sum(),
            calls: reports.iter().map(|r| r.calls).sum(),
            values: reports.iter().map(|r| r.values).sum(),
            refusals: reports.iter().map(|r| r.refusals).sum(),
            cross_type_pairs: self.plan.cross_type_pairs,
            refusals_sampled: self.plan.sampled,
            unsupported,
            subtyping: SubtypeReport::default(),
            failures,
            millis: started.elapsed().as_millis(),
            signatures: reports,
        }
    }
}

fn print_summary(report: &Report) -> Result<(), StdoutError> {
    outln!(
        "{}: {} signatures, seed {}, {}",
        report.file,
        report.signatures.len(),
        report.seed,
        report.target
    )?;
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
    )?;
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
    outln!(
        "check {verdict}: {} trampolines ({} kinds x {} signatures), {} calls, {} values bit-exact, {} mismatches refused{sampled}{unsupported}, {} failures, {} ms",
        report.trampolines,
        TrampolineKind::ALL.len(),
        report.signatures.len() - report.unsupported,
        report.calls,
        report.values,
        report.refusals,
        report.failures,
        report.millis
    )?;
    let sub = &report.subtyping;
    outln!(
        "module types: {} pairs called as each other, {} subtypes accepted, {} refused, {} disagreements (Rust check, compiled check, module type space, wasmparser's validator)",
        sub.pairs,
        sub.accepted,
        sub.refused,
        sub.failures.len()
    )?;
    for failure in &sub.failures {
        outln!("  {failure}")?;
    }
    Ok(())
}

/// Edge-value rounds (every edge value of every type reaches every
/// position), then `rounds` random rounds, through every kind.
fn round_trips(
    set: &MappedSet<'_>,
    sig: &Signature,
    values: &mut ValueGen,
    rounds: u32,
    report: &mut SignatureReport,
) -> Result<(), Failure> {
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
        set.run(&args, &results).map_err(Failure::RoundTrip)?;
        report.calls += TrampolineKind::ALL.len();
        report.values += TrampolineKind::ALL.len() * (1 + args.len() + results.len());
        Ok::<(), Failure>(())
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

/// The module's function types registered in `engine`: a function of each
/// called as each other (all pairs up to `EXHAUSTIVE_REFUSALS`, a seeded
/// sample beyond) through the Rust check and the compiled one; each verdict
/// must be the module's type space's and the validator's.
fn subtyping(engine: &Engine, module: &Module, seed: u64) -> Result<SubtypeReport> {
    let info = &module.info;
    let groups = engine.register_module_types(&info.module_types)?;
    let mut at: Vec<(usize, usize)> = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        at.extend((0..group.len()).map(|p| (g, p)));
    }
    let handle = |t: &springboard_check::module::TypeUse| {
        let (g, p) = at[t.module_index as usize];
        groups[g].func(p).expect("a function type")
    };
    let handles: Vec<_> = info.types.iter().map(handle).collect();
    let funcs = handles
        .iter()
        .map(|h| Func::new_shared(engine, h, |_: &[Val], _: &mut [Val]| Ok::<(), Error>(())))
        .collect::<Result<Vec<_>, _>>()?;
    let stub = engine.signature_check_stub()?;
    let n = info.types.len() as u64;
    let mut values = ValueGen::new(seed);
    let pairs: Vec<(usize, usize)> = if n * n <= EXHAUSTIVE_REFUSALS {
        (0..n as usize)
            .flat_map(|a| (0..n as usize).map(move |b| (a, b)))
            .collect()
    } else {
        (0..EXHAUSTIVE_REFUSALS)
            .map(|_| {
                (
                    (values.next_u64() % n) as usize,
                    (values.next_u64() % n) as usize,
                )
            })
            .collect()
    };
    let mut report = SubtypeReport::default();
    for (a, b) in pairs {
        let (ta, tb) = (&info.types[a], &info.types[b]);
        let space = info.space.is_subtype(ta.space_index, tb.space_index);
        let validator = info.validator_subtype(ta.module_index, tb.module_index);
        // SAFETY: a live funcref of this engine.
        let rust = unsafe { engine.check_funcref(funcs[a].as_funcref(), &handles[b]) }.is_ok();
        // SAFETY: as above; the engine's own subtype table.
        let compiled = unsafe {
            stub(
                funcs[a].vm_func_ref().as_ptr(),
                handles[b].index().bits(),
                engine.subtype_table(),
            )
        } == 0;
        report.pairs += 1;
        if [space, validator, rust, compiled]
            .iter()
            .any(|&v| v != space)
        {
            report.failures.push(format!(
                "{} as {}: module space {space}, validator {validator}, check {rust}, compiled check {compiled}",
                handles[a].sub_type(),
                handles[b].sub_type()
            ));
        } else if space && a != b {
            report.accepted += 1;
        } else if !space {
            report.refused += 1;
        }
    }
    Ok(report)
}

/// A host function of `sig` must be refused at `call_indirect` sites of
/// each of `others` and of one more type made from it (nothing runs), by
/// the Rust check and by the compiled stub, and accepted at its own.
fn refusals(
    engine: &Engine,
    sig: &Signature,
    others: &[&Signature],
    report: &mut SignatureReport,
) -> Result<(), Failure> {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let func = Func::new(engine, sig, move |_: &[Val], _: &mut [Val]| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok::<(), std::convert::Infallible>(())
    })?;
    let stub = engine.signature_check_stub()?;
    let defaults = |tys: &[ValType]| tys.iter().map(|&t| Val::default_for(t)).collect::<Vec<_>>();
    let mutated = mutated(sig);
    for other in others.iter().copied().chain([&mutated]) {
        let expected = engine.register(other)?;
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
            return Err(Failure::NotRefused {
                other: other.clone(),
                outcome: format!("{outcome:?}"),
            });
        }
        // SAFETY: the stub reads only the live funcref's `type_index`.
        if unsafe {
            stub(
                func.vm_func_ref().as_ptr(),
                expected.index().bits(),
                engine.subtype_table(),
            )
        } != 2
        {
            return Err(Failure::StubAccepted(other.clone()));
        }
        report.refusals += 1;
    }
    if calls.load(Ordering::SeqCst) != 0 {
        return Err(Failure::RefusedCallRan);
    }
    let own = engine.register(sig)?;
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
    .map_err(Failure::OwnTypeRefused)?;
    if calls.load(Ordering::SeqCst) != 1 {
        return Err(Failure::NotRunOnce);
    }
    Ok(())
}
