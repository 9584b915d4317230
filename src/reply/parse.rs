//! Reply lines in, [`Reply`] out; every input is a complete line without CRLF.

use bytes::{Bytes, BytesMut};
use nom::branch::alt;
use nom::combinator::{eof, value};
use nom::sequence::terminated;
use nom::Parser;

use super::code::reply_code;
use super::enhanced::status_code;
use super::grammar::octet;
use super::{EnhancedStatusCode, Layout, Reply, ReplyBytes, ReplyCode, ReplyError, Span};
use crate::text::check_line_safe;
use crate::TextError;

/// Whether a reply line ends its reply: `250 text` or a bare `250`, as
/// opposed to the continuation form `250-text` (RFC 5321 §4.2.1).
///
/// Looks at the separator only; the line's code is checked when it is parsed.
///
/// ```
/// use smtpwire::reply::is_last_line;
///
/// assert!(!is_last_line(b"250-PIPELINING"));
/// assert!(is_last_line(b"250 SIZE 1000000"));
/// assert!(is_last_line(b"250"));
/// ```
pub fn is_last_line(line: &[u8]) -> bool {
    line.get(3) != Some(&b'-')
}

/// RFC 5321 §4.2, the part every reply line starts with:
///
/// ```text
/// Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
///                  Reply-code [ SP textstring ] CRLF
/// ```
///
/// Returns the code and whether the line is the reply's last; the text is
/// checked by [`textstring`] and the line end is the framer's.
#[inline]
fn reply_line(line: &[u8], number: usize) -> Result<(ReplyCode, bool), ReplyError> {
    let (after_code, code) = reply_code()
        .parse_complete(line)
        .map_err(|_| ReplyError::MalformedCode { line: number })?;
    Ok((code, ends_reply(after_code, number)?))
}

/// What follows the `Reply-code` in a [`reply_line`]: `"-"` on every line
/// but the last, `SP` or nothing (a bare code) on the last. Returns whether
/// the line ends its reply.
fn reply_separator<'a>() -> impl Parser<&'a [u8], Output = bool, Error = ()> {
    alt((
        value(false, octet(|byte| byte == b'-')),
        value(true, octet(|byte| byte == b' ')),
        value(true, eof),
    ))
}

/// Whether the separator at the start of `after_code` makes its line the
/// reply's last.
#[inline]
fn ends_reply(after_code: &[u8], number: usize) -> Result<bool, ReplyError> {
    reply_separator()
        .parse_complete(after_code)
        .map(|(_, last)| last)
        .map_err(|_| ReplyError::BadSeparator { line: number })
}

/// RFC 2034 §4: the [`status_code`] that prefaces a reply line's text,
/// "always followed by one or more spaces". One SP goes with the code (any
/// more are text); a bare code may also end the line.
fn enhanced_prefix<'a>() -> impl Parser<&'a [u8], Output = EnhancedStatusCode, Error = ()> {
    terminated(
        status_code(),
        alt((value((), octet(|byte| byte == b' ')), value((), eof))),
    )
}

/// The enhanced code at the start of `text`, if it is one for a reply of
/// `code`: an [`enhanced_prefix`] of the same class (RFC 2034 §4: "a 2xx
/// response must incorporate a 2.X.X code"). Returns the code and how many
/// bytes it takes, SP included.
#[inline]
fn leading_enhanced(code: ReplyCode, text: &[u8]) -> Option<(EnhancedStatusCode, usize)> {
    let (rest, enhanced) = enhanced_prefix().parse_complete(text).ok()?;
    // The same class is the same first digit; comparing the digits spares
    // turning each into a `ReplyClass` on every line read.
    let same_class = u16::from(enhanced.class_digit()) == code.as_u16() / 100;
    same_class.then(|| (enhanced, text.len() - rest.len()))
}

/// Where the text starts in a `line` of a reply of `code` whose first line
/// carries `enhanced`: after the code and its separator, and after an
/// enhanced code that repeats the first line's. RFC 2034 §4 puts the
/// enhanced code on every line; any other one is kept as text.
#[inline]
pub(super) fn text_offset(
    code: ReplyCode,
    enhanced: Option<EnhancedStatusCode>,
    line: &[u8],
) -> usize {
    let code_len = line.len().min(4);
    match enhanced {
        None => code_len,
        Some(expected) => {
            let text = line.get(code_len..).unwrap_or_default();
            code_len + repeated_enhanced_len(code, expected, text)
        }
    }
}

