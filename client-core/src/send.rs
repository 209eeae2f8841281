//! Sending: queueing, session setup on first send, encryption, transmission, and the relay's
//! answers.

use hush_crypto::SessionError;
use hush_crypto::peer::PeerSessions;
use hush_proto::{Envelope, ErrorCode, ErrorResponse, Request, Response};

use crate::address::Address;
use crate::backoff::is_retryable;
use crate::content::{Body, Content, MAX_RECEIPT_IDS, MessageId, Payload, ReceiptKind};
use crate::core::Core;
use crate::devices::fanout;
use crate::error::SendError;
use crate::event::Event;
use crate::link::Pending;
use crate::outbox::NOT_FOUND_RETRIES;
use crate::prekey_wire::bundle_from_wire;
use crate::records::{Conversation, Direction, MessageStatus, OutboxItem, StoreOp, StoredMessage};

impl Core {
    /// Queues `content` for `to`. The returned id is durable once the commit that follows is
    /// applied; the message then survives crashes until the relay has stored it.
    pub fn handle_send(&mut self, now: u64, to: Address, content: Content) -> Result<MessageId, SendError> {
        if to == self.address || to == self.account_address() {
            return Err(SendError::ToSelf);
        }
        let (id, mut ops) = self.queue_content(now, to, content, |_, payload| Ok::<_, SendError>(payload))?;
        let mut events = Vec::new();
        self.accept_on_send(now, to, &mut ops, &mut events);
        self.share_key_with_own_devices(now, &mut ops);
        self.commit(ops);
        for event in events {
            self.event(event);
        }
        self.pump(now);
        Ok(id)
    }

    /// Validates `content`, numbers it in our stream to `to` (a contact, or a group's
    /// conversation key), notes it for the surface and puts it in the outbox. `outbox_payload`
    /// turns the encoded payload into what the outbox entry keeps (a group message is encrypted
    /// there and then); nothing changes if it or the encoding fails. Returns the id and the ops
    /// that make it durable (conversation, history, outbox), for the caller's commit.
    pub(crate) fn queue_content<E: From<SendError>>(
        &mut self,
        now: u64,
        to: Address,
        content: Content,
        outbox_payload: impl FnOnce(&mut Self, Vec<u8>) -> Result<Vec<u8>, E>,
    ) -> Result<(MessageId, Vec<StoreOp>), E> {
        content.validate().map_err(SendError::from)?;
        let id = MessageId::random(&mut self.rng);
        let mut conversation = self
            .conversations
            .get(&to)
            .copied()
            .unwrap_or_else(|| Conversation::new(to));
        let conv_seq = conversation.next_out_seq;
        conversation.next_out_seq += 1;
        let payload = Payload {
            id,
            conv_seq,
            sent_at: now,
            body: Body::Content(content.clone()),
        }
        .encode()
        .map_err(SendError::from)?;
        let payload = outbox_payload(self, payload)?;
        self.conversations.insert(to, conversation);
        let item = OutboxItem {
            id,
            peer: to,
            conv_seq,
            payload,
            envelope: None,
            created_at: now,
            not_before: now,
        };
        let message = StoredMessage {
            id,
            peer: to,
            direction: Direction::Outgoing,
            conv_seq,
            sent_at: now,
            stored_at: now,
            content,
            status: MessageStatus::Queued,
        };
        self.surface.note(&message);
        self.outbox.insert(item.clone());
        let ops = vec![
            StoreOp::PutConversation(conversation),
            StoreOp::InsertMessage(message),
            StoreOp::PutOutbox(item),
        ];
        Ok((id, ops))
    }

    /// The user read `ids` (incoming messages from `peer`): marks them and sends a read receipt.
    pub fn handle_mark_read(&mut self, now: u64, peer: Address, ids: &[MessageId]) {
        if ids.is_empty() {
            return;
        }
        let mut ops: Vec<StoreOp> = ids
            .iter()
            .map(|id| StoreOp::SetStatus {
                id: *id,
                peer,
                status: MessageStatus::Seen,
            })
            .collect();
        // A group's messages have several authors: `handle_mark_group_read` names them.
        if self.group_of(&peer).is_none() {
            self.queue_receipts(now, peer, ReceiptKind::Read, ids, now, &mut ops);
        }
        self.queue_read_sync(now, peer, ids, &mut ops);
        self.commit(ops);
        self.pump(now);
    }

