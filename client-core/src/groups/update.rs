//! One signed group update: who made it (the author device, and the account the caller resolved
//! it to), which group, the version it was made at, and the operation.

use hush_crypto::devices::AccountKey;
use hush_crypto::primitives::hmac_sha256;
use hush_crypto::{Account, IdentityKey, SignaturePurpose};

use super::operation::GroupOperation;
use super::wire::{SIGNATURE_LEN, UpdateBody};
use super::{GroupId, GroupUpdateError};

/// HMAC-SHA256 key of an update's hash (a public label: the hash only has to be collision
/// resistant and the same at every member).
pub const UPDATE_HASH_KEY: &[u8] = b"Hush_v1_GroupUpdateHash";

/// An update's hash: `HMAC-SHA256(UPDATE_HASH_KEY, encoding)`. The tiebreak between updates
/// made at the same version.
pub type UpdateHash = [u8; 32];

/// A signed group update, as made by [`GroupUpdate::sign`] or decoded and verified by
/// [`GroupUpdate::from_bytes`]. The signature is the author device's; that the device belongs
/// to the named author account is the caller's to check ([`super::GroupLog::receive`] takes the
/// account the caller resolved it to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupUpdate {
    body: UpdateBody,
    bytes: Vec<u8>,
    hash: UpdateHash,
}

impl GroupUpdate {
    /// Makes and signs an update with the author device's identity key. Refuses what a receiver
    /// would refuse to decode (limits, version 1 for anything but a creation).
    pub fn sign(
        group_id: GroupId,
        version: u64,
        author_account: AccountKey,
        device: &Account,
        operation: GroupOperation,
    ) -> Result<Self, GroupUpdateError> {
        let body = UpdateBody {
            group_id,
            version,
            author_account,
            author_device: device.identity_key(),
            operation,
        };
        let mut bytes = body.encode()?;
        let signature = device.sign(SignaturePurpose::GroupUpdate, &bytes);
        bytes.extend_from_slice(&signature);
        Ok(Self::with_body(body, bytes))
    }

    /// Decodes an update and verifies its author device's signature.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GroupUpdateError> {
        let (body, signature) = UpdateBody::decode(bytes)?;
        let signed = bytes
            .get(..bytes.len().saturating_sub(SIGNATURE_LEN))
            .ok_or(GroupUpdateError::BadSignature)?;
        body.author_device
            .verify_for(SignaturePurpose::GroupUpdate, signed, &signature)
            .map_err(|_| GroupUpdateError::BadSignature)?;
        Ok(Self::with_body(body, bytes.to_vec()))
    }

    fn with_body(body: UpdateBody, bytes: Vec<u8>) -> Self {
        let hash = hmac_sha256(UPDATE_HASH_KEY, &bytes);
        Self { body, bytes, hash }
    }

    /// The encoding, signature included (what travels to the members).
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The update's hash.
    pub fn hash(&self) -> UpdateHash {
        self.hash
    }

    /// The group.
    pub fn group_id(&self) -> GroupId {
        self.body.group_id
    }

    /// The version the author made it at: one more than the version of the state it saw.
    pub fn version(&self) -> u64 {
        self.body.version
    }

    /// The author's account, as the update names it.
    pub fn author_account(&self) -> AccountKey {
        self.body.author_account
    }

    /// The author device's identity key, which signed the update.
    pub fn author_device(&self) -> IdentityKey {
        self.body.author_device
    }

    /// What it changes.
    pub fn operation(&self) -> &GroupOperation {
        &self.body.operation
    }

    /// The order among updates (PROTOCOL.md, "Group updates"): version, then updates that can
    /// demote an admin, then hash.
    pub(super) fn order_key(&self) -> (u64, bool, UpdateHash) {
        (self.body.version, !self.body.operation.demotes(), self.hash)
    }
}
