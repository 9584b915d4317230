#![no_main]

#[path = "../../tests/fuzz_checks/auth_server.rs"]
mod auth_server;

libfuzzer_sys::fuzz_target!(|data: &[u8]| auth_server::check(data));
