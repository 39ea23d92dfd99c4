//! The opt-in perf map: after `perf_map::enable`, every named item of a
//! mapping is a line `<start> <size> <name>` of `/tmp/perf-<pid>.map`, read
//! back here; unnamed items and mappings made before enabling are absent.
//! (Its own binary: the map is process-wide.)

use springboard_environ::format::symbol_name;
use springboard_environ::{CodeKind, Signature, TrampolineKind, ValType};
use springboard_loader::{CodeItem, CodeMemory, perf_map};

fn item<'a>(code: &'a [u8], name: Option<(CodeKind, &'a Signature)>) -> CodeItem<'a> {
    CodeItem {
        code,
        relocations: &[],
        align: 16,
        callee: None,
        name,
    }
}

/// `(start, size, name)` of every line.
fn read_back() -> Vec<(usize, usize, String)> {
    let text = std::fs::read_to_string(perf_map::path()).unwrap();
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let mut hex = || usize::from_str_radix(parts.next().unwrap(), 16).unwrap();
            let (start, size) = (hex(), hex());
            (start, size, parts.next().unwrap().to_owned())
        })
        .collect()
}

#[test]
fn mapped_code_is_named_in_the_perf_map() {
    if !cfg!(target_os = "linux") {
        assert!(perf_map::enable().is_err());
        springboard_testing::skip("perf maps are Linux's (enable refuses elsewhere, checked)");
        return;
    }
    let code = [0xc3u8; 24]; // never run: only its address matters
    let before = CodeMemory::new(&[item(&code, None)]).unwrap();
    assert!(!perf_map::is_enabled());
    perf_map::enable().unwrap();
    perf_map::enable().unwrap(); // idempotent
    assert!(perf_map::is_enabled());

    let sig = Signature::new(&[ValType::I32, ValType::F64], &[ValType::V128]).unwrap();
    let sig2 = Signature::new(&[], &[ValType::I64; 3]).unwrap();
    let entry = CodeKind::Trampoline(TrampolineKind::Entry);
    let w2a = CodeKind::Trampoline(TrampolineKind::WasmToArray);
    let memory = CodeMemory::new(&[
        item(&code[..10], Some((entry, &sig))),
        item(&code[..1], None),
        item(&code[..24], Some((w2a, &sig2))),
    ])
    .unwrap();
    let lines = read_back();
    let at = |i: usize| memory.entry(i).unwrap().as_ptr() as usize;
    assert_eq!(
        lines,
        vec![
            (at(0), 10, symbol_name(entry, &sig)),
            (at(2), 24, symbol_name(w2a, &sig2)),
        ]
    );
    assert!(lines[0].2.starts_with("springboard_entry_"), "{lines:?}");
    let unnamed = before.entry(0).unwrap().as_ptr() as usize;
    assert!(lines.iter().all(|l| l.0 != unnamed && l.0 != at(1)));
    std::fs::remove_file(perf_map::path()).unwrap();
}
