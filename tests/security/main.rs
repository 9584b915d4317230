//! One test per known attack on an SMTP server or client: SMTP smuggling,
//! STARTTLS command and response injection, line, recipient and reply floods,
//! huge sizes, NUL and 8-bit bytes, caller data that tries to inject commands.

#[path = "../client_support/mod.rs"]
mod client_support;
#[path = "../support/mod.rs"]
mod support;

mod client;
mod server;
