//! What an object was built for: [`Target`].

use super::Isa;
use crate::{Bookkeeping, WasmConv};
use core::fmt;

/// The machine-level convention of *native* code: the platform's C
/// convention, which Cranelift picks from the target triple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NativeConv {
    /// System V (every supported Unix but Apple's AArch64).
    SystemV,
    /// The Windows x64 convention.
    WindowsFastcall,
    /// Apple's AArch64 variant of AAPCS64.
    AppleAarch64,
}

impl NativeConv {
    /// Every convention.
    pub const ALL: [NativeConv; 3] = [
        NativeConv::SystemV,
        NativeConv::WindowsFastcall,
        NativeConv::AppleAarch64,
    ];

    /// The byte that stands for it in an object's index (frozen).
    pub const fn code(self) -> u8 {
        match self {
            NativeConv::SystemV => 0,
            NativeConv::WindowsFastcall => 1,
            NativeConv::AppleAarch64 => 2,
        }
    }

    /// The convention a byte stands for.
    pub fn from_code(code: u8) -> Option<NativeConv> {
        NativeConv::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Cranelift's name for it.
    pub const fn name(self) -> &'static str {
        match self {
            NativeConv::SystemV => "system_v",
            NativeConv::WindowsFastcall => "windows_fastcall",
            NativeConv::AppleAarch64 => "apple_aarch64",
        }
    }

    /// The convention of the platform this crate was compiled for.
    pub const fn host() -> NativeConv {
        if cfg!(windows) {
            NativeConv::WindowsFastcall
        } else if cfg!(all(target_vendor = "apple", target_arch = "aarch64")) {
            NativeConv::AppleAarch64
        } else {
            NativeConv::SystemV
        }
    }
}

impl fmt::Display for NativeConv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything about the platform and settings that code in an object was
/// compiled for and that decides whether it can run somewhere: a loader
/// compares each field with its host's and its runtime's.
///
/// Pointer width and byte order follow from the [`Isa`] (all four are
/// 64-bit; only s390x is big-endian) and are written out too, so that a
/// reader can refuse an index that contradicts itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// The instruction set.
    pub isa: Isa,
    /// The operating system, as Rust's `target_os` names it (`linux`,
    /// `windows`, `macos`, `none`…).
    pub os: String,
    /// The environment, as Rust's `target_env` names it (`gnu`, `musl`,
    /// `msvc`, or empty).
    pub env: String,
    /// The convention of native-convention code.
    pub native_conv: NativeConv,
    /// The convention of wasm-convention code.
    pub wasm_conv: WasmConv,
    /// Where the trampolines record entry and exit state, if they do.
    pub bookkeeping: Option<Bookkeeping>,
    /// The instruction-set extensions the code may use: the names of
    /// Cranelift's enabled ISA flags (e.g. `has_avx`), sorted.
    pub features: Vec<String>,
}

impl Target {
    /// The byte order: whether the code and its data are big-endian.
    pub const fn is_big_endian(&self) -> bool {
        self.isa.is_big_endian()
    }

    /// The object format its code is written in: COFF for Windows (what
    /// MinGW's and MSVC's linkers take), ELF for everything else.
    pub fn object_format(&self) -> object::BinaryFormat {
        if self.os == "windows" {
            object::BinaryFormat::Coff
        } else {
            object::BinaryFormat::Elf
        }
    }

    /// Bytes per pointer.
    pub const fn pointer_bytes(&self) -> u8 {
        8
    }

    /// Rust's `target_os` of the platform this crate was compiled for.
    pub const fn host_os() -> &'static str {
        std::env::consts::OS
    }

    /// Rust's `target_env` of the platform this crate was compiled for.
    pub const fn host_env() -> &'static str {
        if cfg!(target_env = "gnu") {
            "gnu"
        } else if cfg!(target_env = "musl") {
            "musl"
        } else if cfg!(target_env = "msvc") {
            "msvc"
        } else if cfg!(target_env = "uclibc") {
            "uclibc"
        } else if cfg!(target_env = "sgx") {
            "sgx"
        } else if cfg!(target_env = "ohos") {
            "ohos"
        } else {
            ""
        }
    }

    /// The platform part, `isa-os[-env]`, as in a triple without its vendor.
    pub fn platform(&self) -> String {
        platform(self.isa.name(), &self.os, &self.env)
    }

    /// The host's `isa-os[-env]`, for messages.
    pub fn host_platform() -> String {
        platform(
            Isa::host().map_or("unsupported", Isa::name),
            Target::host_os(),
            Target::host_env(),
        )
    }

    /// Each way in which code for this target cannot run on the platform
    /// this crate was compiled for (ISA features aside: detecting them is
    /// the loader's), as `what: object's vs host's`; empty if none.
    pub fn host_mismatches(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ = |what: &str, object: &dyn fmt::Display, host: &dyn fmt::Display| {
            let (object, host) = (object.to_string(), host.to_string());
            if object != host {
                out.push(format!("{what}: `{object}` vs `{host}`"));
            }
        };
        let host_isa = Isa::host().map_or("unsupported", Isa::name);
        differ("architecture", &self.isa, &host_isa);
        differ("operating system", &self.os, &Target::host_os());
        differ("environment", &self.env, &Target::host_env());
        differ("native convention", &self.native_conv, &NativeConv::host());
        let order = |big: bool| if big { "big-endian" } else { "little-endian" };
        differ(
            "byte order",
            &order(self.is_big_endian()),
            &order(cfg!(target_endian = "big")),
        );
        differ("pointer width", &(self.pointer_bytes() * 8), &(usize::BITS));
        out
    }
}

fn platform(isa: &str, os: &str, env: &str) -> String {
    if env.is_empty() {
        format!("{isa}-{os}")
    } else {
        format!("{isa}-{os}-{env}")
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (native {}, wasm {}",
            self.platform(),
            self.native_conv,
            self.wasm_conv
        )?;
        if let Some(bk) = self.bookkeeping {
            write!(
                f,
                ", bookkeeping limits@{} entry_sp@{} exit_fp@{} exit_pc@{}",
                bk.limits, bk.entry_sp, bk.exit_fp, bk.exit_pc
            )?;
        }
        if !self.features.is_empty() {
            write!(f, ", features {}", self.features.join(","))?;
        }
        f.write_str(")")
    }
}
