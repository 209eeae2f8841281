//! Prekeys between the crypto crate's types and their wire form: what `UploadPreKeys` and
//! `UploadKemPreKeys` carry and what a `Bundle` serves. Imports nothing of the core, so upkeep,
//! sending and the device checks can all use it.

use hush_crypto::pq::{KemPreKeyKind, KemPreKeyPublic, KemPublicKey, PqPreKeyBundle};
use hush_crypto::{Curve25519PublicKey, IdentityKey, OneTimePreKeyPublic, PreKeyBundle, SignedPreKeyPublic};
use hush_proto::{Bundle, KemPreKey, KemPublicKeyBytes};

/// The wire form of a signed prekey (what `UploadPreKeys` carries and a `Bundle` serves).
pub fn signed_prekey_to_wire(signed: &SignedPreKeyPublic) -> hush_proto::SignedPreKey {
    hush_proto::SignedPreKey {
        id: signed.id,
        created_at: signed.created_at,
        key: signed.key.to_bytes(),
        signature: hush_proto::Signature(signed.signature),
    }
}

/// The wire form of a signed KEM prekey (what `UploadKemPreKeys` carries).
pub fn kem_prekey_to_wire(prekey: &KemPreKeyPublic) -> KemPreKey {
    KemPreKey {
        kind: match prekey.kind {
            KemPreKeyKind::OneTime => hush_proto::KemPreKeyKind::OneTime,
            KemPreKeyKind::LastResort => hush_proto::KemPreKeyKind::LastResort,
        },
        id: prekey.id,
        key: KemPublicKeyBytes(Box::new(*prekey.key.as_bytes())),
        signature: hush_proto::Signature(prekey.signature),
    }
}

/// The crypto crate's KEM prekey from the wire form; `None` if the key is invalid.
fn kem_prekey_from_wire(prekey: &KemPreKey) -> Option<KemPreKeyPublic> {
    Some(KemPreKeyPublic {
        kind: match prekey.kind {
            hush_proto::KemPreKeyKind::OneTime => KemPreKeyKind::OneTime,
            hush_proto::KemPreKeyKind::LastResort => KemPreKeyKind::LastResort,
        },
        id: prekey.id,
        key: KemPublicKey::from_bytes(&prekey.key.0).ok()?,
        signature: prekey.signature.0,
    })
}

/// The crypto crate's bundle (with its KEM prekey, if served) from the wire form; `None` if a
/// key is invalid.
pub(crate) fn bundle_from_wire(bundle: &Bundle) -> Option<PqPreKeyBundle> {
    let classical = PreKeyBundle {
        identity_key: IdentityKey::from_bytes(&bundle.identity_key).ok()?,
        signed_prekey: SignedPreKeyPublic {
            id: bundle.signed_prekey.id,
            created_at: bundle.signed_prekey.created_at,
            key: Curve25519PublicKey::from_bytes(&bundle.signed_prekey.key).ok()?,
            signature: bundle.signed_prekey.signature.0,
        },
        one_time_prekey: match &bundle.one_time_prekey {
            Some(otk) => Some(OneTimePreKeyPublic {
                id: otk.id,
                key: Curve25519PublicKey::from_bytes(&otk.key).ok()?,
            }),
            None => None,
        },
    };
    let kem_prekey = match &bundle.kem_prekey {
        Some(kem) => Some(kem_prekey_from_wire(kem)?),
        None => None,
    };
    Some(PqPreKeyBundle {
        bundle: classical,
        kem_prekey,
    })
}
