//! The WebAssembly 3.0 subtyping differential: Springboard's registry (its
//! O(1) test and the compiled `call_indirect` check) against wasmparser's
//! validator, on modules from wasm-smith and from a generator rich in
//! function subtypes. Shared by `tests/gc_subtyping.rs` and the
//! `gc_subtyping` fuzz target.
//!
//! The relation compared is the one `call_indirect` traps on: `a` is `b`
//! or declared (transitively) a subtype of it, types being canonical per
//! recursion group. The validator's verdict is its canonical type ids and
//! their declared supertypes (`supertype_of`), across modules of one
//! validator, which shares its type context between them. (Its
//! `TypeList::matches` is structural compatibility, the rule for declaring
//! a supertype, not this relation.)

use springboard::types::ModuleTypes;
use springboard::{Engine, Error, Func, SharedSignature, Val};
use springboard_check::values::ValueGen;
use wasmparser::types::{CoreTypeId, Types};
use wasmparser::{Parser, Payload, Validator, WasmFeatures};

/// One function type of a module, as both sides see it.
pub struct FuncTy {
    /// Its handle in the engine.
    pub handle: SharedSignature,
    /// The validator's id of it.
    pub oracle: CoreTypeId,
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
pub fn register(
    engine: &Engine,
    validator: &mut Validator,
    wasm: &[u8],
) -> Option<(Types, Vec<FuncTy>)> {
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
            assert_eq!(
                group.index(position),
                twin.index(position),
                "a group registered twice"
            );
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
pub fn compare_all(engine: &Engine, types: &Types, funcs: &[FuncTy]) -> (u64, u64) {
    let stub = engine.signature_check_stub().unwrap();
    let mut strict = 0;
    for a in funcs {
        let func = Func::new_shared(engine, &a.handle, |_: &[Val], _: &mut [Val]| {
            Ok::<_, Error>(())
        })
        .unwrap();
        for b in funcs {
            let ours = engine.is_subtype(a.handle.index(), &b.handle);
            // SAFETY: a live funcref of this engine; the engine's own test.
            let compiled = unsafe {
                stub(
                    func.vm_func_ref().as_ptr(),
                    b.handle.index().bits(),
                    engine.subtype_table(),
                )
            };
            assert_eq!(
                compiled,
                if ours { 0 } else { 2 },
                "the compiled check on {:?} <: {:?}",
                a.handle,
                b.handle
            );
            let theirs = validator_is_subtype(types, a.oracle, b.oracle);
            assert_eq!(
                ours, theirs,
                "{:?} <: {:?}: Springboard says {ours}, the validator {theirs}",
                a.handle, b.handle
            );
            assert_eq!(
                a.handle == b.handle,
                a.oracle == b.oracle,
                "identity of {:?} and {:?}",
                a.handle,
                b.handle
            );
            strict += u64::from(ours && a.handle != b.handle);
        }
    }
    ((funcs.len() * funcs.len()) as u64, strict)
}

pub fn smith_module(seed: u64) -> Vec<u8> {
    let mut values = ValueGen::new(seed);
    let bytes: Vec<u8> = (0..16 * 1024).map(|_| values.next_u64() as u8).collect();
    smith_module_from(&bytes).unwrap_or_default()
}

/// A wasm-smith module with GC and exceptions, from `bytes`.
pub fn smith_module_from(bytes: &[u8]) -> Option<Vec<u8>> {
    let config = wasm_smith::Config {
        gc_enabled: true,
        exceptions_enabled: true,
        reference_types_enabled: true,
        min_types: 20,
        max_types: 120,
        max_funcs: 20,
        ..wasm_smith::Config::default()
    };
    let mut u = arbitrary::Unstructured::new(bytes);
    wasm_smith::Module::new(config, &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

/// The hand generator's randomness: the check crate's SplitMix64.
pub type Rng = ValueGen;

fn below(rng: &mut Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

fn chance(rng: &mut Rng, percent: u64) -> bool {
    rng.next_u64() % 100 < percent
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
pub fn hand_modules(rng: &mut Rng, count: usize) -> Vec<String> {
    hand_modules_with(rng, count, false)
}

/// [`hand_modules`] with, in each module, a function of each type exported
/// as `f<i>` (its body `unreachable`), all of them in a table, and for each
/// type whose parameters have defaults (numbers, nullable references) a
/// probe `p<i>(slot: i32)` that does `call_indirect (type $i)` on the
/// table's `slot`: it traps with a bad signature exactly when the function
/// there is not of a subtype of `$i`, and with `unreachable` otherwise.
pub fn hand_modules_with_probes(rng: &mut Rng, count: usize) -> Vec<String> {
    hand_modules_with(rng, count, true)
}

fn probes(funcs: &[GenFunc]) -> String {
    let n = funcs.len();
    let mut out = String::new();
    for i in 0..n {
        out += &format!("(func $f{i} (export \"f{i}\") (type ${i}) unreachable) ");
    }
    let names: Vec<String> = (0..n).map(|i| format!("$f{i}")).collect();
    out += &format!(
        "(table $tab {n} funcref) (elem (table $tab) (i32.const 0) func {}) ",
        names.join(" ")
    );
    for (i, f) in funcs.iter().enumerate() {
        let defaults: Option<Vec<String>> = f.params.iter().map(|p| default_of(p)).collect();
        let Some(defaults) = defaults else { continue };
        let drops = "(drop) ".repeat(f.results.len());
        out += &format!(
            "(func (export \"p{i}\") (param i32) (call_indirect $tab (type ${i}) {} (local.get 0)) {drops}) ",
            defaults.join(" ")
        );
    }
    out
}

/// The instruction of a parameter's default value, if it has one.
fn default_of(ty: &str) -> Option<String> {
    Some(match ty {
        "i32" => "(i32.const 0)".into(),
        "i64" => "(i64.const 0)".into(),
        "f64" => "(f64.const 0)".into(),
        "funcref" => "(ref.null func)".into(),
        "anyref" => "(ref.null any)".into(),
        "eqref" => "(ref.null eq)".into(),
        "exnref" | "(ref null exn)" => "(ref.null exn)".into(),
        _ => format!(
            "(ref.null {})",
            ty.strip_prefix("(ref null ")?.strip_suffix(')')?
        ),
    })
}

fn hand_modules_with(rng: &mut Rng, count: usize, with_probes: bool) -> Vec<String> {
    let mut shared: Vec<Vec<String>> = Vec::new();
    let mut shared_funcs: Vec<GenFunc> = Vec::new();
    let prefix = 1 + below(rng, 6);
    let mut modules = Vec::new();
    for m in 0..count {
        let (mut groups, mut funcs) = if m == 0 {
            (Vec::new(), Vec::new())
        } else {
            (shared.clone(), shared_funcs.clone())
        };
        let own = 2 + below(rng, 10);
        for g in 0..own {
            let mut group = Vec::new();
            for _ in 0..1 + below(rng, 3) {
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
        let body: Vec<String> = groups
            .iter()
            .map(|g| format!("(rec {})", g.join(" ")))
            .collect();
        let extra = if with_probes {
            probes(&funcs)
        } else {
            String::new()
        };
        modules.push(format!("(module {} {extra})", body.join(" ")));
    }
    modules
}

fn gen_func(rng: &mut Rng, earlier: &[GenFunc]) -> (GenFunc, Option<usize>) {
    let supers: Vec<usize> = (0..earlier.len())
        .filter(|&i| !earlier[i].is_final)
        .collect();
    let is_final = chance(rng, 25);
    if !supers.is_empty() && chance(rng, 70) {
        let s = supers[below(rng, supers.len())];
        let mut f = earlier[s].clone();
        f.is_final = is_final;
        for r in &mut f.results {
            if let Some(t) = r.strip_prefix("(ref null ") {
                if chance(rng, 50) {
                    *r = format!("(ref {t}");
                }
            } else if r == "funcref" && !earlier.is_empty() && chance(rng, 50) {
                *r = format!("(ref null ${})", below(rng, earlier.len()));
            }
        }
        for p in &mut f.params {
            if let Some(t) = p.strip_prefix("(ref ").filter(|t| !t.starts_with("null")) {
                if chance(rng, 50) {
                    *p = format!("(ref null {t}");
                }
            } else if p.starts_with("(ref null $") && chance(rng, 50) {
                *p = "funcref".into();
            }
        }
        return (f, Some(s));
    }
    let value = |rng: &mut Rng| -> String {
        let simple = [
            "i32",
            "i64",
            "f64",
            "funcref",
            "anyref",
            "exnref",
            "eqref",
            "(ref null exn)",
            "(ref func)",
        ];
        match below(rng, 3) {
            0 if !earlier.is_empty() => {
                let null = if chance(rng, 50) { "null " } else { "" };
                format!("(ref {null}${})", below(rng, earlier.len()))
            }
            _ => simple[below(rng, simple.len())].to_owned(),
        }
    };
    let params = (0..below(rng, 4)).map(|_| value(rng)).collect();
    let results = (0..below(rng, 3)).map(|_| value(rng)).collect();
    (
        GenFunc {
            params,
            results,
            is_final,
        },
        None,
    )
}

/// Registers modules into engines, several per engine, and compares every
/// pair of each engine's function types: wasm-smith's from `seeds` and the
/// hand generator's from `rng`, until `pairs` pairs. Returns the pairs and
/// the strict subtypes among them. Panics on a disagreement.
pub fn differential(
    mut next_smith: impl FnMut() -> Option<Vec<u8>>,
    rng: &mut Rng,
    pairs: u64,
    per_engine: usize,
) -> (u64, u64) {
    let (mut done, mut strict) = (0u64, 0u64);
    while done < pairs {
        let engine = Engine::default();
        let mut validator = Validator::new_with_features(WasmFeatures::all());
        let mut all: Vec<FuncTy> = Vec::new();
        let mut last: Option<Types> = None;
        let hand = hand_modules(rng, per_engine);
        for text in &hand {
            let mut add = |wasm: &[u8]| {
                if let Some((types, funcs)) = register(&engine, &mut validator, wasm) {
                    all.extend(funcs);
                    last = Some(types);
                }
            };
            if let Some(wasm) = next_smith() {
                add(&wasm);
            }
            add(&wat::parse_str(text).expect("the generator writes valid text"));
        }
        let Some(types) = last else { continue };
        let (n, s) = compare_all(&engine, &types, &all);
        done += n;
        strict += s;
    }
    (done, strict)
}
