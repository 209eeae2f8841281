//! Receipts for group messages (proto/PROTOCOL.md "Group receipts"): a member device that
//! stores a group message from another account sends its author's account an ordinary delivered
//! [`Body::Receipt`](crate::content::Body::Receipt) over the pairwise sessions (batched and
//! delayed as 1:1 receipts are), and a read one when the user reads it. The receipt names no
//! group: message ids are random, and the author looks its own message up here, with the group
//! and the member accounts it went to.
//!
//! The author keeps, per message and per recipient account, how far it got ([`MemberReceipt`]),
//! durably ([`StoreOp::TrackGroupReceipts`](crate::StoreOp::TrackGroupReceipts),
//! [`StoreOp::SetGroupReceipt`](crate::StoreOp::SetGroupReceipt)), and the app reads the
//! aggregate ([`GroupReceipts`]: "read by 3 of 5").

mod accept;

use std::collections::{HashMap, VecDeque};

use crate::address::Address;
use crate::content::MessageId;
use crate::groups::GroupId;

/// Our group messages whose receipts the core follows: the latest this many (a receipt for an
/// older one is ignored, [`GroupReceiptIgnored::Untracked`]). Receipts come within hours of a
/// send, and this many messages of up to 1,000 members each stay within a few tens of MiB.
pub const MAX_TRACKED_GROUP_MESSAGES: usize = 1_000;

/// How far one recipient account got with one of our group messages. Only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum MemberReceipt {
    /// Sent; no receipt from the account yet.
    Sent = 0,
    /// A device of the account stored it.
    Delivered = 1,
    /// The account's user read it.
    Read = 2,
}

impl MemberReceipt {
    /// The number stored in databases.
    pub fn to_code(self) -> u8 {
        self as u8
    }

    /// From the stored number.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Sent,
            1 => Self::Delivered,
            2 => Self::Read,
            _ => return None,
        })
    }
}

/// What the receipts of one of our group messages add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReceipts {
    /// The group.
    pub group: GroupId,
    /// Accounts it was sent to: the members when we sent it, our own account not counted.
    pub members: usize,
    /// Of those, how many stored it (read counts as delivered).
    pub delivered: usize,
    /// Of those, how many read it.
    pub read: usize,
    /// Each recipient account (an account address) and how far it got, ordered by address bytes.
    pub by_member: Vec<(Address, MemberReceipt)>,
}

impl GroupReceipts {
    /// The aggregate of `by_member`.
    pub fn new(group: GroupId, mut by_member: Vec<(Address, MemberReceipt)>) -> Self {
        by_member.sort_by_key(|(member, _)| *member.as_bytes());
        let count = |at_least: MemberReceipt| by_member.iter().filter(|(_, r)| *r >= at_least).count();
        Self {
            group,
            members: by_member.len(),
            delivered: count(MemberReceipt::Delivered),
            read: count(MemberReceipt::Read),
            by_member,
        }
    }
}

/// One of our group messages as stores keep it for its receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReceiptRecord {
    /// The message.
    pub id: MessageId,
    /// Its group.
    pub group: GroupId,
    /// Each recipient account and how far it got.
    pub by_member: Vec<(Address, MemberReceipt)>,
}

/// Why a receipt naming a group message was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupReceiptIgnored {
    /// Its sender's account is not a member of the message's group now.
    #[error("a receipt for a group message from an account that is not a member")]
    NotMember,
    /// Its sender's account is a member now but the message was not sent to it (it joined
    /// later), or it is our own account.
    #[error("a receipt for a group message from an account it was not sent to")]
    NotRecipient,
    /// The message is a group message we did not write.
    #[error("a receipt for a group message we did not write")]
    NotOurs,
    /// One of our group messages older than the [`MAX_TRACKED_GROUP_MESSAGES`] we follow.
    #[error("a receipt for a group message whose receipts are no longer followed")]
    Untracked,
}

/// The receipts of our latest group messages (the latest [`MAX_TRACKED_GROUP_MESSAGES`]).
#[derive(Debug, Default)]
pub(crate) struct GroupReceiptTracker {
    records: HashMap<MessageId, Tracked>,
    /// `records`' ids, oldest first, for eviction.
    order: VecDeque<MessageId>,
}

#[derive(Debug)]
struct Tracked {
    group: GroupId,
    by_member: HashMap<Address, MemberReceipt>,
}

