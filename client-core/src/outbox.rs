//! The outbox: messages and receipts waiting to reach the relay, in sending order, and which of
//! them are in flight.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rand_core::CryptoRng;

use crate::address::Address;
use crate::content::{Body, MAX_RECEIPT_IDS, MessageId, Payload, ReceiptKind};
use crate::records::OutboxItem;

/// Most sends awaiting the relay's answer on one connection; the rest wait their turn.
pub const MAX_IN_FLIGHT: usize = 256;
/// How long a delivered-receipt waits for company, milliseconds: under load one receipt then
/// covers many messages instead of doubling the traffic.
pub const RECEIPT_DELAY_MS: u64 = 200;
/// `NotFound` answers to a bundle fetch before queued messages to that peer are failed.
pub const NOT_FOUND_RETRIES: u32 = 3;

/// Outbox order: creation time, then the conversation sequence (same-millisecond messages to one
/// peer keep their order), then the id.
type OutboxKey = (u64, u64, MessageId);

/// What one pass over the outbox found to do, in outbox order.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Sealed already: write again.
    pub(crate) send: Vec<MessageId>,
    /// Due, with a session to encrypt on.
    pub(crate) encrypt: Vec<MessageId>,
    /// Devices to fetch a bundle for (due items, and no session with them).
    pub(crate) fetch: Vec<Address>,
}

/// The outbox and what of it is in flight.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    items: BTreeMap<OutboxKey, OutboxItem>,
    index: HashMap<MessageId, OutboxKey>,
    in_flight: HashSet<MessageId>,
    fetching: HashSet<Address>,
    /// Sealed items whose devices changed (a refusal naming a device that left, a contact's or
    /// our list changed): sealed again before they are written, keeping the copies of devices
    /// still there (memory only: after a restart they are written as they are, and a refusal
    /// puts them here again).
    reroute: HashSet<MessageId>,
    /// `now` of the last pass: items due up to it were acted on then.
    pumped_at: u64,
}

impl Outbox {
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// From the store at start-up.
    pub(crate) fn restore(&mut self, items: Vec<OutboxItem>) {
        items.into_iter().for_each(|item| self.insert(item));
    }

    pub(crate) fn insert(&mut self, item: OutboxItem) {
        let key = (item.created_at, item.conv_seq, item.id);
        if let Some(old) = self.index.insert(item.id, key)
            && old != key
        {
            self.items.remove(&old);
        }
        self.items.insert(key, item);
    }

    pub(crate) fn remove(&mut self, id: &MessageId) -> Option<OutboxItem> {
        self.reroute.remove(id);
        let key = self.index.remove(id)?;
        self.items.remove(&key)
    }

    pub(crate) fn get(&self, id: &MessageId) -> Option<&OutboxItem> {
        self.index.get(id).and_then(|key| self.items.get(key))
    }

    /// Everything queued for `peer`, in order.
    pub(crate) fn items_for(&self, peer: &Address) -> Vec<OutboxItem> {
        self.items
            .values()
            .filter(|item| item.peer == *peer)
            .cloned()
            .collect()
    }

    /// The connection is gone: nothing is in flight any more.
    pub(crate) fn disconnected(&mut self) {
        self.in_flight.clear();
        self.fetching.clear();
    }

    /// Marks the sealed item `id` for sealing again (see `reroute`).
    pub(crate) fn reroute(&mut self, id: MessageId) {
        if self.get(&id).is_some_and(|item| item.envelope.is_some()) {
            self.reroute.insert(id);
        }
    }

    /// `id` was sealed again.
    pub(crate) fn rerouted(&mut self, id: &MessageId) {
        self.reroute.remove(id);
    }

    /// The sealed content items to `peer` (`None`: to anyone).
    pub(crate) fn sealed_for(&self, peer: Option<&Address>) -> Vec<MessageId> {
        self.items
            .values()
            .filter(|item| item.envelope.is_some() && item.conv_seq > 0)
            .filter(|item| peer.is_none_or(|peer| item.peer == *peer))
            .map(|item| item.id)
            .collect()
    }

