//! Group messages, the receiving side (proto/PROTOCOL.md "Group messages"): a shared envelope
//! (`0xF4`) is split, its part and body opened with our identity key (SPEC §15.1), and the
//! sender-key message inside verified and decrypted on the chain of the device it names, which
//! must belong to a member account. Each chain's messages are delivered in chain order, exactly
//! once: a message ahead of a missing one waits (in the group's record, durably) until the gap
//! fills or [`GROUP_GAP_MS`] passes; a message on a chain we do not hold yet waits for its key.

use hush_crypto::GroupError;
use hush_crypto::group::SenderKeyMessage;
use hush_proto::split_shared_envelope;

use crate::address::Address;
use crate::content::{Body, Payload, PayloadError, unframe_payload};
use crate::core::Core;
use crate::event::{DropReason, Event};
use crate::group_control::was_member;
use crate::groups::{
    ChainId, GroupDropReason, GroupId, GroupRecord, Held, MAX_EARLY_BYTES, MAX_EARLY_MESSAGES,
    MAX_GROUP_HELD, early_blob, unhold,
};
use crate::records::{Direction, MessageStatus, StoreOp, StoredMessage};

/// How long a group message ahead of a missing one waits before it is delivered anyway (the
/// missing one may have failed for good at its sender); a late one is still delivered.
pub const GROUP_GAP_MS: u64 = 5 * 60_000;

/// How far back [`chain_ready`] follows a chain's predecessors, and how many chains one release
/// visits: a device keeps a few chains per group, and one that names its chains in a circle
/// only delays its own messages (until [`GROUP_GAP_MS`]).
const MAX_PREDECESSORS: usize = 8;

/// Whether `chain` holds `(device, distribution id)`'s chain.
fn holds(record: &GroupRecord, chain: &ChainId) -> bool {
    Address::from_bytes(chain.0).is_ok_and(|device| record.chains.holds(&device.identity(), &chain.1))
}

/// Whether the messages of `chain` may be delivered: the chain it follows on from, if we hold
/// it, has delivered the messages its sender said it sent on it, and so on back. A chain we do
/// not hold (we joined later, or it was dropped) is not waited for.
fn chain_ready(record: &GroupRecord, chain: ChainId) -> bool {
    let mut current = chain;
    for _ in 0..MAX_PREDECESSORS {
        let Some(after) = record.after.get(&current) else {
            return true;
        };
        let previous: ChainId = (current.0, after.distribution_id);
        if !holds(record, &previous) {
            return true;
        }
        if record.next.get(&previous).copied().unwrap_or(0) < after.count {
            return false;
        }
        current = previous;
    }
    true
}

/// The chains that follow on from `chain` (the same device's next ones).
fn successors(record: &GroupRecord, chain: ChainId) -> Vec<ChainId> {
    record
        .after
        .iter()
        .filter(|(next, after)| next.0 == chain.0 && after.distribution_id == chain.1)
        .map(|(next, _)| *next)
        .collect()
}

/// `chain` and the held chains it follows on from, the oldest first.
fn with_ancestors(record: &GroupRecord, chain: ChainId) -> Vec<ChainId> {
    let mut line = vec![chain];
    let mut current = chain;
    while line.len() < MAX_PREDECESSORS {
        let Some(after) = record.after.get(&current) else {
            break;
        };
        let previous: ChainId = (current.0, after.distribution_id);
        if !holds(record, &previous) || line.contains(&previous) {
            break;
        }
        line.push(previous);
        current = previous;
    }
    line.reverse();
    line
}

impl Core {
    /// A delivered envelope that starts with the shared-envelope tag.
    pub(crate) fn receive_shared(
        &mut self,
        now: u64,
        envelope: &[u8],
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let drop = |reason: GroupDropReason| Event::Dropped {
            claimed_from: None,
            reason: DropReason::Group(reason),
        };
        let shared = match split_shared_envelope(envelope) {
            Ok(shared) => shared,
            Err(error) => return events.push(drop(GroupDropReason::NotShared(error))),
        };
        let inner = match self.account.open_shared(shared.part, shared.body) {
            Ok(inner) => inner,
            Err(error) => return events.push(drop(GroupDropReason::Unsealable(error))),
        };
        let Ok(message) = SenderKeyMessage::from_bytes(&inner) else {
            return events.push(drop(GroupDropReason::Malformed));
        };
        let group = GroupId(message.label().group_id);
        if !self.groups.contains_key(&group) {
            // Perhaps a member's message that overtook the log its adder sent us: kept a while.
            return self.keep_early(now, group, inner, ops);
        }
        // A group we are no longer in: we hold no chain of anything sent since.
        if !self.is_group_member(&group) {
            return events.push(drop(GroupDropReason::UnknownGroup));
        }
        self.open_group_message(now, group, &inner, message, now, ops, events);
        self.save_group_after(group, ops);
    }

