//! An object loads exactly what the compiler emitted for each kind and
//! signature, or nothing: every bit of every ELF header, section header,
//! symbol and relocation field, and of the index, flipped; every pair of
//! symbol names swapped; every other-OS and other-ABI target; random
//! multi-byte corruption. A corrupted object may still load (a flipped bit
//! in a string no one reads), but only code identical to the original's.

use object::read::elf::{FileHeader, SectionHeader};
use springboard_check::CodeSet;
use springboard_check::values::ValueGen;
use springboard_compiler::{CallConv, ValType};
use springboard_compiler::{CodeKind, CompiledTrampoline, Compiler, ObjectBuilder, Signature};
use springboard_loader::{Inconsistency, ObjectError, ObjectFile};
use std::collections::HashMap;

type Originals = HashMap<(CodeKind, Signature), CompiledTrampoline>;

/// A host object of several signatures (templates with relocations among
/// them, a stack-passing one, multi-value results), and what it holds.
fn original() -> (Vec<u8>, Originals) {
    let compiler = Compiler::host().unwrap();
    let sigs = [
        Signature::new(&[ValType::I32, ValType::I32], &[ValType::I32]).unwrap(),
        Signature::new(&[ValType::F64], &[ValType::F64]).unwrap(),
        Signature::new(&[ValType::I64; 10], &[ValType::F32, ValType::I64]).unwrap(),
    ];
    let mut object = ObjectBuilder::new(&compiler).unwrap();
    let mut originals = Originals::new();
    for sig in &sigs {
        for code in CodeSet::compile(&compiler, sig).unwrap().iter() {
            object.add(code).unwrap();
            originals.insert((code.kind, sig.clone()), code.clone());
        }
    }
    let check = compiler.compile_signature_check().unwrap();
    object.add(&check).unwrap();
    originals.insert((check.kind, check.signature.clone()), check);
    (object.finish().unwrap(), originals)
}

/// What loading everything an object offers gave.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Refused, at parse time or for some entry.
    Refused,
    /// Loaded, every piece identical to the compiler's.
    Identical,
}

/// Loads every entry of `bytes`; `Err` names a piece of code that loaded
/// but differs from what the compiler emitted for its kind and signature.
fn load(bytes: &[u8], originals: &Originals) -> Result<Outcome, String> {
    let Ok(object) = ObjectFile::parse(bytes) else {
        return Ok(Outcome::Refused);
    };
    let mut refused = false;
    let keys = object
        .entries()
        .iter()
        .map(|e| (e.kind, e.signature.clone()))
        .chain(originals.keys().cloned());
    for (kind, sig) in keys {
        match object.get(kind, &sig) {
            Err(_) => refused = true,
            Ok(code) if originals.get(&(kind, sig.clone())) == Some(&code) => {}
            Ok(code) => {
                return Err(format!(
                    "{kind} of {sig} loaded {} bytes that differ from the compiler's",
                    code.code.len()
                ));
            }
        }
    }
    Ok(if refused {
        Outcome::Refused
    } else {
        Outcome::Identical
    })
}

/// Whether this host's objects are COFF (Windows), whose structures the
/// ELF walks below do not know: says so, as a skip, and returns true.
fn skip_off_elf() -> bool {
    if cfg!(windows) {
        springboard_testing::skip(
            "walks ELF structures, and Windows objects are COFF (loaded and run by loader.rs)",
        );
    }
    cfg!(windows)
}

/// Byte ranges of every ELF header, section header, symbol and relocation
/// entry, named, in either byte order.
struct Layout {
    fields: Vec<(String, std::ops::Range<usize>)>,
    /// Offset of each symbol's `st_name`.
    symbol_names: Vec<usize>,
    index: std::ops::Range<usize>,
}