/// How long the enhanced code at the start of `text` is, SP included, when
/// it repeats `expected`; 0 otherwise.
fn repeated_enhanced_len(code: ReplyCode, expected: EnhancedStatusCode, text: &[u8]) -> usize {
    leading_enhanced(code, text)
        .filter(|(found, _)| *found == expected)
        .map_or(0, |(_, len)| len)
}

/// Whether `byte` is common reply text: printable ASCII, DEL, and the
/// controls from 0x0E on, which leaves out NUL, CR, LF and the rarely seen
/// TAB. Reply text is nearly always made of these bytes alone (RFC 5321 §4.2
/// `textstring`), and they need no closer look to be a [`Text`].
fn is_common(byte: u8) -> bool {
    (0x0e..0x80).contains(&byte)
}

/// How many bytes at the start of `bytes` are [common](is_common) text.
///
/// A common line's first other byte is the CR of its CRLF, so this one scan
/// both finds where the line ends and proves its text safe; it goes eight
/// bytes at a time because it runs over every byte a client reads.
fn common_text_len(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = ONES * 0x80;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        // High bit of each byte below 0x0E (exact for the lowest such byte;
        // borrows only flag bytes above it), or of each byte from 0x80 on.
        let other = ((word.wrapping_sub(ONES * 0x0e) & !word) | word) & HIGHS;
        if other != 0 {
            return offset + (other.trailing_zeros() / 8) as usize;
        }
        offset += 8;
    }
    let tail = chunks.remainder();
    offset
        + tail
            .iter()
            .position(|&byte| !is_common(byte))
            .unwrap_or(tail.len())
}

/// Where the first LF in `bytes` is, and whether all before it is
/// [common](is_common) text (when there is no LF: all of `bytes`).
///
/// A common line ends where its common text does, which one
/// [`common_text_len`] scan finds; anything else falls back to a plain
/// search for the LF.
#[inline]
pub(crate) fn find_lf(bytes: &[u8]) -> (Option<usize>, bool) {
    let common_len = common_text_len(bytes);
    match bytes.get(common_len..).unwrap_or_default() {
        [b'\r', b'\n', ..] => (Some(common_len + 1), true),
        [b'\n', ..] => (Some(common_len), true),
        [] => (None, true),
        rest => (memchr::memchr(b'\n', rest).map(|at| common_len + at), false),
    }
}

/// RFC 5321 §4.2, as RFC 6531 §3.3 extends it for SMTPUTF8:
///
/// ```text
/// textstring     = 1*(%d09 / %d32-126) ; HT, SP, Printable US-ASCII
/// textstring     =/ utf8-non-ascii
/// ```
///
/// Widened to what a [`Text`] holds, UTF-8 without NUL, CR or LF: servers
/// do send other controls and 8-bit text without SMTPUTF8, and a client
/// gains nothing from refusing a reply over its wording.
///
/// Hand-written rather than in nom: the text is nearly always proven
/// [common](is_common) by the framer's eight-bytes-at-a-time scan that
/// also finds the line end (`common`), which costs less than any byte-wise
/// pass. Else one branch-free pass settles the case of ASCII without NUL,
/// CR or LF; only text with other bytes pays for the exact checks that also
/// name the offending byte.
fn textstring(text: &[u8], common: bool, number: usize) -> Result<(), ReplyError> {
    let plain_ascii =
        |ok, &byte: &u8| ok & (byte.wrapping_sub(1) < 0x7f) & !matches!(byte, b'\r' | b'\n');
    if common || text.iter().fold(true, plain_ascii) {
        return Ok(());
    }
    let error = |source| ReplyError::Text {
        line: number,
        source,
    };
    check_line_safe(text).map_err(error)?;
    core::str::from_utf8(text).map_err(|utf8| {
        error(TextError::InvalidUtf8 {
            offset: utf8.valid_up_to(),
        })
    })?;
    Ok(())
}

/// The reply being read, line by line, out of one buffer that will hold the
/// whole reply: the line-level half of
/// [`ReplyAssembler`](crate::framing::ReplyAssembler) and of
/// [`Reply::from_lines`].
#[derive(Debug, Clone)]
pub(crate) struct ReplyState {
    /// Lines taken so far; 0 when no reply is in progress.
    lines: usize,
    code: ReplyCode,
    /// `code` as written, which every later line must repeat.
    digits: [u8; 3],
    enhanced: Option<EnhancedStatusCode>,
    first: Span,
}

