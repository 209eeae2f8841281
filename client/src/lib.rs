//! # hush-client
//!
//! The crate apps embed: one profile (identity, sessions, contacts, history) in an encrypted
//! local database (SQLCipher), connected to a Hush relay over QUIC. The protocol logic is the
//! sans-IO [`hush_client_core::Core`]; this crate runs it on tokio, persists what it hands back
//! and gives the app a small async API ([`Client`]) and an event stream ([`Events`]).
//!
//! Guarantees: [`Client::send`] returns once the message is durable in the outbox; it is resent
//! with its original id after crashes and reconnects until the relay stores it. An incoming
//! message is decrypted, stored with the ratchet state that decrypted it in one transaction, and
//! only then acknowledged to the relay; the app sees each message once, in the sender's order.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod device_command;
mod device_commands;
mod driver;
mod driver_expiry;
mod ephemeral_command;
mod error;
mod events;
mod group_command;
mod group_commands;
mod net;
mod relay_address;
mod relay_check;
pub mod store;
mod surface_command;
mod surface_commands;

pub use client::{
    Client, ContactUpdate, Events, IdentityDecision, IdentityPolicy, KeepVerified, OpenOptions,
    TrustOnFirstUse,
};
pub use error::{ClientError, StopReason};
pub use events::{ClientEvent, ConnectionState};
pub use hush_client_core::groups::{GroupId, GroupState, Role as GroupRole};
pub use hush_client_core::{
    ADDRESS_PREFIX, Address, ClaimedSender, Contact, Content, Direction, DropReason, Event,
    GroupCommandError, GroupDropReason, GroupReceiptIgnored, GroupReceipts, GroupSendError, HistoryEntry,
    IgnoredReason, MAX_EMOJI_LEN, MAX_TIMER_SECONDS, MemberReceipt, MessageId, MessageStatus, Presence,
    PresenceSetting, Reaction, Referring, SetupPolicy, StoredMessage, StoredReaction, SurfaceError,
};
pub use hush_proto::{RegistrationToken, RegistrationTokenError};
pub use net::{NetError, ResolveError, SetupError, UnreachableReason};
pub use relay_address::{RelayAddress, RelayAddressError};
pub use relay_check::check_relay;
pub use store::{
    BackupError, ConversationSummary, DatabaseKey, Expired, KdfParams, NotAProfile, SearchError, SearchHit,
    SearchPage, SearchScope, SqlStore, StoreError, private_file,
};
