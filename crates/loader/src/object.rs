//! Reading the ahead-of-time objects `springboard-compiler` writes.
//!
//! Everything in an object is untrusted until checked. Its index section
//! (the manifest, `springboard_environ::format`) must decode exactly and
//! match its seal; the target it records must be this host's in every
//! respect (architecture, OS, environment, native convention, byte order,
//! pointer width, CPU features) and agree with the ELF header; and a
//! requested piece of code must be a function symbol inside `.text` whose
//! length, SHA-256 and relocations (type, target, offset, addend) are
//! exactly those the index records for that kind and signature. So whatever
//! the rest of the file says, the loader hands out only code the index
//! describes, and the index's seal ([`ObjectFile::digest`]) identifies all
//! of it. Anything else is an [`ObjectError`], never a crash.

use crate::features::host_lacks;
use object::read::{
    File, Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SymbolIndex,
};
use object::{Architecture, BinaryFormat, ObjectKind, SectionIndex};
use springboard_environ::format::{self, EntryMismatch, IndexEntry, IndexError, Target};
use springboard_environ::sha256::{Digest, to_hex};
use springboard_environ::{
    Bookkeeping, CodeKind, CompiledTrampoline, Isa, RelocKind, RelocTarget, Relocation, Signature,
    WasmConv,
};
// Fx, not SipHash: loading is hashing-bound, and flooding does not apply —
// an object is code its loader will run, so it comes from a trusted source
// or is authenticated (`parse_authenticated`) before anything is hashed.
use rustc_hash::FxHashMap;

/// Why an object was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// Not a parseable object file (truncated, bad headers, bad bounds...).
    #[error("malformed object file: {0}")]
    Malformed(object::read::Error),
    /// An object file without a `.text` section.
    #[error("malformed object file: no .text section")]
    NoText,
    /// A parseable file that is not a relocatable ELF or COFF object.
    #[error("not a relocatable ELF or COFF object ({format:?} {kind:?})")]
    NotRelocatable {
        /// The file's format.
        format: BinaryFormat,
        /// What kind of file of that format it is.
        kind: ObjectKind,
    },
    /// An object for another machine.
    #[error("object is for {}, but this host is {}", format!("{object:?}").to_lowercase(), host.map_or("unsupported", Isa::name))]
    WrongMachine {
        /// The object's machine.
        object: Architecture,
        /// The host's ISA, if Springboard has one for it.
        host: Option<Isa>,
    },
    /// An object of the other byte order or pointer width.
    #[error("object is {object}, but this host is {host}")]
    WrongLayout {
        /// The object's byte order and width.
        object: &'static str,
        /// The host's.
        host: &'static str,
    },
    /// An object whose index records a target this host is not.
    #[error("object is for {object}, but this host is {host}: {}", differences.join(", "))]
    WrongTarget {
        /// The object's target.
        object: String,
        /// The host's platform.
        host: String,
        /// Each difference, `what: object's vs host's`.
        differences: Vec<String>,
    },
    /// Code that may use an instruction-set extension this CPU lacks.
    #[error("object's code may use `{0}`, which this CPU does not have")]
    MissingFeature(String),
    /// The file's header and the index section disagree.
    #[error("object's header contradicts its index: {0}")]
    Inconsistent(Inconsistency),
    /// The index's digest is not the one the runtime expects.
    #[error(
        "object's digest is {}, not the expected {}",
        to_hex(found),
        to_hex(expected)
    )]
    WrongDigest {
        /// The object's.
        found: Digest,
        /// The expected one.
        expected: Digest,
    },
    /// No `.springboard.index` section: not written by Springboard.
    #[error(
        "object has no {} section: it was not written by springboard-compiler",
        format::INDEX_SECTION
    )]
    NoIndex,
    /// The index section does not decode.
    #[error("bad index section: {0}")]
    Index(#[from] IndexError),
    /// No code of this kind and signature in the index.
    #[error("object holds no {kind} for {signature}")]
    NotInIndex {
        /// What was asked for.
        kind: CodeKind,
        /// For which signature.
        signature: Signature,
    },
    /// A symbol the index promises is missing, not a function in `.text`,
    /// or not the code the index records.
    #[error("symbol `{symbol}` {problem}")]
    BadSymbol {
        /// The symbol's name.
        symbol: String,
        /// What is wrong with it.
        problem: SymbolProblem,
    },
    /// An object whose wasm-convention code uses another convention than
    /// the runtime's.
    #[error(
        "the object's wasm convention is `{object}`, the runtime's `{expected}`: its trampolines would misread every wasm call"
    )]
    WasmConvMismatch {
        /// The object's.
        object: WasmConv,
        /// The runtime's.
        expected: WasmConv,
    },
    /// An object whose trampolines record entry and exit state elsewhere
    /// than the runtime's (or at all, or not at all).
    #[error(
        "the object's trampolines were compiled with bookkeeping {object:?}, the runtime's is {expected:?}"
    )]
    BookkeepingMismatch {
        /// The object's.
        object: Option<Bookkeeping>,
        /// The runtime's.
        expected: Option<Bookkeeping>,
    },
    /// A relocation the compiler never emits.
    #[error("symbol `{symbol}` has an unsupported relocation: {problem}")]
    BadRelocation {
        /// The symbol whose code holds it.
        symbol: String,
        /// What is wrong with it.
        problem: RelocationProblem,
    },
}