    /// Queues receipts of `kind` for `ids` to `peer` (joining one still waiting where there is
    /// room), not sent before `not_before`.
    pub(crate) fn queue_receipts(
        &mut self,
        now: u64,
        peer: Address,
        kind: ReceiptKind,
        ids: &[MessageId],
        not_before: u64,
        ops: &mut Vec<StoreOp>,
    ) {
        for chunk in ids.chunks(MAX_RECEIPT_IDS) {
            let item = self
                .outbox
                .receipt_item(now, peer, kind, chunk.to_vec(), not_before, &mut self.rng);
            if let Some(item) = item {
                self.outbox.insert(item.clone());
                ops.push(StoreOp::PutOutbox(item));
            }
        }
    }

    fn back_off(&mut self, now: u64, peer: Address) {
        self.backoff.back_off(now, peer, &mut self.rng);
    }

    /// Moves the outbox forward: encrypts what can be, starts sessions where needed, and writes
    /// what is ready, in outbox order.
    pub(crate) fn pump(&mut self, now: u64) {
        if !self.link.is_online() {
            return;
        }
        self.ask_for_routes();
        self.ask_for_group_routes();
        let own = fanout::Own {
            account: self.account_address(),
            devices: self.own_devices(),
        };
        // A group message needs no session, only its members' lists answered.
        let groups = self.groups_ready(&self.outbox.unsealed_peers());
        let (backoff, peers, lists) = (&self.backoff, &self.peers, &self.peer_lists);
        let answered = &self.peer_fetch.answered;
        let plan = self.outbox.plan(
            now,
            |peer| backoff.backed_off(now, peer),
            |item| match groups.get(&item.peer) {
                Some(ready) => ready.then(Vec::new),
                None => fanout::without_session(lists, &own, answered, peers, item),
            },
        );
        for peer in plan.fetch {
            self.fetch_bundle(peer);
        }
        let mut send = plan.send;
        send.extend(self.encrypt_items(now, &plan.encrypt));
        for id in send {
            self.transmit(id);
        }
    }

    /// Asks for `peer`'s bundle unless a fetch is under way.
    fn fetch_bundle(&mut self, peer: Address) {
        if self.outbox.start_fetch(peer) {
            let request = Request::FetchBundle {
                mailbox: peer.mailbox(),
                access: self.access.key_for(&peer),
            };
            self.request(request, Pending::Fetch(peer));
        }
    }

    /// Encrypts the items `ids` (in order) and commits the envelopes with the ratchet states that
    /// made them. Returns the ids now ready to send.
    fn encrypt_items(&mut self, now: u64, ids: &[MessageId]) -> Vec<MessageId> {
        let mut ops = Vec::new();
        let mut touched: Vec<Address> = Vec::new();
        let mut ready = Vec::new();
        let mut refetch: Vec<Address> = Vec::new();
        for id in ids {
            let Some(mut item) = self.outbox.get(id).cloned() else {
                continue;
            };
            let sealed = match self.group_of(&item.peer) {
                Some(group) => self.seal_group_item(group, &item, &mut ops),
                None => self.seal_item(now, &item, &mut refetch, &mut touched, &mut ops),
            };
            let Some(envelope) = sealed else {
                continue;
            };
            item.envelope = Some(envelope);
            self.outbox.rerouted(&item.id);
            ready.push(item.id);
            self.outbox.insert(item.clone());
            ops.push(StoreOp::PutOutbox(item));
        }
        for address in touched {
            if let Some(peer) = self.peers.get(&address) {
                ops.push(StoreOp::PutPeer(peer.pickle()));
            }
        }
        self.commit(ops);
        for peer in refetch {
            self.fetch_bundle(peer);
        }
        ready
    }

