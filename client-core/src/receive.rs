//! Receiving: open the seal, decrypt, deduplicate, order, store, then acknowledge.

use hush_crypto::devices::{ACCOUNT_VERSION, TYPE_LINK_MESSAGE};
use hush_crypto::peer::{PeerDecryptError, PeerSessions};
use hush_crypto::{DecryptError, SessionMessage};
use hush_proto::{Delivery, Request};

use crate::address::Address;
use crate::content::{Body, MessageId, Payload, ReceiptKind};
use crate::core::Core;
use crate::event::{ClaimedSender, DropReason, Event, PayloadFault};
use crate::link::Pending;
use crate::outbox::RECEIPT_DELAY_MS;
use crate::records::{Conversation, Direction, HeldMessage, MessageStatus, StoreOp, StoredMessage};
use crate::reset::ResetNotice;

impl Core {
    /// Handles one delivered envelope. Whatever happens, the outputs end with the ack, after the
    /// commit holding the message and the ratchet state that decrypted it.
    pub(crate) fn receive(&mut self, now: u64, delivery: Delivery) {
        let mut ops = Vec::new();
        let mut events = Vec::new();
        self.open_delivery(now, delivery.envelope.as_bytes(), &mut ops, &mut events);
        self.commit(ops);
        for event in events {
            self.event(event);
        }
        self.request(
            Request::Ack {
                through: delivery.seq,
            },
            Pending::Ack,
        );
        // A device that just joined its account publishes its membership.
        self.sync_own_list(now);
    }

    fn open_delivery(&mut self, now: u64, envelope: &[u8], ops: &mut Vec<StoreOp>, events: &mut Vec<Event>) {
        // A sealed envelope starts with version 2 and a random key, so the type byte alone could
        // be its key's first byte: a link message for us also names our identity key next.
        let me = self.account.identity_key();
        if envelope.get(..2) == Some(&[ACCOUNT_VERSION, TYPE_LINK_MESSAGE])
            && envelope.get(2..34) == Some(me.as_bytes().as_slice())
        {
            return self.on_link_message(now, envelope, ops, events);
        }
        if envelope.first() == Some(&hush_proto::SHARED_ENVELOPE_TAG) {
            return self.receive_shared(now, envelope, ops, events);
        }
        let unsealed = match self.account.open_sealed(envelope) {
            Ok(unsealed) => unsealed,
            Err(error) => {
                events.push(Event::Dropped {
                    claimed_from: None,
                    reason: DropReason::Unsealable(error),
                });
                return;
            }
        };
        let from = Address::from_identity(&unsealed.sender);
        if self.is_blocked(&self.owner_of(&from)) {
            // Dropped unread (no session work) and acknowledged by the caller.
            return;
        }
        let message = match SessionMessage::from_bytes(&unsealed.inner) {
            Ok(message) => message,
            Err(error) => {
                events.push(Event::Dropped {
                    claimed_from: Some(ClaimedSender::new(from)),
                    reason: DropReason::Malformed(error),
                });
                return;
            }
        };
        let is_prekey = matches!(message, SessionMessage::PreKey(_));
        let fresh_peer = !self.peers.contains_key(&from);
        let peer = self
            .peers
            .entry(from)
            .or_insert_with(|| PeerSessions::new(unsealed.sender));
        let starts = crate::pq_setup::starts_session(peer, &message);
        let result = peer.decrypt_with_policy(
            &mut self.account,
            self.address.as_bytes(),
            &message,
            self.setup_policy,
            now / 1000,
            &mut self.rng,
        );
        let plaintext = match result {
            Ok(plaintext) => plaintext,
            Err(error) => {
                if fresh_peer {
                    self.peers.remove(&from);
                } else {
                    self.on_undecryptable(now, from, &message, &error);
                }
                // A resend of something already processed (its key is used up): nothing to do.
                if !matches!(error, PeerDecryptError::Decrypt(DecryptError::Duplicate { .. })) {
                    events.push(Event::Dropped {
                        claimed_from: Some(ClaimedSender::new(from)),
                        reason: DropReason::Undecryptable(error),
                    });
                }
                return;
            }
        };
        ops.push(StoreOp::PutPeer(peer.pickle()));
        self.resets.note_decrypted(from, &message);
        if is_prekey {
            // A new inbound session consumed a one-time prekey and remembered the base key.
            ops.push(StoreOp::PutAccount(self.account.pickle()));
        }
        if let Some(post_quantum) = starts {
            events.push(Event::SessionSetUp {
                peer: from,
                post_quantum,
                initiator: false,
            });
        }
        let (claimed, encoded) = match crate::content::unframe_payload(&plaintext) {
            Ok((claimed, encoded)) => (claimed, encoded.to_vec()),
            Err(error) => {
                return events.push(Event::Dropped {
                    claimed_from: Some(ClaimedSender::new(from)),
                    reason: DropReason::BadPayload(PayloadFault::Decode(error)),
                });
            }
        };
        match Payload::decode(&encoded) {
            Ok(payload) => self.accept(now, from, Some(claimed), payload, encoded, ops, events),
            Err(error) => events.push(Event::Dropped {
                claimed_from: Some(ClaimedSender::new(from)),
                reason: DropReason::BadPayload(PayloadFault::Decode(error)),
            }),
        }
    }

