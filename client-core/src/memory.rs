//! [`MemoryStore`]: a [`Store`] in memory, for tests and for the core's own harness. It is
//! `Clone`, so a test can "crash" a client by dropping its core and restoring from a copy of
//! the store taken at any point.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hush_crypto::devices::LinkRequestPickle;
use hush_crypto::peer::PeerSessionsPickle;
use hush_crypto::{AccountPickle, PickleError};
use thiserror::Error;

use crate::access::{OwnAccessKey, PeerAccess};
use crate::address::Address;
use crate::content::MessageId;
use crate::devices::{OwnAccountRecord, PeerDevicesRecord};
use crate::group_receipts::{GroupReceiptRecord, GroupReceipts};
use crate::records::{
    Commit, Contact, Conversation, Direction, HeldMessage, HistoryEntry, MessageStatus, OutboxItem, Snapshot,
    StoreOp, StoredMessage,
};
use crate::store::Store;
use crate::surface::StoredReaction;
use crate::surface::memory::{SurfaceTables, thread_page};

/// Why a [`MemoryStore`] refused a commit (nothing of it was applied).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MemoryStoreError {
    /// A `PutPeer` pickle does not restore, so it names no peer to store it under.
    #[error("a peer sessions pickle does not restore: {0}")]
    InvalidPeer(PickleError),
}

/// A [`Store`] in memory. Applies commits exactly as the contract in [`StoreOp`] describes, and
/// all-or-nothing: a commit that fails changes nothing.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    account: Option<AccountPickle>,
    peers: HashMap<Address, PeerSessionsPickle>,
    conversations: HashMap<Address, Conversation>,
    outbox: HashMap<MessageId, OutboxItem>,
    held: BTreeMap<(Address, u64), HeldMessage>,
    contacts: BTreeMap<String, Contact>,
    /// Every message, by history position.
    messages: BTreeMap<u64, StoredMessage>,
    /// Position of each message id.
    positions: HashMap<MessageId, u64>,
    /// `(peer, position)` of each message: a peer's history is one range.
    by_peer: BTreeSet<(Address, u64)>,
    /// Latest position stored with each peer, for [`Store::peers`].
    last_activity: HashMap<Address, u64>,
    /// The position the next inserted message gets (from 1).
    next_position: u64,
    own_access_key: Option<OwnAccessKey>,
    peer_access: HashMap<Address, PeerAccess>,
    own_account: Option<OwnAccountRecord>,
    link_request: Option<LinkRequestPickle>,
    peer_devices: BTreeMap<Address, PeerDevicesRecord>,
    surface: SurfaceTables,
    groups: BTreeMap<crate::groups::GroupId, crate::groups::GroupBlob>,
    authors: HashMap<MessageId, Address>,
    /// Our group messages' receipts, by message, and the order they were first tracked in.
    group_receipts: HashMap<MessageId, GroupReceiptRecord>,
    group_receipt_order: Vec<MessageId>,
}

impl MemoryStore {
    /// An empty store: [`Store::load`] returns `None` until an account is written.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one op. Infallible: everything that can fail was checked before the first op.
    fn apply_op(&mut self, op: &StoreOp, peer_address: Option<Address>) {
        match op {
            StoreOp::PutAccount(account) => self.account = Some(account.clone()),
            StoreOp::PutPeer(pickle) => {
                if let Some(address) = peer_address {
                    self.peers.insert(address, pickle.clone());
                }
            }
            StoreOp::PutConversation(conversation) => {
                self.conversations.insert(conversation.peer, *conversation);
            }
            StoreOp::InsertMessage(message) => self.insert_message(message),
            StoreOp::SetStatus { id, peer, status } => {
                let message = self
                    .positions
                    .get(id)
                    .and_then(|position| self.messages.get_mut(position));
                if let Some(message) = message
                    && message.peer == *peer
                    && message.status.advances_to(*status)
                {
                    message.status = *status;
                }
            }
            StoreOp::PutOutbox(item) => {
                self.outbox.insert(item.id, item.clone());
            }
            StoreOp::RemoveOutbox(id) => {
                self.outbox.remove(id);
            }
            StoreOp::PutHeld(held) => {
                self.held.insert((held.peer, held.conv_seq), held.clone());
            }
            StoreOp::RemoveHeld { peer, conv_seq } => {
                self.held.remove(&(*peer, *conv_seq));
            }
            StoreOp::PutContact(contact) => {
                self.contacts.insert(contact.name.clone(), contact.clone());
            }
            StoreOp::PutOwnAccessKey(own) => self.own_access_key = Some(own.clone()),
            StoreOp::PutOwnAccount(own) => self.own_account = Some(own.clone()),
            StoreOp::PutLinkRequest(request) => self.link_request = request.clone(),
            StoreOp::PutPeerDevices(record) => {
                self.peer_devices.insert(record.peer, record.clone());
            }
            StoreOp::PutGroup(blob) => {
                self.groups.insert(blob.id, blob.clone());
            }
            StoreOp::PutAuthor { id, author } => {
                self.authors.insert(*id, *author);
            }
            StoreOp::TrackGroupReceipts(record) => {
                if let std::collections::hash_map::Entry::Vacant(entry) = self.group_receipts.entry(record.id)
                {
                    entry.insert(record.clone());
                    self.group_receipt_order.push(record.id);
                }
            }
            StoreOp::SetGroupReceipt { id, member, receipt } => {
                let entry = self
                    .group_receipts
                    .get_mut(id)
                    .and_then(|record| record.by_member.iter_mut().find(|(m, _)| m == member));
                if let Some((_, current)) = entry
                    && *current < *receipt
                {
                    *current = *receipt;
                }
            }
            StoreOp::PutPeerAccess(access) => {
                self.peer_access.insert(access.peer, access.clone());
            }
            StoreOp::RemoveContact(name) => {
                self.contacts.remove(name);
            }
            op @ (StoreOp::EditMessage { .. }
            | StoreOp::DeleteMessage { .. }
            | StoreOp::PutReaction { .. }) => {
                self.surface.apply(op, &mut self.messages, &self.positions);
            }
        }
    }

