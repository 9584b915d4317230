//! Client side of DATA: dot-stuffing, line-ending repair and the end of data.

use alloc::vec::Vec;
use bytes::{BufMut, Bytes};
use core::ops::Range;

use super::scan::{plain_run, BLOCK};

/// What the encoders do with a CR or LF in caller content that is not part of
/// a CRLF pair.
///
/// RFC 5321 §2.3.8 forbids both on the wire; sending them is how a client
/// becomes the first half of an SMTP smuggling attack (RUSTSEC-2021-0069,
/// RUSTSEC-2026-0561), so one of the two safe answers has to be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutgoingBareNewline {
    /// Each bare CR and each bare LF becomes CRLF, and the line after it is
    /// dot-stuffed like any other.
    #[default]
    Normalize,
    /// A bare CR or LF fails the message with [`EncodeError`].
    Reject,
}

/// Content the encoder refused under [`OutgoingBareNewline::Reject`].
///
/// Output already produced for the message is incomplete: the message has to
/// be abandoned (for DATA, by closing the connection; for BDAT, nothing of the
/// failing chunk was written, so `RSET` is enough).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A CR not followed by LF.
    #[error("bare CR at content offset {offset}")]
    BareCarriageReturn {
        /// Position of the CR in the content, counted over all chunks.
        offset: u64,
    },
    /// An LF not preceded by CR.
    #[error("bare LF at content offset {offset}")]
    BareLineFeed {
        /// Position of the LF in the content, counted over all chunks.
        offset: u64,
    },
}

/// Where encoded output goes: runs of the input chunk, unchanged, and the few
/// bytes the encoder adds.
pub(crate) trait Sink {
    /// Bytes `range` of the chunk being encoded, unchanged.
    fn run(&mut self, range: Range<usize>);
    /// Bytes the encoder adds: a stuffing dot, a CRLF, the end of data.
    fn insert(&mut self, bytes: &'static [u8]);
}

/// Writes into a [`BufMut`], one `put_slice` per unchanged run.
pub(crate) struct CopySink<'a, B> {
    pub(crate) chunk: &'a [u8],
    pub(crate) out: &'a mut B,
}

impl<B: BufMut> Sink for CopySink<'_, B> {
    fn run(&mut self, range: Range<usize>) {
        if let Some(run) = self.chunk.get(range) {
            self.out.put_slice(run);
        }
    }

    fn insert(&mut self, bytes: &'static [u8]) {
        self.out.put_slice(bytes);
    }
}

/// Hands out unchanged runs as slices of the caller's [`Bytes`], with no copy.
pub(crate) struct SliceSink<'a, E> {
    pub(crate) chunk: &'a Bytes,
    pub(crate) out: &'a mut E,
}

impl<E: Extend<Bytes>> Sink for SliceSink<'_, E> {
    fn run(&mut self, range: Range<usize>) {
        if !range.is_empty() && range.end <= self.chunk.len() {
            self.out.extend(Some(self.chunk.slice(range)));
        }
    }

    fn insert(&mut self, bytes: &'static [u8]) {
        self.out.extend(Some(Bytes::from_static(bytes)));
    }
}

/// Counts the output without producing it (BDAT needs the size first).
#[derive(Default)]
pub(crate) struct CountSink {
    pub(crate) len: u64,
}

impl Sink for CountSink {
    fn run(&mut self, range: Range<usize>) {
        self.len += range.len() as u64;
    }

    fn insert(&mut self, bytes: &'static [u8]) {
        self.len += bytes.len() as u64;
    }
}

/// Line-ending repair, and optionally dot-stuffing, over content that arrives
/// in chunks of any size. Shared by the DATA and BDAT encoders.
#[derive(Debug, Clone)]
pub(crate) struct ContentWriter {
    policy: OutgoingBareNewline,
    stuff_dots: bool,
    /// The next content byte begins a line.
    at_line_start: bool,
    /// The last chunk ended in CR, not yet written: only the next byte says
    /// whether it is half of a CRLF.
    held_cr: bool,
    /// Content bytes seen so far, for error offsets.
    offset: u64,
}

