//! WebAssembly 3.0 function-type identity and subtyping: Springboard's
//! registry against wasmparser's validator, on random type sections with
//! recursion groups, subtype chains, finality and every reference type
//! (wasm-smith with GC and exceptions on), several modules per engine, and
//! on hand-made edge cases.
//!
//! The relation compared is the one `call_indirect` traps on: `a` is `b`
//! or declared (transitively) a subtype of it, types being canonical per
//! recursion group. The validator's verdict is its canonical type ids and
//! their declared supertypes (`Types::supertype_of`), across modules of one
//! validator, which shares its type context between them
//! (`springboard_tests::subtyping`, which the `gc_subtyping` fuzz target
//! runs too).

use springboard::types::ModuleTypes;
use springboard::{Engine, Error, Func, FuncRef, SharedSignature, Val};
use springboard_tests::subtyping::{
    FuncTy, Rng, compare_all, differential, register, smith_module,
};
use wasmparser::types::Types;
use wasmparser::{Parser, Payload, Validator, WasmFeatures};

/// At least 10^6 pairs from random modules, several per engine so that
/// groups meet across modules.
#[test]
fn registry_verdicts_equal_the_validators_on_random_modules() {
    const PAIRS: u64 = 1_000_000;
    const MODULES_PER_ENGINE: usize = 6;
    let (mut pairs, mut strict, mut modules, mut seed) = (0u64, 0u64, 0usize, 0u64);
    while pairs < PAIRS {
        let engine = Engine::default();
        let mut validator = Validator::new_with_features(WasmFeatures::all());
        let mut all: Vec<FuncTy> = Vec::new();
        let mut last: Option<Types> = None;
        for _ in 0..MODULES_PER_ENGINE {
            seed += 1;
            if let Some((types, funcs)) = register(&engine, &mut validator, &smith_module(seed)) {
                modules += 1;
                all.extend(funcs);
                last = Some(types);
            }
        }
        let Some(types) = last else { continue };
        let (n, s) = compare_all(&engine, &types, &all);
        pairs += n;
        strict += s;
        assert!(seed < 100_000, "wasm-smith made too few function types");
    }
    // wasm-smith declares few function subtypes: the hand generator below
    // makes them plentiful.
    assert!(strict > 0, "no strict subtype pairs");
    eprintln!(
        "gc_subtyping: {pairs} pairs ({strict} strict subtypes) from {modules} modules, 0 disagreements"
    );
}

/// The hand generator's modules, several per engine: at least 10^6 pairs,
/// many of them strict subtypes.
#[test]
fn registry_verdicts_equal_the_validators_on_subtype_rich_modules() {
    let (pairs, strict) = differential(|| None, &mut Rng::new(0x5eed), 1_000_000, 6);
    assert!(
        strict * 50 > pairs,
        "only {strict} strict subtype pairs of {pairs}"
    );
    eprintln!("gc_subtyping (hand): {pairs} pairs ({strict} strict subtypes), 0 disagreements");
}

fn wat_types(engine: &Engine, validator: &mut Validator, text: &str) -> (Types, Vec<FuncTy>) {
    register(engine, validator, &wat::parse_str(text).unwrap()).expect("a valid module")
}

/// Hand-made edges: a chain as deep as the standard allows, groups that
/// differ only in finality or in one reference, the same group in two
/// modules, structurally equal types in different groups.
#[test]
fn edge_cases_agree_with_the_validator() {
    let engine = Engine::default();
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let chain_of = |depth: usize| {
        let mut chain = String::from("(module (type $t0 (sub (func (param (ref null 0))))) ");
        for i in 1..=depth {
            chain += &format!(
                "(type $t{i} (sub $t{} (func (param (ref null 0))))) ",
                i - 1
            );
        }
        chain + ")"
    };
    let chain = chain_of(63);
    let modules = [
        chain.as_str(),
        // Only finality differs.
        "(module (type (sub final (func (param i32)))) (type (sub (func (param i32)))))",
        // Only one reference differs, inside otherwise equal groups.
        "(module (rec (type $a (sub (func (param (ref $a))))) (type (sub $a (func (param (ref null $a)))))))",
        "(module (rec (type $a (sub (func (param (ref $a))))) (type (sub $a (func (param (ref $a)))))))",
        // The same group again, and struct-typed references.
        "(module (rec (type $a (sub (func (param (ref $a))))) (type (sub $a (func (param (ref null $a)))))))",
        "(module (type $s (sub (struct (field i32)))) (type $s2 (sub $s (struct (field i32) (field i64)))) \
         (type $f (sub (func (result (ref $s))))) (type (sub $f (func (result (ref $s2))))) \
         (type (func (param exnref (ref null exn) i31ref) (result anyref eqref nullref))))",
        // Structurally equal, different groups: different types.
        "(module (rec (type (func)) (type (struct))) (rec (type (func)) (type (array i8))))",
    ];
    let mut all = Vec::new();
    let mut last = None;
    for m in modules {
        let (types, funcs) = wat_types(&engine, &mut validator, m);
        all.extend(funcs);
        last = Some(types);
    }
    let (pairs, strict) = compare_all(&engine, &last.unwrap(), &all);
    // The chain alone: each of 64 types below each of its ancestors.
    assert!(strict >= 63 * 64 / 2, "{strict}");
    assert_eq!(pairs, 77 * 77, "64 + 2 + 2 + 2 + 2 + 3 + 2 function types");
    // Structurally equal function types of two groups (the last module):
    // they match structurally (Wasmtime's `FuncType::matches`), but neither
    // is a subtype of the other (`call_indirect` traps).
    let (x, y) = (&all[all.len() - 2].handle, &all[all.len() - 1].handle);
    assert!(engine.func_type_matches(x, y) && engine.func_type_matches(y, x));
    assert!(!engine.is_subtype(x.index(), y) && !engine.is_subtype(y.index(), x));
    // 64 supertypes is one more than the standard allows: both refuse it.
    let too_deep = wat::parse_str(chain_of(64)).unwrap();
    assert!(
        Validator::new_with_features(WasmFeatures::all())
            .validate_all(&too_deep)
            .is_err()
    );
    let mut module = ModuleTypes::new();
    for payload in Parser::new(0).parse_all(&too_deep) {
        if let Payload::TypeSection(reader) = payload.unwrap() {
            for group in reader {
                module.push(&group.unwrap()).unwrap();
            }
        }
    }
    let err = engine.register_module_types(&module).unwrap_err();
    assert!(err.to_string().contains("deeper than 63"), "{err}");
}

