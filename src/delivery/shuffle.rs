//! A seeded shuffle: the caller brings the randomness, so the same seed
//! always gives the same order and the crate needs no entropy source.

use alloc::vec::Vec;

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

/// Disjoint random samples of `0..count`, one of each of `sizes` (an A/B
/// test's variants): the same seed always gives the same samples. Sizes
/// past what is left get what is left.
///
/// ```
/// use smtpwire::delivery::disjoint_samples;
///
/// let samples = disjoint_samples(100, &[10, 20], 7);
/// assert_eq!((samples[0].len(), samples[1].len()), (10, 20));
/// assert!(samples[0].iter().all(|index| !samples[1].contains(index)));
/// assert_eq!(samples, disjoint_samples(100, &[10, 20], 7));
/// assert_eq!(disjoint_samples(3, &[2, 2], 0)[1].len(), 1);
/// ```
pub fn disjoint_samples(count: usize, sizes: &[usize], seed: u64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..count).collect();
    SplitMix64::new(seed).shuffle(&mut order);
    let mut rest = order.as_slice();
    sizes
        .iter()
        .map(|&size| {
            let (sample, after) = rest.split_at(size.min(rest.len()));
            rest = after;
            let mut sample = sample.to_vec();
            // In list order: a sample is sent in the order of the list.
            sample.sort_unstable();
            sample
        })
        .collect()
}
