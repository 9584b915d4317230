//! A bounded CRLF line framer that never rescans its input.

use bytes::{Buf, Bytes, BytesMut};

/// Which byte sequences end a line.
///
/// RFC 5321 §2.3.8 makes CRLF the only line ending; a bare LF is how the SMTP
/// smuggling attacks of 2023 split one peer's view of a stream from another's,
/// so accepting it is a choice a caller has to make by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEndPolicy {
    /// Only CRLF ends a line; a line that ends in a bare LF is reported as
    /// [`FrameError::BareLineFeed`] (and consumed, so framing carries on).
    #[default]
    Strict,
    /// A bare LF ends a line as CRLF would.
    AllowBareLf,
}

/// A line that could not be framed. Framing carries on after either error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The line is longer than the limit (which counts the CRLF). Its bytes
    /// are dropped as they arrive, up to and including its line ending; the
    /// error is reported once per line, as soon as the limit is passed.
    #[error("line longer than {limit} octets")]
    TooLong {
        /// The limit in force, including the CRLF.
        limit: usize,
    },
    /// The line ended in LF without CR under [`LineEndPolicy::Strict`].
    #[error("line ended with a bare LF")]
    BareLineFeed,
}

/// Splits an input buffer into lines.
///
/// The framer owns the buffer that input is pushed into, and remembers how far
/// it has already looked for a line ending, so each byte is scanned once
/// however the input is split. Lines come out as [`Bytes`] slices of that buffer
/// without their line ending, with no copy.
///
/// ```
/// use smtpwire::framing::{LineFramer, LineEndPolicy};
///
/// let mut framer = LineFramer::new(512, LineEndPolicy::Strict);
/// framer.push(b"EHLO client.example\r\nMAIL FR");
/// assert_eq!(&framer.next_line().unwrap().unwrap()[..], b"EHLO client.example");
/// assert!(framer.next_line().is_none()); // half a line: need more input
/// framer.push(b"OM:<>\r\n");
/// assert_eq!(&framer.next_line().unwrap().unwrap()[..], b"MAIL FROM:<>");
/// ```
#[derive(Debug, Clone)]
pub struct LineFramer {
    buf: BytesMut,
    /// Bytes at the front of `buf` already known to hold no LF.
    scanned: usize,
    max_line: usize,
    policy: LineEndPolicy,
    /// Inside an over-long line that was already reported: drop up to its LF.
    discarding: bool,
}

impl LineFramer {
    /// A framer for lines of at most `max_line` octets including the CRLF.
    ///
    /// A `max_line` below 2 is raised to 2, the size of an empty line.
    pub fn new(max_line: usize, policy: LineEndPolicy) -> Self {
        LineFramer {
            buf: BytesMut::new(),
            scanned: 0,
            max_line: max_line.max(2),
            policy,
            discarding: false,
        }
    }

    /// Appends input from the peer.
    pub fn push(&mut self, input: &[u8]) {
        if self.discarding {
            // Nothing of an over-long line is kept: only its end matters.
            if let Some(end) = memchr::memchr(b'\n', input) {
                self.discarding = false;
                self.buf.extend_from_slice(&input[end + 1..]);
            }
            return;
        }
        self.buf.extend_from_slice(input);
    }

    /// The next complete line, without its line ending.
    ///
    /// `None` means the buffer holds no complete line yet: push more input.
    // Inlined into the caller's loop, the line comes back in registers
    // rather than through memory: measurably faster per line.
    #[inline]
    pub fn next_line(&mut self) -> Option<Result<Bytes, FrameError>> {
        if self.discarding {
            return None;
        }
        let Some(found) = memchr::memchr(b'\n', &self.buf[self.scanned..]) else {
            self.scanned = self.buf.len();
            if self.unended_too_long(self.buf.len()) {
                self.buf.clear();
                self.scanned = 0;
                self.discarding = true;
                return Some(Err(FrameError::TooLong {
                    limit: self.max_line,
                }));
            }
            return None;
        };
        let lf = self.scanned + found;
        self.scanned = 0;
        let crlf = lf > 0 && self.buf[lf - 1] == b'\r';
        let content = match self.refusal(lf + 1, crlf) {
            Some(error) => Err(error),
            None => Ok(if crlf { lf - 1 } else { lf }),
        };
        // The line ending, and a line that is refused, are dropped without
        // being split off.
        let line = content.map(|len| self.buf.split_to(len).freeze());
        self.buf.advance(lf + 1 - content.unwrap_or(0));
        Some(line)
    }

    /// Why [`next_line`](Self::next_line) refuses a line of `len` octets,
    /// its line ending included, which ends in CRLF or in a bare LF; `None`
    /// when it takes the line. For a consumer that finds lines in place in
    /// [`buffer_mut`](Self::buffer_mut) and must accept the same ones.
    pub(crate) fn refusal(&self, len: usize, crlf: bool) -> Option<FrameError> {
        if len > self.max_line {
            Some(FrameError::TooLong {
                limit: self.max_line,
            })
        } else if !crlf && self.policy == LineEndPolicy::Strict {
            Some(FrameError::BareLineFeed)
        } else {
            None
        }
    }