    fn insert_message(&mut self, message: &StoredMessage) {
        if self.positions.contains_key(&message.id) {
            return;
        }
        self.next_position = self.next_position.max(1);
        let position = self.next_position;
        self.next_position += 1;
        self.positions.insert(message.id, position);
        self.by_peer.insert((message.peer, position));
        self.last_activity.insert(message.peer, position);
        self.messages.insert(position, message.clone());
    }

    /// Positions of `peer`'s messages below `before`, oldest first.
    fn peer_positions(&self, peer: &Address, before: u64) -> impl DoubleEndedIterator<Item = u64> + '_ {
        self.by_peer
            .range((*peer, 0)..(*peer, before))
            .map(|(_, position)| *position)
    }
}

/// The address a peer pickle is stored under: its remote identity (shape checked, keys not
/// restored).
fn peer_address(pickle: &PeerSessionsPickle) -> Result<Address, MemoryStoreError> {
    pickle
        .check_shape()
        .map(|()| Address::from_identity(&pickle.remote_identity()))
        .map_err(MemoryStoreError::InvalidPeer)
}

impl Store for MemoryStore {
    type Error = MemoryStoreError;

    fn load(&self) -> Result<Option<Snapshot>, Self::Error> {
        let Some(account) = &self.account else {
            return Ok(None);
        };
        Ok(Some(Snapshot {
            account: account.clone(),
            peers: self.peers.values().cloned().collect(),
            conversations: self.conversations.values().copied().collect(),
            outbox: self.outbox.values().cloned().collect(),
            held: self.held.values().cloned().collect(),
            unconfirmed: self
                .messages
                .values()
                .filter(|m| m.direction == Direction::Outgoing && m.status == MessageStatus::Sent)
                .cloned()
                .collect(),
            recent_incoming: {
                let mut ids: Vec<MessageId> = self
                    .messages
                    .values()
                    .rev()
                    .filter(|m| m.direction == Direction::Incoming)
                    .take(crate::reset::MAX_RECENT_INCOMING)
                    .map(|m| m.id)
                    .collect();
                ids.reverse();
                ids
            },
            own_access_key: self.own_access_key.clone(),
            peer_access: self.peer_access.values().cloned().collect(),
            own_account: self.own_account.clone(),
            link_request: self.link_request.clone(),
            peer_devices: self.peer_devices.values().cloned().collect(),
            recent: {
                let mut recent: Vec<StoredMessage> = self
                    .messages
                    .values()
                    .rev()
                    .take(crate::MAX_SURFACE_WINDOW)
                    .cloned()
                    .collect();
                recent.reverse();
                recent
            },
            groups: self.groups.values().cloned().collect(),
            group_receipts: {
                let skip = self
                    .group_receipt_order
                    .len()
                    .saturating_sub(crate::MAX_TRACKED_GROUP_MESSAGES);
                self.group_receipt_order
                    .iter()
                    .skip(skip)
                    .filter_map(|id| self.group_receipts.get(id).cloned())
                    .collect()
            },
        }))
    }

