//! The state machine: inputs through `handle_*`, outputs through [`Core::poll_output`] and
//! [`Core::poll_timeout`].
//!
//! The driver's loop, after any input:
//! 1. take every [`Output`] in order: apply a [`Output::Commit`] to the store (one transaction,
//!    durably) *before* acting on any output after it; write [`Output::Request`]s to the relay;
//!    hand [`Output::Event`]s to the app;
//! 2. arm a timer for [`Core::poll_timeout`] and call [`Core::handle_timeout`] when it fires.
//!
//! A driver may apply several commits in one transaction as long as it does so before acting on
//! the requests and events that followed them.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use hush_crypto::Account;
use hush_crypto::peer::PeerSessions;
use hush_proto::{ClientFrame, ErrorCode, ErrorResponse, Push, Request, RequestId, Response};
use rand_core::CryptoRng;
use thiserror::Error;

use crate::address::Address;
use crate::content::{Body, Content, MessageId, Payload, PayloadError};
use crate::event::Event;
use crate::records::{
    Commit, Conversation, Direction, HeldMessage, MessageStatus, OutboxItem, Snapshot, StoreOp, StoredMessage,
};
use crate::requests::{OwnAccessKey, Requests};
use crate::reset::Resets;

/// Most sends awaiting the relay's answer on one connection; the rest wait their turn.
pub const MAX_IN_FLIGHT: usize = 256;
/// First retry delay after a refused or failed request, milliseconds; doubles per failure.
pub const RETRY_BASE_MS: u64 = 500;
/// Longest retry delay, milliseconds.
pub const RETRY_MAX_MS: u64 = 60_000;
/// How long a delivered-receipt waits for company, milliseconds: under load one receipt then
/// covers many messages instead of doubling the traffic.
pub const RECEIPT_DELAY_MS: u64 = 200;
/// Upload more one-time prekeys when the relay holds fewer than this: the relay's default
/// `PreKeysLow` threshold, one number shared through hush-proto.
pub const PREKEY_LOW_WATER: u32 = hush_proto::PREKEY_LOW_THRESHOLD;
/// Top the relay's one-time prekeys up to this many.
pub const PREKEY_TARGET: u32 = 100;
/// How often prekey upkeep (signed-prekey rotation) is checked while online, milliseconds.
pub const UPKEEP_INTERVAL_MS: u64 = 60 * 60 * 1000;
/// Most early messages held per peer while waiting for a gap to fill. The sender resends until
/// the relay stores each message, so gaps are short; the bound caps what a misbehaving peer can
/// make us keep.
pub const MAX_HELD_PER_PEER: usize = 10_000;

/// Why the core could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CoreError {
    /// Saved state could not be restored.
    #[error("saved state is unreadable: {0}")]
    Restore(#[from] hush_crypto::PickleError),
    /// A saved outbox or held item names an invalid address or payload.
    #[error("saved state is inconsistent: {0}")]
    Inconsistent(&'static str),
}

/// Why a message could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SendError {
    /// The content breaks a limit.
    #[error("{0}")]
    Payload(#[from] PayloadError),
    /// Messages to ourselves are not supported.
    #[error("cannot send to our own address")]
    ToSelf,
}

/// An output, to be acted on in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// Apply to the store (one transaction) before acting on anything after it.
    Commit(Commit),
    /// Write to the relay.
    Request(ClientFrame),
    /// Tell the app.
    Event(Event),
}

/// What a request in flight was for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pending {
    Send(MessageId),
    Fetch(Address),
    Upload,
    Ack,
    AccessKey,
    Report,
}

/// Outbox order: creation time, then the conversation sequence (same-millisecond messages to one
/// peer keep their order), then the id.
pub(crate) type OutboxKey = (u64, u64, MessageId);

