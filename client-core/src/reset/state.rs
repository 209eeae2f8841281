//! What the reset logic remembers, and its rate limits. Only the unconfirmed messages and the
//! recent incoming ids are rebuilt after a restart (from [`crate::Snapshot`]); the rest is
//! advisory.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};

use hush_crypto::peer::PeerDecryptError;
use hush_crypto::{DecryptError, InboundError, SessionMessage};

use crate::address::Address;
use crate::content::{Body, MessageId, Payload};
use crate::records::{Direction, MessageStatus, StoredMessage};

/// Least time between two resets we start with one peer, milliseconds. A reset costs a bundle
/// fetch (one of the peer's one-time prekeys) and a resend of what is unconfirmed, so a forged
/// trigger can make us pay that once a minute per peer at most.
pub const RESET_INTERVAL_MS: u64 = 60_000;
/// Most resets we start in any hour, over all peers: forged triggers naming many peers cost at
/// most this many bundle fetches.
pub const MAX_RESETS_PER_HOUR: usize = 20;
/// After a reset, messages still in flight on the dropped sessions fail to decrypt; they were
/// resent on the new session, so for this long such failures only defer a reset.
pub const RESET_QUIET_MS: u64 = 5 * 60_000;
/// Ratchet positions remembered per peer with the message that consumed them, to tell a rolled
/// back sender (same position, another message) from a redelivery (same bytes).
pub const MAX_CONSUMED_PER_PEER: usize = 1024;
/// Ids of delivered incoming messages remembered (over all peers), to drop a resent copy that
/// comes under a new number. Resends follow a reset at once, so recent ids are what they hit.
pub const MAX_RECENT_INCOMING: usize = 4096;
/// Unconfirmed outgoing messages kept (over all peers) for resending after a reset; older ones
/// stay `Sent` if their receipts never come.
pub const MAX_UNCONFIRMED: usize = 4096;
pub(crate) const HOUR_MS: u64 = 60 * 60 * 1000;

/// Why a reset is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// The peer reused a ratchet counter or a sequence number: it went back in time.
    PeerReused,
    /// A message from the peer did not decrypt in any session we hold.
    Undecryptable,
}

#[derive(Debug, Default)]
pub(super) struct PeerState {
    pub(super) consumed: HashMap<([u8; 32], u32), u64>,
    pub(super) consumed_order: VecDeque<([u8; 32], u32)>,
    pub(super) last_started: Option<u64>,
    /// Failures to decrypt before this only defer a reset.
    pub(super) quiet_until: u64,
    /// A deferred reset: when, and whether the peer reused counters.
    pub(super) due: Option<(u64, bool)>,
    /// We started a reset and the peer has not sent its own yet.
    pub(super) awaiting: bool,
    /// The `received_at` of the held message we last reset for (so a gap is acted on once).
    pub(super) gap_acted: Option<u64>,
    /// A reset with the peer happened in this process and a message from the peer decrypted
    /// after it: our state is current, so a message that fails now is a straggler from a
    /// dropped session (or a forgery), not a sign that we went back in time. (A process started
    /// from a restored copy remembers no reset, so it does notice.)
    pub(super) settled: bool,
}

/// What the reset logic remembers. Only the unconfirmed messages and the recent incoming ids
/// are rebuilt after a restart (from [`crate::Snapshot`]); the rest is advisory.
#[derive(Debug, Default)]
pub(crate) struct Resets {
    peers: HashMap<Address, PeerState>,
    started: VecDeque<u64>,
    unconfirmed: BTreeMap<(Address, u64), Payload>,
    unconfirmed_ids: HashMap<MessageId, (Address, u64)>,
    recent_incoming: HashSet<MessageId>,
    recent_order: VecDeque<MessageId>,
}

fn message_hash(message: &SessionMessage) -> u64 {
    let mut hasher = DefaultHasher::new();
    message.message().to_bytes().hash(&mut hasher);
    hasher.finish()
}

fn position(message: &SessionMessage) -> ([u8; 32], u32) {
    let inner = message.message();
    (inner.ratchet_key().to_bytes(), inner.counter())
}

