//! Tests for the content path, with helpers that feed input in pieces.

use super::*;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

mod bdat;
mod decoder;
mod encoder;
mod roundtrip;

/// Everything a decoder produced for an input.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decoded {
    content: Vec<u8>,
    end: Option<DataEnd>,
    /// The buffer after the end (or what was held back without one).
    rest: Vec<u8>,
}

/// Feeds `pieces` one after another into a read buffer, as a session would,
/// draining the decoder after each; checks the hold-back bound on the way.
fn decode_pieces(decoder: &DataDecoder, pieces: &[&[u8]]) -> Decoded {
    let mut decoder = decoder.clone();
    let mut buf = BytesMut::new();
    let mut content = Vec::new();
    let mut end = None;
    for piece in pieces {
        buf.extend_from_slice(piece);
        while let Some(event) = decoder.decode(&mut buf) {
            match event {
                DataEvent::Content(chunk) => {
                    assert!(end.is_none(), "content after the end");
                    assert!(!chunk.is_empty(), "empty content event");
                    content.extend_from_slice(&chunk);
                }
                DataEvent::End(found) => end = Some(found),
            }
        }
        if end.is_none() {
            assert!(buf.len() <= 2, "held back {:?}", &buf[..]);
        }
    }
    Decoded {
        content,
        end,
        rest: buf.to_vec(),
    }
}

/// Decodes `input` whole, a byte at a time and split in two at every index;
/// all must agree. Returns the whole-input result.
fn decode_every_split(decoder: &DataDecoder, input: &[u8]) -> Decoded {
    let whole = decode_pieces(decoder, &[input]);
    let bytewise: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(decode_pieces(decoder, &bytewise), whole, "bytewise");
    for cut in 0..=input.len() {
        let (head, tail) = input.split_at(cut);
        assert_eq!(
            decode_pieces(decoder, &[head, tail]),
            whole,
            "split at {cut}"
        );
    }
    whole
}

use crate::test_support::split_at_points;

fn bytes_of(chunks: &[Bytes]) -> Vec<u8> {
    chunks.iter().flat_map(|c| c.iter().copied()).collect()
}
