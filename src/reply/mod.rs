//! Replies: [`ReplyCode`], [`EnhancedStatusCode`] and the [`Reply`] they make up,
//! parsed from complete lines and emitted with CRLF.
//!
//! Incremental reading (a reply split across reads, multi-line replies
//! arriving line by line) is [`framing::ReplyAssembler`](crate::framing::ReplyAssembler)'s
//! job; the functions here see whole lines only.

mod classify;
mod code;
mod emit;
mod enhanced;
pub(crate) mod grammar;
mod lines;
mod parse;
mod storage;

use alloc::vec::Vec;
use bytes::BytesMut;
use core::fmt;
use core::hash::{Hash, Hasher};

pub use classify::{classify, Cause, Classification, Permanence};
pub use code::{ReplyClass, ReplyCode};
pub use enhanced::EnhancedStatusCode;
pub use lines::{ReplyLineTexts, ReplyLines};
pub use parse::is_last_line;
pub(crate) use parse::{find_lf, ReplyState};
pub(crate) use storage::ReplyBytes;

use crate::{Text, TextError};

/// Why a reply could not be parsed, assembled or built.
///
/// `line` fields count the lines of one reply from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A number outside the RFC 5321 §4.2 reply code ranges.
    #[error("reply code {code} is outside the RFC 5321 ranges")]
    InvalidCode {
        /// The number given.
        code: u16,
    },
    /// A line does not start with three digits forming a valid reply code
    /// (`999`, `160`, `25`, text).
    #[error("line {line} does not start with a valid reply code")]
    MalformedCode {
        /// The offending line.
        line: usize,
    },
    /// The code is followed by something other than SP, `-` or the line end.
    #[error("line {line}: the reply code is not followed by a space, a hyphen or the line end")]
    BadSeparator {
        /// The offending line.
        line: usize,
    },
    /// A line of a multi-line reply carries another code than the first line
    /// (RFC 5321 §4.2.1 requires the same code on every line).
    #[error("line {line} has code {found}, but the reply started with {expected}")]
    CodeMismatch {
        /// The offending line.
        line: usize,
        /// The first line's code.
        expected: ReplyCode,
        /// This line's code.
        found: ReplyCode,
    },
    /// The text of a line holds NUL or is not UTF-8.
    #[error("line {line}: {source}")]
    Text {
        /// The offending line.
        line: usize,
        /// What is wrong with the text.
        source: TextError,
    },
    /// No lines were given.
    #[error("a reply needs at least one line")]
    Empty,
    /// The lines given end with a continuation line (`250-…`).
    #[error("the reply's lines end with a continuation line")]
    Unterminated,
    /// More lines were given after the reply's last line.
    #[error("line {line} follows the reply's last line")]
    TrailingLine {
        /// The first line after the reply.
        line: usize,
    },
    /// A line is longer than the limit, which counts its CRLF.
    #[error("reply line longer than {limit} octets")]
    LineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// A line ended in LF without CR (RFC 5321 §2.3.8).
    #[error("reply line ended with a bare LF")]
    BareLineFeed,
    /// A multi-line reply has more lines than the limit.
    #[error("reply has more than {limit} lines")]
    TooManyLines {
        /// The limit in force.
        limit: usize,
    },
    /// A multi-line reply is longer than the limit, CRLFs included.
    #[error("reply longer than {limit} octets")]
    TooLong {
        /// The limit in force.
        limit: usize,
    },
    /// Not `class.subject.detail` with each part in range (RFC 3463 §2).
    #[error("malformed enhanced status code")]
    MalformedEnhancedCode,
    /// An enhanced status class other than 2, 4 or 5.
    #[error("enhanced status class {class} is not 2, 4 or 5")]
    InvalidEnhancedClass {
        /// The class given.
        class: u8,
    },
    /// An enhanced code whose class disagrees with the reply code's first
    /// digit (RFC 3463 §2 and RFC 2034 §4: a `2.x.x` cannot ride on a `5yz`).
    #[error("enhanced status code {enhanced} does not agree with reply code {code}")]
    ClassMismatch {
        /// The reply code.
        code: ReplyCode,
        /// The enhanced code.
        enhanced: EnhancedStatusCode,
    },
}