impl Resets {
    /// From the store at start-up.
    pub(crate) fn restore(&mut self, unconfirmed: Vec<StoredMessage>, recent_incoming: Vec<MessageId>) {
        for message in unconfirmed {
            if message.direction == Direction::Outgoing && message.status == MessageStatus::Sent {
                let payload = Payload {
                    id: message.id,
                    conv_seq: message.conv_seq,
                    sent_at: message.sent_at,
                    body: Body::Content(message.content),
                };
                self.note_sent(message.peer, payload);
            }
        }
        for id in recent_incoming {
            self.note_incoming(id);
        }
    }

    /// The relay stored one of our content messages: keep it until the peer confirms it.
    pub(crate) fn note_sent(&mut self, peer: Address, payload: Payload) {
        if payload.conv_seq == 0 {
            return;
        }
        if self.unconfirmed.len() >= MAX_UNCONFIRMED
            && let Some(((oldest_peer, seq), old)) = self.unconfirmed.pop_first()
        {
            let _ = (oldest_peer, seq);
            self.unconfirmed_ids.remove(&old.id);
        }
        self.unconfirmed_ids.insert(payload.id, (peer, payload.conv_seq));
        self.unconfirmed.insert((peer, payload.conv_seq), payload);
    }

    /// `peer` confirmed (delivered or read) our message `id`.
    pub(crate) fn note_confirmed(&mut self, peer: Address, id: &MessageId) {
        if let Some(key) = self.unconfirmed_ids.get(id).copied()
            && key.0 == peer
        {
            self.unconfirmed_ids.remove(id);
            self.unconfirmed.remove(&key);
        }
    }

    /// We delivered incoming message `id`.
    pub(crate) fn note_incoming(&mut self, id: MessageId) {
        if !self.recent_incoming.insert(id) {
            return;
        }
        self.recent_order.push_back(id);
        if self.recent_order.len() > MAX_RECENT_INCOMING
            && let Some(old) = self.recent_order.pop_front()
        {
            self.recent_incoming.remove(&old);
        }
    }

    /// Whether we delivered incoming message `id` recently.
    pub(crate) fn delivered(&self, id: &MessageId) -> bool {
        self.recent_incoming.contains(id)
    }

    /// A message from `peer` decrypted: remember what consumed its ratchet position, and drop a
    /// deferred reset (the session works).
    pub(crate) fn note_decrypted(&mut self, peer: Address, message: &SessionMessage) {
        let state = self.peers.entry(peer).or_default();
        state.due = None;
        state.settled = state.quiet_until > 0;
        let key = position(message);
        if state.consumed.insert(key, message_hash(message)).is_none() {
            state.consumed_order.push_back(key);
            if state.consumed_order.len() > MAX_CONSUMED_PER_PEER
                && let Some(old) = state.consumed_order.pop_front()
            {
                state.consumed.remove(&old);
            }
        }
    }

    /// What a failed decryption from a peer we hold sessions with means.
    pub(crate) fn classify(
        &self,
        peer: Address,
        message: &SessionMessage,
        error: &PeerDecryptError,
    ) -> Option<Trigger> {
        match error {
            PeerDecryptError::Decrypt(DecryptError::Duplicate { .. }) => {
                let state = self.peers.get(&peer)?;
                let consumed = state.consumed.get(&position(message))?;
                (*consumed != message_hash(message)).then_some(Trigger::PeerReused)
            }
            // Too old to tell; a replayed pre-key message is a copy.
            PeerDecryptError::Decrypt(DecryptError::MessageKeyEvicted { .. })
            | PeerDecryptError::Inbound(InboundError::ReplayedBaseKey)
            | PeerDecryptError::WrongPeer => None,
            _ => Some(Trigger::Undecryptable),
        }
    }

    /// Whether failures from `peer` are expected now (just after a reset).
    pub(super) fn quiet(&self, now: u64, peer: &Address) -> bool {
        self.peers.get(peer).is_some_and(|state| now < state.quiet_until)
    }

    /// Whether a failure to decrypt from `peer` says nothing (see `PeerState::settled`).
    pub(super) fn settled(&self, peer: &Address) -> bool {
        self.peers.get(peer).is_some_and(|state| state.settled)
    }

