//! [`SqliteStore`]: the relay's embedded default. A WAL-mode database file, a message journal
//! beside it, one writer thread doing group commit and a few read connections used from blocking
//! tasks. Enqueues and acks are made durable in the journal and kept in memory; the writer moves
//! what is still unacknowledged into the database once it is half a second to a second old, so
//! a message delivered and acknowledged within half a second costs no database write. At open,
//! whatever the journal holds (the relay stopped before its last flush) is replayed.

mod access;
mod batch;
mod device_lists;
mod journal;
mod kem_prekeys;
mod ops;
mod options;
mod recent;
mod recover;
mod schema;
#[cfg(test)]
mod tests;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hush_proto::{AccountId, Envelope, MailboxId, OneTimePreKey, SignedPreKey};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::mpsc;
#[cfg(test)]
use tokio::sync::watch;

use self::batch::Batch;
pub use self::options::{DEFAULT_COMMIT_DELAY, SqliteOptions, Synchronous};
use self::recent::Recent;
use self::writer::{Before, CommitDelay, Committer, FLUSH_TICK, Guard, Pace, Writer};
use super::{
    BackendError, ClaimedBundle, ClaimedKemPreKey, DeviceListUpdate, JournalAction, KemUpload, MailboxStatus,
    Quota, Store, StoreError, StoredDeviceList, StoredMessage, Verifiers,
};
use crate::metrics::StoreStats;

#[cfg(feature = "fuzzing")]
pub(crate) use self::journal::{fuzz_replay as fuzz_journal_replay, seed_files as journal_seed_files};

/// Read connections kept open. Reads are short indexed lookups; a few connections let them run
/// next to each other on a small machine without holding many file handles.
const READ_CONNECTIONS: usize = 4;

/// Where the writer's flush ticks come from.
#[derive(Debug, Clone, Copy)]
enum Ticks {
    /// A task on the runtime the store is opened on, one tick per period.
    Every(Duration),
    /// Only [`SqliteStore::tick`] (tests that decide when time has passed).
    #[cfg(test)]
    ByHand,
}

/// Sends the writer a flush tick each `period` until the writer is gone: from a task if a tokio
/// runtime is at hand, else from a thread of its own, which ends as soon as the returned handle
/// is dropped (the store keeps it).
fn spawn_ticker(
    queue: mpsc::WeakSender<Box<dyn writer::WriteJob>>,
    period: Duration,
) -> Result<Option<std::sync::mpsc::Sender<()>>, StoreError> {
    // Does nothing itself: the writer runs `Before::Tick` first.
    let tick = || writer::job(Guard::None, Before::Tick, |_: &mut Batch<'_>| Ok(())).0;
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                ticks.tick().await;
                let Some(queue) = queue.upgrade() else {
                    return;
                };
                let _ = queue.send(tick()).await;
            }
        });
        return Ok(None);
    }
    let (keep, kept) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("hush-store-ticker".to_owned())
        .spawn(move || {
            // Each period is waited out on the handle: nothing is ever sent on it, and the store
            // dropping it ends the wait, and the thread, at once.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = kept.recv_timeout(period) {
                let Some(queue) = queue.upgrade() else {
                    return;
                };
                let _ = queue.blocking_send(tick());
            }
        })
        .map_err(|source| BackendError::Thread {
            name: "ticker",
            source,
        })?;
    Ok(Some(keep))
}