/// A server reply: one code, an optional enhanced status code, and one or more
/// lines of text (RFC 5321 §4.2).
///
/// The enhanced code, when present, agrees in class with the reply code: the
/// constructors refuse a mismatch, and the parser only recognises a leading
/// `class.subject.detail` as the enhanced code when its class is the reply
/// code's first digit, leaving anything else (a `2.0.0` on a `550`, any code on
/// a `3yz`) in the text where nothing of it is lost.
///
/// Storage is built for a client that reads many replies. A parsed reply
/// keeps the bytes it was read from, codes and line endings included, plus
/// where its first line's text sits and how many lines there are. Later
/// lines are found again when asked for (lines are short, and a client reads
/// most replies for their code alone), so parsing a reply of any number of
/// lines allocates nothing. A short reply's bytes are copied into the value;
/// a longer one's are split off the input buffer in one piece and shared with
/// it. Lines come out as `&str`, or as [`Text`] slices through
/// [`line_text`](Self::line_text) and [`line_texts`](Self::line_texts).
///
/// ```
/// use smtpwire::{EnhancedStatusCode, Reply, ReplyCode, Text};
///
/// let reply = Reply::with_enhanced(
///     ReplyCode::OK,
///     EnhancedStatusCode::DESTINATION_VALID,
///     Text::from_static("Ok"),
/// )
/// .unwrap();
/// assert_eq!(&reply.to_bytes()[..], b"250 2.1.5 Ok\r\n");
///
/// let lines = ["250-mx.example.org", "250-PIPELINING", "250 SIZE 10240000"];
/// let reply = Reply::from_lines(lines.map(|l| bytes::Bytes::from_static(l.as_bytes()))).unwrap();
/// assert_eq!(reply.code(), ReplyCode::OK);
/// assert_eq!(reply.first_line(), "mx.example.org");
/// assert_eq!(reply.line(2), Some("SIZE 10240000"));
/// assert_eq!(reply.lines().count(), 3);
/// ```
#[derive(Clone)]
pub struct Reply {
    code: ReplyCode,
    enhanced: Option<EnhancedStatusCode>,
    /// The bytes the lines are found in, laid out as `layout` says; every
    /// line's text is proven line-safe UTF-8 when the reply is built.
    raw: ReplyBytes,
    layout: Layout,
    /// Where the first line's text sits in `raw`.
    first: Span,
    line_count: usize,
}

/// How a [`Reply`]'s lines are laid out in its bytes. Either way every line
/// but a lone one ends in LF, and no text holds CR or LF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// As read: each line carries its code, maybe the enhanced code, and its
    /// line ending.
    Wire,
    /// The texts alone, each followed by LF.
    Texts,
}

