//! What the core hands the store, and what the store gives back at start-up.
//!
//! The core never writes anything itself: each step that changes durable state produces one
//! [`Commit`], a list of [`StoreOp`]s the store must apply in a single transaction *before* the
//! driver acts on any output that follows it (an ack to the relay, a send, an event to the app).
//! That order is what makes crashes safe: a message is acknowledged only after it and the ratchet
//! state that decrypted it are on disk, and an envelope is transmitted only after the ratchet
//! state that encrypted it is.

use hush_crypto::AccountPickle;
use hush_crypto::devices::LinkRequestPickle;
use hush_crypto::peer::PeerSessionsPickle;

use crate::access::{OwnAccessKey, PeerAccess};
use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::devices::{OwnAccountRecord, PeerDevicesRecord};
use crate::groups::GroupBlob;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We received it.
    Incoming,
    /// We sent it.
    Outgoing,
}

/// Where a message stands. Outgoing: `Queued → Sent → Delivered → Read`, or `Failed`.
/// Incoming: `Received → Seen` (we marked it read). Status only moves forward; a store ignores
/// an update to an earlier status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum MessageStatus {
    /// Durably queued in our outbox.
    Queued = 0,
    /// The relay has stored it.
    Sent = 1,
    /// The recipient's device has stored it.
    Delivered = 2,
    /// The recipient has read it.
    Read = 3,
    /// It cannot be delivered (for example the address has no mailbox on the relay).
    Failed = 4,
    /// Incoming and stored.
    Received = 10,
    /// Incoming and marked read by us.
    Seen = 11,
}

impl MessageStatus {
    /// The number stored in databases.
    pub fn to_code(self) -> u8 {
        self as u8
    }

    /// From the stored number.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Queued,
            1 => Self::Sent,
            2 => Self::Delivered,
            3 => Self::Read,
            4 => Self::Failed,
            10 => Self::Received,
            11 => Self::Seen,
            _ => return None,
        })
    }

    /// Whether moving from `self` to `next` is progress (stores apply only those).
    pub fn advances_to(self, next: Self) -> bool {
        match (self, next) {
            (Self::Failed, _) => false,
            (Self::Queued, Self::Failed) => true,
            (_, Self::Failed) => false,
            (current, next) => next > current,
        }
    }
}

/// A message in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its id (unique).
    pub id: MessageId,
    /// The other party.
    pub peer: Address,
    /// Who wrote it.
    pub direction: Direction,
    /// Position in the sender's stream. For an outgoing message, the number it was first sent
    /// under: a session reset resends it under a new one (the receiver stores that one).
    pub conv_seq: u64,
    /// Sender's clock, Unix milliseconds.
    pub sent_at: u64,
    /// Our clock when stored, Unix milliseconds.
    pub stored_at: u64,
    /// What it says.
    pub content: Content,
    /// Where it stands.
    pub status: MessageStatus,
}

/// Per-peer counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversation {
    /// The other party.
    pub peer: Address,
    /// `conv_seq` our next message to them gets (from 1).
    pub next_out_seq: u64,
    /// `conv_seq` we expect next from them (from 1); lower ones are duplicates.
    pub next_in_seq: u64,
}

impl Conversation {
    /// A conversation nothing has happened in yet.
    pub fn new(peer: Address) -> Self {
        Self {
            peer,
            next_out_seq: 1,
            next_in_seq: 1,
        }
    }
}

/// A message waiting to reach the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// The payload's id.
    pub id: MessageId,
    /// Recipient.
    pub peer: Address,
    /// The payload's `conv_seq` (0 for receipts).
    pub conv_seq: u64,
    /// The encoded payload (plaintext; the store is encrypted at rest).
    pub payload: Vec<u8>,
    /// The sealed envelope once encrypted. Set in the same commit as the ratchet state that made
    /// it, and resent unchanged until the relay stores it, so a message key is never used twice.
    pub envelope: Option<Vec<u8>>,
    /// Our clock when queued, Unix milliseconds; the outbox sends in this order.
    pub created_at: u64,
    /// Do not encrypt before this time (receipts wait briefly so several share one message).
    pub not_before: u64,
}

