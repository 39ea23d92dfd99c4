//! Sizes: code bytes per trampoline kind, and pages mapped for 1, 100 and
//! 1,000 signatures. `cargo run --release --bin sizes` (in `bench/`).

use springboard::{Compilation, Config, Engine, Signature, ValType};
use springboard_check::module::ModuleInfo;
use springboard_compiler::{Compiler, TrampolineKind};
use springboard_loader::{page_size, stats};

fn distinct(n: usize) -> Vec<Signature> {
    // `n` distinct signatures of 0-11 scalar parameters and 0-2 results.
    let scalars = [ValType::I32, ValType::I64, ValType::F32, ValType::F64];
    (0..n)
        .map(|i| {
            let mut params = Vec::new();
            let mut k = i / 3 + 1;
            while k > 0 {
                params.push(scalars[k % 4]);
                k /= 4;
            }
            let results: &[ValType] =
                [&[][..], &[ValType::I64], &[ValType::F64, ValType::I32]][i % 3];
            Signature::new(&params, results).unwrap()
        })
        .collect()
}

fn main() {
    let compiler = Compiler::host().unwrap();
    println!("# Code bytes per trampoline kind ({})\n", compiler.triple());
    println!("| kind | signatures | mean bytes | min | max |");
    println!("|---|---|---|---|---|");
    let mut sigs: Vec<Signature> = springboard_tests::wasm_fixtures()
        .iter()
        .flat_map(|p| ModuleInfo::parse(&std::fs::read(p).unwrap()).unwrap().types)
        .filter_map(|t| t.signature.ok())
        .collect();
    sigs.sort();
    sigs.dedup();
    let mut all = Vec::new();
    for kind in TrampolineKind::ALL {
        let sizes: Vec<usize> = sigs
            .iter()
            .map(|s| compiler.compile(kind, s).unwrap().code.len())
            .collect();
        all.extend(&sizes);
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        println!(
            "| {kind} | {} | {mean:.0} | {} | {} |",
            sizes.len(),
            sizes.iter().min().unwrap(),
            sizes.iter().max().unwrap()
        );
    }
    let mean = all.iter().sum::<usize>() as f64 / all.len() as f64;
    println!("| all | {} | {mean:.1} | | |", all.len());

    println!("\n# Pages mapped (page = {} bytes)\n", page_size());
    println!("| signatures | how | trampolines | code bytes | pages | trampolines per page |");
    println!("|---|---|---|---|---|---|");
    for n in [1, 100, 1000] {
        let sigs = distinct(n);
        for (how, compilation) in [
            ("precompile (one batch)", None),
            ("lazy, one func each", Some(Compilation::Lazy)),
            ("eager, one func each", Some(Compilation::Eager)),
        ] {
            let before = stats();
            let engine =
                Engine::new(Config::new().compilation(compilation.unwrap_or_default())).unwrap();
            let keep: Vec<Box<dyn std::any::Any>> = match compilation {
                None => vec![Box::new(engine.precompile(&sigs).unwrap())],
                Some(_) => sigs
                    .iter()
                    .map(|s| {
                        let f = springboard::Func::new(
                            &engine,
                            s,
                            |_: &[springboard::Val], _: &mut [springboard::Val]| {
                                Ok::<(), std::convert::Infallible>(())
                            },
                        )
                        .unwrap();
                        Box::new(f) as Box<dyn std::any::Any>
                    })
                    .collect(),
            };
            let after = stats();
            let trampolines = match compilation {
                None | Some(Compilation::Eager) => n * TrampolineKind::ALL.len(),
                Some(Compilation::Lazy) => n * 2,
            };
            // Templates are kept as bytes, not mapped: count what is mapped.
            let mapped_trampolines = match compilation {
                None | Some(Compilation::Eager) => n * 4,
                Some(Compilation::Lazy) => n * 2,
            };
            let pages = (after.mapped_bytes - before.mapped_bytes) / page_size();
            println!(
                "| {n} | {how} | {trampolines} ({mapped_trampolines} mapped) | {} | {pages} | {:.1} |",
                after.used_bytes - before.used_bytes,
                mapped_trampolines as f64 / pages.max(1) as f64
            );
            drop(keep);
        }
    }
}
