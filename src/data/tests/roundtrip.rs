use super::*;
use proptest::prelude::*;

/// The content a receiver must see for `content` sent under Normalize,
/// written byte by byte as an independent oracle: every bare CR or LF becomes
/// CRLF, and non-empty content ends in CRLF.
fn normalized(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&byte) = content.get(i) {
        match byte {
            b'\r' if content.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            other => out.push(other),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Content rich in what matters: dots, CR, LF, lines of only ".", "..".
fn content() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b".".to_vec()),
        Just(b"..".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r\n.\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"ab".to_vec()),
        any::<u8>().prop_map(|b| alloc::vec![b]),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Content with lines long enough for the block-at-a-time paths, and some
/// of everything else.
fn long_lines() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        6 => (0usize..300).prop_map(|len| alloc::vec![b'a'; len]),
        4 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r\n.".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just(b"\n".to_vec()),
        1 => Just(b".".to_vec()),
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

/// The DATA stream for `content` under Normalize, one line at a time.
fn stuffed(content: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    for line in normalized(content).split_inclusive(|&byte| byte == b'\n') {
        if line.starts_with(b".") {
            wire.push(b'.');
        }
        wire.extend_from_slice(line);
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

fn cuts() -> impl Strategy<Value = Vec<prop::sample::Index>> {
    proptest::collection::vec(any::<prop::sample::Index>(), 0..6)
}

fn encode_copying(pieces: &[&[u8]]) -> Vec<u8> {
    let mut encoder = DataEncoder::new(OutgoingBareNewline::Normalize);
    let mut wire = Vec::new();
    for piece in pieces {
        encoder.encode(piece, &mut wire).unwrap();
    }
    encoder.finish(&mut wire).unwrap();
    wire
}

fn encode_slicing(pieces: &[&[u8]]) -> Vec<u8> {
    let mut encoder = DataEncoder::new(OutgoingBareNewline::Normalize);
    let mut wire: Vec<Bytes> = Vec::new();
    for piece in pieces {
        encoder
            .encode_bytes(&Bytes::copy_from_slice(piece), &mut wire)
            .unwrap();
    }
    encoder.finish_bytes(&mut wire).unwrap();
    bytes_of(&wire)
}

proptest! {
    #[test]
    fn encode_then_decode_is_the_identity(
        content in content(),
        encode_cuts in cuts(),
        decode_cuts in cuts(),
    ) {
        let expected = normalized(&content);
        let wire = encode_copying(&split_at_points(&content, &encode_cuts));
        prop_assert_eq!(&wire, &encode_copying(&[&content]));
        prop_assert_eq!(&wire, &encode_slicing(&split_at_points(&content, &encode_cuts)));
        let input = [&wire[..], b"QUIT\r\n"].concat();
        let out = decode_pieces(&DataDecoder::new(), &split_at_points(&input, &decode_cuts));
        prop_assert_eq!(&out.content, &expected);
        prop_assert_eq!(&out.rest, b"QUIT\r\n");
        let end = out.end.unwrap();
        prop_assert_eq!(end.size, expected.len() as u64);
        prop_assert_eq!(end.refusal(), None);
    }

    #[test]
    fn encoder_agrees_with_a_line_by_line_oracle(content in long_lines(), cuts in cuts()) {
        let expected = stuffed(&content);
        let pieces = split_at_points(&content, &cuts);
        prop_assert_eq!(&encode_copying(&pieces), &expected);
        prop_assert_eq!(&encode_slicing(&pieces), &expected);
        let input = [&expected[..], b"QUIT\r\n"].concat();
        let out = decode_pieces(&DataDecoder::new(), &split_at_points(&input, &cuts));
        prop_assert_eq!(out.content, normalized(&content));
    }

    #[test]
    fn clean_content_passes_reject_unchanged(content in content(), cuts in cuts()) {
        let clean = normalized(&content);
        let mut encoder = DataEncoder::new(OutgoingBareNewline::Reject);
        let mut wire = Vec::new();
        for piece in split_at_points(&clean, &cuts) {
            encoder.encode(piece, &mut wire).unwrap();
        }
        encoder.finish(&mut wire).unwrap();
        prop_assert_eq!(wire, encode_copying(&[&clean]));
    }

    #[test]
    fn decoder_gives_the_same_result_for_any_split(
        input in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a'), any::<u8>()], 0..200),
        cuts in cuts(),
        max_line in 2usize..12,
        max_size in 0u64..64,
        accept in any::<bool>(),
    ) {
        let policy = if accept { IncomingBareNewline::Accept } else { IncomingBareNewline::Reject };
        let decoder = DataDecoder::new()
            .with_max_line(max_line)
            .with_max_size(max_size)
            .with_bare_newline(policy);
        let whole = decode_pieces(&decoder, &[&input]);
        prop_assert_eq!(&decode_pieces(&decoder, &split_at_points(&input, &cuts)), &whole);
        let bytewise: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(&decode_pieces(&decoder, &bytewise), &whole);
        prop_assert!(whole.content.len() as u64 <= max_size);
    }

    #[test]
    fn bdat_encoder_repairs_like_data(content in content(), cuts in cuts()) {
        let mut encoder = BdatEncoder::new(OutgoingBareNewline::Normalize);
        let mut decoder = BdatDecoder::new();
        let mut received = Vec::new();
        let pieces = split_at_points(&content, &cuts);
        for (i, piece) in pieces.iter().enumerate() {
            let mut wire = BytesMut::new();
            let last = i + 1 == pieces.len();
            let size = encoder.encode_chunk(piece, last, &mut wire).unwrap();
            let header_len = wire.len() - size as usize;
            let _ = wire.split_to(header_len);
            decoder.begin_chunk(size, last);
            while let Some(BdatEvent::Content(chunk)) = decoder.decode(&mut wire) {
                received.extend_from_slice(&chunk);
            }
            prop_assert!(wire.is_empty());
        }
        // BDAT adds no final CRLF: compare without the one the oracle adds.
        let mut expected = normalized(&content);
        if !content.ends_with(b"\r") && !content.ends_with(b"\n") && !content.is_empty() {
            expected.truncate(expected.len() - 2);
        }
        prop_assert_eq!(received, expected);
    }
}