/// Where an object's header contradicts its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Inconsistency {
    /// The file format (ELF or COFF).
    #[error("format `{header:?}` in the header, `{index:?}` in the index")]
    Format {
        /// The header's.
        header: BinaryFormat,
        /// The index's target's.
        index: BinaryFormat,
    },
    /// The machine.
    #[error("machine `{}` in the header, `{}` in the index", format!("{header:?}").to_lowercase(), format!("{index:?}").to_lowercase())]
    Machine {
        /// The header's.
        header: Architecture,
        /// The index's target's.
        index: Architecture,
    },
    /// The byte order.
    #[error("byte order `{}` in the header, `{}` in the index", endian(*header_big), endian(*index_big))]
    ByteOrder {
        /// Whether the header says big-endian.
        header_big: bool,
        /// Whether the index's target is.
        index_big: bool,
    },
    /// The ELF flags.
    #[error("flags `{header:#x}` in the header, `{index:#x}` in the index")]
    Flags {
        /// The header's.
        header: u32,
        /// The index's target's.
        index: u32,
    },
}

fn endian(big: bool) -> &'static str {
    if big { "big-endian" } else { "little-endian" }
}

/// What is wrong with a symbol the index promises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SymbolProblem {
    /// The file has no such symbol.
    #[error("is missing")]
    Missing,
    /// It is not a function symbol in `.text`.
    #[error("is not a function in .text")]
    NotAFunctionInText,
    /// Its range lies outside `.text`, or is empty.
    #[error("lies outside .text or is empty")]
    OutsideText,
    /// Its code is not what the index records.
    #[error(transparent)]
    Mismatch(#[from] EntryMismatch),
}

/// What is wrong with a relocation in a symbol's code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelocationProblem {
    /// A relocation type other than the ISA's absolute 8-byte one.
    #[error("{flags:?} at {offset:#x}")]
    Type {
        /// The relocation's type, as the file records it.
        flags: RelocationFlags,
        /// Its offset in `.text`.
        offset: u64,
    },
    /// A target that is not a symbol.
    #[error("target {target:?} at {offset:#x}")]
    Target {
        /// The target.
        target: RelocationTarget,
        /// Its offset in `.text`.
        offset: u64,
    },
    /// A symbol other than the signature's callee.
    #[error("against {target:?} instead of `{callee}`")]
    NotTheCallee {
        /// The symbol it is against, if it has a name.
        target: Option<String>,
        /// The callee symbol the signature's templates use.
        callee: String,
    },
    /// It reaches past the end of its symbol.
    #[error("at {offset:#x} overruns the symbol")]
    Overrun {
        /// Its offset in `.text`.
        offset: u64,
    },
}

/// A parsed and checked object file.
pub struct ObjectFile<'data> {
    file: File<'data>,
    target: Target,
    digest: Digest,
    index: Vec<IndexEntry>,
    /// The index by kind and signature, and symbols and `.text` relocations
    /// gathered once, so that loading n entries is O(n log n), not O(n²).
    by_key: FxHashMap<(CodeKind, Signature), usize>,
    symbols: FxHashMap<&'data str, Symbol>,
    text: Text<'data>,
}

/// What `get` needs of a symbol.
#[derive(Clone, Copy)]
struct Symbol {
    address: u64,
    size: u64,
    in_text_as_function: bool,
}

/// The `.text` section: its bytes and its relocations sorted by offset.
struct Text<'data> {
    index: SectionIndex,
    address: u64,
    data: &'data [u8],
    relocations: Vec<(u64, object::read::Relocation)>,
}

