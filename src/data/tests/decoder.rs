use super::*;
use crate::limits;
use alloc::vec;
use proptest::prelude::*;

const SMUGGLED: &[u8] = b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nFrom: ceo\r\n\r\nsmuggled\r\n";

/// A look-alike end sequence inside a message, then the real end and a
/// pipelined command: the look-alike must be content, read under every split.
fn look_alike(sequence: &[u8], content_form: &[u8], bare_cr: bool, bare_lf: bool) {
    let head = b"From: a@example.org\r\n\r\nbody";
    let input = [&head[..], sequence, SMUGGLED, b".\r\nQUIT\r\n"].concat();
    let expected = [&head[..], content_form, SMUGGLED].concat();
    for policy in [IncomingBareNewline::Reject, IncomingBareNewline::Accept] {
        let decoder = DataDecoder::new().with_bare_newline(policy);
        let out = decode_every_split(&decoder, &input);
        assert_eq!(out.content, expected);
        assert_eq!(out.rest, b"QUIT\r\n", "only the real end ends the data");
        let end = out.end.unwrap();
        assert_eq!(end.size, expected.len() as u64);
        assert_eq!((end.bare_cr, end.bare_lf), (bare_cr, bare_lf));
        let refused = policy == IncomingBareNewline::Reject && (bare_cr || bare_lf);
        assert_eq!(end.refusal() == Some(DataRefusal::BareNewline), refused);
    }
}

macro_rules! look_alike_tests {
    ($($name:ident: $sequence:expr => $content:expr, cr: $cr:expr, lf: $lf:expr;)*) => {
        $(
            #[test]
            fn $name() {
                look_alike($sequence, $content, $cr, $lf);
            }
        )*
    };
}

// The sequences of hannob/smtpsmug, the SMTP-Smuggling-Tools scanner and the
// Exim CVE-2023-51766 advisory. A dot that starts a CRLF line is a stuffing dot
// and goes; any other stays.
look_alike_tests! {
    lf_dot_lf: b"\n.\n" => b"\n.\n", cr: false, lf: true;
    lf_dot_cr: b"\n.\r" => b"\n.\r", cr: true, lf: true;
    cr_dot_lf: b"\r.\n" => b"\r.\n", cr: true, lf: true;
    cr_dot_cr: b"\r.\r" => b"\r.\r", cr: true, lf: false;
    lf_dot_crlf: b"\n.\r\n" => b"\n.\r\n", cr: false, lf: true;
    cr_dot_crlf: b"\r.\r\n" => b"\r.\r\n", cr: true, lf: false;
    crlf_dot_lf: b"\r\n.\n" => b"\r\n\n", cr: false, lf: true;
    crlf_dot_cr: b"\r\n.\r" => b"\r\n\r", cr: true, lf: false;
    crlf_dot_cr_crlf: b"\r\n.\r\r\n" => b"\r\n\r\r\n", cr: true, lf: false;
    cr_crlf_dot_cr_crlf: b"\r\r\n.\r\r\n" => b"\r\r\n\r\r\n", cr: true, lf: false;
    lf_lf_dot_lf_lf: b"\n\n.\n\n" => b"\n\n.\n\n", cr: false, lf: true;
    nul_before_dot: b"\r\n\x00.\r\n" => b"\r\n\x00.\r\n", cr: false, lf: false;
    nul_after_dot: b"\r\n.\x00\r\n" => b"\r\n\x00\r\n", cr: false, lf: false;
    space_after_dot: b"\r\n. \r\n" => b"\r\n \r\n", cr: false, lf: false;
    two_dots: b"\r\n..\r\n" => b"\r\n.\r\n", cr: false, lf: false;
}

