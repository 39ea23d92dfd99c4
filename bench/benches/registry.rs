//! The signature registry: interning and lookup, one thread and contended.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use springboard::types::{CompositeType, FieldType, StorageType, SubType};
use springboard::{
    Composite, Engine, Func, HeapType, RefType, SharedSignature, Signature, TypeIndex, Val, ValType,
};
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

fn sigs() -> Vec<Signature> {
    (0..64)
        .map(|i| {
            Signature::new(
                &vec![ValType::ALL[i % 7]; i % 9],
                &vec![ValType::I64; i % 3],
            )
            .unwrap()
        })
        .collect()
}

fn registry(c: &mut Criterion) {
    let engine = Engine::default();
    let sigs = sigs();
    let held: Vec<_> = sigs.iter().map(|s| engine.register(s).unwrap()).collect();
    let mut group = c.benchmark_group("registry");
    group.bench_function("intern-existing", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % sigs.len();
            engine.register(black_box(&sigs[i])).unwrap()
        })
    });
    group.bench_function("intern-new-and-free", |b| {
        let fresh = Signature::new(&[ValType::V128; 33], &[]).unwrap();
        b.iter(|| drop(engine.register(black_box(&fresh)).unwrap()))
    });
    group.bench_function("lookup", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % held.len();
            engine.lookup(black_box(held[i].index())).unwrap()
        })
    });
    // Contended: N threads doing the same operation at once; time per op.
    for threads in [2, 4] {
        for (name, lookup) in [("intern-existing", false), ("lookup", true)] {
            group.bench_function(
                BenchmarkId::new(format!("contended-{name}"), threads),
                |b| {
                    b.iter_custom(|iters| {
                        let barrier = Barrier::new(threads);
                        let per_thread = iters.div_ceil(threads as u64);
                        let times: Vec<Duration> = std::thread::scope(|s| {
                            let handles: Vec<_> = (0..threads)
                                .map(|t| {
                                    let (engine, sigs, held, barrier) =
                                        (&engine, &sigs, &held, &barrier);
                                    s.spawn(move || {
                                        barrier.wait();
                                        let start = Instant::now();
                                        for i in 0..per_thread as usize {
                                            let k = (i + t * 7) % sigs.len();
                                            if lookup {
                                                black_box(engine.lookup(held[k].index()));
                                            } else {
                                                black_box(engine.register(&sigs[k]).unwrap());
                                            }
                                        }
                                        start.elapsed()
                                    })
                                })
                                .collect();
                            handles.into_iter().map(|h| h.join().unwrap()).collect()
                        });
                        // Wall time of the slowest thread, per operation across all threads.
                        times.into_iter().max().unwrap() / threads as u32
                    })
                },
            );
        }
    }
    group.finish();
}

/// A chain of `depth + 1` non-final function types of one structure, each
/// the declared subtype of the one before (each in its own group).
fn chain(engine: &Engine, depth: usize) -> Vec<SharedSignature> {
    let sig = Signature::new(&[ValType::I32, ValType::ANYREF], &[ValType::I64]).unwrap();
    let mut out: Vec<SharedSignature> = Vec::new();
    for _ in 0..=depth {
        let supertype = out.last().map(|s| TypeIndex::Engine(s.index().bits()));
        let group = engine
            .register_rec_group(vec![SubType {
                is_final: false,
                supertype,
                composite: CompositeType::Func(sig.clone()),
            }])
            .unwrap();
        out.push(group.func(0).unwrap());
    }
    out
}

/// The caller-side check of `call_indirect`: equal types, and a subtype 20
/// declarations below the expected type (WebAssembly 3.0), by the Rust
/// check and the compiled one.
fn subtyping(c: &mut Criterion) {
    let engine = Engine::default();
    let chain = chain(&engine, 20);
    let (root, leaf) = (&chain[0], &chain[20]);
    let func = Func::new_shared(&engine, leaf, |_: &[Val], _: &mut [Val]| {
        Ok::<_, springboard::Error>(())
    })
    .unwrap();
    let stub = engine.signature_check_stub().unwrap();
    let test = engine.subtype_table();
    let mut group = c.benchmark_group("subtyping");
    for (name, expected) in [("equal", leaf), ("chain-20", root)] {
        group.bench_function(BenchmarkId::new("check_funcref", name), |b| {
            // SAFETY: a live funcref of this engine.
            b.iter(|| {
                unsafe { engine.check_funcref(black_box(func.as_funcref()), black_box(expected)) }
                    .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("compiled-check", name), |b| {
            let f = func.vm_func_ref().as_ptr();
            // SAFETY: as above; the engine's own subtype table.
            b.iter(|| unsafe { stub(black_box(f), black_box(expected.index().bits()), test) })
        });
    }
    group.finish();
}

/// Registering 100,000 types in recursion groups of 1-10 (function types
/// taking references to the group's struct, structs, subtype chains), into
/// a fresh engine each time.
fn register_many(c: &mut Criterion) {
    let mut group = c.benchmark_group("register");
    group.sample_size(10);
    group.bench_function("100k-types-in-groups-of-1-10", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let engine = Engine::default();
                let start = Instant::now();
                let mut held = Vec::with_capacity(20_000);
                // Each group's first struct refers to the previous group's:
                // every group is distinct.
                let (mut registered, mut previous) = (0usize, None::<u32>);
                let mut state = 1u64;
                while registered < 100_000 {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let size = 1 + (state >> 33) as usize % 10;
                    let types: Vec<SubType> = (0..size)
                        .map(|k| {
                            if k % 2 == 0 {
                                let link = match previous {
                                    Some(p) => ValType::Ref(RefType::new(
                                        true,
                                        HeapType::Concrete(Composite::Struct, TypeIndex::Engine(p)),
                                    )),
                                    None => ValType::ANYREF,
                                };
                                let fields = [
                                    FieldType {
                                        mutable: true,
                                        storage: StorageType::Val(link),
                                    },
                                    FieldType {
                                        mutable: k % 4 == 0,
                                        storage: StorageType::Val(ValType::I64),
                                    },
                                ];
                                SubType {
                                    is_final: false,
                                    supertype: None,
                                    composite: CompositeType::Struct(fields.into()),
                                }
                            } else {
                                // A typed reference to the group's first type,
                                // distinct per group by its i32 count.
                                let s = ValType::Ref(RefType::new(
                                    true,
                                    HeapType::Concrete(Composite::Struct, TypeIndex::RecGroup(0)),
                                ));
                                let sig = Signature::new(
                                    &[s, ValType::I32],
                                    &vec![ValType::I32; (registered + k) % 7],
                                )
                                .unwrap();
                                SubType {
                                    is_final: false,
                                    supertype: None,
                                    composite: CompositeType::Func(sig),
                                }
                            }
                        })
                        .collect();
                    let g = engine.register_rec_group(types).unwrap();
                    previous = g.index(0).map(|i| i.bits());
                    registered += g.len();
                    held.push(g);
                }
                total += start.elapsed();
                black_box(held);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, registry, subtyping, register_many);
criterion_main!(benches);
