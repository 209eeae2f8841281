//! The core's side of group receipts: following our group messages, sending receipts for the
//! members' ones, and taking the receipts that come back.

use super::{Applied, GroupReceiptIgnored, GroupReceiptRecord, GroupReceipts, MemberReceipt};
use crate::address::Address;
use crate::content::{MessageId, ReceiptKind};
use crate::core::Core;
use crate::event::Event;
use crate::groups::GroupId;
use crate::outbox::RECEIPT_DELAY_MS;
use crate::records::{Direction, MessageStatus, StoreOp};

impl Core {
    /// The receipts of our group message `id` so far; `None` for a message that is not one of
    /// our latest [`super::MAX_TRACKED_GROUP_MESSAGES`] group messages (stores keep them all:
    /// [`crate::Store::group_receipts`]).
    pub fn group_receipts(&self, id: &MessageId) -> Option<GroupReceipts> {
        self.group_receipts.receipts(id)
    }

    /// The user read `read` (incoming messages of `group`, each with its author's account, as
    /// [`crate::Store::author`] gives it): marks them seen, sends each author a read receipt
    /// and our other devices the read state.
    pub fn handle_mark_group_read(&mut self, now: u64, group: GroupId, read: &[(MessageId, Address)]) {
        if read.is_empty() {
            return;
        }
        let conversation = group.conversation();
        let mut ops: Vec<StoreOp> = read
            .iter()
            .map(|(id, _)| StoreOp::SetStatus {
                id: *id,
                peer: conversation,
                status: MessageStatus::Seen,
            })
            .collect();
        let own = self.account_address();
        let mut authors: Vec<Address> = read.iter().map(|(_, author)| *author).collect();
        authors.sort_by_key(|author| *author.as_bytes());
        authors.dedup();
        for author in authors.into_iter().filter(|author| *author != own) {
            let ids: Vec<MessageId> = read
                .iter()
                .filter(|(_, by)| *by == author)
                .map(|(id, _)| *id)
                .collect();
            self.queue_receipts(now, author, ReceiptKind::Read, &ids, now, &mut ops);
        }
        let ids: Vec<MessageId> = read.iter().map(|(id, _)| *id).collect();
        self.queue_read_sync(now, conversation, &ids, &mut ops);
        self.commit(ops);
        self.pump(now);
    }

    /// Follows the receipts of our message `id` in `group`, sent to `members` (account keys,
    /// ours among them or not): into `ops` and the core's window.
    pub(crate) fn track_group_message(
        &mut self,
        id: MessageId,
        group: GroupId,
        members: &[[u8; 32]],
        ops: &mut Vec<StoreOp>,
    ) {
        let own = *self.account_key().as_bytes();
        let by_member: Vec<(Address, MemberReceipt)> = members
            .iter()
            .filter(|account| **account != own)
            .filter_map(|account| Address::from_bytes(*account).ok())
            .map(|member| (member, MemberReceipt::Sent))
            .collect();
        if by_member.is_empty() {
            return;
        }
        let record = GroupReceiptRecord { id, group, by_member };
        self.group_receipts.track(&record);
        ops.push(StoreOp::TrackGroupReceipts(record));
    }

    /// A group message from `author`'s account was stored: a delivered receipt for it to that
    /// account, batched and delayed as 1:1 ones are.
    pub(crate) fn queue_group_delivered(
        &mut self,
        now: u64,
        author: Address,
        id: MessageId,
        ops: &mut Vec<StoreOp>,
    ) {
        let not_before = now + RECEIPT_DELAY_MS;
        self.queue_receipts(now, author, ReceiptKind::Delivered, &[id], not_before, ops);
    }

    /// Takes the ids of a receipt from `sender`'s account that name group messages, and
    /// returns the others (1:1 ones, or unknown: the store ignores those it does not hold).
    pub(crate) fn take_group_receipts(
        &mut self,
        sender: Address,
        kind: ReceiptKind,
        ids: Vec<MessageId>,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) -> Vec<MessageId> {
        let receipt = match kind {
            ReceiptKind::Delivered => MemberReceipt::Delivered,
            ReceiptKind::Read => MemberReceipt::Read,
        };
        let mut rest = Vec::with_capacity(ids.len());
        for id in ids {
            let ignored = |reason| Event::GroupReceiptIgnored {
                from: sender,
                id,
                reason,
            };
            let Some(group) = self.group_receipts.group_of(&id) else {
                // A group message we know of, not followed: someone else's, or too old.
                match self.surface.peer_of(&id) {
                    Some((peer, direction)) if self.group_of(&peer).is_some() => {
                        events.push(ignored(match direction {
                            Direction::Incoming => GroupReceiptIgnored::NotOurs,
                            Direction::Outgoing => GroupReceiptIgnored::Untracked,
                        }));
                    }
                    _ => rest.push(id),
                }
                continue;
            };
            let member = crate::devices::peers::peer_account_key(&sender)
                .zip(self.group(&group))
                .is_some_and(|(account, state)| state.role(&account).is_some());
            if !member {
                events.push(ignored(GroupReceiptIgnored::NotMember));
                continue;
            }
            match self.group_receipts.apply(&id, &sender, receipt) {
                Applied::Moved(_) => {
                    ops.push(StoreOp::SetGroupReceipt {
                        id,
                        member: sender,
                        receipt,
                    });
                    if let Some(receipts) = self.group_receipts.receipts(&id) {
                        events.push(Event::GroupReceiptsChanged { id, receipts });
                    }
                }
                Applied::NotRecipient(_) => events.push(ignored(GroupReceiptIgnored::NotRecipient)),
                Applied::Unchanged | Applied::Unknown => {}
            }
        }
        rest
    }
}
