//! The recording RNG: every byte hush-crypto draws is logged, so each vector can list the random
//! bytes an operation consumed and another implementation can replay them.

use std::convert::Infallible;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng, TryCryptoRng, TryRng};

#[derive(Debug)]
enum Source {
    /// `generate`: a seeded `StdRng`.
    Seeded(Box<StdRng>),
    /// `check`: the bytes a vector file recorded, in order.
    Replay { bytes: Vec<u8>, position: usize },
}

/// A `CryptoRng` over a deterministic source that logs every byte handed out.
///
/// `next_u32`/`next_u64` are 4/8 bytes of `fill_bytes` read little-endian (rand_core's
/// `next_word_via_fill` convention), so the byte log alone describes every draw.
#[derive(Debug)]
pub struct Recorder {
    source: Source,
    drawn: Vec<u8>,
    mark: usize,
    /// Set when a replay ran out of bytes (the missing bytes were zeros): the check fails.
    pub exhausted: bool,
}

impl Recorder {
    pub fn seeded(seed: u64) -> Self {
        Self::with(Source::Seeded(Box::new(StdRng::seed_from_u64(seed))))
    }

    pub fn replay(bytes: Vec<u8>) -> Self {
        Self::with(Source::Replay { bytes, position: 0 })
    }

    fn with(source: Source) -> Self {
        Self {
            source,
            drawn: Vec::new(),
            mark: 0,
            exhausted: false,
        }
    }

    /// The bytes drawn since the last `take` or `input`.
    pub fn take(&mut self) -> Vec<u8> {
        let out = self.drawn[self.mark..].to_vec();
        self.mark = self.drawn.len();
        out
    }

    /// `take` as hex.
    pub fn take_hex(&mut self) -> String {
        crate::util::hex(&self.take())
    }

    /// A vector input (a seed, an id) drawn from the stream; not attributed to any operation.
    pub fn input<const N: usize>(&mut self) -> [u8; N] {
        assert_eq!(
            self.mark,
            self.drawn.len(),
            "unattributed random bytes before an input"
        );
        let mut out = [0u8; N];
        self.fill_bytes(&mut out);
        self.mark = self.drawn.len();
        out
    }

    /// Every byte drawn so far.
    pub fn stream(&self) -> &[u8] {
        &self.drawn
    }

    /// Whether a replay left recorded bytes unused.
    pub fn leftover(&self) -> usize {
        match &self.source {
            Source::Seeded(_) => 0,
            Source::Replay { bytes, position } => bytes.len() - position,
        }
    }
}

impl TryRng for Recorder {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        match &mut self.source {
            Source::Seeded(rng) => rng.fill_bytes(dst),
            Source::Replay { bytes, position } => {
                for byte in dst.iter_mut() {
                    match bytes.get(*position) {
                        Some(value) => {
                            *byte = *value;
                            *position += 1;
                        }
                        None => {
                            *byte = 0;
                            self.exhausted = true;
                        }
                    }
                }
            }
        }
        self.drawn.extend_from_slice(dst);
        Ok(())
    }
}

impl TryCryptoRng for Recorder {}

/// Randomness whose bytes never reach a vector (for example the signed prekey of an account made
/// only to sign with its identity key).
pub fn throwaway() -> StdRng {
    StdRng::seed_from_u64(0)
}
