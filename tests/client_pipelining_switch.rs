//! `ClientConfig::pipelining` off: one command at a time even when the
//! server offers PIPELINING.

mod client_support;

use client_support::{config, drive, envelope};
use smtpwire::client::{ClientEvent, ClientSession};

#[test]
fn pipelining_off_sends_one_command_at_a_time_though_offered() {
    let server = b"220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n\
        250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
    let mut config = config();
    config.pipelining = false;
    let mut session = ClientSession::new(config);
    session
        .send_mail(envelope("<a@x.org>", &["<b@y.org>", "<c@y.org>"]))
        .unwrap();
    session.quit();
    let run = drive(
        &mut session,
        &[server],
        client_support::Split::Whole,
        b"Hi\r\n",
        100,
    );
    let commands: Vec<String> = run
        .transmits
        .iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect();
    assert_eq!(
        commands,
        [
            "EHLO client.example.org\r\n",
            "MAIL FROM:<a@x.org>\r\n",
            "RCPT TO:<b@y.org>\r\n",
            "RCPT TO:<c@y.org>\r\n",
            "DATA\r\n",
            "Hi\r\n",
            ".\r\n",
            "QUIT\r\n"
        ]
    );
    assert!(run.has(|e| matches!(e, ClientEvent::MessageAccepted { .. })));
}

#[test]
fn pipelining_is_on_by_default() {
    assert!(config().pipelining);
}
