//! The PQXDH bundle: the classical bundle's fields plus one signed KEM prekey (SPEC.md §17.3).

use crate::error::{BundleError, DecodeError};
use crate::keys::IdentityKey;
use crate::messages::{PreKeyBundle, VerifiedBundle};
use crate::pq::prekey::{KEM_PREKEY_BODY_LEN, KemPreKeyKind, KemPreKeyPublic};
use crate::wire::{PQXDH_VERSION, Reader, TYPE_PREKEY_BUNDLE, VERSION, Writer};

/// A bundle as a PQXDH-capable relay serves it: the classical bundle and, unless its owner
/// publishes none, a KEM prekey (a one-time one, or the last-resort one of the bundle's signed
/// prekey). Encoded as version 2 with a KEM prekey and as the classical version 1 without.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PqPreKeyBundle {
    /// Identity, signed prekey and optional one-time prekey.
    pub bundle: PreKeyBundle,
    /// The KEM prekey; `None` only for an owner that publishes none (a classical bundle).
    pub kem_prekey: Option<KemPreKeyPublic>,
}

impl PqPreKeyBundle {
    /// Checks the classical bundle (§5) and the KEM prekey: its signature under the bundle's
    /// identity ([`BundleError::BadKemSignature`]) and, for a last-resort key, that it belongs to
    /// the bundle's signed prekey ([`BundleError::KemPreKeyMismatch`]), so a relay cannot pair a
    /// fresh signed prekey with a stale last-resort key.
    pub fn verify(&self, pinned: Option<&IdentityKey>) -> Result<VerifiedBundle, BundleError> {
        let mut verified = self.bundle.verify(pinned)?;
        if let Some(kem) = &self.kem_prekey {
            kem.verify(&self.bundle.identity_key)
                .map_err(|_| BundleError::BadKemSignature)?;
            if kem.kind == KemPreKeyKind::LastResort && kem.id != self.bundle.signed_prekey.id {
                return Err(BundleError::KemPreKeyMismatch {
                    kem_prekey_id: kem.id,
                    signed_prekey_id: self.bundle.signed_prekey.id,
                });
            }
            verified.kem_prekey = Some(kem.clone());
        }
        Ok(verified)
    }

    /// Encodes the bundle: version 2 with its KEM prekey after the classical fields, or the
    /// classical version 1 bytes when it has none.
    pub fn to_bytes(&self) -> Vec<u8> {
        let Some(kem) = &self.kem_prekey else {
            return self.bundle.to_bytes();
        };
        let mut writer =
            Writer::with_versioned_header(PQXDH_VERSION, TYPE_PREKEY_BUNDLE, 180 + KEM_PREKEY_BODY_LEN);
        self.bundle.write_fields(&mut writer);
        kem.write(&mut writer);
        writer.bytes
    }

    /// Decodes either version (signatures are checked by [`PqPreKeyBundle::verify`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let version = reader.header_classical_or_pq(TYPE_PREKEY_BUNDLE)?;
        let bundle = PreKeyBundle::read_fields(&mut reader)?;
        let kem_prekey = match version {
            VERSION => None,
            _ => Some(KemPreKeyPublic::read(&mut reader)?),
        };
        reader.finish()?;
        Ok(Self { bundle, kem_prekey })
    }
}
