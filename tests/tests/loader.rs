//! `springboard-loader`: W^X mappings, JIT and object paths agreeing, and
//! corrupt objects refused with named errors (`object_integrity.rs` flips
//! every bit).

use springboard_check::CodeSet;
use springboard_check::values::ValueGen;
use springboard_compiler::{
    CallConv, CodeKind, Compiler, ObjectBuilder, Signature, TrampolineKind, ValType,
};
use springboard_loader::{CodeItem, CodeMemory, ObjectError, ObjectFile, RelocationProblem};

/// The `/proc/self/maps` lines whose range overlaps `range`.
fn maps_overlapping(range: &std::ops::Range<usize>) -> Vec<String> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|line| {
            let (span, _) = line.split_once(' ').unwrap();
            let (lo, hi) = span.split_once('-').unwrap();
            let lo = usize::from_str_radix(lo, 16).unwrap();
            let hi = usize::from_str_radix(hi, 16).unwrap();
            lo < range.end && range.start < hi
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn code_is_never_writable_and_executable_and_is_unmapped_on_drop() {
    if !cfg!(target_os = "linux") {
        springboard_testing::skip(
            "reads the mappings' permissions from /proc/self/maps (Linux only)",
        );
        return;
    }
    let compiler = Compiler::host().unwrap();
    let sigs = springboard_testing::only(
        springboard_tests::fixture_signatures(),
        springboard_check::values::supported_here,
        springboard_check::values::REFUSED,
    );
    let code: Vec<_> = sigs
        .iter()
        .map(|s| compiler.compile(TrampolineKind::Entry, s).unwrap())
        .collect();
    let items: Vec<_> = code.iter().map(|c| CodeItem::new(c, None)).collect();
    let memory = CodeMemory::new(&items).unwrap();
    let range = memory.range();
    let lines = maps_overlapping(&range);
    assert!(
        !lines.is_empty(),
        "our mapping {range:x?} is not in /proc/self/maps"
    );
    for line in &lines {
        let perms = line.split(' ').nth(1).unwrap();
        assert!(
            perms.starts_with("r-x"),
            "mapping is not read+execute only: {line}"
        );
    }
    // Many trampolines share pages: one mapping, and only the pages needed.
    assert_eq!(memory.len(), sigs.len());
    assert!(memory.mapped_bytes() < memory.used_bytes() + springboard_loader::page_size());
    drop(memory);
    // Our mappings are gone. (The addresses may be reused by someone else:
    // under valgrind, by its own translation cache.)
    let after = maps_overlapping(&range);
    for line in &lines {
        assert!(!after.contains(line), "still mapped after drop: {line}");
    }
}

fn object_for(compiler: &Compiler, sigs: &[Signature]) -> Vec<u8> {
    let mut object = ObjectBuilder::new(compiler).unwrap();
    for sig in sigs {
        for code in CodeSet::compile(compiler, sig).unwrap().iter() {
            object.add(code).unwrap();
        }
    }
    object.finish().unwrap()
}

#[test]
fn jit_and_object_paths_run_the_same_code_with_the_same_results() {
    let compiler = Compiler::host().unwrap();
    let mut sigs = springboard_tests::fixture_signatures();
    sigs.push(Signature::new(&ValType::ALL.repeat(3), &ValType::ALL).unwrap());
    let sigs = springboard_testing::only(
        sigs,
        springboard_check::values::supported_here,
        springboard_check::values::REFUSED,
    );
    let bytes = object_for(&compiler, &sigs);
    let object = ObjectFile::parse(&bytes).unwrap();
    assert_eq!(object.entries().len(), sigs.len() * 9);
    let mut values = ValueGen::new(5);
    for sig in &sigs {
        let jit = CodeSet::compile(&compiler, sig).unwrap();
        let loaded: Vec<_> = CodeSet::kinds()
            .map(|k| object.get(k, sig).unwrap())
            .collect();
        for code in &loaded {
            let same = jit.iter().find(|c| c.kind == code.kind).unwrap();
            assert_eq!(
                (&code.code, &code.relocations),
                (&same.code, &same.relocations),
                "{}",
                code.kind
            );
        }
        let aot = CodeSet::from_parts(sig, loaded).unwrap();
        let (args, results) = (values.values(sig.params()), values.values(sig.results()));
        jit.run(&args, &results).unwrap();
        aot.run(&args, &results).unwrap();
    }
}

/// A small valid object: the entry and array_to_wasm of one signature.
fn small_object() -> (Vec<u8>, Signature) {
    let compiler = Compiler::host().unwrap();
    let sig = Signature::new(&[ValType::I32, ValType::F64], &[ValType::I64]).unwrap();
    let mut object = ObjectBuilder::new(&compiler).unwrap();
    object
        .add(&compiler.compile(TrampolineKind::Entry, &sig).unwrap())
        .unwrap();
    object
        .add(&compiler.compile(TrampolineKind::ArrayToWasm, &sig).unwrap())
        .unwrap();
    (object.finish().unwrap(), sig)
}

/// Parses and loads everything the index names: `Ok` only if all of it loads.
fn load_everything(bytes: &[u8]) -> Result<usize, ObjectError> {
    let object = ObjectFile::parse(bytes)?;
    for entry in object.entries() {
        object.get(entry.kind, &entry.signature)?;
    }
    Ok(object.entries().len())
}

fn elf_section_headers(bytes: &[u8]) -> Vec<(u32, u64, u64, u64)> {
    // (sh_type, sh_offset, sh_size, header offset) of each section, ELF64 LE.
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap());
    let shoff = u64_at(0x28) as usize;
    let (entsize, count) = (u16_at(0x3a) as usize, u16_at(0x3c) as usize);
    (0..count)
        .map(|i| {
            let h = shoff + i * entsize;
            let sh_type = u32::from_le_bytes(bytes[h + 4..h + 8].try_into().unwrap());
            (sh_type, u64_at(h + 0x18), u64_at(h + 0x20), h as u64)
        })
        .collect()
}