fn layout(little: bool, wide: bool) -> &'static str {
    match (little, wide) {
        (true, true) => "little-endian 64-bit",
        (true, false) => "little-endian 32-bit",
        (false, true) => "big-endian 64-bit",
        (false, false) => "big-endian 32-bit",
    }
}

/// Refuses a file that is not a relocatable ELF or COFF object of this
/// host's machine, byte order and pointer width.
fn check_container(file: &File<'_>) -> Result<(), ObjectError> {
    let relocatable = matches!(file.format(), BinaryFormat::Elf | BinaryFormat::Coff)
        && file.kind() == ObjectKind::Relocatable;
    if !relocatable {
        return Err(ObjectError::NotRelocatable {
            format: file.format(),
            kind: file.kind(),
        });
    }
    let host = Isa::host();
    let isa = Isa::from_elf_architecture(file.architecture());
    if isa.is_none() || isa != host {
        return Err(ObjectError::WrongMachine {
            object: file.architecture(),
            host,
        });
    }
    let host_layout = layout(
        cfg!(target_endian = "little"),
        cfg!(target_pointer_width = "64"),
    );
    // A COFF object file has no class: its width is its machine's.
    let wide = match file.format() {
        BinaryFormat::Coff => file
            .architecture()
            .address_size()
            .is_some_and(|size| size.bytes() == 8),
        _ => file.is_64(),
    };
    let object_layout = layout(file.is_little_endian(), wide);
    if object_layout != host_layout {
        return Err(ObjectError::WrongLayout {
            object: object_layout,
            host: host_layout,
        });
    }
    Ok(())
}

/// The file's index, decoded, and its seal, which must be `expected` if
/// given (checked before anything else of the index is trusted).
fn read_index(
    file: &File<'_>,
    expected: Option<&Digest>,
) -> Result<(format::Index, Digest), ObjectError> {
    let bytes = file
        .section_by_name(format::INDEX_SECTION)
        .ok_or(ObjectError::NoIndex)?
        .data()
        .map_err(ObjectError::Malformed)?;
    let index = format::decode_index(bytes)?;
    // The seal: the SHA-256 of everything else in the index.
    let digest: Digest = bytes[bytes.len() - 32..]
        .try_into()
        .expect("a decoded index ends in its seal");
    if let Some(&expected) = expected.filter(|&e| *e != digest) {
        return Err(ObjectError::WrongDigest {
            found: digest,
            expected,
        });
    }
    Ok((index, digest))
}

/// Every symbol of the file by name (about one per index entry, plus the
/// callees of templates), with what `get` needs of it.
fn symbols_in<'data>(
    file: &File<'data>,
    text: SectionIndex,
    entries: usize,
) -> FxHashMap<&'data str, Symbol> {
    let mut symbols = FxHashMap::with_capacity_and_hasher(entries * 2, Default::default());
    symbols.extend(file.symbols().filter_map(|sym| {
        let in_text_as_function =
            sym.section_index() == Some(text) && sym.kind() == object::SymbolKind::Text;
        Some((
            sym.name().ok()?,
            Symbol {
                address: sym.address(),
                size: sym.size(),
                in_text_as_function,
            },
        ))
    }));
    symbols
}

impl<'data> Text<'data> {
    /// The file's `.text` section.
    fn of(file: &File<'data>) -> Result<Text<'data>, ObjectError> {
        let section = file
            .section_by_name(format::TEXT_SECTION)
            .ok_or(ObjectError::NoText)?;
        let mut relocations: Vec<_> = section.relocations().collect();
        relocations.sort_by_key(|(offset, _)| *offset);
        Ok(Text {
            index: section.index(),
            address: section.address(),
            data: section.data().map_err(ObjectError::Malformed)?,
            relocations,
        })
    }
}

impl<'data> ObjectFile<'data> {
    /// Parses `bytes` and checks that it is a Springboard object for this host.
    pub fn parse(bytes: &'data [u8]) -> Result<ObjectFile<'data>, ObjectError> {
        ObjectFile::parse_inner(bytes, None)
    }

    /// [`parse`](Self::parse), refusing the object unless its
    /// [`digest`](Self::digest) is `expected` — before anything else in the
    /// file is read, so that an object from an untrusted source costs no
    /// more than its index to refuse.
    pub fn parse_authenticated(
        bytes: &'data [u8],
        expected: &Digest,
    ) -> Result<ObjectFile<'data>, ObjectError> {
        ObjectFile::parse_inner(bytes, Some(expected))
    }