    /// Whether a line with `len` octets and no LF yet is past the limit
    /// already: even the shortest ending still to come would not fit.
    pub(crate) fn unended_too_long(&self, len: usize) -> bool {
        len >= self.max_line
    }

    /// Changes the line limit, for states that allow longer lines (an AUTH
    /// exchange) or want shorter ones.
    pub fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line.max(2);
    }

    /// The line limit in force, including the CRLF.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Bytes pushed but not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether an over-long line is being dropped.
    pub fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// The unframed input, for a consumer that reads the stream another way
    /// (message content after DATA or BDAT).
    ///
    /// Whatever that consumer takes, framing restarts from the new front of
    /// the buffer on the next [`next_line`](Self::next_line).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        self.scanned = 0;
        &mut self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn frames(framer: &mut LineFramer) -> Vec<Result<Vec<u8>, FrameError>> {
        core::iter::from_fn(|| framer.next_line())
            .map(|r| r.map(|b| b.to_vec()))
            .collect()
    }

    fn frame_chunks(
        chunks: &[&[u8]],
        max: usize,
        policy: LineEndPolicy,
    ) -> Vec<Result<Vec<u8>, FrameError>> {
        let mut framer = LineFramer::new(max, policy);
        let mut out = Vec::new();
        for chunk in chunks {
            framer.push(chunk);
            out.extend(frames(&mut framer));
        }
        out
    }

    #[test]
    fn splits_crlf_lines() {
        let out = frame_chunks(&[b"NOOP\r\nQUIT\r\n\r\n"], 512, LineEndPolicy::Strict);
        assert_eq!(
            out,
            [Ok(b"NOOP".to_vec()), Ok(b"QUIT".to_vec()), Ok(Vec::new())]
        );
    }

    #[test]
    fn half_a_line_is_need_more() {
        let mut framer = LineFramer::new(512, LineEndPolicy::Strict);
        framer.push(b"NOOP\r");
        assert!(framer.next_line().is_none());
        framer.push(b"\n");
        assert_eq!(framer.next_line(), Some(Ok(Bytes::from_static(b"NOOP"))));
    }

    #[test]
    fn bare_lf_follows_policy() {
        let strict = frame_chunks(&[b"NOOP\nQUIT\r\n"], 512, LineEndPolicy::Strict);
        assert_eq!(
            strict,
            [Err(FrameError::BareLineFeed), Ok(b"QUIT".to_vec())]
        );
        let lenient = frame_chunks(&[b"NOOP\nQUIT\r\n"], 512, LineEndPolicy::AllowBareLf);
        assert_eq!(lenient, [Ok(b"NOOP".to_vec()), Ok(b"QUIT".to_vec())]);
    }

    #[test]
    fn bare_cr_stays_in_the_line() {
        let out = frame_chunks(&[b"NO\rOP\r\n"], 512, LineEndPolicy::Strict);
        assert_eq!(out, [Ok(b"NO\rOP".to_vec())]);
    }

    #[test]
    fn limit_counts_the_crlf() {
        let fits = frame_chunks(&[b"12345678\r\n"], 10, LineEndPolicy::Strict);
        assert_eq!(fits, [Ok(b"12345678".to_vec())]);
        let over = frame_chunks(&[b"123456789\r\nNOOP\r\n"], 10, LineEndPolicy::Strict);
        assert_eq!(
            over,
            [Err(FrameError::TooLong { limit: 10 }), Ok(b"NOOP".to_vec())]
        );
    }

    #[test]
    fn endless_line_is_reported_once_and_not_buffered() {
        let mut framer = LineFramer::new(16, LineEndPolicy::Strict);
        let mut errors = 0;
        for _ in 0..10_000 {
            framer.push(b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
            errors += frames(&mut framer).len();
            assert!(framer.buffered() < 64);
        }
        assert_eq!(errors, 1);
        framer.push(b"tail\r\nNOOP\r\n");
        assert_eq!(frames(&mut framer), [Ok(b"NOOP".to_vec())]);
    }

    #[test]
    fn buffer_mut_restarts_the_scan() {
        let mut framer = LineFramer::new(512, LineEndPolicy::Strict);
        framer.push(b"body bytes");
        assert!(framer.next_line().is_none());
        let _ = framer.buffer_mut().split_to(5);
        framer.push(b"\r\n");
        assert_eq!(framer.next_line(), Some(Ok(Bytes::from_static(b"bytes"))));
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_lines(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a'), any::<u8>()], 0..300),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
            max in 2usize..40,
            lenient in any::<bool>(),
        ) {
            let policy = if lenient { LineEndPolicy::AllowBareLf } else { LineEndPolicy::Strict };
            let whole = frame_chunks(&[&input], max, policy);
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for p in points {
                chunks.push(&input[start..p]);
                start = p;
            }
            chunks.push(&input[start..]);
            prop_assert_eq!(&frame_chunks(&chunks, max, policy), &whole);
            let bytewise: Vec<&[u8]> = input.chunks(1).collect();
            prop_assert_eq!(&frame_chunks(&bytewise, max, policy), &whole);
        }
    }
}