/// The client protocol state machine.
pub struct Core {
    pub(crate) account: Account,
    pub(crate) address: Address,
    pub(crate) rng: Box<dyn CryptoRng + Send>,
    pub(crate) peers: HashMap<Address, PeerSessions>,
    pub(crate) conversations: HashMap<Address, Conversation>,
    pub(crate) outbox: BTreeMap<OutboxKey, OutboxItem>,
    pub(crate) outbox_index: HashMap<MessageId, OutboxKey>,
    pub(crate) held: BTreeMap<(Address, u64), HeldMessage>,
    pub(crate) online: bool,
    pub(crate) next_request: u32,
    pub(crate) pending: HashMap<RequestId, Pending>,
    pub(crate) in_flight: HashSet<MessageId>,
    pub(crate) fetching: HashSet<Address>,
    /// Per-peer backoff: no encryption, fetch or send to the peer before this time.
    pub(crate) retry_at: HashMap<Address, (u64, u32)>,
    pub(crate) upload_due: Option<u64>,
    pub(crate) uploading: bool,
    pub(crate) next_upkeep: u64,
    /// `now` of the last [`Core::pump`]: outbox and retry times up to it were acted on then.
    pub(crate) pumped_at: u64,
    pub(crate) outputs: VecDeque<Output>,
    /// Session resets (see `reset.rs`).
    pub(crate) resets: Resets,
    /// Message requests, standings and access keys (see `requests`).
    pub(crate) requests: Requests,
}

impl core::fmt::Debug for Core {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Core")
            .field("address", &self.address)
            .field("peers", &self.peers.len())
            .field("outbox", &self.outbox.len())
            .field("held", &self.held.len())
            .field("online", &self.online)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// A new identity. The first output is the commit that saves it.
    pub fn create(now: u64, mut rng: Box<dyn CryptoRng + Send>) -> Self {
        let account = Account::new(now / 1000, &mut rng);
        let mut core = Self::with_account(account, rng);
        let own = OwnAccessKey::random(&mut core.rng);
        core.requests.own = Some(own.clone());
        core.outputs.push_back(Output::Commit(Commit {
            ops: vec![
                StoreOp::PutAccount(core.account.pickle()),
                StoreOp::PutOwnAccessKey(own),
            ],
        }));
        core
    }

    /// Restores from what the store saved.
    pub fn restore(snapshot: Snapshot, rng: Box<dyn CryptoRng + Send>) -> Result<Self, CoreError> {
        let account = Account::from_pickle(&snapshot.account)?;
        let mut core = Self::with_account(account, rng);
        for pickle in &snapshot.peers {
            let sessions = PeerSessions::from_pickle(pickle)?;
            core.peers
                .insert(Address::from_identity(&sessions.remote_identity()), sessions);
        }
        for conversation in snapshot.conversations {
            core.conversations.insert(conversation.peer, conversation);
        }
        for item in snapshot.outbox {
            core.insert_outbox(item);
        }
        for held in snapshot.held {
            core.held.insert((held.peer, held.conv_seq), held);
        }
        core.resets
            .restore(snapshot.unconfirmed, snapshot.recent_incoming);
        for access in snapshot.peer_access {
            core.requests.peers.insert(access.peer, access);
        }
        // A profile from before access keys gets one now.
        let own = match snapshot.own_access_key {
            Some(own) => own,
            None => {
                let own = OwnAccessKey::random(&mut core.rng);
                core.commit(vec![StoreOp::PutOwnAccessKey(own.clone())]);
                own
            }
        };
        core.requests.own = Some(own);
        Ok(core)
    }

    fn with_account(account: Account, rng: Box<dyn CryptoRng + Send>) -> Self {
        let address = Address::from_identity(&account.identity_key());
        Self {
            account,
            address,
            rng,
            peers: HashMap::new(),
            conversations: HashMap::new(),
            outbox: BTreeMap::new(),
            outbox_index: HashMap::new(),
            held: BTreeMap::new(),
            online: false,
            next_request: 1,
            pending: HashMap::new(),
            in_flight: HashSet::new(),
            fetching: HashSet::new(),
            retry_at: HashMap::new(),
            upload_due: None,
            uploading: false,
            next_upkeep: 0,
            pumped_at: 0,
            outputs: VecDeque::new(),
            resets: Resets::default(),
            requests: Requests::default(),
        }
    }

