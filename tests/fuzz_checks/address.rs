//! Address parsing never panics, and whatever parses is displayed in a form
//! that parses to the same value.

use smtpwire::{ForwardPath, Host, LocalPart, Mailbox, ReversePath};

pub fn check(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = ReversePath::parse(input) {
        assert_eq!(ReversePath::parse(&path.to_string()), Ok(path));
    }
    if let Ok(path) = ForwardPath::parse(input) {
        assert_eq!(ForwardPath::parse(&path.to_string()), Ok(path));
    }
    if let Ok(mailbox) = Mailbox::parse(input) {
        assert_eq!(Mailbox::parse(&mailbox.to_string()), Ok(mailbox));
    }
    if let Ok(host) = Host::parse(input) {
        assert_eq!(Host::parse(&host.to_string()), Ok(host));
    }
    if let Ok(local_part) = LocalPart::parse(input) {
        let rebuilt = LocalPart::from_value(&local_part.value());
        assert_eq!(
            rebuilt.map(|part| part.value().into_owned()),
            Ok(local_part.value().into_owned())
        );
    }
}
