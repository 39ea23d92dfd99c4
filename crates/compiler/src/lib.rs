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
//! use springboard_loader::CodeMemory;
//! use springboard_vm_abi::{VMFunctionBody, VMOpaqueContext, VMTrampoline, ValRaw};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let compiler = Compiler::host()?;
//! let sig = Signature::new(&[ValType::I32, ValType::F64], &[ValType::F64])?;
//! let entry = compiler.compile(TrampolineKind::Entry, &sig)?;
//! let memory = CodeMemory::new(&[entry.code_item(None)])?;
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
pub mod check;
pub mod module;
mod object;
mod trampoline;

pub use object::ObjectBuilder;
pub use springboard_loader::{
    CallConv, CodeKind, CompiledTrampoline, RelocKind, RelocTarget, Relocation, Signature,
    SignatureError, TrampolineKind, ValType,
};

use abi::Abi;
use core::cell::Cell;
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir;
use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};

thread_local! {
    /// The Cranelift context this thread compiles in, between compilations.
    static CONTEXT: Cell<Option<cranelift_codegen::Context>> = const { Cell::new(None) };
}

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

/// How hard Cranelift optimises.
///
/// A trampoline is straight-line moves around one call, so there is little to
/// optimise: over the 552 trampolines of the bundled fixtures, `Speed` changed
/// 146 by at most three bytes (one register move) and cost about 17 % more
/// compile time. Hence `None` is the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OptLevel {
    /// No optimisation: fastest compilation (the default).
    #[default]
    None,
    /// Optimise for speed.
    Speed,
    /// Optimise for speed and size.
    SpeedAndSize,
}

impl OptLevel {
    fn setting(self) -> &'static str {
        match self {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
            OptLevel::SpeedAndSize => "speed_and_size",
        }
    }
}

/// Chooses the target and settings of a [`Compiler`].
#[derive(Clone, Debug, Default)]
pub struct CompilerBuilder {
    target: Option<String>,
    opt_level: OptLevel,
}

impl CompilerBuilder {
    /// Generate code for `triple` (e.g. `aarch64-unknown-linux-gnu`) instead
    /// of the host. Such code can be written to an object but not run here.
    pub fn target(mut self, triple: &str) -> Self {
        self.target = Some(triple.to_owned());
        self
    }

    /// The optimisation level.
    pub fn opt_level(mut self, level: OptLevel) -> Self {
        self.opt_level = level;
        self
    }

    /// The compiler, or an error naming the target or setting that failed.
    pub fn build(self) -> Result<Compiler, Error> {
        let target_error = |triple: &str, reason: &dyn core::fmt::Display| Error::Target {
            triple: triple.to_owned(),
            reason: reason.to_string(),
        };
        let isa_builder = match &self.target {
            None => cranelift_native::builder().map_err(|e| target_error("host", &e))?,
            // `isa::lookup_by_name` panics on a malformed triple: parse first.
            Some(triple) => {
                let parsed: target_lexicon::Triple =
                    triple.parse().map_err(|e| target_error(triple, &e))?;
                isa::lookup(parsed).map_err(|e| target_error(triple, &e))?
            }
        };
        let mut flags = settings::builder();
        let set = |flags: &mut settings::Builder, name: &str, value: &str| {
            flags
                .set(name, value)
                .map_err(|e| Error::Setting(format!("{name}={value}: {e}")))
        };
        set(&mut flags, "opt_level", self.opt_level.setting())?;
        // Results beyond the return registers go to a hidden return area.
        set(&mut flags, "enable_multi_ret_implicit_sret", "true")?;
        // Frame pointers let profilers and debuggers walk through trampolines.
        set(&mut flags, "preserve_frame_pointers", "true")?;
        // Absolute relocations only: the loader places code anywhere.
        set(&mut flags, "is_pic", "false")?;
        set(
            &mut flags,
            "enable_verifier",
            if cfg!(debug_assertions) {
                "true"
            } else {
                "false"
            },
        )?;
        let triple = self.target.as_deref().unwrap_or("host");
        let isa = isa_builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| target_error(triple, &e))?;
        Ok(Compiler { isa })
    }
}

/// Compiles trampolines and probes for one target. `Send + Sync`: compile
/// from as many threads as you like. Each thread that compiles keeps one
/// Cranelift context (its buffers, shared by every `Compiler`) until it
/// exits, so later compilations on it allocate little.
#[derive(Clone)]
pub struct Compiler {
    isa: OwnedTargetIsa,
}

