//! WebAssembly 3.0 references at the boundary: GC references of both
//! widths, `exnref` and typed function references carried bit-exact by
//! every entry of a function (`array_call`, `native_call`, `wasm_call`:
//! generic entries and compiled trampolines), by `Func::call`,
//! `call_indirect`, typed calls and typed host functions; and the checks
//! that refuse what is not a value of a type.
#![cfg(feature = "compiler")]

use springboard::types::ModuleTypes;
use springboard::vm::ValRaw;
use springboard::{
    AnyRef32, AnyRefPtr, Config, Engine, Error, ExnRef32, ExnRefPtr, Func, FuncRef, GcRef,
    GcRefWidth, SharedSignature, Val,
};
use springboard_check::{Driver, Via};

/// Bit patterns of GC references that fit `width`: the low and high bits,
/// the sign bit of each half, asymmetric bytes.
fn edge_refs(width: GcRefWidth) -> Vec<u64> {
    let mut refs = vec![1, 0x8000_0000, 0xffff_ffff, 0x0102_0304, 0x7fff_fffe];
    if width == GcRefWidth::Pointer && usize::BITS == 64 {
        refs.extend([
            0x8000_0000_0000_0001,
            u64::MAX,
            0x0102_0304_0506_0708,
            0x1_0000_0000,
        ]);
    }
    refs
}

fn engines(width: GcRefWidth) -> Vec<(&'static str, Engine)> {
    let mut generic = Config::new();
    generic.gc_refs(width);
    let mut compiled = generic.clone();
    compiled.tier_up_after(0);
    vec![
        ("generic", Engine::new(&generic).unwrap()),
        ("compiled", Engine::new(&compiled).unwrap()),
    ]
}

/// The function types of a module, registered in `engine`.
fn types_of(engine: &Engine, wat: &str) -> Vec<SharedSignature> {
    let wasm = wat::parse_str(wat).unwrap();
    let mut module = ModuleTypes::new();
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let wasmparser::Payload::TypeSection(reader) = payload.unwrap() {
            for group in reader {
                module.push(&group.unwrap()).unwrap();
            }
        }
    }
    let groups = engine.register_module_types(&module).unwrap();
    groups
        .iter()
        .flat_map(|g| (0..g.len()).filter_map(|p| g.func(p)))
        .collect()
}

const TYPES: &str = "(module
  (type $s (sub (struct (field i32))))
  (type $echo (func (param anyref exnref (ref $s) i64 (ref null exn) eqref)
                    (result exnref anyref (ref $s) i64 eqref (ref null exn)))))";

/// The echo's results for its parameters: the references swapped pairwise,
/// the integer complemented.
fn echo(p: &[Val], r: &mut [Val]) -> Result<(), Error> {
    let Val::I64(x) = p[3] else {
        return Err(Error::NullFuncRef);
    };
    r.copy_from_slice(&[p[1], p[0], p[2], Val::I64(!x), p[5], p[4]]);
    Ok(())
}

#[test]
fn gc_references_of_both_widths_are_carried_bit_exact_by_every_entry() {
    for width in [GcRefWidth::Bits32, GcRefWidth::Pointer] {
        let compiler = springboard_compiler::Compiler::builder()
            .gc_refs(width)
            .build()
            .unwrap();
        for (name, engine) in engines(width) {
            let ty = types_of(&engine, TYPES).pop().unwrap();
            let f = Func::new_shared(&engine, &ty, echo).unwrap();
            let driver = Driver::new(&compiler, ty.signature()).unwrap();
            let refs = edge_refs(width);
            for (i, &bits) in refs.iter().enumerate() {
                let other = refs[(i + 1) % refs.len()];
                let params = [
                    Val::AnyRef(GcRef(bits)),
                    Val::ExnRef(GcRef(other)),
                    Val::AnyRef(GcRef(bits ^ 2)),
                    Val::I64(i64::MIN + i as i64),
                    Val::ExnRef(GcRef::NULL),
                    Val::AnyRef(GcRef(other)),
                ];
                let want = [
                    params[1],
                    params[0],
                    params[2],
                    Val::I64(!(i64::MIN + i as i64)),
                    params[5],
                    params[4],
                ];
                let mut got = [Val::I32(0); 6];
                f.call(&params, &mut got).unwrap();
                assert_eq!(got, want, "{name}, {width:?}: Func::call");
                // SAFETY: a live funcref of this engine.
                unsafe { engine.call_indirect(f.as_funcref(), &ty, &params, &mut got) }.unwrap();
                assert_eq!(got, want, "{name}, {width:?}: call_indirect");
                let raw: Vec<ValRaw> = params.iter().map(|v| v.to_raw()).collect();
                for via in Via::ALL {
                    // SAFETY: a live funcref of the driver's type, which has a
                    // wasm entry (host functions of this engine do).
                    let out = unsafe {
                        driver.call_funcref(
                            via,
                            f.vm_func_ref().as_ref(),
                            engine.caller_vmctx().as_ptr(),
                            &raw,
                        )
                    }
                    .unwrap();
                    let out: Vec<Val> = out
                        .iter()
                        .zip(ty.signature().results())
                        .map(|(&r, &t)| Val::from_raw(r, t, width))
                        .collect();
                    assert_eq!(out, want, "{name}, {width:?}: via {via:?}");
                }
            }
        }
    }
}

