//! Domain values of the protocol. Each checks its limits when decoded, so a decoded frame is
//! within bounds by construction.

use serde::{Deserialize, Serialize};

use crate::bytes::{BoundedBytes, LimitedBytes};
use crate::{MAX_ENVELOPE_LEN, MAX_PREKEYS_PER_UPLOAD, MAX_RECIPIENTS_PER_SEND};

/// Names a mailbox: `SHA-256("Hush_v1_Mailbox" || identity key)` computed by its owner, so the
/// relay can check ownership at login without keeping a user directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MailboxId(pub [u8; 32]);

/// Label of the mailbox derivation.
pub const MAILBOX_LABEL: &[u8] = b"Hush_v1_Mailbox";

impl MailboxId {
    /// The mailbox of an Ed25519 identity key.
    pub fn for_identity(identity_key: &[u8; 32]) -> Self {
        use sha2::Digest;
        Self(
            sha2::Sha256::new()
                .chain_update(MAILBOX_LABEL)
                .chain_update(identity_key)
                .finalize()
                .into(),
        )
    }
}

/// Label of the registration-token signature.
pub const REGISTRATION_LABEL: &[u8] = b"Hush_v1_Registration";

/// The bytes a registration authority signs: `"Hush_v1_Registration" || identity key ||
/// u64 expires_at (big-endian)`.
pub fn registration_message(identity_key: &[u8; 32], expires_at: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(REGISTRATION_LABEL.len() + 40);
    out.extend_from_slice(REGISTRATION_LABEL);
    out.extend_from_slice(identity_key);
    out.extend_from_slice(&expires_at.to_be_bytes());
    out
}

/// Label of the access-key verifier.
pub const ACCESS_KEY_LABEL: &[u8] = b"Hush_v2_AccessKey";

/// A mailbox's access key: 32 random bytes its owner chooses and shares, inside end-to-end
/// encrypted payloads, with the contacts it has accepted. A `Send` or `FetchBundle` that carries
/// the target's key is a contact's and is not charged to the target's stranger budget. The relay
/// keeps only [`AccessKey::verifier`], so its database does not hand out the key.
///
/// On the wire 32 raw bytes. `Debug` shows nothing of it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccessKey(pub [u8; 32]);

impl AccessKey {
    /// `SHA-256("Hush_v2_AccessKey" || key)`: what the relay stores and compares with.
    pub fn verifier(&self) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::new()
            .chain_update(ACCESS_KEY_LABEL)
            .chain_update(self.0)
            .finalize()
            .into()
    }
}

impl core::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AccessKey(..)")
    }
}

/// One recipient of a `SendMany`: its mailbox, its access key if we hold one, the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addressed {
    /// Recipient mailbox.
    pub to: MailboxId,
    /// The recipient's access key, if it gave us one.
    pub access: Option<AccessKey>,
    /// Ciphertext.
    pub envelope: Envelope,
}

/// Chosen by the client per request; the response carries it back. Pushes carry none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u32);

/// Per-mailbox sequence number, assigned by the relay, strictly increasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Seq(pub u64);

/// Opaque ciphertext for one recipient, at most [`MAX_ENVELOPE_LEN`] bytes.
///
/// On the wire a byte string (postcard: varint length, then the bytes), the same bytes as a
/// sequence of `u8` would give; (de)serialized in one piece, not byte by byte. `Debug` shows its
/// length only.
pub type Envelope = LimitedBytes<MAX_ENVELOPE_LEN>;

/// An Ed25519 signature (64 bytes), on the wire a byte string of length 64 as [`Envelope`] is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Signature(..)")
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = deserializer.deserialize_byte_buf(BoundedBytes {
            max: 64,
            what: "a signature",
        })?;
        let array = <[u8; 64]>::try_from(bytes.as_slice())
            .map_err(|_| serde::de::Error::invalid_length(bytes.len(), &"a signature of 64 bytes"))?;
        Ok(Self(array))
    }
}

/// A signed prekey as uploaded and served (see hush-crypto's `SignedPreKeyPublic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPreKey {
    /// Owner-chosen id.
    pub id: u32,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// X25519 public key.
    pub key: [u8; 32],
    /// Identity signature over hush-crypto's `signed_prekey_message`.
    pub signature: Signature,
}

/// A one-time prekey as uploaded and served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimePreKey {
    /// Owner-chosen id.
    pub id: u32,
    /// X25519 public key.
    pub key: [u8; 32],
}

/// What a fetch returns: the owner's identity, signed prekey, at most one one-time prekey and at
/// most one KEM prekey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// Ed25519 identity key.
    pub identity_key: [u8; 32],
    /// Current signed prekey.
    pub signed_prekey: SignedPreKey,
    /// One one-time prekey, claimed for this fetch alone; `None` when the owner has run out.
    pub one_time_prekey: Option<OneTimePreKey>,
    /// One KEM prekey (version 5): a one-time one claimed for this fetch alone, else the
    /// last-resort one of `signed_prekey`; `None` when the owner published neither.
    /// Boxed: a KEM prekey is four times the rest of a bundle's inline size.
    pub kem_prekey: Option<Box<crate::KemPreKey>>,
}

/// Permission to register, signed by a key the relay operator configures (so an app's backend
/// decides who may register). Signature over `"Hush_v1_Registration" || identity key ||
/// u64 expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationToken {
    /// Unix seconds after which the token is refused.
    pub expires_at: u64,
    /// Operator signature.
    pub signature: Signature,
}

/// A list with a decode-time length limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<T>", into = "Vec<T>")]
#[serde(bound(serialize = "T: Serialize + Clone", deserialize = "T: Deserialize<'de>"))]
pub struct BoundedVec<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> BoundedVec<T, MAX> {
    /// Wraps a list; `None` if it holds more than `MAX` items.
    pub fn new(items: Vec<T>) -> Option<Self> {
        (items.len() <= MAX).then_some(Self(items))
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// The items, owned.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MAX: usize> TryFrom<Vec<T>> for BoundedVec<T, MAX> {
    type Error = &'static str;
    fn try_from(items: Vec<T>) -> Result<Self, Self::Error> {
        Self::new(items).ok_or("list over its length limit")
    }
}

impl<T, const MAX: usize> From<BoundedVec<T, MAX>> for Vec<T> {
    fn from(list: BoundedVec<T, MAX>) -> Self {
        list.0
    }
}

/// One-time prekeys of one upload.
pub type PreKeyUpload = BoundedVec<OneTimePreKey, MAX_PREKEYS_PER_UPLOAD>;

/// Recipients and their envelopes of one `SendMany`.
pub type Deliveries = BoundedVec<Addressed, MAX_RECIPIENTS_PER_SEND>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_verifier_is_the_labelled_hash_and_debug_hides_the_key() {
        use sha2::Digest;
        let key = AccessKey([0x42; 32]);
        let mut input = b"Hush_v2_AccessKey".to_vec();
        input.extend_from_slice(&[0x42; 32]);
        let expected: [u8; 32] = sha2::Sha256::digest(&input).into();
        assert_eq!(key.verifier(), expected);
        assert_ne!(key.verifier(), AccessKey([0x43; 32]).verifier());
        assert_eq!(format!("{key:?}"), "AccessKey(..)");
        // On the wire: 32 raw bytes, and an optional one is a 0/1 byte first.
        assert_eq!(postcard::to_allocvec(&key).unwrap(), vec![0x42; 32]);
        assert_eq!(postcard::to_allocvec(&None::<AccessKey>).unwrap(), vec![0]);
    }
}
