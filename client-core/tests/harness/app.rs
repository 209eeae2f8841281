//! What the app on top of one client has seen, and the checks on every event it gets.
//!
//! ## Which received messages count as seen
//!
//! The app is in the same process as the core: a crash takes both down, and on start-up the app
//! reads the history from the store. So a message counts as *seen* when either
//! - its [`Event::MessageReceived`] was handed to the app, or
//! - the crash ate that event after the commit holding the message had been applied (the event
//!   was still queued in the dropped core, behind an applied commit). The app finds such a
//!   message in the history on restart; [`App::credit_lost`] records exactly those.
//!
//! A `MessageReceived` still queued behind a commit that was *not* applied is not seen: the
//! message is not stored, the ack behind it never went out, and the relay delivers it again.
//!
//! The checks: every event follows its commit (the store already holds what it announces); no
//! message is seen twice; each peer's messages are seen in increasing `conv_seq`; after every
//! restart the seen set equals the store's incoming history exactly (nothing stored that the
//! app never heard of, nothing heard of that is not stored).

use std::collections::{BTreeMap, HashMap, HashSet};

use hush_client_core::{
    Address, Direction, DropReason, Event, GroupReceiptIgnored, GroupReceipts, MemoryStore, MessageId,
    MessageStatus, Store, StoredMessage,
};

/// One client's app.
#[derive(Debug, Default)]
pub struct App {
    /// Messages seen, per sender, in the order seen.
    pub received: BTreeMap<Address, Vec<StoredMessage>>,
    /// Ids in `received`, for the exactly-once check.
    seen_ids: HashSet<MessageId>,
    /// How many of `received` were credited after a crash ate their event.
    pub recovered: usize,
    /// Status of our outgoing messages as the app knows it (only forward moves, like the store).
    pub statuses: HashMap<MessageId, MessageStatus>,
    /// Every status event, in order.
    pub status_events: Vec<(MessageId, MessageStatus)>,
    /// Status events that did not move the status forward (a late `Sent` after `Delivered`, a
    /// delivered receipt overtaken by a read receipt).
    pub stale_status_events: usize,
    /// Dropped envelopes: the sender they claim (unauthenticated) and why.
    pub dropped: Vec<(Option<Address>, DropReason)>,
    /// `PreKeysReplenished` counts, in order.
    pub replenished: Vec<u32>,
    /// Every `KemPreKeysReplenished` count.
    pub kem_replenished: Vec<u32>,
    /// Every `SessionSetUp`: (peer, post-quantum, we initiated).
    pub setups: Vec<(Address, bool, bool)>,
    /// Every `ClassicalSetupRefused` peer.
    pub classical_refused: Vec<Address>,
    /// `SessionReset` events: the peer, and whether this side started the reset.
    pub resets: Vec<(Address, bool)>,
    /// Senders of every `MessageRequest`, in order.
    pub requests: Vec<hush_client_core::Address>,
    /// Counters of our device lists the relay confirmed (`OwnListPublished`), in order.
    pub lists_published: Vec<u64>,
    /// Events about accounts and devices (linking, a contact's list), in order.
    pub device_events: Vec<Event>,
    /// Whether each peer's messages must be seen in increasing `conv_seq`. A contact with
    /// several devices numbers one stream per device, so a test with one checks order per
    /// device itself and turns this off.
    pub unordered_peers: bool,
    /// Status events naming a message this device did not send (see `unordered_peers`).
    pub foreign_status_events: usize,
    /// Copies of what our other devices sent (`MessageSynced`), in the order seen.
    pub synced: Vec<StoredMessage>,
    synced_ids: HashSet<MessageId>,
    /// `ReadElsewhere` events, in order.
    pub read_elsewhere: Vec<(Address, Vec<MessageId>)>,
    /// Reactions, edits, deletes and ignored effects, in order.
    pub surface: Vec<Event>,
    /// Group events (`GroupChanged`), in order.
    pub group_events: Vec<Event>,
    /// The author of each group message seen (`GroupMessageFrom`).
    pub authors: HashMap<MessageId, Address>,
    /// The latest receipts of each of our group messages (`GroupReceiptsChanged`).
    pub group_receipts: HashMap<MessageId, GroupReceipts>,
    /// How many `GroupReceiptsChanged` events came.
    pub group_receipt_events: usize,
    /// Ignored group receipts (`GroupReceiptIgnored`): the account, the message, why.
    pub group_receipts_ignored: Vec<(Address, MessageId, GroupReceiptIgnored)>,
}