    /// A decrypted payload from the device `from`: receipts apply at once; content is delivered
    /// in the sending device's order, exactly once. What it sends is the contact's whose pinned
    /// list counts the device ([`Core::owner_of`]); order, holding and sessions stay per device.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn accept(
        &mut self,
        now: u64,
        from: Address,
        claimed: Option<Address>,
        payload: Payload,
        encoded: Vec<u8>,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        if let Body::Reset {
            next_seq,
            answer,
            reuse_seen,
        } = payload.body
        {
            let notice = ResetNotice {
                next_seq,
                answer,
                reuse_seen,
            };
            self.on_peer_reset(now, from, notice, ops, events);
            return;
        }
        let contact = self.owner_of(&from);
        if let Body::Receipt { kind, ids } = payload.body {
            // Receipts for our group messages, from a member's account; the rest are 1:1.
            let ids = self.take_group_receipts(contact, kind, ids, ops, events);
            let status = match kind {
                ReceiptKind::Delivered => MessageStatus::Delivered,
                ReceiptKind::Read => MessageStatus::Read,
            };
            for id in ids {
                self.resets.note_confirmed(contact, &id);
                ops.push(StoreOp::SetStatus {
                    id,
                    peer: contact,
                    status,
                });
                events.push(Event::StatusChanged {
                    id,
                    peer: contact,
                    status,
                });
            }
            return;
        }
        if self.accept_read_sync(from, &payload.body, ops, events)
            || self.accept_list_hint(now, &payload.body)
        {
            return;
        }
        if let Body::Group(data) = &payload.body {
            return self.accept_group_control(now, from, claimed, data, ops, events);
        }
        if let Body::AccessKey(key) = payload.body {
            // Each device has its own mailbox and key; a contact's device stands as the contact.
            self.store_peer_key(from, contact, key, ops);
            return;
        }
        if payload.conv_seq == 0 {
            events.push(Event::Dropped {
                claimed_from: Some(ClaimedSender::new(from)),
                reason: DropReason::BadPayload(PayloadFault::Unnumbered),
            });
            return;
        }
        let mut conversation = self
            .conversations
            .get(&from)
            .copied()
            .unwrap_or_else(|| Conversation::new(from));
        if payload.conv_seq < conversation.next_in_seq || self.inbox.contains(from, payload.conv_seq) {
            // Already delivered or already held: a copy, unless it is a message we never saw
            // under a number already used (the sender went back in time).
            if payload.conv_seq < conversation.next_in_seq && !self.resets.delivered(&payload.id) {
                self.on_reused_seq(now, from);
            }
            return;
        }
        let sent = matches!(payload.body, Body::Sent { .. });
        let held = HeldMessage {
            peer: from,
            conv_seq: payload.conv_seq,
            payload: encoded.clone(),
            received_at: now,
        };
        if self.hold_for_attribution(now, from, claimed, sent, held, ops, events) {
            return;
        }
        if sent && !self.is_own_device(&from) {
            return events.push(Event::Dropped {
                claimed_from: Some(ClaimedSender::new(from)),
                reason: DropReason::BadPayload(PayloadFault::NotOwnDevice),
            });
        }
        // Attributed now (held content was accepted again once its list came).
        let contact = self.owner_of(&from);
        // Our own devices send us copies, not requests.
        let request = !self.is_own_device(&from) && self.hold_as_request(contact, ops, events);
        if request || payload.conv_seq > conversation.next_in_seq {
            let held = HeldMessage {
                peer: from,
                conv_seq: payload.conv_seq,
                payload: encoded,
                received_at: now,
            };
            if self.inbox.hold(held.clone()) {
                ops.push(StoreOp::PutHeld(held));
            } else {
                events.push(Event::Dropped {
                    claimed_from: Some(ClaimedSender::new(from)),
                    reason: DropReason::BadPayload(PayloadFault::TooManyHeld),
                });
            }
            return;
        }
        let mut delivered = Vec::new();
        self.deliver(now, from, payload, ops, events, &mut delivered);
        conversation.next_in_seq += 1;
        self.conversations.insert(from, conversation);
        self.release_from(now, from, delivered, ops, events);
    }

    /// Delivers the messages held from `from` that are now next in line (after a gap filled or a
    /// request was accepted), with delivered receipts for them and for `delivered`.
    pub(crate) fn release_from(
        &mut self,
        now: u64,
        from: Address,
        mut delivered: Vec<MessageId>,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let mut conversation = self
            .conversations
            .get(&from)
            .copied()
            .unwrap_or_else(|| Conversation::new(from));
        while let Some(held) = self.inbox.take(from, conversation.next_in_seq) {
            ops.push(StoreOp::RemoveHeld {
                peer: from,
                conv_seq: held.conv_seq,
            });
            if let Ok(payload) = Payload::decode(&held.payload) {
                self.deliver(held.received_at, from, payload, ops, events, &mut delivered);
            }
            conversation.next_in_seq += 1;
        }
        self.conversations.insert(from, conversation);
        ops.push(StoreOp::PutConversation(conversation));
        let not_before = now + RECEIPT_DELAY_MS;
        // Receipts go to the contact: every device of it hears them.
        let contact = self.owner_of(&from);
        self.queue_receipts(now, contact, ReceiptKind::Delivered, &delivered, not_before, ops);
    }

    fn deliver(
        &mut self,
        now: u64,
        from: Address,
        payload: Payload,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
        delivered: &mut Vec<MessageId>,
    ) {
        let sent = matches!(payload.body, Body::Sent { .. });
        // Copies of sent messages only from our own devices (held ones are released only once
        // our list names the device, but a held copy can meet other paths that release).
        if !sent && !matches!(payload.body, Body::Content(_)) || sent && !self.is_own_device(&from) {
            return;
        }
        // A copy resent under a new number after a session reset: confirm it again only.
        if self.resets.delivered(&payload.id) {
            if !sent {
                delivered.push(payload.id);
            }
            return;
        }
        self.resets.note_incoming(payload.id);
        if sent {
            // Our own message, sent from another of our devices: no receipt for it.
            return self.deliver_sent(now, &payload, ops, events);
        }
        let Body::Content(content) = payload.body else {
            return;
        };
        let from = self.owner_of(&from);
        let message = StoredMessage {
            id: payload.id,
            peer: from,
            direction: Direction::Incoming,
            conv_seq: payload.conv_seq,
            sent_at: payload.sent_at,
            stored_at: now,
            content,
            status: MessageStatus::Received,
        };
        delivered.push(payload.id);
        self.deliver_content(message, ops, events);
    }
}
