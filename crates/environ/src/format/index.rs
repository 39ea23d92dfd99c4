//! The index section: an object's manifest ([`Index`]), its encoding and
//! its exact decoding.
//!
//! All integers little-endian; a *string* is a `u8` length then that many
//! bytes of `[a-z0-9_.+-]`:
//!
//! ```text
//! "SBIX"  u32 version (INDEX_VERSION)
//! target: u8 isa  u8 big-endian (0/1)  u8 pointer bytes  u8 native conv
//!         u8 wasm conv  string os  string env
//!         u8 bookkeeping (0/1) [u32 limits  u32 entry_sp  u32 exit_fp  u32 exit_pc]
//!         u16 feature count, that many strings (sorted, distinct)
//! u32 entry count, then per entry:
//!         u8 kind  signature (Signature::encode)  u32 align  u32 length
//!         [32] SHA-256 of the code
//!         u16 relocation count, per relocation: u8 kind  u8 target  u32 offset  i64 addend
//! [32] SHA-256 of every byte before it
//! ```

use super::target::{NativeConv, Target};
use super::{INDEX_MAGIC, INDEX_VERSION, Isa};
use crate::sha256::{Digest, sha256};
use crate::{
    Bookkeeping, CodeKind, CompiledTrampoline, RelocKind, RelocTarget, Relocation, Signature,
    SignatureError, WasmConv,
};

/// One piece of code an object holds, as its index records it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IndexEntry {
    /// What the code is.
    pub kind: CodeKind,
    /// The signature it was made for.
    pub signature: Signature,
    /// The alignment it needs (a power of two, at most 4096).
    pub align: u32,
    /// Its length in bytes.
    pub len: u32,
    /// The SHA-256 of its bytes (before relocation).
    pub sha256: Digest,
    /// Its relocations, exactly, in offset order.
    pub relocations: Vec<Relocation>,
}

impl IndexEntry {
    /// The entry that describes `code`, or `None` if its length does not
    /// fit a `u32` or it has more than 65,535 relocations.
    pub fn of(code: &CompiledTrampoline) -> Option<IndexEntry> {
        let mut relocations = code.relocations.clone();
        relocations.sort_by_key(|r| r.offset);
        u16::try_from(relocations.len()).ok()?;
        Some(IndexEntry {
            kind: code.kind,
            signature: code.signature.clone(),
            align: code.align,
            len: u32::try_from(code.code.len()).ok()?,
            sha256: sha256(&code.code),
            relocations,
        })
    }

    /// The symbol that holds this entry's code.
    pub fn symbol_name(&self) -> String {
        super::symbol_name(self.kind, &self.signature)
    }

    /// How `code` (read back from an object) differs from what this entry
    /// records, or `None` if it is exactly that.
    pub fn mismatch(&self, code: &CompiledTrampoline) -> Option<EntryMismatch> {
        if (code.kind, &code.signature) != (self.kind, &self.signature) {
            return Some(EntryMismatch::Identity {
                kind: code.kind,
                signature: code.signature.clone(),
            });
        }
        if code.code.len() != self.len as usize {
            return Some(EntryMismatch::Length {
                code: code.code.len(),
                index: self.len,
            });
        }
        if sha256(&code.code) != self.sha256 {
            return Some(EntryMismatch::Digest);
        }
        if code.relocations != self.relocations {
            return Some(EntryMismatch::Relocations {
                code: code.relocations.clone(),
                index: self.relocations.clone(),
            });
        }
        None
    }
}

/// How a piece of code differs from what its index entry records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryMismatch {
    /// It is another kind or signature than the entry's.
    #[error("is {kind} of {signature}, not the index entry's")]
    Identity {
        /// The code's kind.
        kind: CodeKind,
        /// The code's signature.
        signature: Signature,
    },
    /// Its length differs.
    #[error("has {code} bytes of code; the index records {index}")]
    Length {
        /// The code's.
        code: usize,
        /// The index's.
        index: u32,
    },
    /// Its bytes' SHA-256 differs.
    #[error("has code whose SHA-256 differs from the index's")]
    Digest,
    /// Its relocations differ.
    #[error("has relocations {code:?}; the index records {index:?}")]
    Relocations {
        /// The code's.
        code: Vec<Relocation>,
        /// The index's.
        index: Vec<Relocation>,
    },
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
    /// The section's closing SHA-256 does not match its contents.
    #[error("index section is corrupt: its SHA-256 does not match its contents")]
    Checksum,
    /// The section ends before its last field.
    #[error("index section is truncated")]
    Truncated,
    /// A field whose value no writer produces.
    #[error("index section has a bad {field}: {value}")]
    BadField {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// An entry whose signature does not decode.
    #[error("index section holds a bad signature: {0}")]
    Signature(#[from] SignatureError),
    /// Two entries of one kind and signature.
    #[error("index section lists {0} twice")]
    Duplicate(String),
    /// Bytes after the closing SHA-256.
    #[error("index section has trailing bytes")]
    TrailingBytes,
}

/// What an index section says: the target and the entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Index {
    /// What the code was built for.
    pub target: Target,
    /// What the object holds.
    pub entries: Vec<IndexEntry>,
}

