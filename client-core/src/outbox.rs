//! Sending: session setup on first send, encryption, transmission, the relay's answers, receipts.

use hush_crypto::peer::PeerSessions;
use hush_crypto::{Curve25519PublicKey, IdentityKey, OneTimePreKeyPublic, PreKeyBundle, SignedPreKeyPublic};
use hush_proto::{Bundle, Envelope, ErrorCode, ErrorResponse, Request, Response};

use crate::address::Address;
use crate::content::{Body, MessageId, Payload, ReceiptKind};
use crate::core::{Core, MAX_IN_FLIGHT, Pending};
use crate::event::Event;
use crate::records::{MessageStatus, OutboxItem, StoreOp};

/// `NotFound` answers to a bundle fetch before queued messages to that peer are failed.
pub const NOT_FOUND_RETRIES: u32 = 3;

impl Core {
    /// Moves the outbox forward: encrypts what can be, starts sessions where needed, and writes
    /// what is ready, in outbox order.
    pub(crate) fn pump(&mut self, now: u64) {
        if !self.online {
            return;
        }
        self.pumped_at = now;
        let mut encrypt = Vec::new();
        let mut send = Vec::new();
        let mut fetch = Vec::new();
        let mut budget = MAX_IN_FLIGHT.saturating_sub(self.in_flight.len());
        for item in self.outbox.values() {
            if budget == 0 {
                break;
            }
            if self.in_flight.contains(&item.id) || self.backed_off(now, &item.peer) {
                continue;
            }
            if item.envelope.is_some() {
                send.push(item.id);
                budget -= 1;
            } else if item.not_before <= now {
                let has_session = self
                    .peers
                    .get(&item.peer)
                    .is_some_and(|peer| peer.active().is_some());
                if has_session {
                    encrypt.push(item.id);
                    budget -= 1;
                } else if !self.fetching.contains(&item.peer) && !fetch.contains(&item.peer) {
                    fetch.push(item.peer);
                }
            }
        }
        for peer in fetch {
            self.fetching.insert(peer);
            self.request(
                Request::FetchBundle {
                    mailbox: peer.mailbox(),
                    access: self.requests.key_for(&peer),
                },
                Pending::Fetch(peer),
            );
        }
        let sealed = self.encrypt_items(now, &encrypt);
        send.extend(sealed);
        for id in send {
            self.transmit(id);
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
            let Some(mut item) = self
                .outbox_index
                .get(id)
                .and_then(|key| self.outbox.get(key))
                .cloned()
            else {
                continue;
            };
            if refetch.contains(&item.peer) {
                continue;
            }
            let Some(peer) = self.peers.get_mut(&item.peer) else {
                continue;
            };
            // No usable session (none, or stale): start a new one from a fresh bundle. Nothing
            // else can fail (the payload was checked when queued); the item stays either way.
            let Ok(message) = peer.encrypt(now / 1000, &item.payload, &mut self.rng) else {
                refetch.push(item.peer);
                continue;
            };
            let sealed = hush_crypto::sealed::seal(
                &self.account,
                &item.peer.identity(),
                &message.to_bytes(),
                &mut self.rng,
            );
            let Ok(sealed) = sealed else {
                continue;
            };
            item.envelope = Some(sealed);
            if !touched.contains(&item.peer) {
                touched.push(item.peer);
            }
            ready.push(item.id);
            self.insert_outbox(item.clone());
            ops.push(StoreOp::PutOutbox(item));
        }
        for address in touched {
            if let Some(peer) = self.peers.get(&address) {
                ops.push(StoreOp::PutPeer(peer.pickle()));
            }
        }
        self.commit(ops);
        for peer in refetch {
            if self.fetching.insert(peer) {
                self.request(
                    Request::FetchBundle {
                        mailbox: peer.mailbox(),
                        access: self.requests.key_for(&peer),
                    },
                    Pending::Fetch(peer),
                );
            }
        }
        ready
    }

    fn transmit(&mut self, id: MessageId) {
        let Some(item) = self.outbox_index.get(&id).and_then(|key| self.outbox.get(key)) else {
            return;
        };
        let (peer, Some(bytes)) = (item.peer, item.envelope.clone()) else {
            return;
        };
        let Some(envelope) = Envelope::new(bytes) else {
            // Larger than the protocol allows; cannot happen for validated payloads.
            self.fail(id);
            return;
        };
        let (to, access) = (peer.mailbox(), self.requests.key_for(&peer));
        self.in_flight.insert(id);
        self.request(Request::Send { to, access, envelope }, Pending::Send(id));
    }

    /// Gives up on an item for good: it is removed and, if it is a message, marked failed.
    fn fail(&mut self, id: MessageId) {
        self.fail_all(&[id], Vec::new());
    }