    /// Decrypts and files one sender-key message of `group` (which we hold) that arrived at
    /// `received_at`.
    #[allow(clippy::too_many_arguments)]
    fn open_group_message(
        &mut self,
        now: u64,
        group: GroupId,
        bytes: &[u8],
        message: SenderKeyMessage,
        received_at: u64,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let drop = |reason: GroupDropReason| Event::Dropped {
            claimed_from: None,
            reason: DropReason::Group(reason),
        };
        let device = Address::from_identity(&message.label().sender);
        let Some(account) = self.device_account(&device) else {
            // A device not attributed yet (a member we are no contact of, whose list is on its
            // way): its key cannot have been taken, so the message waits for it like any other
            // on a chain we do not hold.
            let Some(record) = self.groups.get_mut(&group) else {
                return;
            };
            if record.sender.is_none() || record.waiting.len() >= MAX_GROUP_HELD {
                return events.push(drop(GroupDropReason::NotMember));
            }
            record.waiting.push((bytes.to_vec(), received_at));
            // Written once by the caller (`save_group_after`).
            return;
        };
        let Some(record) = self.groups.get_mut(&group) else {
            return;
        };
        if record.state().role(&account).is_none() {
            // Not a member (yet): one we have not seen added is held until the log changes.
            if record.sender.is_none()
                || was_member(record, &account)
                || record.waiting.len() >= MAX_GROUP_HELD
            {
                return events.push(drop(GroupDropReason::NotMember));
            }
            record.waiting.push((bytes.to_vec(), received_at));
            // Written once by the caller (`save_group_after`).
            return;
        }
        let plaintext = match record.chains.decrypt(&message) {
            Ok(plaintext) => plaintext,
            // A copy of what was delivered: its key is used up.
            Err(GroupError::Duplicate { .. }) => return,
            Err(GroupError::UnknownChain) => {
                if record.waiting.len() >= MAX_GROUP_HELD {
                    return events.push(drop(GroupDropReason::TooManyWaiting));
                }
                record.waiting.push((bytes.to_vec(), received_at));
                // Written once by the caller (`save_group_after`).
                return;
            }
            Err(error) => return events.push(drop(GroupDropReason::Chain(error))),
        };
        let encoded = match unframe_payload(&plaintext.plaintext) {
            Ok((claimed, encoded)) if crate::devices::peers::peer_account_key(&claimed) == Some(account) => {
                encoded.to_vec()
            }
            Ok(_) => return events.push(drop(GroupDropReason::Payload(PayloadError::Malformed))),
            Err(error) => return events.push(drop(GroupDropReason::Payload(error))),
        };
        let chain: ChainId = (
            *message.label().sender.as_bytes(),
            message.label().distribution_id,
        );
        let position = message.iteration();
        let next = *record.next.entry(chain).or_insert(position);
        // Ahead of a gap in its chain, or on a chain whose predecessor is not complete yet.
        if position > next || (position == next && !chain_ready(record, chain)) {
            if record.ahead.len() >= MAX_GROUP_HELD {
                return events.push(drop(GroupDropReason::TooManyWaiting));
            }
            record.ahead.insert((chain, position), (encoded, received_at));
            // Written once by the caller (`save_group_after`).
            return;
        }
        if position == next {
            record.next.insert(chain, next.saturating_add(1));
        }
        self.deliver_group(now, group, device, &encoded, ops, events);
        self.release_ahead(now, group, chain, ops, events);
    }

