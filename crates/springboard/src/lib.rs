//! The host⇄wasm call machinery of a WebAssembly runtime, as a library.
//!
//! An [`Engine`] interns function types into [`SharedSignature`]s, compiles
//! (or loads) the trampolines of each type once — for host functions in the
//! background, behind generic entries that work for every type from the
//! first call ([`Config::tier_up_after`]) — and makes [`Func`]s: live
//! `VMFuncRef`s callable through the *wasm*, *native* and *array* calling
//! conventions. Calls from the host are checked: [`Func::call`] checks values
//! against the type, [`Func::typed`] checks the type once and returns a
//! [`TypedFunc`] with no per-call cost, and [`Engine::call_indirect`] (untyped)
//! and [`Engine::typed_indirect`] (typed) are `call_indirect` from the host:
//! the caller-side signature check, where a mismatch is an
//! [`Error::SignatureMismatch`], never undefined behaviour, then the call.
//!
//! # Example
//!
//! ```
//! use springboard::{Engine, Func, Val, Signature, ValType, Error, FuncRef};
//!
//! # fn main() -> Result<(), Error> {
//! let engine = Engine::default();
//!
//! // A typed host function; its wasm entry is the type's `wasm_to_native`
//! // trampoline (generic until compiled), its native entry a Rust shim.
//! let add = Func::wrap(&engine, |a: i32, b: i32| a.wrapping_add(b))?;
//! assert_eq!(add.ty().to_string(), "(func (param i32 i32) (result i32))");
//!
//! // Untyped call through `array_call`, values checked against the type.
//! let mut out = [Val::I32(0)];
//! add.call(&[Val::I32(40), Val::I32(2)], &mut out)?;
//! assert_eq!(out[0], Val::I32(42));
//!
//! // Typed call through `native_call`: the type is checked once, here.
//! let typed = add.typed::<(i32, i32), i32>()?;
//! assert_eq!(typed.call((20, 22))?, 42);
//!
//! // The `call_indirect` check: a funcref called as another type is refused.
//! let expected = engine.register(&Signature::new(&[ValType::I64], &[])?)?;
//! // SAFETY: the funcref comes from a live `Func` of this engine.
//! let err = unsafe { engine.call_indirect(add.as_funcref(), &expected, &[Val::I64(1)], &mut []) };
//! assert!(matches!(err, Err(Error::SignatureMismatch { .. })));
//! # Ok(()) }
//! ```
//!
//! # Host failures
//!
//! A host closure that panics or returns `Err` never unwinds through
//! generated code and never returns into the wasm that called it: its shim
//! catches the failure, runs the closure's destructors, and resumes at the
//! catch point of the innermost Springboard call on this thread that entered
//! generated code — the entry trampoline itself, for the engine's own
//! entries — which returns the failure as `Err` ([`Error::Host`] or
//! [`Error::HostPanic`]); no wasm instruction after the import call runs.
//! Nested calls each catch their own failures. A runtime with trap machinery
//! of its own plugs it in with [`Config::raise_hook`] and, for its stack
//! walker, [`Config::bookkeeping`]; see `docs/ABI.md`, "Host failures".
//!
//! # Features
//!
//! `compiler` (default): compile trampolines with Cranelift. Without it,
//! trampolines come only from objects loaded with [`Engine::load_object`];
//! host functions of other types keep their generic entries (where the host
//! has them, see [`Engine::generic_entries`]: nothing ever tiers up), and
//! otherwise `VMFuncRef::wasm_call` of a typed host function stays `None`
//! when no loaded object holds a `wasm_to_native` trampoline for its type.
#![deny(missing_docs)]

/// Invokes `$m!` once per arity of typed functions, 0 to 16, with the
/// parameter names and their slot indices.
macro_rules! for_each_arity {
    ($m:ident) => {
        $m!();
        $m!(A1 0);
        $m!(A1 0 A2 1);
        $m!(A1 0 A2 1 A3 2);
        $m!(A1 0 A2 1 A3 2 A4 3);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10 A12 11);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10 A12 11 A13 12);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10 A12 11 A13 12 A14 13);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10 A12 11 A13 12 A14 13 A15 14);
        $m!(A1 0 A2 1 A3 2 A4 3 A5 4 A6 5 A7 6 A8 7 A9 8 A10 9 A11 10 A12 11 A13 12 A14 13 A15 14 A16 15);
    };
}

mod call;
mod engine;
mod error;
mod func;
mod generic;
mod indirect;
mod plan;
mod registry;
mod shims;
mod source;
mod subtypes;
mod tail_call;
mod trap;
mod tuples;
mod type_state;
mod typed;
mod val;

#[cfg(feature = "compiler")]
pub use engine::OptLevel;
pub use engine::{Compilation, Config, Engine, SignatureCheckFn};
pub use error::{BoxError, Error};
pub use func::{Func, RawWasmFunc};
pub use indirect::TypedIndirect;
pub use registry::{OWN_INDEX_BASE, RegisteredGroup, SharedSignature, TypeIndices};
pub use shims::{Caller, HostReturn, IntoFunc, NativeShims};
pub use springboard_environ::types;
pub use springboard_environ::{
    Bookkeeping, Composite, GcRefWidth, HeapType, RefType, Signature, SignatureError, Top,
    TrampolineKind, TypeIndex, ValType, WasmConv,
};
pub use springboard_loader::{CodePages, CodeProvider, MmapProvider};
pub use springboard_vm_abi as vm;
pub use trap::{RaiseHook, as_host, take_host_failure};
pub use tuples::{WasmParams, WasmResults};
pub use typed::TypedFunc;
pub use val::{
    AnyRef32, AnyRefPtr, ExnRef32, ExnRefPtr, ExternRef, FuncRef, GcRef, V128, Val, WasmTy,
};
