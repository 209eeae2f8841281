//! Storage behind one async trait, so the embedded SQLite default, the in-memory store for tests
//! and the PostgreSQL store (feature `postgres`, for several relay nodes) are interchangeable.
//! One shared test suite ([`suite`]) runs against every implementation.
//!
//! What is stored is the minimum the relay needs: per mailbox its identity key, prekeys and the
//! verifier of its access key (a hash, never the key), and per message the recipient mailbox, sequence number, opaque envelope, receive time and size.
//! No sender, no plaintext.

use std::future::Future;

use hush_proto::{AccountId, Envelope, MailboxId, OneTimePreKey, SignedPreKey};

pub mod configured;
mod device_lists;
mod error;
mod kem_prekeys;
pub mod memory;
mod migrations;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod suite;

pub use self::device_lists::{DeviceListUpdate, StoredDeviceList};
#[cfg(feature = "postgres")]
pub use self::error::PostgresError;
pub use self::error::{BackendError, Corruption, JournalAction, StoreError};
pub use self::kem_prekeys::{ClaimedKemPreKey, KemUpload};

/// SQL integers are signed 64-bit. Inputs beyond `i64::MAX` (a seq, a time) are clamped: no
/// stored value can be that large, so comparisons against the clamped value mean the same.
pub(crate) fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads back a value a store wrote from a `u64`; a negative one means a corrupt database.
pub(crate) fn from_sql(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| Corruption::NegativeInteger.into())
}

/// Reads back an envelope a store wrote; one over the protocol limit means a corrupt database.
pub(crate) fn envelope_from_sql(bytes: Vec<u8>) -> Result<Envelope, StoreError> {
    let len = bytes.len();
    Envelope::new(bytes).ok_or_else(|| Corruption::OversizeEnvelope { len }.into())
}

/// A count as the protocol carries it, saturating (counts are capped far below `u32::MAX`).
pub(crate) fn count_u32(count: u64) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Access-key verifiers of several mailboxes, each read as [`Store::access_verifier`] reads one.
pub type Verifiers = Vec<Result<Option<[u8; 32]>, StoreError>>;

/// A stored message as read back for delivery.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Per-mailbox sequence number, strictly increasing, never reused (even after deletes).
    pub seq: u64,
    /// When it was stored, Unix seconds.
    pub received_at: u64,
    /// The opaque envelope.
    pub envelope: Envelope,
}

impl core::fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "StoredMessage(seq {}, {} bytes)",
            self.seq,
            self.envelope.len()
        )
    }
}

/// A bundle as claimed from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedBundle {
    /// The owner's identity key.
    pub identity_key: [u8; 32],
    /// The current signed prekey.
    pub signed_prekey: SignedPreKey,
    /// The claimed one-time prekey, now deleted from the store; `None` when none were left.
    pub one_time_prekey: Option<OneTimePreKey>,
    /// One-time prekeys left after this claim.
    pub remaining: u32,
}

/// Per-mailbox limits applied when storing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Most messages queued for one mailbox.
    pub max_messages: u64,
    /// Most envelope bytes queued for one mailbox.
    pub max_bytes: u64,
}

/// What the state of a mailbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxStatus {
    /// Never registered.
    Unknown,
    /// Registered with this identity key.
    Active {
        /// The owner's Ed25519 identity key.
        identity_key: [u8; 32],
    },
}

/// What another relay node sharing the store tells this one (see [`Store::notices`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeNotice {
    /// The other node stored messages for the mailbox (committed).
    Stored(MailboxId),
    /// The mailbox logged in on the other node. A connection of it here is older and most
    /// likely dead (its device moved to another node before this one timed it out); it is closed,
    /// as a newer login on this node would close it, so two nodes never both push to it.
    LoggedIn(MailboxId),
}

