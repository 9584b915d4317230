//! The message for one recipient: the template with the row's columns
//! filled in, CRLF line ends, and the header fields every bulk message
//! needs (RFC 8058 one-click unsubscribe, Message-ID, Date).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::list::Row;
use crate::dkim::Signer;

/// The template and what goes into each copy.
pub struct Template {
    /// The template's header section with CRLF line ends, through its last
    /// CRLF; `{{column}}` placeholders in it.
    header: String,
    /// The body after the blank line, CRLF line ends; placeholders in it.
    body: String,
    /// The one-click unsubscribe address (https), with placeholders whose
    /// values are percent-encoded.
    pub unsubscribe_url: String,
    /// A mail address for unsubscribing too, if any.
    pub unsubscribe_mailto: Option<String>,
    /// The domain of Message-IDs.
    pub domain: String,
    /// Signs each copy when set: copies differ by recipient, so each is
    /// signed (and its body hashed) once, as it is made.
    pub dkim: Option<Arc<Signer>>,
}

impl Template {
    /// A template from the message `text` (with `{{column}}` placeholders),
    /// its line ends made CRLF and its header split off once, for every
    /// copy.
    pub fn new(
        text: &str,
        unsubscribe_url: String,
        unsubscribe_mailto: Option<String>,
        domain: String,
    ) -> Template {
        let text = crlf(text);
        let (header, body) = match text.find("\r\n\r\n") {
            Some(end) => (text[..end + 2].to_string(), text[end + 2..].to_string()),
            None => (text, "\r\n".to_string()),
        };
        Template {
            header,
            body,
            unsubscribe_url,
            unsubscribe_mailto,
            domain,
            dkim: None,
        }
    }

    /// Checks that every placeholder names one of `columns` and that the
    /// unsubscribe address is https, as RFC 8058 §3.1 requires.
    pub fn check(&self, columns: &[String]) -> Result<(), String> {
        if !self.unsubscribe_url.starts_with("https://") {
            return Err("--unsubscribe-url must be an https URI (RFC 8058 §3.1)".into());
        }
        for text in [&self.header, &self.body, &self.unsubscribe_url] {
            for name in placeholders(text) {
                if !columns.iter().any(|column| column == name) {
                    return Err(format!("{{{{{name}}}}}: no such column in the list"));
                }
            }
        }
        Ok(())
    }

    /// The message for `row`, number `number` of the run.
    pub fn render(&self, row: &Row, number: usize, now: SystemTime, date: &str) -> Vec<u8> {
        let url = fill(&self.unsubscribe_url, &row.fields, percent_encode);
        // Filled in after the split: a value can never end the header or
        // add a field to it (a line break in a header value becomes a
        // space), whatever the list holds.
        let header = fill(&self.header, &row.fields, one_line);
        // The body is CRLF already; only the values can bring a bare CR or LF.
        let body = fill(&self.body, &row.fields, crlf);
        let header = header.as_str();
        let mut added = String::new();
        let has = |name: &str| has_field(header, name);
        let mut targets = format!("<{url}>");
        if let Some(mailto) = &self.unsubscribe_mailto {
            targets.push_str(&format!(", <mailto:{mailto}?subject=unsubscribe>"));
        }
        if !has("List-Unsubscribe") {
            added.push_str(&format!("List-Unsubscribe: {targets}\r\n"));
        }
        if !has("List-Unsubscribe-Post") {
            added.push_str("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
        }
        if !has("Message-ID") {
            let since = now
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            added.push_str(&format!(
                "Message-ID: <{}.{}.{number}.{}@{}>\r\n",
                since.as_secs(),
                since.subsec_micros(),
                std::process::id(),
                self.domain
            ));
        }
        if !has("Date") {
            added.push_str(&format!("Date: {date}\r\n"));
        }
        let message = format!("{header}{added}{body}").into_bytes();
        let Some(signer) = &self.dkim else {
            return message;
        };
        let since = now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        match signer.sign(&message, since.as_secs()) {
            Ok(Some(mut signed)) => {
                signed.extend_from_slice(&message);
                signed
            }
            // The From: domain's key was checked at start; a From: filled
            // in from the list can still name another domain.
            Ok(None) => message,
            Err(error) => {
                eprintln!("dkim: {error}: sent unsigned");
                message
            }
        }
    }
}

/// The `{{name}}` placeholders of `text`.
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(name, _)| name.trim()))
}

