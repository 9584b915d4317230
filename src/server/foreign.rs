//! Lines that show the peer is not an SMTP client at all.
//!
//! A browser, an HTTP proxy probe or a cross-protocol attack sends an HTTP
//! request line and header fields where commands belong. Postfix closes on
//! them at once (`smtpd_forbidden_commands` for the request verbs, and a
//! built-in test for `Label:` lines) rather than answering each with 500.

/// HTTP request methods (RFC 9110 §9, and PATCH from RFC 5789): never an
/// SMTP verb.
const HTTP_METHODS: [&[u8]; 9] = [
    b"CONNECT", b"DELETE", b"GET", b"HEAD", b"OPTIONS", b"PATCH", b"POST", b"PUT", b"TRACE",
];

/// The first word of a command line.
fn first_word(line: &[u8]) -> &[u8] {
    let end = memchr::memchr(b' ', line).unwrap_or(line.len());
    line.get(..end).unwrap_or_default()
}

/// Whether the line's verb is `verb` (in capitals), in any case.
pub(super) fn verb_is(line: &[u8], verb: &[u8]) -> bool {
    first_word(line).eq_ignore_ascii_case(verb)
}

/// Whether the line is an HTTP request line or a header field: its first
/// word an HTTP method followed by more, or a field name and colon (RFC 5322
/// §3.6.8: printable ASCII but the colon).
pub(super) fn is_foreign(line: &[u8]) -> bool {
    let word = first_word(line);
    if word.len() < line.len() && HTTP_METHODS.contains(&word) {
        return true;
    }
    match word.split_last() {
        Some((b':', name)) => {
            !name.is_empty() && name.iter().all(|&b| b.is_ascii_graphic() && b != b':')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_header_lines_are_foreign() {
        for line in [
            &b"GET / HTTP/1.1"[..],
            b"POST /submit HTTP/1.0",
            b"CONNECT mx.example.org:25 HTTP/1.1",
            b"Host: mx.example.org",
            b"Subject: hello",
            b"User-Agent: curl/8.0",
        ] {
            assert!(
                is_foreign(line),
                "{}",
                alloc::string::String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn smtp_lines_are_not() {
        for line in [
            &b"MAIL FROM:<a@example.org>"[..],
            b"RCPT TO:<b@example.org>",
            b"GET",
            b"get / http/1.1",
            b"XFOO bar",
            b": nothing",
            b"NOOP",
        ] {
            assert!(
                !is_foreign(line),
                "{}",
                alloc::string::String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn verbs_compare_without_case() {
        assert!(verb_is(b"bdat 12 LAST", b"BDAT"));
        assert!(verb_is(b"BDAT", b"BDAT"));
        assert!(!verb_is(b"BDATX 1", b"BDAT"));
    }
}
