//! Sealed sender, version 2: the outer layer of every envelope a client hands the relay.
//!
//! The relay must know the recipient's mailbox but has no need to learn who sent a message. The
//! recipient must learn who did, and must know it is true before it tries a single session:
//! otherwise anyone can make it run trial decryptions by claiming to be one of its contacts. So,
//! as in Signal's sealed sender v1, two layers (`test-vectors/SPEC.md` §15 has every byte):
//!
//! ```text
//! sealed = 0x02 || E[32] || sender_box[48] || inner_box[len(inner) + 16]
//! layer 1: dh1 = X25519(e, IK_R)                                      (ephemeral-static)
//!          chain || key1 || nonce1 = HKDF(zero salt, dh1, "Hush_v2_SealSender" || E || IK_R, 76)
//!          sender_box = AES-256-GCM(key1, nonce1, ad = 0x02 || E || IK_R, IK_S)
//! layer 2: dh2 = X25519(IK_S, IK_R)                                   (static-static)
//!          key2 || nonce2 = HKDF(chain, dh2, "Hush_v2_SealInner" || E || IK_R || IK_S || sender_box, 44)
//!          inner_box = AES-256-GCM(key2, nonce2, ad = 0x02 || E || sender_box || IK_R, inner)
//! ```
//!
//! (identity keys in their X25519 form for the DHs). Anyone who knows `IK_R` can make layer 1
//! open under any claimed sender; only the holder of that sender's identity key, or the recipient
//! itself, can make layer 2 open. A forged claim therefore costs the recipient two X25519 and one
//! AEAD pass, and never reaches a session.
//!
//! The ephemeral secret is synthetic: `e = HKDF(salt = r, dh2, "Hush_v2_SealEphemeralSecret" ||
//! IK_S || IK_R || SHA-256(inner), 32)` with `r` 32 bytes from the RNG. If the RNG stream repeats
//! (a restored VM snapshot, a forked process) `e`, and with it every key and nonce, still differs
//! unless the inner message is equal too, so a replayed RNG at worst shows that two envelopes
//! hold the same message. Since `dh2` is secret, a predictable `r` does not let an outsider test
//! guesses of `inner` against `E` either.

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::account::Account;
use crate::error::KeyError;
use crate::keys::{Curve25519KeyPair, Curve25519PublicKey, IdentityKey, Secret32};
use crate::primitives::{self, AEAD_KEY_LEN, AEAD_NONCE_LEN, AEAD_TAG_LEN};
use crate::ratchet::chain::{AeadKeys, hkdf_aead_keys};

mod keys;
mod shared;
#[cfg(test)]
mod tests;

pub use keys::{MAX_SEAL_KEYS, SealKeys};
pub use shared::{
    MAX_SEAL_THREADS, MAX_SHARED_PART_LEN, MAX_SHARED_RECIPIENTS, SHARED_BODY_HEADER_LEN,
    SHARED_BODY_OVERHEAD, SHARED_MESSAGE_INFO, SHARED_PART_TAG_LEN, SHARED_SEAL_VERSION, SHARED_SECRET_INFO,
    SHARED_WRAP_INFO, SharedSeal, seal_shared, seal_shared_on,
};

/// Version byte of sealed envelopes. Version 1 (one unauthenticated layer) is refused.
pub const SEALED_VERSION: u8 = 2;
/// HKDF info label of layer 1 (the keys that encrypt the sender's identity).
pub const SEAL_SENDER_INFO: &[u8] = b"Hush_v2_SealSender";
/// HKDF info label of layer 2 (the keys that encrypt the inner message).
pub const SEAL_INNER_INFO: &[u8] = b"Hush_v2_SealInner";
/// HKDF info label of the synthetic ephemeral secret.
pub const SEAL_EPHEMERAL_INFO: &[u8] = b"Hush_v2_SealEphemeralSecret";
/// Bytes of the encrypted sender field: the 32-byte identity key and its tag.
pub const SEALED_SENDER_LEN: usize = 32 + AEAD_TAG_LEN;
/// Bytes before the inner box: version, ephemeral key, encrypted sender.
pub const SEAL_HEADER_LEN: usize = 1 + 32 + SEALED_SENDER_LEN;
/// Bytes a seal adds to the inner message: the header and the inner box's tag.
pub const SEAL_OVERHEAD: usize = SEAL_HEADER_LEN + AEAD_TAG_LEN;

