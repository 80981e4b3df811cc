//! The guest's randomness: a deterministic stream from the sandbox's seed.

use std::convert::Infallible;

/// A deterministic random stream (SplitMix64) from a seed: what `random_get` returns.
#[derive(Clone, Debug)]
pub(super) struct SeededRandom {
    state: u64,
}

impl SeededRandom {
    /// The stream of `seed`.
    pub(super) fn new(seed: u64) -> SeededRandom {
        SeededRandom { state: seed }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl rand::TryRng for SeededRandom {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> std::result::Result<u32, Infallible> {
        Ok(self.next() as u32)
    }
    fn try_next_u64(&mut self) -> std::result::Result<u64, Infallible> {
        Ok(self.next())
    }
    fn try_fill_bytes(&mut self, buf: &mut [u8]) -> std::result::Result<(), Infallible> {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