/// A [`Store`] in one SQLite database file (plus its `-wal` and `-shm`) and its message journal
/// (`-messages`).
#[derive(Debug)]
pub struct SqliteStore {
    /// `None` only once closed or dropped.
    writer: Option<Writer>,
    /// Group-commit figures, kept by the writer thread.
    stats: Arc<StoreStats>,
    /// Durable messages and acks not yet flushed into the database.
    recent: Arc<Recent>,
    /// Flushes done so far, for tests that wait for one.
    #[cfg(test)]
    flushes: watch::Receiver<u64>,
    /// Shared with the blocking tasks that use them.
    readers: Arc<[Mutex<Connection>]>,
    next_reader: AtomicUsize,
    /// Keeps a ticker thread (a store opened outside a tokio runtime) going; it ends with the
    /// store.
    _ticker: Option<std::sync::mpsc::Sender<()>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, migrates its schema and starts the
    /// writer thread. Opened inside a tokio runtime, the store hands out write results from a
    /// task on that runtime (the writer thread answered directly once it has shut down), and its
    /// flush ticks come from another (from a thread of their own otherwise).
    pub fn open(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        let pace = CommitDelay(options.commit_delay);
        Self::open_with(path, &options, Box::new(pace), Ticks::Every(FLUSH_TICK))
    }

    /// [`SqliteStore::open`] with the writer's batches spaced out by `pace` instead of the
    /// options' commit delay (tests hold a batch back with it), and flush ticks from `ticks`.
    fn open_with(
        path: &Path,
        options: &SqliteOptions,
        pace: Box<dyn Pace>,
        ticks: Ticks,
    ) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        schema::configure_writer(&conn, options.synchronous)?;
        schema::migrate(&mut conn)?;
        let (journal, records, torn) =
            journal::Journal::open(&journal_path(path)).map_err(|source| BackendError::Journal {
                action: JournalAction::Open,
                source,
            })?;
        if torn > 0 {
            // The last write before a crash, never acknowledged to anyone.
            tracing::warn!(bytes = torn, "ignored the torn end of the message journal");
        }
        if !records.is_empty() {
            let replayed = recover::replay(&mut conn, records)?;
            tracing::info!(messages = replayed, "replayed the message journal");
        }
        // Acks whose deletes a crash cut short.
        recover::sweep_all(&conn)?;
        let mut journal = journal;
        // Frames of earlier runs (envelopes since acknowledged or deleted) do not outlive a
        // restart: zeroed here rather than at the first purge.
        journal
            .reset()
            .and_then(|()| journal.scrub())
            .map_err(|source| BackendError::Journal {
                action: JournalAction::Empty,
                source,
            })?;
        let readers = (0..READ_CONNECTIONS)
            .map(|_| {
                let reader = Connection::open_with_flags(
                    path,
                    // Read-write without create (`query_only` forbids writes): WAL readers
                    // need write access to the shared-memory index.
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                schema::configure_reader(&reader)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Arc<[_]>, StoreError>>()?;
        let recent = Arc::new(Recent::default());
        let committer = Committer::new(conn, journal, options.synchronous, Arc::clone(&recent));
        #[cfg(test)]
        let flushes = committer.flushes();
        let stats = committer.stats();
        let writer = Writer::spawn(committer, options.batch_max, pace)?;
        let ticker = match ticks {
            Ticks::Every(period) => spawn_ticker(writer.weak_queue(), period)?,
            #[cfg(test)]
            Ticks::ByHand => None,
        };
        Ok(Self {
            writer: Some(writer),
            stats,
            recent,
            #[cfg(test)]
            flushes,
            readers,
            next_reader: AtomicUsize::new(0),
            _ticker: ticker,
        })
    }

    /// Stops accepting writes, waits until every queued write is committed and the writer thread
    /// has exited. For graceful shutdown; dropping the store also lets queued writes finish, but
    /// without waiting.
    pub async fn close(mut self) -> Result<(), StoreError> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let Some(thread) = writer.stop() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(BackendError::Task)?
            .map_err(|_| BackendError::WriterPanicked.into())
    }

    /// Runs a database operation on the writer (after what `before` says) and waits
    /// for its committed result.
    async fn write<T, F>(&self, guard: Guard, before: Before, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_batch(guard, before, move |batch: &mut Batch<'_>| {
            operation(batch.sql()?)
        })
        .await
    }

