//! [`Reply`] to wire bytes; infallible because every line is a [`Text`].

use bytes::{BufMut, Bytes, BytesMut};

use super::enhanced::MAX_ENHANCED_LEN;
use super::Reply;
use crate::limits::MAX_EMITTED_REPLY_LINE;

/// `code`, separator and enhanced code.
const MAX_PREFIX_LEN: usize = 4 + MAX_ENHANCED_LEN;

impl Reply {
    /// Writes the reply with CRLF line endings (RFC 5321 §4.2.1): every line
    /// but the last as `code-text`, the last as `code text`, the enhanced code
    /// (if any) after the code on every line (RFC 2034 §4), and no line longer
    /// than [`MAX_EMITTED_REPLY_LINE`] (RFC 5321 §4.5.3.1.5): a longer text is
    /// wrapped at its last fitting space onto continuation lines, or split
    /// mid-word when a word alone is too long.
    pub fn emit<B: BufMut>(&self, out: &mut B) {
        let first = self.text_bytes(self.first);
        if !self.is_multiline() && !first.is_empty() && self.emit_short_head(out, first.len()) {
            out.put_slice(first);
            out.put_slice(b"\r\n");
            return;
        }
        let (mut prefix, prefix_len) = self.prefix();
        // The SP between an enhanced code and the text counts too.
        let text_budget = MAX_EMITTED_REPLY_LINE - 2 - prefix_len - usize::from(prefix_len > 4);
        if !self.is_multiline() && first.len() <= text_budget {
            write_line(out, &mut prefix, prefix_len, true, first);
            return;
        }
        let line_count = self.line_count();
        // Bytes rather than `&str`: the text was proven UTF-8 when the reply
        // was built, and validating it again would cost more than writing it.
        for (index, span) in self.spans().enumerate() {
            let mut rest = self.text_bytes(span);
            loop {
                let (chunk, remainder) = split_to_fit(rest, text_budget);
                let last = index + 1 == line_count && remainder.is_none();
                write_line(out, &mut prefix, prefix_len, last, chunk);
                match remainder {
                    Some(remainder) => rest = remainder,
                    None => break,
                }
            }
        }
    }

    /// Writes the head of the last line, SP before the text included, when
    /// it is one of the fixed-size forms nearly every reply takes (`250 `,
    /// `250 2.1.5 `) and a text of `text_len` octets fits after it; returns
    /// whether it did. Fixed sizes let the head go out as a constant-size
    /// copy instead of a copy of a length known only at run time, which
    /// matters at the size of `250 2.1.5 Ok`.
    fn emit_short_head<B: BufMut>(&self, out: &mut B, text_len: usize) -> bool {
        let [hundreds, tens, units] = self.code.digits();
        match self.enhanced {
            None if text_len <= MAX_EMITTED_REPLY_LINE - 2 - 4 => {
                out.put_slice(&[hundreds, tens, units, b' ']);
                true
            }
            Some(enhanced)
                if enhanced.subject() < 10
                    && enhanced.detail() < 10
                    && text_len <= MAX_EMITTED_REPLY_LINE - 2 - 10 =>
            {
                let digit = |part: u16| b'0' + part as u8;
                out.put_slice(&[
                    hundreds,
                    tens,
                    units,
                    b' ',
                    b'0' + enhanced.class_digit(),
                    b'.',
                    digit(enhanced.subject()),
                    b'.',
                    digit(enhanced.detail()),
                    b' ',
                ]);
                true
            }
            _ => false,
        }
    }

    /// The code, a separator slot, the enhanced code if any and a SP slot
    /// after it, so a line head goes out in one piece; returns the length
    /// up to the enhanced code's end.
    fn prefix(&self) -> (Prefix, usize) {
        let mut prefix = [b' '; MAX_PREFIX_LEN + 1];
        let [hundreds, tens, units] = self.code.digits();
        prefix[..3].copy_from_slice(&[hundreds, tens, units]);
        let Some(enhanced) = self.enhanced else {
            return (prefix, 4);
        };
        let mut digits = [0u8; MAX_ENHANCED_LEN];
        let len = enhanced.write(&mut digits);
        prefix[4..4 + len].copy_from_slice(&digits[..len]);
        (prefix, 4 + len)
    }