/// Typed host functions and typed calls with the Rust types of the
/// engine's width, and refusals of the other width's.
#[test]
fn typed_gc_references_follow_the_engines_width() {
    let patterns = [1u32, 0x8000_0000, u32::MAX, 0x0102_0304];
    for (name, engine) in engines(GcRefWidth::Bits32) {
        let f = Func::wrap(&engine, |a: AnyRef32, e: ExnRef32| {
            (ExnRef32(e.0 ^ 1), AnyRef32(a.0))
        })
        .unwrap();
        let typed = f
            .typed::<(AnyRef32, ExnRef32), (ExnRef32, AnyRef32)>()
            .unwrap();
        for &bits in &patterns {
            assert_eq!(
                typed.call((AnyRef32(bits), ExnRef32(!bits))).unwrap(),
                (ExnRef32(!bits ^ 1), AnyRef32(bits)),
                "{name}"
            );
            let mut out = [Val::I32(0); 2];
            f.call(
                &[
                    Val::AnyRef(GcRef(bits.into())),
                    Val::ExnRef(GcRef((!bits).into())),
                ],
                &mut out,
            )
            .unwrap();
            assert_eq!(
                out,
                [
                    Val::ExnRef(GcRef((!bits ^ 1).into())),
                    Val::AnyRef(GcRef(bits.into()))
                ],
                "{name}"
            );
        }
        let too_wide = f.call(
            &[Val::AnyRef(GcRef(1 << 32)), Val::ExnRef(GcRef::NULL)],
            &mut [Val::I32(0); 2],
        );
        assert!(
            matches!(too_wide, Err(Error::ValueMismatch { index: 0, .. })),
            "{too_wide:?}"
        );
        let other_width = Func::wrap(&engine, |a: AnyRefPtr| a);
        assert!(
            matches!(other_width, Err(Error::GcWidth { .. })),
            "{other_width:?}"
        );
        assert!(
            f.typed::<(AnyRefPtr, ExnRefPtr), (ExnRefPtr, AnyRefPtr)>()
                .is_err()
        );
    }
    for (name, engine) in engines(GcRefWidth::Pointer) {
        let f = Func::wrap(&engine, |a: AnyRefPtr, e: ExnRefPtr| {
            (ExnRefPtr(e.0), AnyRefPtr(!a.0))
        })
        .unwrap();
        let typed = f
            .typed::<(AnyRefPtr, ExnRefPtr), (ExnRefPtr, AnyRefPtr)>()
            .unwrap();
        for bits in [1usize, usize::MAX, 0x8000_0000, usize::MAX / 3] {
            assert_eq!(
                typed.call((AnyRefPtr(bits), ExnRefPtr(bits ^ 7))).unwrap(),
                (ExnRefPtr(bits ^ 7), AnyRefPtr(!bits)),
                "{name}"
            );
        }
        assert!(matches!(
            Func::wrap(&engine, |a: ExnRef32| a),
            Err(Error::GcWidth { .. })
        ));
    }
}