/// Why a sealed envelope could not be opened, or a shared seal ([`seal_shared`]) not made or
/// opened. Nothing about the account changes. The first four variants are sealed sender's; a
/// shared open fails with `Key` for a bad ephemeral key and otherwise with the shared variants
/// (its refusals need not hide which check failed: passing the part's tag already takes the
/// recipient's or the sealer's secret, see [`Account::open_shared`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SealError {
    /// Shorter than the fixed overhead.
    #[error("sealed envelope of {length} bytes is shorter than the {SEAL_OVERHEAD}-byte minimum")]
    TooShort {
        /// Bytes received.
        length: usize,
    },
    /// A version this build does not read (version 1, whose sender was unauthenticated,
    /// included).
    #[error("sealed envelope version {found}, expected {SEALED_VERSION}")]
    UnknownVersion {
        /// The version byte found.
        found: u8,
    },
    /// The ephemeral key is not acceptable, or the DH with it was non-contributory. Only public
    /// bytes decide this.
    #[error("bad ephemeral key in sealed envelope: {0}")]
    Key(#[from] KeyError),
    /// Either layer did not authenticate: not sealed for us, altered, or sealed by someone who
    /// does not hold the claimed sender's identity key. One variant for both layers, so that
    /// whoever sees the error learns neither that layer 1 opened (which would confirm that an
    /// envelope was sealed for this identity) nor a sender name nobody authenticated.
    #[error("sealed envelope does not authenticate")]
    Unauthenticated,
    /// [`seal_shared`] was given no recipient (caller misuse).
    #[error("a shared seal needs at least one recipient")]
    NoRecipients,
    /// [`seal_shared`] was given more than [`MAX_SHARED_RECIPIENTS`] recipients (caller misuse).
    #[error("{count} recipients for a shared seal, at most {MAX_SHARED_RECIPIENTS} allowed")]
    TooManyRecipients {
        /// Recipients given.
        count: usize,
    },
    /// [`seal_shared`] was given the same identity key twice (caller misuse: that device would
    /// get two parts of one message).
    #[error("recipient {index} of a shared seal repeats an earlier one")]
    DuplicateRecipient {
        /// Index of the second occurrence in the list.
        index: usize,
    },
    /// A shared part is not exactly [`MAX_SHARED_PART_LEN`] bytes (truncated or extended).
    #[error("shared part of {length} bytes, expected {MAX_SHARED_PART_LEN}")]
    PartLength {
        /// Bytes received.
        length: usize,
    },
    /// A shared body is shorter than its fixed overhead ([`SHARED_BODY_OVERHEAD`]).
    #[error("shared body of {length} bytes is shorter than the {SHARED_BODY_OVERHEAD}-byte minimum")]
    BodyTooShort {
        /// Bytes received.
        length: usize,
    },
    /// A shared part's version byte is not [`SHARED_SEAL_VERSION`].
    #[error("shared part version {found}, expected {SHARED_SEAL_VERSION}")]
    UnknownPartVersion {
        /// The version byte found.
        found: u8,
    },
    /// A shared body's version byte is not [`SHARED_SEAL_VERSION`].
    #[error("shared body version {found}, expected {SHARED_SEAL_VERSION}")]
    UnknownBodyVersion {
        /// The version byte found.
        found: u8,
    },
    /// The part's tag does not verify: the part was made for another body or another
    /// recipient, or a byte of either was changed.
    #[error("shared part is not for this body and recipient")]
    PartMismatch,
    /// The part's tag verifies but the message secret it wraps does not derive the body's
    /// ephemeral key: whoever made that ephemeral key (nobody else can make the tag verify)
    /// paired a message secret with it that does not give it.
    #[error("shared part's message secret does not give the body's ephemeral key")]
    EphemeralMismatch,
    /// The body's AEAD did not authenticate under the keys the part gives: a sealer that made a
    /// malformed body (the part's tag binds the exact body bytes).
    #[error("shared body does not authenticate")]
    BodyUnauthenticated,
}