fn layout(bytes: &[u8]) -> Layout {
    let header = object::elf::FileHeader64::<object::Endianness>::parse(bytes).unwrap();
    let endian = header.endian().unwrap();
    let sections = header.sections(endian, bytes).unwrap();
    let shoff = header.e_shoff(endian) as usize;
    let shentsize = usize::from(header.e_shentsize(endian));
    let mut fields = vec![("ELF header".to_owned(), 0..64)];
    let (mut symbol_names, mut index) = (Vec::new(), 0..0);
    for (i, section) in sections.iter().enumerate() {
        let name = String::from_utf8_lossy(sections.section_name(endian, section).unwrap());
        let at = shoff + i * shentsize;
        fields.push((format!("section header {name}"), at..at + shentsize));
        let (offset, size) = section.file_range(endian).unwrap_or((0, 0));
        let (offset, size) = (offset as usize, size as usize);
        match section.sh_type(endian) {
            object::elf::SHT_SYMTAB => {
                for (n, at) in (offset..offset + size).step_by(24).enumerate().skip(1) {
                    fields.push((format!("symbol {n}"), at..at + 24));
                    symbol_names.push(at);
                }
            }
            object::elf::SHT_RELA => {
                for (n, at) in (offset..offset + size).step_by(24).enumerate() {
                    fields.push((format!("relocation {n}"), at..at + 24));
                }
            }
            _ if name == springboard_environ::format::INDEX_SECTION => {
                index = offset..offset + size;
            }
            _ => {}
        }
    }
    Layout {
        fields,
        symbol_names,
        index,
    }
}

#[test]
fn every_bit_of_every_header_symbol_relocation_and_index_field() {
    if skip_off_elf() {
        return;
    }
    let (good, originals) = original();
    assert_eq!(load(&good, &originals), Ok(Outcome::Identical));
    let layout = layout(&good);
    let mut ranges = layout.fields.clone();
    ranges.push(("index".to_owned(), layout.index.clone()));
    let (mut cases, mut refused, mut differing) = (0, 0, Vec::new());
    for (name, range) in &ranges {
        for at in range.clone() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[at] ^= 1 << bit;
                cases += 1;
                match load(&bad, &originals) {
                    Ok(Outcome::Refused) => refused += 1,
                    Ok(Outcome::Identical) => {}
                    Err(e) => differing.push(format!("{name} byte {at} bit {bit}: {e}")),
                }
            }
        }
    }
    println!(
        "{cases} single-bit corruptions of {} fields: {refused} refused, {} loaded identical code, {} loaded other code",
        ranges.len(),
        cases - refused - differing.len(),
        differing.len()
    );
    assert!(differing.is_empty(), "{differing:#?}");
    // Most flips matter; a header or index that loads anything else after
    // a flip is the bug this test exists for.
    assert!(refused > cases / 2, "{refused} of {cases}");
}

#[test]
fn every_pair_of_symbol_names_swapped() {
    if skip_off_elf() {
        return;
    }
    let (good, originals) = original();
    let names = layout(&good).symbol_names;
    let (mut cases, mut refused) = (0, 0);
    for (i, &a) in names.iter().enumerate() {
        for &b in &names[i + 1..] {
            let mut bad = good.clone();
            let (name_a, name_b) = (good[a..a + 4].to_vec(), good[b..b + 4].to_vec());
            bad[a..a + 4].copy_from_slice(&name_b);
            bad[b..b + 4].copy_from_slice(&name_a);
            cases += 1;
            match load(&bad, &originals) {
                Ok(Outcome::Refused) => refused += 1,
                Ok(Outcome::Identical) => {}
                Err(e) => panic!("symbols {a:#x} and {b:#x} swapped: {e}"),
            }
        }
    }
    println!("{cases} name swaps: {refused} refused");
    assert!(refused > 0 && cases > 100, "{refused} of {cases}");
}

#[test]
fn random_multi_byte_corruption() {
    let (good, originals) = original();
    let mut values = ValueGen::new(42);
    let (mut refused, mut identical) = (0, 0);
    for case in 0..3000 {
        let mut bad = good.clone();
        for _ in 0..1 + values.next_u64() % 4 {
            let at = (values.next_u64() % bad.len() as u64) as usize;
            bad[at] ^= 1 << (values.next_u64() % 8);
        }
        match load(&bad, &originals) {
            Ok(Outcome::Refused) => refused += 1,
            Ok(Outcome::Identical) => identical += 1,
            Err(e) => panic!("case {case}: {e}"),
        }
    }
    println!("3000 random corruptions: {refused} refused, {identical} identical");
    assert!(refused > 2000, "{refused}");
}

