//! BDAT (RFC 3030 CHUNKING): counted chunks, no stuffing, no end sequence.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::encoder::{
    ContentWriter, CopySink, CountSink, EncodeError, OutgoingBareNewline, SliceSink,
};
use crate::limits;

/// Frames message content as `BDAT n [LAST]` commands, for a client.
///
/// BDAT content is sent as is (RFC 3030 §2: no dot-stuffing), but text
/// content still may not hold a bare CR or LF (RFC 3030 §3 and RFC 5321
/// §2.3.8), so the same choice as for DATA applies. A CR at the end of one
/// chunk is held back until the next chunk shows whether an LF follows, and
/// is then sent with that chunk.
///
/// ```
/// use smtpwire::data::{BdatEncoder, OutgoingBareNewline};
///
/// let mut encoder = BdatEncoder::new(OutgoingBareNewline::Normalize);
/// let mut wire = Vec::new();
/// encoder.encode_chunk(b".line\nnext\r", false, &mut wire).unwrap();
/// encoder.encode_chunk(b"\n", true, &mut wire).unwrap();
/// assert_eq!(wire, b"BDAT 11\r\n.line\r\nnextBDAT 2 LAST\r\n\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct BdatEncoder {
    writer: ContentWriter,
}

impl Default for BdatEncoder {
    fn default() -> Self {
        BdatEncoder::new(OutgoingBareNewline::default())
    }
}

impl BdatEncoder {
    /// An encoder for one message.
    pub fn new(policy: OutgoingBareNewline) -> Self {
        BdatEncoder {
            writer: ContentWriter::new(policy, false),
        }
    }

    /// Writes `BDAT n [LAST]\r\n` and the chunk's content into `out`, and
    /// returns `n`. On error nothing is written.
    pub fn encode_chunk<B: BufMut>(
        &mut self,
        chunk: &[u8],
        last: bool,
        out: &mut B,
    ) -> Result<u64, EncodeError> {
        let size = self.measure(chunk, last)?;
        put_header(size, last, out);
        let mut sink = CopySink { chunk, out };
        self.writer.write(chunk, &mut sink)?;
        if last {
            self.writer.flush_held_cr(&mut sink)?;
        }
        Ok(size)
    }

    /// [`encode_chunk`](Self::encode_chunk) with the content handed out as
    /// slices of `chunk`, after one small buffer for the command line.
    pub fn encode_chunk_bytes<E: Extend<Bytes>>(
        &mut self,
        chunk: &Bytes,
        last: bool,
        out: &mut E,
    ) -> Result<u64, EncodeError> {
        let size = self.measure(chunk, last)?;
        let mut header = BytesMut::with_capacity(HEADER_MAX);
        put_header(size, last, &mut header);
        out.extend(Some(header.freeze()));
        let mut sink = SliceSink { chunk, out };
        self.writer.write(chunk, &mut sink)?;
        if last {
            self.writer.flush_held_cr(&mut sink)?;
        }
        Ok(size)
    }

    /// The chunk size after repair, found on a copy of the state so that an
    /// error leaves nothing half written.
    fn measure(&self, chunk: &[u8], last: bool) -> Result<u64, EncodeError> {
        let mut probe = self.writer.clone();
        let mut count = CountSink::default();
        probe.write(chunk, &mut count)?;
        if last {
            probe.flush_held_cr(&mut count)?;
        }
        Ok(count.len)
    }
}

/// `"BDAT "` + 20 digits of u64 + `" LAST\r\n"`.
const HEADER_MAX: usize = 5 + 20 + 7;

fn put_header<B: BufMut>(size: u64, last: bool, out: &mut B) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = size;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.put_slice(b"BDAT ");
    out.put_slice(&digits[start..]);
    out.put_slice(if last { b" LAST\r\n" } else { b"\r\n" });
}

/// One step of [`BdatDecoder::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BdatEvent {
    /// Chunk content: a slice of the read buffer.
    Content(Bytes),
    /// Every octet of the chunk has been read; the buffer now starts with the
    /// next command.
    ChunkEnd(BdatChunkEnd),
}