    /// Delivers the messages of `chain` that are next in line now, then those of the chains
    /// that follow on from it and are complete now.
    fn release_ahead(
        &mut self,
        now: u64,
        group: GroupId,
        chain: ChainId,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let mut work = vec![chain];
        let mut visited = 0;
        while let Some(chain) = work.pop() {
            visited += 1;
            if visited > MAX_PREDECESSORS {
                break;
            }
            let device = Address::from_bytes(chain.0).ok();
            loop {
                let Some(record) = self.groups.get_mut(&group) else {
                    return;
                };
                if !chain_ready(record, chain) {
                    break;
                }
                let next = record.next.get(&chain).copied().unwrap_or(0);
                let Some((encoded, _)) = record.ahead.remove(&(chain, next)) else {
                    break;
                };
                record.next.insert(chain, next.saturating_add(1));
                if let Some(device) = device {
                    self.deliver_group(now, group, device, &encoded, ops, events);
                }
            }
            if let Some(record) = self.groups.get(&group) {
                work.extend(successors(record, chain));
            }
        }
    }

    /// Writes `group`'s record once after its messages were opened: [`Core::open_group_message`]
    /// and [`Core::release_ahead`] only change it in memory (a group of 50 reopening hundreds
    /// of waiting messages wrote the whole record after each one).
    fn save_group_after(&self, group: GroupId, ops: &mut Vec<StoreOp>) {
        if let Some(record) = self.groups.get(&group) {
            ops.push(StoreOp::PutGroup(record.to_blob()));
        }
    }

    /// Stores one group message from `device` (its account checked) in the group's history.
    fn deliver_group(
        &mut self,
        now: u64,
        group: GroupId,
        device: Address,
        encoded: &[u8],
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let Ok(payload) = Payload::decode(encoded) else {
            return;
        };
        let Body::Content(content) = payload.body else {
            return;
        };
        let ours = device == self.address || self.is_own_device(&device);
        let message = StoredMessage {
            id: payload.id,
            peer: group.conversation(),
            direction: if ours {
                Direction::Outgoing
            } else {
                Direction::Incoming
            },
            conv_seq: payload.conv_seq,
            sent_at: payload.sent_at,
            stored_at: now,
            content,
            status: if ours {
                MessageStatus::Sent
            } else {
                MessageStatus::Received
            },
        };
        if ours {
            // Sent from another of our devices: its members' receipts come to us too.
            let members: Vec<[u8; 32]> = self
                .group(&group)
                .map(|state| state.members().keys().map(|key| *key.as_bytes()).collect())
                .unwrap_or_default();
            self.track_group_message(payload.id, group, &members, ops);
            ops.push(StoreOp::InsertMessage(message.clone()));
            return events.push(Event::MessageSynced(message));
        }
        let Some(author) = self
            .device_account(&device)
            .map(|account| Address::from_account(&account))
        else {
            return;
        };
        ops.push(StoreOp::PutAuthor {
            id: payload.id,
            author,
        });
        events.push(Event::GroupMessageFrom {
            group,
            id: payload.id,
            author,
        });
        self.deliver_content(message, ops, events);
        self.queue_group_delivered(now, author, payload.id, ops);
    }

    /// Keeps a message of a group we do not hold, within [`MAX_EARLY_MESSAGES`] and
    /// [`MAX_EARLY_BYTES`] over all such groups (the oldest go first).
    pub(crate) fn keep_early(&mut self, now: u64, group: GroupId, inner: Vec<u8>, ops: &mut Vec<StoreOp>) {
        self.early_group_messages
            .entry(group)
            .or_default()
            .push((inner, now));
        let mut touched = vec![group];
        loop {
            let (count, bytes) = self
                .early_group_messages
                .values()
                .flatten()
                .fold((0, 0), |(c, b), (m, _)| (c + 1, b + m.len()));
            if count <= MAX_EARLY_MESSAGES && bytes <= MAX_EARLY_BYTES {
                break;
            }
            // The group whose first kept message is the oldest loses it.
            let Some(oldest) = self
                .early_group_messages
                .iter()
                .filter_map(|(id, held)| held.first().map(|(_, at)| (*at, *id)))
                .min()
                .map(|(_, id)| id)
            else {
                break;
            };
            if let Some(held) = self.early_group_messages.get_mut(&oldest) {
                held.remove(0);
                if held.is_empty() {
                    self.early_group_messages.remove(&oldest);
                }
            }
            touched.push(oldest);
        }
        touched.dedup();
        for id in touched {
            let held = self.early_group_messages.get(&id).cloned().unwrap_or_default();
            ops.push(StoreOp::PutGroup(early_blob(id, &held)));
        }
    }

    /// A group we just joined: the messages of it that came before its log are opened now.
    pub(crate) fn open_early(
        &mut self,
        now: u64,
        group: GroupId,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let Some(early) = self.early_group_messages.remove(&group) else {
            return;
        };
        self.reopen_held(now, group, early, ops, events);
    }

