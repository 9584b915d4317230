//! A [`Reply`]'s text lines, found in its bytes when asked for.

use super::parse::{find_lf, text_offset};
use super::{Layout, Reply, Span};
use crate::Text;

impl Reply {
    pub(crate) fn spans(&self) -> Spans<'_> {
        Spans {
            reply: self,
            raw: &self.raw,
            front: 0,
            back: self.raw.len(),
            remaining: self.line_count,
        }
    }

    /// The text of the line between `start` and `end`, its LF left out.
    /// `raw` is the reply's bytes, already at hand.
    fn text_span(&self, raw: &[u8], start: usize, end: usize) -> Span {
        // No text holds CR, so a CR before the LF is the line ending's.
        let end = if end > start && raw.get(end - 1) == Some(&b'\r') {
            end - 1
        } else {
            end
        };
        let start = match self.layout {
            Layout::Texts => start,
            Layout::Wire => {
                let line = raw.get(start..end).unwrap_or_default();
                start + text_offset(self.code, self.enhanced, line)
            }
        };
        Span { start, end }
    }
}

/// Where each text line of a reply sits, from either end.
#[derive(Debug, Clone)]
pub(crate) struct Spans<'a> {
    reply: &'a Reply,
    raw: &'a [u8],
    /// Where the next line from the front starts.
    front: usize,
    /// Where the lines not yet taken end.
    back: usize,
    remaining: usize,
}

impl Iterator for Spans<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        self.remaining = self.remaining.checked_sub(1)?;
        let left = self.raw.get(self.front..self.back).unwrap_or_default();
        let len = find_lf(left).0.unwrap_or(left.len());
        let span = self.reply.text_span(self.raw, self.front, self.front + len);
        self.front = (self.front + len + 1).min(self.back);
        Some(span)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Spans<'_> {
    fn next_back(&mut self) -> Option<Span> {
        self.remaining = self.remaining.checked_sub(1)?;
        let mut end = self.back;
        // The last line's own LF, when it has one.
        if end > self.front && self.raw.get(end - 1) == Some(&b'\n') {
            end -= 1;
        }
        let left = self.raw.get(self.front..end).unwrap_or_default();
        let start = memchr::memrchr(b'\n', left).map_or(self.front, |at| self.front + at + 1);
        self.back = start;
        Some(self.reply.text_span(self.raw, start, end))
    }
}

/// The text lines of a [`Reply`], from [`Reply::lines`].
#[derive(Debug, Clone)]
pub struct ReplyLines<'a> {
    spans: Spans<'a>,
}

impl<'a> ReplyLines<'a> {
    pub(super) fn new(spans: Spans<'a>) -> Self {
        ReplyLines { spans }
    }
}

impl<'a> Iterator for ReplyLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let reply = self.spans.reply;
        self.spans.next().map(|span| reply.text(span))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl DoubleEndedIterator for ReplyLines<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let reply = self.spans.reply;
        self.spans.next_back().map(|span| reply.text(span))
    }
}

impl ExactSizeIterator for ReplyLines<'_> {}

/// The text lines of a [`Reply`] as [`Text`]s, from [`Reply::line_texts`].
#[derive(Debug, Clone)]
pub struct ReplyLineTexts<'a> {
    spans: Spans<'a>,
}

impl<'a> ReplyLineTexts<'a> {
    pub(super) fn new(spans: Spans<'a>) -> Self {
        ReplyLineTexts { spans }
    }
}

impl Iterator for ReplyLineTexts<'_> {
    type Item = Text;

    fn next(&mut self) -> Option<Text> {
        let reply = self.spans.reply;
        self.spans.next().map(|span| reply.shared_text(span))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl DoubleEndedIterator for ReplyLineTexts<'_> {
    fn next_back(&mut self) -> Option<Text> {
        let reply = self.spans.reply;
        self.spans.next_back().map(|span| reply.shared_text(span))
    }
}

impl ExactSizeIterator for ReplyLineTexts<'_> {}

#[cfg(test)]
mod tests {
    use crate::framing::{LineEndPolicy, ReplyAssembler, ReplyLimits};
    use crate::{EnhancedStatusCode, Reply, ReplyCode, Text};
    use alloc::string::String;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn read(wire: &[u8], policy: LineEndPolicy) -> Reply {
        let mut assembler = ReplyAssembler::with_limits(ReplyLimits::default(), policy);
        assembler.push(wire);
        assembler.next_reply().unwrap().unwrap()
    }