    /// `payload` encrypted on the session with `device` and sealed to it; `None` without a
    /// usable session (none, or stale: a new one starts from a fresh bundle). Nothing else can
    /// fail (the payload was checked when queued).
    pub(crate) fn seal_for(&mut self, now: u64, device: Address, payload: &[u8]) -> Option<Vec<u8>> {
        let framed = crate::content::frame_payload(&self.account_address(), payload);
        let message = self
            .peers
            .get_mut(&device)?
            .encrypt(now / 1000, &framed, &mut self.rng)
            .ok()?;
        hush_crypto::sealed::seal_with(
            &self.account,
            &mut self.seal_keys,
            &device.identity(),
            &message.to_bytes(),
            &mut self.rng,
        )
        .ok()
    }

    fn transmit(&mut self, id: MessageId) {
        let Some(item) = self.outbox.get(&id) else {
            return;
        };
        let (peer, Some(bytes)) = (item.peer, item.envelope.clone()) else {
            return;
        };
        if let Some(copies) = crate::group_send::SharedCopies::decode(&bytes) {
            if !self.transmit_shared(id, copies) {
                self.fail(id);
            }
            return;
        }
        if let Some(copies) = fanout::Copies::decode(&bytes) {
            if !self.transmit_copies(id, peer, copies) {
                self.fail(id);
            }
            return;
        }
        let Some(envelope) = Envelope::new(bytes) else {
            // Larger than the protocol allows; cannot happen for validated payloads.
            self.fail(id);
            return;
        };
        let (to, access) = (peer.mailbox(), self.access.key_for(&peer));
        self.outbox.start_send(id);
        self.request(Request::Send { to, access, envelope }, Pending::Send(id));
    }

    /// Gives up on an item for good: it is removed and, if it is a message, marked failed.
    fn fail(&mut self, id: MessageId) {
        self.fail_all(&[id], Vec::new());
    }

    /// Fails every message queued for `peer` that was never encrypted (no session could start).
    pub(crate) fn fail_unsent_to(&mut self, peer: Address) {
        let items = self.outbox.unsealed_for(&peer);
        // Those messages never left and, being unencrypted, are the latest to this peer: number
        // the next one in their place, or the peer (once it can be reached) would wait for them
        // forever.
        let mut extra = Vec::new();
        if let Some(first) = items.iter().map(|(_, seq)| *seq).filter(|seq| *seq > 0).min()
            && let Some(conversation) = self.conversations.get_mut(&peer)
            && conversation.next_out_seq > first
        {
            conversation.next_out_seq = first;
            extra.push(StoreOp::PutConversation(*conversation));
        }
        let ids: Vec<MessageId> = items.into_iter().map(|(id, _)| id).collect();
        self.fail_all(&ids, extra);
    }

    /// Gives up on items for good in one commit (with `extra` ops): they are removed and
    /// messages among them marked failed.
    fn fail_all(&mut self, ids: &[MessageId], extra: Vec<StoreOp>) {
        let mut ops = Vec::new();
        let mut failed = Vec::new();
        for id in ids {
            let Some(item) = self.outbox.remove(id) else {
                continue;
            };
            ops.push(StoreOp::RemoveOutbox(*id));
            if item.conv_seq > 0 {
                ops.push(StoreOp::SetStatus {
                    id: *id,
                    peer: item.peer,
                    status: MessageStatus::Failed,
                });
                failed.push((*id, item.peer));
            }
        }
        ops.extend(extra);
        self.commit(ops);
        for (id, peer) in failed {
            self.event(Event::StatusChanged {
                id,
                peer,
                status: MessageStatus::Failed,
            });
        }
    }

