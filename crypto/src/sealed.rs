//! Sealed sender: the outer layer of every envelope a client hands the relay.
//!
//! The relay must know the recipient's mailbox but has no need to learn (or store) who sent a
//! message. The recipient, though, must know which sessions to try. So the sender's identity key
//! travels inside a second AEAD layer, keyed by an ephemeral X25519 key agreed with the
//! recipient's identity key (an ECIES construction):
//!
//! ```text
//! sealed   = version(1) || ephemeral_public(32) || AES-256-GCM(key, nonce, ad, sender_ik(32) || inner)
//! secret   = X25519(ephemeral, recipient identity as X25519)
//! key||nonce = HKDF-SHA256(salt = none, ikm = secret,
//!                          info = "Hush_v1_Seal" || ephemeral_public || recipient_ik)[..44]
//! ad       = version || ephemeral_public || recipient_ik
//! ```
//!
//! A fresh ephemeral key per envelope makes every (key, nonce) pair single-use. The seal does
//! not authenticate the sender; the inner Double Ratchet message does, since its associated data
//! binds both identities. A forged sender field therefore fails at the inner layer.

use rand_core::CryptoRng;
use thiserror::Error;
use zeroize::Zeroize;

use crate::account::Account;
use crate::error::KeyError;
use crate::keys::{Curve25519KeyPair, Curve25519PublicKey, IdentityKey};
use crate::primitives::{self, AEAD_KEY_LEN, AEAD_NONCE_LEN, AEAD_TAG_LEN};

/// Version byte of sealed envelopes.
pub const SEALED_VERSION: u8 = 1;
/// HKDF info prefix of the seal key.
pub const SEAL_INFO: &[u8] = b"Hush_v1_Seal";
/// Bytes a seal adds to the inner message: version, ephemeral key, sender key, tag.
pub const SEAL_OVERHEAD: usize = 1 + 32 + 32 + AEAD_TAG_LEN;

/// Why a sealed envelope could not be opened. Nothing about the account changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SealError {
    /// Shorter than the fixed overhead.
    #[error("sealed envelope of {length} bytes is shorter than the {SEAL_OVERHEAD}-byte minimum")]
    TooShort {
        /// Bytes received.
        length: usize,
    },
    /// A version this build does not read.
    #[error("sealed envelope version {found}, expected {SEALED_VERSION}")]
    UnknownVersion {
        /// The version byte found.
        found: u8,
    },
    /// The ephemeral key is not acceptable, or a key could not be converted.
    #[error("bad key in sealed envelope: {0}")]
    Key(#[from] KeyError),
    /// The tag did not verify: not for us, or altered.
    #[error("sealed envelope does not authenticate")]
    Unauthenticated,
}

/// A sealed envelope, opened: who says they sent it and the inner message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsealed {
    /// The sender's identity as claimed; trust it only once the inner message decrypts in a
    /// session with this identity.
    pub sender: IdentityKey,
    /// The inner message (a [`crate::SessionMessage`] encoding).
    pub inner: Vec<u8>,
}

fn seal_key(
    secret: &[u8; 32],
    ephemeral: &Curve25519PublicKey,
    recipient: &IdentityKey,
) -> Result<([u8; AEAD_KEY_LEN], [u8; AEAD_NONCE_LEN]), KeyError> {
    let mut info = Vec::with_capacity(SEAL_INFO.len() + 64);
    info.extend_from_slice(SEAL_INFO);
    info.extend_from_slice(ephemeral.as_bytes());
    info.extend_from_slice(recipient.as_bytes());
    let mut okm = [0u8; AEAD_KEY_LEN + AEAD_NONCE_LEN];
    primitives::hkdf_sha256(None, secret, &info, &mut okm)?;
    let mut key = [0u8; AEAD_KEY_LEN];
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    let (key_part, nonce_part) = okm.split_at(AEAD_KEY_LEN);
    key.copy_from_slice(key_part);
    nonce.copy_from_slice(nonce_part);
    okm.zeroize();
    Ok((key, nonce))
}

fn associated_data(ephemeral: &Curve25519PublicKey, recipient: &IdentityKey) -> Vec<u8> {
    let mut ad = Vec::with_capacity(65);
    ad.push(SEALED_VERSION);
    ad.extend_from_slice(ephemeral.as_bytes());
    ad.extend_from_slice(recipient.as_bytes());
    ad
}

