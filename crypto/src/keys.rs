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

    /// A key pair from a secret. Clamping makes the public key a large-order point, so it needs
    /// no validation.
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
///
/// Kept decompressed (the encoding is inside, see [`IdentityKey::as_bytes`]), as parsing has to
/// decompress it anyway to validate it: verifying and converting then skip a field
/// exponentiation each. Equality, ordering and hashing are those of the 32-byte encoding.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(try_from = "[u8; 32]", into = "[u8; 32]")]
pub struct IdentityKey(ed25519_dalek::VerifyingKey);

impl PartialEq for IdentityKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for IdentityKey {}

impl core::hash::Hash for IdentityKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialOrd for IdentityKey {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdentityKey {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl IdentityKey {
    /// Parses and validates an Ed25519 public key.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidEd25519)?;
        // `from_bytes` accepts some non-canonical y encodings; re-encoding catches them.
        if key.is_weak() || key.to_edwards().compress().to_bytes() != *bytes {
            return Err(KeyError::InvalidEd25519);
        }
        Ok(Self(key))
    }

    /// The 32-byte Ed25519 encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The 32-byte Ed25519 encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The X25519 form of this key: the birational map `u = (1 + y) / (1 - y) mod p` from the
    /// Edwards y-coordinate, as libsodium's `crypto_sign_ed25519_pk_to_curve25519` computes it.
    pub fn to_curve25519(&self) -> Result<Curve25519PublicKey, KeyError> {
        Curve25519PublicKey::from_bytes(&self.0.to_montgomery().to_bytes())
    }

    /// The decompressed Edwards point (for DHs with many identity keys at once,
    /// [`primitives::x25519_edwards_batch`]).
    pub(crate) fn edwards(&self) -> curve25519_dalek::EdwardsPoint {
        self.0.to_edwards()
    }

    /// Strict Ed25519 verification of `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), KeyError> {
        primitives::ed25519_verify_key(&self.0, message, signature)
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
        key.to_bytes()
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", hex(self.as_bytes()))
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
        let public = IdentityKey(inner.verifying_key());
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

#[cfg(test)]
mod tests {
    //! Checklist line 29: secrets are wiped (explicitly and on drop) and never printed.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use zeroize::{Zeroize, ZeroizeOnDrop};

    use super::*;
    use crate::pickle::encode;
    use crate::ratchet::chain::{AeadKeys, ChainKey, MessageKey};

    const SEED: [u8; 32] = [0x5e; 32];
    const NOW: u64 = 1_700_000_000;

    fn assert_zod<T: ZeroizeOnDrop>() {}

    #[test]
    fn secret_types_zeroize_on_drop() {
        assert_zod::<Secret32>();
        assert_zod::<Curve25519KeyPair>();
        assert_zod::<ChainKey>();
        assert_zod::<MessageKey>();
        assert_zod::<AeadKeys>();
        assert_zod::<crate::PickleKey>();
        assert_zod::<crate::AccountPickle>();
        assert_zod::<crate::SessionPickle>();
        assert_zod::<crate::ratchet::RatchetPickle>();
        assert_zod::<crate::ratchet::receiving::ReceivingChainPickle>();
        assert_zod::<crate::group::SenderKeyDistribution>();
        assert_zod::<crate::group::GroupSenderPickle>();
        assert_zod::<crate::group::GroupReceiverPickle>();
        assert_zod::<crate::peer::PeerSessionsPickle>();
        // What `SigningKey` wraps (the dalek crates' `zeroize` features are on).
        assert_zod::<ed25519_dalek::SigningKey>();
        assert_zod::<x25519_dalek::StaticSecret>();
    }

    #[test]
    fn secret32_and_key_pair_zeroize_wipes_the_bytes() {
        let mut secret = Secret32::new([0xa7; 32]);
        assert_eq!(secret.bytes(), &[0xa7; 32]);
        secret.zeroize();
        assert_eq!(secret.bytes(), &[0; 32]);

        let mut rng = StdRng::seed_from_u64(29);
        let mut pair = Curve25519KeyPair::generate(&mut rng);
        assert_ne!(pair.secret().bytes(), &[0; 32]);
        pair.zeroize();
        assert_eq!(pair.secret().bytes(), &[0; 32]);

        let mut chain = ChainKey(Secret32::new([3; 32]));
        let (mut message_key, _) = chain.next();
        chain.zeroize();
        message_key.zeroize();
        assert_eq!(chain.0.bytes(), &[0; 32]);
        assert_eq!(message_key.0.bytes(), &[0; 32]);
    }

    #[test]
    fn pickles_zeroize_wipes_their_secrets() {
        let mut rng = StdRng::seed_from_u64(2929);
        let account = crate::Account::from_identity_seed(&Secret32::new(SEED), NOW, &mut rng);
        let mut pickle = account.pickle();
        assert_eq!(encode(&pickle)[..32], SEED);
        pickle.zeroize();
        let wiped = encode(&pickle);
        assert_eq!(wiped[..32], [0; 32]);
        assert!(!wiped.windows(32).any(|window| window == SEED));

        let mut sender = crate::group::GroupSender::new(
            [1; 16],
            crate::Account::new(0, &mut rng).identity_key(),
            1,
            &mut rng,
        );
        sender.encrypt(b"x", &mut rng).unwrap();
        let secrets = encode(&sender.pickle());
        let mut pickle = sender.pickle();
        pickle.zeroize();
        let wiped = encode(&pickle);
        // Every 32-byte secret (chain key, signing seed) is gone.
        let chain_key = &secrets[secrets.len() - 64..secrets.len() - 32];
        let signing_seed = &secrets[secrets.len() - 32..];
        assert!(!wiped.windows(32).any(|w| w == chain_key || w == signing_seed));

        let mut distribution = sender.distribution();
        let before = distribution.to_bytes();
        distribution.zeroize();
        // SPEC.md §10.5: the chain key is bytes 78..110.
        let chain_key = &before[78..110];
        assert!(!distribution.to_bytes().windows(32).any(|w| w == chain_key));
    }

