#![no_main]
//! See `springboard_tests::fuzz::signature_model`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    springboard_tests::fuzz::signature_model(data);
});
