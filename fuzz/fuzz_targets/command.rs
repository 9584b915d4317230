#![no_main]

#[path = "../../tests/fuzz_checks/command.rs"]
mod command;

libfuzzer_sys::fuzz_target!(|data: &[u8]| command::check(data));
