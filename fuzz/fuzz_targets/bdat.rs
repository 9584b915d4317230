#![no_main]

#[path = "../checks/bdat.rs"]
mod bdat;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bdat::check(data));
