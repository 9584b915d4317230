//! Message content: streamed through DATA with dot-stuffing, or through BDAT
//! chunks, never buffered whole.

use alloc::boxed::Box;
use bytes::BytesMut;

use super::{
    Awaiting, ClientConfig, ClientError, ClientSession, Envelope, TransactionFailure, TransactionId,
};
use crate::capability::Capabilities;
use crate::command::Command;
use crate::data::{BdatEncoder, DataEncoder, OutgoingBareNewline};
use crate::params::BodyType;

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

    fn is_wanted(&self) -> bool {
        matches!(self.state, State::Wanted(_)) && !self.finishing
    }

    pub(super) fn is_finishing(&self) -> bool {
        self.finishing && matches!(self.state, State::Wanted(_))
    }

    pub(super) fn staged(&self) -> usize {
        self.staging.len()
    }

    /// Checks a piece of content against what the server takes, then
    /// encodes it into `out` (DATA) or stages it (BDAT).
    fn write(&mut self, part: &[u8], out: &mut BytesMut) -> Result<(), ClientError> {
        // RFC 6152 §3: 8-bit content only to a server that offers 8BITMIME.
        if !self.eight_bit_ok && !part.is_ascii() {
            return Err(ClientError::EightBitNotSupported);
        }
        let len = self.len.saturating_add(part.len() as u64);
        if let Some(limit) = self.size_limit.filter(|&limit| len > limit) {
            return Err(ClientError::MessageTooLarge { size: len, limit });
        }
        self.len = len;
        match &mut self.state {
            State::Wanted(encoder) => match encoder.as_mut() {
                Encoder::Data(encoder) => encoder.encode(part, out)?,
                _ => self.staging.extend_from_slice(part),
            },
            _ => return Err(ClientError::NoContentWanted),
        }
        Ok(())
    }

    /// Writes the DATA end of data.
    fn finish_data(&mut self, out: &mut BytesMut) -> Result<(), ClientError> {
        if let State::Wanted(encoder) = core::mem::replace(&mut self.state, State::Finished) {
            if let Encoder::Data(encoder) = *encoder {
                encoder.finish(out)?;
            }
        }
        Ok(())
    }

    /// Writes the staged content as one BDAT chunk.
    fn emit_chunk(&mut self, last: bool, out: &mut BytesMut) -> Result<(), ClientError> {
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
    /// The message whose content the session waits for, if any.
    pub fn wants_content(&self) -> Option<TransactionId> {
        self.current
            .as_ref()
            .filter(|transaction| transaction.content.is_wanted())
            .map(|transaction| transaction.id)
    }

    /// Takes the next piece of the message's content, of any size and split
    /// anywhere, and returns how many bytes it took: fewer than given (even
    /// none) when the content window is full, in which case the caller
    /// writes what `poll_output` hands out and offers the rest again.
    ///
    /// With DATA, every line that starts with `.` is dot-stuffed and bare CR
    /// or LF is repaired or refused (RFC 5321 §4.5.2, §2.3.8). An error here
    /// (8-bit content without 8BITMIME, more than the server's SIZE, a bare
    /// line ending under [`OutgoingBareNewline::Reject`]) fails the message
    /// and closes the session, since a message cut short must never end
    /// with an end of data.
    pub fn send_content(&mut self, chunk: &[u8]) -> Result<usize, ClientError> {
        let room = self.content_room();
        let Some(transaction) = self.current.as_mut().filter(|t| t.content.is_wanted()) else {
            return Err(self.not_wanted());
        };
        let part = chunk.get(..chunk.len().min(room)).unwrap_or_default();
        let written = transaction.content.write(part, &mut self.out);
        let staged = transaction.content.staged();
        if let Err(error) = written {
            return Err(self.abort(error));
        }
        if staged >= self.config.content_window / 2 {
            self.flush_chunk(false);
        }
        Ok(part.len())
    }

    /// Ends the content: the end of data (DATA) or the last BDAT chunk.
    pub fn finish_content(&mut self) -> Result<(), ClientError> {
        let Some(transaction) = self.current.as_mut().filter(|t| t.content.is_wanted()) else {
            return Err(self.not_wanted());
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
            Err(error) => Err(self.abort(error)),
        }
    }

    fn not_wanted(&self) -> ClientError {
        if self.phase == super::Phase::Closed {
            ClientError::Closed
        } else {
            ClientError::NoContentWanted
        }
    }

    /// How many more content bytes the session takes now.
    pub(super) fn content_room(&self) -> usize {
        match &self.current {
            Some(transaction) if transaction.content.is_wanted() => self
                .config
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
        } else if transaction.content.staged() >= self.config.content_window / 2 {
            self.flush_chunk(false);
        }
    }

    /// Fails the message and closes the session over bad content.
    fn abort(&mut self, error: ClientError) -> ClientError {
        self.fail_with(
            error.clone(),
            false,
            TransactionFailure::Refused(error.clone()),
        );
        error
    }
}
