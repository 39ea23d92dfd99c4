//! The compiler's target policy: which ISA and settings Cranelift gets, and
//! which signatures a target's native convention cannot carry.

use crate::{Compiler, Error, Signature};
use cranelift_codegen::isa;
use cranelift_codegen::settings::{self, Configurable};
use springboard_environ::format::{NativeConv, Target};
use springboard_environ::{Bookkeeping, GcRefWidth, Isa, WasmConv};

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
    wasm_conv: WasmConv,
    bookkeeping: Option<Bookkeeping>,
    gc_refs: GcRefWidth,
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

    /// The convention of wasm-convention code (the default: Cranelift's
    /// `tail`). It must be the one the runtime compiles its wasm with.
    /// [`WasmConv::Wasmtime17`] is for x86-64 only: `build` refuses it for
    /// other targets, where no Cranelift 0.135 convention has been proven to
    /// match Wasmtime 17's.
    pub fn wasm_conv(mut self, conv: WasmConv) -> Self {
        self.wasm_conv = conv;
        self
    }

    /// The width of GC references (`anyref`, `exnref` and their subtypes)
    /// at the boundary (the default: 32 bits, as Wasmtime passes them).
    /// Every signature is compiled as its
    /// [trampoline type](springboard_environ::Signature::trampoline_type)
    /// under this width.
    pub fn gc_refs(mut self, width: GcRefWidth) -> Self {
        self.gc_refs = width;
        self
    }

    /// Entry and exit bookkeeping (off by default): the `*_to_wasm`
    /// trampolines record their stack pointer, and the `wasm_to_*` ones
    /// their wasm caller's frame pointer and return address, where
    /// `bookkeeping` says — what a runtime's backtraces and trap unwinding
    /// need to walk through them. Every vmctx given to such a trampoline
    /// must then carry the runtime's limits pointer (see [`Bookkeeping`]).
    pub fn bookkeeping(mut self, bookkeeping: Option<Bookkeeping>) -> Self {
        self.bookkeeping = bookkeeping;
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
            // Some of Cranelift's ISA builders assert on variants they do
            // not support (big-endian aarch64): refuse those first.
            Some(triple) => {
                let parsed: target_lexicon::Triple =
                    triple.parse().map_err(|e| target_error(triple, &e))?;
                if let Err(reason) = generates_for(&parsed) {
                    return Err(target_error(triple, &reason));
                }
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
        let target_isa = generates_for(isa.triple()).map_err(|e| target_error(triple, &e))?;
        if self.wasm_conv == WasmConv::Wasmtime17 && target_isa != Isa::X86_64 {
            return Err(target_error(
                triple,
                &"the wasmtime17 wasm convention is supported on x86-64 only",
            ));
        }
        if let Some(bk) = self.bookkeeping {
            let fields = [bk.limits, bk.entry_sp, bk.exit_fp, bk.exit_pc];
            if let Some(bad) = fields.iter().find(|&&o| i32::try_from(o).is_err()) {
                return Err(Error::Setting(format!(
                    "bookkeeping offset {bad} does not fit a 32-bit signed displacement"
                )));
            }
        }
        Ok(Compiler {
            isa,
            target_isa,
            wasm_conv: self.wasm_conv,
            bookkeeping: self.bookkeeping,
            gc_refs: self.gc_refs,
        })
    }
}

/// Whether Springboard generates code for `triple`, and if not, why: one of
/// the four [`Isa`]s, 64-bit, in the byte order and float ABI its objects
/// record.
fn generates_for(triple: &target_lexicon::Triple) -> Result<Isa, String> {
    use target_lexicon::{Architecture as A, PointerWidth, Riscv64Architecture as Rv};
    let supported =
        "Springboard generates code for x86_64, aarch64 (little-endian), riscv64gc and s390x";
    let isa = match triple.architecture {
        A::X86_64 => Isa::X86_64,
        A::Aarch64(_) => Isa::Aarch64,
        A::Riscv64(Rv::Riscv64 | Rv::Riscv64gc) => Isa::Riscv64,
        A::Riscv64(_) => {
            return Err(format!(
                "{supported}: this riscv64 variant lacks the double-float ABI"
            ));
        }
        A::S390x => Isa::S390x,
        other => return Err(format!("{supported}, not {other}")),
    };
    let big = matches!(triple.endianness(), Ok(target_lexicon::Endianness::Big));
    if big != isa.is_big_endian() {
        return Err(format!(
            "{supported}: not {}-endian {isa}",
            if big { "big" } else { "little" }
        ));
    }
    if triple.pointer_width() != Ok(PointerWidth::U64) {
        return Err(format!("{supported}, with 64-bit pointers only"));
    }
    Ok(isa)
}

/// Rust's `target_os` for a triple's operating system (Cranelift's
/// `target-lexicon` spells some differently).
fn rust_os(triple: &target_lexicon::Triple) -> String {
    use target_lexicon::{Environment as Env, OperatingSystem as Os};
    if matches!(triple.environment, Env::Android | Env::Androideabi) {
        return "android".to_owned();
    }
    match triple.operating_system {
        Os::Darwin(_) | Os::MacOSX(_) => "macos".to_owned(),
        Os::IOS(_) => "ios".to_owned(),
        Os::None_ | Os::Unknown => "none".to_owned(),
        ref other => other.to_string(),
    }
}

/// Rust's `target_env` for a triple's environment: the C library family, or
/// empty.
fn rust_env(triple: &target_lexicon::Triple) -> &'static str {
    let env = triple.environment.to_string();
    ["gnu", "musl", "msvc", "uclibc", "sgx", "ohos"]
        .into_iter()
        .find(|family| env.starts_with(family))
        .unwrap_or("")
}

/// Everything an object records about the compiler's target.
pub(crate) fn target(compiler: &Compiler) -> Result<Target, Error> {
    let triple = compiler.isa().triple();
    let unsupported = |reason: String| Error::Target {
        triple: compiler.triple(),
        reason,
    };
    let isa = compiler.target_isa;
    let native_conv = match compiler.isa().default_call_conv() {
        isa::CallConv::SystemV => NativeConv::SystemV,
        isa::CallConv::WindowsFastcall => NativeConv::WindowsFastcall,
        isa::CallConv::AppleAarch64 => NativeConv::AppleAarch64,
        other => return Err(unsupported(format!("native convention {other}"))),
    };
    let mut features: Vec<String> = compiler
        .isa()
        .isa_flags()
        .into_iter()
        .filter(|flag| flag.as_bool() == Some(true))
        .map(|flag| flag.name.to_owned())
        .collect();
    features.sort();
    features.dedup();
    Ok(Target {
        isa,
        os: rust_os(triple),
        env: rust_env(triple).to_owned(),
        native_conv,
        wasm_conv: compiler.wasm_conv,
        bookkeeping: compiler.bookkeeping,
        features,
    })
}

/// Refuses what this target's native convention cannot match with C
/// ([`Isa::refusal`], the one home of that rule).
pub(crate) fn check_supported(compiler: &Compiler, signature: &Signature) -> Result<(), Error> {
    match compiler.target_isa.refusal(signature) {
        Some(reason) => Err(Error::Refused {
            triple: compiler.triple(),
            signature: signature.clone(),
            reason,
        }),
        None => Ok(()),
    }
}
