use super::*;
use alloc::vec;

/// Everything a BDAT decoder produced for a sequence of chunks.
#[derive(Debug, PartialEq, Eq)]
struct Chunks {
    contents: Vec<Vec<u8>>,
    ends: Vec<BdatChunkEnd>,
    rest: Vec<u8>,
}

/// Reads the chunks `sizes` (the last one marked LAST) from `pieces`; each
/// chunk's bytes must immediately follow the previous one's.
fn read_chunks(decoder: &BdatDecoder, sizes: &[u64], pieces: &[&[u8]]) -> Chunks {
    let mut decoder = decoder.clone();
    let mut buf = BytesMut::new();
    let mut out = Chunks {
        contents: Vec::new(),
        ends: Vec::new(),
        rest: Vec::new(),
    };
    let mut next = sizes.iter().enumerate();
    let mut current = Vec::new();
    let mut start = |decoder: &mut BdatDecoder| {
        if let Some((i, &size)) = next.next() {
            decoder.begin_chunk(size, i + 1 == sizes.len());
        }
    };
    start(&mut decoder);
    let mut drain = |decoder: &mut BdatDecoder, buf: &mut BytesMut, out: &mut Chunks| {
        while let Some(event) = decoder.decode(buf) {
            match event {
                BdatEvent::Content(chunk) => {
                    assert!(!chunk.is_empty());
                    current.extend_from_slice(&chunk);
                }
                BdatEvent::ChunkEnd(end) => {
                    out.contents.push(core::mem::take(&mut current));
                    out.ends.push(end);
                    start(decoder);
                }
            }
        }
    };
    drain(&mut decoder, &mut buf, &mut out);
    for piece in pieces {
        buf.extend_from_slice(piece);
        drain(&mut decoder, &mut buf, &mut out);
    }
    out.rest = buf.to_vec();
    out
}

fn read_every_split(decoder: &BdatDecoder, sizes: &[u64], input: &[u8]) -> Chunks {
    let whole = read_chunks(decoder, sizes, &[input]);
    for cut in 0..=input.len() {
        let (head, tail) = input.split_at(cut);
        assert_eq!(
            read_chunks(decoder, sizes, &[head, tail]),
            whole,
            "split at {cut}"
        );
    }
    let bytewise: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(read_chunks(decoder, sizes, &bytewise), whole);
    whole
}

#[test]
fn chunks_are_exact_counts_and_the_next_command_stays() {
    // No unstuffing and no end search: ".\r\n" inside a chunk is content.
    let input = b"ab\r\n.\r\n..xQUIT\r\n";
    let out = read_every_split(&BdatDecoder::new(), &[7, 4], input);
    assert_eq!(out.contents, [b"ab\r\n.\r\n".to_vec(), b"..xQ".to_vec()]);
    assert_eq!(out.ends.len(), 2);
    assert!(!out.ends[0].last && out.ends[1].last);
    assert_eq!((out.ends[0].total_size, out.ends[1].total_size), (7, 11));
    assert_eq!(out.rest, b"UIT\r\n");
}

#[test]
fn bdat_zero_last_ends_without_input() {
    let out = read_every_split(&BdatDecoder::new(), &[3, 0], b"abcRSET\r\n");
    assert_eq!(out.contents, [b"abc".to_vec(), Vec::new()]);
    assert!(out.ends[1].last);
    assert_eq!(out.ends[1].total_size, 3);
    assert_eq!(out.rest, b"RSET\r\n");
    let mut decoder = BdatDecoder::new();
    decoder.begin_chunk(0, true);
    let mut empty = BytesMut::new();
    assert!(matches!(decoder.decode(&mut empty), Some(BdatEvent::ChunkEnd(end)) if end.last));
    assert_eq!(decoder.decode(&mut empty), None);
}

#[test]
fn chunks_over_the_limit_are_read_and_dropped() {
    let decoder = BdatDecoder::new().with_max_size(5);
    let out = read_every_split(&decoder, &[4, 4, 1], b"1234abcdzNOOP\r\n");
    assert_eq!(out.contents, [b"1234".to_vec(), Vec::new(), Vec::new()]);
    assert_eq!(
        out.ends.iter().map(|e| e.size_exceeded).collect::<Vec<_>>(),
        [false, true, true]
    );
    assert_eq!(out.ends[2].total_size, 9);
    assert_eq!(out.rest, b"NOOP\r\n");
}

