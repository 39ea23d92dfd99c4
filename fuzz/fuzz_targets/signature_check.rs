#![no_main]
//! See `springboard_tests::fuzz::signature_check`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| springboard_tests::fuzz::signature_check(data));
