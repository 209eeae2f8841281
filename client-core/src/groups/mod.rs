//! Group state, pure: a group's id, name, description, members with roles and version, changed
//! only by signed group updates ([`GroupUpdate`]) that every member orders the same way
//! ([`GroupLog`]). No I/O and no clock; delivering updates over pairwise sessions and storing
//! the log is the caller's. The encoding and the ordering rule are in proto/PROTOCOL.md, "Group
//! updates".

use std::collections::BTreeMap;

use hush_crypto::devices::AccountKey;
use rand_core::CryptoRng;

mod control;
mod drop_reason;
mod error;
mod held;
mod log;
mod operation;
mod record;
mod state;
mod update;
mod wire;

#[cfg(test)]
mod log_tests;
#[cfg(test)]
mod tests;

pub use control::{
    CONTROL_KEY_REQUEST, CONTROL_SENDER_KEY, CONTROL_SENDER_KEY_AFTER, CONTROL_UPDATES, ControlError,
    GroupControl, MAX_CONTROL_UPDATES, Predecessor,
};
pub use drop_reason::GroupDropReason;
pub use error::{GroupRuleError, GroupUpdateError};
pub(crate) use held::{Held, claims, held_key, held_unattributed, held_updates, unhold};
pub use log::{GroupLog, Received};
pub use operation::GroupOperation;
pub use record::{
    ChainId, Early, GroupBlob, GroupRecord, GroupRecordError, MAX_EARLY_BYTES, MAX_EARLY_MESSAGES,
    MAX_GROUP_HELD, early_blob, early_from_blob,
};
pub use update::{GroupUpdate, UPDATE_HASH_KEY, UpdateHash};
pub use wire::{GROUP_UPDATE_FORMAT, KIND_GROUP_UPDATE};

/// Most members of a group. The target is 1,000-member groups; a creation listing them
/// all is about 33 KB, well inside one message.
pub const MAX_GROUP_MEMBERS: usize = 1_000;

/// Longest group name in bytes of UTF-8 (about a line on a phone, with room for non-Latin
/// scripts).
pub const MAX_GROUP_NAME_LEN: usize = 128;

/// Longest group description in bytes of UTF-8.
pub const MAX_GROUP_DESCRIPTION_LEN: usize = 1_024;

/// Most updates a log holds that wait for earlier versions: enough for a member that missed a
/// busy week, bounded so a member sending far-future versions cannot grow it without end.
pub const MAX_WAITING_UPDATES: usize = 1_024;

/// A group's id: 16 random bytes drawn by its creator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub [u8; 16]);

/// HMAC key of a group's conversation address ([`GroupId::conversation`]).
pub const GROUP_CONVERSATION_KEY: &[u8] = b"Hush_v1_GroupConversation";

impl GroupId {
    /// The key the group's messages are kept under in the history and the outbox: the first
    /// `HMAC-SHA256(GROUP_CONVERSATION_KEY, id || u32 counter)` (counter big-endian, from 0)
    /// that is a valid Ed25519 key, so that it is an [`crate::Address`] like a contact's. Local
    /// only: it names no mailbox and nobody holds its private key. About half of all strings
    /// are valid keys, so the loop ends after two tries on average.
    pub fn conversation(&self) -> crate::Address {
        let mut input = [0u8; 20];
        input[..16].copy_from_slice(&self.0);
        let mut counter: u32 = 0;
        loop {
            input[16..].copy_from_slice(&counter.to_be_bytes());
            let candidate = hush_crypto::primitives::hmac_sha256(GROUP_CONVERSATION_KEY, &input);
            if let Ok(address) = crate::Address::from_bytes(candidate) {
                return address;
            }
            counter = counter.wrapping_add(1);
        }
    }

    /// A fresh random id.
    pub fn random(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        Self(id)
    }
}

/// What a member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Role {
    /// May add, remove, rename and change roles.
    Admin,
    /// May send and leave.
    Member,
}

impl Role {
    pub(crate) fn byte(self) -> u8 {
        match self {
            Self::Admin => 1,
            Self::Member => 2,
        }
    }

    pub(crate) fn from_byte(byte: u8) -> Result<Self, GroupUpdateError> {
        match byte {
            1 => Ok(Self::Admin),
            2 => Ok(Self::Member),
            other => Err(GroupUpdateError::UnknownRole(other)),
        }
    }
}

/// A group as it stands after the updates its log orders. Members are accounts; all of an
/// account's devices receive the group's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    id: GroupId,
    name: String,
    description: Option<String>,
    members: BTreeMap<AccountKey, Role>,
    version: u64,
}

impl GroupState {
    /// The group's id.
    pub fn id(&self) -> GroupId {
        self.id
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The group's description, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Members and their roles, in account-key order.
    pub fn members(&self) -> &BTreeMap<AccountKey, Role> {
        &self.members
    }

    /// The role of `account`, if it is a member.
    pub fn role(&self, account: &AccountKey) -> Option<Role> {
        self.members.get(account).copied()
    }

    /// 1 for the creation plus the updates the log has placed, applied or refused (PROTOCOL.md,
    /// "Group updates"). It only grows: an update arriving late may re-order history, but never
    /// un-places an update.
    pub fn version(&self) -> u64 {
        self.version
    }
}