fn fill(text: &str, fields: &HashMap<String, String>, encode: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].split_once("}}") {
            Some((name, after)) => {
                out.push_str(&encode(fields.get(name.trim()).map_or("", String::as_str)));
                rest = after;
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A value for the header: control characters, line breaks among them, as
/// spaces.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Every line end as CRLF (RFC 5322 §2.1).
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

fn has_field(header: &str, name: &str) -> bool {
    header.split("\r\n").any(|line| {
        line.split_once(':')
            .is_some_and(|(field, _)| field.trim_end().eq_ignore_ascii_case(name))
    })
}

/// RFC 3986 §2.1 percent-encoding of everything but unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(email: &str, name: &str) -> Row {
        let fields = [("email", email), ("name", name)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Row {
            email: email.to_string(),
            fields,
        }
    }

    #[test]
    fn fills_columns_and_adds_the_one_click_fields() {
        let template = Template::new(
            "Subject: Hi {{name}}\nTo: {{email}}\n\nDear {{ name }},\n",
            "https://example.org/u?e={{email}}".into(),
            Some("unsub@example.org".into()),
            "example.org".into(),
        );
        let columns = ["email".to_string(), "name".to_string()];
        template.check(&columns).unwrap();
        let message = template.render(&row("a+b@x.example", "Ann"), 7, SystemTime::now(), "D");
        let text = String::from_utf8(message).unwrap();
        assert!(
            text.starts_with("Subject: Hi Ann\r\nTo: a+b@x.example\r\n"),
            "{text}"
        );
        assert!(text.contains(
            "List-Unsubscribe: <https://example.org/u?e=a%2Bb%40x.example>, \
             <mailto:unsub@example.org?subject=unsubscribe>\r\n"
        ));
        assert!(text.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
        assert!(text.contains("\r\nDate: D\r\n"));
        assert!(text.ends_with("\r\n\r\nDear Ann,\r\n"), "{text}");
    }

    #[test]
    fn a_value_cannot_add_header_fields_or_end_the_header() {
        let template = Template::new(
            "Subject: Hi {{name}}\n\nDear {{name}},\n",
            "https://example.org/u".into(),
            None,
            "example.org".into(),
        );
        let hostile = row("a@x.example", "Ann\r\nBcc: evil@example.com\n\nbody");
        let text = String::from_utf8(template.render(&hostile, 1, SystemTime::now(), "D")).unwrap();
        assert!(
            text.starts_with("Subject: Hi Ann  Bcc: evil@example.com  body\r\n"),
            "{text}"
        );
        let header = &text[..text.find("\r\n\r\n").unwrap()];
        assert!(!header.contains("\r\nBcc:"), "{header}");
        // The body keeps the value as it is, line ends made CRLF.
        assert!(
            text.ends_with("\r\n\r\nDear Ann\r\nBcc: evil@example.com\r\n\r\nbody,\r\n"),
            "{text}"
        );
    }

    #[test]
    fn unknown_columns_and_plain_http_are_refused() {
        let template =
            |text: &str, url: &str| Template::new(text, url.into(), None, "example.org".into());
        let unknown_column = template("Subject: {{nope}}\n\nx\n", "https://example.org/u");
        assert!(unknown_column.check(&["email".to_string()]).is_err());
        let plain_http = template("Subject: x\n\nx\n", "http://example.org/u");
        assert!(plain_http.check(&["email".to_string()]).is_err());
    }
}
