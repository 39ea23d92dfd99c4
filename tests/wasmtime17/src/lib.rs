//! What the tests against real Wasmtime 17 share: a store whose wasm can be
//! entered, values converted between the two crates, and a place to run
//! Springboard code as Wasmtime's own host code runs.

#![cfg(target_arch = "x86_64")]

use springboard::{Signature, Val, ValType};
use std::sync::{Arc, Mutex};

/// The wasm the tests compile with Wasmtime: exports of every value type,
/// results beyond the registers of each class, and parameters on the stack.
pub const BODIES: &str = r#"
(module
  (func (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add)
  (func (export "mixed") (param i32 i64 f32 f64) (result i64 f64 i32 f32)
    local.get 1 local.get 3 local.get 0 local.get 2)
  (func (export "four_ints") (param i32 i64) (result i32 i64 i32 i64)
    local.get 0 local.get 1
    local.get 0 i32.const 1 i32.add
    local.get 1 i64.const -1 i64.xor)
  (func (export "eight") (param i64) (result i32 i64 f32 f64 v128 i32 f64 i64)
    local.get 0 i32.wrap_i64
    local.get 0
    local.get 0 f32.convert_i64_s
    local.get 0 f64.reinterpret_i64
    local.get 0 i64x2.splat
    local.get 0 i64.const 32 i64.shr_u i32.wrap_i64
    local.get 0 f64.convert_i64_u
    local.get 0 i64.const 1 i64.rotl)
  (func (export "floats") (param f32 f64 f32 f64) (result f64 f32 f64 f32)
    local.get 3 local.get 2 local.get 1 local.get 0)
  (func (export "vectors") (param v128 v128) (result v128 v128)
    local.get 0 local.get 1 i32x4.add
    local.get 1)
  (func (export "twenty")
    (param i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64)
    (result i64 f64 i32)
    local.get 17 local.get 19 local.get 16)
  (func (export "refs") (param funcref externref) (result externref funcref)
    local.get 1 local.get 0)
)
"#;

/// A Wasmtime 17 value as a Springboard one (references by address).
pub fn to_springboard(v: &wasmtime::Val) -> Val {
    match v {
        wasmtime::Val::I32(x) => Val::I32(*x),
        wasmtime::Val::I64(x) => Val::I64(*x),
        wasmtime::Val::F32(bits) => Val::F32(*bits),
        wasmtime::Val::F64(bits) => Val::F64(*bits),
        wasmtime::Val::V128(x) => Val::V128(x.as_u128()),
        other => panic!("no plain conversion of {other:?}"),
    }
}

/// A Springboard value as a Wasmtime 17 one.
pub fn to_wasmtime(v: &Val) -> wasmtime::Val {
    match v {
        Val::I32(x) => wasmtime::Val::I32(*x),
        Val::I64(x) => wasmtime::Val::I64(*x),
        Val::F32(bits) => wasmtime::Val::F32(*bits),
        Val::F64(bits) => wasmtime::Val::F64(*bits),
        Val::V128(x) => wasmtime::Val::V128((*x).into()),
        other => panic!("no plain conversion of {other:?}"),
    }
}

/// A Wasmtime 17 function type as a Springboard signature.
pub fn signature(ty: &wasmtime::FuncType) -> Signature {
    let convert = |t: wasmtime::ValType| match t {
        wasmtime::ValType::I32 => ValType::I32,
        wasmtime::ValType::I64 => ValType::I64,
        wasmtime::ValType::F32 => ValType::F32,
        wasmtime::ValType::F64 => ValType::F64,
        wasmtime::ValType::V128 => ValType::V128,
        wasmtime::ValType::FuncRef => ValType::FUNCREF,
        wasmtime::ValType::ExternRef => ValType::EXTERNREF,
    };
    let params: Vec<_> = ty.params().map(convert).collect();
    let results: Vec<_> = ty.results().map(convert).collect();
    Signature::new(&params, &results).expect("within limits")
}

/// Runs `f` as a Wasmtime host function runs: inside a call Wasmtime
/// entered, so that its wasm finds the stack limit set and its traps a
/// handler.
pub fn inside_wasmtime<R: Send + 'static>(
    store: &mut wasmtime::Store<()>,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let f = Mutex::new(Some(f));
    let out = Arc::new(Mutex::new(None));
    let sink = Arc::clone(&out);
    let host = wasmtime::Func::wrap(&mut *store, move || {
        let f = f.lock().unwrap().take().expect("called once");
        *sink.lock().unwrap() = Some(f());
    });
    host.call(&mut *store, &[], &mut []).unwrap();
    out.lock().unwrap().take().expect("the host function ran")
}

