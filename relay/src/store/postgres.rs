//! [`PostgresStore`]: the store several relay nodes share. Every node connects to one PostgreSQL
//! database; row locks keep each operation correct whichever node runs it, and `LISTEN`/`NOTIFY`
//! tells every node what the others stored, and who logged in on them ([`Store::notices`]).
//!
//! No TLS: the database must be reached over a trusted network or a unix socket.

mod access;
mod device_lists;
mod kem_prekeys;
#[cfg(test)]
mod kem_prekeys_tests;
mod listen;
mod ops;
mod pool;
mod schema;
#[cfg(test)]
mod test_cluster;
#[cfg(test)]
mod tests;

use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hush_proto::{AccountId, Envelope, MailboxId, OneTimePreKey, SignedPreKey};
use tokio::sync::mpsc;

use self::pool::Pool;
use super::{
    ClaimedBundle, ClaimedKemPreKey, DeviceListUpdate, KemUpload, MailboxStatus, NodeNotice, Quota, Store,
    StoreError, StoredDeviceList, StoredMessage, Verifiers,
};

/// How long opening one connection may take before it counts as failed, unless the URL sets
/// `connect_timeout`. A database that is down fails requests in bounded time instead of
/// stalling them.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How [`PostgresStore::connect`] sets up its connections.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections used for operations at once (at least 1; default
    /// [`DEFAULT_POSTGRES_POOL_SIZE`](crate::config::DEFAULT_POSTGRES_POOL_SIZE)). One more
    /// listens for other nodes' notices.
    pub pool_size: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            pool_size: crate::config::DEFAULT_POSTGRES_POOL_SIZE,
        }
    }
}

/// A [`Store`] in a PostgreSQL database that several relay nodes may share.
#[derive(Debug)]
pub struct PostgresStore {
    pool: Pool,
    /// Marks this store's notices, so its own listener skips them: this node already woke its
    /// recipients when it stored.
    node: listen::NodeId,
    /// Taken once by [`Store::notices`].
    notices: Mutex<Option<mpsc::Receiver<NodeNotice>>>,
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgresql://` URL or `key=value` pairs, as libpq
    /// takes them; a unix socket is a `host` that is a directory), creates or migrates the
    /// schema, and starts listening for other nodes' notices. Needs a tokio runtime. Refuses a
    /// database whose schema a newer relay wrote, and a URL that asks for TLS (`sslmode=require`).
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        // The parse error names the bad option, never the URL (which may hold a password).
        let mut config = tokio_postgres::Config::from_str(url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("hush-relay");
        }
        let pool = Pool::new(config.clone(), options.pool_size.max(1));
        {
            let mut conn = pool.get().await?;
            schema::migrate(&mut conn).await?;
        }
        let node = listen::NodeId::random();
        let notices = listen::start(config, node).await?;
        Ok(Self {
            pool,
            node,
            notices: Mutex::new(Some(notices)),
        })
    }
}

impl Store for PostgresStore {
    async fn register(&self, mailbox: MailboxId, identity_key: [u8; 32], now: u64) -> Result<(), StoreError> {
        ops::register(&mut self.pool.get().await?, mailbox, identity_key, now).await
    }

    async fn mailbox_status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        ops::mailbox_status(&mut self.pool.get().await?, mailbox).await
    }

    async fn set_access_verifier(
        &self,
        mailbox: MailboxId,
        verifier: Option<[u8; 32]>,
    ) -> Result<(), StoreError> {
        access::set_verifier(&mut self.pool.get().await?, mailbox, verifier).await
    }

    async fn access_verifier(&self, mailbox: MailboxId) -> Result<Option<[u8; 32]>, StoreError> {
        access::verifier(&mut self.pool.get().await?, mailbox).await
    }

    async fn access_verifiers(&self, mailboxes: Vec<MailboxId>) -> Result<Verifiers, StoreError> {
        // One pooled connection for all of them.
        let mut conn = self.pool.get().await?;
        let mut verifiers = Vec::with_capacity(mailboxes.len());
        for mailbox in mailboxes {
            verifiers.push(access::verifier(&mut conn, mailbox).await);
        }
        Ok(verifiers)
    }

    async fn upload_prekeys(
        &self,
        mailbox: MailboxId,
        signed_prekey: SignedPreKey,
        one_time: Vec<OneTimePreKey>,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        let mut conn = self.pool.get().await?;
        ops::upload_prekeys(&mut conn, mailbox, signed_prekey, one_time, max_one_time).await
    }

    async fn claim_bundle(&self, mailbox: MailboxId) -> Result<ClaimedBundle, StoreError> {
        ops::claim_bundle(&mut self.pool.get().await?, mailbox).await
    }

    async fn upload_kem_prekeys(
        &self,
        mailbox: MailboxId,
        upload: KemUpload,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        let mut conn = self.pool.get().await?;
        kem_prekeys::upload(&mut conn, mailbox, upload, max_one_time).await
    }

    async fn claim_kem_prekey(
        &self,
        mailbox: MailboxId,
        signed_prekey_id: u32,
    ) -> Result<ClaimedKemPreKey, StoreError> {
        kem_prekeys::claim(&mut self.pool.get().await?, mailbox, signed_prekey_id).await
    }

    async fn one_time_prekey_count(&self, mailbox: MailboxId) -> Result<u32, StoreError> {
        ops::one_time_prekey_count(&mut self.pool.get().await?, mailbox).await
    }

    async fn enqueue(
        &self,
        deliveries: Vec<(MailboxId, Envelope)>,
        now: u64,
        quota: Quota,
    ) -> Result<Vec<u64>, StoreError> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.get().await?;
        ops::enqueue(&mut conn, self.node, deliveries, now, quota).await
    }

    async fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        ops::fetch(&mut self.pool.get().await?, mailbox, after, limit).await
    }

    async fn ack(&self, mailbox: MailboxId, through: u64) -> Result<u64, StoreError> {
        ops::ack(&mut self.pool.get().await?, mailbox, through).await
    }

    async fn purge_expired(&self, cutoff: u64) -> Result<u64, StoreError> {
        ops::purge_expired(&mut self.pool.get().await?, cutoff).await
    }

    async fn delete_mailbox(&self, mailbox: MailboxId) -> Result<(), StoreError> {
        ops::delete_mailbox(&mut self.pool.get().await?, mailbox).await
    }

    async fn publish_device_list(&self, update: DeviceListUpdate) -> Result<(), StoreError> {
        device_lists::publish(&mut self.pool.get().await?, update).await
    }

    async fn device_list(&self, account: AccountId) -> Result<Option<StoredDeviceList>, StoreError> {
        device_lists::fetch(&mut self.pool.get().await?, account).await
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        ops::queue_depth(&mut self.pool.get().await?).await
    }

    fn notices(&self) -> Option<mpsc::Receiver<NodeNotice>> {
        // Taking an `Option` out cannot leave it half-done: a poisoned lock is safe to use.
        self.notices.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    async fn announce_login(&self, mailbox: MailboxId) {
        let announced = match self.pool.get().await {
            Ok(mut conn) => ops::announce_login(&mut conn, self.node, &mailbox).await,
            Err(error) => Err(error),
        };
        if let Err(error) = announced {
            // The other nodes' old connection of the mailbox, if any, lives until it times out.
            tracing::warn!(%error, "telling the other relay nodes of a login failed");
        }
    }
}
