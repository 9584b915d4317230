#![no_main]

#[path = "../../tests/fuzz_checks/address.rs"]
mod address;

libfuzzer_sys::fuzz_target!(|data: &[u8]| address::check(data));