    #[test]
    fn display_is_one_log_line() {
        use alloc::string::ToString;
        let wire = b"550-5.1.1 The email account that you tried to reach does not exist.\r\n\
            550-5.1.1\r\n550 5.1.1 Please try double-checking \x1b[31mit\tnow\r\n";
        let reply = read(wire, LineEndPolicy::Strict);
        assert_eq!(
            reply.to_string(),
            "550 5.1.1 The email account that you tried to reach does not exist. \
             Please try double-checking \\u{1b}[31mit\tnow"
        );
        let forged = Reply::new(ReplyCode::OK, Text::from_static("Ok\u{2028}550 fake"));
        assert_eq!(forged.to_string(), "250 Ok\\u{2028}550 fake");
        let bare = Reply::new(ReplyCode::OK, Text::from_static(""));
        assert_eq!(bare.to_string(), "250");
        let greeting = read(b"220 mx.example.org ESMTP\r\n", LineEndPolicy::Strict);
        assert_eq!(greeting.to_string(), "220 mx.example.org ESMTP");
    }

    /// Every way of reaching the lines agrees with `expected`.
    fn check(reply: &Reply, expected: &[&str]) {
        assert_eq!(reply.line_count(), expected.len());
        assert_eq!(reply.lines().collect::<Vec<_>>(), expected);
        let mut backwards: Vec<&str> = reply.lines().rev().collect();
        backwards.reverse();
        assert_eq!(backwards, expected);
        let texts: Vec<Text> = reply.line_texts().collect();
        assert_eq!(texts, expected);
        for (index, line) in expected.iter().enumerate() {
            assert_eq!(reply.line(index), Some(*line));
            assert_eq!(reply.line_text(index).unwrap(), *line);
        }
        assert_eq!(reply.line(expected.len()), None);
        // Meeting in the middle takes each line once.
        let mut lines = reply.lines();
        let (front, back) = (lines.next(), lines.next_back());
        assert_eq!(front, expected.first().copied());
        if expected.len() > 1 {
            assert_eq!(back, expected.last().copied());
        }
        assert_eq!(lines.len(), expected.len().saturating_sub(2));
    }

    #[test]
    fn lines_as_read() {
        let strict = read(
            b"550-5.7.1 first\r\n550-\r\n550-5.7.2 other\r\n550-5.7.1\r\n550 5.7.1 last\r\n",
            LineEndPolicy::Strict,
        );
        check(&strict, &["first", "", "5.7.2 other", "", "last"]);
        let lenient = read(b"250-a\n250-\r\n250\n", LineEndPolicy::AllowBareLf);
        check(&lenient, &["a", "", ""]);
        check(&read(b"250\r\n", LineEndPolicy::Strict), &[""]);
    }

    #[test]
    fn lines_as_built() {
        let texts = ["", "b", ""].map(Text::from_static);
        check(
            &Reply::multiline(ReplyCode::OK, None, texts).unwrap(),
            &["", "b", ""],
        );
        let lone = Reply::with_enhanced(ReplyCode::OK, EnhancedStatusCode::OK, Text::default());
        check(&lone.unwrap(), &[""]);
        // Built text that looks like an enhanced code stays text.
        let texts = ["2.0.0 x", "2.0.0 y"].map(Text::from_static);
        let reply = Reply::multiline(ReplyCode::OK, Some(EnhancedStatusCode::OK), texts);
        check(&reply.unwrap(), &["2.0.0 x", "2.0.0 y"]);
        check(&Reply::multiline(ReplyCode::OK, None, []).unwrap(), &[""]);
    }

    proptest! {
        #[test]
        fn built_and_read_lines_agree(
            texts in proptest::collection::vec("[ -~]{0,12}", 1..6),
            enhanced in any::<bool>(),
        ) {
            let enhanced = enhanced.then_some(EnhancedStatusCode::OK);
            let lines = texts.iter().map(|text| Text::new(text).unwrap());
            let built = Reply::multiline(ReplyCode::OK, enhanced, lines).unwrap();
            let expected: Vec<&str> = texts.iter().map(String::as_str).collect();
            check(&built, &expected);
            // Read back, texts that look like an enhanced code may lose it.
            let wire = built.to_bytes();
            let parsed = read(&wire, LineEndPolicy::Strict);
            prop_assume!(parsed.line_count() == expected.len());
            let parsed_lines: Vec<&str> = parsed.lines().collect();
            check(&parsed, &parsed_lines);
        }
    }
}
