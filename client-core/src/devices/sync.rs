//! Sent-message and read-state sync between the devices of one account (proto/PROTOCOL.md
//! "Accounts with several devices"): what one device sends to a contact reaches the account's
//! other devices as a [`Body::Sent`] copy with the same message id, and what the user reads on
//! one device is marked read on the others by [`Body::ReadSync`].
//!
//! - **Sealing.** A content item's copies ([`Copies`](super::fanout::Copies)) include one per
//!   other device of our list, carrying the `Sent` payload. Each device gets its own numbered
//!   stream of copies (`conv_seq` from 1, kept in the conversation record under that device's
//!   address) so the receiving device orders and deduplicates them with the machinery every
//!   stream has; the number is taken when the copy is sealed, in the commit that stores the
//!   envelope, so a number is never used for two messages.
//! - **Receiving.** A `Sent` or `ReadSync` payload counts only from a device our own pinned list
//!   names; from anyone else it is dropped ([`PayloadFault::NotOwnDevice`]). A `Sent` copy is
//!   stored as an outgoing message to `to` with status `Sent` ([`Event::MessageSynced`]); a
//!   `ReadSync` marks the named incoming messages seen ([`Event::ReadElsewhere`]).
//! - **Access keys.** Our devices give each other their access keys like contacts do (an
//!   `AccessKey` payload to the own account, once per process), so copies are not strangers'.

use crate::address::Address;
use crate::content::{Body, MAX_RECEIPT_IDS, MessageId, Payload};
use crate::core::Core;
use crate::event::{ClaimedSender, DropReason, Event, PayloadFault};
use crate::records::{Conversation, Direction, MessageStatus, OutboxItem, StoreOp, StoredMessage};

impl Core {
    /// The address of our account (what contacts write to once it has several devices).
    pub fn account_address(&self) -> Address {
        self.own.address()
    }

    /// Our other devices, from our pinned list.
    pub(crate) fn own_devices(&self) -> Vec<Address> {
        self.own
            .other_devices(&self.account.identity_key())
            .iter()
            .map(|entry| Address::from_identity(&entry.identity_key))
            .collect()
    }

    /// Whether `device` is another device of our account.
    pub(crate) fn is_own_device(&self, device: &Address) -> bool {
        *device != self.address && self.own.list().device(&device.identity()).is_some()
    }

    /// Before the first send of this process with other devices in our list: our access key to
    /// them (queued into `ops`).
    pub(crate) fn share_key_with_own_devices(&mut self, now: u64, ops: &mut Vec<StoreOp>) {
        if self.own_key_shared || self.own_devices().is_empty() {
            return;
        }
        self.own_key_shared = true;
        let own = self.account_address();
        if let Some(item) = self.access_key_item(now, own) {
            self.outbox.insert(item.clone());
            ops.push(StoreOp::PutOutbox(item));
        }
    }

    /// Queues read-state sync for `ids` (from `peer`) to our other devices.
    pub(crate) fn queue_read_sync(
        &mut self,
        now: u64,
        peer: Address,
        ids: &[MessageId],
        ops: &mut Vec<StoreOp>,
    ) {
        if self.own_devices().is_empty() {
            return;
        }
        let own = self.account_address();
        for chunk in ids.chunks(MAX_RECEIPT_IDS) {
            let body = Body::ReadSync {
                peer,
                ids: chunk.to_vec(),
            };
            self.queue_unnumbered(now, own, body, ops);
        }
    }

    /// Queues an unnumbered `body` for `peer` into `ops`.
    pub(crate) fn queue_unnumbered(&mut self, now: u64, peer: Address, body: Body, ops: &mut Vec<StoreOp>) {
        let id = MessageId::random(&mut self.rng);
        let Ok(payload) = (Payload {
            id,
            conv_seq: 0,
            sent_at: now,
            body,
        })
        .encode() else {
            return;
        };
        let item = OutboxItem::unnumbered(id, peer, payload, now);
        self.outbox.insert(item.clone());
        ops.push(StoreOp::PutOutbox(item));
    }

