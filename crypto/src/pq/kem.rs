//! ML-KEM-1024 (FIPS 203) behind Hush's own types: a validated public key, a fixed-size
//! ciphertext and a key pair whose 64-byte seed is the only secret kept. Randomness is drawn
//! through the caller's RNG as FIPS 203's internal functions take it (`KeyGen_internal(d, z)`,
//! `Encaps_internal(m)`), so vectors can pin every byte (SPEC.md §17).

use core::fmt;

use ml_kem::array::Array;
use ml_kem::{DecapsulationKey1024, EncapsulationKey1024, KeyExport, Seed, ml_kem_1024};
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::KeyError;
use crate::keys::Secret32;

/// Length of an ML-KEM-1024 encapsulation (public) key.
pub const KEM_PUBLIC_KEY_LEN: usize = 1568;
/// Length of an ML-KEM-1024 ciphertext.
pub const KEM_CIPHERTEXT_LEN: usize = 1568;
/// Length of a key pair's seed `d || z` (FIPS 203 §7.1, the 64-byte decapsulation-key form).
pub const KEM_SEED_LEN: usize = 64;

/// An ML-KEM-1024 encapsulation key that passed FIPS 203's input check (§7.2: every coefficient
/// below `q`), so encapsulating to it cannot fail.
#[derive(Clone, PartialEq, Eq)]
pub struct KemPublicKey(Box<[u8; KEM_PUBLIC_KEY_LEN]>);

impl KemPublicKey {
    /// Parses and checks an encapsulation key.
    pub fn from_bytes(bytes: &[u8; KEM_PUBLIC_KEY_LEN]) -> Result<Self, KeyError> {
        parse(bytes)?;
        Ok(Self(Box::new(*bytes)))
    }

    /// The 1568-byte encoding.
    pub fn as_bytes(&self) -> &[u8; KEM_PUBLIC_KEY_LEN] {
        &self.0
    }

    /// Encapsulates a fresh shared secret to this key: draws the 32-byte `m` of
    /// `Encaps_internal(ek, m)` and returns the ciphertext and the 32-byte shared secret.
    pub(crate) fn encapsulate(&self, rng: &mut (impl CryptoRng + ?Sized)) -> (KemCiphertext, Secret32) {
        let mut m = Array::default();
        rng.fill_bytes(m.as_mut_slice());
        let result = self.encapsulate_with(&m);
        m.zeroize();
        result
    }

    fn encapsulate_with(&self, m: &ml_kem::B32) -> (KemCiphertext, Secret32) {
        // Checked when made: parsing again cannot fail, and the fallback is never taken.
        let Ok(key) = parse(&self.0) else {
            return (
                KemCiphertext(Box::new([0; KEM_CIPHERTEXT_LEN])),
                Secret32::new([0; 32]),
            );
        };
        let (ciphertext, mut shared) = key.encapsulate_deterministic(m);
        let mut out = [0u8; KEM_CIPHERTEXT_LEN];
        out.copy_from_slice(ciphertext.as_slice());
        let mut secret = [0u8; 32];
        secret.copy_from_slice(shared.as_slice());
        shared.zeroize();
        (KemCiphertext(Box::new(out)), Secret32::new(secret))
    }

    /// `Encaps_internal(ek, m)` with a given `m`, for test vectors: `(ciphertext, shared secret)`.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_encapsulate(&self, m: &[u8; 32]) -> ([u8; KEM_CIPHERTEXT_LEN], [u8; 32]) {
        let (ciphertext, shared) = self.encapsulate_with(&Array::from(*m));
        (*ciphertext.0, *shared.bytes())
    }
}

fn parse(bytes: &[u8; KEM_PUBLIC_KEY_LEN]) -> Result<EncapsulationKey1024, KeyError> {
    EncapsulationKey1024::new(&Array::from(*bytes)).map_err(|_| KeyError::InvalidKemKey)
}

impl fmt::Debug for KemPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, ..] = *self.0;
        write!(f, "KemPublicKey({a:02x}{b:02x}{c:02x}{d:02x}..)")
    }
}

