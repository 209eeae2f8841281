//! Signed KEM prekeys: one-time ones (used by one session, then erased) and a last-resort one
//! per signed prekey (reused while its signed prekey lives). Each is signed by the identity key
//! with purpose [`SignaturePurpose::KemPreKey`] over
//! `u8 algorithm || u8 kind || u32 id || ek` (SPEC.md §17.2), so neither a relay nor a signing
//! request can pass off another key, another id or a one-time key as a last-resort one.

use serde::{Deserialize, Serialize};

use crate::error::{DecodeError, KeyError};
use crate::keys::IdentityKey;
use crate::pq::kem::{KEM_PUBLIC_KEY_LEN, KemCiphertext, KemPublicKey};
pub use crate::pq::kind::KemPreKeyKind;
use crate::signature::{SignaturePurpose, purpose_signed_message};
use crate::wire::{Reader, Writer};

/// Algorithm byte of ML-KEM-1024, the one KEM Hush uses (a new KEM gets a new byte).
pub const KEM_ALGORITHM_ML_KEM_1024: u8 = 0x01;
/// Type byte of a standalone [`KemPreKeyPublic`] encoding (as uploaded to a relay).
pub const TYPE_KEM_PREKEY: u8 = 0x09;
/// Length of a KEM prekey's fields (algorithm, kind, id, key, signature).
pub const KEM_PREKEY_BODY_LEN: usize = 1 + 1 + 4 + KEM_PUBLIC_KEY_LEN + 64;

/// Which KEM prekey a pre-key message encapsulated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KemPreKeyId {
    /// One-time or last-resort.
    pub kind: KemPreKeyKind,
    /// Its id (a last-resort key's is its signed prekey's).
    pub id: u32,
}

/// The exact bytes (after the purpose prefix) a KEM prekey's signature covers:
/// `u8 algorithm || u8 kind || u32 id || ek[1568]`.
pub fn kem_prekey_message(kind: KemPreKeyKind, id: u32, key: &KemPublicKey) -> Vec<u8> {
    let mut writer = Writer::default();
    writer
        .u8(KEM_ALGORITHM_ML_KEM_1024)
        .u8(kind.tag())
        .u32(id)
        .put(key.as_bytes());
    writer.bytes
}

/// A KEM prekey as published: kind, id, ML-KEM-1024 key and the identity key's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KemPreKeyPublic {
    /// One-time or last-resort.
    pub kind: KemPreKeyKind,
    /// Id chosen by the owner.
    pub id: u32,
    /// The encapsulation key.
    pub key: KemPublicKey,
    /// Ed25519 signature by the identity key over
    /// `purpose_signed_message(KemPreKey, kem_prekey_message(kind, id, key))`.
    pub signature: [u8; 64],
}

impl KemPreKeyPublic {
    /// The id the pre-key message names.
    pub fn prekey_id(&self) -> KemPreKeyId {
        KemPreKeyId {
            kind: self.kind,
            id: self.id,
        }
    }

    /// Verifies (strictly) the signature under `identity`.
    pub fn verify(&self, identity: &IdentityKey) -> Result<(), KeyError> {
        identity.verify(
            &purpose_signed_message(
                SignaturePurpose::KemPreKey,
                &kem_prekey_message(self.kind, self.id, &self.key),
            ),
            &self.signature,
        )
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u8(KEM_ALGORITHM_ML_KEM_1024)
            .u8(self.kind.tag())
            .u32(self.id)
            .put(self.key.as_bytes())
            .put(&self.signature);
    }

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        read_algorithm(reader, "kem_algorithm")?;
        let kind = read_kind(reader)?;
        Ok(Self {
            kind,
            id: reader.u32("kem_prekey_id")?,
            key: read_kem_key(reader, "kem_prekey")?,
            signature: reader.array("kem_prekey_signature")?,
        })
    }

    /// Encodes the key alone (type 0x09, `KEM_PREKEY_BODY_LEN + 2` bytes), as a relay stores it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::with_header(TYPE_KEM_PREKEY, 2 + KEM_PREKEY_BODY_LEN);
        self.write(&mut writer);
        writer.bytes
    }

    /// Decodes a standalone KEM prekey (the signature is checked by [`KemPreKeyPublic::verify`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.header(TYPE_KEM_PREKEY)?;
        let key = Self::read(&mut reader)?;
        reader.finish()?;
        Ok(key)
    }
}

fn read_kind(reader: &mut Reader<'_>) -> Result<KemPreKeyKind, DecodeError> {
    let field = "kem_prekey_kind";
    let value = reader.u8(field)?;
    KemPreKeyKind::from_tag(value).ok_or(DecodeError::InvalidFlag { field, value })
}

/// Reads the KEM algorithm byte: anything but ML-KEM-1024 is refused.
pub(crate) fn read_algorithm(reader: &mut Reader<'_>, field: &'static str) -> Result<(), DecodeError> {
    match reader.u8(field)? {
        KEM_ALGORITHM_ML_KEM_1024 => Ok(()),
        value => Err(DecodeError::InvalidFlag { field, value }),
    }
}

fn read_kem_key(reader: &mut Reader<'_>, field: &'static str) -> Result<KemPublicKey, DecodeError> {
    KemPublicKey::from_bytes(&reader.array(field)?)
        .map_err(|source| DecodeError::InvalidKey { field, source })
}

/// What a PQXDH pre-key message adds to the X3DH header: which KEM prekey it encapsulated to
/// and the ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KemHeader {
    /// The responder's KEM prekey used.
    pub prekey: KemPreKeyId,
    /// `Encaps(ek, m)`'s ciphertext.
    pub ciphertext: KemCiphertext,
}

impl KemHeader {
    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u8(KEM_ALGORITHM_ML_KEM_1024)
            .u8(self.prekey.kind.tag())
            .u32(self.prekey.id)
            .put(self.ciphertext.as_bytes());
    }

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        read_algorithm(reader, "kem_algorithm")?;
        let kind = read_kind(reader)?;
        Ok(Self {
            prekey: KemPreKeyId {
                kind,
                id: reader.u32("kem_prekey_id")?,
            },
            ciphertext: KemCiphertext::from_bytes(&reader.array("kem_ciphertext")?),
        })
    }

    pub(crate) fn to_pickle(&self) -> KemHeaderPickle {
        KemHeaderPickle {
            kind: self.prekey.kind.tag(),
            id: self.prekey.id,
            ciphertext: self.ciphertext.as_bytes().to_vec(),
        }
    }

    pub(crate) fn from_pickle(pickle: &KemHeaderPickle) -> Option<Self> {
        Some(Self {
            prekey: KemPreKeyId {
                kind: KemPreKeyKind::from_tag(pickle.kind)?,
                id: pickle.id,
            },
            ciphertext: KemCiphertext::from_bytes(pickle.ciphertext.as_slice().try_into().ok()?),
        })
    }
}

/// The saved form of a [`KemHeader`] (public values only).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct KemHeaderPickle {
    kind: u8,
    id: u32,
    ciphertext: Vec<u8>,
}