    fn apply(&mut self, commit: &Commit) -> Result<(), Self::Error> {
        // The only op that can fail is checked for every op first, so a failing commit leaves
        // the store untouched.
        let addresses = commit
            .ops
            .iter()
            .map(|op| match op {
                StoreOp::PutPeer(pickle) => peer_address(pickle).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (op, address) in commit.ops.iter().zip(addresses) {
            self.apply_op(op, address);
        }
        Ok(())
    }

    fn history(
        &self,
        peer: &Address,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, Self::Error> {
        let mut entries: Vec<HistoryEntry> = self
            .peer_positions(peer, before.unwrap_or(u64::MAX))
            .rev()
            .filter_map(|position| {
                self.messages.get(&position).map(|message| HistoryEntry {
                    position,
                    message: message.clone(),
                })
            })
            .filter(|entry| entry.message.content.is_shown(&entry.message.id))
            .take(limit)
            .collect();
        entries.reverse();
        Ok(entries)
    }

    fn author(&self, id: &MessageId) -> Result<Option<Address>, Self::Error> {
        Ok(self.authors.get(id).copied())
    }

    fn group_receipts(&self, id: &MessageId) -> Result<Option<GroupReceipts>, Self::Error> {
        Ok(self
            .group_receipts
            .get(id)
            .map(|record| GroupReceipts::new(record.group, record.by_member.clone())))
    }

    fn message(&self, id: &MessageId) -> Result<Option<StoredMessage>, Self::Error> {
        Ok(self
            .positions
            .get(id)
            .and_then(|position| self.messages.get(position))
            .cloned())
    }

    fn unread(&self, peer: &Address) -> Result<Vec<MessageId>, Self::Error> {
        Ok(self
            .peer_positions(peer, u64::MAX)
            .filter_map(|position| self.messages.get(&position))
            .filter(|message| {
                message.direction == Direction::Incoming && message.status == MessageStatus::Received
            })
            .map(|message| message.id)
            .collect())
    }

    fn edits(&self, id: &MessageId) -> Result<Vec<String>, Self::Error> {
        Ok(self.surface.edits(id))
    }

    fn reactions(&self, id: &MessageId) -> Result<Vec<StoredReaction>, Self::Error> {
        Ok(self.surface.reactions(id))
    }

    fn thread(
        &self,
        root: &MessageId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, Self::Error> {
        Ok(thread_page(
            &self.messages,
            root,
            before.unwrap_or(u64::MAX),
            limit,
        ))
    }

    fn contacts(&self) -> Result<Vec<Contact>, Self::Error> {
        Ok(self.contacts.values().cloned().collect())
    }

    fn peers(&self) -> Result<Vec<Address>, Self::Error> {
        let mut peers: Vec<(u64, Address)> = self
            .last_activity
            .iter()
            .map(|(peer, position)| (*position, *peer))
            .collect();
        peers.sort_unstable_by(|a, b| b.cmp(a));
        Ok(peers.into_iter().map(|(_, peer)| peer).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Content;

    fn bob() -> Address {
        Address::from_identity(&hush_crypto::Account::new(1_700_000_000, &mut rand::rng()).identity_key())
    }

    fn incoming(id: u8, peer: Address) -> StoredMessage {
        StoredMessage {
            id: MessageId([id; 16]),
            peer,
            direction: Direction::Incoming,
            conv_seq: u64::from(id),
            sent_at: 1,
            stored_at: 2,
            content: Content::text("hi"),
            status: MessageStatus::Received,
        }
    }

    #[test]
    fn a_clone_is_a_crash_snapshot() {
        let peer = bob();
        let mut store = MemoryStore::new();
        store
            .apply(&Commit {
                ops: vec![StoreOp::InsertMessage(incoming(1, peer))],
            })
            .unwrap();
        let crashed = store.clone();
        store
            .apply(&Commit {
                ops: vec![StoreOp::InsertMessage(incoming(2, peer))],
            })
            .unwrap();
        assert_eq!(crashed.history(&peer, None, 10).unwrap().len(), 1);
        assert_eq!(store.history(&peer, None, 10).unwrap().len(), 2);
        // The copy goes on numbering from where it was copied.
        let mut restored = crashed;
        restored
            .apply(&Commit {
                ops: vec![StoreOp::InsertMessage(incoming(3, peer))],
            })
            .unwrap();
        let positions: Vec<u64> = restored
            .history(&peer, None, 10)
            .unwrap()
            .iter()
            .map(|entry| entry.position)
            .collect();
        assert_eq!(positions, vec![1, 2]);
    }

    #[test]
    fn history_before_a_foreign_position_still_pages() {
        let (ann, peer) = (bob(), bob());
        let mut store = MemoryStore::new();
        let ops = vec![
            StoreOp::InsertMessage(incoming(1, peer)),
            StoreOp::InsertMessage(incoming(2, ann)),
            StoreOp::InsertMessage(incoming(3, peer)),
        ];
        store.apply(&Commit { ops }).unwrap();
        // Position 2 is ann's; paging bob's history before it gives bob's first message.
        let page = store.history(&peer, Some(2), 10).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].message.id, MessageId([1; 16]));
    }
}

#[cfg(all(test, feature = "store-suite"))]
mod suite {
    use super::MemoryStore;

    crate::store_suite!((MemoryStore::new(), ()));

    #[test]
    fn reopen_keeps_everything() {
        crate::store_suite::reopen_keeps_everything(MemoryStore::new(), |store| {
            // A crash: only the copy lives on.
            let copy = store.clone();
            drop(store);
            copy
        });
    }
}
