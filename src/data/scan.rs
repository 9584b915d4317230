//! Bulk checks shared by the encoders and the decoder: the common case (text
//! with CRLF line endings only) is settled a block at a time in one pass,
//! and only blocks with a bare CR or LF are walked line by line.

/// How much the fast path takes in one step: one call reads at most this
/// far past the last line that starts with a dot.
pub(crate) const BLOCK: usize = 32 << 10;

/// The length of the front of `block` that is plain text with CRLF line
/// endings, up to and including the LF before the first line that starts
/// with a dot, or all of it. `None` if a bare CR or LF comes first.
///
/// Every byte before the last is judged against the one after it; the last
/// byte (a CR that may be half of a CRLF) and the first byte's pairing with
/// what came before are the caller's, as is a dot at the second byte.
///
/// One branch-free pass reads 64 bytes a step, then 16, so that plain text
/// is read once and compiles to vector compares; only the last few bytes
/// before a stop are looked at one by one.
pub(crate) fn plain_run(block: &[u8]) -> Option<usize> {
    let coarse = plain_steps::<{ 64 + 2 }>(block, 0);
    let mut at = plain_steps::<{ 16 + 2 }>(block, coarse);
    while let (Some(&byte), Some(&next)) = (block.get(at), block.get(at + 1)) {
        let lf = next == b'\n';
        if lf != (byte == b'\r') {
            return None;
        }
        // RFC 5321 §4.5.2: only a line start can carry a stuffing dot.
        if lf && block.get(at + 2) == Some(&b'.') {
            return Some(at + 2);
        }
        at += 1;
    }
    Some(block.len())
}

/// How far from `from`, in whole steps of `WIDE - 2` bytes, every `i` has
/// `block[i]` a CR exactly when `block[i + 1]` is an LF, and no line starting
/// with a dot at `block[i + 2]`: the check of [`plain_run`] with no branch
/// inside a step. Each step looks at two more bytes than it judges.
fn plain_steps<const WIDE: usize>(block: &[u8], from: usize) -> usize {
    const { assert!(WIDE > 2) };
    let mut at = from;
    while let Some(step) = block
        .get(at..at + WIDE)
        .and_then(|bytes| <&[u8; WIDE]>::try_from(bytes).ok())
    {
        let flagged = step.iter().zip(&step[1..]).zip(&step[2..]).fold(
            0u8,
            |flagged, ((&byte, &next), &after_next)| {
                let lf = next == b'\n';
                flagged | u8::from(lf != (byte == b'\r')) | u8::from(lf & (after_next == b'.'))
            },
        );
        if flagged != 0 {
            break;
        }
        at += WIDE - 2;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::plain_run;
    use alloc::vec::Vec;

    #[test]
    fn plain_run_stops_before_dot_lines_and_at_bare_newlines() {
        assert_eq!(plain_run(b""), Some(0));
        assert_eq!(plain_run(b"ab\r\ncd\r\n"), Some(8));
        assert_eq!(plain_run(b"ab\r"), Some(3), "a final CR is not judged");
        assert_eq!(plain_run(b"\nab"), Some(3), "nor the first byte's pair");
        assert_eq!(plain_run(b"a\nb"), None);
        assert_eq!(plain_run(b"a\rb"), None);
        assert_eq!(plain_run(b"a\n\rb"), None);
        assert_eq!(plain_run(b"a\r\r\n"), None);
        assert_eq!(plain_run(b"ab\r\n.x\r\n"), Some(4));
        assert_eq!(plain_run(b"ab\n.x\r\n"), None);
        assert_eq!(plain_run(b"ab.\r\nx.\r\n"), Some(9));
    }

    #[test]
    fn plain_run_is_exact_at_every_position_in_long_text() {
        let text: Vec<u8> = b"plain text line\r\n".repeat(40);
        assert_eq!(plain_run(&text), Some(text.len()));
        for at in 1..text.len() {
            let mut dotted = text.clone();
            dotted.insert(at, b'.');
            let expected = match text[at - 1] {
                b'\r' => None,
                b'\n' => Some(at),
                _ => Some(dotted.len()),
            };
            assert_eq!(plain_run(&dotted), expected, "dot at {at}");
            for bare in [b'\r', b'\n'] {
                let mut marked = text.clone();
                marked.insert(at, bare);
                let judged = at + 1 < marked.len();
                let result = plain_run(&marked);
                assert!(result.is_none() || !judged, "{bare} at {at}: {result:?}");
            }
        }
    }
}
