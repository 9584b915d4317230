//! [`ReplyAssembler`]: whole replies out of the byte stream a client reads.

use bytes::Buf;

use super::{FrameError, LineEndPolicy, LineFramer};
use crate::limits::{DEFAULT_MAX_REPLY_BYTES, DEFAULT_MAX_REPLY_LINE, DEFAULT_MAX_REPLY_LINES};
use crate::reply::{find_lf, is_last_line, Reply, ReplyBytes, ReplyError, ReplyState};

/// Bounds on what one reply may take, so a server cannot make a client
/// buffer without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Longest line including its CRLF.
    pub max_line: usize,
    /// Most lines in one reply.
    pub max_lines: usize,
    /// Most bytes in one reply, every CRLF included.
    pub max_bytes: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits {
            max_line: DEFAULT_MAX_REPLY_LINE,
            max_lines: DEFAULT_MAX_REPLY_LINES,
            max_bytes: DEFAULT_MAX_REPLY_BYTES,
        }
    }
}

/// Turns the bytes a client reads into complete [`Reply`] values, single- or
/// multi-line, however the input is split.
///
/// Input goes through a [`LineFramer`] with the reply line limit, and the
/// lines of one reply are counted and measured as they come, so neither an
/// endless line nor an endless multi-line reply is buffered: both end in an
/// error once a [`ReplyLimits`] bound is passed.
///
/// Any error leaves the client out of step with the server and should end
/// the session. The assembler still stays bounded and usable: it drops the
/// broken reply, skips the rest of it when the offending line was a
/// continuation line, and starts afresh after that.
///
/// ```
/// use smtpwire::framing::ReplyAssembler;
/// use smtpwire::ReplyCode;
///
/// let mut replies = ReplyAssembler::new();
/// replies.push(b"220 mx.example.org ESMTP\r\n250-mx.example.org\r\n250-PIPE");
/// let greeting = replies.next_reply().unwrap().unwrap();
/// assert_eq!(greeting.code(), ReplyCode::SERVICE_READY);
/// assert!(replies.next_reply().is_none()); // EHLO reply not complete yet
/// replies.push(b"LINING\r\n250 8BITMIME\r\n");
/// let ehlo = replies.next_reply().unwrap().unwrap();
/// assert_eq!(ehlo.line_count(), 3);
/// assert_eq!(replies.buffered(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct ReplyAssembler {
    /// Owns the input buffer, and decides every framing error.
    framer: LineFramer,
    state: ReplyState,
    limits: ReplyLimits,
    /// Where the next line of the reply in progress starts in the buffer;
    /// the reply itself always starts at the front.
    line_start: usize,
    /// How far into the buffer is known to hold no LF.
    scanned: usize,
    /// Whether the scanned part of the line holds a byte that is not common
    /// text, so its text needs a closer check.
    uncommon: bool,
    /// Dropping the continuation lines of a reply that failed.
    skipping: bool,
}

impl Default for ReplyAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyAssembler {
    /// An assembler with the default limits; only CRLF ends a line.
    pub fn new() -> Self {
        Self::with_limits(ReplyLimits::default(), LineEndPolicy::Strict)
    }

    /// An assembler with the given limits and line-ending policy.
    pub fn with_limits(limits: ReplyLimits, policy: LineEndPolicy) -> Self {
        let mut assembler = ReplyAssembler {
            framer: LineFramer::new(limits.max_line, policy),
            state: ReplyState::default(),
            limits,
            line_start: 0,
            scanned: 0,
            uncommon: false,
            skipping: false,
        };
        assembler.set_limits(limits);
        assembler
    }

    /// The limits in force.
    pub fn limits(&self) -> ReplyLimits {
        self.limits
    }

    /// Changes the limits, e.g. to take longer lines in an AUTH exchange;
    /// a reply already in progress is held to the new ones from now on.
    pub fn set_limits(&mut self, limits: ReplyLimits) {
        self.framer.set_max_line(limits.max_line);
        self.limits = ReplyLimits {
            max_line: self.framer.max_line(),
            max_lines: limits.max_lines.max(1),
            max_bytes: limits.max_bytes,
        };
    }

    /// Appends input read from the server.
    pub fn push(&mut self, input: &[u8]) {
        self.framer.push(input);
    }