impl OutboxItem {
    /// An unnumbered item (our access key, sync, a hint) for `peer`, queued and due at `now`.
    pub(crate) fn unnumbered(id: MessageId, peer: Address, payload: Vec<u8>, now: u64) -> Self {
        Self {
            id,
            peer,
            conv_seq: 0,
            payload,
            envelope: None,
            created_at: now,
            not_before: now,
        }
    }
}

/// A decrypted message that arrived ahead of an earlier one; released in order once the gap
/// fills (the sender resends until the relay has stored it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMessage {
    /// Sender.
    pub peer: Address,
    /// Its `conv_seq`.
    pub conv_seq: u64,
    /// The encoded payload.
    pub payload: Vec<u8>,
    /// Our clock when it arrived.
    pub received_at: u64,
}

/// Someone in the address book, under a name the user chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The user's name for them (unique in the address book).
    pub name: String,
    /// Their address.
    pub address: Address,
    /// Whether the user compared safety numbers with them.
    pub verified: bool,
    /// When added, Unix milliseconds.
    pub added_at: u64,
}

/// A message with its place in the local history (the order it was stored in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Increases with every stored message; page with `before`.
    pub position: u64,
    /// The message.
    pub message: StoredMessage,
}

/// One change to durable state.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreOp {
    /// Replace the account (identity and prekeys).
    PutAccount(AccountPickle),
    /// Replace one group (keyed by its id): its log and chains.
    PutGroup(GroupBlob),
    /// Record who wrote the group message `id` (an account address).
    PutAuthor {
        /// The message.
        id: MessageId,
        /// Its author.
        author: Address,
    },
    /// Follow the receipts of our group message `record.id`: its group and recipient accounts
    /// with how far each got. Ignored if the message is followed already.
    TrackGroupReceipts(crate::group_receipts::GroupReceiptRecord),
    /// Move `member`'s receipt for our group message `id` forward. Ignored unless the message
    /// is followed with `member` among its recipients, and for backward moves.
    SetGroupReceipt {
        /// The message.
        id: MessageId,
        /// The recipient account (an account address).
        member: Address,
        /// How far it got.
        receipt: crate::group_receipts::MemberReceipt,
    },
    /// Replace the sessions with one peer (keyed by its identity).
    PutPeer(PeerSessionsPickle),
    /// Replace a conversation's counters.
    PutConversation(Conversation),
    /// Add a message to the history; a second insert of the same id is ignored.
    InsertMessage(StoredMessage),
    /// Move a message's status forward. Ignored for unknown ids, for a message whose peer is
    /// not `peer` (a receipt from one contact must not touch a message with another) and for
    /// backward moves.
    SetStatus {
        /// Which.
        id: MessageId,
        /// The message's other party.
        peer: Address,
        /// To what.
        status: MessageStatus,
    },
    /// Insert or replace an outbox item.
    PutOutbox(OutboxItem),
    /// Remove an outbox item (no-op if absent).
    RemoveOutbox(MessageId),
    /// Hold an early message.
    PutHeld(HeldMessage),
    /// Release a held message.
    RemoveHeld {
        /// Sender.
        peer: Address,
        /// Its `conv_seq`.
        conv_seq: u64,
    },
    /// Add or replace a contact (by name).
    PutContact(Contact),
    /// Pin a contact's device list (replaces the one pinned for `peer`).
    PutPeerDevices(PeerDevicesRecord),
    /// Remove a contact by name (no-op if absent).
    RemoveContact(String),
    /// Replace our own access key.
    PutOwnAccessKey(OwnAccessKey),
    /// Insert or replace what we know of a peer's standing and access key (by peer).
    PutPeerAccess(PeerAccess),
    /// Replace this device's own account (account key if held, pinned list, published counter).
    PutOwnAccount(OwnAccountRecord),
    /// Replace (or with `None` delete) the link request a new device waits on.
    PutLinkRequest(Option<LinkRequestPickle>),
    /// An edit: the shown text of message `id` becomes `text` (its kind and what it refers to
    /// stay), and the text it replaces is appended to the message's edit history. Ignored
    /// unless the message exists with this `peer` and `direction` and is not a tombstone.
    EditMessage {
        /// Which.
        id: MessageId,
        /// The message's other party.
        peer: Address,
        /// Who wrote the message (only its author edits it).
        direction: Direction,
        /// The new text.
        text: String,
        /// The editor's clock, Unix milliseconds.
        edited_at: u64,
    },
    /// A delete for everyone: message `id`'s content becomes [`Content::tombstone`], and its
    /// edit history, its reactions and the text of stored edits of it are removed, with the
    /// bytes overwritten. Same guard as [`StoreOp::EditMessage`], except that a tombstone is
    /// deleted again (a message that arrives after its delete is stored as a tombstone, and
    /// the edits that came before it are wiped then).
    DeleteMessage {
        /// Which.
        id: MessageId,
        /// The message's other party.
        peer: Address,
        /// Who wrote the message.
        direction: Direction,
    },
    /// Adds (or with `added` false removes) `by`'s reaction `emoji` on `target`. Ignored unless
    /// the target exists with this `peer` and is not a tombstone.
    PutReaction {
        /// The message reacted to.
        target: MessageId,
        /// The message's other party.
        peer: Address,
        /// Who reacted.
        by: Address,
        /// The emoji.
        emoji: String,
        /// Add or remove.
        added: bool,
    },
}

