//! The DATA decoder gives the same content, end and remaining bytes however
//! the input is split, holds back at most two bytes, hands out no more than
//! the size limit, and never takes a byte past the end of data.

use smtpwire::data::{DataDecoder, DataEnd, DataEvent, IncomingBareNewline};
use smtpwire::framing::{LineEndPolicy, LineFramer};

pub fn check(data: &[u8]) {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let decoder = DataDecoder::new()
        .with_max_line(2 + usize::from(control & 0x0f))
        .with_max_size(u64::from(control >> 4) * 16)
        .with_bare_newline(if control & 0x01 == 0 {
            IncomingBareNewline::Reject
        } else {
            IncomingBareNewline::Accept
        });
    let whole = decode(&decoder, &[input]);
    let bytewise: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(decode(&decoder, &bytewise), whole);
    let (head, tail) = input.split_at(input.len() / 2);
    assert_eq!(decode(&decoder, &[head, tail]), whole);
    let (content, end, rest) = whole;
    if let Some(end) = end {
        assert!(end.size >= content.len() as u64);
        assert!(input.ends_with(&rest));
        assert!(input[..input.len() - rest.len()].ends_with(b".\r\n"));
    }
}

type Decoded = (Vec<u8>, Option<DataEnd>, Vec<u8>);

fn decode(decoder: &DataDecoder, pieces: &[&[u8]]) -> Decoded {
    let mut decoder = decoder.clone();
    // The session's read buffer, as the decoder sees it after 354 or BDAT.
    let mut framer = LineFramer::new(512, LineEndPolicy::Strict);
    let mut content = Vec::new();
    let mut end = None;
    for piece in pieces {
        framer.push(piece);
        let buf = framer.buffer_mut();
        while let Some(event) = decoder.decode(buf) {
            match event {
                DataEvent::Content(chunk) => content.extend_from_slice(&chunk),
                DataEvent::End(found) => end = Some(found),
            }
        }
        if end.is_none() {
            assert!(buf.len() <= 2);
        }
    }
    (content, end, framer.buffer_mut().to_vec())
}