    /// Our address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Our account (to sign the relay's login challenge, and for safety numbers).
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Messages and receipts not yet stored by the relay.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// Whether the core considers itself logged in.
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// Whether a prekey upload is awaiting the relay's answer (registration completes when the
    /// first one is answered).
    pub fn is_uploading_prekeys(&self) -> bool {
        self.uploading
    }

    /// The driver logged in; the relay holds `one_time_prekeys` of ours. Starts prekey upkeep
    /// and (re)sends the outbox.
    pub fn handle_authenticated(&mut self, now: u64, one_time_prekeys: u32) {
        self.online = true;
        self.pending.clear();
        self.in_flight.clear();
        self.fetching.clear();
        self.uploading = false;
        // The signed prekey goes up at every login: a profile restored from an older copy may
        // find the relay holding one rotated after that copy, whose secret it does not have.
        self.upload_due = Some(now);
        self.requests.uploading = false;
        self.upkeep(now, Some(one_time_prekeys));
        self.upload_access_key();
        self.pump(now);
    }

    /// The connection is gone. Everything unanswered is resent after the next login.
    pub fn handle_disconnected(&mut self, _now: u64) {
        self.online = false;
        self.pending.clear();
        self.in_flight.clear();
        self.fetching.clear();
        self.uploading = false;
        self.requests.uploading = false;
    }

    /// Queues `content` for `to`. The returned id is durable once the commit that follows is
    /// applied; the message then survives crashes until the relay has stored it.
    pub fn handle_send(&mut self, now: u64, to: Address, content: Content) -> Result<MessageId, SendError> {
        if to == self.address {
            return Err(SendError::ToSelf);
        }
        content.validate()?;
        let id = MessageId::random(&mut self.rng);
        let conversation = self
            .conversations
            .entry(to)
            .or_insert_with(|| Conversation::new(to));
        let conv_seq = conversation.next_out_seq;
        conversation.next_out_seq += 1;
        let conversation = *conversation;
        let payload = Payload {
            id,
            conv_seq,
            sent_at: now,
            body: Body::Content(content.clone()),
        }
        .encode()?;
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
        self.insert_outbox(item.clone());
        let mut ops = vec![
            StoreOp::PutConversation(conversation),
            StoreOp::InsertMessage(message),
            StoreOp::PutOutbox(item),
        ];
        let mut events = Vec::new();
        self.accept_on_send(now, to, &mut ops, &mut events);
        self.commit(ops);
        for event in events {
            self.event(event);
        }
        self.pump(now);
        Ok(id)
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
        for chunk in ids.chunks(crate::content::MAX_RECEIPT_IDS) {
            let item = self.receipt_item(now, peer, crate::content::ReceiptKind::Read, chunk.to_vec(), now);
            if let Some(item) = item {
                self.insert_outbox(item.clone());
                ops.push(StoreOp::PutOutbox(item));
            }
        }
        self.commit(ops);
        self.pump(now);
    }

