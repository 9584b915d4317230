//! Message content: streamed through DATA with dot-stuffing, or through BDAT
//! chunks, never buffered whole.

use alloc::boxed::Box;
use bytes::BytesMut;

use super::queue::{Awaiting, Phase};
use super::{
    ClientConfig, ClientError, ClientSession, Envelope, LongLines, MessageError, SessionError,
    TransactionFailure, UsageError,
};
use crate::capability::Capabilities;
use crate::command::Command;
use crate::data::{BdatEncoder, DataEncoder, OutgoingBareNewline};
use crate::limits::DEFAULT_MAX_TEXT_LINE;
use crate::params::BodyType;

/// Most octets a line of content may have before its CRLF: RFC 5321
/// §4.5.3.1.6 allows 1000 with the CRLF (not counting a stuffed dot).
pub const MAX_LINE_OCTETS: usize = DEFAULT_MAX_TEXT_LINE - 2;

/// What [`Wrap`](LongLines::Wrap) puts after [`MAX_LINE_OCTETS`] octets of
/// a longer line: a line end and a space that begins the rest.
const WRAP: &[u8] = b"\r\n ";

/// Checks a whole message before it is queued: the first line longer than
/// RFC 5321 §4.5.3.1.6 allows, more than [`MAX_LINE_OCTETS`] octets before
/// its line end, as [`MessageError::LineTooLong`] with its number (from 1)
/// and its whole length. Lines end as the session reads them: at a CRLF, or
/// at a bare CR or LF, which it repairs into CRLF or refuses.
///
/// A caller holding the whole message calls this before
/// [`send_mail`](super::ClientSession::send_mail), so that nothing of the
/// transaction goes out; the session itself sees content only as it
/// streams, by then after MAIL, RCPT and DATA.
///
/// ```
/// use smtpwire::client::{check_line_lengths, MessageError, MAX_LINE_OCTETS};
///
/// let mut message = b"Subject: long\r\n\r\n".to_vec();
/// message.extend(std::iter::repeat(b'x').take(1200));
/// message.extend_from_slice(b"\r\nshort\r\n");
/// assert_eq!(
///     check_line_lengths(&message),
///     Err(MessageError::LineTooLong { line: 3, length: 1200 })
/// );
/// assert!(check_line_lengths(&[b'x'; MAX_LINE_OCTETS]).is_ok());
/// ```
pub fn check_line_lengths(content: &[u8]) -> Result<(), MessageError> {
    let mut meter = LineMeter::default();
    match meter.over(content) {
        Some(at) => Err(meter.too_long(content.get(at..).unwrap_or_default())),
        None => Ok(()),
    }
}

/// How many pairs of octets at the same place in `a` and `b` match: in
/// 255-octet runs with an 8-bit count each, which compiles to vector code
/// where a wider count per octet would not.
fn tally(a: &[u8], b: &[u8], matches: impl Fn(u8, u8) -> bool) -> u64 {
    a.chunks(255)
        .zip(b.chunks(255))
        .map(|(a, b)| {
            let run = a
                .iter()
                .zip(b)
                .fold(0u8, |n, (&a, &b)| n.wrapping_add(u8::from(matches(a, b))));
            u64::from(run)
        })
        .sum()
}

/// Where the lines of content end, so that none goes out longer than
/// [`MAX_LINE_OCTETS`].
#[derive(Debug, Default)]
struct LineMeter {
    /// Line ends seen: a CRLF, a bare CR or a bare LF each counts once.
    ends: u64,
    /// Octets of the current line so far, never more than
    /// [`MAX_LINE_OCTETS`].
    length: usize,
    /// The last octet seen was a CR, so an LF right after it ends no line.
    after_cr: bool,
}

impl LineMeter {
    /// Measures `part`, the next piece of content: the offset of the first
    /// octet that would make its line too long, measured up to there, or
    /// `None` with all of it measured.
    ///
    /// Each step looks at no more than the room left in the current line
    /// plus one octet, and jumps to just past the last line end in there:
    /// every line that ends in that window fits. Lines of any length then
    /// cost a search per [`MAX_LINE_OCTETS`] octets rather than one per
    /// line, and no octet is searched more than twice.
    fn over(&mut self, part: &[u8]) -> Option<usize> {
        let mut pos = 0;
        while let Some(rest) = part.get(pos..).filter(|rest| !rest.is_empty()) {
            let room = MAX_LINE_OCTETS.saturating_sub(self.length);
            let window = rest.get(..=room).unwrap_or(rest);
            let Some(last) = memchr::memrchr2(b'\r', b'\n', window) else {
                self.after_cr = false;
                if window.len() > room {
                    self.length = MAX_LINE_OCTETS;
                    return Some(pos + room);
                }
                self.length += window.len();
                return None;
            };
            let ended = window.get(..=last).unwrap_or_default();
            self.count_ends(ended);
            self.length = 0;
            pos += last + 1;
        }
        None
    }

