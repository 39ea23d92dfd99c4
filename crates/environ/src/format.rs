//! The object format shared by the compiler (which writes it) and the loader
//! (which reads it): symbol names, the index section and the ELF rules.
//!
//! An object is an ELF relocatable file for one [`Isa`], with that ISA's
//! machine, flags and byte order ([`Isa::elf_architecture`],
//! [`Isa::elf_flags`], [`Isa::is_big_endian`]). Each piece of code is a
//! global function symbol in [`TEXT_SECTION`] named by [`symbol_name`]. A
//! template trampoline's callee is one relocation of type
//! [`Isa::abs8_relocation`] against the undefined symbol
//! [`callee_symbol_name`], left for the linker, or for the loader to patch
//! per copy; no other code has relocations. The section [`INDEX_SECTION`]
//! lists what the object holds: `b"SBIX"`, a little-endian `u32` version
//! ([`INDEX_VERSION`]), one [`WasmConv::code`] byte (the convention of the
//! object's wasm-convention code), a little-endian `u32` count, then per entry
//! one [`CodeKind::code`] byte followed by the [`Signature::encode`] bytes.

use crate::{CodeKind, Signature, SignatureError, WasmConv};
use object::{Architecture, elf};

/// The name of the index section.
pub const INDEX_SECTION: &str = ".springboard.index";
/// The first four bytes of the index section.
pub const INDEX_MAGIC: [u8; 4] = *b"SBIX";
/// The index format version this crate reads and writes. Version 1 had no
/// convention byte; it is refused.
pub const INDEX_VERSION: u32 = 2;
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

    /// The architecture's name in target triples.
    pub const fn name(self) -> &'static str {
        match self {
            Isa::X86_64 => "x86_64",
            Isa::Aarch64 => "aarch64",
            Isa::Riscv64 => "riscv64",
            Isa::S390x => "s390x",
        }
    }

    /// The ELF machine of its objects.
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

/// One entry of the index section.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IndexEntry {
    /// What the code is.
    pub kind: CodeKind,
    /// The signature it was made for.
    pub signature: Signature,
}

impl IndexEntry {
    /// The symbol that holds this entry's code.
    pub fn symbol_name(&self) -> String {
        symbol_name(self.kind, &self.signature)
    }
}

/// Why an index section could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// The section does not start with [`INDEX_MAGIC`].
    #[error("index section has a bad magic")]
    BadMagic,
    /// A version this crate does not read.
    #[error(
        "index section version {0} is not supported: this build reads version {INDEX_VERSION}; recompile the object with this version of springboard-compiler"
    )]
    Version(u32),
    /// A wasm calling convention this crate does not know.
    #[error("index section names an unknown wasm calling convention {0:#x}")]
    UnknownConv(u8),
    /// The section ends before its last entry.
    #[error("index section is truncated")]
    Truncated,
    /// An entry whose kind byte is unknown.
    #[error("index section names an unknown code kind {0:#x}")]
    UnknownKind(u8),
    /// An entry whose signature does not decode.
    #[error("index section holds a bad signature: {0}")]
    Signature(#[from] SignatureError),
    /// Bytes after the last entry.
    #[error("index section has trailing bytes")]
    TrailingBytes,
}

/// What an index section says: the wasm convention and the entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Index {
    /// The convention of the object's wasm-convention code.
    pub wasm_conv: WasmConv,
    /// What the object holds.
    pub entries: Vec<IndexEntry>,
}

/// Encodes an index section, or `None` for 2^32 entries or more.
pub fn encode_index(index: &Index) -> Option<Vec<u8>> {
    let count = u32::try_from(index.entries.len()).ok()?;
    let mut out = Vec::new();
    out.extend_from_slice(&INDEX_MAGIC);
    out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
    out.push(index.wasm_conv.code());
    out.extend_from_slice(&count.to_le_bytes());
    let entries = &index.entries;
    for entry in entries {
        out.push(entry.kind.code());
        entry.signature.encode(&mut out);
    }
    Some(out)
}

