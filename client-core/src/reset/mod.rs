//! Starting a session over when one side's state went back in time (a profile restored from an
//! older copy, a rolled-back VM), so that no message is lost or delivered twice.
//!
//! A restored side encrypts again at ratchet counters it already used, cannot decrypt the
//! peer's newer messages, and numbers its content from a `conv_seq` the peer has already seen.
//! Either side may notice:
//! - a duplicate ratchet counter whose message differs from the one that consumed it (a genuine
//!   copy is byte-identical: senders resend envelopes unchanged, relays redeliver them);
//! - a message from a peer we hold sessions with that no session decrypts;
//! - content numbered below what we expect next, with an id we have not delivered.
//!
//! It then *resets*: it drops its sessions with the peer, starts a fresh X3DH session (the peer
//! adopts it, see `hush_crypto::peer`), and, as the first message on it, sends
//! [`Body::Reset`] with the number its content to the peer restarts at. Everything of its own the
//! peer has not confirmed (messages the relay stored without a delivered receipt, and the
//! outbox) is renumbered from there and sent again. The peer answers in kind: it keeps only the
//! session the reset came on, renumbers and resends its own unconfirmed messages, and sends a
//! [`Body::Reset`] marked as an answer. Every reset is answered, even by a side that started
//! one of its own at the same time, so each side ends up with the other's last numbering. Receivers drop content they delivered already by id, so
//! a message that got through before the reset and again after it is delivered once.
//!
//! The restart number is at least `now << 20` (and above anything numbered before): it is then
//! above whatever the peer expects from us even if our own counters went back, so renumbered
//! messages that overtake the reset are held, not dropped, until the reset arrives.
//!
//! Anyone can make a message look like a trigger, so resets are rate-limited (per peer and in
//! total); a trigger that comes too early is deferred, and dropped when the peer's messages
//! decrypt again. A reset never loses a message: everything unconfirmed is resent.

pub(crate) mod state;

use hush_crypto::SessionMessage;
use hush_crypto::peer::{PeerDecryptError, PeerSessions};

use crate::access::Standing;
use crate::address::Address;
use crate::content::{Body, MessageId, Payload};
use crate::core::Core;
use crate::event::Event;
use crate::records::{Conversation, OutboxItem, StoreOp};
use state::Trigger;
pub use state::{MAX_RECENT_INCOMING, MAX_RESETS_PER_HOUR, MAX_UNCONFIRMED, RESET_INTERVAL_MS};

/// How long a message may wait in `held` for an earlier one before we reset. Gaps come from
/// the relay storing a resend after a later message and close within the sender's retry
/// backoff (a minute at most); one still open after this is a gap that cannot fill, such as
/// the messages a restored copy of us acknowledged before it was restored.
pub const GAP_TIMEOUT_MS: u64 = 5 * 60_000;
/// `conv_seq` restart numbers are at least the clock in milliseconds times 2^20 (see the module
/// docs): room for a million messages per millisecond between resets.
const SEQ_EPOCH_SHIFT: u32 = 20;

/// A [`Body::Reset`] as received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResetNotice {
    pub(crate) next_seq: u64,
    pub(crate) answer: bool,
    pub(crate) reuse_seen: bool,
}

impl Core {
    /// A message from `from`, a peer we hold sessions with, did not decrypt.
    pub(crate) fn on_undecryptable(
        &mut self,
        now: u64,
        from: Address,
        message: &SessionMessage,
        error: &PeerDecryptError,
    ) {
        match self.resets.classify(from, message, error) {
            Some(Trigger::PeerReused) => self.trigger_reset(now, from, true),
            Some(Trigger::Undecryptable) if self.resets.settled(&from) => {}
            Some(Trigger::Undecryptable) if !self.resets.quiet(now, &from) => {
                self.trigger_reset(now, from, false)
            }
            Some(Trigger::Undecryptable) => {
                // Expected just after a reset, but if the peer's messages keep failing and none
                // decrypts, start over again once the quiet time is past.
                let _ = self.resets.admit(now, from, false);
            }
            None => {}
        }
    }

    /// Content from `from` numbered below what we expect, with an id we have not delivered:
    /// the peer numbers from an older state.
    pub(crate) fn on_reused_seq(&mut self, now: u64, from: Address) {
        // Just after a reset, content numbered before it is expected (it was resent).
        if !self.resets.quiet(now, &from) {
            self.trigger_reset(now, from, true);
        }
    }

