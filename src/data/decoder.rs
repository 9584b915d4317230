//! Server side of DATA: unstuffing and the end of data, without copying.

use bytes::{Buf, Bytes, BytesMut};

use super::scan::{plain_run, BLOCK};
use crate::limits;

/// How many bytes at the end of a stretch one check looks at for an LF when
/// measuring lines: one cache line.
const PROBE: usize = 64;

/// Whether `probe` holds an LF, branch-free so that it compiles to a few
/// vector compares.
fn has_lf(probe: &[u8; PROBE]) -> bool {
    probe
        .iter()
        .fold(false, |seen, &byte| seen | (byte == b'\n'))
}

/// Octets after the last LF of `text`, or `without_lf` when it has none.
fn exact_line_len(text: &[u8], without_lf: usize) -> usize {
    memchr::memrchr(b'\n', text).map_or(without_lf, |lf| text.len() - lf - 1)
}

/// What the server does about a CR or LF in message content that is not part
/// of a CRLF pair.
///
/// Either way such a byte never ends a line and never helps end the message:
/// the end of data is `CRLF . CRLF` alone (RFC 5321 §4.1.1.4), so `LF . LF`,
/// `LF . CRLF`, `CR . CR` and the other look-alikes of the 2023 SMTP smuggling
/// attacks are content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncomingBareNewline {
    /// Content is still streamed, and [`DataEnd::refusal`] says the message
    /// has to be refused after its end, as Postfix's
    /// `smtpd_forbid_bare_newline = reject` does (RFC 5321 §2.3.8 forbids
    /// both bytes outside CRLF).
    #[default]
    Reject,
    /// The bytes pass through unchanged, as content.
    Accept,
}

/// One step of [`DataDecoder::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataEvent {
    /// Unstuffed message content: a slice of the read buffer.
    Content(Bytes),
    /// The end of data was read; the buffer now starts with whatever the
    /// client sent after it (a pipelined command).
    End(DataEnd),
}

/// What the decoder learned about a message by its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataEnd {
    /// Content size after unstuffing, counted in full even past the limit.
    pub size: u64,
    /// The content went past the size limit; only content up to the limit
    /// was handed out.
    pub size_exceeded: bool,
    /// A CR not followed by LF was seen.
    pub bare_cr: bool,
    /// An LF not preceded by CR was seen.
    pub bare_lf: bool,
    /// A line was longer than the text-line limit, CRLF included and the
    /// stuffing dot not (RFC 5321 §4.5.3.1.6).
    pub line_too_long: bool,
    /// The bare CR/LF policy the message was read under.
    pub bare_newline: IncomingBareNewline,
}

/// Why a message that reached its end must still be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DataRefusal {
    /// The content is larger than the limit (RFC 1870: answer 552).
    #[error("message larger than the size limit")]
    TooLarge,
    /// Bare CR or LF under [`IncomingBareNewline::Reject`] (answer 550 or 554).
    #[error("message contains a bare CR or LF")]
    BareNewline,
}

impl DataEnd {
    /// Whether the message has to be refused, and why. A line over the limit
    /// is reported in [`line_too_long`](Self::line_too_long) but left to the
    /// caller, since deployed servers commonly accept such mail.
    pub fn refusal(&self) -> Option<DataRefusal> {
        if self.size_exceeded {
            Some(DataRefusal::TooLarge)
        } else if (self.bare_cr || self.bare_lf) && self.bare_newline == IncomingBareNewline::Reject
        {
            Some(DataRefusal::BareNewline)
        } else {
            None
        }
    }
}

/// Reads DATA content from the server's read buffer, after `354`.
///
/// The decoder takes bytes from the front of the buffer it is given (in a
/// session, [`LineFramer::buffer_mut`](crate::framing::LineFramer::buffer_mut))
/// and leaves everything after the end of data there, for the next command.
/// Content comes out as [`Bytes`] split off that buffer: a stuffing dot is
/// dropped by splitting around it, so no content byte is ever copied.
///
/// Only `CRLF . CRLF`, whose CRLF ends the last content line, ends the data;
/// right after `354` a lone `.CRLF` is an empty message. The decoder holds back
/// at most the two bytes `.CR` at a line start, and never a line: the line
/// limit is checked by counting.
///
/// ```
/// use bytes::BytesMut;
/// use smtpwire::data::{DataDecoder, DataEvent};
///
/// let mut buf = BytesMut::from(&b"Subject: hi\r\n..dot\r\n.\r\nQUIT\r\n"[..]);
/// let mut decoder = DataDecoder::new();
/// let mut content = Vec::new();
/// let end = loop {
///     match decoder.decode(&mut buf) {
///         Some(DataEvent::Content(chunk)) => content.extend_from_slice(&chunk),
///         Some(DataEvent::End(end)) => break end,
///         None => unreachable!("the whole message is in the buffer"),
///     }
/// };
/// assert_eq!(content, b"Subject: hi\r\n.dot\r\n");
/// assert_eq!(end.size, 19);
/// assert!(end.refusal().is_none());
/// assert_eq!(&buf[..], b"QUIT\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DataDecoder {
    max_size: u64,
    max_line: usize,
    bare_newline: IncomingBareNewline,
    /// The front of the buffer begins a line (the start of content counts).
    at_line_start: bool,
    /// The last byte handed out was a CR.
    after_cr: bool,
    /// Octets of the current line before the front of the buffer.
    line_len: usize,
    size: u64,
    size_exceeded: bool,
    bare_cr: bool,
    bare_lf: bool,
    line_too_long: bool,
    finished: bool,
}