/// What a receipt from one account did to one tracked message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Not one of ours.
    Unknown,
    /// The account is not among its recipients.
    NotRecipient(GroupId),
    /// Nothing new (a copy, or a delivered receipt after a read one).
    Unchanged,
    /// Moved forward.
    Moved(GroupId),
}

impl GroupReceiptTracker {
    /// From the store's records, oldest first.
    pub(crate) fn restore(&mut self, records: &[GroupReceiptRecord]) {
        for record in records {
            self.track(record);
        }
    }

    /// Follows `record` (a message already followed keeps what it has).
    pub(crate) fn track(&mut self, record: &GroupReceiptRecord) {
        if self.records.contains_key(&record.id) {
            return;
        }
        let tracked = Tracked {
            group: record.group,
            by_member: record.by_member.iter().copied().collect(),
        };
        self.records.insert(record.id, tracked);
        self.order.push_back(record.id);
        while self.order.len() > MAX_TRACKED_GROUP_MESSAGES {
            if let Some(old) = self.order.pop_front() {
                self.records.remove(&old);
            }
        }
    }

    /// The group of a followed message.
    pub(crate) fn group_of(&self, id: &MessageId) -> Option<GroupId> {
        self.records.get(id).map(|tracked| tracked.group)
    }

    /// `member`'s receipt `receipt` for `id`.
    pub(crate) fn apply(&mut self, id: &MessageId, member: &Address, receipt: MemberReceipt) -> Applied {
        let Some(tracked) = self.records.get_mut(id) else {
            return Applied::Unknown;
        };
        let Some(current) = tracked.by_member.get_mut(member) else {
            return Applied::NotRecipient(tracked.group);
        };
        if *current >= receipt {
            return Applied::Unchanged;
        }
        *current = receipt;
        Applied::Moved(tracked.group)
    }

    /// The aggregate for a followed message.
    pub(crate) fn receipts(&self, id: &MessageId) -> Option<GroupReceipts> {
        let tracked = self.records.get(id)?;
        let by_member = tracked.by_member.iter().map(|(a, r)| (*a, *r)).collect();
        Some(GroupReceipts::new(tracked.group, by_member))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(seed: u8) -> Address {
        let key = hush_crypto::Account::new(u64::from(seed), &mut rand::rng()).identity_key();
        Address::from_identity(&key)
    }

    #[test]
    fn receipts_only_move_forward_and_only_for_recipients() {
        let (bob, carol, mallory) = (member(1), member(2), member(3));
        let group = GroupId([5; 16]);
        let id = MessageId([1; 16]);
        let mut tracker = GroupReceiptTracker::default();
        tracker.track(&GroupReceiptRecord {
            id,
            group,
            by_member: vec![(bob, MemberReceipt::Sent), (carol, MemberReceipt::Sent)],
        });
        assert_eq!(
            tracker.apply(&id, &bob, MemberReceipt::Read),
            Applied::Moved(group)
        );
        assert_eq!(
            tracker.apply(&id, &bob, MemberReceipt::Delivered),
            Applied::Unchanged
        );
        assert_eq!(tracker.apply(&id, &bob, MemberReceipt::Read), Applied::Unchanged);
        assert_eq!(
            tracker.apply(&id, &mallory, MemberReceipt::Read),
            Applied::NotRecipient(group)
        );
        assert_eq!(
            tracker.apply(&MessageId([2; 16]), &bob, MemberReceipt::Read),
            Applied::Unknown
        );
        let receipts = tracker.receipts(&id).unwrap();
        assert_eq!((receipts.members, receipts.delivered, receipts.read), (2, 1, 1));
    }

    #[test]
    fn only_the_latest_messages_are_followed() {
        let bob = member(1);
        let mut tracker = GroupReceiptTracker::default();
        for n in 0..=MAX_TRACKED_GROUP_MESSAGES {
            let mut id = [0; 16];
            id[..8].copy_from_slice(&(n as u64).to_be_bytes());
            tracker.track(&GroupReceiptRecord {
                id: MessageId(id),
                group: GroupId([5; 16]),
                by_member: vec![(bob, MemberReceipt::Sent)],
            });
        }
        assert!(tracker.group_of(&MessageId([0; 16])).is_none());
        assert_eq!(tracker.records.len(), MAX_TRACKED_GROUP_MESSAGES);
    }
}
