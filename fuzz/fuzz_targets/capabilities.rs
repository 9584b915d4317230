#![no_main]

#[path = "../../tests/fuzz_checks/capabilities.rs"]
mod capabilities;

libfuzzer_sys::fuzz_target!(|data: &[u8]| capabilities::check(data));