/// Runs `f` as Wasmtime runs a call into wasm: inside a call Wasmtime
/// entered (its stack limit set), under Wasmtime's own catch point for the
/// instance `vmctx`, with backtraces on. A trap beneath — a wasm trap, or a
/// host failure raised with `raise_user_trap` — returns here as Wasmtime's
/// `Trap`, abandoning `f`'s frames (which must own nothing then).
pub fn under_wasmtime_traps(
    store: &mut wasmtime::Store<()>,
    vmctx: *mut springboard::vm::VMOpaqueContext,
    mut f: impl FnMut() + Send + 'static,
) -> Result<(), Box<wasmtime_runtime::Trap>> {
    let vmctx = vmctx as usize;
    inside_wasmtime(store, move || {
        // SAFETY: `vmctx` is a live core instance context of this store;
        // `f` owns nothing across the wasm it calls (the caller's word).
        unsafe { wasmtime_runtime::catch_traps(None, true, false, vmctx as *mut _, |_| f()) }
    })
}

/// A Springboard signature as a Wasmtime 17 function type.
pub fn func_type(sig: &Signature) -> wasmtime::FuncType {
    let convert = |t: &ValType| match t {
        ValType::I32 => wasmtime::ValType::I32,
        ValType::I64 => wasmtime::ValType::I64,
        ValType::F32 => wasmtime::ValType::F32,
        ValType::F64 => wasmtime::ValType::F64,
        ValType::V128 => wasmtime::ValType::V128,
        // Wasmtime 17 knows two reference types: trampoline types only.
        ValType::Ref(r) if r.heap().top() == springboard::Top::Func => wasmtime::ValType::FuncRef,
        ValType::Ref(_) => wasmtime::ValType::ExternRef,
    };
    wasmtime::FuncType::new(
        sig.params().iter().map(convert),
        sig.results().iter().map(convert),
    )
}

/// Wasmtime 17's own numbering of function types, for a Springboard engine
/// ([`springboard::TypeIndices`]): the index Wasmtime's engine-wide registry
/// gives a type, read from the funcref of a host function of that type,
/// which a store of its own keeps registered.
pub struct WasmtimeIndices {
    store: Mutex<wasmtime::Store<()>>,
}

impl WasmtimeIndices {
    /// Indices of `engine`'s registry.
    pub fn new(engine: &wasmtime::Engine) -> Arc<WasmtimeIndices> {
        Arc::new(WasmtimeIndices {
            store: Mutex::new(wasmtime::Store::new(engine, ())),
        })
    }

    /// The index Wasmtime gives `ty`.
    pub fn index_of_type(&self, ty: &wasmtime::FuncType) -> u32 {
        let mut store = self.store.lock().unwrap();
        let func = wasmtime::Func::new(&mut *store, ty.clone(), |_, _, _| Ok(()));
        // SAFETY: the store lives in `self`; the funcref is only read.
        let raw = unsafe { func.to_raw(&mut *store) }.cast::<springboard::vm::VMFuncRef>();
        // SAFETY: a live Wasmtime 17 funcref, whose layout is vm-abi's.
        unsafe { (*raw).type_index.bits() }
    }
}

