//! The bodies of the fuzz targets in `fuzz/`: plain functions of bytes, so
//! that `cargo test` runs them too (over `fuzz/corpus/` and seeded random
//! inputs, see `tests/fuzz_targets.rs`) and `cargo fuzz` explores further.
//! Each panics exactly when it finds a bug.

use arbitrary::{Arbitrary, Result, Unstructured};
use springboard::{Engine, Error, Func, FuncRef, SharedSignature, Val};
use springboard_check::values::same_bits;
use springboard_check::{CodeSet, Driver, Via};
use springboard_compiler::{
    CodeKind, CompiledTrampoline, Compiler, Signature, TrampolineKind, ValType,
};
use springboard_loader::ObjectFile;
use springboard_vm_abi::ValRaw;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// The names of the targets, as in `fuzz/fuzz_targets/`.
pub const TARGETS: [&str; 6] = [
    "signature_check",
    "signature_model",
    "trampoline_roundtrip",
    "registry_model",
    "object_loader",
    "gc_subtyping",
];

/// Runs target `name` on `data`.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "signature_check" => signature_check(data),
        "signature_model" => {
            signature_model(data);
        }
        "trampoline_roundtrip" => trampoline_roundtrip(data),
        "registry_model" => registry_model(data),
        "object_loader" => object_loader(data),
        "gc_subtyping" => {
            gc_subtyping(data);
        }
        other => panic!("no fuzz target `{other}`"),
    }
}

fn val_type(u: &mut Unstructured) -> Result<ValType> {
    Ok(ValType::ALL[u.choose_index(ValType::ALL.len())?])
}

/// A signature of at most `max` parameters and `max` results.
fn signature(u: &mut Unstructured, max: usize) -> Result<Signature> {
    let types = |u: &mut Unstructured| -> Result<Vec<ValType>> {
        let n = u.int_in_range(0..=max)?;
        (0..n).map(|_| val_type(u)).collect()
    };
    let (params, results) = (types(u)?, types(u)?);
    let sig = Signature::new(&params, &results).expect("within limits");
    // What this host's C convention cannot carry is refused by design
    // (docs/ABI.md, "Per ISA"): not an input for these targets.
    match compiler().supports(&sig) {
        Ok(()) => Ok(sig),
        Err(_) => Err(arbitrary::Error::IncorrectFormat),
    }
}

fn value(u: &mut Unstructured, ty: ValType) -> Result<ValRaw> {
    Ok(match ty {
        ValType::I32 | ValType::F32 => ValRaw::u32(u32::arbitrary(u)?),
        ValType::I64 | ValType::F64 => ValRaw::u64(u64::arbitrary(u)?),
        ValType::V128 => ValRaw::v128(u128::arbitrary(u)?),
        ValType::Ref(_) => ValRaw::u64(usize::arbitrary(u)? as u64),
    })
}

fn engines() -> &'static [Engine; 2] {
    static ENGINES: OnceLock<[Engine; 2]> = OnceLock::new();
    ENGINES.get_or_init(|| [Engine::default(), Engine::default()])
}

fn compiler() -> &'static Compiler {
    static COMPILER: OnceLock<Compiler> = OnceLock::new();
    COMPILER.get_or_init(|| Compiler::host().expect("a host backend"))
}

/// A funcref of type A made in one engine, called in one engine as type B
/// registered in one engine (or as a null funcref): accepted if and only if
/// everything is one engine and A == B (structural equality), and the
/// compiled check always agrees with the Rust one. Never a crash.
pub fn signature_check(data: &[u8]) {
    let _ = try_signature_check(&mut Unstructured::new(data));
}