    /// A response from the relay to a request the core made.
    pub fn handle_response(&mut self, now: u64, id: RequestId, result: Result<Response, ErrorResponse>) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        match pending {
            Pending::Send(message) => self.on_send_result(now, message, result),
            Pending::Fetch(peer) => self.on_bundle(now, peer, result),
            Pending::Upload => self.on_upload_result(now, result),
            Pending::AccessKey => self.on_access_key_result(result),
            Pending::Ack | Pending::Report => {}
        }
        self.pump(now);
    }

    /// A push from the relay.
    pub fn handle_push(&mut self, now: u64, push: Push) {
        match push {
            Push::Deliver(delivery) => self.receive(now, delivery),
            Push::PreKeysLow { remaining } => self.upkeep(now, Some(remaining)),
            // The driver answers the login challenge; other pushes are for newer clients.
            _ => {}
        }
        self.pump(now);
    }

    /// A timer armed from [`Core::poll_timeout`] fired.
    pub fn handle_timeout(&mut self, now: u64) {
        if !self.online {
            return;
        }
        if now >= self.next_upkeep || self.upload_due.is_some_and(|due| now >= due) {
            self.upkeep(now, None);
        }
        self.run_due_resets(now);
        self.pump(now);
    }

    /// The next output, in the order it must be acted on.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Core::handle_timeout`] should next be called, Unix milliseconds.
    pub fn poll_timeout(&self) -> Option<u64> {
        if !self.online {
            return None;
        }
        let mut earliest = Some(self.next_upkeep);
        let mut consider = |time: u64| {
            earliest = Some(earliest.map_or(time, |current: u64| current.min(time)));
        };
        if let Some(due) = self.upload_due {
            consider(due);
        }
        if let Some(due) = self.resets.next_due() {
            consider(due);
        }
        if let Some(due) = self.next_gap_timeout() {
            consider(due);
        }
        // A time at or before the last pump was acted on then: what still waits is waiting for
        // an answer, a login or a later backoff time, not for the clock. Offering it again would
        // make the driver spin.
        for (time, _) in self.retry_at.values() {
            if *time > self.pumped_at {
                consider(*time);
            }
        }
        for item in self.outbox.values() {
            let waiting = item.envelope.is_none() && !self.in_flight.contains(&item.id);
            if waiting && item.not_before > self.pumped_at {
                consider(item.not_before);
            }
        }
        earliest
    }

    pub(crate) fn commit(&mut self, ops: Vec<StoreOp>) {
        if !ops.is_empty() {
            self.outputs.push_back(Output::Commit(Commit { ops }));
        }
    }

    pub(crate) fn event(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    pub(crate) fn request(&mut self, request: Request, pending: Pending) {
        let id = RequestId(self.next_request);
        // Ids wrap but skip the top value, which drivers may use for their own requests.
        self.next_request = self
            .next_request
            .checked_add(1)
            .filter(|id| *id < u32::MAX)
            .unwrap_or(1);
        self.pending.insert(id, pending);
        self.outputs
            .push_back(Output::Request(ClientFrame { id, request }));
    }

    pub(crate) fn insert_outbox(&mut self, item: OutboxItem) {
        let key = (item.created_at, item.conv_seq, item.id);
        if let Some(old) = self.outbox_index.insert(item.id, key)
            && old != key
        {
            self.outbox.remove(&old);
        }
        self.outbox.insert(key, item);
    }

    pub(crate) fn remove_outbox(&mut self, id: &MessageId) -> Option<OutboxItem> {
        let key = self.outbox_index.remove(id)?;
        self.outbox.remove(&key)
    }

    /// Backs `peer` off after a failure: exponential, capped, with jitter so many clients do not
    /// retry in step.
    pub(crate) fn back_off(&mut self, now: u64, peer: Address) {
        let failures = self.retry_at.get(&peer).map_or(0, |(_, failures)| *failures) + 1;
        let delay = RETRY_BASE_MS
            .saturating_mul(1u64 << failures.min(20))
            .min(RETRY_MAX_MS);
        let jitter = self.rng.next_u64() % (delay / 2 + 1);
        self.retry_at.insert(peer, (now + delay / 2 + jitter, failures));
    }

    pub(crate) fn backed_off(&self, now: u64, peer: &Address) -> bool {
        self.retry_at.get(peer).is_some_and(|(time, _)| *time > now)
    }

    pub(crate) fn is_retryable(code: ErrorCode) -> bool {
        !matches!(code, ErrorCode::Invalid)
    }
}