/// Objects for this architecture but another OS, environment or native
/// convention are refused by name, whichever differs.
#[test]
fn other_os_and_abi_targets_are_refused_by_name() {
    let host = std::env::consts::ARCH;
    let arch = if host == "riscv64" { "riscv64gc" } else { host };
    let others = [
        "pc-windows-msvc",
        "pc-windows-gnu",
        "apple-darwin",
        "unknown-freebsd",
        "unknown-netbsd",
        "unknown-linux-musl",
        "unknown-linux-gnu",
        "unknown-none",
        "linux-android",
        "unknown-illumos",
    ];
    let (mut refused, mut skipped) = (Vec::new(), Vec::new());
    for rest in others {
        let triple = format!("{arch}-{rest}");
        let compiler = match Compiler::builder().target(&triple).build() {
            Ok(c) => c,
            Err(e) => {
                skipped.push(format!("{triple}: {e}"));
                continue;
            }
        };
        let sig = Signature::new(&[ValType::I32, ValType::F64], &[ValType::I64]).unwrap();
        // No COFF for an ISA without Windows (riscv64, s390x): refused there.
        let mut object = match ObjectBuilder::new(&compiler) {
            Ok(object) => object,
            Err(e) => {
                assert!(e.to_string().contains("no COFF objects"), "{triple}: {e}");
                refused.push(format!("{triple}: {e}"));
                continue;
            }
        };
        let kind = CodeKind::Probe(CallConv::Native);
        object
            .add(&compiler.compile_kind(kind, &sig).unwrap())
            .unwrap();
        let bytes = object.finish().unwrap();
        let target = compiler.target().unwrap();
        let same_platform = target.host_mismatches().is_empty();
        match ObjectFile::parse(&bytes) {
            Err(ObjectError::WrongTarget {
                object,
                host,
                differences,
            }) => {
                assert!(!same_platform, "{triple} refused: {differences:?}");
                let message = format!("{object} vs {host}: {}", differences.join(", "));
                refused.push(message);
            }
            Ok(object) => {
                assert!(same_platform, "{triple} loaded on {arch}");
                object.get(kind, &sig).unwrap();
            }
            Err(other) => panic!("{triple}: {other}"),
        }
    }
    println!("refused:\n  {}", refused.join("\n  "));
    println!(
        "not built (the compiler refuses the triple):\n  {}",
        skipped.join("\n  ")
    );
    assert!(refused.len() >= 5, "{refused:#?}");
    if cfg!(all(
        target_arch = "x86_64",
        target_os = "linux",
        target_env = "gnu"
    )) {
        let windows = refused.iter().find(|r| r.contains("windows-msvc")).unwrap();
        assert!(
            windows.contains("operating system: `windows` vs `linux`")
                && windows.contains("native convention: `windows_fastcall` vs `system_v`"),
            "{windows}"
        );
    }
}

/// An object for another architecture is refused by machine; one whose ELF
/// header contradicts its index, as such.
#[test]
fn other_machines_and_contradictory_headers_are_refused() {
    let (good, _) = original();
    for triple in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "riscv64gc-unknown-linux-gnu",
        "s390x-unknown-linux-gnu",
    ] {
        let compiler = Compiler::builder().target(triple).build().unwrap();
        if compiler.target().unwrap().isa.name() == std::env::consts::ARCH {
            continue;
        }
        let mut object = ObjectBuilder::new(&compiler).unwrap();
        object
            .add(&compiler.compile_signature_check().unwrap())
            .unwrap();
        match ObjectFile::parse(&object.finish().unwrap()) {
            Err(ObjectError::WrongMachine { .. } | ObjectError::WrongLayout { .. }) => {}
            other => panic!("{triple}: {:?}", other.map(|o| o.target().clone())),
        }
    }
    // ELF flags that contradict the index (riscv64's float ABI bits, set on
    // any host's object).
    if skip_off_elf() {
        return;
    }
    let header = object::elf::FileHeader64::<object::Endianness>::parse(&*good).unwrap();
    let endian = header.endian().unwrap();
    let flags_at = 0x30;
    let mut bad = good.clone();
    let flags = header.e_flags(endian).0 ^ 0x4;
    let flag_bytes = match endian {
        object::Endianness::Little => flags.to_le_bytes(),
        object::Endianness::Big => flags.to_be_bytes(),
    };
    bad[flags_at..flags_at + 4].copy_from_slice(&flag_bytes);
    match ObjectFile::parse(&bad) {
        Err(ObjectError::Inconsistent(Inconsistency::Flags { header, index })) => {
            assert_eq!(header, index ^ 0x4)
        }
        other => panic!("{:?}", other.map(|o| o.target().clone())),
    }
}