/// `call_indirect` from the host accepts a subtype's function as its
/// supertype and refuses the rest, nothing running when it refuses; a null
/// for a non-nullable parameter and a funcref of the wrong type for a typed
/// reference parameter are refused by `Func::call`.
#[test]
fn checks_accept_subtypes_and_refuse_the_rest() {
    let engine = Engine::default();
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let (_, funcs) = wat_types(
        &engine,
        &mut validator,
        "(module (type $top (sub (func (param i32) (result i32)))) \
                 (type $mid (sub $top (func (param i32) (result i32)))) \
                 (type $leaf (sub final $mid (func (param i32) (result i32)))) \
                 (type $other (func (param i32) (result i32))) \
                 (type $takes (func (param (ref $mid)) (result i32))))",
    );
    let [top, mid, leaf, other, takes] = [0, 1, 2, 3, 4].map(|i| funcs[i].handle.clone());
    let func = Func::new_shared(&engine, &mid, |p: &[Val], r: &mut [Val]| {
        let Val::I32(x) = p[0] else {
            return Err("wrong parameter");
        };
        r[0] = Val::I32(x.wrapping_mul(3));
        Ok(())
    })
    .unwrap();
    let call = |expected: &SharedSignature| {
        let mut results = [Val::I32(0)];
        // SAFETY: `func` is a live funcref of this engine.
        unsafe {
            engine.call_indirect(
                func.as_funcref(),
                expected,
                &[Val::I32(i32::MIN + 5)],
                &mut results,
            )
        }
        .map(|()| results[0])
    };
    assert_eq!(
        call(&mid).unwrap(),
        Val::I32((i32::MIN + 5).wrapping_mul(3))
    );
    assert_eq!(
        call(&top).unwrap(),
        Val::I32((i32::MIN + 5).wrapping_mul(3))
    );
    for refused in [&leaf, &other] {
        assert!(
            matches!(call(refused), Err(Error::SignatureMismatch { .. })),
            "{refused:?}"
        );
    }
    // A typed reference parameter: the funcref's type is checked.
    let takes_fn = Func::new_shared(&engine, &takes, |p: &[Val], r: &mut [Val]| {
        r[0] = Val::I32(matches!(p[0], Val::FuncRef(FuncRef(Some(_)))) as i32);
        Ok::<_, Error>(())
    })
    .unwrap();
    let mut out = [Val::I32(0)];
    takes_fn
        .call(&[Val::FuncRef(func.as_funcref())], &mut out)
        .unwrap();
    assert_eq!(out[0], Val::I32(1));
    let of_other = Func::new_shared(&engine, &other, |_: &[Val], _: &mut [Val]| {
        Ok::<_, Error>(())
    })
    .unwrap();
    let of_top =
        Func::new_shared(&engine, &top, |_: &[Val], _: &mut [Val]| Ok::<_, Error>(())).unwrap();
    for wrong in [of_other.as_funcref(), of_top.as_funcref(), FuncRef(None)] {
        let err = takes_fn.call(&[Val::FuncRef(wrong)], &mut out).unwrap_err();
        assert!(
            matches!(err, Error::ValueMismatch { index: 0, .. }),
            "{err}"
        );
    }
    assert!(matches!(
        takes_fn.call(&[Val::I32(1)], &mut out),
        Err(Error::TypeMismatch { .. })
    ));
    // The compiled check: subtypes through the engine's table; without a
    // table, equality only.
    let stub = engine.signature_check_stub().unwrap();
    let f = func.vm_func_ref().as_ptr();
    // SAFETY: a live funcref of this engine; the engine's own subtype table or none.
    let check =
        |expected: &SharedSignature, table| unsafe { stub(f, expected.index().bits(), table) };
    let table = engine.subtype_table();
    assert_eq!(
        [&mid, &top, &leaf, &other].map(|t| check(t, table)),
        [0, 0, 2, 2]
    );
    assert_eq!([&mid, &top].map(|t| check(t, std::ptr::null())), [0, 2]);
}