    /// Held keys and messages of `group`, tried again: the keys first, so that the messages
    /// on their chains open.
    fn reopen_held(
        &mut self,
        now: u64,
        group: GroupId,
        held: Vec<(Vec<u8>, u64)>,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let (mut updates, mut keys, mut messages) = (Vec::new(), Vec::new(), Vec::new());
        let mut unattributed = Vec::new();
        for (bytes, received_at) in held {
            match unhold(&bytes) {
                Held::Unattributed(device, claimed, control) => {
                    unattributed.push((device, claimed, control, received_at));
                }
                Held::Updates(device, list) => updates.push((device, list)),
                Held::Key(device, distribution, after) => {
                    keys.push((device, distribution, after, received_at))
                }
                Held::Message => messages.push((bytes, received_at)),
            }
        }
        let unknown = |device: Address| Event::Dropped {
            claimed_from: Some(crate::event::ClaimedSender::new(device)),
            reason: DropReason::Group(GroupDropReason::NotMember),
        };
        // Attributed now, or held again until their account's list is answered.
        for (device, claimed, control, received_at) in unattributed {
            self.accept_group_control(received_at, device, Some(claimed), &control, ops, events);
        }
        for (device, list) in updates {
            match self.device_account(&device) {
                Some(account) => self.accept_updates(now, device, account, list, ops, events),
                None => events.push(unknown(device)),
            }
        }
        for (device, distribution, after, received_at) in keys {
            match self.device_account(&device) {
                Some(account) => {
                    self.take_sender_key(received_at, device, account, &distribution, after, ops, events);
                }
                None => events.push(unknown(device)),
            }
        }
        let reopened = !messages.is_empty();
        for (bytes, received_at) in messages {
            if let Ok(message) = SenderKeyMessage::from_bytes(&bytes) {
                self.open_group_message(now, group, &bytes, message, received_at, ops, events);
            }
        }
        if reopened {
            self.save_group_after(group, ops);
        }
    }

    /// After a sender key of `group` was taken or its members changed: the messages that waited
    /// for a chain, and the keys that waited for their sender to be a member, are tried again.
    pub(crate) fn retry_waiting(
        &mut self,
        now: u64,
        group: GroupId,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let Some(record) = self.groups.get_mut(&group) else {
            return;
        };
        let waiting = std::mem::take(&mut record.waiting);
        if waiting.is_empty() {
            return;
        }
        ops.push(StoreOp::PutGroup(record.to_blob()));
        self.reopen_held(now, group, waiting, ops, events);
    }

    /// When the first group message ahead of a gap has waited [`GROUP_GAP_MS`].
    pub(crate) fn next_group_gap_timeout(&self) -> Option<u64> {
        self.groups
            .values()
            .flat_map(|record| record.ahead.values().map(|(_, at)| at + GROUP_GAP_MS))
            .min()
    }

    /// Delivers, in chain order, what has waited past a gap for [`GROUP_GAP_MS`].
    pub(crate) fn release_group_gaps(&mut self, now: u64) {
        let overdue: Vec<(GroupId, ChainId)> = self
            .groups
            .iter()
            .flat_map(|(group, record)| {
                record
                    .ahead
                    .iter()
                    .filter(|(_, (_, at))| at + GROUP_GAP_MS <= now)
                    .map(|((chain, _), _)| (*group, *chain))
            })
            .collect();
        let (mut ops, mut events) = (Vec::new(), Vec::new());
        for (group, overdue) in overdue {
            let Some(record) = self.groups.get(&group) else {
                continue;
            };
            // The chain and those it follows on from are given up waiting for, the oldest
            // first: each skips to its first held message.
            for chain in with_ancestors(record, overdue) {
                let Some(record) = self.groups.get_mut(&group) else {
                    break;
                };
                record.after.remove(&chain);
                if let Some(((_, first), _)) = record.ahead.range((chain, 0)..=(chain, u32::MAX)).next() {
                    let first = *first;
                    record.next.insert(chain, first);
                }
                self.release_ahead(now, group, chain, &mut ops, &mut events);
            }
            self.save_group_after(group, &mut ops);
        }
        if !ops.is_empty() {
            self.commit(ops);
        }
        for event in events {
            self.event(event);
        }
    }
}