/// The digest covers the code: pinning it refuses any other object.
#[test]
fn a_pinned_digest_refuses_every_other_object() {
    let (good, _) = original();
    let digest = ObjectFile::parse(&good).unwrap().digest();
    ObjectFile::parse_authenticated(&good, &digest).unwrap();
    let engine = springboard::Engine::default();
    assert!(engine.load_object_with_digest(&good, &digest).unwrap() > 0);
    let compiler = Compiler::host().unwrap();
    let mut other = ObjectBuilder::new(&compiler).unwrap();
    other
        .add(&compiler.compile_signature_check().unwrap())
        .unwrap();
    let other = other.finish().unwrap();
    let message = springboard::Engine::default()
        .load_object_with_digest(&other, &digest)
        .unwrap_err()
        .to_string();
    assert!(message.contains("digest"), "{message}");
}

/// The engine's pinned load and the loader's authenticated parse plus `get`
/// of every entry give the same verdict on the same bytes: a corrupt
/// symbol is refused by both, whether the engine installs it or not (a
/// probe, the signature check stub).
#[test]
fn both_load_paths_agree_on_every_corruption() {
    let (good, _) = original();
    let digest = ObjectFile::parse(&good).unwrap().digest();
    let loader_accepts = |bytes: &[u8]| {
        ObjectFile::parse_authenticated(bytes, &digest).is_ok_and(|object| {
            object
                .entries()
                .iter()
                .all(|entry| object.get(entry.kind, &entry.signature).is_ok())
        })
    };
    let engine_accepts = |bytes: &[u8]| {
        springboard::Engine::default()
            .load_object_with_digest(bytes, &digest)
            .is_ok()
    };
    let mut values = ValueGen::new(7);
    let (mut refused, cases) = (0, 400);
    for case in 0..cases {
        let mut bad = good.clone();
        for _ in 0..1 + values.next_u64() % 4 {
            let at = (values.next_u64() % bad.len() as u64) as usize;
            bad[at] ^= 1 << (values.next_u64() % 8);
        }
        let verdict = loader_accepts(&bad);
        assert_eq!(engine_accepts(&bad), verdict, "case {case}");
        refused += usize::from(!verdict);
    }
    println!("{cases} corruptions: both paths refused {refused}, accepted the rest");
    assert!(refused > cases / 2, "{refused}");
}

/// An object records the bookkeeping its trampolines were compiled with;
/// an engine loads it only if that is its own.
#[test]
fn objects_load_only_into_engines_of_the_same_bookkeeping() {
    use springboard_environ::Bookkeeping;
    use springboard_vm_abi::PtrSize;
    let bookkeeping = Bookkeeping::wasmtime17(PtrSize::new(8).unwrap());
    let compiler = Compiler::builder()
        .bookkeeping(Some(bookkeeping))
        .build()
        .unwrap();
    let sig = Signature::new(&[ValType::I64], &[ValType::F32]).unwrap();
    let mut object = ObjectBuilder::new(&compiler).unwrap();
    for code in CodeSet::compile(&compiler, &sig).unwrap().iter() {
        object.add(code).unwrap();
    }
    let bytes = object.finish().unwrap();
    let message = springboard::Engine::default()
        .load_object(&bytes)
        .unwrap_err()
        .to_string();
    assert!(message.contains("bookkeeping"), "{message}");
    let mut config = springboard::Config::new();
    // SAFETY: nothing this engine loads is called.
    unsafe { config.bookkeeping(bookkeeping) };
    let engine = springboard::Engine::new(&config).unwrap();
    assert_eq!(engine.load_object(&bytes).unwrap(), 6);
    let (plain, _) = original();
    let message = engine.load_object(&plain).unwrap_err().to_string();
    assert!(message.contains("bookkeeping"), "{message}");
}