impl ContentWriter {
    pub(crate) fn new(policy: OutgoingBareNewline, stuff_dots: bool) -> Self {
        ContentWriter {
            policy,
            stuff_dots,
            at_line_start: true,
            held_cr: false,
            offset: 0,
        }
    }

    pub(crate) fn at_line_start(&self) -> bool {
        self.at_line_start
    }

    fn bare(&self, err: EncodeError) -> Result<(), EncodeError> {
        match self.policy {
            OutgoingBareNewline::Normalize => Ok(()),
            OutgoingBareNewline::Reject => Err(err),
        }
    }

    /// Encodes one chunk. The common path takes a block at a time: one pass
    /// of [`plain_run`] to the next line that starts with a dot, confirming
    /// CRLF line endings on the way, and one `run` for it.
    /// Blocks with a bare CR or LF go one `memchr2` per line ending.
    pub(crate) fn write<S: Sink>(&mut self, chunk: &[u8], sink: &mut S) -> Result<(), EncodeError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let mut run_start = 0;
        let mut pos = 0;
        if self.held_cr {
            if chunk.first() != Some(&b'\n') {
                self.bare(EncodeError::BareCarriageReturn {
                    offset: self.offset.saturating_sub(1),
                })?;
            } else {
                pos = 1;
                run_start = 1;
            }
            // Either half of a CRLF split across chunks, or a bare CR repaired.
            sink.insert(b"\r\n");
            self.held_cr = false;
            self.at_line_start = true;
        }
        loop {
            if self.at_line_start {
                let Some(&first) = chunk.get(pos) else { break };
                // RFC 5321 §4.5.2: every line that begins with "." gets one more.
                if first == b'.' && self.stuff_dots {
                    sink.run(run_start..pos);
                    sink.insert(b".");
                    run_start = pos;
                }
                self.at_line_start = false;
            }
            if let Some(end) = self.clean_block(chunk, pos) {
                pos = end;
                self.at_line_start = chunk.get(end - 1) == Some(&b'\n');
                continue;
            }
            let Some(found) = chunk
                .get(pos..)
                .and_then(|rest| memchr::memchr2(b'\r', b'\n', rest))
            else {
                break;
            };
            let at = pos + found;
            let offset = self.offset + at as u64;
            let bare = match (chunk.get(at), chunk.get(at + 1)) {
                (Some(b'\r'), Some(b'\n')) => None,
                (Some(b'\r'), Some(_)) => Some(EncodeError::BareCarriageReturn { offset }),
                (Some(b'\r'), None) => {
                    // The LF that would pair with it may start the next chunk.
                    sink.run(run_start..at);
                    run_start = at + 1;
                    self.held_cr = true;
                    break;
                }
                // An LF found before any CR: a CRLF would have matched its CR first.
                _ => Some(EncodeError::BareLineFeed { offset }),
            };
            match bare {
                None => pos = at + 2,
                Some(err) => {
                    self.bare(err)?;
                    sink.run(run_start..at);
                    sink.insert(b"\r\n");
                    run_start = at + 1;
                    pos = at + 1;
                }
            }
            self.at_line_start = true;
        }
        sink.run(run_start..chunk.len());
        self.offset += chunk.len() as u64;
        Ok(())
    }

    /// The end of the block from `pos` that can be sent as it is: up to and
    /// including the LF before the next line that starts with a dot, short
    /// of a final CR (which needs the byte after it), and only if all its
    /// line endings are CRLF. `pos` never follows a CR still to be judged,
    /// so a first LF is bare.
    fn clean_block(&self, chunk: &[u8], pos: usize) -> Option<usize> {
        let window = chunk.get(pos..)?;
        let window = window.get(..BLOCK).unwrap_or(window);
        if window.first() == Some(&b'\n') {
            return None;
        }
        let mut block = window.get(..plain_run(window)?)?;
        if let Some((b'\r', before)) = block.split_last() {
            block = before;
        }
        (!block.is_empty()).then_some(pos + block.len())
    }

    /// Resolves a CR held at the very end of the content.
    pub(crate) fn flush_held_cr<S: Sink>(&mut self, sink: &mut S) -> Result<(), EncodeError> {
        if self.held_cr {
            self.bare(EncodeError::BareCarriageReturn {
                offset: self.offset.saturating_sub(1),
            })?;
            sink.insert(b"\r\n");
            self.held_cr = false;
            self.at_line_start = true;
        }
        Ok(())
    }
}