    /// One flush tick, as the store's own ticker sends them, answered once the writer has run it.
    #[cfg(test)]
    async fn tick(&self) -> Result<(), StoreError> {
        self.write_batch(Guard::None, Before::Tick, |_: &mut Batch<'_>| Ok(()))
            .await
    }

    /// Moves everything the journal holds into the database now, for tests that look at the rows.
    #[cfg(test)]
    async fn flush_now(&self) -> Result<(), StoreError> {
        self.write_batch(Guard::None, Before::Flush, |_: &mut Batch<'_>| Ok(()))
            .await
    }

    /// Runs an operation on the writer's batch and waits for its durable result.
    async fn write_batch<T, F>(&self, guard: Guard, before: Before, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.submit(guard, before, operation).await,
            None => Err(BackendError::Closed.into()),
        }
    }

    /// Runs `operation` on a read connection in a read transaction (one consistent snapshot),
    /// off the async threads.
    async fn read<T, F>(&self, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % READ_CONNECTIONS;
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let Some(reader) = readers.get(index) else {
                return Err(BackendError::Invariant("no read connection").into());
            };
            // A panic cannot happen while a connection is in use (no code here panics), and a
            // read leaves nothing half-done: a poisoned lock is safe to take.
            let mut conn = reader.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = conn.transaction()?;
            let result = operation(&tx);
            // Read-only: ending the transaction is all `finish` does here.
            tx.finish()?;
            result
        })
        .await
        .map_err(BackendError::Task)?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued, then exit; not joined here,
        // since dropping may happen on an async thread that must not block.
        if let Some(writer) = self.writer.take() {
            drop(writer.stop());
        }
    }
}

/// The journal's file: the database's name with `-messages` added (beside SQLite's own `-wal`
/// and `-shm`).
fn journal_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-messages");
    PathBuf::from(name)
}

impl Store for SqliteStore {
    async fn register(&self, mailbox: MailboxId, identity_key: [u8; 32], now: u64) -> Result<(), StoreError> {
        self.write(Guard::Savepoint, Before::Nothing, move |conn| {
            ops::register(conn, mailbox, identity_key, now)
        })
        .await
    }

