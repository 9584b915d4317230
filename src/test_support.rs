//! Helpers shared by the crate's unit tests.

use alloc::vec::Vec;
use proptest::sample::Index;

/// Splits `input` at the given cut points (any order, any value), for tests
/// that check the same result however input arrives.
pub(crate) fn split_at_points<'a>(input: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for point in points {
        pieces.push(&input[start..point]);
        start = point;
    }
    pieces.push(&input[start..]);
    pieces
}
