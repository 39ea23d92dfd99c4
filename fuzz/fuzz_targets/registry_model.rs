#![no_main]
//! See `springboard_tests::fuzz::registry_model`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| springboard_tests::fuzz::registry_model(data));
