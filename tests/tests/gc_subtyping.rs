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
//! validator, which shares its type context between them.

use springboard::types::ModuleTypes;
use springboard::{Engine, Error, Func, FuncRef, SharedSignature, Val};
use wasmparser::types::{CoreTypeId, Types};
use wasmparser::{Parser, Payload, Validator, WasmFeatures};

/// One function type of a module, as both sides see it.
struct FuncTy {
    handle: SharedSignature,
    oracle: CoreTypeId,
}

fn validator_is_subtype(types: &Types, mut a: CoreTypeId, b: CoreTypeId) -> bool {
    loop {
        if a == b {
            return true;
        }
        match types.as_ref().supertype_of(a) {
            Some(s) => a = s,
            None => return false,
        }
    }
}

/// Registers `wasm`'s types in `engine` (twice: the second time must find
/// the same types) and returns its function types, or `None` if the module
/// is outside what the test covers (invalid, or shared types).
fn register(engine: &Engine, validator: &mut Validator, wasm: &[u8]) -> Option<(Types, Vec<FuncTy>)> {
    let types = validator.validate_all(wasm).ok()?;
    validator.reset();
    let mut module = ModuleTypes::new();
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::TypeSection(reader) = payload.unwrap() {
            for group in reader {
                module.push(&group.unwrap()).ok()?;
            }
        }
    }
    let groups = engine.register_module_types(&module).unwrap();
    let again = engine.register_module_types(&module).unwrap();
    let mut funcs = Vec::new();
    let mut module_index = 0u32;
    for (group, twin) in groups.iter().zip(&again) {
        for position in 0..group.len() {
            assert_eq!(group.index(position), twin.index(position), "a group registered twice");
            if let Some(handle) = group.func(position) {
                funcs.push(FuncTy {
                    handle,
                    oracle: types.as_ref().core_type_at_in_module(module_index),
                });
            }
            module_index += 1;
        }
    }
    Some((types, funcs))
}

/// Compares every (sub, super) pair of `funcs`, by the registry's test and
/// by the compiled `call_indirect` check on a function of the subtype;
/// returns how many, and how many were strict subtypes.
fn compare_all(engine: &Engine, types: &Types, funcs: &[FuncTy]) -> (u64, u64) {
    let stub = engine.signature_check_stub().unwrap();
    let mut strict = 0;
    for a in funcs {
        let func = Func::new_shared(engine, &a.handle, |_: &[Val], _: &mut [Val]| Ok::<_, Error>(())).unwrap();
        for b in funcs {
            let ours = engine.is_subtype(a.handle.index(), &b.handle);
            // SAFETY: a live funcref of this engine; the engine's own test.
            let compiled = unsafe { stub(func.vm_func_ref().as_ptr(), b.handle.index().bits(), engine.subtype_check()) };
            assert_eq!(compiled, if ours { 0 } else { 2 }, "the compiled check on {:?} <: {:?}", a.handle, b.handle);
            let theirs = validator_is_subtype(types, a.oracle, b.oracle);
            assert_eq!(
                ours, theirs,
                "{:?} <: {:?}: Springboard says {ours}, the validator {theirs}",
                a.handle, b.handle
            );
            assert_eq!(a.handle == b.handle, a.oracle == b.oracle, "identity of {:?} and {:?}", a.handle, b.handle);
            strict += u64::from(ours && a.handle != b.handle);
        }
    }
    ((funcs.len() * funcs.len()) as u64, strict)
}

fn smith_module(seed: u64) -> Vec<u8> {
    let mut state = seed;
    let bytes: Vec<u8> = (0..16 * 1024)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect();
    let config = wasm_smith::Config {
        gc_enabled: true,
        exceptions_enabled: true,
        reference_types_enabled: true,
        min_types: 20,
        max_types: 120,
        max_funcs: 20,
        ..wasm_smith::Config::default()
    };
    let mut u = arbitrary::Unstructured::new(&bytes);
    wasm_smith::Module::new(config, &mut u).map(|m| m.to_bytes()).unwrap_or_default()
}

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

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A function type of the hand generator: params and results as text, its
/// finality.
#[derive(Clone)]
struct GenFunc {
    params: Vec<String>,
    results: Vec<String>,
    is_final: bool,
}

