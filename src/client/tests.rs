use super::*;
use crate::address::{ForwardPath, ReversePath};
use crate::reply::Reply;
use crate::reply::{EnhancedStatusCode, ReplyCode};
use crate::Text;

fn reply(code: u16, enhanced: Option<(u8, u16, u16)>) -> Reply {
    let code = ReplyCode::new(code).unwrap();
    match enhanced {
        Some((c, s, d)) => Reply::with_enhanced(
            code,
            EnhancedStatusCode::new(c, s, d).unwrap(),
            Text::from_static("text"),
        )
        .unwrap(),
        None => Reply::new(code, Text::from_static("text")),
    }
}

#[test]
fn classification() {
    let cases = [
        (250, None, Permanence::Success, Cause::None),
        (
            550,
            Some((5, 1, 1)),
            Permanence::Permanent,
            Cause::BadMailbox,
        ),
        (
            452,
            Some((4, 2, 2)),
            Permanence::Transient,
            Cause::MailboxFull,
        ),
        (
            552,
            Some((5, 3, 4)),
            Permanence::Permanent,
            Cause::MessageTooBig,
        ),
        (550, Some((5, 7, 1)), Permanence::Permanent, Cause::Policy),
        (451, Some((4, 7, 0)), Permanence::Transient, Cause::Policy),
        (
            452,
            Some((4, 5, 3)),
            Permanence::Transient,
            Cause::RateLimited,
        ),
        (421, Some((4, 4, 2)), Permanence::Transient, Cause::System),
        (
            550,
            Some((5, 2, 1)),
            Permanence::Permanent,
            Cause::MailboxDisabled,
        ),
        (500, None, Permanence::Permanent, Cause::Protocol),
        (550, None, Permanence::Permanent, Cause::BadMailbox),
        (554, None, Permanence::Permanent, Cause::Other),
    ];
    for (code, enhanced, permanence, cause) in cases {
        let verdict = classify(&reply(code, enhanced));
        assert_eq!(
            (verdict.permanence, verdict.cause),
            (permanence, cause),
            "{code}"
        );
    }
    assert!(classify(&reply(550, Some((5, 1, 1)))).is_hard_bounce());
    assert!(!classify(&reply(450, Some((4, 1, 1)))).is_hard_bounce());
    assert!(classify(&reply(550, Some((5, 1, 1)))).is_dead_address());
    assert!(classify(&reply(550, Some((5, 2, 1)))).is_dead_address());
    assert!(!classify(&reply(452, Some((4, 2, 1)))).is_dead_address());
    assert!(!classify(&reply(550, Some((5, 7, 1)))).is_dead_address());
}

#[test]
fn wait_durations() {
    let minutes = |wait: Wait| wait.duration().as_secs() / 60;
    assert_eq!(minutes(Wait::Greeting), 5);
    assert_eq!(minutes(Wait::Command), 5);
    assert_eq!(minutes(Wait::DataInitiation), 2);
    assert_eq!(minutes(Wait::DataBlock), 3);
    assert_eq!(minutes(Wait::DataTermination), 10);
}

fn envelope() -> Envelope {
    let mut envelope = Envelope::new(ReversePath::parse("<a@x.org>").unwrap());
    envelope.add_recipient(ForwardPath::parse("<b@y.org>").unwrap());
    envelope
}

#[test]
fn prepare_drops_or_refuses_optional_parameters() {
    let caps = Capabilities::default();
    let mut with_priority = envelope();
    with_priority.mail_params.mt_priority = crate::params::MtPriority::new(3);
    assert_eq!(
        with_priority.clone().prepare(&caps, false, false),
        Err(MessageError::ExtensionNotSupported("MT-PRIORITY"))
    );
    with_priority.unsupported = Unsupported::Drop;
    let prepared = with_priority.prepare(&caps, false, false).unwrap();
    assert_eq!(prepared.mail_params.mt_priority, None);

    // SIZE=0 from the server means no limit; the size still goes.
    let mut sized = envelope();
    sized.mail_params.size = Some(u64::MAX);
    let caps = Capabilities {
        size: Some(0),
        ..Capabilities::default()
    };
    assert_eq!(
        sized.prepare(&caps, false, false).unwrap().mail_params.size,
        Some(u64::MAX)
    );
}

fn usage<T>(error: UsageError) -> Result<T, ClientError> {
    Err(ClientError::Usage(error))
}

#[test]
fn misuse_is_refused() {
    let config = ClientConfig::new(crate::Domain::parse("c.example").unwrap());
    let mut session = ClientSession::new(config);
    assert_eq!(
        session.send_mail(Envelope::new(ReversePath::Null)),
        usage(UsageError::NoRecipients)
    );
    assert_eq!(
        session.send_content(b"x"),
        usage(UsageError::NoContentWanted)
    );
    assert_eq!(session.finish_content(), usage(UsageError::NoContentWanted));
    session.quit();
    assert_eq!(session.send_mail(envelope()), usage(UsageError::Closed));
    assert_eq!(session.noop(), Err(UsageError::Closed));
    session.receive_eof();
    assert_eq!(
        session.poll_output(),
        ClientOutput::Event(ClientEvent::Error(SessionError::ConnectionClosed))
    );
    assert_eq!(session.poll_output(), ClientOutput::Closed);
    assert!(session.is_closed());
    assert_eq!(session.receive(b"220 late\r\n"), 10);
    assert_eq!(session.send_content(b"x"), usage(UsageError::Closed));
}

#[test]
fn failures_read_as_one_log_line_with_the_whole_reply() {
    use alloc::string::ToString;
    let refused = Reply::with_enhanced(
        ReplyCode::new(550).unwrap(),
        EnhancedStatusCode::new(5, 7, 1).unwrap(),
        Text::from_static("go away"),
    )
    .unwrap();
    let closing = Reply::new(
        ReplyCode::new(421).unwrap(),
        Text::from_static("mx.example.net shutting down"),
    );
    let cases = [
        (
            SessionError::HelloRefused(refused.clone()).to_string(),
            "hello refused: 550 5.7.1 go away",
        ),
        (
            SessionError::ServiceClosing(closing).to_string(),
            "service closing: 421 mx.example.net shutting down",
        ),
        (
            SessionError::UnexpectedReply {
                command: "MAIL",
                reply: Reply::new(ReplyCode::new(354).unwrap(), Text::from_static("go on")),
            }
            .to_string(),
            "unexpected reply to MAIL: 354 go on",
        ),
        (
            SessionError::Timeout(Wait::DataTermination).to_string(),
            "timed out waiting for the reply to the end of data",
        ),
        (
            TransactionFailure::MailRejected(refused).to_string(),
            "MAIL refused: 550 5.7.1 go away",
        ),
        (
            TransactionFailure::Refused(MessageError::SmtpUtf8NotSupported).to_string(),
            "not sent: UTF-8 envelope but the server lacks SMTPUTF8",
        ),
        (
            TransactionFailure::NoValidRecipients.to_string(),
            "every recipient was refused",
        ),
        (
            SessionError::ContentRefused(MessageError::LineTooLong {
                line: 3,
                length: 1200,
            })
            .to_string(),
            "connection closed in the middle of a message: line 3 of the content is 1200 \
             octets long: at most 998 may precede its CRLF (RFC 5321 §4.5.3.1.6)",
        ),
        (
            ClientError::from(UsageError::NoRecipients).to_string(),
            "message has no recipients",
        ),
        (
            ClientError::from(MessageError::DsnNotSupported).to_string(),
            "DSN parameters but the server lacks DSN",
        ),
    ];
    for (shown, expected) in cases {
        assert_eq!(shown, expected);
    }
}
