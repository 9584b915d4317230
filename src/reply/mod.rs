//! Replies: [`ReplyCode`], [`EnhancedStatusCode`] and the [`Reply`] they make up,
//! parsed from complete lines and emitted with CRLF.
//!
//! Incremental reading (a reply split across reads, multi-line replies
//! arriving line by line) is [`framing::ReplyAssembler`](crate::framing::ReplyAssembler)'s
//! job; the functions here see whole lines only.

mod code;
mod emit;
mod enhanced;
mod parse;

use alloc::vec::Vec;

pub use code::{ReplyClass, ReplyCode};
pub use enhanced::EnhancedStatusCode;
pub use parse::is_last_line;
pub(crate) use parse::ReplyCollector;

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
/// Storage is built for a client that reads many replies: each line is a
/// [`Text`] slice of the buffer the reply was read into, the first line is held
/// inline, and only the lines after it go into a `Vec`. Parsing a one-line
/// reply (the common case: `250 2.1.5 Ok`) therefore allocates nothing, and a
/// multi-line one makes a single, exactly sized allocation. Keeping the raw
/// bytes and re-scanning them on every access would save that one allocation
/// but make every look at the lines pay for the prefixes again.
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
/// assert_eq!(reply.line(2).unwrap(), "SIZE 10240000");
/// assert_eq!(reply.lines().count(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    code: ReplyCode,
    enhanced: Option<EnhancedStatusCode>,
    first: Text,
    rest: Vec<Text>,
}

impl Reply {
    /// A one-line reply without an enhanced status code.
    pub fn new(code: ReplyCode, text: Text) -> Self {
        Self::from_parts(code, None, text, Vec::new())
    }

    /// A one-line reply with an enhanced status code, which must agree in
    /// class with `code`.
    pub fn with_enhanced(
        code: ReplyCode,
        enhanced: EnhancedStatusCode,
        text: Text,
    ) -> Result<Self, ReplyError> {
        check_classes(code, Some(enhanced))?;
        Ok(Self::from_parts(code, Some(enhanced), text, Vec::new()))
    }

    /// A reply of any number of lines (no lines gives one empty line), with an
    /// optional enhanced code that must agree in class with `code`.
    pub fn multiline(
        code: ReplyCode,
        enhanced: Option<EnhancedStatusCode>,
        lines: impl IntoIterator<Item = Text>,
    ) -> Result<Self, ReplyError> {
        check_classes(code, enhanced)?;
        let mut lines = lines.into_iter();
        let first = lines.next().unwrap_or_default();
        Ok(Self::from_parts(code, enhanced, first, lines.collect()))
    }

    /// Builds a reply from parts already known to agree.
    pub(crate) fn from_parts(
        code: ReplyCode,
        enhanced: Option<EnhancedStatusCode>,
        first: Text,
        rest: Vec<Text>,
    ) -> Self {
        Reply {
            code,
            enhanced,
            first,
            rest,
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

    /// The first text line: the greeting of a 220 reply, the domain and
    /// greeting of an EHLO reply, the whole text of a one-line reply.
    pub fn first_line(&self) -> &Text {
        &self.first
    }

    /// Text line `index`, counting from 0.
    pub fn line(&self, index: usize) -> Option<&Text> {
        match index.checked_sub(1) {
            None => Some(&self.first),
            Some(rest_index) => self.rest.get(rest_index),
        }
    }

    /// The text lines in order, without codes; there is always at least one.
    pub fn lines(&self) -> ReplyLines<'_> {
        ReplyLines {
            first: Some(&self.first),
            rest: self.rest.iter(),
        }
    }

    /// How many lines the reply has.
    pub fn line_count(&self) -> usize {
        1 + self.rest.len()
    }

    /// Whether the reply spans more than one line.
    pub fn is_multiline(&self) -> bool {
        !self.rest.is_empty()
    }
}

/// The text lines of a [`Reply`], from [`Reply::lines`].
#[derive(Debug, Clone)]
pub struct ReplyLines<'a> {
    first: Option<&'a Text>,
    rest: core::slice::Iter<'a, Text>,
}

impl<'a> Iterator for ReplyLines<'a> {
    type Item = &'a Text;

    fn next(&mut self) -> Option<&'a Text> {
        self.first.take().or_else(|| self.rest.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = usize::from(self.first.is_some()) + self.rest.len();
        (len, Some(len))
    }
}

impl DoubleEndedIterator for ReplyLines<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.rest.next_back().or_else(|| self.first.take())
    }
}

impl ExactSizeIterator for ReplyLines<'_> {}

/// RFC 3463 §2: the enhanced class must match the reply class.
fn check_classes(code: ReplyCode, enhanced: Option<EnhancedStatusCode>) -> Result<(), ReplyError> {
    match enhanced {
        Some(enhanced) if enhanced.class() != code.class() => {
            Err(ReplyError::ClassMismatch { code, enhanced })
        }
        _ => Ok(()),
    }
}