    /// The reply as wire bytes; see [`emit`](Self::emit).
    pub fn to_bytes(&self) -> Bytes {
        let size: usize = self
            .lines()
            .map(|line| line.len() + MAX_PREFIX_LEN + 3)
            .sum();
        let mut out = BytesMut::with_capacity(size);
        self.emit(&mut out);
        out.freeze()
    }
}

/// A line head: see [`Reply::prefix`].
type Prefix = [u8; MAX_PREFIX_LEN + 1];

fn write_line<B: BufMut>(
    out: &mut B,
    prefix: &mut Prefix,
    prefix_len: usize,
    last: bool,
    text: &[u8],
) {
    prefix[3] = if last { b' ' } else { b'-' };
    // A bare code or a bare enhanced code needs no space after it.
    let head = match (text.is_empty(), prefix_len > 4) {
        (true, false) if last => 3,
        (true, _) => prefix_len,
        (false, with_enhanced) => prefix_len + usize::from(with_enhanced),
    };
    out.put_slice(prefix.get(..head).unwrap_or_default());
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

/// Splits off what fits on one line of UTF-8 `text`; `None` when `text`
/// fits whole.
fn split_to_fit(text: &[u8], budget: usize) -> (&[u8], Option<&[u8]>) {
    if text.len() <= budget {
        return (text, None);
    }
    // A space right after the budget can still be the break: it is dropped.
    // Not the text's last byte, though: with nothing after it, the dropped
    // space would be lost from the text rather than turned into a line break.
    let window = text
        .get(..(budget + 1).min(text.len() - 1))
        .unwrap_or_default();
    if let Some(space) = memchr::memrchr(b' ', window).filter(|&at| at > 0) {
        let (chunk, rest) = text.split_at_checked(space).unwrap_or((text, &[]));
        let rest = rest.get(1..).unwrap_or_default();
        return (chunk, (!rest.is_empty()).then_some(rest));
    }
    // No space to break at: split mid-word, on a character boundary, i.e.
    // not before a UTF-8 continuation byte (0b10xx_xxxx).
    let mut cut = budget;
    while cut > 0 && text.get(cut).is_some_and(|&byte| byte & 0xc0 == 0x80) {
        cut -= 1;
    }
    let (chunk, rest) = text.split_at_checked(cut).unwrap_or((text, &[]));
    (chunk, (!rest.is_empty()).then_some(rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EnhancedStatusCode, ReplyCode, Text};
    use alloc::string::String;
    use alloc::vec::Vec;

    fn wire(reply: &Reply) -> String {
        String::from_utf8(reply.to_bytes().to_vec()).unwrap()
    }

    #[test]
    fn single_and_multi_line_forms() {
        let ok = Reply::new(ReplyCode::OK, Text::from_static("Ok"));
        assert_eq!(wire(&ok), "250 Ok\r\n");
        let bare = Reply::new(ReplyCode::OK, Text::default());
        assert_eq!(wire(&bare), "250\r\n");
        let queued = Reply::with_enhanced(
            ReplyCode::OK,
            EnhancedStatusCode::OK,
            Text::from_static("Ok: queued as 4Bq1"),
        )
        .unwrap();
        assert_eq!(wire(&queued), "250 2.0.0 Ok: queued as 4Bq1\r\n");
        let multi = Reply::multiline(
            ReplyCode::MAILBOX_UNAVAILABLE,
            Some(EnhancedStatusCode::new_const(5, 7, 26)),
            ["first", "", "last"].map(Text::from_static),
        )
        .unwrap();
        assert_eq!(
            wire(&multi),
            "550-5.7.26 first\r\n550-5.7.26\r\n550 5.7.26 last\r\n"
        );
        let plain = Reply::multiline(
            ReplyCode::OK,
            None,
            ["mx", "", "8BITMIME"].map(Text::from_static),
        )
        .unwrap();
        assert_eq!(wire(&plain), "250-mx\r\n250-\r\n250 8BITMIME\r\n");
    }

    #[test]
    fn refuses_class_mismatch() {
        assert_eq!(
            Reply::with_enhanced(
                ReplyCode::MAILBOX_UNAVAILABLE,
                EnhancedStatusCode::OK,
                Text::default()
            ),
            Err(crate::ReplyError::ClassMismatch {
                code: ReplyCode::MAILBOX_UNAVAILABLE,
                enhanced: EnhancedStatusCode::OK
            })
        );
        assert!(Reply::multiline(
            ReplyCode::START_MAIL_INPUT,
            Some(EnhancedStatusCode::OK),
            []
        )
        .is_err());
    }

    #[test]
    fn long_text_wraps_at_spaces() {
        let words: Vec<String> = (0..200).map(|i| alloc::format!("word{i}")).collect();
        let text = words.join(" ");
        let reply = Reply::with_enhanced(
            ReplyCode::MAILBOX_UNAVAILABLE,
            EnhancedStatusCode::DELIVERY_NOT_AUTHORIZED,
            Text::new(&text).unwrap(),
        )
        .unwrap();
        let out = wire(&reply);
        let lines: Vec<&str> = out.split_terminator("\r\n").collect();
        assert!(lines.len() > 1);
        for (i, line) in lines.iter().enumerate() {
            assert!(line.len() + 2 <= MAX_EMITTED_REPLY_LINE);
            let sep = if i + 1 == lines.len() {
                "550 5.7.1 "
            } else {
                "550-5.7.1 "
            };
            assert!(line.starts_with(sep), "{line}");
            assert!(!line.ends_with(' '));
        }
        let rejoined: Vec<&str> = lines.iter().map(|l| &l[10..]).collect();
        assert_eq!(rejoined.join(" "), text);
    }

    #[test]
    fn a_trailing_space_just_past_the_budget_is_kept() {
        // One byte over the budget, and that byte a space: breaking there
        // would drop the space with nothing left to wrap.
        let budget = MAX_EMITTED_REPLY_LINE - 2 - 4;
        let text = alloc::format!("{} word ", "x".repeat(budget - 5));
        assert_eq!(text.len(), budget + 1);
        let reply = Reply::new(ReplyCode::OK, Text::new(&text).unwrap());
        let out = wire(&reply);
        let lines: Vec<&str> = out.split_terminator("\r\n").collect();
        assert_eq!(
            lines,
            [
                alloc::format!("250-{}", "x".repeat(budget - 5)),
                "250 word ".into()
            ]
        );
        assert!(lines.iter().all(|l| l.len() + 2 <= MAX_EMITTED_REPLY_LINE));
    }

    #[test]
    fn long_word_is_hard_split_on_char_boundaries() {
        let text = "é".repeat(400);
        let reply = Reply::new(ReplyCode::OK, Text::new(&text).unwrap());
        let out = wire(&reply);
        let lines: Vec<&str> = out.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.len() + 2 <= MAX_EMITTED_REPLY_LINE));
        assert_eq!(lines[0].len() + 2, MAX_EMITTED_REPLY_LINE);
        let joined: String = lines.iter().map(|l| &l[4..]).collect();
        assert_eq!(joined, text);
        // Exactly at the limit: no wrap.
        let fits = "x".repeat(MAX_EMITTED_REPLY_LINE - 6);
        let reply = Reply::new(ReplyCode::OK, Text::new(&fits).unwrap());
        assert_eq!(reply.to_bytes().len(), MAX_EMITTED_REPLY_LINE);
        // The same with an enhanced code, in the short and the long form.
        for (enhanced, head) in [
            (EnhancedStatusCode::OK, "250 2.0.0 "),
            (EnhancedStatusCode::new_const(2, 10, 100), "250 2.10.100 "),
        ] {
            let budget = MAX_EMITTED_REPLY_LINE - 2 - head.len();
            for (len, lines) in [(budget, 1), (budget + 1, 2)] {
                let text = Text::new(&"x".repeat(len)).unwrap();
                let wire = Reply::with_enhanced(ReplyCode::OK, enhanced, text)
                    .unwrap()
                    .to_bytes();
                assert_eq!(memchr::memmem::find_iter(&wire, b"\r\n").count(), lines);
                if lines == 1 {
                    assert!(wire.starts_with(head.as_bytes()));
                    assert_eq!(wire.len(), MAX_EMITTED_REPLY_LINE);
                }
            }
        }
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use crate::{EnhancedStatusCode, ReplyCode, Text};
    use alloc::string::String;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn text(max: usize) -> impl Strategy<Value = Text> {
        proptest::string::string_regex(&alloc::format!("[ -~é\t]{{0,{max}}}"))
            .unwrap()
            .prop_map(|s| Text::new(&s).unwrap())
    }

    fn reply(max_text: usize) -> impl Strategy<Value = Reply> {
        (
            200u16..560,
            any::<bool>(),
            0u16..1000,
            0u16..1000,
            proptest::collection::vec(text(max_text), 1..5),
        )
            .prop_filter_map(
                "valid code",
                |(code, with_enhanced, subject, detail, lines)| {
                    let code = ReplyCode::new(code).ok()?;
                    let enhanced = match code.class().digit() {
                        3 => None,
                        class if with_enhanced => {
                            EnhancedStatusCode::new(class, subject, detail).ok()
                        }
                        _ => None,
                    };
                    Reply::multiline(code, enhanced, lines).ok()
                },
            )
    }

    fn reparse(wire: &[u8]) -> Result<Reply, crate::ReplyError> {
        let bytes = Bytes::copy_from_slice(wire);
        let mut lines = Vec::new();
        let mut start = 0;
        for end in memchr::memmem::find_iter(wire, b"\r\n") {
            lines.push(bytes.slice(start..end));
            start = end + 2;
        }
        assert_eq!(start, wire.len(), "emitted bytes end with CRLF");
        Reply::from_lines(lines)
    }

    /// A first line that itself starts like an enhanced code would be read
    /// back as one: the wire cannot tell them apart (RFC 2034 §4).
    fn unambiguous(reply: &Reply) -> bool {
        reply.enhanced().is_some()
            || EnhancedStatusCode::parse_prefix(reply.first_line().as_bytes()).is_none()
    }

    proptest! {
        #[test]
        fn emit_parse_identity(reply in reply(120)) {
            prop_assume!(unambiguous(&reply));
            prop_assert_eq!(reparse(&reply.to_bytes()), Ok(reply));
        }

        #[test]
        fn long_lines_wrap_to_a_fixpoint(reply in reply(1200)) {
            let wire = reply.to_bytes();
            for line in memchr::memmem::find_iter(&wire, b"\r\n").scan(0, |start, end| {
                let len = end + 2 - *start;
                *start = end + 2;
                Some(len)
            }) {
                prop_assert!(line <= MAX_EMITTED_REPLY_LINE);
            }
            let parsed = reparse(&wire).unwrap();
            prop_assert_eq!(parsed.code(), reply.code());
            prop_assert_eq!(&parsed.to_bytes(), &wire);
        }

        #[test]
        fn parse_never_panics(lines in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![Just(b'2'), Just(b'5'), Just(b'-'), Just(b' '), Just(b'.'), any::<u8>()], 0..20),
            0..5,
        )) {
            let _ = Reply::from_lines(lines.into_iter().map(Bytes::from));
        }

        #[test]
        fn emitted_text_is_utf8(reply in reply(40)) {
            prop_assert!(String::from_utf8(reply.to_bytes().to_vec()).is_ok());
        }
    }
}
