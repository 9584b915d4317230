//! Delivery status notifications as the tests read them: sent with DSN
//! parameters through a raw session, and the `message/delivery-status`
//! part (RFC 3464 §2) parsed into its field groups.

use std::net::SocketAddr;

use smtpwire_programs::server::client::{dot_stuff, Client};

/// One group of fields of a `message/delivery-status` part: names lower
/// case, values unfolded.
pub type Fields = Vec<(String, String)>;

/// A report's parsed `message/delivery-status` part.
#[derive(Debug)]
pub struct Report {
    /// The whole report, as stored.
    pub text: String,
    /// The per-message fields (RFC 3464 §2.2).
    pub message: Fields,
    /// One group per recipient (§2.3).
    pub recipients: Vec<Fields>,
}

impl Report {
    /// Parses a stored report; panics when it has no delivery-status part.
    pub fn parse(stored: &[u8]) -> Report {
        let text = String::from_utf8_lossy(stored).into_owned();
        let start = text
            .find("Content-Type: message/delivery-status\r\n\r\n")
            .unwrap_or_else(|| panic!("no delivery-status part in:\n{text}"));
        let body = &text[start..];
        let body = &body[body.find("\r\n\r\n").unwrap() + 4..];
        let body = &body[..body.find("\r\n--").unwrap()];
        let mut groups = body
            .split("\r\n\r\n")
            .filter(|group| !group.trim().is_empty())
            .map(fields);
        let message = groups.next().unwrap_or_default();
        let recipients = groups.collect();
        Report {
            text,
            message,
            recipients,
        }
    }

    /// The first value of a per-message field.
    pub fn field(&self, name: &str) -> Option<&str> {
        value(&self.message, name)
    }

    /// The recipient group whose Final-Recipient is `address`.
    pub fn recipient(&self, address: &str) -> Option<&Fields> {
        let wanted = format!("rfc822;{address}");
        self.recipients
            .iter()
            .find(|group| value(group, "final-recipient") == Some(&wanted))
    }

    /// Each recipient's Final-Recipient address and Action, sorted.
    pub fn actions(&self) -> Vec<(String, String)> {
        let mut actions: Vec<(String, String)> = self
            .recipients
            .iter()
            .map(|group| {
                let address = value(group, "final-recipient").unwrap_or_default();
                let address = address.split_once(';').map_or(address, |(_, a)| a);
                let action = value(group, "action").unwrap_or_default();
                (address.to_string(), action.to_string())
            })
            .collect();
        actions.sort();
        actions
    }
}

/// The first value of `name` in `group`.
pub fn value<'a>(group: &'a Fields, name: &str) -> Option<&'a str> {
    group
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
}

/// A group's fields, continuation lines joined to theirs.
fn fields(group: &str) -> Fields {
    let mut fields: Fields = Vec::new();
    for line in group.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    fields
}

/// One message through a raw session: `mail` and each of `rcpts` are the
/// command lines' arguments after `MAIL FROM:` and `RCPT TO:`, parameters
/// included. Returns the reply codes: MAIL, each RCPT, then the end of
/// data's when DATA was taken.
pub async fn send_with(
    address: SocketAddr,
    mail: &str,
    rcpts: &[&str],
    content: &[u8],
) -> Vec<u16> {
    let (mut client, greeting) = Client::connect(address).await.unwrap();
    assert_eq!(greeting.code, 220);
    assert_eq!(client.command("EHLO client.test").await.unwrap().code, 250);
    let mut codes = vec![
        client
            .command(&format!("MAIL FROM:{mail}"))
            .await
            .unwrap()
            .code,
    ];
    for rcpt in rcpts {
        codes.push(
            client
                .command(&format!("RCPT TO:{rcpt}"))
                .await
                .unwrap()
                .code,
        );
    }
    if codes[1..].contains(&250) {
        assert_eq!(client.command("DATA").await.unwrap().code, 354);
        client.send(&dot_stuff(content)).await.unwrap();
        codes.push(client.reply().await.unwrap().code);
    }
    let _ = client.command("QUIT").await;
    codes
}
