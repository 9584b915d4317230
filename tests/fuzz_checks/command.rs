//! Command parsing never panics, a line parsed where the framer holds it
//! gives what it gives on its own, and whatever parses is written back in a
//! form that parses to the same command.

use bytes::Bytes;
use smtpwire::framing::{LineEndPolicy, LineFramer};
use smtpwire::{Command, ParseOptions};

pub fn check(data: &[u8]) {
    let line = Bytes::copy_from_slice(data);
    for options in [ParseOptions::RFC5321, ParseOptions::LENIENT] {
        let parsed = Command::parse_with(&line, &options);
        if !data.contains(&b'\n') {
            let mut framer = LineFramer::new(data.len() + 2, LineEndPolicy::Strict);
            framer.push(b"NOOP\r\n");
            framer.push(data);
            framer.push(b"\r\n");
            let _ = framer.next_framed();
            let lent = framer
                .next_framed()
                .expect("a whole line")
                .expect("within the limit");
            assert_eq!(Command::parse_framed(lent, &options), parsed);
        }
        if let Ok(command) = parsed {
            let wire = command.to_bytes();
            let body = wire.slice(..wire.len() - 2);
            assert_eq!(Command::parse(&body).as_ref(), Ok(&command), "{command}");
        }
    }
}