    /// Deferred resets whose time has come, and gaps open too long.
    pub(crate) fn run_due_resets(&mut self, now: u64) {
        for (peer, reused) in self.resets.take_due(now) {
            self.trigger_reset(now, peer, reused);
        }
        for (peer, received_at) in self.open_gaps() {
            if received_at + GAP_TIMEOUT_MS <= now {
                self.resets.act_on_gap(peer, received_at);
                self.trigger_reset(now, peer, false);
            }
        }
    }

    /// When the oldest gap not acted on yet times out.
    pub(crate) fn next_gap_timeout(&self) -> Option<u64> {
        self.open_gaps()
            .into_iter()
            .map(|(_, received_at)| received_at + GAP_TIMEOUT_MS)
            .min()
    }

    /// Per peer with held messages: when the first of them (the one waiting for the gap right
    /// before it) arrived, unless we reset for it already. Messages held as a message request
    /// wait for the app, not for a gap: a reset would only resend them to be held again.
    fn open_gaps(&self) -> Vec<(Address, u64)> {
        self.inbox
            .firsts()
            .into_iter()
            .filter(|held| self.access.standing(&held.peer) != Some(Standing::Requested))
            .map(|held| (held.peer, held.received_at))
            .filter(|(peer, received_at)| !self.resets.gap_acted(peer, *received_at))
            .collect()
    }

    fn trigger_reset(&mut self, now: u64, peer: Address, reused: bool) {
        if peer == self.address || !self.resets.admit(now, peer, reused) {
            return;
        }
        self.resets.started_with(now, peer);
        // Our sessions with the peer are what failed: drop them, and the outbox then fetches a
        // bundle and starts a new one before anything to the peer is encrypted.
        let sessions = PeerSessions::new(peer.identity());
        let mut ops = vec![StoreOp::PutPeer(sessions.pickle())];
        self.peers.insert(peer, sessions);
        self.requeue(now, peer, false, reused, &mut ops);
        self.commit(ops);
        self.event(Event::SessionReset {
            peer,
            started_here: true,
        });
    }

    /// `from` reset (on the session that just decrypted its [`Body::Reset`]): take its new
    /// numbering and, unless this answers a reset of ours, answer it.
    pub(crate) fn on_peer_reset(
        &mut self,
        now: u64,
        from: Address,
        notice: ResetNotice,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let ResetNotice {
            next_seq,
            answer,
            reuse_seen,
        } = notice;
        let mut conversation = self
            .conversations
            .get(&from)
            .copied()
            .unwrap_or_else(|| Conversation::new(from));
        if next_seq < conversation.next_in_seq {
            // Restart numbers only grow (they follow the clock), so this is an older reset the
            // relay delivered late: a newer one has been applied already. Decrypting it may have
            // made the session it came on active (a new pre-key session always is), and its
            // sender may have dropped that session since: keep it, but send on the one used
            // before.
            if !answer
                && let Some(sessions) = self.peers.get(&from)
                && let Some((arrived, older)) = sessions.sessions().split_last()
                && !older.is_empty()
            {
                let mut kept = PeerSessions::new(sessions.remote_identity());
                for session in std::iter::once(arrived).chain(older).cloned() {
                    let _ = kept.add_outbound(session);
                }
                ops.push(StoreOp::PutPeer(kept.pickle()));
                self.peers.insert(from, kept);
            }
            return;
        }
        let ours = self.resets.peer_reset(now, from);
        // Keep only the session the reset came on (the most recently used: the peer's new one),
        // so a delayed message on an older one cannot pull us back onto a session the peer
        // dropped. If we reset too, the peer holds our new session as well: keep everything
        // (all new) and let the smaller-id rule pick one. An answer comes on whatever session
        // its sender uses, which says nothing about the others: it retires none.
        if !ours
            && !answer
            && let Some(sessions) = self.peers.get(&from)
            && let Some(latest) = sessions.sessions().last().cloned()
        {
            let mut kept = PeerSessions::new(sessions.remote_identity());
            if kept.add_outbound(latest).is_ok() {
                ops.push(StoreOp::PutPeer(kept.pickle()));
                self.peers.insert(from, kept);
            }
        }
        conversation.next_in_seq = next_seq;
        self.conversations.insert(from, conversation);
        ops.push(StoreOp::PutConversation(conversation));
        // Held messages numbered before the reset come again, renumbered.
        for conv_seq in self.inbox.drop_below(from, Some(next_seq)) {
            ops.push(StoreOp::RemoveHeld { peer: from, conv_seq });
        }
        // Renumbered messages that overtook the reset wait in `held`: release them.
        if let Some(first) = self.inbox.take(from, next_seq) {
            ops.push(StoreOp::RemoveHeld {
                peer: from,
                conv_seq: next_seq,
            });
            if let Ok(payload) = Payload::decode(&first.payload) {
                self.accept(first.received_at, from, None, payload, first.payload, ops, events);
            }
        }
        // Every reset is answered, ours or not: when both sides reset at once, each answer
        // carries its sender's final numbering even if the other's own reset got lost.
        if !answer {
            self.requeue(now, from, true, false, ops);
        }
        if reuse_seen {
            // The peer saw us reuse counters: we were restored from an older copy, and the
            // relay may hand out prekeys of the lost future. Replace them.
            self.upkeep.upload_now(now);
            self.run_upkeep(now, Some(0));
        }
        // An answer belongs to the reset we announced already.
        if !answer {
            events.push(Event::SessionReset {
                peer: from,
                started_here: false,
            });
        }
    }