/// What is not a value of a type is refused before anything runs: null for
/// a non-nullable reference, a reference of another hierarchy, a non-null
/// one where only null is a value; and a host function's result likewise.
#[test]
fn values_outside_a_type_are_refused() {
    let engine = Engine::default();
    let ty = types_of(&engine, TYPES).pop().unwrap();
    let f = Func::new_shared(&engine, &ty, echo).unwrap();
    let good = [
        Val::AnyRef(GcRef(8)),
        Val::ExnRef(GcRef(9)),
        Val::AnyRef(GcRef(10)),
        Val::I64(0),
        Val::ExnRef(GcRef::NULL),
        Val::AnyRef(GcRef::NULL),
    ];
    let mut out = [Val::I32(0); 6];
    f.call(&good, &mut out).unwrap();
    let cases: [(usize, Val); 4] = [
        (2, Val::AnyRef(GcRef::NULL)),    // (ref $s) is not nullable
        (0, Val::ExnRef(GcRef(1))),       // exn is not in the any hierarchy
        (1, Val::FuncRef(FuncRef(None))), // nor is a funcref an exnref
        (5, Val::ExternRef(springboard::ExternRef(None))),
    ];
    for (at, bad) in cases {
        let mut params = good;
        params[at] = bad;
        let err = f.call(&params, &mut out).unwrap_err();
        assert!(
            matches!(err, Error::ValueMismatch { index, .. } | Error::TypeMismatch { index, .. } if index == at),
            "{at}: {err}"
        );
    }
    // A host function returning null for a non-nullable result fails the call.
    let nulls = Func::new_shared(&engine, &ty, |_: &[Val], r: &mut [Val]| {
        r.copy_from_slice(&[
            Val::ExnRef(GcRef::NULL),
            Val::AnyRef(GcRef::NULL),
            Val::AnyRef(GcRef::NULL),
            Val::I64(0),
            Val::AnyRef(GcRef::NULL),
            Val::ExnRef(GcRef::NULL),
        ]);
        Ok::<_, Error>(())
    })
    .unwrap();
    let err = nulls.call(&good, &mut out).unwrap_err();
    assert!(err.to_string().contains("non-nullable"), "{err}");
    let only_null = types_of(&engine, "(module (type (func (param nullref nullexnref))))")
        .pop()
        .unwrap();
    let g = Func::new_shared(&engine, &only_null, |_: &[Val], _: &mut [Val]| {
        Ok::<_, Error>(())
    })
    .unwrap();
    g.call(
        &[Val::AnyRef(GcRef::NULL), Val::ExnRef(GcRef::NULL)],
        &mut [],
    )
    .unwrap();
    let err = g
        .call(&[Val::AnyRef(GcRef(4)), Val::ExnRef(GcRef::NULL)], &mut [])
        .unwrap_err();
    assert!(
        matches!(err, Error::ValueMismatch { index: 0, .. }),
        "{err}"
    );
}

/// The compiled `call_indirect` check walks the engine's subtype table with
/// indices whose top bit is set (the engine's own numbering, far into the
/// table's first level), on every ISA of the cross subset.
#[test]
fn the_compiled_check_walks_the_subtype_table() {
    let engine = Engine::default();
    let types = types_of(
        &engine,
        "(module (type $a (sub (func (param i32)))) (type $b (sub $a (func (param i32)))) \
                 (type $c (sub final $b (func (param i32)))) (type $d (func (param i32))))",
    );
    assert!(
        types
            .iter()
            .all(|t| t.index().bits() >= springboard::OWN_INDEX_BASE)
    );
    let leaf = Func::new_shared(&engine, &types[2], |_: &[Val], _: &mut [Val]| {
        Ok::<_, Error>(())
    })
    .unwrap();
    let stub = engine.signature_check_stub().unwrap();
    let f = leaf.vm_func_ref().as_ptr();
    // SAFETY: a live funcref of this engine; the engine's own subtype table or none.
    let check = |t: &SharedSignature, table| unsafe { stub(f, t.index().bits(), table) };
    let table = engine.subtype_table();
    assert_eq!(
        types.iter().map(|t| check(t, table)).collect::<Vec<_>>(),
        [0, 0, 0, 2]
    );
    assert_eq!(
        types
            .iter()
            .map(|t| check(t, std::ptr::null()))
            .collect::<Vec<_>>(),
        [2, 2, 0, 2]
    );
    // SAFETY: a null funcref is never read.
    assert_eq!(
        unsafe { stub(std::ptr::null(), types[0].index().bits(), table) },
        1
    );
}