/// An ML-KEM-1024 ciphertext. Any 1568 bytes are one: decapsulating a tampered ciphertext gives
/// an unrelated secret (implicit rejection), which then fails the first AEAD check.
#[derive(Clone, PartialEq, Eq)]
pub struct KemCiphertext(pub(crate) Box<[u8; KEM_CIPHERTEXT_LEN]>);

impl KemCiphertext {
    /// Wraps 1568 ciphertext bytes.
    pub fn from_bytes(bytes: &[u8; KEM_CIPHERTEXT_LEN]) -> Self {
        Self(Box::new(*bytes))
    }

    /// The 1568-byte encoding.
    pub fn as_bytes(&self) -> &[u8; KEM_CIPHERTEXT_LEN] {
        &self.0
    }
}

impl fmt::Debug for KemCiphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, ..] = *self.0;
        write!(f, "KemCiphertext({a:02x}{b:02x}{c:02x}{d:02x}..)")
    }
}

/// An ML-KEM-1024 key pair. Only the seed `d || z` is stored (and wiped on drop); the expanded
/// decapsulation key is rebuilt when needed and wiped again (ml-kem's `zeroize` feature).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct KemKeyPair {
    seed: Box<[u8; KEM_SEED_LEN]>,
}

impl KemKeyPair {
    /// Draws `d` (32 bytes) then `z` (32 bytes): `KeyGen_internal(d, z)`.
    pub(crate) fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut seed = Box::new([0u8; KEM_SEED_LEN]);
        rng.fill_bytes(seed.as_mut_slice());
        Self { seed }
    }

    pub(crate) fn from_seed(seed: &[u8; KEM_SEED_LEN]) -> Self {
        Self {
            seed: Box::new(*seed),
        }
    }

    pub(crate) fn seed(&self) -> &[u8; KEM_SEED_LEN] {
        &self.seed
    }

    fn expand(&self) -> DecapsulationKey1024 {
        let mut seed = Seed::from(*self.seed);
        let key = DecapsulationKey1024::from_seed(seed);
        seed.zeroize();
        key
    }

    /// The encapsulation key `ek` of `KeyGen_internal(d, z)`.
    pub(crate) fn public(&self) -> KemPublicKey {
        let mut out = [0u8; KEM_PUBLIC_KEY_LEN];
        out.copy_from_slice(self.expand().encapsulation_key().to_bytes().as_slice());
        KemPublicKey(Box::new(out))
    }

    /// `Decaps_internal(dk, c)`: never fails; a tampered ciphertext gives an unrelated secret.
    pub(crate) fn decapsulate(&self, ciphertext: &KemCiphertext) -> Secret32 {
        use ml_kem::Decapsulate;
        let ciphertext: ml_kem_1024::Ciphertext = Array::from(*ciphertext.0);
        let mut shared = self.expand().decapsulate(&ciphertext);
        let mut secret = [0u8; 32];
        secret.copy_from_slice(shared.as_slice());
        shared.zeroize();
        Secret32::new(secret)
    }
}

/// `KeyGen_internal(d, z)` for test vectors: the encapsulation key of seed `d || z`.
#[cfg(feature = "hazmat")]
pub fn hazmat_public_key(seed: &[u8; KEM_SEED_LEN]) -> KemPublicKey {
    KemKeyPair::from_seed(seed).public()
}

/// `Decaps_internal` for test vectors: the shared secret seed `d || z` gets from `ciphertext`.
#[cfg(feature = "hazmat")]
pub fn hazmat_decapsulate(seed: &[u8; KEM_SEED_LEN], ciphertext: &[u8; KEM_CIPHERTEXT_LEN]) -> [u8; 32] {
    *KemKeyPair::from_seed(seed)
        .decapsulate(&KemCiphertext::from_bytes(ciphertext))
        .bytes()
}

#[cfg(test)]
#[path = "kem_tests.rs"]
mod tests;