#[test]
fn huge_sizes_are_numbers_not_allocations() {
    let mut decoder = BdatDecoder::new();
    assert!(
        !decoder.begin_chunk(u64::MAX, false),
        "over the default limit"
    );
    let mut buf = BytesMut::from(&vec![b'z'; 1 << 16][..]);
    assert_eq!(decoder.decode(&mut buf), None);
    assert!(buf.is_empty(), "consumed and dropped");
    assert!(decoder.in_chunk());
    // A second huge chunk saturates the total instead of wrapping.
    decoder.begin_chunk(u64::MAX, true);
    assert_eq!(decoder.total_size(), u64::MAX);
    let mut unlimited = BdatDecoder::new().with_max_size(u64::MAX);
    assert!(unlimited.begin_chunk(u64::MAX, true));
    let mut buf = BytesMut::from(&b"abc"[..]);
    assert_eq!(
        unlimited.decode(&mut buf),
        Some(BdatEvent::Content("abc".into()))
    );
}

#[test]
fn no_chunk_means_nothing_is_taken() {
    let mut decoder = BdatDecoder::new();
    let mut buf = BytesMut::from(&b"MAIL FROM:<>\r\n"[..]);
    assert_eq!(decoder.decode(&mut buf), None);
    assert_eq!(buf.len(), 14);
}

#[test]
fn encoder_frames_and_repairs_line_endings() {
    let mut encoder = BdatEncoder::default();
    let mut wire = Vec::new();
    assert_eq!(encoder.encode_chunk(b".x\ny", false, &mut wire), Ok(5));
    assert_eq!(encoder.encode_chunk(b"", true, &mut wire), Ok(0));
    assert_eq!(wire, b"BDAT 5\r\n.x\r\nyBDAT 0 LAST\r\n");
    let mut wire = Vec::new();
    let mut encoder = BdatEncoder::default();
    assert_eq!(encoder.encode_chunk(b"a\r", true, &mut wire), Ok(3));
    assert_eq!(wire, b"BDAT 3 LAST\r\na\r\n");
}

#[test]
fn encoder_reject_writes_nothing_for_a_bad_chunk() {
    let mut encoder = BdatEncoder::new(OutgoingBareNewline::Reject);
    let mut wire = Vec::new();
    assert_eq!(encoder.encode_chunk(b"ok\r", false, &mut wire), Ok(2));
    assert_eq!(
        encoder.encode_chunk(b"bad", false, &mut wire),
        Err(EncodeError::BareCarriageReturn { offset: 2 })
    );
    assert_eq!(wire, b"BDAT 2\r\nok");
    let mut encoder = BdatEncoder::new(OutgoingBareNewline::Reject);
    assert!(encoder.encode_chunk(b"x\r", true, &mut Vec::new()).is_err());
}

#[test]
fn encoder_bytes_output_matches() {
    let content = Bytes::from_static(b"line one\nline two\r\n.three\r");
    let mut by_copy = Vec::new();
    BdatEncoder::default()
        .encode_chunk(&content, true, &mut by_copy)
        .unwrap();
    let mut slices: Vec<Bytes> = Vec::new();
    BdatEncoder::default()
        .encode_chunk_bytes(&content, true, &mut slices)
        .unwrap();
    assert_eq!(bytes_of(&slices), by_copy);
    assert_eq!(
        by_copy,
        b"BDAT 28 LAST\r\nline one\r\nline two\r\n.three\r\n"
    );
}

#[test]
fn encoder_then_decoder_gives_the_content_back() {
    let content = b"Subject: chunked\r\n\r\n.body\r\n";
    let mut encoder = BdatEncoder::default();
    let mut wire = BytesMut::new();
    let size = encoder.encode_chunk(content, true, &mut wire).unwrap();
    let header = b"BDAT 27 LAST\r\n";
    assert_eq!(&wire[..header.len()], header);
    let out = read_chunks(&BdatDecoder::new(), &[size], &[&wire[header.len()..]]);
    assert_eq!(out.contents, [content.to_vec()]);
}