    async fn mailbox_status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        self.read(move |conn| ops::mailbox_status(conn, mailbox)).await
    }

    async fn upload_prekeys(
        &self,
        mailbox: MailboxId,
        signed_prekey: SignedPreKey,
        one_time: Vec<OneTimePreKey>,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        self.write(Guard::Savepoint, Before::Nothing, move |conn| {
            ops::upload_prekeys(conn, mailbox, signed_prekey, one_time, max_one_time)
        })
        .await
    }

    async fn claim_bundle(&self, mailbox: MailboxId) -> Result<ClaimedBundle, StoreError> {
        self.write(Guard::Savepoint, Before::Nothing, move |conn| {
            ops::claim_bundle(conn, mailbox)
        })
        .await
    }

    async fn upload_kem_prekeys(
        &self,
        mailbox: MailboxId,
        upload: KemUpload,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        self.write(Guard::Savepoint, Before::Nothing, move |conn| {
            kem_prekeys::upload(conn, mailbox, upload, max_one_time)
        })
        .await
    }

    async fn claim_kem_prekey(
        &self,
        mailbox: MailboxId,
        signed_prekey_id: u32,
    ) -> Result<ClaimedKemPreKey, StoreError> {
        self.write(Guard::Savepoint, Before::Nothing, move |conn| {
            kem_prekeys::claim(conn, mailbox, signed_prekey_id)
        })
        .await
    }

    async fn set_access_verifier(
        &self,
        mailbox: MailboxId,
        verifier: Option<[u8; 32]>,
    ) -> Result<(), StoreError> {
        self.write(Guard::Savepoint, Before::Nothing, move |conn| {
            access::set_verifier(conn, mailbox, verifier)
        })
        .await
    }

    async fn access_verifier(&self, mailbox: MailboxId) -> Result<Option<[u8; 32]>, StoreError> {
        self.read(move |conn| access::verifier(conn, mailbox)).await
    }

    async fn access_verifiers(&self, mailboxes: Vec<MailboxId>) -> Result<Verifiers, StoreError> {
        // One read transaction for all: a thread hand-off per mailbox would cost more than the
        // lookups.
        self.read(move |conn| {
            Ok(mailboxes
                .into_iter()
                .map(|mailbox| access::verifier(conn, mailbox))
                .collect())
        })
        .await
    }

    async fn one_time_prekey_count(&self, mailbox: MailboxId) -> Result<u32, StoreError> {
        self.read(move |conn| ops::one_time_prekey_count(conn, mailbox))
            .await
    }

    async fn enqueue(
        &self,
        deliveries: Vec<(MailboxId, Envelope)>,
        now: u64,
        quota: Quota,
    ) -> Result<Vec<u64>, StoreError> {
        self.write_batch(Guard::None, Before::Nothing, move |batch| {
            batch.enqueue(deliveries, now, quota)
        })
        .await
    }

    async fn enqueue_then<F>(&self, deliveries: Vec<(MailboxId, Envelope)>, now: u64, quota: Quota, done: F)
    where
        F: FnOnce(Result<Vec<u64>, StoreError>) + Send + 'static,
    {
        let operation = move |batch: &mut Batch<'_>| batch.enqueue(deliveries, now, quota);
        match &self.writer {
            Some(writer) => writer.submit_then(Guard::None, operation, done).await,
            None => done(Err(BackendError::Closed.into())),
        }
    }

    async fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        // Memory first, then the database: a flush in between shows a message in both, never
        // in neither (see `recent`).
        let recent = self.recent.snapshot(&mailbox, after, limit);
        if let Some(recent) = recent.as_ref()
            && after.saturating_add(1) >= recent.from_seq
        {
            // Everything asked for is past what the database holds.
            return Ok(recent.messages.clone());
        }
        let hidden = recent
            .as_ref()
            .map_or(after, |recent| recent.acked_through.max(after));
        let mut messages = self
            .read(move |conn| ops::fetch(conn, mailbox, hidden, limit))
            .await?;
        if let Some(recent) = recent {
            let last = messages.last().map_or(hidden, |message| message.seq);
            messages.extend(recent.messages.into_iter().filter(|message| message.seq > last));
            messages.truncate(limit);
        }
        Ok(messages)
    }

    async fn ack(&self, mailbox: MailboxId, through: u64) -> Result<u64, StoreError> {
        self.write_batch(Guard::None, Before::Nothing, move |batch| {
            batch.ack(mailbox, through)
        })
        .await
    }

    async fn purge_expired(&self, cutoff: u64) -> Result<u64, StoreError> {
        self.write(Guard::Savepoint, Before::FlushAndScrub, move |conn| {
            ops::purge_expired(conn, cutoff)
        })
        .await
    }

    async fn delete_mailbox(&self, mailbox: MailboxId) -> Result<(), StoreError> {
        self.write(Guard::Savepoint, Before::FlushAndScrub, move |conn| {
            ops::delete_mailbox(conn, mailbox)
        })
        .await
    }

    async fn publish_device_list(&self, update: DeviceListUpdate) -> Result<(), StoreError> {
        // Flushed first, as for `delete_mailbox`: a list that removes a device deletes its mailbox.
        self.write(Guard::Savepoint, Before::FlushAndScrub, move |conn| {
            device_lists::publish(conn, update)
        })
        .await
    }

    async fn device_list(&self, account: AccountId) -> Result<Option<StoredDeviceList>, StoreError> {
        // One read transaction: the list and its memberships from the same snapshot.
        self.read(move |conn| device_lists::fetch(conn, account)).await
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        // On the writer, which knows what the database does not hold yet; no flush, so a
        // metrics scrape costs no database write.
        self.write_batch(Guard::None, Before::Nothing, |batch: &mut Batch<'_>| {
            batch.queue_depth()
        })
        .await
    }

    async fn shutdown(&self) {
        if let Some(writer) = &self.writer {
            writer.shutdown().await;
        }
    }

    fn stats(&self) -> Option<&StoreStats> {
        Some(&self.stats)
    }
}
