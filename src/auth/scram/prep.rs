//! SASLprep (RFC 4013), the preparation RFC 5802 §2.2 asks for user names
//! and passwords, from the `stringprep` crate when it is built in.

use alloc::borrow::Cow;

/// The prepared string, or `None` when SASLprep refuses it (a prohibited
/// character, bad bidirectional text) or it prepares to nothing.
#[cfg(feature = "saslprep")]
pub(crate) fn saslprep(input: &str) -> Option<Cow<'_, str>> {
    stringprep::saslprep(input)
        .ok()
        .filter(|prepared| !prepared.is_empty())
}

/// Without the tables, only the strings SASLprep maps to themselves are
/// taken: printable US-ASCII and space (RFC 4013 §2 maps and prohibits
/// nothing else among them, and NFKC leaves ASCII as it is).
#[cfg(not(feature = "saslprep"))]
pub(crate) fn saslprep(input: &str) -> Option<Cow<'_, str>> {
    let unchanged = !input.is_empty() && input.bytes().all(|b| (0x20..0x7f).contains(&b));
    unchanged.then_some(Cow::Borrowed(input))
}