/// The relay's storage. Every method is atomic; a method that returns `Ok` after writing has made
/// the write durable (for SQLite: committed with the configured `synchronous` level).
pub trait Store: Send + Sync + 'static {
    /// Registers `mailbox` for `identity_key`, or checks an existing registration.
    fn register(
        &self,
        mailbox: MailboxId,
        identity_key: [u8; 32],
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The mailbox's status.
    fn mailbox_status(
        &self,
        mailbox: MailboxId,
    ) -> impl Future<Output = Result<MailboxStatus, StoreError>> + Send;

    /// Replaces the signed prekey and adds one-time prekeys (same id replaces), refusing the whole
    /// upload if more than `max_one_time` would then be held. Returns the count held after.
    fn upload_prekeys(
        &self,
        mailbox: MailboxId,
        signed_prekey: SignedPreKey,
        one_time: Vec<OneTimePreKey>,
        max_one_time: u32,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Atomically claims one one-time prekey (the lowest id) with the signed prekey. Under
    /// concurrent calls each one-time prekey is returned at most once.
    fn claim_bundle(
        &self,
        mailbox: MailboxId,
    ) -> impl Future<Output = Result<ClaimedBundle, StoreError>> + Send;

    /// Adds one-time KEM prekeys (same id replaces) and, if given, replaces the last-resort KEM
    /// prekey, refusing the whole upload (`TooManyPreKeys`) if more than `max_one_time` one-time
    /// KEM prekeys would then be held. Returns the one-time count held after.
    fn upload_kem_prekeys(
        &self,
        mailbox: MailboxId,
        upload: KemUpload,
        max_one_time: u32,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Atomically claims one one-time KEM prekey (the lowest id), or when none is left serves
    /// the last-resort one if it belongs to signed prekey `signed_prekey_id`. Under concurrent
    /// calls each one-time KEM prekey is returned at most once.
    fn claim_kem_prekey(
        &self,
        mailbox: MailboxId,
        signed_prekey_id: u32,
    ) -> impl Future<Output = Result<ClaimedKemPreKey, StoreError>> + Send;

    /// Sets the verifier of the mailbox's access key (`SHA-256` of the key, see
    /// `hush_proto::AccessKey::verifier`), replacing any earlier one; `None` clears it.
    /// `UnknownMailbox` if the mailbox is not registered. Deleting the mailbox deletes it too.
    fn set_access_verifier(
        &self,
        mailbox: MailboxId,
        verifier: Option<[u8; 32]>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The verifier of the mailbox's access key, `None` if it has none. `UnknownMailbox` if the
    /// mailbox is not registered.
    fn access_verifier(
        &self,
        mailbox: MailboxId,
    ) -> impl Future<Output = Result<Option<[u8; 32]>, StoreError>> + Send;

    /// [`Store::access_verifier`] of each mailbox, in order, each with its own outcome, read
    /// together where the backend can (a shared send checks up to 1,000 recipients' keys). The
    /// default asks one at a time.
    fn access_verifiers(
        &self,
        mailboxes: Vec<MailboxId>,
    ) -> impl Future<Output = Result<Verifiers, StoreError>> + Send {
        async move {
            let mut verifiers = Vec::with_capacity(mailboxes.len());
            for mailbox in mailboxes {
                verifiers.push(self.access_verifier(mailbox).await);
            }
            Ok(verifiers)
        }
    }

    /// One-time prekeys held for the mailbox.
    fn one_time_prekey_count(
        &self,
        mailbox: MailboxId,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Stores one envelope per `(mailbox, envelope)` atomically: all or none. Every recipient must
    /// be active; each is checked against `quota`. Returns the assigned sequence numbers in
    /// input order. Durable when it returns.
    fn enqueue(
        &self,
        deliveries: Vec<(MailboxId, Envelope)>,
        now: u64,
        quota: Quota,
    ) -> impl Future<Output = Result<Vec<u64>, StoreError>> + Send;

    /// [`Store::enqueue`] for a caller that does not wait: returns once the write is accepted
    /// (a backend with a write queue may make the caller wait for room), and `done` gets the
    /// result once it is durable. `done` may run on a store thread or task: it must not block.
    /// The default runs the write to the end and then `done`, before returning.
    fn enqueue_then<F>(
        &self,
        deliveries: Vec<(MailboxId, Envelope)>,
        now: u64,
        quota: Quota,
        done: F,
    ) -> impl Future<Output = ()> + Send
    where
        F: FnOnce(Result<Vec<u64>, StoreError>) + Send + 'static,
    {
        let stored = self.enqueue(deliveries, now, quota);
        async move { done(stored.await) }
    }

    /// Up to `limit` messages of `mailbox` with `seq > after`, in `seq` order.
    fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredMessage>, StoreError>> + Send;

    /// Deletes the mailbox's messages with `seq <= through`. Returns how many were deleted.
    fn ack(&self, mailbox: MailboxId, through: u64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes every message received before `cutoff` (Unix seconds). Returns how many.
    fn purge_expired(&self, cutoff: u64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes the mailbox with its messages and prekeys, leaving no row behind. Deleting an
    /// unknown mailbox is not an error.
    fn delete_mailbox(&self, mailbox: MailboxId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores `update` as its account's list if the account has none, if its counter is greater
    /// than the stored list's, or if it is the stored list again; then drops the memberships of
    /// devices the list does not name and keeps (or replaces) the publisher's. Otherwise
    /// `StaleDeviceList` and nothing changes. Atomic as a compare-and-set on the counter: of
    /// concurrent publishes the greatest counter stays, whatever the order they land in.
    fn publish_device_list(
        &self,
        update: DeviceListUpdate,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The account's stored list with its memberships, `None` if it has none.
    fn device_list(
        &self,
        account: AccountId,
    ) -> impl Future<Output = Result<Option<StoredDeviceList>, StoreError>> + Send;

    /// Messages queued across all mailboxes (for the queue-depth metric).
    fn queue_depth(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Graceful shutdown's last step: makes every write queued so far durable, then refuses
    /// further writes and closes the store's files, so another store (a restarted relay) can
    /// open them at once. Reads may still work. The default has nothing to do.
    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// For a store that several relay nodes share: a stream of what *other* nodes did. A
    /// [`NodeNotice::Stored`] comes once that node's [`Store::enqueue`] has committed, so this
    /// node can push the messages at once to a recipient logged in here; a
    /// [`NodeNotice::LoggedIn`] once that node called [`Store::announce_login`]. The first call
    /// hands the receiver out; later calls get `None`. A store only one relay uses has no such
    /// stream, and returns `None` (the default).
    ///
    /// Bounded: a node that falls behind loses notices rather than memory. A lost `Stored`
    /// delays a push, it loses no message: the message stays stored, and a delivery task reads
    /// the store at every login and whenever this node stores or is told of another message
    /// for the mailbox. A lost `LoggedIn` leaves an old connection here until it times out.
    fn notices(&self) -> Option<tokio::sync::mpsc::Receiver<NodeNotice>> {
        None
    }

    /// Tells the other nodes sharing the store that `mailbox` has just logged in on this one
    /// (see [`NodeNotice::LoggedIn`]). Best effort: a failure is only logged. Does nothing for a
    /// store only one relay uses (the default).
    fn announce_login(&self, mailbox: MailboxId) -> impl Future<Output = ()> + Send {
        let _ = mailbox;
        async {}
    }

    /// Group-commit figures for the metrics endpoint, from a store that batches its writes
    /// through a journal it syncs (SQLite). `None` (the default) from one that does not.
    fn stats(&self) -> Option<&crate::metrics::StoreStats> {
        None
    }
}
