//! The store `config.storage.backend` chose, behind one type: [`ConfiguredStore`] forwards every
//! [`Store`] call to the backend it holds.

use hush_proto::{AccountId, Envelope, MailboxId, OneTimePreKey, SignedPreKey};
use tokio::sync::mpsc;

use crate::metrics::StoreStats;
use crate::store::memory::MemoryStore;
#[cfg(feature = "postgres")]
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{
    ClaimedBundle, ClaimedKemPreKey, DeviceListUpdate, KemUpload, MailboxStatus, NodeNotice, Quota, Store,
    StoreError, StoredDeviceList, StoredMessage, Verifiers,
};

/// The store [`Relay::bind`](crate::Relay::bind) opened, as `config.storage.backend` chose.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfiguredStore {
    /// The embedded SQLite store.
    Sqlite(SqliteStore),
    /// The PostgreSQL store several relay nodes may share (boxed: it is several times the size
    /// of the SQLite one, and there is one per relay).
    #[cfg(feature = "postgres")]
    Postgres(Box<PostgresStore>),
    /// The in-memory store: nothing durable (tests and benchmarks).
    Memory(MemoryStore),
}

/// Runs `$call` on whichever store `$store` holds.
macro_rules! dispatch {
    ($store:expr, $inner:ident => $call:expr) => {
        match $store {
            ConfiguredStore::Sqlite($inner) => $call,
            #[cfg(feature = "postgres")]
            ConfiguredStore::Postgres($inner) => $call,
            ConfiguredStore::Memory($inner) => $call,
        }
    };
}

impl Store for ConfiguredStore {
    async fn register(&self, mailbox: MailboxId, identity_key: [u8; 32], now: u64) -> Result<(), StoreError> {
        dispatch!(self, store => store.register(mailbox, identity_key, now).await)
    }

    async fn mailbox_status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        dispatch!(self, store => store.mailbox_status(mailbox).await)
    }

    async fn upload_prekeys(
        &self,
        mailbox: MailboxId,
        signed_prekey: SignedPreKey,
        one_time: Vec<OneTimePreKey>,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        dispatch!(self, store => store.upload_prekeys(mailbox, signed_prekey, one_time, max_one_time).await)
    }

    async fn claim_bundle(&self, mailbox: MailboxId) -> Result<ClaimedBundle, StoreError> {
        dispatch!(self, store => store.claim_bundle(mailbox).await)
    }

    async fn upload_kem_prekeys(
        &self,
        mailbox: MailboxId,
        upload: KemUpload,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        dispatch!(self, store => store.upload_kem_prekeys(mailbox, upload, max_one_time).await)
    }

    async fn claim_kem_prekey(
        &self,
        mailbox: MailboxId,
        signed_prekey_id: u32,
    ) -> Result<ClaimedKemPreKey, StoreError> {
        dispatch!(self, store => store.claim_kem_prekey(mailbox, signed_prekey_id).await)
    }

    async fn set_access_verifier(
        &self,
        mailbox: MailboxId,
        verifier: Option<[u8; 32]>,
    ) -> Result<(), StoreError> {
        dispatch!(self, store => store.set_access_verifier(mailbox, verifier).await)
    }

    async fn access_verifier(&self, mailbox: MailboxId) -> Result<Option<[u8; 32]>, StoreError> {
        dispatch!(self, store => store.access_verifier(mailbox).await)
    }

    async fn access_verifiers(&self, mailboxes: Vec<MailboxId>) -> Result<Verifiers, StoreError> {
        dispatch!(self, store => store.access_verifiers(mailboxes).await)
    }

    async fn one_time_prekey_count(&self, mailbox: MailboxId) -> Result<u32, StoreError> {
        dispatch!(self, store => store.one_time_prekey_count(mailbox).await)
    }

    async fn enqueue(
        &self,
        deliveries: Vec<(MailboxId, Envelope)>,
        now: u64,
        quota: Quota,
    ) -> Result<Vec<u64>, StoreError> {
        dispatch!(self, store => store.enqueue(deliveries, now, quota).await)
    }

    async fn enqueue_then<F>(&self, deliveries: Vec<(MailboxId, Envelope)>, now: u64, quota: Quota, done: F)
    where
        F: FnOnce(Result<Vec<u64>, StoreError>) + Send + 'static,
    {
        dispatch!(self, store => store.enqueue_then(deliveries, now, quota, done).await)
    }

    async fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        dispatch!(self, store => store.fetch(mailbox, after, limit).await)
    }

    async fn ack(&self, mailbox: MailboxId, through: u64) -> Result<u64, StoreError> {
        dispatch!(self, store => store.ack(mailbox, through).await)
    }

    async fn purge_expired(&self, cutoff: u64) -> Result<u64, StoreError> {
        dispatch!(self, store => store.purge_expired(cutoff).await)
    }

    async fn delete_mailbox(&self, mailbox: MailboxId) -> Result<(), StoreError> {
        dispatch!(self, store => store.delete_mailbox(mailbox).await)
    }

    async fn publish_device_list(&self, update: DeviceListUpdate) -> Result<(), StoreError> {
        dispatch!(self, store => store.publish_device_list(update).await)
    }

    async fn device_list(&self, account: AccountId) -> Result<Option<StoredDeviceList>, StoreError> {
        dispatch!(self, store => store.device_list(account).await)
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        dispatch!(self, store => store.queue_depth().await)
    }

    fn notices(&self) -> Option<mpsc::Receiver<NodeNotice>> {
        dispatch!(self, store => store.notices())
    }

    async fn announce_login(&self, mailbox: MailboxId) {
        dispatch!(self, store => store.announce_login(mailbox).await)
    }

    fn stats(&self) -> Option<&StoreStats> {
        dispatch!(self, store => store.stats())
    }

    async fn shutdown(&self) {
        dispatch!(self, store => store.shutdown().await)
    }
}
