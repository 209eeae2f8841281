//! Group control messages: what travels inside a [`Body::Group`](crate::content::Body::Group)
//! payload over the pairwise sessions (proto/PROTOCOL.md, "Group control messages").
//!
//! ```text
//! control = u8 kind || body
//!   kind 1, updates:    u16 count (1..=MAX_CONTROL_UPDATES) || count × (u32 length || group update)
//!   kind 2, sender key: a sender-key distribution (hush-crypto, SPEC §9), the rest of the bytes
//!   kind 3, key request: group id (16)
//!   kind 4, sender key after: previous distribution id (16) || u32 count || a sender-key
//!           distribution, the rest of the bytes
//! ```
//!
//! Kind 4 (protocol version 6) is a sender key that follows on from the sending device's
//! previous chain in the group ([`Predecessor`]): the receiver that holds that chain delivers
//! nothing of the new one before the `count` messages of the old one, so a sender's messages
//! keep their order across epochs.
//!
//! A key request asks the receiving member for its current sender key of the group: a member
//! that has just joined, or has just learnt of new members, sends one to them, since their keys
//! may have reached it before it knew they were members (and were refused then).
//!
//! Integers are big-endian. The updates of one message all name one group: a member added is
//! sent the whole log (the creation first), a member is sent each new update alone.

use hush_crypto::group::SenderKeyDistribution;
use thiserror::Error;

use super::{GroupId, GroupUpdate, GroupUpdateError};

/// Kind byte of a message carrying group updates.
pub const CONTROL_UPDATES: u8 = 1;
/// Kind byte of a message carrying the sending device's sender key.
pub const CONTROL_SENDER_KEY: u8 = 2;
/// Kind byte of a request for the receiver's sender key.
pub const CONTROL_KEY_REQUEST: u8 = 3;
/// Kind byte of a sender key that names the chain it follows on from.
pub const CONTROL_SENDER_KEY_AFTER: u8 = 4;

/// The chain a sender chain follows on from: the same device's previous chain in the group (a
/// distribution id) and how many messages were encrypted on it (its positions `0..count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Predecessor {
    /// The previous chain's distribution id.
    pub distribution_id: [u8; 16],
    /// Messages encrypted on it.
    pub count: u32,
}

/// Most updates one control message carries: a log this long (a busy group's history) still fits
/// in a payload, since updates of most kinds are under 300 bytes; a longer log is sent in parts.
pub const MAX_CONTROL_UPDATES: usize = 128;

/// One group control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupControl {
    /// Updates of one group, in the log's order.
    Updates(Vec<GroupUpdate>),
    /// The sending device's sender key for a group (its current chain), and the chain it
    /// follows on from (none for a device's first chain in the group).
    SenderKey {
        /// The key.
        distribution: Box<SenderKeyDistribution>,
        /// Its predecessor.
        after: Option<Predecessor>,
    },
    /// Asks for the receiver's current sender key of a group.
    KeyRequest(GroupId),
}

