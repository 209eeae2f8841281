//! Prekeys between the crypto crate's types and their wire form: what `UploadPreKeys` carries
//! and what a `Bundle` serves. Imports nothing of the core, so upkeep, sending and the device
//! checks can all use it.

use hush_crypto::{Curve25519PublicKey, IdentityKey, OneTimePreKeyPublic, PreKeyBundle, SignedPreKeyPublic};
use hush_proto::Bundle;

/// The wire form of a signed prekey (what `UploadPreKeys` carries and a `Bundle` serves).
pub fn signed_prekey_to_wire(signed: &SignedPreKeyPublic) -> hush_proto::SignedPreKey {
    hush_proto::SignedPreKey {
        id: signed.id,
        created_at: signed.created_at,
        key: signed.key.to_bytes(),
        signature: hush_proto::Signature(signed.signature),
    }
}

/// The crypto crate's bundle from the wire form; `None` if a key is invalid.
pub(crate) fn bundle_from_wire(bundle: &Bundle) -> Option<PreKeyBundle> {
    Some(PreKeyBundle {
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
    })
}
