#![no_main]

#[path = "../../tests/fuzz_checks/mta_sts.rs"]
mod mta_sts;

libfuzzer_sys::fuzz_target!(|data: &[u8]| mta_sts::check(data));
