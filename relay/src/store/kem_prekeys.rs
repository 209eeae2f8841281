//! KEM prekeys (protocol version 5) as every store keeps them: one-time ones per mailbox by id,
//! each handed out at most once, and one last-resort key per mailbox, replaced by each upload of
//! one. The handler has verified every signature before a store sees a key.

use hush_proto::{KEM_PUBLIC_KEY_LEN, KemPreKey, KemPreKeyKind, KemPublicKeyBytes, Signature};

use super::{Corruption, StoreError};

/// What a fetch claims of the KEM prekeys, beside [`super::ClaimedBundle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedKemPreKey {
    /// The claimed one-time key (now deleted), else the last-resort key of the signed prekey
    /// the bundle serves; `None` when the owner has neither.
    pub prekey: Option<KemPreKey>,
    /// One-time KEM prekeys left after this claim.
    pub remaining: u32,
}

/// What one upload stores: one-time KEM prekeys to add and, if given, the last-resort KEM
/// prekey that replaces the one held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KemUpload {
    /// Replaces the held last-resort key.
    pub last_resort: Option<KemPreKey>,
    /// Added (the same id replaces).
    pub one_time: Vec<KemPreKey>,
}

/// A stored KEM prekey from its columns; a key or signature of the wrong length means a corrupt
/// database.
pub(crate) fn kem_prekey_from_sql(
    kind: KemPreKeyKind,
    id: u32,
    key: &[u8],
    signature: &[u8],
) -> Result<KemPreKey, StoreError> {
    let key: [u8; KEM_PUBLIC_KEY_LEN] = key.try_into().map_err(|_| Corruption::WrongLength {
        expected: KEM_PUBLIC_KEY_LEN,
        found: key.len(),
    })?;
    let signature: [u8; 64] = signature.try_into().map_err(|_| Corruption::WrongLength {
        expected: 64,
        found: signature.len(),
    })?;
    Ok(KemPreKey {
        kind,
        id,
        key: KemPublicKeyBytes(Box::new(key)),
        signature: Signature(signature),
    })
}

/// Of the one-time keys of an upload, one per id, the last of an id winning (as a series of
/// inserts would).
pub(crate) fn last_of_each_id(one_time: Vec<KemPreKey>) -> std::collections::BTreeMap<u32, KemPreKey> {
    one_time.into_iter().map(|prekey| (prekey.id, prekey)).collect()
}
