#![no_main]

#[path = "../checks/capabilities.rs"]
mod capabilities;

libfuzzer_sys::fuzz_target!(|data: &[u8]| capabilities::check(data));
