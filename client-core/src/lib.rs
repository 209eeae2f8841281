//! # hush-client-core
//!
//! The Hush client's protocol logic as a sans-IO state machine, in the style of quinn-proto:
//! inputs arrive through `Core::handle_*(now, …)`, and the driver takes outputs through
//! [`Core::poll_output`] (store commits, relay requests and app events, in the order they must be
//! acted on) and [`Core::poll_timeout`]. Time is passed in; the core reads no clock and opens no
//! socket or file. This crate depends on neither tokio, quinn nor rusqlite.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod address;
mod content;
mod core;
mod event;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod inbox;
mod memory;
mod outbox;
mod records;
mod requests;
mod reset;
mod store;
/// A test suite every [`Store`] implementation runs.
#[cfg(feature = "store-suite")]
pub mod store_suite;
mod upkeep;

pub use address::{ADDRESS_PREFIX, Address, AddressError};
pub use content::{
    Body, Content, MAX_RECEIPT_IDS, MAX_TEXT_LEN, MessageId, Payload, PayloadError, ReceiptKind,
};
pub use core::{Core, CoreError, Output, SendError};
pub use event::{ClaimedSender, DropReason, Event};
pub use memory::{MemoryStore, MemoryStoreError};
pub use records::{
    Commit, Contact, Conversation, Direction, HeldMessage, HistoryEntry, MessageStatus, OutboxItem, Snapshot,
    StoreOp, StoredMessage,
};
pub use requests::{OwnAccessKey, PeerAccess, RequestError, Standing};
pub use reset::{MAX_RECENT_INCOMING, MAX_RESETS_PER_HOUR, MAX_UNCONFIRMED, RESET_INTERVAL_MS};
pub use store::Store;