/// A sealed envelope, opened: who sent it and the inner message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsealed {
    /// The sender's identity. Authenticated: the inner message opened under a key only the
    /// holder of this identity's private key (or the recipient) can derive. That the inner
    /// message is fresh and belongs to a session is for the session layer to tell.
    pub sender: IdentityKey,
    /// The inner message (a [`crate::SessionMessage`] encoding).
    pub inner: Vec<u8>,
}

/// Layer 1's output: the chain key layer 2 is salted with, and the sender field's AEAD key.
#[derive(Zeroize, ZeroizeOnDrop)]
struct SenderKeys {
    chain: [u8; 32],
    key: [u8; AEAD_KEY_LEN],
    nonce: [u8; AEAD_NONCE_LEN],
}

/// Every info and AD below is a fixed label followed by fixed-width fields, so each has one
/// parse; no label is a prefix of another.
fn sender_keys(dh1: &Secret32, ephemeral: &Curve25519PublicKey, recipient: &IdentityKey) -> SenderKeys {
    let info = [SEAL_SENDER_INFO, ephemeral.as_bytes(), recipient.as_bytes()].concat();
    let mut okm = [0u8; 32 + AEAD_KEY_LEN + AEAD_NONCE_LEN];
    // 76 bytes is far below HKDF's limit, so this cannot fail.
    let _ = primitives::hkdf_sha256(None, dh1.bytes(), &info, &mut okm);
    let mut keys = SenderKeys {
        chain: [0; 32],
        key: [0; AEAD_KEY_LEN],
        nonce: [0; AEAD_NONCE_LEN],
    };
    let (chain, rest) = okm.split_at(32);
    let (key, nonce) = rest.split_at(AEAD_KEY_LEN);
    keys.chain.copy_from_slice(chain);
    keys.key.copy_from_slice(key);
    keys.nonce.copy_from_slice(nonce);
    okm.zeroize();
    keys
}

fn inner_keys(
    layer1: &SenderKeys,
    dh2: &Secret32,
    ephemeral: &Curve25519PublicKey,
    recipient: &IdentityKey,
    sender: &IdentityKey,
    sender_box: &[u8],
) -> AeadKeys {
    let info = [
        SEAL_INNER_INFO,
        ephemeral.as_bytes(),
        recipient.as_bytes(),
        sender.as_bytes(),
        sender_box,
    ]
    .concat();
    hkdf_aead_keys(Some(&layer1.chain), dh2.bytes(), &info)
}

fn ephemeral_secret(
    random: &[u8; 32],
    dh2: &Secret32,
    sender: &IdentityKey,
    recipient: &IdentityKey,
    inner: &[u8],
) -> Secret32 {
    let digest = Sha256::digest(inner);
    let info = [
        SEAL_EPHEMERAL_INFO,
        sender.as_bytes(),
        recipient.as_bytes(),
        digest.as_slice(),
    ]
    .concat();
    let mut secret = [0u8; 32];
    // 32 bytes is far below HKDF's limit, so this cannot fail.
    let _ = primitives::hkdf_sha256(Some(random), dh2.bytes(), &info, &mut secret);
    Secret32::new(secret)
}

fn sender_ad(ephemeral: &Curve25519PublicKey, recipient: &IdentityKey) -> Vec<u8> {
    [
        &[SEALED_VERSION],
        ephemeral.as_bytes().as_slice(),
        recipient.as_bytes(),
    ]
    .concat()
}

/// `header` is the envelope's first [`SEAL_HEADER_LEN`] bytes.
fn inner_ad(header: &[u8], recipient: &IdentityKey) -> Vec<u8> {
    [header, recipient.as_bytes()].concat()
}