/// Where one line's text sits in [`Reply::raw`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Reply {
    /// A one-line reply without an enhanced status code.
    pub fn new(code: ReplyCode, text: Text) -> Self {
        Self::single(code, None, text)
    }

    /// A one-line reply with an enhanced status code, which must agree in
    /// class with `code`.
    pub fn with_enhanced(
        code: ReplyCode,
        enhanced: EnhancedStatusCode,
        text: Text,
    ) -> Result<Self, ReplyError> {
        check_classes(code, Some(enhanced))?;
        Ok(Self::single(code, Some(enhanced), text))
    }

    fn single(code: ReplyCode, enhanced: Option<EnhancedStatusCode>, text: Text) -> Self {
        let first = Span {
            start: 0,
            end: text.len(),
        };
        let raw = text.into_bytes().into();
        Self::from_parts(code, enhanced, raw, Layout::Texts, first, 1)
    }

    /// A reply of any number of lines (no lines gives one empty line), with an
    /// optional enhanced code that must agree in class with `code`.
    pub fn multiline(
        code: ReplyCode,
        enhanced: Option<EnhancedStatusCode>,
        lines: impl IntoIterator<Item = Text>,
    ) -> Result<Self, ReplyError> {
        check_classes(code, enhanced)?;
        Ok(Self::from_texts(code, enhanced, lines))
    }

    /// [`multiline`](Self::multiline) for a caller that knows the classes agree.
    pub(crate) fn from_texts(
        code: ReplyCode,
        enhanced: Option<EnhancedStatusCode>,
        lines: impl IntoIterator<Item = Text>,
    ) -> Self {
        let lines: Vec<Text> = lines.into_iter().collect();
        let mut raw = BytesMut::with_capacity(lines.iter().map(|line| line.len() + 1).sum());
        for line in &lines {
            raw.extend_from_slice(line.as_bytes());
            raw.extend_from_slice(b"\n");
        }
        let first = Span {
            start: 0,
            end: lines.first().map_or(0, Text::len),
        };
        let line_count = lines.len().max(1);
        Self::from_parts(
            code,
            enhanced,
            raw.freeze().into(),
            Layout::Texts,
            first,
            line_count,
        )
    }

    /// Builds a reply from parts already checked: classes agree, `raw` holds
    /// `line_count` lines of line-safe UTF-8 text laid out as `layout` says,
    /// the first line's text at `first`.
    pub(crate) fn from_parts(
        code: ReplyCode,
        enhanced: Option<EnhancedStatusCode>,
        raw: ReplyBytes,
        layout: Layout,
        first: Span,
        line_count: usize,
    ) -> Self {
        Reply {
            code,
            enhanced,
            raw,
            layout,
            first,
            line_count,
        }
    }

    /// The reply code.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// The enhanced status code, if the reply carries one.
    pub fn enhanced(&self) -> Option<EnhancedStatusCode> {
        self.enhanced
    }

    /// The bytes of a line's text, for a writer that needs no `&str` and so
    /// need not pay to validate it again.
    pub(crate) fn text_bytes(&self, span: Span) -> &[u8] {
        // Spans lie within `raw`, so the fallback is never taken.
        self.raw.get(span.start..span.end).unwrap_or_default()
    }

    fn text(&self, span: Span) -> &str {
        // Spans are checked to be UTF-8 when the reply is built, so the
        // fallback is never taken.
        core::str::from_utf8(self.text_bytes(span)).unwrap_or_default()
    }

    /// The text at `span` as a [`Text`] sharing the reply's bytes (or a
    /// copy of them, for a short reply kept inline).
    pub(crate) fn shared_text(&self, span: Span) -> Text {
        Text::from_parsed(self.raw.slice(span.start..span.end))
    }

    /// `part`, a slice of this reply's bytes (of a line's text it handed
    /// out), as a [`Text`] sharing them; empty for a slice from elsewhere.
    pub(crate) fn shared_part(&self, part: &[u8]) -> Text {
        let start = (part.as_ptr() as usize).wrapping_sub(self.raw.as_ptr() as usize);
        let end = start.wrapping_add(part.len());
        match self.raw.get(start..end) {
            Some(_) => self.shared_text(Span { start, end }),
            None => Text::default(),
        }
    }

    /// The lines after the first, as read, when each is `Reply-code`,
    /// separator, text and line ending with no enhanced code to strip:
    /// for a reader that takes the lines' texts apart in the same pass as
    /// it finds where they end.
    pub(crate) fn wire_lines_after_first(&self) -> Option<&[u8]> {
        if self.layout != Layout::Wire || self.enhanced.is_some() {
            return None;
        }
        let after_text = self.raw.get(self.first.end..).unwrap_or_default();
        let ending = match after_text {
            [b'\r', b'\n', ..] => 2,
            [b'\n', ..] => 1,
            _ => 0,
        };
        after_text.get(ending..)
    }

    fn span(&self, index: usize) -> Option<Span> {
        match index {
            0 => Some(self.first),
            _ => self.spans().nth(index),
        }
    }

    /// The first text line: the greeting of a 220 reply, the domain and
    /// greeting of an EHLO reply, the whole text of a one-line reply.
    pub fn first_line(&self) -> &str {
        self.text(self.first)
    }

    /// Text line `index`, counting from 0. Lines after the first are found
    /// by reading past the ones before, so [`lines`](Self::lines) is the way
    /// through them all.
    pub fn line(&self, index: usize) -> Option<&str> {
        self.span(index).map(|span| self.text(span))
    }

    /// Text line `index` as a [`Text`] sharing the reply's bytes; as with
    /// [`line`](Self::line), [`line_texts`](Self::line_texts) is the way
    /// through them all.
    pub fn line_text(&self, index: usize) -> Option<Text> {
        self.span(index).map(|span| self.shared_text(span))
    }

    /// The text lines in order, without codes; there is always at least one.
    pub fn lines(&self) -> ReplyLines<'_> {
        ReplyLines::new(self.spans())
    }

    /// The text lines in order as [`Text`]s sharing the reply's bytes.
    pub fn line_texts(&self) -> ReplyLineTexts<'_> {
        ReplyLineTexts::new(self.spans())
    }

    /// How many lines the reply has.
    pub fn line_count(&self) -> usize {
        self.line_count
    }

    /// Whether the reply spans more than one line.
    pub fn is_multiline(&self) -> bool {
        self.line_count > 1
    }
}

