//! The host⇄wasm call machinery of a WebAssembly runtime, as a library.
//!
//! An [`Engine`] interns function types into [`SharedSignature`]s, compiles
//! (or loads) the trampolines of each type once — for host functions in the
//! background, behind generic entries that work for every type from the
//! first call ([`Config::tier_up_after`]) — and makes [`Func`]s: live
//! `VMFuncRef`s callable through the *wasm*, *native* and *array* calling
//! conventions. Calls from the host are checked: [`Func::call`] checks values
//! against the type, [`Func::typed`] checks the type once and returns a
//! [`TypedFunc`] with no per-call cost, and [`Engine::call_indirect`] is the
//! caller-side signature check of `call_indirect`, where a mismatch is an
//! [`Error::SignatureMismatch`], never undefined behaviour.
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
//! catches the failure, runs the closure's destructors, and jumps straight
//! back to the innermost Springboard call on this thread that entered
//! generated code, which returns the failure as `Err` ([`Error::Host`] or
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

mod engine;
mod func;
mod lazy;
mod registry;
mod shims;
mod slots;
mod source;
mod trap;
mod typed;
mod val;

#[cfg(feature = "compiler")]
pub use engine::OptLevel;
pub use engine::{Compilation, Config, Engine, SignatureCheckFn};
pub use func::{Func, RawWasmFunc, TypedFunc};
pub use registry::{OWN_INDEX_BASE, SharedSignature, TypeIndices};
pub use shims::{Caller, HostReturn, IntoFunc, NativeShims};
pub use springboard_environ::{
    Bookkeeping, Signature, SignatureError, TrampolineKind, ValType, WasmConv,
};
pub use springboard_loader::{CodePages, CodeProvider, MmapProvider};
pub use springboard_vm_abi as vm;
pub use trap::{BoxError, RaiseHook, as_host, take_host_failure};
pub use typed::{WasmParams, WasmResults};
pub use val::{ExternRef, FuncRef, V128, Val, WasmTy};

/// Everything that can go wrong in the facade.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A funcref's type differs from the type it is called as.
    #[error("signature mismatch: expected {expected}, got {actual}")]
    SignatureMismatch {
        /// The type the caller expected, in wasm text form.
        expected: Signature,
        /// The funcref's type in wasm text form (or why it is unknown).
        actual: String,
    },
    /// A null funcref was called.
    #[error("null funcref")]
    NullFuncRef,
    /// A type handle of another engine was given to this one.
    #[error("the type {ty} was registered in another engine")]
    ForeignSignature {
        /// The type.
        ty: Signature,
    },
    /// Too many or too few values.
    #[error("expected {expected} {what}, got {got}")]
    ArityMismatch {
        /// `"parameters"` or `"results"`.
        what: &'static str,
        /// How many the type has.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// A value of the wrong type.
    #[error("{what} {index}: expected {expected}, got {got}")]
    TypeMismatch {
        /// `"parameters"` or `"results"`.
        what: &'static str,
        /// Which value.
        index: usize,
        /// The type it should have.
        expected: ValType,
        /// The type it has.
        got: ValType,
    },
    /// An array call with a buffer too small for the type.
    #[error("array call with {capacity} slots, but the type needs {needed}")]
    BufferTooSmall {
        /// The capacity passed.
        capacity: usize,
        /// `max(params, results)`.
        needed: usize,
    },
    /// A host closure returned an error.
    #[error("host function failed: {0}")]
    Host(BoxError),
    /// A host closure panicked.
    #[error("host function panicked: {0}")]
    HostPanic(String),
    /// A trampoline the operation needs is not available (no compiler, and no
    /// loaded object holds it).
    #[error(
        "no {kind} trampoline for {ty}: enable the `compiler` feature or load an object that holds one"
    )]
    MissingTrampoline {
        /// The kind needed.
        kind: TrampolineKind,
        /// For which type.
        ty: Signature,
    },
    /// An untyped host function on an engine whose host functions leave
    /// `wasm_call` to the runtime: runtimes fill it only for typed ones.
    #[error(
        "an untyped host function of {ty} needs a compiled wasm_call, and this engine makes none (Config::host_wasm_call is off); use a typed host function (Func::wrap)"
    )]
    NoWasmCall {
        /// The function's type.
        ty: Signature,
    },
    /// A raw funcref whose `type_index` the engine does not know.
    #[error("the funcref's type index {index} is not a type of this engine")]
    UnknownTypeIndex {
        /// The funcref's `type_index`.
        index: u32,
    },
    /// The runtime's [`TypeIndices`] could not give an index.
    #[error("the runtime gave no type index: {0}")]
    TypeIndex(BoxError),
    /// The runtime's [`TypeIndices`] gave an index another live type holds,
    /// or the reserved `u32::MAX`.
    #[error("the runtime gave type index {index} to {ty}, but {}", match other {
        Some(other) => format!("{other} holds it"),
        None => "it is the reserved index".to_owned(),
    })]
    TypeIndexInUse {
        /// The index.
        index: u32,
        /// The type it was given to.
        ty: Signature,
        /// The live type that holds it (`None`: the reserved index).
        other: Option<Signature>,
    },
    /// Every `u32` index is in use.
    #[error("the signature index space is exhausted")]
    IndexSpaceExhausted,
    /// A type Springboard cannot carry.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// Compilation failed.
    #[cfg(feature = "compiler")]
    #[error(transparent)]
    Compile(#[from] springboard_compiler::Error),
    /// Mapping code failed.
    #[error(transparent)]
    Load(#[from] springboard_loader::Error),
    /// An object was refused.
    #[error(transparent)]
    Object(#[from] springboard_loader::ObjectError),
    /// The perf map ([`Config::perf_map`]) could not be started.
    #[error("cannot write the perf map: {0}")]
    PerfMap(std::io::Error),
}