impl App {
    /// Handles one event, right after the driver took it (after the commits before it).
    pub fn on_event(&mut self, who: &str, event: Event, store: &MemoryStore) {
        match event {
            Event::MessageReceived(message) => {
                let stored = store.message(&message.id).expect("memory store");
                assert_eq!(
                    stored.as_ref(),
                    Some(&message),
                    "{who}: MessageReceived before the commit that stores it"
                );
                self.see(who, message);
            }
            Event::StatusChanged { id, peer, status } => {
                let stored = store.message(&id).expect("memory store");
                // A contact with several devices sends its receipts to every device of ours:
                // one may name a message another of our devices sent.
                if stored.is_none() && self.unordered_peers {
                    self.foreign_status_events += 1;
                    return;
                }
                let stored = stored.unwrap_or_else(|| panic!("{who}: status event for unknown message {id}"));
                assert_eq!(stored.peer, peer, "{who}: status event names another peer");
                assert_eq!(
                    stored.direction,
                    Direction::Outgoing,
                    "{who}: status event for an incoming message"
                );
                assert!(
                    stored.status == status || !stored.status.advances_to(status),
                    "{who}: StatusChanged({status:?}) for {id} before its commit (store has {:?})",
                    stored.status
                );
                self.status_events.push((id, status));
                let known = self.statuses.entry(id).or_insert(MessageStatus::Queued);
                if known.advances_to(status) {
                    *known = status;
                } else {
                    self.stale_status_events += 1;
                }
            }
            Event::Dropped { claimed_from, reason } => self
                .dropped
                .push((claimed_from.map(|c| c.claimed_address()), reason)),
            Event::PreKeysReplenished { one_time_prekeys } => self.replenished.push(one_time_prekeys),
            Event::KemPreKeysReplenished { one_time_kem_prekeys } => {
                self.kem_replenished.push(one_time_kem_prekeys)
            }
            Event::SessionSetUp {
                peer,
                post_quantum,
                initiator,
            } => self.setups.push((peer, post_quantum, initiator)),
            Event::ClassicalSetupRefused { peer } => self.classical_refused.push(peer),
            Event::SessionReset { peer, started_here } => self.resets.push((peer, started_here)),
            Event::MessageRequest { from } => self.requests.push(from),
            Event::OwnListPublished { counter } => self.lists_published.push(counter),
            Event::MessageSynced(message) => {
                let stored = store.message(&message.id).expect("memory store");
                assert_eq!(
                    stored.as_ref(),
                    Some(&message),
                    "{who}: MessageSynced before its commit"
                );
                assert!(
                    self.synced_ids.insert(message.id),
                    "{who}: message {} synced twice",
                    message.id
                );
                self.synced.push(message);
            }
            Event::ReadElsewhere { peer, ids } => self.read_elsewhere.push((peer, ids)),
            event @ (Event::ContactDevicesChanged { .. }
            | Event::DeviceAdded { .. }
            | Event::JoinedAccount { .. }
            | Event::LinkSent { .. }) => self.device_events.push(event),
            event @ (Event::MessageEdited { .. }
            | Event::MessageDeleted { .. }
            | Event::ReactionChanged { .. }
            | Event::EffectIgnored { .. }) => self.surface.push(event),
            event @ Event::GroupChanged { .. } => self.group_events.push(event),
            Event::GroupMessageFrom { id, author, .. } => {
                assert_eq!(
                    store.author(&id).expect("memory store"),
                    Some(author),
                    "{who}: GroupMessageFrom before the commit that stores the author"
                );
                self.authors.insert(id, author);
            }
            Event::GroupReceiptsChanged { id, receipts } => {
                assert_eq!(
                    store.group_receipts(&id).expect("memory store").as_ref(),
                    Some(&receipts),
                    "{who}: GroupReceiptsChanged before the commit that stores it"
                );
                self.group_receipts.insert(id, receipts);
                self.group_receipt_events += 1;
            }
            Event::GroupReceiptIgnored { from, id, reason } => {
                self.group_receipts_ignored.push((from, id, reason));
            }
            other => panic!("{who}: unexpected event {other:?}"),
        }
    }

    fn see(&mut self, who: &str, message: StoredMessage) {
        assert!(
            self.seen_ids.insert(message.id),
            "{who}: message {} (conv_seq {}) seen twice",
            message.id,
            message.conv_seq
        );
        let list = self.received.entry(message.peer).or_default();
        if let Some(last) = list.last().filter(|_| !self.unordered_peers) {
            assert!(
                message.conv_seq > last.conv_seq,
                "{who}: conv_seq {} seen after {}",
                message.conv_seq,
                last.conv_seq
            );
        }
        list.push(message);
    }

    /// A crash dropped `lost` (the outputs the core still held). Credits the messages whose
    /// event was lost behind an applied commit; see the module docs.
    pub fn credit_lost(&mut self, who: &str, lost: Vec<Event>, store: &MemoryStore) {
        for event in lost {
            match event {
                Event::MessageReceived(message)
                    if store.message(&message.id).expect("memory store").is_some() =>
                {
                    self.recovered += 1;
                    self.see(who, message);
                }
                Event::MessageSynced(message)
                    if store.message(&message.id).expect("memory store").is_some()
                        && self.synced_ids.insert(message.id) =>
                {
                    self.synced.push(message);
                }
                _ => {}
            }
        }
    }

    /// On restart: the app rereads the store. What it has seen must be exactly the store's
    /// incoming history, and it takes the statuses from the store.
    pub fn reload(&mut self, who: &str, store: &MemoryStore) {
        let peers = store.peers().expect("memory store");
        for peer in &peers {
            let history = store.history(peer, None, usize::MAX).expect("memory store");
            let stored: Vec<MessageId> = history
                .iter()
                .filter(|entry| entry.message.direction == Direction::Incoming)
                .map(|entry| entry.message.id)
                .collect();
            let seen: Vec<MessageId> = self
                .received
                .get(peer)
                .map(|list| list.iter().map(|m| m.id).collect())
                .unwrap_or_default();
            assert_eq!(
                seen, stored,
                "{who}: after restart, seen messages differ from the stored history"
            );
            for entry in history {
                if entry.message.direction == Direction::Outgoing {
                    self.statuses.insert(entry.message.id, entry.message.status);
                }
            }
        }
        for (peer, list) in &self.received {
            assert!(
                list.is_empty() || peers.contains(peer),
                "{who}: seen messages from a peer the store has no history with"
            );
        }
    }
}