#[test]
fn pipelined_commands_stay_in_the_buffer() {
    let input = b"Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
    let out = decode_every_split(&DataDecoder::new(), input);
    assert_eq!(out.content, b"Subject: x\r\n\r\nbody\r\n");
    assert_eq!(out.rest, b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
    assert_eq!(out.end.unwrap().refusal(), None);
}

#[test]
fn empty_message_ends_at_the_first_line() {
    // stalwartlabs/smtp-proto#14: right after 354, ".CRLF" alone is the end.
    let out = decode_every_split(&DataDecoder::new(), b".\r\nQUIT\r\n");
    assert_eq!(out.content, b"");
    assert_eq!(out.end.unwrap().size, 0);
    assert_eq!(out.rest, b"QUIT\r\n");
}

#[test]
fn empty_line_then_end() {
    let out = decode_every_split(&DataDecoder::new(), b"\r\n.\r\n");
    assert_eq!(out.content, b"\r\n");
    assert!(out.end.is_some());
}

#[test]
fn message_of_only_dots() {
    let out = decode_every_split(&DataDecoder::new(), b"..\r\n...\r\n..\r\n.\r\n");
    assert_eq!(out.content, b".\r\n..\r\n.\r\n");
    assert_eq!(out.end.unwrap().size, 10);
}

#[test]
fn stuffed_dots_are_split_around_not_copied() {
    let mut buf = BytesMut::from(&b"one\r\n..two\r\n.\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let mut decoder = DataDecoder::new();
    let Some(DataEvent::Content(first)) = decoder.decode(&mut buf) else {
        panic!()
    };
    let Some(DataEvent::Content(second)) = decoder.decode(&mut buf) else {
        panic!()
    };
    assert_eq!(
        (&first[..], &second[..]),
        (&b"one\r\n"[..], &b".two\r\n"[..])
    );
    assert_eq!(first.as_ptr() as usize, base);
    assert_eq!(second.as_ptr() as usize, base + 6);
    assert!(matches!(decoder.decode(&mut buf), Some(DataEvent::End(_))));
    assert!(decoder.is_finished());
    assert_eq!(decoder.decode(&mut buf), None);
}

#[test]
fn incomplete_input_is_need_more_not_an_error() {
    let mut decoder = DataDecoder::new();
    let mut buf = BytesMut::from(&b"line\r\n."[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Some(DataEvent::Content("line\r\n".into()))
    );
    assert_eq!(decoder.decode(&mut buf), None);
    assert_eq!(&buf[..], b".", "only the dot is held back");
    buf.extend_from_slice(b"\r");
    assert_eq!(decoder.decode(&mut buf), None);
    buf.extend_from_slice(b"\n");
    assert!(matches!(decoder.decode(&mut buf), Some(DataEvent::End(_))));
}

#[test]
fn bare_newlines_follow_the_policy() {
    let input = b"a\nb\rc\r\n.\r\n";
    let reject = decode_every_split(&DataDecoder::new(), input);
    assert_eq!(reject.content, b"a\nb\rc\r\n", "content is still streamed");
    let end = reject.end.unwrap();
    assert!(end.bare_cr && end.bare_lf);
    assert_eq!(end.refusal(), Some(DataRefusal::BareNewline));
    let accept_decoder = DataDecoder::new().with_bare_newline(IncomingBareNewline::Accept);
    let accept = decode_every_split(&accept_decoder, input);
    assert_eq!(accept.content, reject.content);
    assert_eq!(accept.end.unwrap().refusal(), None);
    let clean = decode_every_split(&DataDecoder::new(), b"a\r\nb\r\n.\r\n");
    let end = clean.end.unwrap();
    assert!(!end.bare_cr && !end.bare_lf);
}

#[test]
fn cr_at_the_end_of_a_read_is_not_yet_bare() {
    let out = decode_pieces(&DataDecoder::new(), &[b"a\r", b"\nb\r", b"\n.\r\n"]);
    assert!(!out.end.unwrap().bare_cr);
    let out = decode_pieces(&DataDecoder::new(), &[b"a\r", b"b\r\n.\r\n"]);
    assert!(out.end.unwrap().bare_cr);
}

fn line_of(len_with_crlf: usize, first: u8) -> Vec<u8> {
    let mut line = vec![b'x'; len_with_crlf - 2];
    line[0] = first;
    line.extend_from_slice(b"\r\n");
    line
}

#[test]
fn over_long_line_is_flagged_by_counting() {
    let max = limits::DEFAULT_MAX_TEXT_LINE;
    let fits = [line_of(max, b'x'), b".\r\n".to_vec()].concat();
    assert!(
        !decode_pieces(&DataDecoder::new(), &[&fits])
            .end
            .unwrap()
            .line_too_long
    );
    let over = [line_of(max + 1, b'x'), b".\r\n".to_vec()].concat();
    let out = decode_pieces(&DataDecoder::new(), &[&over]);
    assert!(out.end.unwrap().line_too_long);
    assert_eq!(out.end.unwrap().refusal(), None);
    // The stuffing dot is not part of the line.
    let stuffed = [b".".to_vec(), line_of(max, b'.'), b".\r\n".to_vec()].concat();
    let out = decode_pieces(&DataDecoder::new(), &[&stuffed]);
    assert!(!out.end.unwrap().line_too_long);
    assert_eq!(out.content.len(), max);
}

#[test]
fn line_limit_is_configurable_and_split_invariant() {
    let decoder = DataDecoder::new().with_max_line(6);
    let fits = decode_every_split(&decoder, b"abcd\r\n..bcd\r\nab\rd\r\n.\r\n");
    assert!(!fits.end.unwrap().line_too_long);
    let over = decode_every_split(&decoder, b"abcd\r\nabcde\r\n.\r\n");
    assert!(over.end.unwrap().line_too_long);
    // A bare LF does not end a line.
    let over = decode_every_split(&decoder, b"ab\ncd\r\n.\r\n");
    assert!(over.end.unwrap().line_too_long);
}

#[test]
fn endless_line_is_never_buffered() {
    let mut decoder = DataDecoder::new().with_max_size(1 << 20);
    let mut buf = BytesMut::new();
    let mut handed_out = 0;
    for _ in 0..1000 {
        buf.extend_from_slice(&[b'y'; 4096]);
        while let Some(DataEvent::Content(chunk)) = decoder.decode(&mut buf) {
            handed_out += chunk.len();
        }
        assert!(buf.is_empty());
    }
    buf.extend_from_slice(b"\r\n.\r\n");
    let Some(DataEvent::End(end)) = decoder.decode(&mut buf) else {
        panic!()
    };
    assert!(end.line_too_long && end.size_exceeded);
    assert_eq!(end.size, 4096 * 1000 + 2);
    assert_eq!(handed_out, 1 << 20);
}

#[test]
fn size_limit_stops_content_but_not_the_search_for_the_end() {
    let decoder = DataDecoder::new().with_max_size(10);
    let exact = decode_every_split(&decoder, b"12345678\r\n.\r\nQUIT\r\n");
    assert!(!exact.end.unwrap().size_exceeded);
    assert_eq!(exact.content, b"12345678\r\n");
    let input = b"12345678\r\n..after the limit\r\n\r\n.\r\nQUIT\r\n";
    let out = decode_every_split(&decoder, input);
    let end = out.end.unwrap();
    assert!(end.size_exceeded);
    assert_eq!(end.refusal(), Some(DataRefusal::TooLarge));
    assert_eq!(end.size, 10 + 18 + 2);
    assert_eq!(
        out.content, b"12345678\r\n",
        "exactly the content up to the limit"
    );
    assert_eq!(
        out.rest, b"QUIT\r\n",
        "the refusal comes after the real end"
    );
}

/// An independent oracle for the decoder: walks `input` one CRLF line at a
/// time. Returns the content, the end (if any) and what follows it.
fn decode_by_lines(input: &[u8], max_line: usize) -> Decoded {
    let mut content = Vec::new();
    let (mut bare_cr, mut bare_lf, mut line_too_long) = (false, false, false);
    let mut pos = 0;
    while let Some(len) = input[pos..].windows(2).position(|pair| pair == b"\r\n") {
        let line = &input[pos..pos + len + 2];
        pos += len + 2;
        if line == b".\r\n" {
            let end = DataEnd {
                size: content.len() as u64,
                size_exceeded: false,
                bare_cr,
                bare_lf,
                line_too_long,
                bare_newline: IncomingBareNewline::Reject,
            };
            return Decoded {
                content,
                end: Some(end),
                rest: input[pos..].to_vec(),
            };
        }
        let line = line.strip_prefix(b".").unwrap_or(line);
        bare_cr |= line[..line.len() - 2].contains(&b'\r');
        bare_lf |= line[..line.len() - 2].contains(&b'\n');
        line_too_long |= line.len() > max_line;
        content.extend_from_slice(line);
    }
    panic!("test input without an end")
}

/// Lines of many lengths around the limit, dot lines and the odd bare CR or
/// LF, long enough for the block-at-a-time paths.
fn varied_lines() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        6 => (0usize..300).prop_map(|len| vec![b'a'; len]),
        4 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r\n.".to_vec()),
        1 => Just(b"\r\n..".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just(b"\n".to_vec()),
        1 => Just(b".".to_vec()),
    ];
    proptest::collection::vec(piece, 0..60)
        .prop_map(|pieces| [&pieces.concat()[..], b"\r\n.\r\nQUIT\r\n"].concat())
}

proptest! {
    #[test]
    fn decoder_agrees_with_a_line_by_line_oracle(
        input in varied_lines(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        max_line in 1usize..400,
    ) {
        let decoder = DataDecoder::new().with_max_line(max_line);
        let expected = decode_by_lines(&input, max_line);
        prop_assert_eq!(&decode_pieces(&decoder, &[&input]), &expected);
        prop_assert_eq!(
            &decode_pieces(&decoder, &split_at_points(&input, &cuts)),
            &expected
        );
    }
}

#[test]
fn long_message_agrees_with_the_oracle_across_blocks() {
    // Line lengths sweep past the default limit; every 7th line is stuffed.
    let mut input = Vec::new();
    for line in 0..400usize {
        if line % 7 == 3 {
            input.push(b'.');
        }
        input.extend(core::iter::repeat(b'x').take(line * 37 % 1100));
        input.extend_from_slice(b"\r\n");
    }
    input.extend_from_slice(b".\r\nQUIT\r\n");
    let expected = decode_by_lines(&input, limits::DEFAULT_MAX_TEXT_LINE);
    assert!(expected.end.unwrap().line_too_long);
    for read in [1 << 20, 65_536, 4096, 1000, 333, 64] {
        let pieces: Vec<&[u8]> = input.chunks(read).collect();
        assert_eq!(
            decode_pieces(&DataDecoder::new(), &pieces),
            expected,
            "reads of {read}"
        );
    }
}
