#![no_main]
//! See `springboard_tests::fuzz::gc_subtyping`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    springboard_tests::fuzz::gc_subtyping(data);
});
