#![no_main]

#[path = "../../tests/fuzz_checks/data_decoder.rs"]
mod data_decoder;

libfuzzer_sys::fuzz_target!(|data: &[u8]| data_decoder::check(data));
