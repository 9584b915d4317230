//! The BDAT decoder takes exactly the announced octets however the input is
//! split, keeps no more than it is given, and never hands out content past
//! the size limit, whatever the chunk sizes (up to u64::MAX).

use smtpwire::data::{BdatDecoder, BdatEvent};
use smtpwire::framing::{LineEndPolicy, LineFramer};

/// The first byte picks the size limit, the second how many chunks (up to
/// 7) follow, and each of the next bytes announces one (the last is LAST;
/// 0xff stands for u64::MAX); the rest is input.
pub fn check(data: &[u8]) {
    let [limit, count, rest @ ..] = data else {
        return;
    };
    let limit = *limit;
    let (sizes, input) = rest.split_at(usize::from(count & 7).min(rest.len()));
    let sizes: Vec<u64> = sizes
        .iter()
        .map(|&s| if s == 0xff { u64::MAX } else { u64::from(s) })
        .collect();
    let decoder = BdatDecoder::new().with_max_size(u64::from(limit));
    let whole = read(&decoder, &sizes, &[input]);
    let bytewise: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(read(&decoder, &sizes, &bytewise), whole);
    let (head, tail) = input.split_at(input.len() / 3);
    assert_eq!(read(&decoder, &sizes, &[head, tail]), whole);
    let (content, ends, rest) = whole;
    assert!(content.len() as u64 <= u64::from(limit));
    if ends.len() == sizes.len() {
        // Every chunk was read: exactly the announced octets were taken.
        let announced: u64 = sizes.iter().fold(0, |a, &s| a.saturating_add(s));
        assert_eq!(rest.len() as u64, input.len() as u64 - announced);
    } else {
        assert!(rest.is_empty());
    }
}

type Read = (Vec<u8>, Vec<(bool, u64, bool)>, Vec<u8>);

fn read(decoder: &BdatDecoder, sizes: &[u64], pieces: &[&[u8]]) -> Read {
    let mut decoder = decoder.clone();
    let mut next = sizes.iter().enumerate();
    let mut begin = |decoder: &mut BdatDecoder| {
        if let Some((i, &size)) = next.next() {
            decoder.begin_chunk(size, i + 1 == sizes.len());
        }
    };
    begin(&mut decoder);
    // The session's read buffer, as the decoder sees it after 354 or BDAT.
    let mut framer = LineFramer::new(512, LineEndPolicy::Strict);
    let mut content = Vec::new();
    let mut ends = Vec::new();
    for piece in pieces.iter().copied().chain([&[][..]]) {
        framer.push(piece);
        let buf = framer.buffer_mut();
        while let Some(event) = decoder.decode(buf) {
            match event {
                BdatEvent::Content(chunk) => content.extend_from_slice(&chunk),
                BdatEvent::ChunkEnd(end) => {
                    ends.push((end.last, end.total_size, end.size_exceeded));
                    begin(&mut decoder);
                }
            }
        }
        if decoder.in_chunk() {
            assert!(buf.is_empty());
        }
    }
    (content, ends, framer.buffer_mut().to_vec())
}