/// Encodes an index section, or `None` if a count does not fit its field.
pub fn encode_index(index: &Index) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    out.extend_from_slice(&INDEX_MAGIC);
    out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
    let t = &index.target;
    out.extend_from_slice(&[
        t.isa.code(),
        u8::from(t.is_big_endian()),
        t.pointer_bytes(),
        t.native_conv.code(),
        t.wasm_conv.code(),
    ]);
    push_str(&mut out, &t.os)?;
    push_str(&mut out, &t.env)?;
    match t.bookkeeping {
        None => out.push(0),
        Some(bk) => {
            out.push(1);
            for field in [bk.limits, bk.entry_sp, bk.exit_fp, bk.exit_pc] {
                out.extend_from_slice(&field.to_le_bytes());
            }
        }
    }
    out.extend_from_slice(&u16::try_from(t.features.len()).ok()?.to_le_bytes());
    for feature in &t.features {
        push_str(&mut out, feature)?;
    }
    out.extend_from_slice(&u32::try_from(index.entries.len()).ok()?.to_le_bytes());
    for entry in &index.entries {
        out.push(entry.kind.code());
        entry.signature.encode(&mut out);
        out.extend_from_slice(&entry.align.to_le_bytes());
        out.extend_from_slice(&entry.len.to_le_bytes());
        out.extend_from_slice(&entry.sha256);
        out.extend_from_slice(&u16::try_from(entry.relocations.len()).ok()?.to_le_bytes());
        for reloc in &entry.relocations {
            let RelocKind::Abs8 = reloc.kind;
            let RelocTarget::Callee = reloc.target;
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&reloc.offset.to_le_bytes());
            out.extend_from_slice(&reloc.addend.to_le_bytes());
        }
    }
    let seal = sha256(&out);
    out.extend_from_slice(&seal);
    Some(out)
}

fn push_str(out: &mut Vec<u8>, s: &str) -> Option<()> {
    if !s.bytes().all(is_name_byte) {
        return None;
    }
    out.push(u8::try_from(s.len()).ok()?);
    out.extend_from_slice(s.as_bytes());
    Some(())
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'+' | b'-')
}

/// Reads fields from the front of a byte string.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], IndexError> {
        let end = self.at.checked_add(n).ok_or(IndexError::Truncated)?;
        let out = self.bytes.get(self.at..end).ok_or(IndexError::Truncated)?;
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], IndexError> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    fn u8(&mut self) -> Result<u8, IndexError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, IndexError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, IndexError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn flag(&mut self, field: &'static str) -> Result<bool, IndexError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(bad(field, other)),
        }
    }

    fn string(&mut self, field: &'static str) -> Result<String, IndexError> {
        let len = self.u8()?;
        let bytes = self.take(usize::from(len))?;
        if !bytes.iter().copied().all(is_name_byte) {
            return Err(bad(field, String::from_utf8_lossy(bytes)));
        }
        // All ASCII: checked above.
        Ok(bytes.iter().map(|&b| char::from(b)).collect())
    }

    fn signature(&mut self) -> Result<Signature, IndexError> {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let (signature, len) = Signature::decode(rest).map_err(|e| match e {
            SignatureError::Malformed(m) if m.starts_with("truncated") => IndexError::Truncated,
            other => IndexError::Signature(other),
        })?;
        self.at += len;
        Ok(signature)
    }
}

fn bad(field: &'static str, value: impl ToString) -> IndexError {
    IndexError::BadField {
        field,
        value: value.to_string(),
    }
}

