//! # hush-client-core
//!
//! The Hush client's protocol logic as a sans-IO state machine, in the style of quinn-proto:
//! inputs arrive through `Core::handle_*(now, …)`, and the driver takes outputs through
//! [`Core::poll_output`] (store commits, relay requests and app events, in the order they must be
//! acted on) and [`Core::poll_timeout`]. Time is passed in; the core reads no clock and opens no
//! socket or file. This crate depends on neither tokio, quinn nor rusqlite.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod access;
mod address;
mod backoff;
mod content;
mod content_kinds;
mod core;
mod devices;
mod ephemeral;
mod error;
mod event;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod group_control;
mod group_receipts;
mod group_receive;
mod group_send;
pub mod groups;
mod inbox;
mod kem_upkeep;
mod link;
mod login;
mod memory;
mod outbox;
mod outputs;
mod pq_setup;
mod prekey_wire;
mod receive;
mod records;
mod requests;
mod reset;
mod send;
mod session;
mod store;
/// A test suite every [`Store`] implementation runs.
#[cfg(feature = "store-suite")]
pub mod store_suite;
mod surface;
mod upkeep;
mod upkeep_cx;

pub use access::{OwnAccessKey, PeerAccess, Standing};
pub use address::{ADDRESS_PREFIX, Address, AddressError};
pub use content::{
    Body, Content, MAX_EMOJI_LEN, MAX_RECEIPT_IDS, MAX_TEXT_LEN, MAX_TIMER_SECONDS, MessageId,
    PAYLOAD_HEADER_LEN, PAYLOAD_VERSION, Payload, PayloadError, Reaction, ReceiptKind, Referring,
    frame_payload, unframe_payload,
};
pub use core::Core;
pub use devices::own::LIST_RETRY_MS;
pub use devices::peers::peer_account_key;
pub use devices::{
    LinkDeviceError, ListOutcome, OwnAccount, OwnAccountRecord, OwnListError, PeerDevices, PeerDevicesRecord,
    PeerLists,
};
pub use ephemeral::{
    EPHEMERAL_HEADER_LEN, EPHEMERAL_MAX_SKEW_MS, EPHEMERAL_TAG, Ephemeral, EphemeralError, EphemeralKind,
    MAX_REPLAY_ENTRIES, Presence, PresenceSetting,
};
pub use error::{CoreError, LoginError, SendError};
pub use event::{ClaimedSender, DropReason, Event, PayloadFault};
pub use group_control::{GroupChainsSummary, GroupCommandError};
pub use group_receipts::{
    GroupReceiptIgnored, GroupReceiptRecord, GroupReceipts, MAX_TRACKED_GROUP_MESSAGES, MemberReceipt,
};
pub use group_receive::GROUP_GAP_MS;
pub use group_send::GroupSendError;
pub use groups::GroupDropReason;
pub use hush_crypto::pq::SetupPolicy;
pub use memory::{MemoryStore, MemoryStoreError};
pub use outputs::Output;
pub use prekey_wire::{kem_prekey_to_wire, signed_prekey_to_wire};
pub use records::{
    Commit, Contact, Conversation, Direction, HeldMessage, HistoryEntry, MessageStatus, OutboxItem, Snapshot,
    StoreOp, StoredMessage,
};
pub use requests::RequestError;
pub use reset::{MAX_RECENT_INCOMING, MAX_RESETS_PER_HOUR, MAX_UNCONFIRMED, RESET_INTERVAL_MS};
pub use store::Store;
pub use surface::{IgnoredReason, MAX_EARLY_EFFECTS, MAX_SURFACE_WINDOW, StoredReaction, SurfaceError};
