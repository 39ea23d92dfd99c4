//! The object format shared by the compiler (which writes it) and the loader
//! (which reads it): symbol names and the index section.
//!
//! An object is an ELF relocatable file. Each piece of code is a global
//! function symbol in `.text` named by [`symbol_name`]. A template
//! trampoline's callee is a relocation against the undefined symbol
//! [`callee_symbol_name`], left for the linker, or for the loader to patch
//! per copy. The section [`INDEX_SECTION`] lists what the object holds:
//! `b"SBIX"`, a little-endian `u32` version ([`INDEX_VERSION`]), a `u32`
//! count, then per entry one [`CodeKind::code`] byte followed by the
//! [`Signature::encode`] bytes.

use crate::{CodeKind, Signature, SignatureError};

/// The name of the index section.
pub const INDEX_SECTION: &str = ".springboard.index";
/// The first four bytes of the index section.
pub const INDEX_MAGIC: [u8; 4] = *b"SBIX";
/// The index format version this crate reads and writes.
pub const INDEX_VERSION: u32 = 1;

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
    #[error("index section version {0} is not supported (expected {INDEX_VERSION})")]
    Version(u32),
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

/// Encodes an index section.
pub fn encode_index(entries: &[IndexEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&INDEX_MAGIC);
    out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
    let count = u32::try_from(entries.len()).expect("fewer than 2^32 entries");
    out.extend_from_slice(&count.to_le_bytes());
    for entry in entries {
        out.push(entry.kind.code());
        entry.signature.encode(&mut out);
    }
    out
}

/// Decodes an index section, refusing anything but an exact encoding.
pub fn decode_index(bytes: &[u8]) -> Result<Vec<IndexEntry>, IndexError> {
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
    let count = word(8)?;
    let mut at = 12;
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
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CallConv, TrampolineKind, ValType};

    fn sample() -> Vec<IndexEntry> {
        let sig = Signature::new(&[ValType::I32, ValType::V128], &[ValType::F64]).unwrap();
        vec![
            IndexEntry {
                kind: CodeKind::Trampoline(TrampolineKind::ArrayToWasm),
                signature: sig.clone(),
            },
            IndexEntry {
                kind: CodeKind::Probe(CallConv::Native),
                signature: sig,
            },
        ]
    }

    #[test]
    fn index_round_trips() {
        let entries = sample();
        assert_eq!(decode_index(&encode_index(&entries)).unwrap(), entries);
        assert_eq!(decode_index(&encode_index(&[])).unwrap(), vec![]);
    }

    #[test]
    fn every_truncation_and_bad_header_is_refused() {
        let bytes = encode_index(&sample());
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
        let mut bad = bytes;
        bad[12] = 0x7f;
        assert_eq!(decode_index(&bad), Err(IndexError::UnknownKind(0x7f)));
    }

    #[test]
    fn a_huge_count_does_not_allocate_for_it() {
        let mut bytes = encode_index(&[]);
        bytes[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode_index(&bytes), Err(IndexError::Truncated));
    }

    #[test]
    fn symbol_names_are_c_identifiers() {
        for entry in sample() {
            let name = entry.symbol_name();
            assert!(
                name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{name}"
            );
        }
        assert_eq!(
            symbol_name(
                CodeKind::Trampoline(TrampolineKind::Entry),
                &sample()[0].signature
            ),
            "springboard_entry_piv_rF"
        );
    }
}
