//! Key types. Public keys are validated when made; secrets are boxed, zeroized on drop and have
//! neither `Debug` output nor `Serialize`.

use core::fmt;

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::KeyError;
use crate::primitives;

/// A validated X25519 public key: canonical and not of low order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "[u8; 32]", into = "[u8; 32]")]
pub struct Curve25519PublicKey([u8; 32]);

impl Curve25519PublicKey {
    /// Parses and validates a public key.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        primitives::check_x25519_public(bytes)?;
        Ok(Self(*bytes))
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The 32-byte encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl TryFrom<[u8; 32]> for Curve25519PublicKey {
    type Error = KeyError;
    fn try_from(bytes: [u8; 32]) -> Result<Self, KeyError> {
        Self::from_bytes(&bytes)
    }
}

impl From<Curve25519PublicKey> for [u8; 32] {
    fn from(key: Curve25519PublicKey) -> Self {
        key.0
    }
}

impl fmt::Debug for Curve25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Curve25519PublicKey({})", hex(&self.0))
    }
}

/// A 32-byte secret that is wiped when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Secret32(Box<[u8; 32]>);

impl Secret32 {
    pub(crate) fn new(bytes: [u8; 32]) -> Self {
        let mut boxed = Box::new([0u8; 32]);
        boxed.copy_from_slice(&bytes);
        let mut bytes = bytes;
        bytes.zeroize();
        Self(boxed)
    }

    pub(crate) fn random(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut boxed = Box::new([0u8; 32]);
        rng.fill_bytes(boxed.as_mut_slice());
        Self(boxed)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for Secret32 {
    fn eq(&self, other: &Self) -> bool {
        primitives::ct_eq(self.0.as_slice(), other.0.as_slice())
    }
}

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(..)")
    }
}

/// An X25519 key pair with its public half computed once (so the symmetric ratchet path never
/// does a curve operation to learn its own key).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Curve25519KeyPair {
    secret: Secret32,
    #[zeroize(skip)]
    public: Curve25519PublicKey,
}

impl Curve25519KeyPair {
    pub(crate) fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self::from_secret(Secret32::random(rng))
    }

    /// A key pair from a secret. Fails only for the negligible set of secrets whose public key
    /// would be of low order, which clamping rules out; kept as an error rather than a panic.
    pub(crate) fn from_secret(secret: Secret32) -> Self {
        let public = Curve25519PublicKey(primitives::x25519_base(secret.bytes()));
        Self { secret, public }
    }

    pub(crate) fn public(&self) -> Curve25519PublicKey {
        self.public
    }

    pub(crate) fn secret(&self) -> &Secret32 {
        &self.secret
    }

    /// X25519 with the peer's key; errors on a non-contributory result.
    pub(crate) fn diffie_hellman(&self, peer: &Curve25519PublicKey) -> Result<Secret32, KeyError> {
        primitives::x25519(self.secret.bytes(), peer.as_bytes()).map(Secret32::new)
    }
}

impl fmt::Debug for Curve25519KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Curve25519KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// An Ed25519 identity public key, validated: canonical encoding, not a small-order point.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "[u8; 32]", into = "[u8; 32]")]
pub struct IdentityKey([u8; 32]);

impl IdentityKey {
    /// Parses and validates an Ed25519 public key.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidEd25519)?;
        // `from_bytes` accepts some non-canonical y encodings; re-encoding catches them.
        if key.is_weak() || key.to_edwards().compress().to_bytes() != *bytes {
            return Err(KeyError::InvalidEd25519);
        }
        Ok(Self(*bytes))
    }

    /// The 32-byte Ed25519 encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The 32-byte Ed25519 encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The X25519 form of this key: the birational map `u = (1 + y) / (1 - y) mod p` from the
    /// Edwards y-coordinate, as libsodium's `crypto_sign_ed25519_pk_to_curve25519` computes it.
    pub fn to_curve25519(&self) -> Result<Curve25519PublicKey, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::InvalidEd25519)?;
        Curve25519PublicKey::from_bytes(&key.to_montgomery().to_bytes())
    }

    /// Strict Ed25519 verification of `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), KeyError> {
        primitives::ed25519_verify(&self.0, message, signature)
    }
}

impl TryFrom<[u8; 32]> for IdentityKey {
    type Error = KeyError;
    fn try_from(bytes: [u8; 32]) -> Result<Self, KeyError> {
        Self::from_bytes(&bytes)
    }
}

impl From<IdentityKey> for [u8; 32] {
    fn from(key: IdentityKey) -> Self {
        key.0
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", hex(&self.0))
    }
}

/// An Ed25519 signing key with its expanded form and public key cached.
#[derive(Clone)]
pub(crate) struct SigningKey {
    inner: ed25519_dalek::SigningKey,
    public: IdentityKey,
}

impl SigningKey {
    pub(crate) fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self::from_seed(&Secret32::random(rng))
    }

    pub(crate) fn from_seed(seed: &Secret32) -> Self {
        let inner = ed25519_dalek::SigningKey::from_bytes(seed.bytes());
        // A freshly derived public key is canonical and of prime order except with negligible
        // probability; the raw bytes are kept either way, since they are ours.
        let public = IdentityKey(inner.verifying_key().to_bytes());
        Self { inner, public }
    }

    pub(crate) fn seed(&self) -> Secret32 {
        Secret32::new(self.inner.to_bytes())
    }

    pub(crate) fn public(&self) -> IdentityKey {
        self.public
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        primitives::ed25519_sign(&self.inner, message)
    }

    /// `SHA-512(seed)[0..32]`: the X25519 secret matching [`IdentityKey::to_curve25519`].
    pub(crate) fn to_curve25519_secret(&self) -> Secret32 {
        Secret32::new(self.inner.to_scalar_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}