/// Decodes an index section, refusing anything but an exact encoding.
pub fn decode_index(bytes: &[u8]) -> Result<Index, IndexError> {
    let word = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(IndexError::Truncated)
    };
    if bytes.get(..4) != Some(&INDEX_MAGIC[..]) {
        return Err(IndexError::BadMagic);
    }
    let version = word(4)?;
    if version != INDEX_VERSION {
        return Err(IndexError::Version(version));
    }
    let &conv = bytes.get(8).ok_or(IndexError::Truncated)?;
    let wasm_conv = WasmConv::from_code(conv).ok_or(IndexError::UnknownConv(conv))?;
    let count = word(9)?;
    let mut at = 13;
    // Each entry takes at least 5 bytes: bound the allocation by the input.
    let mut entries = Vec::with_capacity((count as usize).min(bytes.len() / 5));
    for _ in 0..count {
        let &code = bytes.get(at).ok_or(IndexError::Truncated)?;
        let kind = CodeKind::from_code(code).ok_or(IndexError::UnknownKind(code))?;
        let (signature, len) = Signature::decode(&bytes[at + 1..]).map_err(|e| match e {
            SignatureError::Malformed(m) if m.starts_with("truncated") => IndexError::Truncated,
            other => IndexError::Signature(other),
        })?;
        at += 1 + len;
        entries.push(IndexEntry { kind, signature });
    }
    if at != bytes.len() {
        return Err(IndexError::TrailingBytes);
    }
    Ok(Index { wasm_conv, entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CallConv, TrampolineKind, ValType};

    fn sample() -> Index {
        let sig = Signature::new(&[ValType::I32, ValType::V128], &[ValType::F64]).unwrap();
        Index {
            wasm_conv: WasmConv::Tail,
            entries: vec![
                IndexEntry {
                    kind: CodeKind::Trampoline(TrampolineKind::ArrayToWasm),
                    signature: sig.clone(),
                },
                IndexEntry {
                    kind: CodeKind::Probe(CallConv::Native),
                    signature: sig,
                },
            ],
        }
    }

    fn encode(index: &Index) -> Vec<u8> {
        encode_index(index).unwrap()
    }

    #[test]
    fn index_round_trips() {
        let index = sample();
        assert_eq!(decode_index(&encode(&index)).unwrap(), index);
        assert_eq!(
            decode_index(&encode(&Index::default())).unwrap(),
            Index::default()
        );
    }

    /// The header's bytes, pinned: magic, version 2, convention, count.
    #[test]
    fn header_layout_is_pinned() {
        let bytes = encode(&Index::default());
        assert_eq!(bytes, b"SBIX\x02\0\0\0\0\0\0\0\0");
        assert_eq!(WasmConv::Tail.code(), 0);
    }

    #[test]
    fn a_version_1_index_is_refused_by_name() {
        // What springboard-compiler wrote before the convention byte: magic,
        // version 1, count 1, then one `array_to_wasm` of `(func)`.
        let v1 = b"SBIX\x01\0\0\0\x01\0\0\0\x00\0\0\0\0";
        let err = decode_index(v1).unwrap_err();
        assert_eq!(err, IndexError::Version(1));
        let message = err.to_string();
        assert!(
            message.contains("version 1") && message.contains("version 2"),
            "{message}"
        );
    }

    #[test]
    fn every_truncation_and_bad_header_is_refused() {
        let bytes = encode(&sample());
        for cut in 0..bytes.len() {
            assert!(
                decode_index(&bytes[..cut]).is_err(),
                "accepted a cut at {cut}"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(decode_index(&extra), Err(IndexError::TrailingBytes));
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(decode_index(&bad), Err(IndexError::BadMagic));
        let mut bad = bytes.clone();
        bad[4] = 9;
        assert_eq!(decode_index(&bad), Err(IndexError::Version(9)));
        let mut bad = bytes.clone();
        bad[8] = 0x7e;
        assert_eq!(decode_index(&bad), Err(IndexError::UnknownConv(0x7e)));
        let mut bad = bytes;
        bad[13] = 0x7f;
        assert_eq!(decode_index(&bad), Err(IndexError::UnknownKind(0x7f)));
    }

    #[test]
    fn a_huge_count_does_not_allocate_for_it() {
        let mut bytes = encode(&Index::default());
        bytes[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode_index(&bytes), Err(IndexError::Truncated));
    }

    #[test]
    fn symbol_names_are_c_identifiers() {
        for entry in sample().entries {
            let name = entry.symbol_name();
            assert!(
                name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{name}"
            );
        }
        assert_eq!(
            symbol_name(
                CodeKind::Trampoline(TrampolineKind::Entry),
                &sample().entries[0].signature
            ),
            "springboard_entry_piv_rF"
        );
    }

    #[test]
    fn isas_round_trip_through_their_elf_machine() {
        for isa in Isa::ALL {
            assert_eq!(
                Isa::from_elf_architecture(isa.elf_architecture()),
                Some(isa)
            );
        }
        assert_eq!(Isa::from_elf_architecture(Architecture::I386), None);
    }
}
