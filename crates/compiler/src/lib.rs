//! Compiles Springboard trampolines: for a WebAssembly function type, the
//! machine code that crosses between the *wasm*, *native* and *array*
//! calling conventions (see `docs/ABI.md`), with `cranelift-codegen`, for the
//! host or another target; and writes them as relocatable ELF objects for
//! ahead-of-time use ([`ObjectBuilder`]).
//!
//! The output is plain bytes plus [`Relocation`]s; `springboard-loader` maps
//! it. A [`probe`](Compiler::compile_probe) generator builds test callees
//! that record what they receive, so every trampoline can be checked end to
//! end without a Wasm compiler.
//!
//! # Example: compile an array→native entry and call it
//!
//! ```
//! use springboard_compiler::{Compiler, Signature, TrampolineKind, ValType};
//! use springboard_loader::{CodeItem, CodeMemory};
//! use springboard_vm_abi::{VMFunctionBody, VMOpaqueContext, VMTrampoline, ValRaw};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let compiler = Compiler::host()?;
//! let sig = Signature::new(&[ValType::I32, ValType::F64], &[ValType::F64])?;
//! let entry = compiler.compile(TrampolineKind::Entry, &sig)?;
//! let memory = CodeMemory::new(&[CodeItem::new(&entry, None)])?;
//!
//! extern "C" fn scale(_: *mut VMOpaqueContext, _: *mut VMOpaqueContext, a: i32, b: f64) -> f64 {
//!     f64::from(a) * b
//! }
//! // SAFETY: the code is an entry trampoline, which has this type.
//! let call: VMTrampoline = unsafe { core::mem::transmute(memory.entry(0).unwrap().as_ptr()) };
//! let mut values = [ValRaw::i32(3), ValRaw::f64(1.5f64.to_bits())];
//! // SAFETY: `scale` has the native convention of `sig`, and the buffer
//! // holds max(params, results) slots.
//! unsafe {
//!     call(std::ptr::null_mut(), std::ptr::null_mut(), scale as *const VMFunctionBody, values.as_mut_ptr());
//! }
//! assert_eq!(f64::from_bits(values[0].get_f64()), 4.5);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod abi;
mod codegen;
mod isa;
mod object;
mod trampoline;

pub use isa::{CompilerBuilder, OptLevel};
pub use object::ObjectBuilder;
pub use springboard_environ::{
    Bookkeeping, CallConv, CodeKind, CompiledTrampoline, GcRefWidth, Isa, Refusal, RelocKind,
    RelocTarget, Relocation, Signature, SignatureError, TrampolineKind, ValType, WasmConv,
};

use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};

/// Why compilation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value type the trampolines cannot carry, named in text form.
    #[error("unsupported value type `{0}`")]
    Unsupported(String),
    /// A signature over the arity limits.
    #[error("{0}")]
    Signature(SignatureError),
    /// A target this build of Cranelift cannot generate code for.
    #[error("unsupported target `{triple}`: {reason}")]
    Target {
        /// The triple asked for.
        triple: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A signature the target's native convention cannot carry, where
    /// Cranelift and the platform's C ABI disagree (docs/ABI.md, "Per ISA").
    #[error("{signature} is refused by `{triple}`: {reason}")]
    Refused {
        /// The compiler's target.
        triple: String,
        /// The signature.
        signature: Signature,
        /// Why.
        reason: Refusal,
    },
    /// A setting Cranelift refused.
    #[error("bad compiler setting: {0}")]
    Setting(String),
    /// Cranelift failed on the generated IR (a bug in Springboard).
    #[error("code generation failed for {kind} of {signature}: {message}")]
    Codegen {
        /// What was being compiled.
        kind: CodeKind,
        /// Its signature.
        signature: Signature,
        /// Cranelift's message.
        message: String,
    },
    /// Writing an object failed.
    #[error("cannot write object: {0}")]
    Object(String),
}

impl From<SignatureError> for Error {
    fn from(e: SignatureError) -> Error {
        match e {
            SignatureError::UnsupportedType(t) => Error::Unsupported(t),
            other => Error::Signature(other),
        }
    }
}

/// Compiles trampolines and probes for one target. `Send + Sync`: compile
/// from as many threads as you like. Each thread that compiles keeps one
/// Cranelift context (its buffers, shared by every `Compiler`) until it
/// exits, so later compilations on it allocate little.
#[derive(Clone)]
pub struct Compiler {
    isa: OwnedTargetIsa,
    /// Which of Springboard's ISAs `isa` is.
    target_isa: Isa,
    wasm_conv: WasmConv,
    bookkeeping: Option<Bookkeeping>,
    gc_refs: GcRefWidth,
}

impl core::fmt::Debug for Compiler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compiler")
            .field("target", &self.triple())
            .field("wasm_conv", &self.wasm_conv)
            .field("bookkeeping", &self.bookkeeping)
            .finish()
    }
}

impl Compiler {
    /// A compiler for the host with the default settings.
    pub fn host() -> Result<Compiler, Error> {
        Compiler::builder().build()
    }