/// Two replies are equal when code, enhanced code and text lines are, however
/// their bytes are stored.
impl PartialEq for Reply {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code && self.enhanced == other.enhanced && self.lines().eq(other.lines())
    }
}

impl Eq for Reply {}

impl Hash for Reply {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code.hash(state);
        self.enhanced.hash(state);
        for line in self.lines() {
            line.hash(state);
        }
    }
}

/// One line for a log: the code, the enhanced code if any, and the text,
/// as in `250 2.0.0 queued as 4F2A`. The lines of a multi-line reply are
/// joined by a space with the code written once, as Postfix logs a remote
/// server's reply, since servers wrap one sentence over several lines
/// (`550 5.1.1 The email account that you tried to reach does not exist.
/// Please try double-checking …`). A reply comes from the peer, so control
/// characters and the line separators U+2028 and U+2029 in its text (RFC
/// 5321 only keeps CR and LF out) are written escaped, as `\u{1b}`, and can
/// neither act on a terminal that shows the log nor start a forged line.
/// The wire form is [`emit`](Self::emit)'s.
///
/// ```
/// use smtpwire::{EnhancedStatusCode, Reply, ReplyCode, Text};
///
/// let reply = Reply::with_enhanced(
///     ReplyCode::OK,
///     EnhancedStatusCode::OK,
///     Text::from_static("queued as 4F2A"),
/// )
/// .unwrap();
/// assert_eq!(reply.to_string(), "250 2.0.0 queued as 4F2A");
///
/// let lines = ["250-mx.example.org", "250 PIPELINING"];
/// let reply = Reply::from_lines(lines.map(|l| bytes::Bytes::from_static(l.as_bytes()))).unwrap();
/// assert_eq!(reply.to_string(), "250 mx.example.org PIPELINING");
/// ```
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(enhanced) = self.enhanced {
            write!(f, " {enhanced}")?;
        }
        for line in self.lines().filter(|line| !line.is_empty()) {
            f.write_str(" ")?;
            if !line.contains(is_escaped_in_log) {
                f.write_str(line)?;
                continue;
            }
            for c in line.chars() {
                if is_escaped_in_log(c) {
                    write!(f, "{}", c.escape_unicode())?;
                } else {
                    fmt::Write::write_char(f, c)?;
                }
            }
        }
        Ok(())
    }
}

/// Control characters but the tab, which a log line shows as a space, and
/// the line and paragraph separators, which some viewers break lines at.
fn is_escaped_in_log(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("code", &self.code)
            .field("enhanced", &self.enhanced)
            .field("lines", &DebugLines(self))
            .finish()
    }
}

struct DebugLines<'a>(&'a Reply);

impl fmt::Debug for DebugLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.lines()).finish()
    }
}

/// RFC 3463 §2: the enhanced class must match the reply class.
fn check_classes(code: ReplyCode, enhanced: Option<EnhancedStatusCode>) -> Result<(), ReplyError> {
    match enhanced {
        Some(enhanced) if enhanced.class() != code.class() => {
            Err(ReplyError::ClassMismatch { code, enhanced })
        }
        _ => Ok(()),
    }
}