fn try_signature_check(u: &mut Unstructured) -> Result<()> {
    let a_sig = signature(u, 6)?;
    let b_sig = if u.arbitrary()? {
        a_sig.clone()
    } else {
        signature(u, 6)?
    };
    let (func_engine, type_engine, call_engine) =
        (u.choose_index(2)?, u.choose_index(2)?, u.choose_index(2)?);
    let null = u.ratio(1, 16)?;
    let engines = engines();
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&ran);
    let func = Func::new(
        &engines[func_engine],
        &a_sig,
        move |_: &[Val], _: &mut [Val]| {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok::<(), std::convert::Infallible>(())
        },
    )
    .expect("supported signature");
    let expected: SharedSignature = engines[type_engine]
        .register(&b_sig)
        .expect("supported signature");
    let funcref = if null {
        FuncRef(None)
    } else {
        func.as_funcref()
    };
    let params: Vec<Val> = b_sig
        .params()
        .iter()
        .map(|&t| Val::default_for(t))
        .collect();
    let mut results: Vec<Val> = b_sig
        .results()
        .iter()
        .map(|&t| Val::default_for(t))
        .collect();
    // SAFETY: the funcref is null or a live `Func`.
    let outcome =
        unsafe { engines[call_engine].call_indirect(funcref, &expected, &params, &mut results) };
    let same_engine = func_engine == type_engine && type_engine == call_engine;
    let should_accept = !null && same_engine && a_sig == b_sig;
    match (&outcome, should_accept) {
        (Ok(()), true) => assert!(
            ran.load(std::sync::atomic::Ordering::SeqCst),
            "accepted but did not run"
        ),
        (Err(_), false) => assert!(
            !ran.load(std::sync::atomic::Ordering::SeqCst),
            "refused but ran"
        ),
        _ => panic!(
            "{a_sig} in engine {func_engine} called as {b_sig} of engine {type_engine} in engine {call_engine} (null: {null}): {outcome:?}"
        ),
    }
    if null && type_engine == call_engine {
        assert!(matches!(outcome, Err(Error::NullFuncRef)), "{outcome:?}");
    }
    // The compiled stub agrees whenever the type belongs to the engine used.
    if type_engine == call_engine {
        let stub = engines[call_engine]
            .signature_check_stub()
            .expect("compiles");
        let ptr = funcref
            .0
            .map_or(std::ptr::null(), |p| p.as_ptr().cast_const());
        // SAFETY: null or a live funcref.
        let code = unsafe {
            stub(
                ptr,
                expected.index().bits(),
                engines[call_engine].subtype_table(),
            )
        };
        let want = if null {
            1
        } else if func_engine == call_engine && a_sig == b_sig {
            0
        } else {
            2
        };
        assert_eq!(code, want, "compiled check of {a_sig} as {b_sig}");
    }
    Ok(())
}

/// The live functions and types `signature_model` checks against each
/// other, across three engines: made once, then changed a little per input.
struct ModelPool {
    engines: [Engine; 3],
    /// (engine, signature, function) — a host function of that type.
    funcs: Vec<(usize, Signature, Func)>,
    /// One function of every model signature per engine, never replaced:
    /// it keeps the signature's compiled trampolines alive, so that a new
    /// function of it costs no compilation.
    _keep: Vec<Func>,
    /// (engine, signature, type handle).
    types: Vec<(usize, Signature, SharedSignature)>,
    stubs: [springboard::SignatureCheckFn; 3],
}

/// Signatures that differ little: in one type, one position, one result.
fn model_signatures() -> Vec<Signature> {
    use ValType::*;
    const FUNC: ValType = ValType::FUNCREF;
    const EXTERN: ValType = ValType::EXTERNREF;
    let sig = |p: &[ValType], r: &[ValType]| Signature::new(p, r).expect("within limits");
    vec![
        sig(&[], &[]),
        sig(&[I32], &[]),
        sig(&[I64], &[]),
        sig(&[], &[I32]),
        sig(&[I32], &[I32]),
        sig(&[I32, I64], &[F32]),
        sig(&[I64, I32], &[F32]),
        sig(&[F32, F64, V128], &[FUNC, EXTERN]),
        sig(&[F64, F32, V128], &[FUNC, EXTERN]),
        sig(&[FUNC], &[EXTERN]),
        sig(&[EXTERN], &[FUNC]),
        sig(&[I32; 17], &[I64; 3]),
    ]
    .into_iter()
    // (riscv64 carries no v128: docs/ABI.md.)
    .filter(|s| compiler().supports(s).is_ok())
    .collect()
}