/// Decodes an index section, refusing anything but an exact encoding of a
/// self-consistent index whose seal matches.
pub fn decode_index(bytes: &[u8]) -> Result<Index, IndexError> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(4).ok() != Some(&INDEX_MAGIC[..]) {
        return Err(IndexError::BadMagic);
    }
    let version = r.u32()?;
    if version != INDEX_VERSION {
        return Err(IndexError::Version(version));
    }
    // Check the seal before reading further: a corrupt index is named as
    // such, not as whatever field the corruption happened to hit.
    let body = bytes.len().checked_sub(32).ok_or(IndexError::Truncated)?;
    if body < r.at || sha256(&bytes[..body]) != bytes[body..] {
        return Err(IndexError::Checksum);
    }
    let mut r = Reader {
        bytes: &bytes[..body],
        at: r.at,
    };
    let target = decode_target(&mut r)?;
    let count = r.u32()?;
    // Each entry takes at least 47 bytes: bound the allocation by the input.
    let mut entries = Vec::with_capacity((count as usize).min(bytes.len() / 47));
    let mut seen = std::collections::HashSet::new();
    for _ in 0..count {
        let code = r.u8()?;
        let kind = CodeKind::from_code(code).ok_or_else(|| bad("code kind", code))?;
        let signature = r.signature()?;
        let align = r.u32()?;
        if !align.is_power_of_two() || align > 4096 {
            return Err(bad("alignment", align));
        }
        let len = r.u32()?;
        let sha256 = r.array()?;
        let relocations = (0..r.u16()?)
            .map(|_| {
                let [kind, target] = r.array()?;
                if (kind, target) != (0, 0) {
                    return Err(bad("relocation kind", format!("{kind}/{target}")));
                }
                Ok(Relocation {
                    kind: RelocKind::Abs8,
                    target: RelocTarget::Callee,
                    offset: r.u32()?,
                    addend: i64::from_le_bytes(r.array()?),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !relocations.is_sorted_by_key(|r| r.offset) {
            return Err(bad("relocation order", "not sorted by offset"));
        }
        if !seen.insert((kind, signature.clone())) {
            return Err(IndexError::Duplicate(format!("{kind} of {signature}")));
        }
        entries.push(IndexEntry {
            kind,
            signature,
            align,
            len,
            sha256,
            relocations,
        });
    }
    if r.at != body {
        return Err(IndexError::TrailingBytes);
    }
    Ok(Index { target, entries })
}

fn decode_target(r: &mut Reader<'_>) -> Result<Target, IndexError> {
    let code = r.u8()?;
    let isa = Isa::from_code(code).ok_or_else(|| bad("ISA", code))?;
    let big_endian = r.flag("byte order")?;
    if big_endian != isa.is_big_endian() {
        return Err(bad(
            "byte order",
            format!("big-endian={big_endian} for {isa}"),
        ));
    }
    let pointer_bytes = r.u8()?;
    if pointer_bytes != 8 {
        return Err(bad("pointer width", pointer_bytes));
    }
    let code = r.u8()?;
    let native_conv = NativeConv::from_code(code).ok_or_else(|| bad("native convention", code))?;
    let code = r.u8()?;
    let wasm_conv = WasmConv::from_code(code).ok_or_else(|| bad("wasm convention", code))?;
    let os = r.string("operating system")?;
    let env = r.string("environment")?;
    let bookkeeping = if r.flag("bookkeeping flag")? {
        Some(Bookkeeping {
            limits: r.u32()?,
            entry_sp: r.u32()?,
            exit_fp: r.u32()?,
            exit_pc: r.u32()?,
        })
    } else {
        None
    };
    let features = (0..r.u16()?)
        .map(|_| r.string("feature"))
        .collect::<Result<Vec<_>, _>>()?;
    if !features.is_sorted_by(|a, b| a < b) {
        return Err(bad("feature list", "not sorted and distinct"));
    }
    Ok(Target {
        isa,
        os,
        env,
        native_conv,
        wasm_conv,
        bookkeeping,
        features,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CallConv, TrampolineKind, ValType};

    fn sample() -> Index {
        let sig = Signature::new(&[ValType::I32, ValType::V128], &[ValType::F64]).unwrap();
        let code = |kind, relocations| {
            IndexEntry::of(&CompiledTrampoline {
                kind,
                signature: sig.clone(),
                code: vec![0xc3; 40],
                relocations,
                align: 16,
            })
            .unwrap()
        };
        let reloc = Relocation {
            offset: 8,
            kind: RelocKind::Abs8,
            target: RelocTarget::Callee,
            addend: -3,
        };
        Index {
            target: Target {
                isa: Isa::Aarch64,
                os: "linux".into(),
                env: "gnu".into(),
                native_conv: NativeConv::SystemV,
                wasm_conv: WasmConv::Tail,
                bookkeeping: Some(Bookkeeping {
                    limits: 8,
                    entry_sp: 40,
                    exit_fp: 24,
                    exit_pc: 32,
                }),
                features: vec!["has_lse".into(), "has_pauth".into()],
            },
            entries: vec![
                code(
                    CodeKind::Trampoline(TrampolineKind::ArrayToWasm),
                    vec![reloc],
                ),
                code(CodeKind::Probe(CallConv::Native), vec![]),
            ],
        }
    }

    fn encode(index: &Index) -> Vec<u8> {
        encode_index(index).unwrap()
    }

    /// Re-seals `bytes` after an edit, as a forger (or a buggy writer) would.
    fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
        let body = bytes.len() - 32;
        let seal = sha256(&bytes[..body]);
        bytes[body..].copy_from_slice(&seal);
        bytes
    }

    #[test]
    fn index_round_trips() {
        let index = sample();
        assert_eq!(decode_index(&encode(&index)).unwrap(), index);
        let mut bare = sample();
        (bare.target.bookkeeping, bare.target.features, bare.entries) = (None, vec![], vec![]);
        bare.target.env.clear();
        assert_eq!(decode_index(&encode(&bare)).unwrap(), bare);
    }

    /// The header's bytes, pinned: magic, version 4, then the target.
    #[test]
    fn header_layout_is_pinned() {
        let bytes = encode(&sample());
        assert_eq!(&bytes[..8], b"SBIX\x04\0\0\0");
        assert_eq!(&bytes[8..13], &[1, 0, 8, 0, 0]);
        assert_eq!(&bytes[13..19], b"\x05linux");
    }

    #[test]
    fn previous_versions_are_refused_by_name() {
        // What springboard-compiler wrote before the target record: magic,
        // version 2, convention, count 0.
        let v2 = b"SBIX\x02\0\0\0\0\0\0\0\0";
        let err = decode_index(v2).unwrap_err();
        assert_eq!(err, IndexError::Version(2));
        let message = err.to_string();
        assert!(
            message.contains("version 2") && message.contains("version 4"),
            "{message}"
        );
    }

    /// Any change of any bit is refused by the seal; cuts and extensions too.
    #[test]
    fn every_bit_flip_truncation_and_extension_is_refused() {
        let bytes = encode(&sample());
        for at in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[at] ^= 1 << bit;
                assert!(decode_index(&bad).is_err(), "accepted a flip at {at}.{bit}");
            }
        }
        for cut in 0..bytes.len() {
            assert!(
                decode_index(&bytes[..cut]).is_err(),
                "accepted a cut at {cut}"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(decode_index(&extra), Err(IndexError::Checksum));
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(decode_index(&bad), Err(IndexError::BadMagic));
    }

    /// Behind a valid seal, every field is still checked.
    #[test]
    fn resealed_bad_fields_are_refused_by_name() {
        let bytes = encode(&sample());
        let edit = |at: usize, value: u8| {
            let mut bad = bytes.clone();
            bad[at] = value;
            decode_index(&reseal(bad)).unwrap_err().to_string()
        };
        assert!(edit(8, 9).contains("bad ISA: 9"));
        assert!(edit(9, 1).contains("byte order"));
        assert!(edit(10, 4).contains("pointer width: 4"));
        assert!(edit(11, 7).contains("native convention: 7"));
        assert!(edit(12, 7).contains("wasm convention: 7"));
        assert!(edit(14, b'L').contains("operating system: Linux"));
        let mut extra = bytes[..bytes.len() - 32].to_vec();
        extra.push(0);
        extra.extend_from_slice(&[0; 32]);
        assert_eq!(decode_index(&reseal(extra)), Err(IndexError::TrailingBytes));
        let mut twice = sample();
        twice.entries.push(twice.entries[0].clone());
        let message = decode_index(&encode(&twice)).unwrap_err().to_string();
        assert!(message.contains("twice"), "{message}");
        let mut unsorted = sample();
        unsorted.target.features.reverse();
        assert!(
            decode_index(&encode(&unsorted))
                .unwrap_err()
                .to_string()
                .contains("feature list")
        );
        let mut misaligned = sample();
        misaligned.entries[0].align = 3;
        assert!(
            decode_index(&encode(&misaligned))
                .unwrap_err()
                .to_string()
                .contains("alignment: 3")
        );
    }

    #[test]
    fn a_huge_count_does_not_allocate_for_it() {
        let mut bare = sample();
        bare.entries.clear();
        let bytes = encode(&bare);
        let count_at = bytes.len() - 36;
        let mut bad = bytes.clone();
        bad[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode_index(&reseal(bad)), Err(IndexError::Truncated));
    }

    #[test]
    fn an_entry_records_exactly_its_code() {
        let entry = &sample().entries[0];
        let sig = entry.signature.clone();
        let mut code = CompiledTrampoline {
            kind: entry.kind,
            signature: sig,
            code: vec![0xc3; 40],
            relocations: entry.relocations.clone(),
            align: 16,
        };
        assert_eq!(entry.mismatch(&code), None);
        code.code[39] = 0xc2;
        assert!(
            entry
                .mismatch(&code)
                .unwrap()
                .to_string()
                .contains("SHA-256")
        );
        code.code.pop();
        assert!(
            entry
                .mismatch(&code)
                .unwrap()
                .to_string()
                .contains("39 bytes")
        );
        code.code.push(0xc3);
        code.relocations[0].addend += 1;
        assert!(
            entry
                .mismatch(&code)
                .unwrap()
                .to_string()
                .contains("relocations")
        );
        code.relocations.clear();
        code.kind = CodeKind::Probe(CallConv::Wasm);
        assert!(
            entry
                .mismatch(&code)
                .unwrap()
                .to_string()
                .contains("probe_wasm")
        );
    }
}