    /// Gives up on items for good in one commit (with `extra` ops): they are removed and
    /// messages among them marked failed.
    fn fail_all(&mut self, ids: &[MessageId], extra: Vec<StoreOp>) {
        let mut ops = Vec::new();
        let mut failed = Vec::new();
        for id in ids {
            let Some(item) = self.remove_outbox(id) else {
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
        self.in_flight.remove(&id);
        match result {
            Ok(Response::Stored) => {
                let Some(item) = self.remove_outbox(&id) else {
                    return;
                };
                self.retry_at.remove(&item.peer);
                let mut ops = vec![StoreOp::RemoveOutbox(id)];
                if let Ok(payload) = Payload::decode(&item.payload) {
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
                }
            }
            Err(error) if !Self::is_retryable(error.code) => self.fail(id),
            // A stale key: sent again at once, without it.
            Err(error)
                if self
                    .outbox_index
                    .get(&id)
                    .and_then(|key| self.outbox.get(key))
                    .map(|item| item.peer)
                    .is_some_and(|peer| self.on_access_denied(peer, &error)) => {}
            _ => {
                if let Some(peer) = self
                    .outbox_index
                    .get(&id)
                    .and_then(|key| self.outbox.get(key))
                    .map(|i| i.peer)
                {
                    self.back_off(now, peer);
                }
            }
        }
    }

    pub(crate) fn on_bundle(&mut self, now: u64, peer: Address, result: Result<Response, ErrorResponse>) {
        self.fetching.remove(&peer);
        let bundle = match result {
            Ok(Response::Bundle(bundle)) => bundle,
            Err(ErrorResponse {
                code: ErrorCode::NotFound,
                ..
            }) => {
                // A peer that has just registered may not have uploaded its prekeys yet: ask
                // again a few times (with backoff) before deciding the mailbox does not exist.
                let failures = self.retry_at.get(&peer).map_or(0, |(_, failures)| *failures);
                if failures < NOT_FOUND_RETRIES {
                    self.back_off(now, peer);
                    return;
                }
                self.retry_at.remove(&peer);
                // No such mailbox: nothing we queue for it can ever be delivered.
                let items: Vec<(MessageId, u64)> = self
                    .outbox
                    .values()
                    .filter(|item| item.peer == peer && item.envelope.is_none())
                    .map(|item| (item.id, item.conv_seq))
                    .collect();
                // Those messages never left and, being unencrypted, are the latest to this peer:
                // number the next one in their place, or the peer (once it exists) would wait
                // for them forever.
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
        let session = self.account.create_outbound_session(
            self.address.as_bytes(),
            peer.as_bytes(),
            &verified,
            now / 1000,
            &mut self.rng,
        );
        let Ok(session) = session else {
            self.back_off(now, peer);
            return;
        };
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
    }

    /// A receipt item for `peer`, or `None` if the ids could be added to a receipt of the same
    /// kind still waiting in the outbox (which is then updated and committed by the caller's ops
    /// through the returned item).
    pub(crate) fn receipt_item(
        &mut self,
        now: u64,
        peer: Address,
        kind: ReceiptKind,
        ids: Vec<MessageId>,
        not_before: u64,
    ) -> Option<OutboxItem> {
        // Join a waiting receipt of the same kind if there is room.
        let waiting = self.outbox.values().find_map(|item| {
            if item.peer != peer
                || item.conv_seq != 0
                || item.envelope.is_some()
                || self.in_flight.contains(&item.id)
            {
                return None;
            }
            let payload = Payload::decode(&item.payload).ok()?;
            match payload.body {
                Body::Receipt {
                    kind: found,
                    ids: existing,
                } if found == kind && existing.len() + ids.len() <= crate::content::MAX_RECEIPT_IDS => {
                    Some((item.clone(), payload.id, payload.sent_at, existing))
                }
                _ => None,
            }
        });
        let (id, sent_at, mut all, base) = match waiting {
            Some((item, id, sent_at, existing)) => (id, sent_at, existing, Some(item)),
            None => (MessageId::random(&mut self.rng), now, Vec::new(), None),
        };
        all.extend(ids);
        let payload = Payload {
            id,
            conv_seq: 0,
            sent_at,
            body: Body::Receipt { kind, ids: all },
        }
        .encode()
        .ok()?;
        Some(match base {
            Some(item) => OutboxItem { payload, ..item },
            None => OutboxItem {
                id,
                peer,
                conv_seq: 0,
                payload,
                envelope: None,
                created_at: now,
                not_before,
            },
        })
    }
}

/// The crypto crate's bundle from the wire form; `None` if a key is invalid.
fn bundle_from_wire(bundle: &Bundle) -> Option<PreKeyBundle> {
    Some(PreKeyBundle {
        identity_key: IdentityKey::from_bytes(&bundle.identity_key).ok()?,
        signed_prekey: SignedPreKeyPublic {
            id: bundle.signed_prekey.id,
            created_at: bundle.signed_prekey.created_at,
            key: Curve25519PublicKey::from_bytes(&bundle.signed_prekey.key).ok()?,
            signature: bundle.signed_prekey.signature.0,
        },
        one_time_prekey: match &bundle.one_time_prekey {
            Some(otk) => Some(OneTimePreKeyPublic {
                id: otk.id,
                key: Curve25519PublicKey::from_bytes(&otk.key).ok()?,
            }),
            None => None,
        },
    })
}