impl core::fmt::Debug for Compiler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compiler")
            .field("target", &self.triple())
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

    /// The target triple, e.g. `x86_64-unknown-linux-gnu`.
    pub fn triple(&self) -> String {
        self.isa.triple().to_string()
    }

    /// The target's pointer size in bytes.
    pub fn pointer_bytes(&self) -> u8 {
        self.isa.pointer_bytes()
    }

    pub(crate) fn isa(&self) -> &dyn isa::TargetIsa {
        &*self.isa
    }

    /// Compiles the `kind` trampoline for `signature`.
    ///
    /// Template kinds (`TrampolineKind::is_template`) come with one
    /// [`RelocTarget::Callee`] relocation; the others have none.
    pub fn compile(
        &self,
        kind: TrampolineKind,
        signature: &Signature,
    ) -> Result<CompiledTrampoline, Error> {
        self.finish(CodeKind::Trampoline(kind), signature, |abi| {
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
        self.finish(CodeKind::Probe(conv), signature, |abi| {
            trampoline::probe(abi, conv)
        })
    }

    /// Compiles the caller-side signature check of `call_indirect`, for
    /// runtimes to call from their own generated code: see
    /// [`CodeKind::SignatureCheck`]. It reads only `VMFuncRef::type_index`.
    pub fn compile_signature_check(&self) -> Result<CompiledTrampoline, Error> {
        let signature = Signature::new(&[], &[])?;
        self.finish(
            CodeKind::SignatureCheck,
            &signature,
            trampoline::signature_check,
        )
    }

    /// Refuses what this target's native convention cannot match with C,
    /// where Cranelift 0.135 and the platform ABI disagree:
    /// - riscv64: `v128` (Cranelift needs the V extension for it, and C
    ///   passes 16-byte vectors in integer registers), and more than 8 float
    ///   parameters (C passes the ninth and later in free integer registers,
    ///   Cranelift on the stack);
    /// - s390x: more than one `v128` parameter (the ABI assigns v24, v26, v28…,
    ///   Cranelift v24, v25, v26…).
    fn check_supported(&self, signature: &Signature) -> Result<(), Error> {
        use target_lexicon::Architecture as A;
        let count =
            |pred: fn(&ValType) -> bool| signature.params().iter().filter(|t| pred(t)).count();
        let v128_params = count(|t| *t == ValType::V128);
        let reason = match self.isa.triple().architecture {
            A::Riscv64(_) => {
                if v128_params > 0 || signature.results().contains(&ValType::V128) {
                    return Err(Error::Unsupported("v128 on riscv64".to_owned()));
                }
                let floats = count(|t| matches!(t, ValType::F32 | ValType::F64));
                (floats > 8).then(|| {
                    format!("{signature} has {floats} float parameters; beyond 8, C passes them in integer registers and Cranelift on the stack")
                })
            }
            A::S390x => (v128_params > 1).then(|| {
                format!("{signature} has {v128_params} v128 parameters; the ABI passes the second in v26, Cranelift in v25")
            }),
            _ => None,
        };
        match reason {
            Some(reason) => Err(Error::Target {
                triple: self.triple(),
                reason,
            }),
            None => Ok(()),
        }
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
        }
    }

    fn finish(
        &self,
        kind: CodeKind,
        signature: &Signature,
        build: impl FnOnce(&Abi) -> ir::Function,
    ) -> Result<CompiledTrampoline, Error> {
        self.check_supported(signature)?;
        let func = build(&Abi {
            isa: self.isa(),
            sig: signature,
        });
        let codegen_error = |message: String| Error::Codegen {
            kind,
            signature: signature.clone(),
            message,
        };
        // A context keeps its allocations (the register allocator's above
        // all) between functions; reusing one per thread saves a good part
        // of the cost of compiling a small trampoline.
        let mut ctx = CONTEXT
            .take()
            .unwrap_or_else(cranelift_codegen::Context::new);
        ctx.func = func;
        // Cranelift reports bad IR as errors, but a bug in a backend may
        // panic: never let that take the host process down.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let compiled = ctx
                .compile(self.isa(), &mut ControlPlane::default())
                .map_err(|e| format!("{:?}", e.inner))?;
            let relocations = compiled
                .buffer
                .relocs()
                .iter()
                .map(|r| match r.kind {
                    Reloc::Abs8 => Ok(Relocation {
                        offset: r.offset,
                        kind: RelocKind::Abs8,
                        target: RelocTarget::Callee,
                        addend: r.addend,
                    }),
                    other => Err(format!("unexpected relocation {other:?}")),
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok((
                compiled.code_buffer().to_vec(),
                relocations,
                compiled.buffer.alignment,
            ))
        }));
        let (code, relocations, align) = match outcome {
            Ok(result) => {
                ctx.clear();
                CONTEXT.set(Some(ctx));
                result.map_err(codegen_error)?
            }
            // After a panic the context may be inconsistent: drop it.
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                return Err(codegen_error(format!("Cranelift panicked: {message}")));
            }
        };
        Ok(CompiledTrampoline {
            kind,
            signature: signature.clone(),
            code,
            relocations,
            align,
        })
    }
}

/// How many `ValRaw` slots the buffer a probe of `signature` records into
/// must hold: its callee vmctx, its parameters and its results.
pub fn probe_buffer_len(signature: &Signature) -> usize {
    1 + signature.params().len() + signature.results().len()
}