/// Why bytes are not a group control message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ControlError {
    /// Empty, or the kind byte is not one this client reads.
    #[error("unknown group control kind {0:?}")]
    UnknownKind(Option<u8>),
    /// A count or a length runs past the end, or bytes follow the last update.
    #[error("group control message truncated or with trailing bytes")]
    Malformed,
    /// No updates, more than [`MAX_CONTROL_UPDATES`], or updates of more than one group.
    #[error("group control message with {count} updates of {groups} groups")]
    BadUpdateList {
        /// Updates announced.
        count: usize,
        /// Groups they name (1 expected).
        groups: usize,
    },
    /// An update does not decode or verify.
    #[error("group update refused: {0}")]
    Update(#[from] GroupUpdateError),
    /// The sender key does not decode.
    #[error("sender key does not decode")]
    SenderKey,
    /// The sending device belongs to no account we know (no pinned list counts it).
    #[error("group control from a device of no known account")]
    UnknownSender,
    /// About a group we do not hold.
    #[error("group control for an unknown group")]
    UnknownGroup,
    /// The sender's account is not a member (or a log that does not make us one).
    #[error("group control from a non-member")]
    NotMember,
    /// An update of a group we hold that did not come from its author device.
    #[error("group update forwarded by a device that did not sign it")]
    NotAuthor,
    /// A sender key the group's chains refuse (forwarded, another group, conflicting).
    #[error("sender key refused: {0}")]
    Chain(#[from] hush_crypto::GroupError),
}

impl GroupControl {
    /// The group it is about.
    pub fn group_id(&self) -> Option<GroupId> {
        match self {
            Self::Updates(updates) => updates.first().map(GroupUpdate::group_id),
            Self::SenderKey { distribution, .. } => Some(GroupId(distribution.label().group_id)),
            Self::KeyRequest(id) => Some(*id),
        }
    }

    /// The encoding (see the module docs). Updates are at most [`MAX_CONTROL_UPDATES`]: callers
    /// split longer lists.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Updates(updates) => {
                let mut out = vec![CONTROL_UPDATES];
                let count = updates.len().min(MAX_CONTROL_UPDATES);
                out.extend_from_slice(&(count as u16).to_be_bytes());
                for update in updates.iter().take(count) {
                    let bytes = update.to_bytes();
                    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
                    out.extend_from_slice(bytes);
                }
                out
            }
            Self::SenderKey {
                distribution,
                after: None,
            } => {
                let mut out = vec![CONTROL_SENDER_KEY];
                out.extend_from_slice(&distribution.to_bytes());
                out
            }
            Self::SenderKey {
                distribution,
                after: Some(after),
            } => {
                let mut out = vec![CONTROL_SENDER_KEY_AFTER];
                out.extend_from_slice(&after.distribution_id);
                out.extend_from_slice(&after.count.to_be_bytes());
                out.extend_from_slice(&distribution.to_bytes());
                out
            }
            Self::KeyRequest(id) => {
                let mut out = vec![CONTROL_KEY_REQUEST];
                out.extend_from_slice(&id.0);
                out
            }
        }
    }

    /// Decodes and verifies each update's signature; refuses what [`GroupControl::encode`]
    /// would not have made.
    pub fn decode(bytes: &[u8]) -> Result<Self, ControlError> {
        match bytes.split_first() {
            Some((&CONTROL_UPDATES, rest)) => decode_updates(rest),
            Some((&CONTROL_SENDER_KEY, rest)) => sender_key(rest, None),
            Some((&CONTROL_SENDER_KEY_AFTER, rest)) => {
                let (distribution_id, rest) =
                    rest.split_first_chunk::<16>().ok_or(ControlError::Malformed)?;
                let (count, rest) = rest.split_first_chunk::<4>().ok_or(ControlError::Malformed)?;
                let after = Predecessor {
                    distribution_id: *distribution_id,
                    count: u32::from_be_bytes(*count),
                };
                sender_key(rest, Some(after))
            }
            Some((&CONTROL_KEY_REQUEST, rest)) => <[u8; 16]>::try_from(rest)
                .map(|id| Self::KeyRequest(GroupId(id)))
                .map_err(|_| ControlError::Malformed),
            other => Err(ControlError::UnknownKind(other.map(|(kind, _)| *kind))),
        }
    }
}

fn sender_key(bytes: &[u8], after: Option<Predecessor>) -> Result<GroupControl, ControlError> {
    let distribution = SenderKeyDistribution::from_bytes(bytes).map_err(|_| ControlError::SenderKey)?;
    if after.is_some_and(|after| after.distribution_id == distribution.label().distribution_id) {
        // A chain cannot follow on from itself.
        return Err(ControlError::Malformed);
    }
    Ok(GroupControl::SenderKey {
        distribution: Box::new(distribution),
        after,
    })
}