    /// Renumbers everything of ours to `peer` not yet confirmed, behind a [`Body::Reset`], for
    /// the session now active (or the one the outbox is about to start).
    fn requeue(&mut self, now: u64, peer: Address, answer: bool, reuse_seen: bool, ops: &mut Vec<StoreOp>) {
        let mut pending: Vec<Payload> = self.resets.take_unconfirmed(peer);
        let queued = self.outbox.items_for(&peer);
        for item in &queued {
            // An answer to a send still in flight no longer matters: the item goes out again.
            if self.outbox.end_send(&item.id) {
                self.link.ignore_send(item.id);
            }
            self.outbox.remove(&item.id);
            ops.push(StoreOp::RemoveOutbox(item.id));
            let payload = Payload::decode(&item.payload);
            if matches!(
                payload,
                Ok(Payload {
                    body: Body::Reset { .. },
                    ..
                })
            ) {
                // An earlier reset not sent yet: the new one replaces it.
                continue;
            }
            if item.conv_seq == 0 {
                // Receipts need no number; re-encrypt them on the new session.
                let again = OutboxItem {
                    envelope: None,
                    ..item.clone()
                };
                self.outbox.insert(again.clone());
                ops.push(StoreOp::PutOutbox(again));
            } else if let Ok(payload) = payload
                && !pending.iter().any(|p| p.id == payload.id)
            {
                pending.push(payload);
            }
        }
        pending.sort_by_key(|payload| payload.conv_seq);
        let mut conversation = self
            .conversations
            .get(&peer)
            .copied()
            .unwrap_or_else(|| Conversation::new(peer));
        let next_seq = conversation
            .next_out_seq
            .max(now.saturating_mul(1 << SEQ_EPOCH_SHIFT))
            .max(1);
        let reset_id = MessageId::random(&mut self.rng);
        let reset = Payload {
            id: reset_id,
            conv_seq: 0,
            sent_at: now,
            body: Body::Reset {
                next_seq,
                answer,
                reuse_seen,
            },
        };
        let Ok(reset_payload) = reset.encode() else {
            return;
        };
        let mut items = vec![OutboxItem {
            id: reset_id,
            peer,
            conv_seq: 0,
            payload: reset_payload,
            envelope: None,
            created_at: now,
            not_before: now,
        }];
        let mut seq = next_seq;
        for mut payload in pending {
            payload.conv_seq = seq;
            let Ok(encoded) = payload.encode() else {
                continue;
            };
            items.push(OutboxItem {
                id: payload.id,
                peer,
                conv_seq: seq,
                payload: encoded,
                envelope: None,
                created_at: now,
                not_before: now,
            });
            seq += 1;
        }
        conversation.next_out_seq = seq;
        self.conversations.insert(peer, conversation);
        ops.push(StoreOp::PutConversation(conversation));
        for item in items {
            self.outbox.insert(item.clone());
            ops.push(StoreOp::PutOutbox(item));
        }
        // Retry at once on the new session, not after a backoff from the old one.
        self.backoff.clear(&peer);
    }
}
