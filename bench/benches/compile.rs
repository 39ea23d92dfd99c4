//! Compile time (per trampoline kind, per module, eager versus lazy), and
//! ahead-of-time loading versus compiling the same trampolines.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use springboard::{Compilation, Config, Engine, Func, Val};
use springboard_check::module::ModuleInfo;
use springboard_compiler::{Compiler, ObjectBuilder, Signature, TrampolineKind, ValType};
use springboard_environ::CodeKind;
use springboard_loader::{CodeItem, CodeMemory, ObjectFile};
use std::hint::black_box;

fn signature(n: usize) -> Signature {
    let params: Vec<ValType> = (0..n)
        .map(|i| [ValType::I32, ValType::I64, ValType::F32, ValType::F64][i % 4])
        .collect();
    Signature::new(&params, &[ValType::I64]).unwrap()
}

fn per_kind(c: &mut Criterion) {
    let compiler = Compiler::host().unwrap();
    let mut group = c.benchmark_group("compile/kind");
    for n in [0, 2, 6, 16, 100] {
        let sig = signature(n);
        for kind in TrampolineKind::ALL {
            group.bench_with_input(
                BenchmarkId::new(kind.name(), format!("{n}-params")),
                &sig,
                |b, sig| b.iter(|| compiler.compile(kind, black_box(sig)).unwrap()),
            );
        }
    }
    group.finish();
}

fn module_signatures() -> Vec<(String, Vec<Signature>)> {
    springboard_tests::wasm_fixtures()
        .into_iter()
        .map(|path| {
            let info = ModuleInfo::parse(&std::fs::read(&path).unwrap()).unwrap();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (
                name,
                info.types
                    .into_iter()
                    .filter_map(|t| t.signature.ok())
                    .collect(),
            )
        })
        .collect()
}

fn per_module(c: &mut Criterion) {
    let compiler = Compiler::host().unwrap();
    let mut group = c.benchmark_group("compile/module");
    group.sample_size(10);
    for (name, sigs) in module_signatures() {
        // Every kind of every signature, one thread.
        group.bench_function(BenchmarkId::new("serial", &name), |b| {
            b.iter(|| {
                for sig in &sigs {
                    for kind in TrampolineKind::ALL {
                        black_box(compiler.compile(kind, sig).unwrap());
                    }
                }
            })
        });
        // The same through the engine: parallel over the cores, one mapping.
        group.bench_function(BenchmarkId::new("engine-precompile", &name), |b| {
            b.iter(|| {
                let engine = Engine::default();
                black_box(engine.precompile(&sigs).unwrap())
            })
        });
        // Eager versus lazy: one untyped host function per signature.
        for (label, compilation) in [
            ("lazy-funcs", Compilation::Lazy),
            ("eager-funcs", Compilation::Eager),
        ] {
            group.bench_function(BenchmarkId::new(label, &name), |b| {
                b.iter(|| {
                    let engine = Engine::new(Config::new().compilation(compilation)).unwrap();
                    let funcs: Vec<Func> = sigs
                        .iter()
                        .map(|s| {
                            Func::new(&engine, s, |_: &[Val], _: &mut [Val]| {
                                Ok::<(), std::convert::Infallible>(())
                            })
                            .unwrap()
                        })
                        .collect();
                    black_box(funcs)
                })
            });
        }
    }
    group.finish();
}

fn aot(c: &mut Criterion) {
    let compiler = Compiler::host().unwrap();
    let mut group = c.benchmark_group("aot");
    group.sample_size(20);
    for (name, sigs) in module_signatures() {
        let mut object = ObjectBuilder::new(&compiler).unwrap();
        for sig in &sigs {
            for kind in TrampolineKind::ALL {
                object.add(&compiler.compile(kind, sig).unwrap()).unwrap();
            }
        }
        let bytes = object.finish().unwrap();
        let non_templates = |k: &CodeKind| matches!(k, CodeKind::Trampoline(t) if !t.is_template());
        group.bench_function(BenchmarkId::new("load-object", &name), |b| {
            b.iter(|| {
                let object = ObjectFile::parse(black_box(&bytes)).unwrap();
                let code: Vec<_> = object
                    .entries()
                    .iter()
                    .filter(|e| non_templates(&e.kind))
                    .map(|e| object.get(e.kind, &e.signature).unwrap())
                    .collect();
                let items: Vec<_> = code.iter().map(|c| CodeItem::new(c, None)).collect();
                black_box(CodeMemory::new(&items).unwrap())
            })
        });
        // What the loader's integrity check costs: a SHA-256 of every piece
        // of code it returns (the same bytes as `load-object` hashes).
        let parsed = ObjectFile::parse(&bytes).unwrap();
        let code: Vec<Vec<u8>> = parsed
            .entries()
            .iter()
            .filter(|e| non_templates(&e.kind))
            .map(|e| parsed.get(e.kind, &e.signature).unwrap().code)
            .collect();
        group.bench_function(BenchmarkId::new("sha256-of-loaded-code", &name), |b| {
            b.iter(|| {
                for c in &code {
                    black_box(springboard_environ::sha256::sha256(black_box(c)));
                }
            })
        });
        group.bench_function(BenchmarkId::new("compile-and-map", &name), |b| {
            b.iter(|| {
                let code: Vec<_> = sigs
                    .iter()
                    .flat_map(|s| {
                        TrampolineKind::ALL
                            .into_iter()
                            .filter(|k| !k.is_template())
                            .map(move |k| (k, s))
                    })
                    .map(|(k, s)| compiler.compile(k, s).unwrap())
                    .collect();
                let items: Vec<_> = code.iter().map(|c| CodeItem::new(c, None)).collect();
                black_box(CodeMemory::new(&items).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, per_kind, per_module, aot);
criterion_main!(benches);