/// Changes to apply atomically.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// In order.
    pub ops: Vec<StoreOp>,
}

impl Commit {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Everything the core needs at start-up.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The account.
    pub account: AccountPickle,
    /// Sessions, one entry per peer.
    pub peers: Vec<PeerSessionsPickle>,
    /// Conversation counters.
    pub conversations: Vec<Conversation>,
    /// The outbox, any order (the core sorts by `created_at`).
    pub outbox: Vec<OutboxItem>,
    /// Held messages.
    pub held: Vec<HeldMessage>,
    /// Our outgoing messages the relay stored but the recipient has not confirmed (status
    /// `Sent`), oldest first; at most the latest [`crate::MAX_UNCONFIRMED`] are needed. Resent after a session reset.
    pub unconfirmed: Vec<StoredMessage>,
    /// Ids of the latest incoming messages, oldest first; at most [`crate::MAX_RECENT_INCOMING`] are needed. A copy
    /// resent under a new number after a session reset is recognised by them.
    pub recent_incoming: Vec<MessageId>,
    /// Our access key; `None` in a profile from before access keys (the core makes one).
    pub own_access_key: Option<OwnAccessKey>,
    /// Each peer's standing and access key, any order.
    pub peer_access: Vec<PeerAccess>,
    /// This device's account; `None` in a profile from before accounts (the core migrates it).
    pub own_account: Option<OwnAccountRecord>,
    /// The link request a new device waits on, if it does.
    pub link_request: Option<LinkRequestPickle>,
    /// Each contact's pinned device list (SPEC.md §16.8 "Pinning"), any order.
    pub peer_devices: Vec<PeerDevicesRecord>,
    /// The latest messages of the history (at most [`crate::MAX_SURFACE_WINDOW`]), oldest
    /// first, effects included: what reactions, edits and deletes can act on.
    pub recent: Vec<StoredMessage>,
    /// The groups we are or were in.
    pub groups: Vec<GroupBlob>,
    /// Our latest group messages' receipts (at most
    /// [`crate::MAX_TRACKED_GROUP_MESSAGES`]), oldest first.
    pub group_receipts: Vec<crate::group_receipts::GroupReceiptRecord>,
}
