//! Bulk checks shared by the encoders and the decoder: the common case (text
//! with CRLF line endings only) is settled a block at a time, and only
//! blocks that fail the check are walked line by line.

use memchr::memmem::Finder;

/// How much the fast path takes in one step: small enough that the second
/// pass over a block reads it from cache.
pub(crate) const BLOCK: usize = 32 << 10;

/// A searcher for `LF "."`: in a block with CRLF line endings only, every
/// match is a line that starts with a dot.
pub(crate) fn dot_line_finder() -> Finder<'static> {
    Finder::new(b"\n.")
}

/// How many bytes the single-pass check in [`plain_prefix`] judges at a time.
const STEP: usize = 64;

/// The length, a multiple of [`STEP`], of the front of `block` that is plain
/// text: for every `i` below it, `block[i]` is a CR exactly when
/// `block[i + 1]` is an LF, and `block[i + 2]` does not start a line with a
/// dot. The first byte's own pairing with what came before is not judged.
///
/// This is the check of [`crlf_only`] and the search of [`dot_line_finder`]
/// in one branch-free pass per step, so each byte is read once, from memory,
/// and not again from cache; it stops at the first step that has anything
/// to look at more closely, which the callers do with those two.
pub(crate) fn plain_prefix(block: &[u8]) -> usize {
    let mut len = 0;
    while let Some(step) = block
        .get(len..len + STEP + 2)
        .and_then(|bytes| <&[u8; STEP + 2]>::try_from(bytes).ok())
    {
        let (before, after) = (&step[..STEP], &step[1..]);
        let flagged = before.iter().zip(after).zip(&step[2..]).fold(
            0u8,
            |flagged, ((&before, &byte), &next)| {
                let lf = byte == b'\n';
                flagged | u8::from(lf != (before == b'\r')) | u8::from(lf & (next == b'.'))
            },
        );
        if flagged != 0 {
            break;
        }
        len += STEP;
    }
    len
}

/// Whether every LF in `block` follows a CR and every CR is followed by an
/// LF, given whether the byte before the block was a CR. A CR that is the
/// last byte of the block is left for the next block to judge.
///
/// Written as a branch-free fold over byte pairs so that it compiles to
/// vector compares: it runs once per block, not once per line.
pub(crate) fn crlf_only(after_cr: bool, block: &[u8]) -> bool {
    let Some((&first, rest)) = block.split_first() else {
        return true;
    };
    let mismatched = rest.iter().zip(block).fold(0u8, |bad, (&byte, &before)| {
        bad | u8::from((byte == b'\n') != (before == b'\r'))
    });
    (first == b'\n') == after_cr && mismatched == 0
}

#[cfg(test)]
mod tests {
    use super::{crlf_only, plain_prefix, STEP};
    use alloc::vec::Vec;

    #[test]
    fn crlf_only_judges_pairs() {
        assert!(crlf_only(false, b""));
        assert!(crlf_only(false, b"ab\r\ncd\r\n"));
        assert!(crlf_only(false, b"ab\r"), "a final CR is not judged");
        assert!(crlf_only(true, b"\nab"));
        assert!(!crlf_only(false, b"\nab"));
        assert!(!crlf_only(true, b"ab"));
        assert!(!crlf_only(false, b"a\nb"));
        assert!(!crlf_only(false, b"a\rb"));
        assert!(!crlf_only(false, b"a\n\rb"));
        assert!(!crlf_only(false, b"a\r\r\n"));
    }

    #[test]
    fn plain_prefix_stops_at_the_step_to_look_at() {
        let text: Vec<u8> = b"plain text line\r\n".repeat(40);
        let whole = plain_prefix(&text);
        assert_eq!(whole, (text.len() - 2) / STEP * STEP);
        for (at, byte) in [(100, b'\n'), (100, b'\r'), (17 * 9, b'.')] {
            let mut marked = text.clone();
            marked.insert(at, byte);
            let prefix = plain_prefix(&marked);
            assert!(prefix <= at && at < prefix + STEP + 2, "{at} {byte}");
        }
        // A dot that starts a line, and one that does not.
        let mut dotted = text.clone();
        dotted.insert(17 * 5, b'.');
        assert_eq!(plain_prefix(&dotted), 64);
        dotted[17 * 5 - 1] = b'x';
        dotted[17 * 5 - 2] = b'x';
        assert_eq!(plain_prefix(&dotted), (dotted.len() - 2) / STEP * STEP);
        assert_eq!(plain_prefix(b"short\r\n"), 0);
        assert_eq!(plain_prefix(b""), 0);
    }
}
