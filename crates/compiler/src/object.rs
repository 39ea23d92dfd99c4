//! [`ObjectBuilder`]: many compiled trampolines in one relocatable object
//! (ELF, or COFF for Windows targets).

use crate::{CallConv, CodeKind, CompiledTrampoline, Compiler, Error, RelocKind, Signature};
use object::write::{self, SectionId, StandardSection, Symbol, SymbolId, SymbolSection};
use object::{
    BinaryFormat, Endianness, FileFlags, RelocationEncoding, RelocationFlags, RelocationKind,
    SectionKind, SymbolFlags, SymbolKind, SymbolScope, elf,
};
use springboard_environ::MIN_CODE_ALIGN;
use springboard_environ::format::{self, Index, IndexEntry, Target};
use springboard_environ::sha256::Digest;
use std::collections::{HashMap, HashSet};

/// Collects compiled code and writes it as one relocatable object in the
/// target's format (`Target::object_format`: COFF for Windows, ELF
/// elsewhere), in the layout `springboard_environ::format` documents: one global function
/// symbol per entry, named by `format::symbol_name`, and an index section
/// recording the compiler's full target and each symbol's kind, signature,
/// length, digest and relocations.
///
/// A template trampoline's callee is left as the undefined symbol
/// `format::callee_symbol_name`, for the linker or the loader to resolve,
/// unless the object also holds a wasm-convention probe of that signature,
/// which then defines it (so a test harness can link and run the object
/// with nothing else).
pub struct ObjectBuilder {
    object: write::Object<'static>,
    target: Target,
    text: SectionId,
    entries: Vec<IndexEntry>,
    seen: HashSet<(CodeKind, Signature)>,
    callees: HashMap<Signature, SymbolId>,
    wasm_probes: HashMap<Signature, SymbolId>,
    /// Every defined symbol by name, for `add_stamp`.
    defined: HashMap<String, SymbolId>,
}

impl ObjectBuilder {
    /// An empty object for the target of `compiler`.
    pub fn new(compiler: &Compiler) -> Result<ObjectBuilder, Error> {
        let target = compiler.target()?;
        let isa = target.isa;
        let endian = if isa.is_big_endian() {
            Endianness::Big
        } else {
            Endianness::Little
        };
        let format = target.object_format();
        let mut object = write::Object::new(format, isa.elf_architecture(), endian);
        if format == BinaryFormat::Coff {
            if isa.coff_abs8_relocation().is_none() {
                return Err(Error::Object(format!(
                    "no COFF objects for {} ({isa} has no Windows)",
                    target.platform()
                )));
            }
        } else {
            object.flags = FileFlags::Elf {
                os_abi: elf::ELFOSABI_NONE,
                abi_version: 0,
                e_flags: elf::FileFlags(isa.elf_flags()),
            };
            // Trampolines never need an executable stack; say so to the linker.
            object.add_section(Vec::new(), b".note.GNU-stack".to_vec(), SectionKind::Other);
        }
        let text = object.section_id(StandardSection::Text);
        Ok(ObjectBuilder {
            object,
            target,
            text,
            entries: Vec::new(),
            seen: HashSet::new(),
            callees: HashMap::new(),
            wasm_probes: HashMap::new(),
            defined: HashMap::new(),
        })
    }