    /// The next complete reply; `None` means push more input.
    ///
    /// Lines are found in place in the framer's buffer and the reply is split
    /// off in one piece once its last line is in, instead of line by line
    /// through [`LineFramer::next_line`]: that keeps the cost per reply
    /// rather than per line. Any line the framer would refuse is handed to it,
    /// so it alone decides framing errors and drops over-long lines.
    pub fn next_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        loop {
            let buf = self.framer.buffer_mut();
            let unscanned = buf.get(self.scanned..).unwrap_or_default();
            let (found, scanned_common) = find_lf(unscanned);
            self.uncommon |= !scanned_common;
            let Some(found) = found else {
                self.scanned = buf.len();
                if self.framer.unended_too_long(self.scanned - self.line_start) {
                    return Some(Err(self.framing_error()));
                }
                return None;
            };
            let common = !self.uncommon;
            let lf = self.scanned + found;
            let next_start = lf + 1;
            let crlf = lf > self.line_start && buf.get(lf - 1) == Some(&b'\r');
            if self
                .framer
                .refusal(next_start - self.line_start, crlf)
                .is_some()
            {
                return Some(Err(self.framing_error()));
            }
            let buf = self.framer.buffer_mut();
            let line_end = if crlf { lf - 1 } else { lf };
            let line = buf.get(self.line_start..line_end).unwrap_or_default();
            let continues = !is_last_line(line);
            if self.skipping {
                self.skipping = continues;
                buf.advance(next_start);
                self.restart();
                continue;
            }
            let limit_error = if self.state.lines_held() >= self.limits.max_lines {
                Some(ReplyError::TooManyLines {
                    limit: self.limits.max_lines,
                })
            } else if next_start > self.limits.max_bytes {
                Some(ReplyError::TooLong {
                    limit: self.limits.max_bytes,
                })
            } else {
                None
            };
            let outcome = match limit_error {
                Some(error) => Err(error),
                None => self.state.push_line(line, self.line_start, common),
            };
            match outcome {
                Ok(false) => {
                    self.line_start = next_start;
                    self.scanned = next_start;
                    self.uncommon = false;
                }
                Ok(true) => {
                    let raw = ReplyBytes::take_front(buf, next_start);
                    self.restart();
                    return Some(Ok(self.state.finish(raw)));
                }
                Err(error) => {
                    buf.advance(next_start);
                    self.state.reset();
                    self.restart();
                    // Skip the rest of a reply cut off mid-way, so its tail
                    // is not read as a reply of its own.
                    self.skipping = continues;
                    return Some(Err(error));
                }
            }
        }
    }

    /// The buffer front is the start of a new reply.
    fn restart(&mut self) {
        self.line_start = 0;
        self.scanned = 0;
        self.uncommon = false;
    }

    /// Drops the reply in progress and lets the framer judge, and consume,
    /// the line at the front.
    fn framing_error(&mut self) -> ReplyError {
        self.framer.buffer_mut().advance(self.line_start);
        self.state.reset();
        self.restart();
        match self.framer.next_line() {
            Some(Err(FrameError::BareLineFeed)) => ReplyError::BareLineFeed,
            // The framer applies the same rules, so a too-long line is all
            // that is left.
            _ => ReplyError::LineTooLong {
                limit: self.limits.max_line,
            },
        }
    }

    /// Bytes received but not yet handed out in a reply: unframed input plus
    /// the lines of a reply still in progress.
    ///
    /// A client checks this right after the 220 reply to STARTTLS: anything
    /// still buffered was sent before the TLS handshake and must not be read
    /// as if it came through the secured channel (RFC 3207 §6; the response
    /// injection of CVE-2011-0411's client-side kin).
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ReplyCode, Text};
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn assemble(chunks: &[&[u8]], limits: ReplyLimits) -> Vec<Result<Reply, ReplyError>> {
        let mut assembler = ReplyAssembler::with_limits(limits, LineEndPolicy::Strict);
        let mut out = Vec::new();
        for chunk in chunks {
            assembler.push(chunk);
            out.extend(core::iter::from_fn(|| assembler.next_reply()));
        }
        out
    }

    const POSTFIX_SESSION: &[u8] = b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n\
        250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n\
        250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n\
        250 CHUNKING\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n\
        250 2.0.0 Ok: queued as 4Xq1Lr2pQnz9sWK\r\n221 2.0.0 Bye\r\n";

    #[test]
    fn reads_a_postfix_session() {
        let replies = assemble(&[POSTFIX_SESSION], ReplyLimits::default());
        let replies: Vec<Reply> = replies.into_iter().map(Result::unwrap).collect();
        let codes: Vec<u16> = replies.iter().map(|r| r.code().as_u16()).collect();
        assert_eq!(codes, [220, 250, 250, 250, 354, 250, 221]);
        assert_eq!(replies[1].line_count(), 11);
        assert_eq!(replies[1].line(10).unwrap(), "CHUNKING");
        assert_eq!(replies[5].first_line(), "Ok: queued as 4Xq1Lr2pQnz9sWK");
        assert_eq!(
            replies[6],
            Reply::with_enhanced(
                ReplyCode::CLOSING,
                crate::EnhancedStatusCode::OK,
                Text::from_static("Bye")
            )
            .unwrap()
        );
    }

    #[test]
    fn endless_multiline_reply_is_cut_off() {
        let limits = ReplyLimits {
            max_lines: 10,
            ..ReplyLimits::default()
        };
        let mut assembler = ReplyAssembler::with_limits(limits, LineEndPolicy::Strict);
        let mut errors = 0;
        for _ in 0..10_000 {
            assembler.push(b"250-more and more\r\n");
            while let Some(result) = assembler.next_reply() {
                assert_eq!(result, Err(ReplyError::TooManyLines { limit: 10 }));
                errors += 1;
            }
            assert!(assembler.buffered() <= 10 * 19);
        }
        // One error; the rest of the broken reply is skipped to its end.
        assert_eq!(errors, 1);
        assembler.push(b"250 end\r\n221 bye\r\n");
        assert_eq!(
            assembler.next_reply().unwrap().unwrap().code(),
            ReplyCode::CLOSING
        );
        assert!(assembler.next_reply().is_none());
    }

    #[test]
    fn byte_limit() {
        let limits = ReplyLimits {
            max_bytes: 30,
            ..ReplyLimits::default()
        };
        let out = assemble(
            &[b"250-0123456789\r\n250-0123456789\r\n250 x\r\n250 ok\r\n"],
            limits,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], Err(ReplyError::TooLong { limit: 30 }));
        assert_eq!(out[1].as_ref().unwrap().first_line(), "ok");
        // Exactly at the limit is fine.
        let out = assemble(&[b"250-0123456789\r\n250 01234567\r\n"], limits);
        assert!(out[0].is_ok());
    }

    #[test]
    fn long_lines_bare_lf_and_mismatches() {
        let limits = ReplyLimits {
            max_line: 16,
            ..ReplyLimits::default()
        };
        let out = assemble(
            &[b"250 this line is too long\r\n250 ok\r\n550\nbad\r\n"],
            limits,
        );
        assert_eq!(
            out,
            [
                Err(ReplyError::LineTooLong { limit: 16 }),
                Ok(Reply::new(ReplyCode::OK, Text::from_static("ok"))),
                Err(ReplyError::BareLineFeed),
                Err(ReplyError::MalformedCode { line: 1 }),
            ]
        );
        let out = assemble(
            &[b"250-a\r\n550-b\r\n550 c\r\n221 bye\r\n"],
            ReplyLimits::default(),
        );
        assert_eq!(out.len(), 2);
        assert!(matches!(
            out[0],
            Err(ReplyError::CodeMismatch { line: 2, .. })
        ));
        assert_eq!(out[1].as_ref().unwrap().code(), ReplyCode::CLOSING);
        let out = assemble(&[b"999 no\r\n"], ReplyLimits::default());
        assert_eq!(out, [Err(ReplyError::MalformedCode { line: 1 })]);
    }

    #[test]
    fn buffered_counts_bytes_after_a_reply() {
        let mut assembler = ReplyAssembler::new();
        assembler.push(b"220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 x");
        assert_eq!(
            assembler.next_reply().unwrap().unwrap().code(),
            ReplyCode::SERVICE_READY
        );
        assert_eq!(assembler.buffered(), 19);
        assert!(assembler.next_reply().is_none());
        assert_eq!(assembler.buffered(), 19);
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_replies(
            input in proptest::collection::vec(prop_oneof![
                Just(&b"250-"[..]), Just(&b"250 "[..]), Just(&b"550 "[..]), Just(&b"2.1.5 "[..]),
                Just(&b"\r\n"[..]), Just(&b"\n"[..]), Just(&b"ok"[..]), Just(&b"\xc3\xa9"[..]),
                Just(&b"x"[..]), Just(&b"\0"[..]),
            ], 0..60).prop_map(|parts| parts.concat()),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
            max_line in 4usize..40,
            max_lines in 1usize..6,
            max_bytes in 4usize..80,
        ) {
            let limits = ReplyLimits { max_line, max_lines, max_bytes };
            let whole = assemble(&[&input], limits);
            let chunks = crate::test_support::split_at_points(&input, &cuts);
            prop_assert_eq!(&assemble(&chunks, limits), &whole);
            let bytewise: Vec<&[u8]> = input.chunks(1).collect();
            prop_assert_eq!(&assemble(&bytewise, limits), &whole);
        }

        #[test]
        fn never_panics_and_stays_bounded(input in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut assembler = ReplyAssembler::new();
            for chunk in input.chunks(7) {
                assembler.push(chunk);
                while assembler.next_reply().is_some() {}
                prop_assert!(assembler.buffered() <= DEFAULT_MAX_REPLY_BYTES + DEFAULT_MAX_REPLY_LINE);
            }
        }
    }
}
