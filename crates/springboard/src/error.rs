//! [`Error`], everything that can go wrong in the facade, and [`BoxError`],
//! what host closures may fail with.

use springboard_environ::{Signature, SignatureError, TrampolineKind, ValType};

/// The error type host closures may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    /// A reference of the right hierarchy that is not a value of the type
    /// (null for a non-nullable type, a funcref of another function type).
    #[error("{what} {index}: not a value of {expected}: {reason}")]
    ValueMismatch {
        /// `"parameters"` or `"results"`.
        what: &'static str,
        /// Which value.
        index: usize,
        /// The type it should have.
        expected: ValType,
        /// Why it is not.
        reason: &'static str,
    },
    /// A typed host function whose GC reference types are of the other
    /// width than the engine's.
    #[error(
        "the Rust types of {ty} are for GC references of another width than the engine's ({engine:?})"
    )]
    GcWidth {
        /// The function's type.
        ty: Signature,
        /// The engine's width.
        engine: springboard_environ::GcRefWidth,
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
    /// The runtime's [`TypeIndices`](crate::TypeIndices) could not give an index.
    #[error("the runtime gave no type index: {0}")]
    TypeIndex(BoxError),
    /// The runtime's [`TypeIndices`](crate::TypeIndices) gave an index another live type holds,
    /// or the reserved `u32::MAX`.
    #[error("the runtime gave type index {index} to {ty}, but {}", match other {
        Some(other) => format!("{other} holds it"),
        None => "it is the reserved index".to_owned(),
    })]
    TypeIndexInUse {
        /// The index.
        index: u32,
        /// The type it was given to, in text form.
        ty: String,
        /// The live type that holds it, in text form (`None`: the reserved
        /// index).
        other: Option<String>,
    },
    /// A recursion group that breaks the standard's rules (an unknown
    /// type, a bad supertype, a chain too deep).
    #[error("invalid type group: {0}")]
    Type(#[from] springboard_environ::types::TypeError),
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
    /// The perf map ([`Config::perf_map`](crate::Config::perf_map)) could not be started.
    #[error("cannot write the perf map: {0}")]
    PerfMap(std::io::Error),
}
