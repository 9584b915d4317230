//! Values that constructors take are built from strings with `try_into()`,
//! each with the error type its own parser reports.

use smtpwire::client::ClientConfig;
use smtpwire::server::{NotARejection, Reject, ServerConfig};
use smtpwire::{
    AddressError, Domain, EnhancedStatusCode, ForwardPath, Host, LocalPart, Mailbox, Reply,
    ReplyCode, ReplyError, ReversePath, Text,
};

#[test]
fn constructors_take_strings_through_try_into() -> Result<(), Box<dyn std::error::Error>> {
    let host: Host = "client.example.org".try_into()?;
    let config = ClientConfig::new(host);
    assert_eq!(config.hello_host.to_string(), "client.example.org");
    let literal: Host = "[192.0.2.1]".try_into()?;
    assert!(matches!(literal, Host::Literal(_)));
    let domain: Domain = "mx.example.org".try_into()?;
    assert_eq!(
        ClientConfig::new(domain).hello_host.to_string(),
        "mx.example.org"
    );

    let server = ServerConfig::new("mx.example.org".try_into()?);
    assert_eq!(server.hostname.as_str(), "mx.example.org");

    let reply = Reply::with_enhanced(
        ReplyCode::try_from(550)?,
        "5.1.1".try_into()?,
        "no such user".try_into()?,
    )?;
    let reject: Reject = reply.clone().try_into()?;
    assert_eq!(reject.reply(), &reply);

    let mailbox: Mailbox = "bob@example.net".try_into()?;
    let local: LocalPart = "bob".try_into()?;
    assert_eq!(mailbox.local_part(), local);
    let to: ForwardPath = "<bob@example.net>".try_into()?;
    let from: ReversePath = "<>".try_into()?;
    assert_eq!(to.mailbox(), Some(&mailbox));
    assert_eq!(from, ReversePath::Null);
    Ok(())
}

#[test]
fn each_conversion_reports_its_own_error() {
    assert_eq!(
        Host::try_from("-bad.example"),
        Err(AddressError::InvalidDomain)
    );
    assert_eq!(Domain::try_from("a..b"), Err(AddressError::InvalidDomain));
    assert_eq!(
        EnhancedStatusCode::try_from("5.1"),
        Err(ReplyError::MalformedEnhancedCode)
    );
    assert!(Text::try_from("two\r\nlines").is_err());
    let positive = Reply::new(ReplyCode::OK, Text::from_static("Ok"));
    assert_eq!(Reject::try_from(positive), Err(NotARejection));
}