/// Turns message content into the DATA stream a client sends after `354`.
///
/// Content goes in as chunks of any size, split anywhere (a CR at the end of
/// one chunk and an LF at the start of the next are one CRLF). Every line
/// that begins with `.` is dot-stuffed, the first line and lines that follow
/// a repaired bare LF included, and [`finish`](Self::finish) adds the end of
/// data, with a CRLF first when the content does not end in one.
///
/// Lines go out as long as they come: the limit of RFC 5321 §4.5.3.1.6 is
/// kept by the client session ([`LongLines`](crate::client::LongLines)) and
/// [`check_line_lengths`](crate::client::check_line_lengths).
///
/// Output never copies a chunk whole into a growing buffer for its own sake:
/// [`encode`](Self::encode) writes unchanged runs straight into any
/// [`BufMut`], and [`encode_bytes`](Self::encode_bytes) hands them out as
/// slices of the caller's [`Bytes`] with no copy at all.
///
/// ```
/// use smtpwire::data::{DataEncoder, OutgoingBareNewline};
///
/// let mut encoder = DataEncoder::new(OutgoingBareNewline::Normalize);
/// let mut wire = Vec::new();
/// encoder.encode(b".hidden\r\nline\nmore\r", &mut wire).unwrap();
/// encoder.encode(b"\n.", &mut wire).unwrap();
/// encoder.finish(&mut wire).unwrap();
/// assert_eq!(wire, b"..hidden\r\nline\r\nmore\r\n..\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DataEncoder {
    writer: ContentWriter,
}

impl Default for DataEncoder {
    fn default() -> Self {
        DataEncoder::new(OutgoingBareNewline::default())
    }
}

impl DataEncoder {
    /// An encoder for one message.
    pub fn new(policy: OutgoingBareNewline) -> Self {
        DataEncoder {
            writer: ContentWriter::new(policy, true),
        }
    }

    /// Encodes the next chunk of content into `out`.
    pub fn encode<B: BufMut>(&mut self, chunk: &[u8], out: &mut B) -> Result<(), EncodeError> {
        self.writer.write(chunk, &mut CopySink { chunk, out })
    }

    /// Encodes the next chunk of content as a sequence of [`Bytes`]: slices
    /// of `chunk` for the unchanged runs and static bytes for what the
    /// encoder adds, ready for a vectored write.
    pub fn encode_bytes<E: Extend<Bytes>>(
        &mut self,
        chunk: &Bytes,
        out: &mut E,
    ) -> Result<(), EncodeError> {
        self.writer.write(chunk, &mut SliceSink { chunk, out })
    }

    /// Ends the message: resolves a trailing CR, completes the last line and
    /// writes `.CRLF`. Empty content gives just `.CRLF`.
    pub fn finish<B: BufMut>(mut self, out: &mut B) -> Result<(), EncodeError> {
        self.finish_into(&mut CopySink { chunk: &[], out })
    }

    /// [`finish`](Self::finish) for output collected as [`Bytes`].
    pub fn finish_bytes<E: Extend<Bytes>>(mut self, out: &mut E) -> Result<(), EncodeError> {
        self.finish_into(&mut SliceSink {
            chunk: &Bytes::new(),
            out,
        })
    }

    fn finish_into<S: Sink>(&mut self, sink: &mut S) -> Result<(), EncodeError> {
        self.writer.flush_held_cr(sink)?;
        // RFC 5321 §4.1.1.4: the end of data is CRLF "." CRLF, its first CRLF
        // ending the last line of content.
        if self.writer.at_line_start() {
            sink.insert(b".\r\n");
        } else {
            sink.insert(b"\r\n.\r\n");
        }
        Ok(())
    }
}

/// Encodes a whole message into a new buffer: a convenience over
/// [`DataEncoder`] for content already in memory.
pub fn encode_message(content: &[u8], policy: OutgoingBareNewline) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 64 + 5);
    let mut encoder = DataEncoder::new(policy);
    encoder.encode(content, &mut out)?;
    encoder.finish(&mut out)?;
    Ok(out)
}
