#![no_main]
//! See `springboard_tests::fuzz::object_loader`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| springboard_tests::fuzz::object_loader(data));
