#![no_main]

#[path = "../checks/command.rs"]
mod command;

libfuzzer_sys::fuzz_target!(|data: &[u8]| command::check(data));
