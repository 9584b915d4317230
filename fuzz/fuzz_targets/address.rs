#![no_main]

#[path = "../checks/address.rs"]
mod address;

libfuzzer_sys::fuzz_target!(|data: &[u8]| address::check(data));