/// Type sections rich in subtyping (wasm-smith makes few function
/// subtypes): recursion groups of function types, each often declaring an
/// earlier non-final one its supertype with results narrowed (`(ref null
/// $t)` to `(ref $t)`, `funcref` to a typed reference) and parameters
/// widened, with every reference type among the values. Every module of an
/// engine starts with the same groups, so types meet across modules.
fn hand_modules(rng: &mut Rng, count: usize) -> Vec<String> {
    let mut shared: Vec<Vec<String>> = Vec::new();
    let mut shared_funcs: Vec<GenFunc> = Vec::new();
    let prefix = 1 + rng.below(6);
    let mut modules = Vec::new();
    for m in 0..count {
        let (mut groups, mut funcs) = if m == 0 { (Vec::new(), Vec::new()) } else { (shared.clone(), shared_funcs.clone()) };
        let own = 2 + rng.below(10);
        for g in 0..own {
            let mut group = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let func = gen_func(rng, &funcs);
                let index = funcs.len();
                let sup = match func.1 {
                    Some(s) => format!("${s} "),
                    None => String::new(),
                };
                let fin = if func.0.is_final { "final " } else { "" };
                group.push(format!(
                    "(type ${index} (sub {fin}{sup}(func (param {}) (result {}))))",
                    func.0.params.join(" "),
                    func.0.results.join(" ")
                ));
                funcs.push(func.0);
            }
            if m == 0 && g < prefix {
                shared.push(group.clone());
                shared_funcs = funcs.clone();
            }
            groups.push(group);
        }
        let body: Vec<String> = groups.iter().map(|g| format!("(rec {})", g.join(" "))).collect();
        modules.push(format!("(module {})", body.join(" ")));
    }
    modules
}

fn gen_func(rng: &mut Rng, earlier: &[GenFunc]) -> (GenFunc, Option<usize>) {
    let supers: Vec<usize> = (0..earlier.len()).filter(|&i| !earlier[i].is_final).collect();
    let is_final = rng.chance(25);
    if !supers.is_empty() && rng.chance(70) {
        let s = supers[rng.below(supers.len())];
        let mut f = earlier[s].clone();
        f.is_final = is_final;
        for r in &mut f.results {
            if let Some(t) = r.strip_prefix("(ref null ") {
                if rng.chance(50) {
                    *r = format!("(ref {t}");
                }
            } else if r == "funcref" && !earlier.is_empty() && rng.chance(50) {
                *r = format!("(ref null ${})", rng.below(earlier.len()));
            }
        }
        for p in &mut f.params {
            if let Some(t) = p.strip_prefix("(ref ").filter(|t| !t.starts_with("null")) {
                if rng.chance(50) {
                    *p = format!("(ref null {t}");
                }
            } else if p.starts_with("(ref null $") && rng.chance(50) {
                *p = "funcref".into();
            }
        }
        return (f, Some(s));
    }
    let value = |rng: &mut Rng| -> String {
        let simple = ["i32", "i64", "f64", "funcref", "anyref", "exnref", "eqref", "(ref null exn)", "(ref func)"];
        match rng.below(3) {
            0 if !earlier.is_empty() => {
                let null = if rng.chance(50) { "null " } else { "" };
                format!("(ref {null}${})", rng.below(earlier.len()))
            }
            _ => simple[rng.below(simple.len())].to_owned(),
        }
    };
    let params = (0..rng.below(4)).map(|_| value(rng)).collect();
    let results = (0..rng.below(3)).map(|_| value(rng)).collect();
    (GenFunc { params, results, is_final }, None)
}