    /// The copy of the content item `item` for `device`, numbered next in our stream to that
    /// device (each device pair has its own stream, so a device that joins later starts at 1),
    /// with that stream advanced past it (the caller keeps it only once the copy is sealed).
    /// `Sent` wraps it for our own other devices. `None` if the item carries no content.
    pub(crate) fn numbered_copy(
        &self,
        item: &OutboxItem,
        device: Address,
        copy: super::fanout::Copy,
    ) -> Option<(Vec<u8>, Conversation)> {
        let payload = Payload::decode(&item.payload).ok()?;
        let Body::Content(content) = payload.body else {
            return None;
        };
        let mut stream = self
            .conversations
            .get(&device)
            .copied()
            .unwrap_or_else(|| Conversation::new(device));
        let body = match copy {
            super::fanout::Copy::Plain => Body::Content(content),
            super::fanout::Copy::Sent => Body::Sent {
                to: item.peer,
                seq: payload.conv_seq,
                content,
            },
        };
        let numbered = Payload {
            id: payload.id,
            conv_seq: stream.next_out_seq,
            sent_at: payload.sent_at,
            body,
        }
        .encode()
        .ok()?;
        stream.next_out_seq += 1;
        Some((numbered, stream))
    }

    /// A sync body from the device `from`: applied if `from` is one of ours, dropped otherwise.
    /// Returns whether `body` was a sync body (handled either way).
    pub(crate) fn accept_read_sync(
        &mut self,
        from: Address,
        body: &Body,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) -> bool {
        let Body::ReadSync { peer, ids } = body else {
            return false;
        };
        if !self.is_own_device(&from) {
            events.push(not_own(from));
            return true;
        }
        for id in ids {
            ops.push(StoreOp::SetStatus {
                id: *id,
                peer: *peer,
                status: MessageStatus::Seen,
            });
        }
        events.push(Event::ReadElsewhere {
            peer: *peer,
            ids: ids.clone(),
        });
        true
    }

    /// Delivers a `Sent` copy (in the sending device's order, once): stored as our outgoing
    /// message to `to`.
    pub(crate) fn deliver_sent(
        &mut self,
        now: u64,
        payload: &Payload,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let Body::Sent { to, seq, content } = &payload.body else {
            return;
        };
        let message = StoredMessage {
            id: payload.id,
            peer: *to,
            direction: Direction::Outgoing,
            conv_seq: *seq,
            sent_at: payload.sent_at,
            stored_at: now,
            content: content.clone(),
            status: MessageStatus::Sent,
        };
        ops.push(StoreOp::InsertMessage(message.clone()));
        events.push(Event::MessageSynced(message));
    }

    /// Our list was published with `counter`: our other devices and our accepted contacts are
    /// told ([`Body::ListChanged`]), so they fetch it (a device that joined is counted once its
    /// membership is at the relay, which is now).
    pub(crate) fn queue_list_hints(&mut self, now: u64, counter: u64) {
        let account = self.account_address();
        let mut to: Vec<Address> = self
            .access
            .peers_with(crate::access::Standing::Accepted)
            .into_iter()
            .filter(|peer| !self.is_own_device(peer) && self.peer_lists.owner_of(&peer.identity()).is_none())
            .collect();
        if !self.own_devices().is_empty() {
            to.push(account);
        }
        let mut ops = Vec::new();
        for peer in to {
            self.queue_unnumbered(now, peer, Body::ListChanged { account, counter }, &mut ops);
        }
        if !ops.is_empty() {
            self.commit(ops);
        }
    }

    /// A [`Body::ListChanged`] hint: the named list is fetched again if it is ours or a
    /// contact's and the counter is above the one pinned (so hints cannot make us fetch
    /// without end). Returns whether `body` was one.
    pub(crate) fn accept_list_hint(&mut self, now: u64, body: &Body) -> bool {
        let Body::ListChanged { account, counter } = body else {
            return false;
        };
        if *account == self.account_address() {
            if *counter > self.own.list().counter() && !self.list_sync.in_flight {
                self.list_sync.checked = false;
                self.sync_own_list(now);
            }
        } else if let Some(pinned) = self.peer_lists.get(account)
            && *counter > pinned.counter()
        {
            self.refetch_peer_list(*account);
        }
        true
    }
}

fn not_own(from: Address) -> Event {
    Event::Dropped {
        claimed_from: Some(ClaimedSender::new(from)),
        reason: DropReason::BadPayload(PayloadFault::NotOwnDevice),
    }
}
