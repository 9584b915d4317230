#![no_main]

#[path = "../checks/client_session.rs"]
mod client_session;

libfuzzer_sys::fuzz_target!(|data: &[u8]| client_session::check(data));