#[test]
fn corrupt_object_matrix_is_refused_never_crashes() {
    if cfg!(windows) || cfg!(target_endian = "big") {
        springboard_testing::skip(format_args!(
            "the matrix edits little-endian ELF headers by offset, and this host's objects are {} (object_integrity.rs flips every bit of them instead)",
            if cfg!(windows) {
                "COFF"
            } else {
                "big-endian ELF"
            }
        ));
        return;
    }
    let (good, sig) = small_object();
    assert_eq!(load_everything(&good).unwrap(), 2);
    let mut refused = Vec::new();
    let mut expect_err = |case: &str, bytes: &[u8]| match load_everything(bytes) {
        Err(e) => refused.push(format!("{case}: {e}")),
        Ok(n) => panic!("{case}: accepted a corrupt object ({n} entries)"),
    };

    // Truncated at every section boundary (start and end of each section's
    // data), at the section header table, and at a few fixed points.
    let sections = elf_section_headers(&good);
    let mut cuts: Vec<usize> = vec![0, 1, 4, 16, 63, 64, good.len() - 1];
    for &(_, offset, size, header) in &sections {
        cuts.extend([offset as usize, (offset + size) as usize, header as usize]);
    }
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts.into_iter().filter(|&c| c < good.len()) {
        expect_err(&format!("truncated at {cut}"), &good[..cut]);
    }

    // Wrong machine type (e_machine at 0x12, in the object's byte order):
    // aarch64's, or x86-64's on aarch64.
    let (machine, architecture) = if cfg!(target_arch = "aarch64") {
        (62u16, object::Architecture::X86_64)
    } else {
        (183, object::Architecture::Aarch64)
    };
    let mut bad = good.clone();
    let bytes = if cfg!(target_endian = "big") {
        machine.to_be_bytes()
    } else {
        machine.to_le_bytes()
    };
    bad[0x12..0x14].copy_from_slice(&bytes);
    match load_everything(&bad) {
        Err(ObjectError::WrongMachine { object, host }) => {
            assert_eq!(
                (object, host),
                (architecture, springboard_environ::Isa::host())
            );
        }
        other => panic!("wrong machine: {other:?}"),
    }
    // Not relocatable (e_type = ET_EXEC).
    let mut bad = good.clone();
    bad[0x10..0x12].copy_from_slice(&2u16.to_le_bytes());
    expect_err("ET_EXEC instead of ET_REL", &bad);
    // 32-bit class.
    let mut bad = good.clone();
    bad[4] = 1;
    expect_err("ELFCLASS32", &bad);
    // Not ELF at all.
    expect_err(
        "not an object",
        b"\x7fELF but not really an ELF file at all",
    );

    // Bogus relocation: change the type of the one RELA entry.
    let rela = sections.iter().find(|s| s.0 == 4).expect("a RELA section");
    let mut bad = good.clone();
    let r_info = rela.1 as usize + 8;
    // A type that is not the host's absolute one (R_RISCV_64 is 2).
    let bogus: u32 = if cfg!(target_arch = "riscv64") { 3 } else { 2 };
    bad[r_info..r_info + 4].copy_from_slice(&bogus.to_le_bytes());
    match load_everything(&bad) {
        Err(ObjectError::BadRelocation { problem, .. }) => {
            assert!(
                matches!(problem, RelocationProblem::Type { .. }),
                "{problem}"
            );
            assert!(
                problem.to_string().contains(&bogus.to_string()),
                "{problem}"
            )
        }
        other => panic!("bogus relocation type: {other:?}"),
    }
    // Bogus relocation offset: far beyond the code.
    let mut bad = good.clone();
    let r_offset = rela.1 as usize;
    bad[r_offset..r_offset + 8].copy_from_slice(&0xffff_fff0u64.to_le_bytes());
    expect_err("relocation outside its symbol", &bad);

    // Bogus symbols: a trampoline symbol whose value and size point outside
    // .text, and one whose name no longer matches the index.
    let symtab = sections.iter().find(|s| s.0 == 2).expect("a symbol table");
    let name =
        springboard_environ::format::symbol_name(CodeKind::Trampoline(TrampolineKind::Entry), &sig);
    let name_at = good
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .unwrap();
    let strtab_off = sections
        .iter()
        .filter(|s| s.0 == 3)
        .map(|s| s.1)
        .find(|&o| (o as usize) < name_at)
        .unwrap();
    let st_name = (name_at as u64 - strtab_off) as u32;
    let sym = (symtab.1..symtab.1 + symtab.2)
        .step_by(24)
        .find(|&s| {
            u32::from_le_bytes(good[s as usize..s as usize + 4].try_into().unwrap()) == st_name
        })
        .expect("the entry symbol") as usize;
    let mut bad = good.clone();
    bad[sym + 8..sym + 16].copy_from_slice(&0x10_0000u64.to_le_bytes()); // st_value
    expect_err("symbol outside its section", &bad);
    let mut bad = good.clone();
    bad[sym + 16..sym + 24].copy_from_slice(&u64::MAX.to_le_bytes()); // st_size
    expect_err("symbol size overflows", &bad);
    let mut bad = good.clone();
    bad[name_at + name.len() - 1] ^= 0x20;
    expect_err("symbol renamed", &bad);
    let mut bad = good.clone();
    bad[sym + 6..sym + 8].copy_from_slice(&0xfff1u16.to_le_bytes()); // SHN_ABS
    expect_err("symbol not in .text", &bad);

    // The index section: removed (renamed) and corrupted.
    let index_at = good.windows(4).position(|w| w == b"SBIX").unwrap();
    let mut bad = good.clone();
    bad[index_at] = b'X';
    expect_err("index magic", &bad);
    let mut bad = good.clone();
    bad[index_at + 12] = 0x7f;
    expect_err("index kind", &bad);
    let section_name_at = good
        .windows(18)
        .position(|w| w == b".springboard.index")
        .unwrap();
    let mut bad = good.clone();
    bad[section_name_at + 1] = b'S';
    match load_everything(&bad) {
        Err(ObjectError::NoIndex) => {}
        other => panic!("no index: {other:?}"),
    }
    assert!(refused.len() > 20, "{refused:#?}");
}