fn decode_updates(bytes: &[u8]) -> Result<GroupControl, ControlError> {
    let (count, mut rest) = bytes.split_first_chunk::<2>().ok_or(ControlError::Malformed)?;
    let count = usize::from(u16::from_be_bytes(*count));
    if count == 0 || count > MAX_CONTROL_UPDATES {
        return Err(ControlError::BadUpdateList { count, groups: 0 });
    }
    let mut updates = Vec::with_capacity(count);
    for _ in 0..count {
        let (length, tail) = rest.split_first_chunk::<4>().ok_or(ControlError::Malformed)?;
        let length = usize::try_from(u32::from_be_bytes(*length)).map_err(|_| ControlError::Malformed)?;
        let (update, tail) = tail.split_at_checked(length).ok_or(ControlError::Malformed)?;
        updates.push(GroupUpdate::from_bytes(update)?);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(ControlError::Malformed);
    }
    let first = updates.first().map(GroupUpdate::group_id);
    let groups = 1 + updates
        .iter()
        .filter(|update| Some(update.group_id()) != first)
        .count();
    if groups != 1 {
        return Err(ControlError::BadUpdateList { count, groups });
    }
    Ok(GroupControl::Updates(updates))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use hush_crypto::Account;
    use hush_crypto::devices::AccountSigningKey;
    use hush_crypto::group::GroupSender;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::groups::{GroupOperation, Role};

    fn creation(rng: &mut StdRng, id: [u8; 16]) -> (Account, GroupUpdate) {
        let device = Account::new(1, rng);
        let account = AccountSigningKey::generate(rng).public();
        let members = BTreeMap::from([(account, Role::Admin)]);
        let operation = GroupOperation::Create {
            name: "family".into(),
            description: None,
            members,
        };
        let update = GroupUpdate::sign(GroupId(id), 1, account, &device, operation).unwrap();
        (device, update)
    }

    #[test]
    fn control_messages_round_trip_and_refuse_what_encode_would_not_make() {
        let mut rng = StdRng::seed_from_u64(7);
        let (device, update) = creation(&mut rng, [1; 16]);
        let updates = GroupControl::Updates(vec![update.clone()]);
        let bytes = updates.encode();
        assert_eq!(GroupControl::decode(&bytes).unwrap(), updates);
        assert_eq!(updates.group_id(), Some(GroupId([1; 16])));

        let sender = GroupSender::new([1; 16], device.identity_key(), 0, &mut rng);
        let key = GroupControl::SenderKey {
            distribution: Box::new(sender.distribution()),
            after: None,
        };
        assert_eq!(GroupControl::decode(&key.encode()).unwrap(), key);
        let after = Predecessor {
            distribution_id: [5; 16],
            count: 258,
        };
        let key_after = GroupControl::SenderKey {
            distribution: Box::new(sender.distribution()),
            after: Some(after),
        };
        let after_bytes = key_after.encode();
        assert_eq!(
            after_bytes[..21],
            [[CONTROL_SENDER_KEY_AFTER].as_slice(), &[5; 16], &[0, 0, 1, 2]].concat()
        );
        assert_eq!(after_bytes[21..], key.encode()[1..]);
        assert_eq!(GroupControl::decode(&after_bytes).unwrap(), key_after);
        assert_eq!(
            GroupControl::decode(&after_bytes[..20]),
            Err(ControlError::Malformed)
        );
        let mut own = after_bytes.clone();
        own[1..17].copy_from_slice(&sender.label().distribution_id);
        assert_eq!(GroupControl::decode(&own), Err(ControlError::Malformed));
        let request = GroupControl::KeyRequest(GroupId([3; 16]));
        assert_eq!(request.encode()[..2], [CONTROL_KEY_REQUEST, 3]);
        assert_eq!(GroupControl::decode(&request.encode()).unwrap(), request);
        assert_eq!(
            GroupControl::decode(&request.encode()[..16]),
            Err(ControlError::Malformed)
        );

        assert_eq!(GroupControl::decode(&[]), Err(ControlError::UnknownKind(None)));
        assert_eq!(
            GroupControl::decode(&[9]),
            Err(ControlError::UnknownKind(Some(9)))
        );
        assert!(GroupControl::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(GroupControl::decode(&longer), Err(ControlError::Malformed));
        assert_eq!(
            GroupControl::decode(&[CONTROL_UPDATES, 0, 0]),
            Err(ControlError::BadUpdateList { count: 0, groups: 0 })
        );
        let mut key_bytes = key.encode();
        key_bytes.pop();
        assert_eq!(GroupControl::decode(&key_bytes), Err(ControlError::SenderKey));
    }

    #[test]
    fn updates_of_two_groups_in_one_message_are_refused() {
        let mut rng = StdRng::seed_from_u64(8);
        let (_, first) = creation(&mut rng, [1; 16]);
        let (_, second) = creation(&mut rng, [2; 16]);
        let bytes = GroupControl::Updates(vec![first, second]).encode();
        assert_eq!(
            GroupControl::decode(&bytes),
            Err(ControlError::BadUpdateList { count: 2, groups: 2 })
        );
    }
}
