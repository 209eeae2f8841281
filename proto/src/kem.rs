//! KEM prekeys on the wire (protocol version 5): the signed ML-KEM-1024 prekeys a client uploads
//! with `UploadKemPreKeys` and a bundle serves one of. The relay checks each signature against
//! the mailbox's identity key (hush-crypto's `KemPreKeyPublic::verify`) before storing it.

use serde::{Deserialize, Serialize};

use crate::bytes::BoundedBytes;
use crate::types::{BoundedVec, Signature};

/// Length of an ML-KEM-1024 encapsulation key (FIPS 203).
pub const KEM_PUBLIC_KEY_LEN: usize = 1568;

/// Most one-time KEM prekeys in one upload: the EC keys' batch. At about 1.6 KB each an upload
/// of 100 is 164 KB, well within [`crate::MAX_FRAME_LEN`].
pub const MAX_KEM_PREKEYS_PER_UPLOAD: usize = 100;

/// Which kind of KEM prekey. The kind is covered by the key's signature, so a relay cannot serve
/// a one-time key as reusable or the other way round. On the wire a varint: 0 one-time, 1
/// last-resort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KemPreKeyKind {
    /// Served to one fetch, then deleted by the relay.
    OneTime,
    /// Served when no one-time key is left; bound to the signed prekey with the same id and
    /// replaced by the owner's next upload of one.
    LastResort,
}

/// An ML-KEM-1024 encapsulation key: on the wire a byte string of exactly
/// [`KEM_PUBLIC_KEY_LEN`] bytes (varint `a0 0c`, then the key). `Debug` shows its first bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct KemPublicKeyBytes(pub Box<[u8; KEM_PUBLIC_KEY_LEN]>);

impl core::fmt::Debug for KemPublicKeyBytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [a, b, c, d, ..] = *self.0;
        write!(f, "KemPublicKeyBytes({a:02x}{b:02x}{c:02x}{d:02x}..)")
    }
}

impl Serialize for KemPublicKeyBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0.as_slice())
    }
}

impl<'de> Deserialize<'de> for KemPublicKeyBytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = deserializer.deserialize_byte_buf(BoundedBytes {
            max: KEM_PUBLIC_KEY_LEN,
            what: "an ML-KEM-1024 key",
        })?;
        let array = <[u8; KEM_PUBLIC_KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
            serde::de::Error::invalid_length(bytes.len(), &"an ML-KEM-1024 key of 1568 bytes")
        })?;
        Ok(Self(Box::new(array)))
    }
}

/// A signed KEM prekey as uploaded and served (see hush-crypto's `KemPreKeyPublic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KemPreKey {
    /// One-time or last-resort.
    pub kind: KemPreKeyKind,
    /// Owner-chosen id; a last-resort key's is its signed prekey's.
    pub id: u32,
    /// The encapsulation key.
    pub key: KemPublicKeyBytes,
    /// Identity signature over hush-crypto's `kem_prekey_message` (purpose `KemPreKey`).
    pub signature: Signature,
}

/// One-time KEM prekeys of one upload.
pub type KemPreKeyUpload = BoundedVec<KemPreKey, MAX_KEM_PREKEYS_PER_UPLOAD>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_key_is_exactly_1568_bytes_on_the_wire() {
        let key = KemPublicKeyBytes(Box::new([7; KEM_PUBLIC_KEY_LEN]));
        let bytes = postcard::to_allocvec(&key).unwrap();
        assert_eq!(&bytes[..2], &[0xa0, 0x0c]);
        assert_eq!(bytes.len(), 2 + KEM_PUBLIC_KEY_LEN);
        assert_eq!(postcard::from_bytes::<KemPublicKeyBytes>(&bytes).unwrap(), key);
        for len in [KEM_PUBLIC_KEY_LEN - 1, KEM_PUBLIC_KEY_LEN + 1] {
            let wrong = postcard::to_allocvec(&vec![7u8; len]).unwrap();
            assert!(
                postcard::from_bytes::<KemPublicKeyBytes>(&wrong).is_err(),
                "{len}"
            );
        }
        assert_eq!(postcard::to_allocvec(&KemPreKeyKind::LastResort).unwrap(), [1]);
    }

    #[test]
    fn an_upload_of_101_one_time_keys_does_not_decode() {
        let key = KemPreKey {
            kind: KemPreKeyKind::OneTime,
            id: 1,
            key: KemPublicKeyBytes(Box::new([7; KEM_PUBLIC_KEY_LEN])),
            signature: Signature([8; 64]),
        };
        let at_limit = postcard::to_allocvec(&vec![key.clone(); MAX_KEM_PREKEYS_PER_UPLOAD]).unwrap();
        assert!(postcard::from_bytes::<KemPreKeyUpload>(&at_limit).is_ok());
        let over = postcard::to_allocvec(&vec![key; MAX_KEM_PREKEYS_PER_UPLOAD + 1]).unwrap();
        assert!(postcard::from_bytes::<KemPreKeyUpload>(&over).is_err());
    }
}