    /// Counts the line ends in `ended`, which ends with one: each CR and
    /// each LF, less the LFs that complete a CRLF (one maybe with a CR at
    /// the end of what came before).
    fn count_ends(&mut self, ended: &[u8]) {
        let breaks = tally(ended, ended, |b, _| (b == b'\r') | (b == b'\n'));
        let (before, after) = (
            ended
                .get(..ended.len().saturating_sub(1))
                .unwrap_or_default(),
            ended.get(1..).unwrap_or_default(),
        );
        let pairs = tally(before, after, |a, b| (a == b'\r') & (b == b'\n'));
        let joined = u64::from(self.after_cr && ended.first() == Some(&b'\n'));
        let ends = breaks.saturating_sub(pairs + joined);
        self.ends = self.ends.saturating_add(ends);
        self.after_cr = ended.last() == Some(&b'\r');
    }

    /// The error for the line [`over`](Self::over) stopped in, `rest`
    /// being the content from where it stopped: the length counts to the
    /// line's end, or to the end of `rest` when the line goes on past it.
    fn too_long(&self, rest: &[u8]) -> MessageError {
        let tail = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
        MessageError::LineTooLong {
            line: self.ends + 1,
            length: (self.length + tail) as u64,
        }
    }

    /// [`WRAP`] went out: the rest of the line is a new line that begins
    /// with its space.
    fn wrapped(&mut self) {
        self.ends += 1;
        self.length = 1;
        self.after_cr = false;
    }
}

#[derive(Debug)]
enum State {
    /// The envelope is not through yet.
    Envelope,
    /// The caller streams content.
    Wanted(Box<Encoder>),
    /// A BDAT chunk was refused: the rest of the content is not wanted.
    Abandoned,
    /// All content is out.
    Finished,
}

#[derive(Debug)]
enum Encoder {
    Data(DataEncoder),
    /// BDAT with line endings checked; content is staged into chunks.
    Bdat(BdatEncoder),
    /// BDAT with BODY=BINARYMIME: content goes as it is (RFC 3030 §3).
    Binary,
}

/// The content side of one transaction.
#[derive(Debug)]
pub(super) struct Content {
    state: State,
    policy: OutgoingBareNewline,
    chunked: bool,
    binary: bool,
    eight_bit_ok: bool,
    /// The server's SIZE, when it sets a limit.
    size_limit: Option<u64>,
    /// Content bytes taken so far.
    len: u64,
    /// Content for the next BDAT chunk.
    staging: BytesMut,
    /// Line lengths, except for BINARYMIME, whose content has no lines
    /// (RFC 3030 §3).
    lines: Option<LineMeter>,
    long_lines: LongLines,
    /// `finish_content` was called; the last BDAT chunk waits for its turn.
    finishing: bool,
}

impl Content {
    pub(super) fn new(
        config: &ClientConfig,
        caps: &Capabilities,
        envelope: &Envelope,
        chunked: bool,
    ) -> Self {
        let binary = envelope.mail_params.body == Some(BodyType::BinaryMime);
        Content {
            state: State::Envelope,
            policy: config.bare_newline,
            chunked,
            binary,
            eight_bit_ok: caps.eight_bit_mime || binary,
            size_limit: caps.size.filter(|&limit| limit > 0),
            len: 0,
            staging: BytesMut::new(),
            lines: (!binary).then(LineMeter::default),
            long_lines: config.long_lines,
            finishing: false,
        }
    }

    pub(super) fn is_chunked(&self) -> bool {
        self.chunked
    }

    pub(super) fn start(&mut self) {
        let encoder = if !self.chunked {
            Encoder::Data(DataEncoder::new(self.policy))
        } else if self.binary {
            Encoder::Binary
        } else {
            Encoder::Bdat(BdatEncoder::new(self.policy))
        };
        self.state = State::Wanted(Box::new(encoder));
    }

