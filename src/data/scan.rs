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
    use super::crlf_only;

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
}
