//! The terminals the reply grammar's nom rules are built from.

use nom::IResult;

/// One octet for which `accept` holds, returned as is: the terminal under
/// every ABNF value range and alternative of single characters in the
/// rules (`%x32-35`, `"2" / "4" / "5"`, `DIGIT`, `"-"`).
///
/// nom's own one-item parsers (`satisfy`, `char`, `take`) cut the input
/// with a slice method nom 8.0 does not mark `#[inline]`, which costs a call
/// per octet on the hottest path a client has (every reply line's code);
/// this one compiles to a compare on the first byte.
#[inline]
pub(crate) fn octet<'a>(
    accept: impl Fn(u8) -> bool,
) -> impl Fn(&'a [u8]) -> IResult<&'a [u8], u8, ()> {
    move |input: &'a [u8]| match input.split_first() {
        Some((&byte, rest)) if accept(byte) => Ok((rest, byte)),
        _ => Err(nom::Err::Error(())),
    }
}

/// `DIGIT` (RFC 5234 Appendix B.1), as its value.
#[inline]
pub(crate) fn digit<'a>() -> impl Fn(&'a [u8]) -> IResult<&'a [u8], u8, ()> {
    move |input| octet(|byte| byte.is_ascii_digit())(input).map(|(rest, byte)| (rest, byte - b'0'))
}
