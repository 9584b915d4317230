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
    /// Complete lines split off `buf` in one piece, each ending in LF. Those
    /// from `ready_at` on are not yet handed out; they come before
    /// everything in `buf`.
    ///
    /// Handing lines out as slices of one shared block costs one reference
    /// count update per line, where splitting each off the buffer would cost
    /// several; lent out in place ([`next_framed`](Self::next_framed)) they
    /// cost none.
    ready: Bytes,
    /// Where the lines of `ready` not yet handed out begin.
    ready_at: usize,
    buf: BytesMut,
    /// Bytes at the front of `buf` already known to hold no LF.
    scanned: usize,
    /// Bytes at the end of `buf` that never went back from `ready` into
    /// `buf`; everything before them did, and must not be made part of a
    /// ready block again (see [`buffer_mut`](Self::buffer_mut)).
    never_returned: usize,
    max_line: usize,
    policy: LineEndPolicy,
    /// Inside an over-long line that was already reported: drop up to its LF.
    discarding: bool,
}

/// A complete line lent out by [`LineFramer::next_framed`], without its line
/// ending, still inside the framer's buffer.
///
/// Reading it costs nothing; [`to_bytes`](Self::to_bytes) (or a value parsed
/// from it, such as [`Command::parse_framed`](crate::Command::parse_framed))
/// shares the buffer rather than copying.
///
/// ```
/// use smtpwire::framing::{LineFramer, LineEndPolicy};
///
/// let mut framer = LineFramer::new(512, LineEndPolicy::Strict);
/// framer.push(b"NOOP\r\nQUIT\r\n");
/// let line = framer.next_framed().unwrap().unwrap();
/// assert_eq!(line.as_bytes(), b"NOOP");
/// assert_eq!(line.to_bytes(), "NOOP");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FramedLine<'a> {
    /// The block of whole lines the line is part of.
    block: &'a Bytes,
    /// The line, a slice of `block`.
    text: &'a [u8],
}

impl<'a> FramedLine<'a> {
    /// The line's octets, without its line ending.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.text
    }

    /// The line as [`Bytes`] sharing the framer's buffer.
    pub fn to_bytes(&self) -> Bytes {
        self.block.slice_ref(self.text)
    }

    /// The block the line is a slice of, for parsers that take pieces of it.
    pub(crate) fn block(&self) -> &'a Bytes {
        self.block
    }
}

impl core::ops::Deref for FramedLine<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.text
    }
}

impl LineFramer {
    /// A framer for lines of at most `max_line` octets including the CRLF.
    ///
    /// A `max_line` below 2 is raised to 2, the size of an empty line.
    pub fn new(max_line: usize, policy: LineEndPolicy) -> Self {
        LineFramer {
            ready: Bytes::new(),
            ready_at: 0,
            buf: BytesMut::new(),
            scanned: 0,
            never_returned: 0,
            max_line: max_line.max(2),
            policy,
            discarding: false,
        }
    }

    /// Appends input from the peer.
    pub fn push(&mut self, input: &[u8]) {
        let kept = if self.discarding {
            // Nothing of an over-long line is kept: only its end matters.
            let Some(end) = memchr::memchr(b'\n', input) else {
                return;
            };
            self.discarding = false;
            &input[end + 1..]
        } else {
            input
        };
        self.buf.extend_from_slice(kept);
        self.never_returned += kept.len();
    }

    /// The next complete line, without its line ending.
    ///
    /// `None` means the buffer holds no complete line yet: push more input.
    // Inlined into the caller's loop, the line comes back in registers
    // rather than through memory: measurably faster per line.
    #[inline]
    pub fn next_line(&mut self) -> Option<Result<Bytes, FrameError>> {
        let (start, end) = match self.next_span()? {
            Ok(span) => span,
            Err(error) => return Some(Err(error)),
        };
        if self.ready_at < self.ready.len() {
            return Some(Ok(self.ready.slice(start..end)));
        }
        // The last line takes the block itself: no reference count update.
        let mut line = core::mem::take(&mut self.ready);
        self.ready_at = 0;
        line.truncate(end);
        line.advance(start);
        Some(Ok(line))
    }

