//! Command parsing never panics, and whatever parses is written back in a form
//! that parses to the same command.

use bytes::Bytes;
use smtpwire::{Command, ParseOptions};

pub fn check(data: &[u8]) {
    let line = Bytes::copy_from_slice(data);
    for options in [ParseOptions::RFC5321, ParseOptions::LENIENT] {
        if let Ok(command) = Command::parse_with(&line, &options) {
            let wire = command.to_bytes();
            let body = wire.slice(..wire.len() - 2);
            assert_eq!(Command::parse(&body).as_ref(), Ok(&command), "{command}");
        }
    }
}