fn model_pool() -> &'static std::sync::Mutex<ModelPool> {
    static POOL: OnceLock<std::sync::Mutex<ModelPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let engines = [Engine::default(), Engine::default(), Engine::default()];
        let stubs = [0, 1, 2].map(|e| engines[e].signature_check_stub().expect("compiles"));
        let mut pool = ModelPool {
            engines,
            funcs: Vec::new(),
            types: Vec::new(),
            _keep: Vec::new(),
            stubs,
        };
        for engine in 0..3 {
            for sig in model_signatures() {
                let func = model_func(&pool.engines[engine], &sig);
                let ty = pool.engines[engine].register(&sig).expect("supported");
                pool._keep.push(model_func(&pool.engines[engine], &sig));
                pool.funcs.push((engine, sig.clone(), func));
                pool.types.push((engine, sig, ty));
            }
        }
        std::sync::Mutex::new(pool)
    })
}

/// A host function of `sig` that must never run: the model calls nothing.
fn model_func(engine: &Engine, sig: &Signature) -> Func {
    Func::new(engine, sig, |_: &[Val], _: &mut [Val]| {
        Ok::<(), std::convert::Infallible>(())
    })
    .expect("supported signature")
}

/// Checks made by `signature_model` in this process, and how many accepted.
pub static MODEL_CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static MODEL_ACCEPTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Signature checks against a model, many per input and nothing compiled
/// per input: each 3-byte op checks function slot `a` (or null) against type
/// slot `b` in engine `c` — with the engine's `check_funcref` and its
/// compiled stub — or, for a few op codes, replaces a type slot with a type
/// of a signature read from the input, or a function slot with a fresh
/// function of a model signature (dropping the old one, so indices are
/// freed and reused). The model: the
/// Rust check accepts iff the funcref is not null, the function, the type
/// and the call are of one engine, and the signatures are structurally
/// equal; the stub, which sees only indices, iff the function and the type
/// are of one engine and equal. Any other answer panics (a false accept or
/// a false reject). Returns the number of checks made.
pub fn signature_model(data: &[u8]) -> u64 {
    use std::sync::atomic::Ordering::Relaxed;
    let mut pool = model_pool()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pool = &mut *pool;
    let mut u = Unstructured::new(data);
    let (mut checks, mut accepts) = (0u64, 0u64);
    // `bytes`, not `arbitrary`: it fails at the end of the input, where
    // `arbitrary` yields zeros for ever.
    while let Ok(&[a, b, c]) = u.bytes(3) {
        match c {
            0xfc..=0xfd => {
                let sigs = model_signatures();
                let Ok(sig) = u.choose(&sigs).cloned() else {
                    break;
                };
                let engine = usize::from(a) % 3;
                let slot = usize::from(b) % pool.funcs.len();
                pool.funcs[slot] = (engine, sig.clone(), model_func(&pool.engines[engine], &sig));
                continue;
            }
            0xfe..=0xff => {
                let Ok(sig) = signature(&mut u, 8) else { break };
                let engine = usize::from(a) % 3;
                let slot = usize::from(b) % pool.types.len();
                let ty = pool.engines[engine].register(&sig).expect("supported");
                pool.types[slot] = (engine, sig, ty);
                continue;
            }
            _ => {}
        }
        let call = usize::from(c) % 3;
        let func = (a != 0xff).then(|| &pool.funcs[usize::from(a) % pool.funcs.len()]);
        let (type_engine, type_sig, ty) = &pool.types[usize::from(b) % pool.types.len()];
        let funcref = func.map_or(FuncRef(None), |(_, _, f)| f.as_funcref());
        // SAFETY: the funcref is null or of a live `Func`.
        let rust = unsafe { pool.engines[call].check_funcref(funcref, ty) }.is_ok();
        let same_type = func.is_some_and(|(e, s, _)| e == type_engine && s == type_sig);
        let model = same_type && call == *type_engine;
        assert_eq!(
            rust,
            model,
            "check_funcref in engine {call} of {:?} as {type_sig} of engine {type_engine}: {}",
            func.map(|(e, s, _)| format!("{s} of engine {e}")),
            if rust { "false accept" } else { "false reject" }
        );
        let ptr = funcref
            .0
            .map_or(core::ptr::null(), |p| p.as_ptr().cast_const());
        // SAFETY: null or a live funcref.
        let stub = unsafe {
            (pool.stubs[call])(ptr, ty.index().bits(), pool.engines[call].subtype_table())
        };
        let stub_model = if func.is_none() {
            1
        } else if same_type {
            0
        } else {
            2
        };
        assert_eq!(stub, stub_model, "compiled check, as above");
        checks += 2;
        accepts += u64::from(rust) + u64::from(stub == 0);
    }
    let before = MODEL_CHECKS.fetch_add(checks, Relaxed);
    let accepted = MODEL_ACCEPTS.fetch_add(accepts, Relaxed) + accepts;
    // A line per 2^22 checks: how far a run has got, with nothing wrong.
    if (before >> 22) != ((before + checks) >> 22) {
        eprintln!(
            "signature_model: {} checks ({accepted} accepted), 0 false accepts, 0 false rejects",
            before + checks
        );
    }
    checks
}