    /// The next complete line as [`next_line`](Self::next_line) frames it,
    /// lent out in place rather than handed over: no reference count is
    /// touched until the caller keeps a piece of it. This is how the server
    /// session reads commands.
    ///
    /// `None` means the buffer holds no complete line yet: push more input.
    #[inline]
    pub fn next_framed(&mut self) -> Option<Result<FramedLine<'_>, FrameError>> {
        Some(self.next_span()?.map(|(start, end)| FramedLine {
            block: &self.ready,
            text: &self.ready[start..end],
        }))
    }

    /// Where the next line is in `ready`, without its line ending, once it
    /// is marked handed out.
    #[inline]
    fn next_span(&mut self) -> Option<Result<(usize, usize), FrameError>> {
        if self.ready_at == self.ready.len() {
            if let Err(error) = self.split_ready_block()? {
                return Some(Err(error));
            }
        }
        let start = self.ready_at;
        let rest = &self.ready[start..];
        // A ready block ends in LF, so the search cannot fail.
        let lf = memchr::memchr(b'\n', rest).unwrap_or(rest.len() - 1);
        let crlf = lf > 0 && rest[lf - 1] == b'\r';
        let content_len = if crlf { lf - 1 } else { lf };
        self.ready_at += lf + 1;
        Some(match self.refusal(lf + 1, crlf) {
            Some(error) => Err(error),
            None => Ok((start, start + content_len)),
        })
    }

    /// Looks for lines in `buf`; when there are some, splits them off into
    /// the ready block, which has no line left.
    #[cold]
    fn split_ready_block(&mut self) -> Option<Result<(), FrameError>> {
        // Lines handed out keep their block alive on their own; letting go
        // of it here lets `buf` reuse its space when it is the last holder.
        self.ready = Bytes::new();
        self.ready_at = 0;
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
        let returned = self.buf.len().saturating_sub(self.never_returned);
        // Lines that went back into `buf` once are split off one by one, so
        // no byte goes back twice; otherwise the block runs to the last LF,
        // and what follows it is a line start with no LF.
        let block_end = if lf < returned {
            self.scanned = 0;
            lf
        } else {
            let after = lf + 1;
            let last = memchr::memrchr(b'\n', &self.buf[after..]).map_or(lf, |at| after + at);
            self.scanned = self.buf.len() - (last + 1);
            last
        };
        self.ready = self.buf.split_to(block_end + 1).freeze();
        self.never_returned = self.never_returned.min(self.buf.len());
        Some(Ok(()))
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
        self.ready.len() - self.ready_at + self.buf.len()
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
        if self.ready_at < self.ready.len() {
            self.return_ready();
        } else {
            self.ready = Bytes::new();
            self.ready_at = 0;
        }
        &mut self.buf
    }

    /// Puts the lines of the ready block not handed out back in front of
    /// `buf`, so the buffer holds all unframed input in order.
    ///
    /// This copies them, but each byte at most once: bytes that went back
    /// are never made part of a ready block again (they are split off line
    /// by line), so the copying stays linear in the input however often a
    /// consumer switches between lines and raw bytes.
    #[cold]
    fn return_ready(&mut self) {
        let ready = core::mem::take(&mut self.ready);
        let unread = &ready[core::mem::take(&mut self.ready_at)..];
        let mut joined = BytesMut::with_capacity(unread.len() + self.buf.len());
        joined.extend_from_slice(unread);
        joined.extend_from_slice(&self.buf);
        self.never_returned = self.buf.len();
        self.buf = joined;
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

    #[test]
    fn line_split_across_reads_after_a_ready_block() {
        let mut framer = LineFramer::new(512, LineEndPolicy::Strict);
        framer.push(b"NOOP\r\nRSET\r\nMAIL FR");
        assert_eq!(framer.next_line(), Some(Ok(Bytes::from_static(b"NOOP"))));
        assert_eq!(framer.buffered(), 13);
        framer.push(b"OM:<>\r\n");
        assert_eq!(
            frames(&mut framer),
            [Ok(b"RSET".to_vec()), Ok(b"MAIL FROM:<>".to_vec())]
        );
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn buffer_mut_in_the_middle_of_a_ready_block() {
        let mut framer = LineFramer::new(512, LineEndPolicy::Strict);
        framer.push(b"DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\nNO");
        assert_eq!(framer.next_line(), Some(Ok(Bytes::from_static(b"DATA"))));
        let buf = framer.buffer_mut();
        assert_eq!(&buf[..], b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\nNO");
        let _ = buf.split_to(23);
        framer.push(b"OP\r\n");
        assert_eq!(
            frames(&mut framer),
            [Ok(b"QUIT".to_vec()), Ok(b"NOOP".to_vec())]
        );
        // Switching back and forth without taking anything loses nothing.
        framer.push(b"A\r\nB\r\nC\r\n");
        assert_eq!(framer.next_line(), Some(Ok(Bytes::from_static(b"A"))));
        assert_eq!(&framer.buffer_mut()[..], b"B\r\nC\r\n");
        assert_eq!(framer.next_line(), Some(Ok(Bytes::from_static(b"B"))));
        assert_eq!(&framer.buffer_mut()[..], b"C\r\n");
        assert_eq!(frames(&mut framer), [Ok(b"C".to_vec())]);
    }

    #[test]
    fn over_long_line_after_a_ready_block() {
        let mut framer = LineFramer::new(10, LineEndPolicy::Strict);
        framer.push(b"NOOP\r\nQUIT\r\n0123456789abc");
        assert_eq!(
            frames(&mut framer),
            [
                Ok(b"NOOP".to_vec()),
                Ok(b"QUIT".to_vec()),
                Err(FrameError::TooLong { limit: 10 })
            ]
        );
        assert!(framer.is_discarding());
        assert_eq!(framer.buffered(), 0);
        framer.push(b"def\r\nRSET\r\n");
        assert_eq!(frames(&mut framer), [Ok(b"RSET".to_vec())]);
    }

    #[test]
    fn lent_lines_share_the_buffer_and_let_it_be_reused() {
        let mut framer = LineFramer::new(512, LineEndPolicy::Strict);
        framer.push(b"NOOP\r\nRCPT TO:<a@b>\r\nQU");
        let first = framer.next_framed().unwrap().unwrap();
        assert_eq!(first.as_bytes(), b"NOOP");
        let start = first.as_ptr();
        let second = framer.next_framed().unwrap().unwrap().to_bytes();
        assert_eq!(second, "RCPT TO:<a@b>");
        assert!(framer.next_framed().is_none());
        assert_eq!(framer.buffered(), 2);
        drop(second);
        // With every line let go, pushing moves the unframed rest to the
        // front of the same allocation rather than growing a new one.
        framer.push(b"IT\r\n");
        assert_eq!(framer.buf.as_ptr(), start);
        assert_eq!(&*framer.next_framed().unwrap().unwrap(), b"QUIT");
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn refused_lines_inside_a_ready_block() {
        let out = frame_chunks(
            &[b"NOOP\r\n0123456789\r\nBARE\nQUIT\r\n"],
            10,
            LineEndPolicy::Strict,
        );
        assert_eq!(
            out,
            [
                Ok(b"NOOP".to_vec()),
                Err(FrameError::TooLong { limit: 10 }),
                Err(FrameError::BareLineFeed),
                Ok(b"QUIT".to_vec())
            ]
        );
    }

    /// What a consumer does next to the framer.
    #[derive(Debug, Clone)]
    enum Step {
        Push(Vec<u8>),
        NextLine,
        NextFramed,
        /// Take this many bytes through `buffer_mut`.
        Take(usize),
    }

    /// The framing rules written as plainly as possible, rescanning freely.
    struct Model {
        buf: Vec<u8>,
        max: usize,
        strict: bool,
        discarding: bool,
    }

    impl Model {
        fn push(&mut self, input: &[u8]) {
            if !self.discarding {
                self.buf.extend_from_slice(input);
            } else if let Some(end) = input.iter().position(|&b| b == b'\n') {
                self.discarding = false;
                self.buf.extend_from_slice(&input[end + 1..]);
            }
        }

        fn next_line(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
            if self.discarding {
                return None;
            }
            let too_long = FrameError::TooLong { limit: self.max };
            let Some(lf) = self.buf.iter().position(|&b| b == b'\n') else {
                if self.buf.len() >= self.max {
                    self.buf.clear();
                    self.discarding = true;
                    return Some(Err(too_long));
                }
                return None;
            };
            let line: Vec<u8> = self.buf.drain(..=lf).collect();
            let crlf = line.ends_with(b"\r\n");
            Some(if line.len() > self.max {
                Err(too_long)
            } else if !crlf && self.strict {
                Err(FrameError::BareLineFeed)
            } else {
                Ok(line[..line.len() - if crlf { 2 } else { 1 }].to_vec())
            })
        }
    }

    fn step() -> impl Strategy<Value = Step> {
        let byte = prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a'), any::<u8>()];
        prop_oneof![
            proptest::collection::vec(byte, 0..40).prop_map(Step::Push),
            Just(Step::NextLine),
            Just(Step::NextFramed),
            (0usize..12).prop_map(Step::Take),
        ]
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
            let chunks = crate::test_support::split_at_points(&input, &cuts);
            prop_assert_eq!(&frame_chunks(&chunks, max, policy), &whole);
            let bytewise: Vec<&[u8]> = input.chunks(1).collect();
            prop_assert_eq!(&frame_chunks(&bytewise, max, policy), &whole);
        }

        #[test]
        fn lines_and_raw_reads_interleave_like_the_plain_rules(
            steps in proptest::collection::vec(step(), 0..60),
            max in 2usize..40,
            lenient in any::<bool>(),
        ) {
            let policy = if lenient { LineEndPolicy::AllowBareLf } else { LineEndPolicy::Strict };
            let mut framer = LineFramer::new(max, policy);
            let mut model = Model { buf: Vec::new(), max: framer.max_line(), strict: !lenient, discarding: false };
            for step in steps {
                match step {
                    Step::Push(input) => {
                        framer.push(&input);
                        model.push(&input);
                    }
                    Step::NextLine => {
                        let line = framer.next_line().map(|r| r.map(|b| b.to_vec()));
                        prop_assert_eq!(line, model.next_line());
                    }
                    Step::NextFramed => {
                        let line = framer.next_framed().map(|r| r.map(|line| {
                            assert_eq!(line.to_bytes(), line.as_bytes());
                            line.to_vec()
                        }));
                        prop_assert_eq!(line, model.next_line());
                    }
                    Step::Take(n) => {
                        let buf = framer.buffer_mut();
                        prop_assert_eq!(&buf[..], &model.buf[..]);
                        let n = n.min(buf.len());
                        buf.advance(n);
                        model.buf.drain(..n);
                    }
                }
                prop_assert_eq!(framer.buffered(), model.buf.len());
                prop_assert_eq!(framer.is_discarding(), model.discarding);
            }
        }
    }
}