impl Default for ReplyState {
    fn default() -> Self {
        ReplyState {
            lines: 0,
            code: ReplyCode::OK,
            digits: ReplyCode::OK.digits(),
            enhanced: None,
            first: Span::default(),
        }
    }
}

impl ReplyState {
    /// Takes the next line (without CRLF), which starts at `offset` in the
    /// reply's buffer and is known to be all [common](is_common) text when
    /// `common`; returns whether it was the last. After an error the state
    /// is reset and the next line starts a new reply.
    #[inline]
    pub(crate) fn push_line(
        &mut self,
        line: &[u8],
        offset: usize,
        common: bool,
    ) -> Result<bool, ReplyError> {
        let result = self.take_line(line, offset, common);
        if result.is_err() {
            self.reset();
        }
        result
    }

    #[inline]
    fn take_line(&mut self, line: &[u8], offset: usize, common: bool) -> Result<bool, ReplyError> {
        let number = self.lines + 1;
        let digits = line.split_first_chunk();
        let (start, last) = match digits {
            // A later line repeating the code as written holds a valid code:
            // no need to read it again.
            Some((digits, after_code)) if number > 1 && *digits == self.digits => (
                text_offset(self.code, self.enhanced, line),
                ends_reply(after_code, number)?,
            ),
            _ => {
                let (code, last) = reply_line(line, number)?;
                if number > 1 {
                    return Err(ReplyError::CodeMismatch {
                        line: number,
                        expected: self.code,
                        found: code,
                    });
                }
                let code_len = line.len().min(4);
                let text = line.get(code_len..).unwrap_or_default();
                let leading = leading_enhanced(code, text);
                self.code = code;
                self.digits = digits.map_or(self.digits, |(digits, _)| *digits);
                self.enhanced = leading.map(|(enhanced, _)| enhanced);
                (code_len + leading.map_or(0, |(_, len)| len), last)
            }
        };
        textstring(line.get(start..).unwrap_or_default(), common, number)?;
        if number == 1 {
            self.first = Span {
                start: offset + start,
                end: offset + line.len(),
            };
        }
        self.lines = number;
        Ok(last)
    }

    /// The reply whose last line was just pushed, over `raw`, the buffer the
    /// line offsets point into, which holds each line with its line ending.
    pub(crate) fn finish(&mut self, raw: ReplyBytes) -> Reply {
        let reply = Reply::from_parts(
            self.code,
            self.enhanced,
            raw,
            Layout::Wire,
            self.first,
            self.lines,
        );
        self.reset();
        reply
    }

    /// Lines of the reply in progress.
    pub(crate) fn lines_held(&self) -> usize {
        self.lines
    }

    /// Drops the reply in progress.
    pub(crate) fn reset(&mut self) {
        self.lines = 0;
    }
}

impl Reply {
    /// Parses a complete reply from its lines, each without its CRLF.
    ///
    /// Every line must carry the same code, all but the last in the `code-`
    /// form, and the last must end the reply.
    pub fn from_lines(lines: impl IntoIterator<Item = Bytes>) -> Result<Self, ReplyError> {
        let mut state = ReplyState::default();
        let mut raw = BytesMut::new();
        let mut lines = lines.into_iter();
        let mut count = 0;
        for line in lines.by_ref() {
            count += 1;
            let offset = raw.len();
            raw.extend_from_slice(&line);
            raw.extend_from_slice(b"\r\n");
            if state.push_line(&line, offset, false)? {
                if lines.next().is_some() {
                    return Err(ReplyError::TrailingLine { line: count + 1 });
                }
                return Ok(state.finish(raw.freeze().into()));
            }
        }
        Err(if count == 0 {
            ReplyError::Empty
        } else {
            ReplyError::Unterminated
        })
    }