    fn parse_inner(
        bytes: &'data [u8],
        expected: Option<&Digest>,
    ) -> Result<ObjectFile<'data>, ObjectError> {
        let file = File::parse(bytes).map_err(ObjectError::Malformed)?;
        check_container(&file)?;
        let (format::Index { target, entries }, digest) = read_index(&file, expected)?;
        check_target(&file, &target)?;
        let text = Text::of(&file)?;
        let symbols = symbols_in(&file, text.index, entries.len());
        let by_key = entries
            .iter()
            .enumerate()
            .map(|(at, e)| ((e.kind, e.signature.clone()), at))
            .collect();
        Ok(ObjectFile {
            file,
            target,
            digest,
            index: entries,
            by_key,
            symbols,
            text,
        })
    }

    /// What the object holds, as its index section says.
    pub fn entries(&self) -> &[IndexEntry] {
        &self.index
    }

    /// What the object's code was built for (checked against this host).
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The object's digest: the SHA-256 its index section is sealed with,
    /// which covers the target and every byte, length and relocation of
    /// every piece of code the object can load. A runtime that loads objects
    /// from elsewhere pins it, or verifies a signature over it, to
    /// authenticate them ([`parse_authenticated`](Self::parse_authenticated)).
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The calling convention of the object's wasm-convention code.
    pub fn wasm_conv(&self) -> WasmConv {
        self.target.wasm_conv
    }

    /// Refuses the object unless its wasm-convention code uses `expected`,
    /// the convention of the runtime that will call it.
    pub fn expect_wasm_conv(&self, expected: WasmConv) -> Result<(), ObjectError> {
        if self.target.wasm_conv != expected {
            return Err(ObjectError::WasmConvMismatch {
                object: self.target.wasm_conv,
                expected,
            });
        }
        Ok(())
    }

    /// Refuses the object unless its trampolines record entry and exit
    /// state exactly where the runtime's `expected` says (or, for `None`,
    /// not at all).
    pub fn expect_bookkeeping(&self, expected: Option<Bookkeeping>) -> Result<(), ObjectError> {
        if self.target.bookkeeping != expected {
            return Err(ObjectError::BookkeepingMismatch {
                object: self.target.bookkeeping,
                expected,
            });
        }
        Ok(())
    }

    /// The code of `kind` for `signature`, with its relocations, checked.
    pub fn get(
        &self,
        kind: CodeKind,
        signature: &Signature,
    ) -> Result<CompiledTrampoline, ObjectError> {
        let entry = self
            .by_key
            .get(&(kind, signature.clone()))
            .map(|&at| &self.index[at])
            .ok_or_else(|| ObjectError::NotInIndex {
                kind,
                signature: signature.clone(),
            })?;
        let name = entry.symbol_name();
        let bad_symbol = |problem: SymbolProblem| ObjectError::BadSymbol {
            symbol: name.clone(),
            problem,
        };
        let symbol = *self
            .symbols
            .get(name.as_str())
            .ok_or_else(|| bad_symbol(SymbolProblem::Missing))?;
        if !symbol.in_text_as_function {
            return Err(bad_symbol(SymbolProblem::NotAFunctionInText));
        }
        // COFF symbols carry no size: there the index's length is the only one
        // (and `mismatch` below still checks the bytes against its digest).
        let size = match self.file.format() {
            BinaryFormat::Coff => u64::from(entry.len),
            _ => symbol.size,
        };
        let start = symbol.address.checked_sub(self.text.address);
        let range = start.and_then(|s| Some(s..s.checked_add(size)?));
        let code = range
            .clone()
            .filter(|r| !r.is_empty())
            .and_then(|r| {
                self.text
                    .data
                    .get(usize::try_from(r.start).ok()?..usize::try_from(r.end).ok()?)
            })
            .ok_or_else(|| bad_symbol(SymbolProblem::OutsideText))?;
        let range = range.expect("checked above");
        let mut code = CompiledTrampoline {
            kind,
            signature: signature.clone(),
            code: code.to_vec(),
            relocations: Vec::new(),
            align: entry.align,
        };
        code.relocations = self.relocations(&name, signature, range, &mut code.code)?;
        match entry.mismatch(&code) {
            None => Ok(code),
            Some(mismatch) => Err(bad_symbol(SymbolProblem::Mismatch(mismatch))),
        }
    }