impl Default for DataDecoder {
    fn default() -> Self {
        DataDecoder::new()
    }
}

impl DataDecoder {
    /// A decoder with the default limits: [`limits::DEFAULT_MAX_MESSAGE_SIZE`],
    /// [`limits::DEFAULT_MAX_TEXT_LINE`], bare CR/LF rejected.
    pub fn new() -> Self {
        DataDecoder {
            max_size: limits::DEFAULT_MAX_MESSAGE_SIZE,
            max_line: limits::DEFAULT_MAX_TEXT_LINE,
            bare_newline: IncomingBareNewline::default(),
            at_line_start: true,
            after_cr: false,
            line_len: 0,
            size: 0,
            size_exceeded: false,
            bare_cr: false,
            bare_lf: false,
            line_too_long: false,
            finished: false,
        }
    }

    /// Sets the message size limit, in octets of unstuffed content.
    pub fn with_max_size(mut self, max_size: u64) -> Self {
        self.max_size = max_size;
        self
    }

    /// Sets the text-line limit, in octets including the CRLF.
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    /// Sets what bare CR and bare LF mean for the message.
    pub fn with_bare_newline(mut self, policy: IncomingBareNewline) -> Self {
        self.bare_newline = policy;
        self
    }

    /// Whether the end of data has been read.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Content octets so far, after unstuffing.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Takes the next piece of content, or the end, from the front of `buf`.
    ///
    /// `None` means every byte that can be decided on has been taken: push
    /// more input and call again. At most `.CR` is left behind then. After
    /// [`DataEvent::End`] the decoder is finished and always returns `None`.
    /// Content is handed out up to the size limit and consumed without being
    /// returned past it.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Option<DataEvent> {
        while !self.finished {
            if self.at_line_start {
                // RFC 5321 §4.5.2: a line of only "." ends the data; any
                // other line starting with "." loses that dot.
                if buf.first() == Some(&b'.') {
                    match buf.get(1..3) {
                        Some(b"\r\n") => {
                            buf.advance(3);
                            self.finished = true;
                            return Some(DataEvent::End(self.end()));
                        }
                        Some(_) => {}
                        None if buf.get(1).is_some_and(|&b| b != b'\r') => {}
                        None => return None,
                    }
                    buf.advance(1);
                }
                if buf.is_empty() {
                    return None;
                }
                self.at_line_start = false;
            }
            if buf.is_empty() {
                return None;
            }
            let take = self.scan(buf);
            let room = self.max_size.saturating_sub(self.size);
            self.size = self.size.saturating_add(take as u64);
            if self.size <= self.max_size {
                return Some(DataEvent::Content(buf.split_to(take).freeze()));
            }
            // Read on to the real end so the refusal comes after it; content
            // up to the limit is handed out whatever the read sizes were.
            self.size_exceeded = true;
            let within = usize::try_from(room).map_or(take, |room| room.min(take));
            let content = buf.split_to(within).freeze();
            buf.advance(take - within);
            if !content.is_empty() {
                return Some(DataEvent::Content(content));
            }
        }
        None
    }

    /// How many bytes from the front of `buf` (not empty, not at a line
    /// start) are content before the next line that starts with "." or the
    /// end of what is looked at. Records line lengths and bare CR/LF.
    ///
    /// The common path takes a block at a time: [`plain_run`] reads it once
    /// to the next line that starts with a dot, confirming on the way that
    /// every line ending is CRLF, and lines are measured by jumps. A block
    /// with a bare CR or LF is walked line by line instead.
    fn scan(&mut self, buf: &[u8]) -> usize {
        let window = buf.get(..BLOCK).unwrap_or(buf);
        if (window.first() == Some(&b'\n')) != self.after_cr {
            return self.scan_exact(buf);
        }
        let end = if window.get(..2) == Some(b"\n.") {
            1
        } else {
            match plain_run(window) {
                Some(end) => end,
                None => return self.scan_exact(buf),
            }
        };
        let block = window.get(..end).unwrap_or(window);
        self.measure_lines(block);
        self.after_cr = block.last() == Some(&b'\r');
        self.at_line_start = block.last() == Some(&b'\n');
        block.len()
    }

    /// Line lengths over a block with CRLF line endings only, without
    /// visiting every line: an LF among the last [`PROBE`] bytes within a
    /// line limit of where the current line may have started proves every
    /// line up to there short enough, and leaves less than [`PROBE`] bytes of
    /// the current line. `memrchr` settles exact lengths where that proof
    /// fails, and at the end of the block.
    fn measure_lines(&mut self, block: &[u8]) {
        let mut start = 0;
        // Octets of the current line before `start`; only an upper bound
        // while `bounded`, and then an LF lies in the PROBE bytes before it.
        let mut open = self.line_len;
        let mut bounded = false;
        while let Some(rest) = block.get(start..) {
            let allowed = self.max_line.saturating_sub(open);
            // The rest of the block fits in the current line's allowance.
            let Some(window) = rest.get(..allowed).filter(|_| rest.len() > allowed) else {
                break;
            };
            let probe = allowed
                .checked_sub(PROBE)
                .and_then(|from| window.get(from..))
                .and_then(|tail| <&[u8; PROBE]>::try_from(tail).ok());
            if probe.is_some_and(has_lf) {
                start += allowed;
                open = PROBE;
                bounded = true;
                continue;
            }
            if bounded {
                bounded = false;
                open = exact_line_len(block.get(..start).unwrap_or_default(), open);
                continue;
            }
            if let Some(lf) = memchr::memrchr(b'\n', window) {
                start += lf + 1;
                open = 0;
                continue;
            }
            self.line_too_long = true;
            let Some(lf) = memchr::memchr(b'\n', rest) else {
                break;
            };
            start += lf + 1;
            open = 0;
        }
        let tail = block.get(start..).unwrap_or_default();
        let line_len = if block.last() == Some(&b'\n') {
            0
        } else if bounded {
            exact_line_len(block, open)
        } else {
            exact_line_len(tail, open.saturating_add(tail.len()))
        };
        self.line_len = 0;
        self.add_to_line(line_len);
    }

    /// [`scan`](Self::scan) for content with bare CR or LF: one `memchr2`
    /// per line ending, so that only CRLF ends a line.
    fn scan_exact(&mut self, buf: &[u8]) -> usize {
        let mut pos = 0;
        // Start of the current line's bytes within `buf`.
        let mut line_base = 0;
        if self.after_cr {
            self.after_cr = false;
            if buf.first() == Some(&b'\n') {
                if let Some(next) = self.line_end(buf, 0, &mut line_base) {
                    return next;
                }
                pos = 1;
            } else {
                self.bare_cr = true;
            }
        }
        while let Some(found) = buf
            .get(pos..)
            .and_then(|rest| memchr::memchr2(b'\r', b'\n', rest))
        {
            let at = pos + found;
            if buf.get(at) == Some(&b'\n') {
                // Found before any CR, so not part of a CRLF.
                self.bare_lf = true;
                pos = at + 1;
                continue;
            }
            match buf.get(at + 1) {
                Some(b'\n') => {
                    if let Some(next) = self.line_end(buf, at + 1, &mut line_base) {
                        return next;
                    }
                    pos = at + 2;
                }
                Some(_) => {
                    self.bare_cr = true;
                    pos = at + 1;
                }
                None => {
                    self.after_cr = true;
                    break;
                }
            }
        }
        self.add_to_line(buf.len() - line_base);
        buf.len()
    }

    /// Closes the line whose LF is at `lf`. Returns where the content to hand
    /// out stops if the next line needs the line-start check first.
    fn line_end(&mut self, buf: &[u8], lf: usize, line_base: &mut usize) -> Option<usize> {
        self.add_to_line(lf + 1 - *line_base);
        self.line_len = 0;
        *line_base = lf + 1;
        match buf.get(lf + 1) {
            Some(&b'.') | None => {
                self.at_line_start = true;
                Some(lf + 1)
            }
            Some(_) => None,
        }
    }

    fn add_to_line(&mut self, octets: usize) {
        self.line_len = self.line_len.saturating_add(octets);
        if self.line_len > self.max_line {
            self.line_too_long = true;
        }
    }

    fn end(&self) -> DataEnd {
        DataEnd {
            size: self.size,
            size_exceeded: self.size_exceeded,
            bare_cr: self.bare_cr,
            bare_lf: self.bare_lf,
            line_too_long: self.line_too_long,
            bare_newline: self.bare_newline,
        }
    }
}