/// The hand generator's modules, several per engine: with wasm-smith's,
/// at least 10^6 pairs in all, many of them strict subtypes.
#[test]
fn registry_verdicts_equal_the_validators_on_subtype_rich_modules() {
    const PAIRS: u64 = 1_000_000;
    let mut rng = Rng(0x5eed);
    let (mut pairs, mut strict, mut modules, mut rounds) = (0u64, 0u64, 0usize, 0usize);
    while pairs < PAIRS {
        rounds += 1;
        let engine = Engine::default();
        let mut validator = Validator::new_with_features(WasmFeatures::all());
        let mut all: Vec<FuncTy> = Vec::new();
        let mut last = None;
        for text in hand_modules(&mut rng, 6) {
            let wasm = wat::parse_str(&text).unwrap();
            let (types, funcs) = register(&engine, &mut validator, &wasm)
                .unwrap_or_else(|| panic!("the generator made an invalid module: {text}"));
            modules += 1;
            all.extend(funcs);
            last = Some(types);
        }
        let (n, s) = compare_all(&engine, &last.expect("six modules"), &all);
        pairs += n;
        strict += s;
    }
    assert!(strict * 50 > pairs, "only {strict} strict subtype pairs of {pairs}");
    eprintln!(
        "gc_subtyping (hand): {pairs} pairs ({strict} strict subtypes) from {modules} modules in {rounds} engines, 0 disagreements"
    );
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
            chain += &format!("(type $t{i} (sub $t{} (func (param (ref null 0))))) ", i - 1);
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
    // 64 supertypes is one more than the standard allows: both refuse it.
    let too_deep = wat::parse_str(chain_of(64)).unwrap();
    assert!(Validator::new_with_features(WasmFeatures::all()).validate_all(&too_deep).is_err());
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
        let Val::I32(x) = p[0] else { return Err("wrong parameter") };
        r[0] = Val::I32(x.wrapping_mul(3));
        Ok(())
    })
    .unwrap();
    let call = |expected: &SharedSignature| {
        let mut results = [Val::I32(0)];
        // SAFETY: `func` is a live funcref of this engine.
        unsafe { engine.call_indirect(func.as_funcref(), expected, &[Val::I32(i32::MIN + 5)], &mut results) }
            .map(|()| results[0])
    };
    assert_eq!(call(&mid).unwrap(), Val::I32((i32::MIN + 5).wrapping_mul(3)));
    assert_eq!(call(&top).unwrap(), Val::I32((i32::MIN + 5).wrapping_mul(3)));
    for refused in [&leaf, &other] {
        assert!(matches!(call(refused), Err(Error::SignatureMismatch { .. })), "{refused:?}");
    }
    // A typed reference parameter: the funcref's type is checked.
    let takes_fn = Func::new_shared(&engine, &takes, |p: &[Val], r: &mut [Val]| {
        r[0] = Val::I32(matches!(p[0], Val::FuncRef(FuncRef(Some(_)))) as i32);
        Ok::<_, Error>(())
    })
    .unwrap();
    let mut out = [Val::I32(0)];
    takes_fn.call(&[Val::FuncRef(func.as_funcref())], &mut out).unwrap();
    assert_eq!(out[0], Val::I32(1));
    let of_other = Func::new_shared(&engine, &other, |_: &[Val], _: &mut [Val]| Ok::<_, Error>(())).unwrap();
    let of_top = Func::new_shared(&engine, &top, |_: &[Val], _: &mut [Val]| Ok::<_, Error>(())).unwrap();
    for wrong in [of_other.as_funcref(), of_top.as_funcref(), FuncRef(None)] {
        let err = takes_fn.call(&[Val::FuncRef(wrong)], &mut out).unwrap_err();
        assert!(matches!(err, Error::ValueMismatch { index: 0, .. }), "{err}");
    }
    assert!(matches!(
        takes_fn.call(&[Val::I32(1)], &mut out),
        Err(Error::TypeMismatch { .. })
    ));
    // The compiled check: subtypes through the engine's test; without a
    // test, equality only.
    let stub = engine.signature_check_stub().unwrap();
    let f = func.vm_func_ref().as_ptr();
    // SAFETY: a live funcref of this engine; the engine's own test or none.
    let check = |expected: &SharedSignature, test| unsafe { stub(f, expected.index().bits(), test) };
    let test = engine.subtype_check();
    assert_eq!([&mid, &top, &leaf, &other].map(|t| check(t, test)), [0, 0, 2, 2]);
    assert_eq!([&mid, &top].map(|t| check(t, std::ptr::null())), [0, 2]);
}
