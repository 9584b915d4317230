#![no_main]

#[path = "../../tests/fuzz_checks/bdat.rs"]
mod bdat;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bdat::check(data));