impl springboard::TypeIndices for WasmtimeIndices {
    fn index_of(
        &self,
        group: &springboard::types::RecGroup,
        position: usize,
    ) -> Result<springboard::vm::VMSharedSignatureIndex, springboard::BoxError> {
        let ty = group.types()[position]
            .as_func()
            .ok_or("Wasmtime 17 numbers function types only")?;
        Ok(springboard::vm::VMSharedSignatureIndex::new(
            self.index_of_type(&func_type(ty)),
        ))
    }
}

/// The results Wasmtime's own `Func::call` gives for `args`: what every
/// test compares Springboard's against.
pub fn wasmtime_results(
    store: &mut wasmtime::Store<()>,
    f: &wasmtime::Func,
    args: &[Val],
) -> Vec<Val> {
    let args: Vec<wasmtime::Val> = args.iter().map(to_wasmtime).collect();
    let mut results = vec![wasmtime::Val::I32(0); f.ty(&*store).results().len()];
    f.call(&mut *store, &args, &mut results).unwrap();
    results.iter().map(to_springboard).collect()
}

/// Arguments of `tys` whose bits differ everywhere: each a rotation of a
/// pattern holding a NaN payload, sign bits and `-0.0`'s bit, by `shift`.
pub fn pattern_args(tys: &[ValType], shift: u32) -> Vec<Val> {
    tys.iter()
        .enumerate()
        .map(|(i, &t)| {
            let bits = 0xfff8_dead_beef_0001_8000_0000_7fa0_0001_u128
                .rotate_left(shift.wrapping_add(i as u32 * 7));
            Val::from_raw(
                springboard::vm::ValRaw::v128(bits),
                t,
                springboard::GcRefWidth::Bits32,
            )
        })
        .collect()
}

/// Calls `func` through each of `vias`, with `args` and `caller`, by the
/// one driver of `springboard-check`; returns each entry's results.
///
/// # Safety
/// `func` must be a live funcref of the driver's signature, whose
/// `wasm_call` (for `Via::Wasm`) has the driver's wasm convention, and
/// `caller` a context its entries accept.
pub unsafe fn through(
    driver: &springboard_check::Driver,
    vias: &[springboard_check::Via],
    func: &springboard::vm::VMFuncRef,
    caller: *mut springboard::vm::VMOpaqueContext,
    args: &[Val],
) -> Vec<(springboard_check::Via, Vec<Val>)> {
    let raw_args: Vec<_> = args.iter().map(|v| v.to_raw()).collect();
    let results = driver.signature().results();
    vias.iter()
        .map(|&via| {
            // SAFETY: forwarded to the caller.
            let raw = unsafe { driver.call_funcref(via, func, caller, &raw_args) }.unwrap();
            let vals = raw
                .iter()
                .zip(results)
                .map(|(&r, &t)| Val::from_raw(r, t, springboard::GcRefWidth::Bits32))
                .collect();
            (via, vals)
        })
        .collect()
}

/// `func` through its `array_call` (`Func::call`), then through each of
/// `vias` by `driver`, with `args` and `caller`: each entry's results.
///
/// # Safety
/// As for [`through`], for `func`'s funcref.
pub unsafe fn func_then_through(
    func: &springboard::Func,
    driver: &springboard_check::Driver,
    vias: &[springboard_check::Via],
    caller: *mut springboard::vm::VMOpaqueContext,
    args: &[Val],
) -> Vec<(springboard_check::Via, Vec<Val>)> {
    let mut through_array: Vec<Val> = func
        .ty()
        .results()
        .iter()
        .map(|&t| Val::default_for(t))
        .collect();
    func.call(args, &mut through_array).unwrap();
    let mut all = vec![(springboard_check::Via::Array, through_array)];
    // SAFETY: forwarded to the caller.
    all.extend(unsafe { through(driver, vias, func.vm_func_ref().as_ref(), caller, args) });
    all
}