    /// Choose a target and settings.
    pub fn builder() -> CompilerBuilder {
        CompilerBuilder::default()
    }

    /// Whether this target can carry `signature` at all, without compiling
    /// anything: `Err` ([`Error::Refused`]) with the error every `compile`
    /// of it would return where Cranelift and the platform's C ABI disagree
    /// ([`Isa::refusal`]).
    pub fn supports(&self, signature: &Signature) -> Result<(), Error> {
        isa::check_supported(self, signature)
    }

    /// Which of Springboard's ISAs the compiler generates code for.
    pub fn isa_kind(&self) -> Isa {
        self.target_isa
    }

    /// The target triple, e.g. `x86_64-unknown-linux-gnu`.
    pub fn triple(&self) -> String {
        self.isa.triple().to_string()
    }

    /// The convention of the wasm-convention code it makes.
    pub fn wasm_conv(&self) -> WasmConv {
        self.wasm_conv
    }

    /// The width of GC references in its code (see
    /// [`CompilerBuilder::gc_refs`]).
    pub fn gc_refs(&self) -> GcRefWidth {
        self.gc_refs
    }

    /// Where its entry and exit trampolines record the runtime's stack
    /// state, if anywhere (see [`CompilerBuilder::bookkeeping`]).
    pub fn bookkeeping(&self) -> Option<Bookkeeping> {
        self.bookkeeping
    }

    /// Everything an object of this compiler's code records about its
    /// target (see [`Target`](springboard_environ::format::Target)), or an
    /// error if Springboard writes no objects for it.
    pub fn target(&self) -> Result<springboard_environ::format::Target, Error> {
        isa::target(self)
    }

    /// The target's pointer size in bytes.
    pub fn pointer_bytes(&self) -> u8 {
        self.isa.pointer_bytes()
    }

    pub(crate) fn isa(&self) -> &dyn TargetIsa {
        &*self.isa
    }

    /// Compiles the `kind` trampoline for `signature`, as its trampoline
    /// type: the result's signature is that type, which every signature of
    /// the same trampoline type shares.
    ///
    /// Template kinds (`TrampolineKind::is_template`) come with one
    /// [`RelocTarget::Callee`] relocation; the others have none.
    pub fn compile(
        &self,
        kind: TrampolineKind,
        signature: &Signature,
    ) -> Result<CompiledTrampoline, Error> {
        codegen::finish(self, CodeKind::Trampoline(kind), signature, |abi| {
            trampoline::trampoline(abi, kind)
        })
    }

    /// Compiles a probe: a function of `signature` entered with `conv` that
    /// records what it receives and returns chosen results.
    ///
    /// The probe treats its *caller* vmctx as a buffer of
    /// [`probe_buffer_len`] `ValRaw` slots: it writes its callee vmctx into
    /// slot 0 and its arguments into slots `1..=params`, then returns the
    /// values in slots `params + 1 ..` as its results. Every trampoline passes
    /// the caller vmctx through untouched, so a test can drive any
    /// trampoline into a probe and check every bit on both sides.
    pub fn compile_probe(
        &self,
        conv: CallConv,
        signature: &Signature,
    ) -> Result<CompiledTrampoline, Error> {
        codegen::finish(self, CodeKind::Probe(conv), signature, |abi| {
            trampoline::probe(abi, conv)
        })
    }

    /// Compiles the caller-side signature check of `call_indirect`, for
    /// runtimes to call from their own generated code: see
    /// [`CodeKind::SignatureCheck`]. It reads only `VMFuncRef::type_index`.
    pub fn compile_signature_check(&self) -> Result<CompiledTrampoline, Error> {
        let signature = Signature::new(&[], &[])?;
        codegen::finish(
            self,
            CodeKind::SignatureCheck,
            &signature,
            trampoline::signature_check,
        )
    }

    /// Compiles the indirect entry of `signature`: see [`CodeKind::IndirectEntry`].
    pub fn compile_indirect_entry(
        &self,
        signature: &Signature,
    ) -> Result<CompiledTrampoline, Error> {
        codegen::finish(
            self,
            CodeKind::IndirectEntry,
            signature,
            trampoline::indirect_entry,
        )
    }

    /// Compiles any [`CodeKind`] for `signature` (the signature check ignores it).
    pub fn compile_kind(
        &self,
        kind: CodeKind,
        signature: &Signature,
    ) -> Result<CompiledTrampoline, Error> {
        match kind {
            CodeKind::Trampoline(k) => self.compile(k, signature),
            CodeKind::Probe(c) => self.compile_probe(c, signature),
            CodeKind::SignatureCheck => self.compile_signature_check(),
            CodeKind::IndirectEntry => self.compile_indirect_entry(signature),
        }
    }
}

/// How many `ValRaw` slots the buffer a probe of `signature` records into
/// must hold: its callee vmctx, its parameters and its results.
pub fn probe_buffer_len(signature: &Signature) -> usize {
    1 + signature.params().len() + signature.results().len()
}
