//! The object format shared by the compiler (which writes it) and the loader
//! (which reads it): symbol names, the index section and the ELF rules.
//!
//! An object is a relocatable file for one [`Isa`] in its target's format
//! ([`Target::object_format`]: COFF for Windows, ELF elsewhere), with that
//! ISA's machine, flags and byte order ([`Isa::elf_architecture`],
//! [`Isa::elf_flags`], [`Isa::is_big_endian`]). Each piece of code is a
//! global function symbol in [`TEXT_SECTION`] named by [`symbol_name`]. A
//! template trampoline's callee is one relocation of type
//! [`Isa::abs8_relocation`] (ELF) or [`Isa::coff_abs8_relocation`] (COFF,
//! whose addend lies in the code, zero) against the undefined symbol
//! [`callee_symbol_name`], left for the linker, or for the loader to patch
//! per copy; no other code has relocations.
//!
//! The section [`INDEX_SECTION`] is the object's manifest ([`Index`]): the
//! full [`Target`] the code was built for, and for every symbol its kind,
//! signature, alignment, length, SHA-256 digest and exact relocations,
//! sealed by a SHA-256 of the whole section. A loader trusts nothing else in
//! the file: whatever the ELF says about a symbol must agree with the index
//! (see `springboard-loader`), so the seal — the object's digest — identifies
//! every byte and relocation that can be loaded from the object.

mod index;
mod target;

pub use index::{EntryMismatch, Index, IndexEntry, IndexError, decode_index, encode_index};
pub use target::{NativeConv, Target};

use crate::{CodeKind, Signature};
use object::{Architecture, elf, pe};

/// The name of the index section.
pub const INDEX_SECTION: &str = ".springboard.index";
/// The first four bytes of the index section.
pub const INDEX_MAGIC: [u8; 4] = *b"SBIX";
/// The index format version this crate reads and writes. Version 1 had no
/// convention byte, version 2 no target, digests or relocations, version 3's
/// entries into `tail` wasm no catch point (see `VMHostCaller`); all three
/// are refused.
pub const INDEX_VERSION: u32 = 4;
/// The section that holds the code.
pub const TEXT_SECTION: &str = ".text";

/// The instruction sets Springboard writes and reads objects for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// x86-64.
    X86_64,
    /// AArch64, little-endian.
    Aarch64,
    /// RISC-V 64 with the double-float ABI (`riscv64gc`).
    Riscv64,
    /// IBM z/Architecture (big-endian).
    S390x,
}

impl Isa {
    /// Every ISA.
    pub const ALL: [Isa; 4] = [Isa::X86_64, Isa::Aarch64, Isa::Riscv64, Isa::S390x];

    /// The ISA this crate was compiled for, if it is one of these.
    pub const fn host() -> Option<Isa> {
        if cfg!(target_arch = "x86_64") {
            Some(Isa::X86_64)
        } else if cfg!(target_arch = "aarch64") && cfg!(target_endian = "little") {
            Some(Isa::Aarch64)
        } else if cfg!(target_arch = "riscv64") {
            Some(Isa::Riscv64)
        } else if cfg!(target_arch = "s390x") {
            Some(Isa::S390x)
        } else {
            None
        }
    }

    /// The byte that stands for it in an object's index (frozen).
    pub const fn code(self) -> u8 {
        match self {
            Isa::X86_64 => 0,
            Isa::Aarch64 => 1,
            Isa::Riscv64 => 2,
            Isa::S390x => 3,
        }
    }

    /// The ISA a byte stands for.
    pub fn from_code(code: u8) -> Option<Isa> {
        Isa::ALL.into_iter().find(|isa| isa.code() == code)
    }