/// Seals `inner` from `sender` for `recipient`.
pub fn seal(
    sender: &IdentityKey,
    recipient: &IdentityKey,
    inner: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<Vec<u8>, KeyError> {
    let ephemeral = Curve25519KeyPair::generate(rng);
    let recipient_dh = recipient.to_curve25519()?;
    let secret = ephemeral.diffie_hellman(&recipient_dh)?;
    let (mut key, nonce) = seal_key(secret.bytes(), &ephemeral.public(), recipient)?;
    let mut plaintext = Vec::with_capacity(32 + inner.len());
    plaintext.extend_from_slice(sender.as_bytes());
    plaintext.extend_from_slice(inner);
    let sealed = primitives::aead_seal(
        &key,
        &nonce,
        &associated_data(&ephemeral.public(), recipient),
        &plaintext,
    );
    key.zeroize();
    plaintext.zeroize();
    // aead_seal fails only past 64 GiB; report it as the key error family's length variant.
    let body = sealed.map_err(|_| KeyError::KdfLength {
        requested: inner.len(),
    })?;
    let mut out = Vec::with_capacity(1 + 32 + body.len());
    out.push(SEALED_VERSION);
    out.extend_from_slice(ephemeral.public().as_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

impl Account {
    /// Opens an envelope sealed for this account's identity.
    pub fn open_sealed(&self, sealed: &[u8]) -> Result<Unsealed, SealError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(SealError::TooShort { length: sealed.len() });
        }
        let (version, rest) = sealed.split_first().ok_or(SealError::TooShort { length: 0 })?;
        if *version != SEALED_VERSION {
            return Err(SealError::UnknownVersion { found: *version });
        }
        let (ephemeral, body) = rest.split_at(32);
        let ephemeral: [u8; 32] = ephemeral
            .try_into()
            .map_err(|_| SealError::TooShort { length: sealed.len() })?;
        let ephemeral = Curve25519PublicKey::from_bytes(&ephemeral)?;
        let recipient = self.identity_key();
        let mut secret = self.identity_key_agreement(&ephemeral)?;
        let derived = seal_key(&secret, &ephemeral, &recipient);
        secret.zeroize();
        let (mut key, nonce) = derived?;
        let opened = primitives::aead_open(&key, &nonce, &associated_data(&ephemeral, &recipient), body);
        key.zeroize();
        let mut plaintext = opened.map_err(|_| SealError::Unauthenticated)?;
        let result = match plaintext.split_first_chunk::<32>() {
            Some((sender, inner)) => match IdentityKey::from_bytes(sender) {
                Ok(sender) => Ok(Unsealed {
                    sender,
                    inner: inner.to_vec(),
                }),
                Err(_) => Err(SealError::Unauthenticated),
            },
            None => Err(SealError::Unauthenticated),
        };
        plaintext.zeroize();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn seal_round_trips_and_names_the_sender() {
        let mut rng = rand::rng();
        let alice = Account::new(NOW, &mut rng);
        let bob = Account::new(NOW, &mut rng);
        let sealed = seal(&alice.identity_key(), &bob.identity_key(), b"inner", &mut rng).unwrap();
        assert_eq!(sealed.len(), SEAL_OVERHEAD + 5);
        let opened = bob.open_sealed(&sealed).unwrap();
        assert_eq!(opened.sender, alice.identity_key());
        assert_eq!(opened.inner, b"inner");
    }

    #[test]
    fn sealed_for_someone_else_does_not_open() {
        let mut rng = rand::rng();
        let alice = Account::new(NOW, &mut rng);
        let bob = Account::new(NOW, &mut rng);
        let eve = Account::new(NOW, &mut rng);
        let sealed = seal(&alice.identity_key(), &bob.identity_key(), b"inner", &mut rng).unwrap();
        assert_eq!(eve.open_sealed(&sealed), Err(SealError::Unauthenticated));
    }

    #[test]
    fn every_bit_flip_is_refused() {
        let mut rng = rand::rng();
        let alice = Account::new(NOW, &mut rng);
        let bob = Account::new(NOW, &mut rng);
        let sealed = seal(&alice.identity_key(), &bob.identity_key(), b"hi", &mut rng).unwrap();
        for byte in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[byte] ^= 0x01;
            assert!(bob.open_sealed(&altered).is_err(), "flip in byte {byte} accepted");
        }
    }

    #[test]
    fn short_and_unknown_version_are_typed() {
        let mut rng = rand::rng();
        let bob = Account::new(NOW, &mut rng);
        assert_eq!(bob.open_sealed(&[1; 10]), Err(SealError::TooShort { length: 10 }));
        let alice = Account::new(NOW, &mut rng);
        let mut sealed = seal(&alice.identity_key(), &bob.identity_key(), b"", &mut rng).unwrap();
        sealed[0] = 9;
        assert_eq!(
            bob.open_sealed(&sealed),
            Err(SealError::UnknownVersion { found: 9 })
        );
    }

    #[test]
    fn two_seals_of_the_same_message_differ() {
        let mut rng = rand::rng();
        let alice = Account::new(NOW, &mut rng);
        let bob = Account::new(NOW, &mut rng);
        let a = seal(&alice.identity_key(), &bob.identity_key(), b"same", &mut rng).unwrap();
        let b = seal(&alice.identity_key(), &bob.identity_key(), b"same", &mut rng).unwrap();
        assert_ne!(a, b);
    }
}
