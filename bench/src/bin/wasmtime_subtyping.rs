//! Springboard's WebAssembly 3.0 subtype verdicts against Wasmtime 48's
//! with GC on, and against wasmparser's validator, on the subtype-rich
//! modules of `springboard_tests::subtyping` (several per engine):
//!
//! - every (function, expected type) pair of a module through an actual
//!   `call_indirect` in Wasmtime, which traps with a bad signature or not,
//!   against `Engine::is_subtype` (declared subtyping);
//! - every pair of function types across modules: `Engine::is_subtype`
//!   against the validator, and `Engine::func_type_matches` against
//!   Wasmtime's `FuncType::matches`, which is structural (so not the
//!   relation `call_indirect` checks: the first disagreement this found).
//!
//! Usage: `cargo run --release --bin wasmtime_subtyping [PAIRS]` (default
//! 10^6). Exits non-zero on the first disagreement.

use springboard_tests::subtyping::{FuncTy, Rng, hand_modules_with_probes, register};
use wasmparser::{Validator, WasmFeatures};
use wasmtime::{Config, Engine, Instance, Module, Store, Trap, Val};

fn validator_is_subtype(types: &wasmparser::types::Types, a: &FuncTy, b: &FuncTy) -> bool {
    let types = types.as_ref();
    let mut t = a.oracle;
    loop {
        if t == b.oracle {
            return true;
        }
        match types.supertype_of(t) {
            Some(s) => t = s,
            None => return false,
        }
    }
}

/// Wasmtime 48 has an error type of its own.
fn wt<T>(r: wasmtime::Result<T>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn main() -> anyhow::Result<()> {
    let want: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(1_000_000), |a| a.parse())?;
    let mut config = Config::new();
    config
        .wasm_gc(true)
        .wasm_function_references(true)
        .wasm_exceptions(true);
    let mut rng = Rng::new(0x3a5e);
    let (mut pairs, mut strict, mut calls, mut call_accepts, mut modules) =
        (0u64, 0u64, 0u64, 0u64, 0usize);
    let mut structural_only = 0u64;
    while pairs < want {
        let wasmtime = wt(Engine::new(&config))?;
        let mut store = Store::new(&wasmtime, ());
        let ours = springboard::Engine::default();
        let mut validator = Validator::new_with_features(WasmFeatures::all());
        // (Springboard's and the validator's view, Wasmtime's type.)
        let mut all: Vec<(FuncTy, wasmtime::FuncType)> = Vec::new();
        let mut last = None;
        for text in hand_modules_with_probes(&mut rng, 6) {
            let wasm = wat::parse_str(&text)?;
            let (types, mut funcs) =
                register(&ours, &mut validator, &wasm).expect("a valid module");
            let module = wt(Module::new(&wasmtime, &wasm))?;
            let instance = wt(Instance::new(&mut store, &module, &[]))?;
            // The generated types, each with its exported function `f<i>`
            // (the text format adds the probes' own type after them).
            let tys: Vec<wasmtime::FuncType> = (0..funcs.len())
                .map_while(|i| Some(instance.get_func(&mut store, &format!("f{i}"))?.ty(&store)))
                .collect();
            funcs.truncate(tys.len());
            // Every function of the module through every probe.
            for (j, expected) in funcs.iter().enumerate() {
                let Some(probe) = instance.get_func(&mut store, &format!("p{j}")) else {
                    continue;
                };
                for (slot, actual) in funcs.iter().enumerate() {
                    let err = probe
                        .call(&mut store, &[Val::I32(slot as i32)], &mut [])
                        .expect_err("every callee traps");
                    let trap = *err.downcast_ref::<Trap>().expect("a trap");
                    let theirs = match trap {
                        Trap::UnreachableCodeReached => true,
                        Trap::BadSignature => false,
                        other => anyhow::bail!("unexpected trap {other:?}"),
                    };
                    let ours = ours.is_subtype(actual.handle.index(), &expected.handle);
                    anyhow::ensure!(
                        ours == theirs,
                        "call_indirect of {:?} as {:?}: Springboard {ours}, Wasmtime {theirs}",
                        actual.handle,
                        expected.handle
                    );
                    calls += 1;
                    call_accepts += u64::from(theirs);
                }
            }
            all.extend(funcs.into_iter().zip(tys));
            last = Some(types);
            modules += 1;
        }
        let types = last.expect("six modules");
        for (a, ta) in &all {
            for (b, tb) in &all {
                // `call_indirect`'s relation, declared subtyping: ours and
                // the validator's.
                let (s, v) = (
                    ours.is_subtype(a.handle.index(), &b.handle),
                    validator_is_subtype(&types, a, b),
                );
                anyhow::ensure!(
                    s == v,
                    "{:?} <: {:?}: Springboard {s}, validator {v}",
                    a.handle,
                    b.handle
                );
                // Wasmtime's `FuncType::matches` is structural: compared
                // with the engine's structural match.
                let (sm, w) = (ours.func_type_matches(&a.handle, &b.handle), ta.matches(tb));
                anyhow::ensure!(
                    sm == w,
                    "{:?} matches {:?}: Springboard {sm}, Wasmtime {w}",
                    a.handle,
                    b.handle
                );
                pairs += 1;
                strict += u64::from(s && a.handle != b.handle);
                structural_only += u64::from(w && !s);
            }
        }
    }
    println!(
        "wasmtime_subtyping: {modules} modules; {calls} call_indirect in Wasmtime ({call_accepts} accepted) against \
         Engine::is_subtype: 0 disagreements; {pairs} pairs across modules: Engine::is_subtype against the validator \
         ({strict} strict subtypes) and Engine::func_type_matches against FuncType::matches \
         ({structural_only} structural matches that are not subtypes): 0 disagreements"
    );
    Ok(())
}