    /// The relocations inside `range` of `.text`, each of which must be the
    /// compiler's absolute callee relocation for `signature`. A COFF addend
    /// lies in `code` (the symbol's bytes): it is moved into the relocation
    /// and its bytes zeroed, as the compiler left them.
    fn relocations(
        &self,
        name: &str,
        signature: &Signature,
        range: core::ops::Range<u64>,
        code: &mut [u8],
    ) -> Result<Vec<Relocation>, ObjectError> {
        let bad = |problem: RelocationProblem| ObjectError::BadRelocation {
            symbol: name.to_owned(),
            problem,
        };
        // Built on the first relocation: most kinds have none.
        let mut callee = None;
        let mut out = Vec::new();
        let first = self
            .text
            .relocations
            .partition_point(|(offset, _)| *offset < range.start);
        for (offset, reloc) in self.text.relocations[first..]
            .iter()
            .take_while(|(o, _)| *o < range.end)
        {
            let offset = *offset;
            let expected = match reloc.flags() {
                RelocationFlags::Elf { r_type } => r_type == self.target.isa.abs8_relocation(),
                RelocationFlags::Coff { typ } => {
                    Some(typ) == self.target.isa.coff_abs8_relocation()
                }
                _ => false,
            };
            if !expected {
                let flags = reloc.flags();
                return Err(bad(RelocationProblem::Type { flags, offset }));
            }
            let target = match reloc.target() {
                RelocationTarget::Symbol(index) => self.symbol_name(index),
                target => return Err(bad(RelocationProblem::Target { target, offset })),
            };
            let callee = callee.get_or_insert_with(|| format::callee_symbol_name(signature));
            if target.as_deref() != Some(callee.as_str()) {
                let callee = callee.clone();
                return Err(bad(RelocationProblem::NotTheCallee { target, callee }));
            }
            // Inside the symbol, so its offset in the code fits a `u32`.
            let at = offset - range.start;
            let slot = usize::try_from(at)
                .ok()
                .and_then(|at| Some(at..at.checked_add(RelocKind::Abs8.size())?))
                .filter(|slot| slot.end as u64 <= range.end - range.start);
            let (Some(slot), Ok(at)) = (slot, u32::try_from(at)) else {
                return Err(bad(RelocationProblem::Overrun { offset }));
            };
            let mut addend = reloc.addend();
            if reloc.has_implicit_addend() {
                let bytes = &mut code[slot];
                let stored: [u8; 8] = (&*bytes).try_into().expect("an Abs8 is 8 bytes");
                addend = addend.wrapping_add(if self.file.is_little_endian() {
                    i64::from_le_bytes(stored)
                } else {
                    i64::from_be_bytes(stored)
                });
                bytes.fill(0);
            }
            out.push(Relocation {
                offset: at,
                kind: RelocKind::Abs8,
                target: RelocTarget::Callee,
                addend,
            });
        }
        Ok(out)
    }

    fn symbol_name(&self, index: SymbolIndex) -> Option<String> {
        let symbol = self.file.symbol_by_index(index).ok()?;
        symbol.name().ok().map(str::to_owned)
    }
}

/// Refuses an index whose target is not this host, or contradicts the
/// header it came with.
fn check_target(file: &File<'_>, target: &Target) -> Result<(), ObjectError> {
    let elf_flags = match file.flags() {
        object::FileFlags::Elf { e_flags, .. } => e_flags.0,
        _ => 0,
    };
    let inconsistency = if file.format() != target.object_format() {
        Some(Inconsistency::Format {
            header: file.format(),
            index: target.object_format(),
        })
    } else if file.architecture() != target.isa.elf_architecture() {
        Some(Inconsistency::Machine {
            header: file.architecture(),
            index: target.isa.elf_architecture(),
        })
    } else if file.is_little_endian() == target.is_big_endian() {
        Some(Inconsistency::ByteOrder {
            header_big: !file.is_little_endian(),
            index_big: target.is_big_endian(),
        })
    } else if elf_flags != target.isa.elf_flags() {
        Some(Inconsistency::Flags {
            header: elf_flags,
            index: target.isa.elf_flags(),
        })
    } else {
        None
    };
    if let Some(inconsistency) = inconsistency {
        return Err(ObjectError::Inconsistent(inconsistency));
    }
    let differences = target.host_mismatches();
    if !differences.is_empty() {
        return Err(ObjectError::WrongTarget {
            object: target.to_string(),
            host: Target::host_platform(),
            differences,
        });
    }
    match target.features.iter().find(|f| host_lacks(f)) {
        Some(missing) => Err(ObjectError::MissingFeature(missing.clone())),
        None => Ok(()),
    }
}
