#![no_main]

#[path = "../../tests/fuzz_checks/proxy.rs"]
mod proxy;

libfuzzer_sys::fuzz_target!(|data: &[u8]| proxy::check(data));