/// Seals `inner` from the account `sender` for `recipient`. Draws 32 random bytes.
pub fn seal(
    sender: &Account,
    recipient: &IdentityKey,
    inner: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<Vec<u8>, KeyError> {
    seal_with(sender, &mut SealKeys::new(), recipient, inner, rng)
}

/// [`seal`], with `recipient`'s X25519 form and static DH taken from `keys` (and kept there for
/// the next envelope): the same bytes for the same RNG, one X25519 and a key conversion less
/// from the second envelope to a recipient on.
pub fn seal_with(
    sender: &Account,
    keys: &mut SealKeys,
    recipient: &IdentityKey,
    inner: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<Vec<u8>, KeyError> {
    // Drawn first, so the RNG stream does not depend on whether the recipient's key converts.
    let mut random = [0u8; 32];
    rng.fill_bytes(&mut random);
    let recipient_keys = keys.get(sender, recipient)?;
    let (recipient_dh, dh2) = (recipient_keys.x25519, &recipient_keys.static_shared);
    let sender_identity = sender.identity_key();
    let ephemeral =
        Curve25519KeyPair::from_secret(ephemeral_secret(&random, dh2, &sender_identity, recipient, inner));
    random.zeroize();
    let dh1 = ephemeral.diffie_hellman(&recipient_dh)?;
    let layer1 = sender_keys(&dh1, &ephemeral.public(), recipient);
    // aead_seal fails only past 64 GiB; report it as the key error family's length variant.
    let too_long = |_| KeyError::KdfLength {
        requested: inner.len(),
    };
    let sender_box = primitives::aead_seal(
        &layer1.key,
        &layer1.nonce,
        &sender_ad(&ephemeral.public(), recipient),
        sender_identity.as_bytes(),
    )
    .map_err(too_long)?;
    let mut out = Vec::with_capacity(SEAL_OVERHEAD + inner.len());
    out.push(SEALED_VERSION);
    out.extend_from_slice(ephemeral.public().as_bytes());
    out.extend_from_slice(&sender_box);
    let layer2 = inner_keys(
        &layer1,
        dh2,
        &ephemeral.public(),
        recipient,
        &sender_identity,
        &sender_box,
    );
    let inner_box = primitives::aead_seal(&layer2.key, &layer2.nonce, &inner_ad(&out, recipient), inner)
        .map_err(too_long)?;
    out.extend_from_slice(&inner_box);
    Ok(out)
}

/// An envelope split into its fixed fields (lengths checked, keys not yet).
struct Parts<'a> {
    header: &'a [u8],
    ephemeral: Curve25519PublicKey,
    sender_box: &'a [u8],
    inner_box: &'a [u8],
}

fn parse(sealed: &[u8]) -> Result<Parts<'_>, SealError> {
    let too_short = SealError::TooShort { length: sealed.len() };
    if sealed.len() < SEAL_OVERHEAD {
        return Err(too_short);
    }
    let (header, inner_box) = sealed.split_at(SEAL_HEADER_LEN);
    let (version, rest) = header.split_first().ok_or(too_short)?;
    if *version != SEALED_VERSION {
        return Err(SealError::UnknownVersion { found: *version });
    }
    let (ephemeral, sender_box) = rest.split_first_chunk::<32>().ok_or(too_short)?;
    Ok(Parts {
        header,
        ephemeral: Curve25519PublicKey::from_bytes(ephemeral)?,
        sender_box,
        inner_box,
    })
}

impl Account {
    /// Opens an envelope sealed for this account's identity: layer 1 names the sender, layer 2
    /// proves it. Draws no randomness and changes nothing.
    pub fn open_sealed(&self, sealed: &[u8]) -> Result<Unsealed, SealError> {
        let parts = parse(sealed)?;
        let recipient = self.identity_key();
        let dh1 = Secret32::new(self.identity_key_agreement(&parts.ephemeral)?);
        let layer1 = sender_keys(&dh1, &parts.ephemeral, &recipient);
        let sender = primitives::aead_open(
            &layer1.key,
            &layer1.nonce,
            &sender_ad(&parts.ephemeral, &recipient),
            parts.sender_box,
        )
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .and_then(|bytes| IdentityKey::from_bytes(&bytes).ok())
        .ok_or(SealError::Unauthenticated)?;
        // A claimed sender whose key cannot take part in a DH cannot have sealed this.
        let dh2 = sender
            .to_curve25519()
            .and_then(|sender_dh| self.identity_key_agreement(&sender_dh))
            .map(Secret32::new)
            .map_err(|_| SealError::Unauthenticated)?;
        let layer2 = inner_keys(
            &layer1,
            &dh2,
            &parts.ephemeral,
            &recipient,
            &sender,
            parts.sender_box,
        );
        let inner = primitives::aead_open(
            &layer2.key,
            &layer2.nonce,
            &inner_ad(parts.header, &recipient),
            parts.inner_box,
        )
        .map_err(|_| SealError::Unauthenticated)?;
        Ok(Unsealed { sender, inner })
    }
}
