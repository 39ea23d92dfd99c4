//! The signature registry: interning and lookup, one thread and contended.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use springboard::{Engine, Signature, ValType};
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

criterion_group!(benches, registry);
criterion_main!(benches);