#[test]
fn requests_that_do_not_match_the_object_are_refused() {
    let (good, sig) = small_object();
    let object = ObjectFile::parse(&good).unwrap();
    let other = Signature::new(&[ValType::I32], &[ValType::I64]).unwrap();
    let err = object
        .get(CodeKind::Trampoline(TrampolineKind::Entry), &other)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "object holds no entry for (func (param i32) (result i64))"
    );
    let err = object
        .get(CodeKind::Probe(CallConv::Wasm), &sig)
        .unwrap_err();
    assert!(matches!(err, ObjectError::NotInIndex { .. }));
}

/// Objects the previous format versions wrote (index version 1, no
/// convention byte; version 2, no target, digests or relocations) are
/// refused with an error that names both versions.
#[test]
fn objects_of_previous_format_versions_are_refused_by_version() {
    if !cfg!(target_arch = "x86_64") {
        springboard_testing::skip("the old-version fixtures are x86_64 objects");
        return;
    }
    for version in [1, 2, 3] {
        let name = format!("showcase-index-v{version}.o");
        let bytes = std::fs::read(springboard_tests::data_dir().join(name)).unwrap();
        let err = ObjectFile::parse(&bytes).err().expect("refused");
        assert_eq!(
            err,
            ObjectError::Index(springboard_environ::format::IndexError::Version(version))
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("version {version}"))
                && message.contains(&format!(
                    "version {}",
                    springboard_environ::format::INDEX_VERSION
                )),
            "{message}"
        );
        let engine = springboard::Engine::default();
        let message = engine.load_object(&bytes).unwrap_err().to_string();
        assert!(message.contains(&format!("version {version}")), "{message}");
    }
}