    /// Whether a reset with `peer` may start at `now`; if not, it is deferred.
    pub(super) fn admit(&mut self, now: u64, peer: Address, reused: bool) -> bool {
        while self
            .started
            .front()
            .is_some_and(|time| now.saturating_sub(*time) >= HOUR_MS)
        {
            self.started.pop_front();
        }
        let state = self.peers.entry(peer).or_default();
        let mut at = state.quiet_until;
        if let Some(last) = state.last_started {
            at = at.max(last + RESET_INTERVAL_MS);
        }
        if let Some(first) = self.started.front()
            && self.started.len() >= MAX_RESETS_PER_HOUR
        {
            at = at.max(first + HOUR_MS);
        }
        if now >= at {
            return true;
        }
        let reused = reused || state.due.is_some_and(|(_, reused)| reused);
        state.due = Some((at, reused));
        false
    }

    pub(super) fn started_with(&mut self, now: u64, peer: Address) {
        self.started.push_back(now);
        let state = self.peers.entry(peer).or_default();
        state.last_started = Some(now);
        state.quiet_until = now + RESET_QUIET_MS;
        state.due = None;
        state.awaiting = true;
        state.settled = false;
    }

    /// `peer` reset at `now`; whether we had started one it has not answered yet.
    pub(super) fn peer_reset(&mut self, now: u64, peer: Address) -> bool {
        let state = self.peers.entry(peer).or_default();
        state.quiet_until = now + RESET_QUIET_MS;
        state.due = None;
        state.settled = false;
        std::mem::take(&mut state.awaiting)
    }

    /// Whether we reset for the gap before the held message that arrived at `received_at`.
    pub(crate) fn gap_acted(&self, peer: &Address, received_at: u64) -> bool {
        self.peers
            .get(peer)
            .is_some_and(|state| state.gap_acted == Some(received_at))
    }

    /// We reset for that gap: once is enough.
    pub(crate) fn act_on_gap(&mut self, peer: Address, received_at: u64) {
        self.peers.entry(peer).or_default().gap_acted = Some(received_at);
    }

    /// The earliest deferred reset.
    pub(crate) fn next_due(&self) -> Option<u64> {
        self.peers
            .values()
            .filter_map(|state| state.due.map(|(at, _)| at))
            .min()
    }

    pub(super) fn take_due(&mut self, now: u64) -> Vec<(Address, bool)> {
        let mut due = Vec::new();
        for (peer, state) in &mut self.peers {
            if let Some((at, reused)) = state.due
                && at <= now
            {
                state.due = None;
                due.push((*peer, reused));
            }
        }
        due.sort_by_key(|(peer, _)| *peer.as_bytes());
        due
    }

    /// Our unconfirmed content to `peer`, oldest number first.
    pub(super) fn take_unconfirmed(&mut self, peer: Address) -> Vec<Payload> {
        let keys: Vec<(Address, u64)> = self
            .unconfirmed
            .range((peer, 0)..=(peer, u64::MAX))
            .map(|(key, _)| *key)
            .collect();
        keys.into_iter()
            .filter_map(|key| {
                let payload = self.unconfirmed.remove(&key)?;
                self.unconfirmed_ids.remove(&payload.id);
                Some(payload)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_are_rate_limited_per_peer_and_deferred() {
        let mut resets = Resets::default();
        let peer = Address::from_identity(&hush_crypto::Account::new(0, &mut rand::rng()).identity_key());
        assert!(resets.admit(1_000, peer, false));
        resets.started_with(1_000, peer);
        // Too soon: deferred to the end of the quiet time (longer than the interval).
        assert!(!resets.admit(2_000, peer, true));
        assert_eq!(resets.next_due(), Some(1_000 + RESET_QUIET_MS));
        assert!(resets.take_due(1_000 + RESET_QUIET_MS - 1).is_empty());
        assert_eq!(resets.take_due(1_000 + RESET_QUIET_MS), vec![(peer, true)]);
        assert!(resets.admit(1_000 + RESET_QUIET_MS, peer, false));
    }

    #[test]
    fn resets_over_all_peers_are_capped_per_hour() {
        let mut resets = Resets::default();
        let mut rng = rand::rng();
        for n in 0..MAX_RESETS_PER_HOUR as u64 {
            let peer = Address::from_identity(&hush_crypto::Account::new(0, &mut rng).identity_key());
            assert!(resets.admit(n, peer, false));
            resets.started_with(n, peer);
        }
        let one_more = Address::from_identity(&hush_crypto::Account::new(0, &mut rng).identity_key());
        assert!(!resets.admit(100, one_more, false));
        assert_eq!(resets.next_due(), Some(HOUR_MS));
    }
}