    /// Adds one piece of code (compiled by a compiler for this object's
    /// target). Adding the same kind and signature twice is an error.
    pub fn add(&mut self, code: &CompiledTrampoline) -> Result<(), Error> {
        let entry = IndexEntry::of(code).ok_or_else(|| {
            Error::Object(format!(
                "{} of {}: code too long or too many relocations",
                code.kind, code.signature
            ))
        })?;
        if !self.seen.insert((code.kind, code.signature.clone())) {
            return Err(Error::Object(format!(
                "{} of {} added twice",
                code.kind, code.signature
            )));
        }
        let symbol = self.define(&entry.symbol_name(), code)?;
        if code.kind == CodeKind::Probe(CallConv::Wasm) {
            self.wasm_probes.insert(code.signature.clone(), symbol);
        }
        if !code.relocations.is_empty() {
            let callee = self.callee_symbol(&code.signature);
            self.relocate(symbol, code, callee)?;
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Adds a copy of the template `code` named `name`, whose callee is the
    /// symbol `callee`, which must already be in the object. Such copies are
    /// not recorded in the index: they let a harness chain code an object
    /// holds (e.g. `array_to_wasm` into `wasm_to_native`) without a loader.
    pub fn add_stamp(
        &mut self,
        code: &CompiledTrampoline,
        name: &str,
        callee: &str,
    ) -> Result<(), Error> {
        let callee = *self.defined.get(callee).ok_or_else(|| {
            Error::Object(format!(
                "stamp `{name}`: callee `{callee}` is not in the object"
            ))
        })?;
        let symbol = self.define(name, code)?;
        self.relocate(symbol, code, callee)
    }

    /// Appends `code` to `.text` under a new global symbol `name`.
    fn define(&mut self, name: &str, code: &CompiledTrampoline) -> Result<SymbolId, Error> {
        if self.defined.contains_key(name) {
            return Err(Error::Object(format!("symbol `{name}` defined twice")));
        }
        let offset = self.object.append_section_data(
            self.text,
            &code.code,
            u64::from(code.align.max(MIN_CODE_ALIGN)),
        );
        let symbol = self.object.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: offset,
            size: code.code.len() as u64,
            kind: SymbolKind::Text,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Section(self.text),
            flags: SymbolFlags::None,
        });
        self.defined.insert(name.to_owned(), symbol);
        Ok(symbol)
    }

    /// Emits `code`'s callee relocations, at `symbol`'s offset, against `callee`.
    fn relocate(
        &mut self,
        symbol: SymbolId,
        code: &CompiledTrampoline,
        callee: SymbolId,
    ) -> Result<(), Error> {
        let offset = self.object.symbol(symbol).value;
        for reloc in &code.relocations {
            let RelocKind::Abs8 = reloc.kind;
            let flags = RelocationFlags::Generic {
                kind: RelocationKind::Absolute,
                encoding: RelocationEncoding::Generic,
                size: 64,
            };
            let relocation = write::Relocation {
                offset: offset + u64::from(reloc.offset),
                symbol: callee,
                addend: reloc.addend,
                flags,
            };
            self.object
                .add_relocation(self.text, relocation)
                .map_err(|e| Error::Object(e.to_string()))?;
        }
        Ok(())
    }

    fn callee_symbol(&mut self, signature: &Signature) -> SymbolId {
        let object = &mut self.object;
        *self.callees.entry(signature.clone()).or_insert_with(|| {
            object.add_symbol(Symbol {
                name: format::callee_symbol_name(signature).into_bytes(),
                value: 0,
                size: 0,
                kind: SymbolKind::Text,
                scope: SymbolScope::Linkage,
                weak: false,
                section: SymbolSection::Undefined,
                flags: SymbolFlags::None,
            })
        })
    }

    /// How many pieces of code were added.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The object file's bytes.
    pub fn finish(self) -> Result<Vec<u8>, Error> {
        Ok(self.finish_with_digest()?.0)
    }

    /// The object file's bytes and its digest (the seal of its index, which
    /// the loader's `ObjectFile::digest` returns), for a runtime to pin.
    pub fn finish_with_digest(mut self) -> Result<(Vec<u8>, Digest), Error> {
        for (signature, &callee) in &self.callees {
            if let Some(&probe) = self.wasm_probes.get(signature) {
                let probe = self.object.symbol(probe);
                let (section, value, size) = (probe.section, probe.value, probe.size);
                let callee = self.object.symbol_mut(callee);
                (callee.section, callee.value, callee.size) = (section, value, size);
            }
        }
        let index = self.object.add_section(
            Vec::new(),
            format::INDEX_SECTION.as_bytes().to_vec(),
            SectionKind::Other,
        );
        let index_bytes = format::encode_index(&Index {
            target: self.target,
            entries: self.entries,
        })
        .ok_or_else(|| Error::Object("more than 2^32 entries".to_owned()))?;
        let digest = index_bytes[index_bytes.len() - 32..]
            .try_into()
            .expect("an index ends in its 32-byte seal");
        self.object.set_section_data(index, index_bytes, 1);
        let bytes = self
            .object
            .write()
            .map_err(|e| Error::Object(e.to_string()))?;
        Ok((bytes, digest))
    }
}
