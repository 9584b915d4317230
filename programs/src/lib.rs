//! The smtpwire programs: a receiving server (SMTP, LMTP, submission), a
//! sender, a relay with a queue, and a bulk sender, built on the `smtpwire`
//! core and its drivers. Each binary in `src/bin/` is a thin command line over
//! one of these modules; the tests drive the modules directly.

pub mod authentication;
pub mod bulk;
pub mod config;
pub mod dkim;
pub mod logging;
pub mod metrics_file;
pub mod outbound;
pub mod relay;
pub mod reload;
pub mod send;
pub mod server;
pub mod service;
pub mod trace;