/// The state of the message after one BDAT chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BdatChunkEnd {
    /// The chunk was `BDAT n LAST`: the message is complete.
    pub last: bool,
    /// Octets of the message so far, this chunk included.
    pub total_size: u64,
    /// The message went past the size limit; its content from the chunk
    /// that crossed it on was read and dropped (answer 552).
    pub size_exceeded: bool,
}

/// Reads BDAT chunks for one message from the server's read buffer.
///
/// [`begin_chunk`](Self::begin_chunk) is called with the parsed `BDAT n
/// [LAST]`; [`decode`](Self::decode) then takes exactly `n` octets from the
/// front of the buffer as zero-copy slices and reports the end of the chunk,
/// leaving the next command in the buffer. RFC 3030 §2 requires reading a
/// chunk in full even when it will be refused, so a chunk over the size limit
/// is consumed and dropped; the size is a number, never an allocation.
///
/// ```
/// use bytes::BytesMut;
/// use smtpwire::data::{BdatDecoder, BdatEvent};
///
/// let mut buf = BytesMut::from(&b"Hi.\r\nQUIT\r\n"[..]);
/// let mut decoder = BdatDecoder::new();
/// decoder.begin_chunk(5, true);
/// assert_eq!(decoder.decode(&mut buf), Some(BdatEvent::Content("Hi.\r\n".into())));
/// let Some(BdatEvent::ChunkEnd(end)) = decoder.decode(&mut buf) else { panic!() };
/// assert!(end.last && !end.size_exceeded);
/// assert_eq!(end.total_size, 5);
/// assert_eq!(&buf[..], b"QUIT\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct BdatDecoder {
    max_size: u64,
    total: u64,
    size_exceeded: bool,
    /// Octets of the current chunk still to read; `None` between chunks.
    remaining: Option<u64>,
    last: bool,
}

impl Default for BdatDecoder {
    fn default() -> Self {
        BdatDecoder::new()
    }
}

impl BdatDecoder {
    /// A decoder with the size limit [`limits::DEFAULT_MAX_MESSAGE_SIZE`].
    pub fn new() -> Self {
        BdatDecoder {
            max_size: limits::DEFAULT_MAX_MESSAGE_SIZE,
            total: 0,
            size_exceeded: false,
            remaining: None,
            last: false,
        }
    }

    /// Sets the message size limit, in octets over all chunks.
    pub fn with_max_size(mut self, max_size: u64) -> Self {
        self.max_size = max_size;
        self
    }

    /// Starts reading a chunk of `size` octets, replacing any chunk not read
    /// to its end. Returns whether the message is still within the size
    /// limit, so a caller can choose to close rather than read a huge chunk.
    pub fn begin_chunk(&mut self, size: u64, last: bool) -> bool {
        // Compared as "more than what is left" so no sum can overflow.
        if size > self.max_size.saturating_sub(self.total) {
            self.size_exceeded = true;
        }
        self.total = self.total.saturating_add(size);
        self.remaining = Some(size);
        self.last = last;
        !self.size_exceeded
    }

    /// Whether a chunk is being read.
    pub fn in_chunk(&self) -> bool {
        self.remaining.is_some()
    }

    /// Octets of the message announced so far.
    pub fn total_size(&self) -> u64 {
        self.total
    }

    /// Takes the next piece of the current chunk from the front of `buf`.
    ///
    /// `None` means no chunk is being read, or the buffer is empty before the
    /// chunk's end: push more input and call again.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Option<BdatEvent> {
        loop {
            let remaining = self.remaining?;
            if remaining == 0 {
                self.remaining = None;
                return Some(BdatEvent::ChunkEnd(BdatChunkEnd {
                    last: self.last,
                    total_size: self.total,
                    size_exceeded: self.size_exceeded,
                }));
            }
            if buf.is_empty() {
                return None;
            }
            let take = usize::try_from(remaining).map_or(buf.len(), |left| left.min(buf.len()));
            self.remaining = Some(remaining - take as u64);
            if self.size_exceeded {
                buf.advance(take);
            } else {
                return Some(BdatEvent::Content(buf.split_to(take).freeze()));
            }
        }
    }
}
