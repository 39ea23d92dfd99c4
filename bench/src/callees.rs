//! The five signatures every call benchmark measures: each one's native
//! callee (the direct-call baseline, and libffi's callee), its host function
//! (what Springboard and Wasmtime wrap) and the parameters it is called with.
//! The two compute the same. Also the untyped form of a call's parameters.

#![allow(clippy::too_many_arguments)]

use springboard::vm::{VMOpaqueContext, ValRaw};
use springboard::{GcRefWidth, Signature, Val, WasmParams};

type Ctx = *mut VMOpaqueContext;

/// `()->()`.
pub extern "C" fn none(_: Ctx, _: Ctx) {}
/// The host function of `()->()`.
pub fn host_none() {}

/// `(i32,i32)->i32`.
pub extern "C" fn add(_: Ctx, _: Ctx, a: i32, b: i32) -> i32 {
    host_add(a, b)
}
/// The host function of `(i32,i32)->i32`.
pub fn host_add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}
/// Its parameters.
pub const ADD: (i32, i32) = (40, 2);

/// `(i32,i64,f32,f64,i32,i64)->f64`.
pub extern "C" fn mixed6(_: Ctx, _: Ctx, a: i32, b: i64, c: f32, d: f64, e: i32, f: i64) -> f64 {
    host_mixed6(a, b, c, d, e, f)
}
/// The host function of `(i32,i64,f32,f64,i32,i64)->f64`.
pub fn host_mixed6(a: i32, b: i64, c: f32, d: f64, e: i32, f: i64) -> f64 {
    f64::from(a) + b as f64 + f64::from(c) + d + f64::from(e) + f as f64
}
/// Its parameters.
pub const MIXED6: (i32, i64, f32, f64, i32, i64) = (1, 2, 3.0, 4.0, 5, 6);

/// Sixteen `i64`s.
pub type I64x16 = (
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);
/// `(i64x16)->i64`.
pub extern "C" fn sum16(
    _: Ctx,
    _: Ctx,
    a: i64,
    b: i64,
    c: i64,
    d: i64,
    e: i64,
    f: i64,
    g: i64,
    h: i64,
    i: i64,
    j: i64,
    k: i64,
    l: i64,
    m: i64,
    n: i64,
    o: i64,
    p: i64,
) -> i64 {
    host_sum16(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
}
/// The host function of `(i64x16)->i64`.
pub fn host_sum16(
    a: i64,
    b: i64,
    c: i64,
    d: i64,
    e: i64,
    f: i64,
    g: i64,
    h: i64,
    i: i64,
    j: i64,
    k: i64,
    l: i64,
    m: i64,
    n: i64,
    o: i64,
    p: i64,
) -> i64 {
    a + b + c + d + e + f + g + h + i + j + k + l + m + n + o + p
}
/// Its parameters.
pub const SUM16: I64x16 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);

/// The results after the first of `(i32)->(i32,i64,f64)`, as its native
/// callee writes them.
#[repr(C)]
pub struct MultiRest(i64, f64);
/// `(i32)->(i32,i64,f64)`.
///
/// # Safety
/// `rest` must be valid for writes: the results area the native convention
/// passes.
pub unsafe extern "C" fn multi(_: Ctx, _: Ctx, a: i32, rest: *mut MultiRest) -> i32 {
    let (first, b, c) = host_multi(a);
    // SAFETY: per the caller.
    unsafe { rest.write(MultiRest(b, c)) };
    first
}
/// The host function of `(i32)->(i32,i64,f64)`.
pub fn host_multi(a: i32) -> (i32, i64, f64) {
    (a + 1, i64::from(a) * 2, f64::from(a) / 2.0)
}
/// Its parameter.
pub const MULTI: (i32,) = (21,);

/// A call's parameters as `Func::call` takes them, with their raw slots
/// (for the peers' untyped calls) and a results buffer.
pub struct Untyped {
    /// The parameters' raw slots.
    pub raw: Vec<ValRaw>,
    /// The parameters as values of the type.
    pub params: Vec<Val>,
    /// One default value per result.
    pub results: Vec<Val>,
}

/// `params` as values of `ty`.
pub fn untyped<P: WasmParams>(params: P, ty: &Signature) -> Untyped {
    let mut raw = vec![ValRaw::ZERO; ty.params().len()];
    params.store(&mut raw);
    let params = raw
        .iter()
        .zip(ty.params())
        .map(|(&r, &t)| Val::from_raw(r, t, GcRefWidth::Bits32))
        .collect();
    let results = ty.results().iter().map(|&t| Val::default_for(t)).collect();
    Untyped {
        raw,
        params,
        results,
    }
}
