//! The caller-side check of `call_indirect` catching a signature mismatch,
//! both as a Rust call and as the compiled stub generated code would call.
//!
//! `cargo run -p springboard --example signature_check`

use springboard::{Engine, Error, Func, Signature, Val, ValType};

fn main() -> Result<(), Error> {
    let engine = Engine::default();
    let add = Func::wrap(&engine, |a: i32, b: i32| a.wrapping_add(b))?;
    let table = [add.as_funcref()]; // a one-entry funcref table

    // A `call_indirect` site expecting (i32, i32) -> i32: accepted.
    let right = engine.register(&Signature::new(
        &[ValType::I32, ValType::I32],
        &[ValType::I32],
    )?)?;
    let mut out = [Val::I32(0)];
    // SAFETY: the table holds live funcrefs of this engine.
    unsafe { engine.call_indirect(table[0], &right, &[Val::I32(2), Val::I32(3)], &mut out)? };
    println!("call_indirect as {}: {:?}", right.signature(), out[0]);

    // A site expecting (i64) -> i64: refused before anything runs.
    let wrong = engine.register(&Signature::new(&[ValType::I64], &[ValType::I64])?)?;
    let mut out = [Val::I64(0)];
    // SAFETY: as above.
    match unsafe { engine.call_indirect(table[0], &wrong, &[Val::I64(1)], &mut out) } {
        Err(e @ Error::SignatureMismatch { .. }) => {
            println!("call_indirect as {}: refused: {e}", wrong.signature())
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }

    // The same check compiled, for a runtime's generated code.
    let check = engine.signature_check_stub()?;
    let funcref = add.vm_func_ref().as_ptr();
    // SAFETY: the stub reads `type_index` of a live, non-null funcref and the
    // live engine's subtype table.
    let (ok, null, mismatch) = unsafe {
        (
            check(funcref, right.index().bits(), engine.subtype_table()),
            check(
                std::ptr::null(),
                right.index().bits(),
                engine.subtype_table(),
            ),
            check(funcref, wrong.index().bits(), engine.subtype_table()),
        )
    };
    println!("compiled check: match -> {ok}, null -> {null}, mismatch -> {mismatch}");
    assert_eq!((ok, null, mismatch), (0, 1, 2));
    Ok(())
}