    /// The architecture's name in target triples.
    pub const fn name(self) -> &'static str {
        match self {
            Isa::X86_64 => "x86_64",
            Isa::Aarch64 => "aarch64",
            Isa::Riscv64 => "riscv64",
            Isa::S390x => "s390x",
        }
    }

    /// The machine of its objects (ELF's, or COFF's for Windows targets).
    pub const fn elf_architecture(self) -> Architecture {
        match self {
            Isa::X86_64 => Architecture::X86_64,
            Isa::Aarch64 => Architecture::Aarch64,
            Isa::Riscv64 => Architecture::Riscv64,
            Isa::S390x => Architecture::S390x,
        }
    }

    /// The ISA whose objects have this ELF machine.
    pub fn from_elf_architecture(architecture: Architecture) -> Option<Isa> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.elf_architecture() == architecture)
    }

    /// The ELF header flags of its objects: Cranelift's riscv64 code uses
    /// compressed instructions and the double-float ABI, and linkers refuse
    /// to mix objects whose flags say otherwise.
    pub const fn elf_flags(self) -> u32 {
        match self {
            Isa::Riscv64 => elf::EF_RISCV_RVC.0 | elf::EF_RISCV_FLOAT_ABI_DOUBLE.0,
            Isa::X86_64 | Isa::Aarch64 | Isa::S390x => 0,
        }
    }

    /// Whether its objects (and code) are big-endian.
    pub const fn is_big_endian(self) -> bool {
        matches!(self, Isa::S390x)
    }

    /// The ELF relocation a [`RelocKind::Abs8`](crate::RelocKind::Abs8)
    /// becomes on this ISA.
    pub const fn abs8_relocation(self) -> elf::RelocationType {
        match self {
            Isa::X86_64 => elf::R_X86_64_64,
            Isa::Aarch64 => elf::R_AARCH64_ABS64,
            Isa::Riscv64 => elf::R_RISCV_64,
            Isa::S390x => elf::R_390_64,
        }
    }

    /// The COFF relocation a [`RelocKind::Abs8`](crate::RelocKind::Abs8)
    /// becomes in its Windows objects (`None`: no Windows for the ISA).
    pub const fn coff_abs8_relocation(self) -> Option<pe::RelocationType> {
        match self {
            Isa::X86_64 => Some(pe::IMAGE_REL_AMD64_ADDR64),
            Isa::Aarch64 => Some(pe::IMAGE_REL_ARM64_ADDR64),
            Isa::Riscv64 | Isa::S390x => None,
        }
    }
}

impl core::fmt::Display for Isa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The symbol of `kind` for `signature`: `springboard_<kind>_<mangled>`,
/// e.g. `springboard_array_to_wasm_pii_ri` or `springboard_probe_wasm_p_r`.
pub fn symbol_name(kind: CodeKind, signature: &Signature) -> String {
    mangled_name(format_args!("springboard_{kind}_"), signature)
}

/// The undefined symbol a template trampoline of `signature` calls:
/// `springboard_wasm_callee_<mangled>`.
pub fn callee_symbol_name(signature: &Signature) -> String {
    mangled_name(format_args!("springboard_wasm_callee_"), signature)
}

/// `prefix` then the mangled signature, in one allocation: loading an object
/// builds a name per trampoline.
fn mangled_name(prefix: core::fmt::Arguments<'_>, signature: &Signature) -> String {
    use core::fmt::Write;
    let types = signature.params().len() + signature.results().len();
    let mut name = String::with_capacity(40 + types);
    // Writing to a `String` cannot fail.
    let _ = name.write_fmt(prefix);
    signature.push_mangled(&mut name);
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TrampolineKind, ValType};

    #[test]
    fn symbol_names_are_c_identifiers() {
        let sig = Signature::new(&[ValType::I32, ValType::V128], &[ValType::F64]).unwrap();
        for kind in CodeKind::ALL {
            let name = symbol_name(kind, &sig);
            assert!(
                name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{name}"
            );
        }
        assert_eq!(
            symbol_name(CodeKind::Trampoline(TrampolineKind::Entry), &sig),
            "springboard_entry_piv_rF"
        );
    }

    #[test]
    fn isas_round_trip_through_their_elf_machine_and_code() {
        for isa in Isa::ALL {
            assert_eq!(
                Isa::from_elf_architecture(isa.elf_architecture()),
                Some(isa)
            );
            assert_eq!(Isa::from_code(isa.code()), Some(isa));
        }
        assert_eq!(Isa::from_elf_architecture(Architecture::I386), None);
        assert_eq!(Isa::from_code(4), None);
    }
}