/// An arbitrary signature and values through every trampoline kind, and
/// through a host function's generic entries called by the compiled
/// `entry` and `array_to_wasm`: bit-exact on both sides.
pub fn trampoline_roundtrip(data: &[u8]) {
    let _ = try_trampoline_roundtrip(&mut Unstructured::new(data));
}

fn try_trampoline_roundtrip(u: &mut Unstructured) -> Result<()> {
    // Mostly small signatures, sometimes very long ones.
    let max = if u.ratio(1, 32)? { 1000 } else { 24 };
    let sig = signature(u, max)?;
    let args = sig
        .params()
        .iter()
        .map(|&t| value(u, t))
        .collect::<Result<Vec<_>>>()?;
    let results = sig
        .results()
        .iter()
        .map(|&t| value(u, t))
        .collect::<Result<Vec<_>>>()?;
    let set = CodeSet::compile(compiler(), &sig).expect("every supported signature compiles");
    if let Err(e) = set.run(&args, &results) {
        panic!("{e}");
    }
    generic_roundtrip(&set, &args, &results);
    Ok(())
}

/// `args` into and `results` out of an untyped host function whose entries
/// are generic (on hosts that have them), through its `native_call` and
/// `wasm_call` as compiled callers call them.
fn generic_roundtrip(set: &CodeSet, args: &[ValRaw], results: &[ValRaw]) {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        Engine::new(springboard::Config::new().tier_up_after(u32::MAX)).expect("a host backend")
    });
    let sig = set.signature();
    let code = |kind| {
        set.iter()
            .find(|c| c.kind == CodeKind::Trampoline(kind))
            .expect("every kind compiled")
    };
    let driver = Driver::from_code(
        code(TrampolineKind::Entry),
        code(TrampolineKind::ArrayToWasm).clone(),
    )
    .expect("maps");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (log, out, tys) = (Arc::clone(&seen), results.to_vec(), sig.clone());
    let func = Func::new(engine, sig, move |a: &[Val], r: &mut [Val]| {
        *log.lock().unwrap_or_else(PoisonError::into_inner) =
            a.iter().map(|v| v.to_raw()).collect();
        for ((slot, raw), &t) in r.iter_mut().zip(&out).zip(tys.results()) {
            *slot = Val::from_raw(*raw, t, springboard::GcRefWidth::Bits32);
        }
        Ok::<(), std::convert::Infallible>(())
    })
    .expect("every supported signature");
    for via in [Via::Native, Via::Wasm] {
        // SAFETY: a live funcref of `sig`; host functions ignore the caller.
        let got = unsafe {
            driver.call_funcref(via, func.vm_func_ref().as_ref(), std::ptr::null_mut(), args)
        }
        .expect("the buffer fits");
        let received = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
        for (what, tys, got, want) in [
            ("result", sig.results(), &got, results),
            ("argument", sig.params(), &received, args),
        ] {
            assert_eq!(got.len(), want.len(), "{via:?} {sig}: {what}s");
            for (i, ((&t, &g), &w)) in tys.iter().zip(got).zip(want).enumerate() {
                assert!(
                    same_bits(t, g, w),
                    "{via:?} {sig}: {what} {i} ({t}): {:#x} vs {:#x}",
                    g.get_v128(),
                    w.get_v128()
                );
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
enum RegistryOp {
    Register(u8),
    Clone(u8),
    Drop(u8),
    Lookup(u8),
}

/// Arbitrary register / clone / drop / lookup sequences against a model:
/// equal types share an index, live types never share one, an index comes
/// back from lookup while a handle lives, and the registry empties when the
/// last handle goes.
pub fn registry_model(data: &[u8]) {
    let _ = try_registry_model(&mut Unstructured::new(data));
}

fn try_registry_model(u: &mut Unstructured) -> Result<()> {
    let pool: Vec<Signature> = (0..8)
        .map(|i| {
            Signature::new(
                &vec![ValType::ALL[i % 7]; i / 2],
                &vec![ValType::I32; i % 3],
            )
            .unwrap()
        })
        .collect();
    let engine = Engine::default();
    let mut live: Vec<(usize, SharedSignature)> = Vec::new();
    let ops: Vec<RegistryOp> = u.arbitrary()?;
    for op in ops {
        match op {
            RegistryOp::Register(i) => {
                let which = usize::from(i) % pool.len();
                let h = engine.register(&pool[which]).expect("registers");
                live.push((which, h));
            }
            RegistryOp::Clone(i) if !live.is_empty() => {
                let (which, h) = &live[usize::from(i) % live.len()];
                live.push((*which, h.clone()));
            }
            RegistryOp::Drop(i) if !live.is_empty() => {
                live.swap_remove(usize::from(i) % live.len());
            }
            RegistryOp::Lookup(i) if !live.is_empty() => {
                let (which, h) = &live[usize::from(i) % live.len()];
                let found = engine.lookup(h.index()).expect("a live index resolves");
                assert_eq!(found.signature(), &pool[*which]);
                assert_eq!(&found, h);
            }
            _ => {}
        }
        // The model: one index per live type, distinct across types.
        let mut by_type: Vec<Option<u32>> = vec![None; pool.len()];
        for (which, h) in &live {
            match by_type[*which] {
                None => by_type[*which] = Some(h.index().bits()),
                Some(index) => {
                    assert_eq!(index, h.index().bits(), "equal types, different indices")
                }
            }
        }
        let mut indices: Vec<u32> = by_type.iter().flatten().copied().collect();
        let live_types = indices.len();
        indices.sort_unstable();
        indices.dedup();
        assert_eq!(indices.len(), live_types, "two live types share an index");
        assert_eq!(engine.registered_types(), live_types, "registry size");
    }
    drop(live);
    assert_eq!(engine.registered_types(), 0);
    Ok(())
}

/// A valid object to mutate: trampolines and probes for a few signatures.
pub fn sample_object() -> &'static [u8] {
    &sample().0
}

/// The sample object and, by kind and signature, the code compiled into it.
#[allow(clippy::type_complexity)]
fn sample() -> &'static (Vec<u8>, HashMap<(CodeKind, Signature), CompiledTrampoline>) {
    static SAMPLE: OnceLock<(Vec<u8>, HashMap<(CodeKind, Signature), CompiledTrampoline>)> =
        OnceLock::new();
    SAMPLE.get_or_init(|| {
        let compiler = compiler();
        let mut object = springboard_compiler::ObjectBuilder::new(compiler).expect("host object");
        let mut originals = HashMap::new();
        let sigs = [
            Signature::new(&[ValType::I32, ValType::F64], &[ValType::I64]).unwrap(),
            Signature::new(&[], &[ValType::V128, ValType::FUNCREF]).unwrap(),
        ];
        // (riscv64 carries no v128: docs/ABI.md.)
        for sig in sigs.into_iter().filter(|s| compiler.supports(s).is_ok()) {
            for code in CodeSet::compile(compiler, &sig).expect("compiles").iter() {
                object.add(code).expect("adds");
                originals.insert((code.kind, sig.clone()), code.clone());
            }
        }
        (object.finish().expect("writes"), originals)
    })
}

/// Arbitrary bytes, and mutations of a valid object, into the loader: an
/// `Err`, or — for a mutated object — only code identical to what was
/// compiled into it for that kind and signature; never a crash.
pub fn object_loader(data: &[u8]) {
    load_everything(data, None);
    let mut u = Unstructured::new(data);
    let (original, originals) = sample();
    let mut object = original.clone();
    let edits: Vec<(u32, u8)> = u.arbitrary().unwrap_or_default();
    for (at, byte) in edits {
        let at = at as usize % object.len();
        object[at] = byte;
    }
    if let Ok(cut) = u.arbitrary::<u32>()
        && cut % 4 == 0
    {
        object.truncate(cut as usize % object.len());
    }
    load_everything(&object, Some(originals));
}

/// Loads every entry, never crashing; with `originals`, each that loads
/// must be there, identical.
fn load_everything(
    bytes: &[u8],
    originals: Option<&HashMap<(CodeKind, Signature), CompiledTrampoline>>,
) {
    let Ok(object) = ObjectFile::parse(bytes) else {
        return;
    };
    for entry in object.entries() {
        if let (Ok(code), Some(originals)) = (object.get(entry.kind, &entry.signature), originals) {
            let original = originals.get(&(entry.kind, entry.signature.clone()));
            assert_eq!(
                Some(&code),
                original,
                "loaded {} of {} that differs from the compiler's",
                entry.kind,
                entry.signature
            );
        }
    }
}

/// WebAssembly 3.0 subtyping, Springboard against wasmparser's validator
/// (`crate::subtyping`): a wasm-smith module made from the input and the
/// subtype-rich generator seeded by it, several modules into one engine,
/// every pair of their function types compared by the registry's test and
/// the compiled check. Returns the pairs compared; prints the running total
/// every 2^20 pairs.
pub fn gc_subtyping(data: &[u8]) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static PAIRS: AtomicU64 = AtomicU64::new(0);
    static STRICT: AtomicU64 = AtomicU64::new(0);
    let seed = data.iter().fold(0x5eed_u64, |h, &b| {
        h.wrapping_mul(0x100_0000_01b3).wrapping_add(u64::from(b))
    });
    let mut smith = crate::subtyping::smith_module_from(data).into_iter();
    let (pairs, strict) = crate::subtyping::differential(
        || smith.next(),
        &mut crate::subtyping::Rng::new(seed),
        1,
        4,
    );
    let before = PAIRS.fetch_add(pairs, Ordering::Relaxed);
    let strict_total = STRICT.fetch_add(strict, Ordering::Relaxed) + strict;
    if (before >> 20) != ((before + pairs) >> 20) {
        eprintln!(
            "gc_subtyping: {} pairs ({strict_total} strict subtypes), 0 disagreements",
            before + pairs
        );
    }
    pairs
}