    pub(crate) fn start_send(&mut self, id: MessageId) {
        self.in_flight.insert(id);
    }

    /// The send of `id` was answered (or no longer counts); whether it was in flight.
    pub(crate) fn end_send(&mut self, id: &MessageId) -> bool {
        self.in_flight.remove(id)
    }

    /// Whether a bundle fetch for `peer` may start (none is under way); marks it started.
    pub(crate) fn start_fetch(&mut self, peer: Address) -> bool {
        self.fetching.insert(peer)
    }

    pub(crate) fn end_fetch(&mut self, peer: &Address) {
        self.fetching.remove(peer);
    }

    /// One pass at `now`: what to send, encrypt and fetch, within [`MAX_IN_FLIGHT`].
    pub(crate) fn plan(
        &mut self,
        now: u64,
        backed_off: impl Fn(&Address) -> bool,
        without_session: impl Fn(&OutboxItem) -> Option<Vec<Address>>,
    ) -> Plan {
        self.pumped_at = now;
        let mut plan = Plan::default();
        let mut budget = MAX_IN_FLIGHT.saturating_sub(self.in_flight.len());
        for item in self.items.values() {
            if budget == 0 {
                break;
            }
            if self.in_flight.contains(&item.id) || backed_off(&item.peer) {
                continue;
            }
            let rerouted = self.reroute.contains(&item.id);
            if item.envelope.is_some() && !rerouted {
                plan.send.push(item.id);
                budget -= 1;
            } else if item.not_before <= now || rerouted {
                // The devices of the item's route with no session (`None`: nowhere to go yet).
                let Some(missing) = without_session(item) else {
                    continue;
                };
                if missing.is_empty() {
                    plan.encrypt.push(item.id);
                    budget -= 1;
                }
                for device in missing {
                    let skip = self.fetching.contains(&device)
                        || plan.fetch.contains(&device)
                        || (device != item.peer && backed_off(&device));
                    if !skip {
                        plan.fetch.push(device);
                    }
                }
            }
        }
        plan
    }

    /// When the last pass was.
    pub(crate) fn pumped_at(&self) -> u64 {
        self.pumped_at
    }

    /// The earliest time an unsealed item waiting for the clock becomes due.
    pub(crate) fn next_due(&self) -> Option<u64> {
        self.items
            .values()
            .filter(|item| item.envelope.is_none() && !self.in_flight.contains(&item.id))
            .map(|item| item.not_before)
            .filter(|time| *time > self.pumped_at)
            .min()
    }

    /// The peers of unsealed items (and of sealed ones waiting to be sealed again).
    pub(crate) fn unsealed_peers(&self) -> BTreeSet<Address> {
        self.items
            .values()
            .filter(|item| item.envelope.is_none() || self.reroute.contains(&item.id))
            .map(|item| item.peer)
            .collect()
    }

    /// Unsealed items to `peer` (they never left): ids with their `conv_seq`.
    pub(crate) fn unsealed_for(&self, peer: &Address) -> Vec<(MessageId, u64)> {
        self.items
            .values()
            .filter(|item| item.peer == *peer && item.envelope.is_none())
            .map(|item| (item.id, item.conv_seq))
            .collect()
    }

    /// A receipt item for `peer`; when a receipt of the same kind still waits unsealed and has
    /// room, it is that one with `ids` added (the caller stores and queues the result).
    pub(crate) fn receipt_item(
        &self,
        now: u64,
        peer: Address,
        kind: ReceiptKind,
        ids: Vec<MessageId>,
        not_before: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Option<OutboxItem> {
        let waiting = self.items.values().find_map(|item| {
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
                } if found == kind && existing.len() + ids.len() <= MAX_RECEIPT_IDS => {
                    Some((item.clone(), payload.id, payload.sent_at, existing))
                }
                _ => None,
            }
        });
        let (id, sent_at, mut all, base) = match waiting {
            Some((item, id, sent_at, existing)) => (id, sent_at, existing, Some(item)),
            None => (MessageId::random(rng), now, Vec::new(), None),
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
