//! A seeded shuffle: the caller brings the randomness, so the same seed
//! always gives the same order and the crate needs no entropy source.

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast, and every seed,
/// zero included, gives a full-period stream. Not for secrets.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `bound` (which must not be 0), by the multiply-high
    /// reduction; its bias, at most `bound / 2^64`, is far below anything
    /// load spreading could notice.
    fn below(&mut self, bound: usize) -> usize {
        let wide = u128::from(self.next_u64()) * bound as u128;
        // The high half is below `bound`, so it fits a usize.
        (wide >> 64) as usize
    }

    /// Fisher-Yates: every permutation of `items` equally likely.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            let pick = self.below(last + 1);
            items.swap(pick, last);
        }
    }
}
