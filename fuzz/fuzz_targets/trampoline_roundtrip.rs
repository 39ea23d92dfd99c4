#![no_main]
//! See `springboard_tests::fuzz::trampoline_roundtrip`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| springboard_tests::fuzz::trampoline_roundtrip(data));
