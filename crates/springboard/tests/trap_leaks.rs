//! 100,000 failing calls through wasm leave heap and mapped bytes where
//! they were: nothing a jump abandons owned anything. One test in its own
//! binary, so the counters are ours alone.
#![cfg(feature = "compiler")]

mod common;

use common::Body;
use springboard::{Engine, Func};
use springboard_loader::stats;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_hundred_thousand_failing_calls_leave_nothing_behind() {
    let engine = Engine::default();
    // Both failure kinds: a panic (its payload and message are heap
    // strings) and an `Err` (a boxed error).
    let panics = Func::wrap(&engine, |x: i64| -> i64 {
        let owned = x.to_string(); // on the heap; dropped before the jump
        if x % 2 == 0 {
            panic!("even {owned}");
        }
        x
    })
    .unwrap();
    let errs = Func::wrap(&engine, |x: i64| -> Result<i64, String> {
        Err(format!("refused {x}"))
    })
    .unwrap();
    let bodies = [Body::new(&engine, &panics), Body::new(&engine, &errs)];
    let typed: Vec<_> = bodies
        .iter()
        .map(|b| b.func.typed::<i64, i64>().unwrap())
        .collect();
    // Panics print through the hook; silence it (the printing allocates).
    std::panic::set_hook(Box::new(|_| {}));
    let round = |n: i64| {
        for i in 0..n {
            let err = typed[(i % 2) as usize].call(i * 2).unwrap_err();
            assert!(!bodies[(i % 2) as usize].marker());
            drop(err);
        }
    };
    round(1_000); // warm up: thread-locals, lazily compiled trampolines
    // The wasm entries tiered up during the warm-up: their compilation may
    // still be running in the background (it is slow under valgrind).
    engine.finish_tier_up();
    let (heap, mapped) = (LIVE.load(Ordering::SeqCst), stats());
    round(100_000);
    let heap_after = LIVE.load(Ordering::SeqCst);
    let _ = std::panic::take_hook();
    assert_eq!(stats(), mapped, "mapped bytes and mappings");
    // A leak of even one byte per call would show as 100,000.
    assert!(
        heap_after - heap < 1_000,
        "heap grew by {} bytes over 100,000 failures",
        heap_after - heap
    );
}
