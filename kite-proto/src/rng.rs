//! A small seeded generator, for deterministic drivers and tests.

use rand_core::{RngCore, SeedableRng};

/// xoshiro256++: a fast, seedable, non-cryptographic generator.
///
/// The core takes any [`RngCore`]; this one is here so that the simulator,
/// tests and fuzzers can build reproducible nodes from one `u64` seed
/// without another dependency. Adapters seed nodes from the OS instead.
///
/// ```
/// use kite_proto::SeededRng;
/// use rand_core::RngCore;
///
/// let mut a = SeededRng::from_seed_u64(42);
/// let mut b = SeededRng::from_seed_u64(42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// ```
#[derive(Clone, Debug)]
pub struct SeededRng {
    s: [u64; 4],
}

impl SeededRng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn from_seed_u64(seed: u64) -> Self {
        let mut sm = seed;
        let mut s = [0u64; 4];
        for word in &mut s {
            *word = splitmix64(&mut sm);
        }
        SeededRng { s }
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[0]
            .wrapping_add(self.s[3])
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

impl SeedableRng for SeededRng {
    type Seed = [u8; 8];

    fn from_seed(seed: Self::Seed) -> Self {
        SeededRng::from_seed_u64(u64::from_le_bytes(seed))
    }
}

/// Uniform index below `len` (which must be non-zero).
pub(crate) fn index(rng: &mut dyn RngCore, len: usize) -> usize {
    debug_assert!(len > 0);
    ((u128::from(rng.next_u64()) * len as u128) >> 64) as usize
}

/// Fisher-Yates shuffle.
pub(crate) fn shuffle<T>(rng: &mut dyn RngCore, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = index(rng, i + 1);
        items.swap(i, j);
    }
}

/// Up to `k` distinct items of `items`, in random order.
pub(crate) fn sample<T: Clone>(rng: &mut dyn RngCore, items: &[T], k: usize) -> Vec<T> {
    let mut picked: Vec<T> = items.to_vec();
    let k = k.min(picked.len());
    for i in 0..k {
        let j = i + index(rng, picked.len() - i);
        picked.swap(i, j);
    }
    picked.truncate(k);
    picked
}
