use super::*;

fn encode_chunks(chunks: &[&[u8]], policy: OutgoingBareNewline) -> Result<Vec<u8>, EncodeError> {
    let mut encoder = DataEncoder::new(policy);
    let mut out = Vec::new();
    for chunk in chunks {
        encoder.encode(chunk, &mut out)?;
    }
    encoder.finish(&mut out)?;
    Ok(out)
}

fn normalized(chunks: &[&[u8]]) -> Vec<u8> {
    encode_chunks(chunks, OutgoingBareNewline::Normalize).unwrap()
}

#[test]
fn empty_content_is_just_the_end() {
    assert_eq!(normalized(&[]), b".\r\n");
    assert_eq!(normalized(&[b"", b""]), b".\r\n");
}

#[test]
fn final_crlf_is_added_when_missing() {
    assert_eq!(normalized(&[b"Hello"]), b"Hello\r\n.\r\n");
    assert_eq!(normalized(&[b"Hello\r\n"]), b"Hello\r\n.\r\n");
    assert_eq!(normalized(&[b"\r\n"]), b"\r\n.\r\n");
}

#[test]
fn every_line_starting_with_a_dot_is_stuffed() {
    // First line, after an empty line (RUSTSEC-2021-0069), a line of one dot,
    // a line that already starts with two.
    let content = b".first\r\n\r\n.\r\n..two\r\nmid.dle\r\n.";
    assert_eq!(
        normalized(&[content]),
        b"..first\r\n\r\n..\r\n...two\r\nmid.dle\r\n..\r\n.\r\n"
    );
}

#[test]
fn dot_after_a_chunk_boundary_is_stuffed() {
    assert_eq!(normalized(&[b"a\r\n", b".b\r\n"]), b"a\r\n..b\r\n.\r\n");
    assert_eq!(normalized(&[b"a\r", b"\n.b"]), b"a\r\n..b\r\n.\r\n");
    assert_eq!(normalized(&[b"a\r\n", b"", b"."]), b"a\r\n..\r\n.\r\n");
}

#[test]
fn message_of_only_dots() {
    assert_eq!(
        normalized(&[b".\r\n.\r\n..\r\n"]),
        b"..\r\n..\r\n...\r\n.\r\n"
    );
}

#[test]
fn bare_lf_is_normalized_and_the_next_line_stuffed() {
    // RUSTSEC-2026-0561: the line after a bare LF is a line like any other.
    assert_eq!(normalized(&[b"a\n.\nb"]), b"a\r\n..\r\nb\r\n.\r\n");
}

#[test]
fn bare_cr_is_normalized_and_the_next_line_stuffed() {
    assert_eq!(normalized(&[b"a\r.\rb"]), b"a\r\n..\r\nb\r\n.\r\n");
    assert_eq!(normalized(&[b"a\r\r\n"]), b"a\r\n\r\n.\r\n");
}

#[test]
fn cr_and_lf_in_separate_chunks_are_one_crlf() {
    assert_eq!(normalized(&[b"a\r", b"\nb"]), b"a\r\nb\r\n.\r\n");
    assert_eq!(normalized(&[b"a\r", b"", b"\nb"]), b"a\r\nb\r\n.\r\n");
    // A CR at the end of one chunk and a non-LF after it: bare CR.
    assert_eq!(normalized(&[b"a\r", b"b"]), b"a\r\nb\r\n.\r\n");
    // A CR at the very end of the content.
    assert_eq!(normalized(&[b"a\r"]), b"a\r\n.\r\n");
}

#[test]
fn reject_names_the_offending_byte() {
    let reject = OutgoingBareNewline::Reject;
    assert_eq!(
        encode_chunks(&[b"ok\r\nbad\nx"], reject),
        Err(EncodeError::BareLineFeed { offset: 7 })
    );
    assert_eq!(
        encode_chunks(&[b"ok\r\n", b"bad\rx"], reject),
        Err(EncodeError::BareCarriageReturn { offset: 7 })
    );
    assert_eq!(
        encode_chunks(&[b"ok\r", b"x"], reject),
        Err(EncodeError::BareCarriageReturn { offset: 2 })
    );
    assert_eq!(
        encode_chunks(&[b"ok\r"], reject),
        Err(EncodeError::BareCarriageReturn { offset: 2 })
    );
    assert_eq!(
        encode_chunks(&[b"ok\r", b"\n.x"], reject).unwrap(),
        b"ok\r\n..x\r\n.\r\n"
    );
}

#[test]
fn bytes_output_matches_and_shares_the_input() {
    let content = Bytes::from_static(b"Subject: x\r\n\r\n.dot\r\nplain body line\r\n");
    let mut encoder = DataEncoder::default();
    let mut out: Vec<Bytes> = Vec::new();
    encoder.encode_bytes(&content, &mut out).unwrap();
    encoder.finish_bytes(&mut out).unwrap();
    assert_eq!(bytes_of(&out), normalized(&[&content]));
    // The long run after the stuffed dot points into the caller's buffer.
    let run = out.iter().find(|c| c.starts_with(b".dot")).unwrap();
    assert!(core::ptr::eq(run.as_ptr(), content[14..].as_ptr()));
}

#[test]
fn encode_message_is_encode_and_finish() {
    let content = b"a\n.b\r\nc";
    assert_eq!(
        encode_message(content, OutgoingBareNewline::Normalize).unwrap(),
        normalized(&[content])
    );
}
