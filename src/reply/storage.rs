//! [`ReplyBytes`]: where a parsed [`Reply`](super::Reply) keeps the bytes it
//! was read from.

use bytes::{Bytes, BytesMut};
use core::ops::{Deref, Range};

/// Longest reply kept inline: room for the usual single-line replies
/// (`250 2.0.0 Ok: queued as 4Xq1Lr2pQnz9sWK`, a typical greeting) while
/// the whole value stays the size of a cache line.
const INLINE_CAPACITY: usize = 62;

/// A reply's bytes: a short reply's copied into the value itself, a longer
/// one's shared with the buffer it was read into.
///
/// Copying a short reply costs less than sharing it: handing out a slice of
/// the input buffer, and dropping it, each take an atomic reference count
/// operation, and those stall on the stores that just filled the buffer.
#[derive(Clone)]
pub(crate) enum ReplyBytes {
    Inline {
        len: u8,
        bytes: [u8; INLINE_CAPACITY],
    },
    Shared(Bytes),
}

impl ReplyBytes {
    /// Takes the first `len` bytes off `buf`.
    pub(crate) fn take_front(buf: &mut BytesMut, len: usize) -> Self {
        match (buf.get(..len), u8::try_from(len)) {
            (Some(front), Ok(short)) if len <= INLINE_CAPACITY => {
                let mut bytes = [0; INLINE_CAPACITY];
                if let Some(slot) = bytes.get_mut(..len) {
                    slot.copy_from_slice(front);
                }
                bytes::Buf::advance(buf, len);
                ReplyBytes::Inline { len: short, bytes }
            }
            _ => ReplyBytes::Shared(buf.split_to(len.min(buf.len())).freeze()),
        }
    }

    /// `range` of the bytes as [`Bytes`]: shared when they are, copied when
    /// they are inline.
    pub(crate) fn slice(&self, range: Range<usize>) -> Bytes {
        match self {
            ReplyBytes::Shared(bytes) => bytes.slice(range),
            ReplyBytes::Inline { .. } => {
                Bytes::copy_from_slice(self.get(range).unwrap_or_default())
            }
        }
    }
}

impl From<Bytes> for ReplyBytes {
    fn from(bytes: Bytes) -> Self {
        ReplyBytes::Shared(bytes)
    }
}

impl Deref for ReplyBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            ReplyBytes::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            ReplyBytes::Shared(bytes) => bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_replies_are_copied_and_long_ones_shared() {
        let short = b"250 2.1.5 Ok\r\n";
        let long = [b'x'; INLINE_CAPACITY + 1];
        for (input, inline) in [(&short[..], true), (&long[..], false)] {
            let mut buf = BytesMut::from(input);
            buf.extend_from_slice(b"221 next");
            let taken = ReplyBytes::take_front(&mut buf, input.len());
            assert_eq!(matches!(taken, ReplyBytes::Inline { .. }), inline);
            assert_eq!(&taken[..], input);
            assert_eq!(&buf[..], b"221 next");
            assert_eq!(&taken.slice(1..3)[..], &input[1..3]);
        }
        assert!(core::mem::size_of::<ReplyBytes>() <= 64);
    }
}
