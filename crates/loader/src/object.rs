//! Reading the ahead-of-time objects `springboard-compiler` writes.
//!
//! Everything in an object is untrusted until checked: its format, machine,
//! byte order and pointer width must be the host's; its index section must
//! decode exactly; a requested symbol must be a function inside `.text`; and
//! its relocations must be exactly what the compiler emits for that kind (one
//! absolute 64-bit relocation against the callee symbol for templates, none
//! otherwise). Anything else is an [`ObjectError`], never a crash.

use object::read::{
    File, Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SymbolIndex,
};
use object::{BinaryFormat, ObjectKind, SectionIndex};
use springboard_environ::format::{self, IndexEntry, IndexError};
use springboard_environ::{
    CodeKind, CompiledTrampoline, Isa, RelocKind, RelocTarget, Relocation, Signature, WasmConv,
};
// Fx, not SipHash: loading is hashing-bound, and flooding attacks do not
// apply — an object is code its loader will run, so it comes from a trusted
// source; the checks here catch corruption and mismatches, not malice.
use rustc_hash::{FxHashMap, FxHashSet};

/// Why an object was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// Not a parseable object file (truncated, bad headers, bad bounds...).
    #[error("malformed object file: {0}")]
    Malformed(String),
    /// A parseable file that is not an ELF relocatable object.
    #[error("not an ELF relocatable object ({0})")]
    NotRelocatableElf(String),
    /// An object for another machine.
    #[error("object is for {object}, but this host is {host}")]
    WrongMachine {
        /// The object's machine.
        object: String,
        /// The host's machine.
        host: String,
    },
    /// An object of the other byte order or pointer width.
    #[error("object is {object}, but this host is {host}")]
    WrongLayout {
        /// The object's byte order and width.
        object: &'static str,
        /// The host's.
        host: &'static str,
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
    /// A symbol the index promises is missing or not a function in `.text`.
    #[error("symbol `{symbol}` {problem}")]
    BadSymbol {
        /// The symbol's name.
        symbol: String,
        /// What is wrong with it.
        problem: String,
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
    /// A relocation the compiler never emits.
    #[error("symbol `{symbol}` has an unsupported relocation: {problem}")]
    BadRelocation {
        /// The symbol whose code holds it.
        symbol: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A parsed and checked object file.
pub struct ObjectFile<'data> {
    file: File<'data>,
    isa: Isa,
    wasm_conv: WasmConv,
    index: Vec<IndexEntry>,
    /// The index as a set, and symbols and `.text` relocations gathered once,
    /// so that loading n entries is O(n log n), not O(n²).
    index_set: FxHashSet<IndexEntry>,
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
    align: u64,
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

impl<'data> ObjectFile<'data> {
    /// Parses `bytes` and checks that it is a Springboard object for this host.
    pub fn parse(bytes: &'data [u8]) -> Result<ObjectFile<'data>, ObjectError> {
        let file = File::parse(bytes).map_err(|e| ObjectError::Malformed(e.to_string()))?;
        if file.format() != BinaryFormat::Elf || file.kind() != ObjectKind::Relocatable {
            return Err(ObjectError::NotRelocatableElf(format!(
                "{:?} {:?}",
                file.format(),
                file.kind()
            )));
        }
        let isa = Isa::from_elf_architecture(file.architecture());
        let host = Isa::host();
        if isa.is_none() || isa != host {
            return Err(ObjectError::WrongMachine {
                object: format!("{:?}", file.architecture()).to_lowercase(),
                host: host.map_or("unsupported", Isa::name).to_owned(),
            });
        }
        let isa = isa.expect("checked above");
        let host_layout = layout(
            cfg!(target_endian = "little"),
            cfg!(target_pointer_width = "64"),
        );
        let object_layout = layout(file.is_little_endian(), file.is_64());
        if object_layout != host_layout {
            return Err(ObjectError::WrongLayout {
                object: object_layout,
                host: host_layout,
            });
        }
        let index = file
            .section_by_name(format::INDEX_SECTION)
            .ok_or(ObjectError::NoIndex)?;
        let format::Index {
            wasm_conv,
            entries: index,
        } = format::decode_index(
            index
                .data()
                .map_err(|e| ObjectError::Malformed(e.to_string()))?,
        )?;
        let malformed = |e: object::read::Error| ObjectError::Malformed(e.to_string());
        let section = file
            .section_by_name(format::TEXT_SECTION)
            .ok_or_else(|| ObjectError::Malformed("no .text section".into()))?;
        let mut relocations: Vec<_> = section.relocations().collect();
        relocations.sort_by_key(|(offset, _)| *offset);
        let text = Text {
            index: section.index(),
            address: section.address(),
            align: section.align(),
            data: section.data().map_err(malformed)?,
            relocations,
        };
        // About one symbol per entry, plus the callees of templates.
        let mut symbols = FxHashMap::with_capacity_and_hasher(index.len() * 2, Default::default());
        symbols.extend(file.symbols().filter_map(|sym| {
            let name = sym.name().ok()?;
            let in_text_as_function =
                sym.section_index() == Some(text.index) && sym.kind() == object::SymbolKind::Text;
            Some((
                name,
                Symbol {
                    address: sym.address(),
                    size: sym.size(),
                    in_text_as_function,
                },
            ))
        }));
        let index_set = index.iter().cloned().collect();
        Ok(ObjectFile {
            file,
            isa,
            wasm_conv,
            index,
            index_set,
            symbols,
            text,
        })
    }

    /// What the object holds, as its index section says.
    pub fn entries(&self) -> &[IndexEntry] {
        &self.index
    }

    /// The calling convention of the object's wasm-convention code.
    pub fn wasm_conv(&self) -> WasmConv {
        self.wasm_conv
    }

    /// Refuses the object unless its wasm-convention code uses `expected`,
    /// the convention of the runtime that will call it.
    pub fn expect_wasm_conv(&self, expected: WasmConv) -> Result<(), ObjectError> {
        if self.wasm_conv != expected {
            return Err(ObjectError::WasmConvMismatch {
                object: self.wasm_conv,
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
        let entry = IndexEntry {
            kind,
            signature: signature.clone(),
        };
        if !self.index_set.contains(&entry) {
            return Err(ObjectError::NotInIndex {
                kind,
                signature: signature.clone(),
            });
        }
        let name = entry.symbol_name();
        let bad_symbol = |problem: &str| ObjectError::BadSymbol {
            symbol: name.clone(),
            problem: problem.into(),
        };
        let symbol = *self
            .symbols
            .get(name.as_str())
            .ok_or_else(|| bad_symbol("is missing"))?;
        if !symbol.in_text_as_function {
            return Err(bad_symbol("is not a function in .text"));
        }
        let start = symbol.address.checked_sub(self.text.address);
        let range = start.and_then(|s| Some(s..s.checked_add(symbol.size)?));
        let code = range
            .clone()
            .filter(|r| !r.is_empty())
            .and_then(|r| {
                self.text
                    .data
                    .get(usize::try_from(r.start).ok()?..usize::try_from(r.end).ok()?)
            })
            .ok_or_else(|| bad_symbol("lies outside .text or is empty"))?;
        let range = range.expect("checked above");
        let relocations = self.relocations(&name, signature, range)?;
        let expected = usize::from(kind.is_template());
        if relocations.len() != expected {
            let problem = format!(
                "{kind} needs {expected} callee relocation(s), found {}",
                relocations.len()
            );
            return Err(ObjectError::BadRelocation {
                symbol: name,
                problem,
            });
        }
        Ok(CompiledTrampoline {
            kind,
            signature: signature.clone(),
            code: code.to_vec(),
            relocations,
            align: u32::try_from(self.text.align).unwrap_or(16).clamp(1, 4096),
        })
    }

    /// The relocations inside `range` of `.text`, each of which must be the
    /// compiler's absolute callee relocation for `signature`.
    fn relocations(
        &self,
        name: &str,
        signature: &Signature,
        range: core::ops::Range<u64>,
    ) -> Result<Vec<Relocation>, ObjectError> {
        let bad = |problem: String| ObjectError::BadRelocation {
            symbol: name.to_owned(),
            problem,
        };
        let expected_type = self.isa.abs8_relocation();
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
            let r_type = match reloc.flags() {
                RelocationFlags::Elf { r_type } => r_type,
                other => return Err(bad(format!("{other:?}"))),
            };
            if r_type != expected_type {
                return Err(bad(format!(
                    "ELF relocation type {} at {offset:#x}",
                    r_type.0
                )));
            }
            let target = match reloc.target() {
                RelocationTarget::Symbol(index) => self.symbol_name(index),
                other => return Err(bad(format!("target {other:?} at {offset:#x}"))),
            };
            let callee = callee.get_or_insert_with(|| format::callee_symbol_name(signature));
            if target.as_deref() != Some(callee.as_str()) {
                return Err(bad(format!("against {target:?} instead of `{callee}`")));
            }
            let end = offset
                .checked_add(RelocKind::Abs8.size() as u64)
                .filter(|&end| end <= range.end);
            if end.is_none() {
                return Err(bad(format!("at {offset:#x} overruns the symbol")));
            }
            out.push(Relocation {
                offset: u32::try_from(offset - range.start)
                    .map_err(|_| bad("offset too large".into()))?,
                kind: RelocKind::Abs8,
                target: RelocTarget::Callee,
                addend: reloc.addend(),
            });
        }
        Ok(out)
    }

    fn symbol_name(&self, index: SymbolIndex) -> Option<String> {
        let symbol = self.file.symbol_by_index(index).ok()?;
        symbol.name().ok().map(str::to_owned)
    }
}
