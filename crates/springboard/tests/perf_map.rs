//! `Config::perf_map`: the trampolines an engine maps are named in
//! `/tmp/perf-<pid>.map` (read back here), each line covering the code its
//! funcref enters. Its own binary: the map is process-wide.
#![cfg(feature = "compiler")]

use springboard::{Config, Engine, Func};
use springboard_loader::environ::format::symbol_name;
use springboard_loader::environ::{CodeKind, TrampolineKind};
use springboard_loader::perf_map;

#[test]
fn an_engines_trampolines_are_named_in_the_perf_map() {
    if !cfg!(target_os = "linux") {
        let err = Engine::new(Config::new().perf_map(true)).unwrap_err();
        assert!(err.to_string().contains("perf map"), "{err}");
        springboard_testing::skip("perf maps are Linux's (the engine refuses elsewhere, checked)");
        return;
    }
    // Compiled at creation (no generic entries), so the funcref's entries
    // are mapped trampolines.
    let engine = Engine::new(Config::new().perf_map(true).tier_up_after(0)).unwrap();
    // Two results: its `wasm_call` is a trampoline of its own (a results
    // area), not its native shim.
    let func = Func::wrap(&engine, |a: i32, b: i64| (a as f64 + b as f64, a)).unwrap();
    assert_eq!(
        func.typed::<(i32, i64), (f64, i32)>()
            .unwrap()
            .call((1, 2))
            .unwrap(),
        (3.0, 1)
    );

    let text = std::fs::read_to_string(perf_map::path()).unwrap();
    let lines: Vec<(usize, usize, &str)> = text
        .lines()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let mut hex = || usize::from_str_radix(parts.next().unwrap(), 16).unwrap();
            let (start, size) = (hex(), hex());
            (start, size, parts.next().unwrap())
        })
        .collect();
    // SAFETY: the funcref lives as long as `func`.
    let func_ref = unsafe { func.vm_func_ref().as_ref() };
    let wasm_call = func_ref.wasm_call.expect("compiled at creation").as_ptr() as usize;
    let named = lines
        .iter()
        .find(|(start, size, _)| (*start..start + size).contains(&wasm_call))
        .unwrap_or_else(|| panic!("wasm_call {wasm_call:#x} not in the map:\n{text}"));
    let expected = symbol_name(
        CodeKind::Trampoline(TrampolineKind::WasmToNative),
        func.ty(),
    );
    assert_eq!(named.2, expected, "{text}");
    assert!(
        lines
            .iter()
            .all(|l| l.2.starts_with("springboard_") && l.1 > 0)
    );
    std::fs::remove_file(perf_map::path()).unwrap();
}
