//! A host function called through each calling convention of its funcref.
//!
//! `cargo run -p springboard --example host_function`

use springboard::{Engine, Func, Val};

fn main() -> Result<(), springboard::Error> {
    let engine = Engine::default();
    // A typed host function: (i32, f64) -> (f64, i32).
    let scale = Func::wrap(&engine, |n: i32, x: f64| (f64::from(n) * x, n.signum()))?;
    println!("host function of type {}", scale.ty());

    // 1. array convention: `VMFuncRef::array_call`, values checked.
    let mut results = [Val::F64(0), Val::I32(0)];
    scale.call(&[Val::I32(-3), Val::F64(2.5f64.to_bits())], &mut results)?;
    let [Val::F64(bits), Val::I32(sign)] = results else {
        unreachable!("checked types")
    };
    println!(
        "array  call: scale(-3, 2.5) = ({}, {sign})",
        f64::from_bits(bits)
    );

    // 2. native convention: `VMFuncRef::native_call`, type checked once.
    let typed = scale.typed::<(i32, f64), (f64, i32)>()?;
    println!("native call: scale(4, 0.25) = {:?}", typed.call((4, 0.25))?);

    // 3. wasm convention: `VMFuncRef::wasm_call` is the compiled
    // wasm_to_native trampoline. Rust cannot call the wasm convention
    // directly, so wrap that entry as a wasm function: its own native entry
    // (a stamped native_to_wasm trampoline) calls into it.
    // SAFETY: `scale` outlives `via_wasm`, and its wasm entry is wasm-convention
    // code of the same type expecting exactly `scale`'s context.
    let via_wasm = unsafe {
        let f = scale.vm_func_ref().as_ref();
        Func::from_raw_wasm(&engine, scale.ty(), f.wasm_call.expect("compiled"), f.vmctx)?
    };
    let typed = via_wasm.typed::<(i32, f64), (f64, i32)>()?;
    println!("wasm   call: scale(7, -1.0) = {:?}", typed.call((7, -1.0))?);
    Ok(())
}