    pub(super) fn abandon(&mut self) {
        if matches!(self.state, State::Wanted(_)) {
            self.state = State::Abandoned;
            self.staging = BytesMut::new();
        }
    }

    pub(super) fn is_wanted(&self) -> bool {
        matches!(self.state, State::Wanted(_)) && !self.finishing
    }

    pub(super) fn is_finishing(&self) -> bool {
        self.finishing && matches!(self.state, State::Wanted(_))
    }

    pub(super) fn staged(&self) -> usize {
        self.staging.len()
    }

    /// Checks a piece of content against what the server takes, then
    /// encodes it into `out` (DATA) or stages it (BDAT). Nothing of a piece
    /// with a line too long is written, so no line goes out longer than
    /// [`MAX_LINE_OCTETS`].
    fn write(&mut self, part: &[u8], out: &mut BytesMut) -> Result<(), MessageError> {
        // RFC 6152 §3: 8-bit content only to a server that offers 8BITMIME.
        if !self.eight_bit_ok && !part.is_ascii() {
            return Err(MessageError::EightBitNotSupported);
        }
        let len = self.len.saturating_add(part.len() as u64);
        if let Some(limit) = self.size_limit.filter(|&limit| len > limit) {
            return Err(MessageError::MessageTooLarge { size: len, limit });
        }
        self.len = len;
        let mut rest = part;
        while let Some(lines) = self.lines.as_mut() {
            let Some((line, after)) = lines.over(rest).and_then(|at| rest.split_at_checked(at))
            else {
                break;
            };
            if self.long_lines == LongLines::Refuse {
                return Err(lines.too_long(after));
            }
            // As Postfix's smtp_line_length_limit: the rest of the line
            // follows a CRLF and a space.
            lines.wrapped();
            self.emit(line, out)?;
            self.emit(WRAP, out)?;
            rest = after;
        }
        self.emit(rest, out)
    }

    /// Encodes checked content into `out` (DATA) or stages it (BDAT);
    /// called only while content is wanted.
    fn emit(&mut self, part: &[u8], out: &mut BytesMut) -> Result<(), MessageError> {
        if let State::Wanted(encoder) = &mut self.state {
            match encoder.as_mut() {
                Encoder::Data(encoder) => encoder.encode(part, out)?,
                _ => self.staging.extend_from_slice(part),
            }
        }
        Ok(())
    }

    /// Writes the DATA end of data.
    fn finish_data(&mut self, out: &mut BytesMut) -> Result<(), MessageError> {
        if let State::Wanted(encoder) = core::mem::replace(&mut self.state, State::Finished) {
            if let Encoder::Data(encoder) = *encoder {
                encoder.finish(out)?;
            }
        }
        Ok(())
    }

    /// Writes the staged content as one BDAT chunk.
    fn emit_chunk(&mut self, last: bool, out: &mut BytesMut) -> Result<(), MessageError> {
        let State::Wanted(encoder) = &mut self.state else {
            return Ok(());
        };
        match encoder.as_mut() {
            Encoder::Bdat(encoder) => {
                encoder.encode_chunk(&self.staging, last, out)?;
            }
            Encoder::Binary => {
                Command::bdat(self.staging.len() as u64, last).emit(out);
                out.extend_from_slice(&self.staging);
            }
            Encoder::Data(_) => return Ok(()),
        }
        self.staging.clear();
        if last {
            self.state = State::Finished;
        }
        Ok(())
    }
}

impl ClientSession {
    /// [`send_content`](ClientSession::send_content).
    pub(super) fn take_content(&mut self, chunk: &[u8]) -> Result<usize, ClientError> {
        let room = self.content_room();
        let Some(transaction) = self.current.as_mut().filter(|t| t.content.is_wanted()) else {
            return Err(self.not_wanted().into());
        };
        let part = chunk.get(..chunk.len().min(room)).unwrap_or_default();
        let written = transaction.content.write(part, &mut self.out);
        let staged = transaction.content.staged();
        if let Err(error) = written {
            return Err(self.abort(error).into());
        }
        if staged >= self.content_window / 2 {
            self.flush_chunk(false);
        }
        Ok(part.len())
    }