    pub(crate) fn on_send_result(
        &mut self,
        now: u64,
        id: MessageId,
        result: Result<Response, ErrorResponse>,
    ) {
        self.outbox.end_send(&id);
        let peer = self.outbox.get(&id).map(|item| item.peer);
        match result {
            Ok(Response::Stored) => {
                let Some(item) = self.outbox.remove(&id) else {
                    return;
                };
                self.backoff.clear(&item.peer);
                let mut ops = vec![StoreOp::RemoveOutbox(id)];
                // Group messages are not resent by session resets (they use no session).
                if let Ok(payload) = Payload::decode(&item.payload)
                    && self.group_of(&item.peer).is_none()
                {
                    self.resets.note_sent(item.peer, payload);
                }
                if item.conv_seq > 0 {
                    ops.push(StoreOp::SetStatus {
                        id,
                        peer: item.peer,
                        status: MessageStatus::Sent,
                    });
                }
                self.commit(ops);
                if item.conv_seq > 0 {
                    self.event(Event::StatusChanged {
                        id,
                        peer: item.peer,
                        status: MessageStatus::Sent,
                    });
                } else if item.payload.is_empty() {
                    // Only a link message is queued sealed, without a payload.
                    self.event(Event::LinkSent {
                        device: item.peer.identity(),
                    });
                }
            }
            Err(error) if self.on_copies_refused(now, &id, &error) => {}
            Err(error) if self.on_shared_refused(now, &id, &error) => {}
            Err(error) if !is_retryable(error.code) => self.fail(id),
            // A stale key: sent again at once, without it.
            Err(error) if peer.is_some_and(|peer| self.on_access_denied(peer, &error)) => {}
            _ => {
                if let Some(peer) = peer {
                    self.back_off(now, peer);
                }
            }
        }
    }

    pub(crate) fn on_bundle(&mut self, now: u64, peer: Address, result: Result<Response, ErrorResponse>) {
        self.outbox.end_fetch(&peer);
        let bundle = match result {
            Ok(Response::Bundle(bundle)) => bundle,
            Err(ErrorResponse {
                code: ErrorCode::NotFound,
                ..
            }) => {
                // A device of a contact with a pinned list, or a contact whose list came after
                // the fetch: the list says where its messages go, nothing is failed here.
                if self.peer_lists.has(&peer) {
                    self.back_off(now, peer);
                    return;
                }
                if let Some(contact) = self.peer_lists.owner_of(&peer.identity()) {
                    // The device's mailbox is gone: ask for the list again (a list without it
                    // routes the messages to the devices left).
                    self.back_off(now, peer);
                    self.refetch_peer_list(contact);
                    return;
                }
                // A peer that has just registered may not have uploaded its prekeys yet: ask
                // again a few times (with backoff) before deciding the mailbox does not exist.
                if self.backoff.failures(&peer) < NOT_FOUND_RETRIES {
                    self.back_off(now, peer);
                    return;
                }
                self.backoff.clear(&peer);
                // No such mailbox: nothing we queue for it can ever be delivered.
                self.fail_unsent_to(peer);
                return;
            }
            Err(error) if self.on_access_denied(peer, &error) => return,
            _ => {
                self.back_off(now, peer);
                return;
            }
        };
        let Some(verified) = bundle_from_wire(&bundle).and_then(|b| b.verify(Some(&peer.identity())).ok())
        else {
            // A bundle that is not the peer's (a lying relay) or is malformed: retry later.
            self.back_off(now, peer);
            return;
        };
        let session = self.account.create_session(
            self.address.as_bytes(),
            peer.as_bytes(),
            &verified,
            self.setup_policy,
            now / 1000,
            &mut self.rng,
        );
        let session = match session {
            Ok(session) => session,
            Err(SessionError::ClassicalSetupRefused) => return self.on_classical_bundle(now, peer),
            Err(_) => {
                self.back_off(now, peer);
                return;
            }
        };
        let post_quantum = verified.kem_prekey().is_some();
        let sessions = self
            .peers
            .entry(peer)
            .or_insert_with(|| PeerSessions::new(peer.identity()));
        if sessions.add_outbound(session).is_err() {
            self.back_off(now, peer);
            return;
        }
        let pickle = sessions.pickle();
        self.commit(vec![StoreOp::PutPeer(pickle)]);
        self.event(Event::SessionSetUp {
            peer,
            post_quantum,
            initiator: true,
        });
    }
}
