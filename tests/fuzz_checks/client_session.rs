//! A client session fed arbitrary server replies in arbitrary chunks, with a
//! fixed queue of messages: no panic, bounded buffering, and every byte it
//! sends outside message content is a well-formed command.

use bytes::Bytes;
use smtpwire::client::{ClientConfig, ClientSession, Envelope, StartTlsPolicy};
use smtpwire::limits::{DEFAULT_MAX_REPLY_BYTES, DEFAULT_MAX_REPLY_LINE};
use smtpwire::Protocol;
use smtpwire::{ClientOutput, Command, Domain, ForwardPath, ReversePath};

pub fn check(data: &[u8]) {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let protocol = if control & 2 != 0 {
        Protocol::Lmtp
    } else {
        Protocol::Smtp
    };
    let starttls = match (control >> 2) & 3 {
        0 => StartTlsPolicy::Required,
        1 => StartTlsPolicy::Never,
        _ => StartTlsPolicy::Opportunistic,
    };
    let config = ClientConfig::new(Domain::parse("client.example.org").unwrap())
        .with_chunking(control & 1 != 0)
        .with_protocol(protocol)
        .with_starttls(starttls);
    let mut session = ClientSession::new(config);
    for to in [&["<b@y.org>", "<c@y.org>"][..], &["<d@y.org>"][..]] {
        let mut envelope = Envelope::new(ReversePath::parse("<a@x.org>").unwrap());
        for rcpt in to {
            envelope.add_recipient(ForwardPath::parse(rcpt).unwrap());
        }
        session.send_mail(envelope).unwrap();
    }
    session.quit();

    // Chunk sizes come from the top bits of the control byte.
    let chunk = 1 + usize::from(control >> 4) * 7;
    let mut rest = input;
    let mut commands = Vec::new();
    let mut body_sent = false;
    for _ in 0..100_000 {
        match session.poll_output() {
            ClientOutput::Transmit(bytes) => commands.push(bytes),
            ClientOutput::Event(_) => {}
            ClientOutput::Idle => break,
            ClientOutput::SendContent(_) => {
                if body_sent {
                    session.finish_content().unwrap();
                    body_sent = false;
                } else {
                    let body = b".\r\nMAIL FROM:<x@y>\r\nline\n.\n";
                    // Refused content (over the server's SIZE) ends the session.
                    if let Ok(taken) = session.send_content(body) {
                        assert_eq!(taken, body.len());
                    }
                    body_sent = true;
                }
            }
            ClientOutput::NeedInput => {
                if rest.is_empty() {
                    session.receive_eof();
                    continue;
                }
                let piece = &rest[..rest.len().min(chunk)];
                let taken = session.receive(piece);
                assert!(taken <= DEFAULT_MAX_REPLY_BYTES + DEFAULT_MAX_REPLY_LINE);
                rest = &rest[taken..];
            }
            ClientOutput::StartTls => session.tls_established(),
            ClientOutput::Closed => break,
        }
    }
    check_wire(&commands.concat());
}

/// Reads the client's output as commands, skipping DATA content up to its
/// end and BDAT chunks by their size.
fn check_wire(wire: &[u8]) {
    let mut rest = wire;
    let mut in_data = false;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("every line ends in CRLF");
        let line = &rest[..end];
        rest = &rest[end + 2..];
        if in_data {
            in_data = line != b".";
            assert!(!line.starts_with(b".") || line == b"." || line.starts_with(b".."));
            continue;
        }
        // The empty message after a DATA with no accepted recipient.
        if line == b"." {
            continue;
        }
        match Command::parse(&Bytes::copy_from_slice(line)) {
            Ok(Command::Data) => in_data = true,
            Ok(Command::Bdat { size, .. }) => {
                let size = usize::try_from(size).unwrap();
                assert!(size <= rest.len());
                rest = &rest[size..];
            }
            Ok(_) => {}
            Err(error) => panic!("not a command: {line:?}: {error}"),
        }
    }
}
