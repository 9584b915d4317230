#![no_main]

#[path = "../../tests/fuzz_checks/client_session.rs"]
mod client_session;

libfuzzer_sys::fuzz_target!(|data: &[u8]| client_session::check(data));