    /// Parses one line that is a whole reply (`250 2.1.5 Ok`), without CRLF.
    pub fn parse_line(line: Bytes) -> Result<Self, ReplyError> {
        Self::from_lines([line])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Text;
    use alloc::vec;
    use alloc::vec::Vec;

    fn parse(lines: &[&'static str]) -> Result<Reply, ReplyError> {
        Reply::from_lines(lines.iter().map(|l| Bytes::from_static(l.as_bytes())))
    }

    fn texts(reply: &Reply) -> Vec<&str> {
        reply.lines().collect()
    }

    #[test]
    fn rfc_5321_appendix_d_replies() {
        let greeting = parse(&["220 foo.com Simple Mail Transfer Service Ready"]).unwrap();
        assert_eq!(greeting.code(), ReplyCode::SERVICE_READY);
        assert_eq!(
            greeting.first_line(),
            "foo.com Simple Mail Transfer Service Ready"
        );
        assert!(!greeting.is_multiline());

        let ehlo = parse(&[
            "250-foo.com greets bar.com",
            "250-8BITMIME",
            "250-SIZE",
            "250-DSN",
            "250 HELP",
        ])
        .unwrap();
        assert_eq!(
            texts(&ehlo),
            ["foo.com greets bar.com", "8BITMIME", "SIZE", "DSN", "HELP"]
        );
        assert_eq!(ehlo.enhanced(), None);

        let data = parse(&["354 Start mail input; end with <CRLF>.<CRLF>"]).unwrap();
        assert_eq!(data.code(), ReplyCode::START_MAIL_INPUT);
        let forward = parse(&["251 User not local; will forward to <Jones@XYZ.COM>"]).unwrap();
        assert_eq!(forward.code(), ReplyCode::USER_NOT_LOCAL_WILL_FORWARD);
        let unknown = parse(&["550 No such user here"]).unwrap();
        assert_eq!(unknown.first_line(), "No such user here");
        let bye = parse(&["221 foo.com Service closing transmission channel"]).unwrap();
        assert!(bye.code().is_positive());
    }

    #[test]
    fn enhanced_codes_are_detected_and_stripped() {
        let reply = parse(&["250 2.1.5 Ok"]).unwrap();
        assert_eq!(
            reply.enhanced(),
            Some(EnhancedStatusCode::DESTINATION_VALID)
        );
        assert_eq!(reply.first_line(), "Ok");

        let dmarc = parse(&[
            "550-5.7.26 Unauthenticated email from example.com is not accepted due to",
            "550-5.7.26 domain's DMARC policy. Please contact the administrator of",
            "550 5.7.26 example.com domain if this was a legitimate mail.",
        ])
        .unwrap();
        assert_eq!(
            dmarc.enhanced(),
            Some(EnhancedStatusCode::new_const(5, 7, 26))
        );
        assert_eq!(
            dmarc.line(1).unwrap(),
            "domain's DMARC policy. Please contact the administrator of"
        );
        assert_eq!(
            dmarc.line(2).unwrap(),
            "example.com domain if this was a legitimate mail."
        );

        let null_mx = parse(&["556 5.1.10 Recipient address has null MX"]).unwrap();
        assert_eq!(
            null_mx.enhanced(),
            Some(EnhancedStatusCode::RECIPIENT_NULL_MX)
        );

        // A bare enhanced code, with and without the trailing space.
        for line in ["250 2.0.0", "250 2.0.0 "] {
            let reply = parse(&[line]).unwrap();
            assert_eq!(reply.enhanced(), Some(EnhancedStatusCode::OK));
            assert_eq!(reply.first_line(), "");
        }
    }

    #[test]
    fn class_mismatched_or_malformed_codes_stay_in_the_text() {
        let cases = [
            ("550 2.0.0 odd", "2.0.0 odd"),
            ("354 2.0.0 go ahead", "2.0.0 go ahead"),
            ("250 2.01.0 x", "2.01.0 x"),
            ("250 2.0.0x", "2.0.0x"),
            ("250 2.1.5000 Ok", "2.1.5000 Ok"),
        ];
        for (line, text) in cases {
            let reply = parse(&[line]).unwrap();
            assert_eq!(reply.enhanced(), None, "{line}");
            assert_eq!(reply.first_line(), text);
        }
        // Only the first line's code is stripped from later lines.
        let reply = parse(&["450-4.2.2 full", "450-4.7.0 other", "450 last"]).unwrap();
        assert_eq!(texts(&reply), ["full", "4.7.0 other", "last"]);
        // No code on the first line: none is stripped later.
        let reply = parse(&["250-hello", "250 2.0.0 Ok"]).unwrap();
        assert_eq!(texts(&reply), ["hello", "2.0.0 Ok"]);
    }

    #[test]
    fn bare_code_and_empty_text() {
        let reply = parse(&["250"]).unwrap();
        assert_eq!(reply.first_line(), "");
        let reply = parse(&["250-", "250"]).unwrap();
        assert_eq!(texts(&reply), ["", ""]);
        assert!(is_last_line(b"250 "));
    }

    #[test]
    fn rejects_malformed_lines() {
        assert_eq!(
            parse(&["999 no"]),
            Err(ReplyError::MalformedCode { line: 1 })
        );
        assert_eq!(
            parse(&["160 no"]),
            Err(ReplyError::MalformedCode { line: 1 })
        );
        assert_eq!(parse(&["25"]), Err(ReplyError::MalformedCode { line: 1 }));
        assert_eq!(
            parse(&["abc def"]),
            Err(ReplyError::MalformedCode { line: 1 })
        );
        assert_eq!(
            parse(&["2500 x"]),
            Err(ReplyError::BadSeparator { line: 1 })
        );
        assert_eq!(parse(&["250_x"]), Err(ReplyError::BadSeparator { line: 1 }));
        assert_eq!(
            parse(&["250-a", "25x b"]),
            Err(ReplyError::MalformedCode { line: 2 })
        );
        assert_eq!(
            parse(&["250 a\0b"]),
            Err(ReplyError::Text {
                line: 1,
                source: TextError::ForbiddenByte { byte: 0, offset: 1 }
            })
        );
        assert!(matches!(
            Reply::parse_line(Bytes::from_static(b"550 caf\xe9")),
            Err(ReplyError::Text {
                line: 1,
                source: TextError::InvalidUtf8 { .. }
            })
        ));
    }

    #[test]
    fn rejects_mixed_codes_and_bad_structure() {
        assert_eq!(
            parse(&["250-a", "550 b"]),
            Err(ReplyError::CodeMismatch {
                line: 2,
                expected: ReplyCode::OK,
                found: ReplyCode::MAILBOX_UNAVAILABLE
            })
        );
        assert_eq!(parse(&[]), Err(ReplyError::Empty));
        assert_eq!(parse(&["250-a", "250-b"]), Err(ReplyError::Unterminated));
        assert_eq!(
            parse(&["250 a", "250 b"]),
            Err(ReplyError::TrailingLine { line: 2 })
        );
    }

    #[test]
    fn common_text_len_stops_at_the_first_other_byte() {
        assert_eq!(common_text_len(b""), 0);
        assert_eq!(common_text_len(b"250 2.1.5 Ok\r\n"), 12);
        assert_eq!(common_text_len(b"250-PIPELINING\r\n"), 14);
        assert_eq!(common_text_len(b"0123456789abcdef\x7f\x0e"), 18);
        for special in [0u8, b'\t', b'\r', b'\n', 0x0d, 0x80, 0xff] {
            for at in 0..20 {
                let mut line = vec![b'x'; 24];
                line[at] = special;
                line[at + 1] = 0;
                assert_eq!(common_text_len(&line), at, "{special:#x} at {at}");
            }
        }
    }

    #[test]
    fn lf_inside_a_given_line_is_refused() {
        assert!(matches!(
            parse(&["250 a\nb"]),
            Err(ReplyError::Text {
                line: 1,
                source: TextError::ForbiddenByte { byte: b'\n', .. }
            })
        ));
    }

    proptest::proptest! {
        #[test]
        fn common_text_len_matches_a_bytewise_scan(bytes in proptest::collection::vec(
            proptest::prop_oneof![proptest::prelude::any::<u8>(), proptest::prelude::Just(b'a')], 0..40,
        )) {
            let bytewise = bytes.iter().position(|&b| !is_common(b)).unwrap_or(bytes.len());
            proptest::prop_assert_eq!(common_text_len(&bytes), bytewise);
        }
    }

    #[test]
    fn state_starts_afresh_after_an_error() {
        let mut state = ReplyState::default();
        assert_eq!(state.push_line(b"250-a", 0, false), Ok(false));
        assert!(state.push_line(b"550 b", 5, false).is_err());
        assert_eq!(state.lines_held(), 0);
        assert_eq!(state.push_line(b"221 bye", 0, false), Ok(true));
        let reply = state.finish(Bytes::from_static(b"221 bye\r\n").into());
        assert_eq!(
            reply,
            Reply::new(ReplyCode::CLOSING, Text::from_static("bye"))
        );
        assert_eq!(state.push_line(b"250-x", 0, false), Ok(false));
        assert_eq!(state.push_line(b"250 y", 7, false), Ok(true));
        let reply = state.finish(Bytes::from_static(b"250-x\r\n250 y\r\n").into());
        assert_eq!(texts(&reply), vec!["x", "y"]);
        assert_eq!(reply.line_text(1).unwrap(), "y");
    }
}