    /// `(root key, own ratchet secret)` of a session, read from its ratchet pickle encoding
    /// (postcard writes the leading `[u8; 32]` fields raw), checked against the public key.
    fn ratchet_secrets(session: &crate::Session) -> (Vec<u8>, [u8; 32], [u8; 32]) {
        let bytes = encode(&session.ratchet.to_pickle());
        let mut root = [0u8; 32];
        let mut own = [0u8; 32];
        root.copy_from_slice(&bytes[..32]);
        own.copy_from_slice(&bytes[32..64]);
        assert_eq!(
            primitives::x25519_base(&own),
            session.own_ratchet_key().to_bytes(),
            "layout assumption"
        );
        (bytes, root, own)
    }

    /// No run of `window` bytes of `secrets` appears in either Debug form, hex-encoded or as
    /// the decimal list a derived `Debug` of a byte array prints.
    fn assert_not_printed(value: &dyn fmt::Debug, secrets: &[u8], window: usize) {
        for text in [format!("{value:?}"), format!("{value:#?}")] {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            for run in secrets.windows(window) {
                let decimal: Vec<String> = run.iter().map(u8::to_string).collect();
                let decimal = decimal.join(",");
                assert!(
                    !compact.contains(&hex(run)),
                    "{text} prints secret bytes {}",
                    hex(run)
                );
                assert!(
                    !compact.contains(&decimal),
                    "{text} prints secret bytes [{decimal}]"
                );
            }
        }
    }

    #[test]
    fn assert_not_printed_catches_hex_and_derived_debug() {
        struct Hex([u8; 32]);
        impl fmt::Debug for Hex {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "Hex({})", hex(&self.0))
            }
        }
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Derived(Box<[u8; 32]>);
        let hex_printed = std::panic::catch_unwind(|| assert_not_printed(&Hex(SEED), &SEED, 8));
        let derived_printed =
            std::panic::catch_unwind(|| assert_not_printed(&Derived(Box::new(SEED)), &SEED, 8));
        assert!(hex_printed.is_err() && derived_printed.is_err());
        assert_not_printed(&Hex([1; 32]), &SEED, 8);
    }

    #[test]
    fn debug_output_never_contains_secret_bytes() {
        let mut rng = StdRng::seed_from_u64(292929);
        let mut bob = crate::Account::new(NOW, &mut rng);
        let alice = crate::Account::from_identity_seed(&Secret32::new(SEED), NOW, &mut rng);
        let identity_dh_secret = SigningKey::from_seed(&Secret32::new(SEED)).to_curve25519_secret();

        // Account: seed, identity DH secret, prekey secrets (all in its pickle).
        let account_pickle = encode(&alice.pickle());
        for secret in [&SEED, identity_dh_secret.bytes()] {
            assert_not_printed(&alice, secret, 32);
            assert_not_printed(&alice, secret, 8);
        }
        assert_not_printed(&alice, &account_pickle[..32], 8);
        let otk = bob.generate_one_time_prekeys(1, &mut rng);
        assert_not_printed(&bob, &encode(&bob.pickle()), 12);
        assert_not_printed(&bob.pickle(), &encode(&bob.pickle()), 8);

        // Session and its pickle.
        let bundle = bob.prekey_bundle(Some(otk[0].id)).unwrap().verify(None).unwrap();
        let mut session = alice
            .create_outbound_session(b"alice", b"bob", &bundle, NOW, &mut rng)
            .unwrap();
        session.encrypt(NOW, b"x", &mut rng).unwrap();
        let (ratchet_bytes, root, own) = ratchet_secrets(&session);
        for secret in [root, own] {
            assert_not_printed(&session, &secret, 8);
            assert_not_printed(&session.pickle(), &secret, 8);
        }
        assert_not_printed(&session, &ratchet_bytes, 12);
        assert_not_printed(&session.pickle(), &session.pickle().to_plaintext_bytes(), 8);

        // Group sender and the distribution that carries its chain key.
        let sender = crate::group::GroupSender::new(
            [2; 16],
            crate::Account::new(0, &mut rng).identity_key(),
            1,
            &mut rng,
        );
        let sender_secrets = encode(&sender.pickle());
        assert_not_printed(&sender, &sender_secrets, 8);
        assert_not_printed(&sender.pickle(), &sender_secrets, 8);
        assert_not_printed(
            &sender.distribution(),
            &sender.distribution().to_bytes()[78..110],
            8,
        );

        // The key types themselves.
        let pair = Curve25519KeyPair::generate(&mut rng);
        assert_not_printed(&pair, pair.secret().bytes(), 8);
        assert_not_printed(pair.secret(), pair.secret().bytes(), 8);
        assert_not_printed(&SigningKey::from_seed(&Secret32::new(SEED)), &SEED, 8);
        assert_not_printed(&crate::PickleKey::new(SEED), &SEED, 8);
    }
}