    /// [`finish_content`](ClientSession::finish_content).
    pub(super) fn end_content(&mut self) -> Result<(), ClientError> {
        let Some(transaction) = self.current.as_mut().filter(|t| t.content.is_wanted()) else {
            return Err(self.not_wanted().into());
        };
        if transaction.content.is_chunked() {
            transaction.content.finishing = true;
            self.flush_chunk(true);
            return Ok(());
        }
        let finished = transaction.content.finish_data(&mut self.out);
        match finished {
            Ok(()) => {
                self.awaiting.push_back(Awaiting::DataEnd);
                // The next message may follow in the same group.
                self.advance();
                Ok(())
            }
            Err(error) => Err(self.abort(error).into()),
        }
    }

    fn not_wanted(&self) -> UsageError {
        if self.phase == Phase::Closed {
            UsageError::Closed
        } else {
            UsageError::NoContentWanted
        }
    }

    /// How many more content bytes the session takes now.
    pub(super) fn content_room(&self) -> usize {
        match &self.current {
            Some(transaction) if transaction.content.is_wanted() => self
                .content_window
                .saturating_sub(self.out.len() + transaction.content.staged()),
            _ => 0,
        }
    }

    /// Sends the staged content as a BDAT chunk, unless an earlier chunk's
    /// reply must come first (no PIPELINING: one command at a time).
    pub(super) fn flush_chunk(&mut self, last: bool) {
        let waiting = self
            .awaiting
            .iter()
            .any(|a| matches!(a, Awaiting::Bdat { .. }));
        let Some(transaction) = self.current.as_mut() else {
            return;
        };
        if (waiting && !transaction.pipelined) || (!last && transaction.content.staged() == 0) {
            return;
        }
        let emitted = transaction.content.emit_chunk(last, &mut self.out);
        if let Err(error) = emitted {
            self.abort(error);
        } else {
            self.awaiting.push_back(Awaiting::Bdat { last });
        }
    }

    /// After a BDAT chunk was taken: sends what waited for it.
    pub(super) fn resume_chunks(&mut self) {
        let Some(transaction) = &self.current else {
            return;
        };
        if transaction.content.is_finishing() {
            self.flush_chunk(true);
        } else if transaction.content.staged() >= self.content_window / 2 {
            self.flush_chunk(false);
        }
    }

    /// Fails the message and closes the session over bad content.
    fn abort(&mut self, error: MessageError) -> MessageError {
        self.fail_with(
            SessionError::ContentRefused(error.clone()),
            false,
            TransactionFailure::Refused(error.clone()),
        );
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// The first line longer than the limit, read the plain way: its
    /// number, where it starts and its whole length.
    fn first_long_line(content: &[u8]) -> Option<(u64, usize, usize)> {
        let (mut line, mut start, mut at) = (1, 0, 0);
        while at < content.len() {
            if matches!(content[at], b'\r' | b'\n') {
                if at - start > MAX_LINE_OCTETS {
                    return Some((line, start, at - start));
                }
                if content[at] == b'\r' && content.get(at + 1) == Some(&b'\n') {
                    at += 1;
                }
                line += 1;
                start = at + 1;
            }
            at += 1;
        }
        (content.len() - start > MAX_LINE_OCTETS).then(|| (line, start, content.len() - start))
    }

    fn content() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            (0usize..1100).prop_map(|n| alloc::vec![b'x'; n]),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\n".to_vec()),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn whole_check_matches_the_plain_reading(content in content()) {
            let expected = first_long_line(&content).map(|(line, _, length)| {
                MessageError::LineTooLong { line, length: length as u64 }
            });
            prop_assert_eq!(check_line_lengths(&content).err(), expected);
        }

        #[test]
        fn streamed_pieces_stop_where_the_line_passes_the_limit(
            content in content(),
            cuts in proptest::collection::vec(1usize..1500, 1..8),
        ) {
            let mut meter = LineMeter::default();
            let (mut offset, mut stopped) = (0, None);
            for size in cuts.iter().cycle() {
                if offset >= content.len() {
                    break;
                }
                let piece = &content[offset..content.len().min(offset + size)];
                if let Some(at) = meter.over(piece) {
                    let MessageError::LineTooLong { line, .. } = meter.too_long(&piece[at..]) else {
                        unreachable!()
                    };
                    stopped = Some((line, offset + at));
                    break;
                }
                offset += piece.len();
            }
            let expected = first_long_line(&content)
                .map(|(line, start, _)| (line, start + MAX_LINE_OCTETS));
            prop_assert_eq!(stopped, expected);
        }
    }
}
