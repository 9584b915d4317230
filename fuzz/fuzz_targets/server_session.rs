#![no_main]

#[path = "../../tests/fuzz_checks/server_session.rs"]
mod server_session;

libfuzzer_sys::fuzz_target!(|data: &[u8]| server_session::check(data));
