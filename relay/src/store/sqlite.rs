//! [`SqliteStore`]: the relay's embedded default. A WAL-mode database file, one writer thread
//! doing group commit ([`writer`]) and a few read connections used from blocking tasks.

mod ops;
mod schema;
#[cfg(test)]
mod tests;
mod writer;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hush_proto::{MailboxId, OneTimePreKey, SignedPreKey};
use rusqlite::{Connection, OpenFlags};

use tokio::sync::watch;

use self::writer::{Guard, Housekeeping, Writer};
use super::{ClaimedBundle, MailboxStatus, Quota, Store, StoreError, StoredMessage};

/// Acknowledged rows waiting for a sweep before one runs regardless of age. A sweep stalls the
/// writer while it runs: measured on the 2-core dev machine, 1,024 rows take about 2 ms (4,096
/// took 7 ms) and write as few pages per message; 256 rows write 27% more.
const SWEEP_ROWS: u64 = 1024;
/// Longest an acknowledged row waits for its sweep (while the writer runs).
const SWEEP_AFTER: Duration = Duration::from_secs(1);

/// Commits after which the writer checkpoints the WAL into the database file (SQLite's own
/// automatic checkpoint is off: it ran inside a commit, before that batch was answered, every
/// 1,000 pages). A later checkpoint copies a page dirtied by many commits once.
const CHECKPOINT_COMMITS: u32 = 256;
/// Envelope bytes written after which the writer checkpoints regardless (large envelopes).
const CHECKPOINT_BYTES: u64 = 32 * 1024 * 1024;

/// Read connections kept open. Reads are short indexed lookups; a few connections let them run
/// next to each other on a small machine without holding many file handles.
const READ_CONNECTIONS: usize = 4;

/// How hard a commit pushes data to disk (SQLite's `PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// Every commit is fsynced: a stored message survives power loss. The default.
    #[default]
    Full,
    /// Commits are not fsynced (checkpoints are): survives a relay crash, but the last commits
    /// may be lost on power loss. Faster.
    Normal,
}

/// How [`SqliteStore::open`] sets up the database.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Durability of each commit.
    pub synchronous: Synchronous,
    /// Most queued writes committed together in one transaction (one fsync).
    pub batch_max: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            batch_max: 256,
        }
    }
}

/// Mailboxes with acknowledged rows not yet deleted (see [`ops::sweep`]).
#[derive(Debug, Default)]
struct Unswept {
    ids: HashSet<i64>,
    rows: u64,
    /// When the oldest of them was acknowledged.
    since: Option<Instant>,
    /// The store's ticker asked for a sweep whatever the age (the writer had nothing else to do).
    forced: bool,
}

/// Shared by the ack jobs that fill it and the writer's housekeeping that empties it.
#[derive(Debug, Default)]
struct Sweeper {
    unswept: Mutex<Unswept>,
    /// Envelope bytes enqueued since the last checkpoint.
    written: AtomicU64,
    /// Sweeps done, for whoever waits for one.
    swept: watch::Sender<u64>,
}

impl Sweeper {
    fn lock(&self) -> std::sync::MutexGuard<'_, Unswept> {
        // Plain counters and ids: a panic while holding the lock leaves them usable.
        self.unswept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn note(&self, id: i64, rows: u64) {
        let mut unswept = self.lock();
        unswept.ids.insert(id);
        unswept.rows = unswept.rows.saturating_add(rows);
        unswept.since.get_or_insert_with(Instant::now);
    }

    /// Asks the next housekeeping to sweep whatever waits; `false` if nothing does.
    fn force(&self) -> bool {
        let mut unswept = self.lock();
        unswept.forced = unswept.since.is_some();
        unswept.forced
    }

    /// After each batch (answered by then): sweeps when enough rows wait, the oldest waited long
    /// enough, or `closing` (a failed sweep keeps its ids for the next try; the rows stay
    /// invisible meanwhile), and checkpoints the WAL every [`CHECKPOINT_COMMITS`] commits or
    /// [`CHECKPOINT_BYTES`] bytes.
    fn housekeeping(self: Arc<Self>) -> Housekeeping {
        let mut commits = 0u32;
        Box::new(move |conn, closing| {
            commits = commits.saturating_add(1);
            if commits >= CHECKPOINT_COMMITS || self.written.load(Ordering::Relaxed) >= CHECKPOINT_BYTES {
                commits = 0;
                self.written.store(0, Ordering::Relaxed);
                // Passive: never waits on a reader; what it cannot copy now, the next one does.
                let checkpointed = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                if let Err(error) = checkpointed {
                    tracing::warn!(error = %backend(error), "WAL checkpoint failed; will retry");
                }
            }
            self.sweep_if_due(conn, closing);
        })
    }

    fn sweep_if_due(&self, conn: &mut Connection, closing: bool) {
        let ids = {
            let mut unswept = self.lock();
            let due = unswept.since.is_some_and(|since| {
                closing || unswept.forced || unswept.rows >= SWEEP_ROWS || since.elapsed() >= SWEEP_AFTER
            });
            if !due {
                return;
            }
            unswept.rows = 0;
            unswept.since = None;
            unswept.forced = false;
            std::mem::take(&mut unswept.ids)
        };
        let swept = conn
            .transaction()
            .map_err(backend)
            .and_then(|tx| ops::sweep(&tx, ids.iter().copied()).and_then(|_| tx.commit().map_err(backend)));
        match swept {
            Ok(()) => self.swept.send_modify(|sweeps| *sweeps += 1),
            Err(error) => {
                tracing::warn!(%error, "deleting acknowledged messages failed; will retry");
                let mut unswept = self.lock();
                unswept.ids.extend(ids);
                unswept.since.get_or_insert_with(Instant::now);
            }
        }
    }

    fn wrote(&self, deliveries: &[(MailboxId, Vec<u8>)]) {
        let bytes: usize = deliveries.iter().map(|(_, envelope)| envelope.len()).sum();
        self.written.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// A [`Store`] in one SQLite database file (plus its `-wal` and `-shm`).
#[derive(Debug)]
pub struct SqliteStore {
    /// `None` only once closed or dropped.
    writer: Option<Writer>,
    sweeper: Arc<Sweeper>,
    /// Shared with the blocking tasks that use them.
    readers: Arc<[Mutex<Connection>]>,
    next_reader: AtomicUsize,
}

/// A backend failure, described without any stored data: SQLite's messages name tables and
/// columns, never bound values.
fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("sqlite: {error}"))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, migrates its schema and starts the
    /// writer thread. Opened inside a tokio runtime, the store hands out write results from a
    /// task on that runtime (the writer thread answered directly once it has shut down).
    pub fn open(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(backend)?;
        schema::configure_writer(&conn, options.synchronous)?;
        schema::migrate(&mut conn)?;
        // Acks whose sweep a crash cut short.
        ops::sweep_all(&conn)?;
        let readers = (0..READ_CONNECTIONS)
            .map(|_| {
                let reader = Connection::open_with_flags(
                    path,
                    // Read-write without create (`query_only` forbids writes): WAL readers
                    // need write access to the shared-memory index.
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(backend)?;
                schema::configure_reader(&reader)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Arc<[_]>, StoreError>>()?;
        let sweeper = Arc::new(Sweeper::default());
        let writer = Writer::spawn(conn, options.batch_max, sweeper.clone().housekeeping())?;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // Housekeeping runs after a batch; when no writes come, a no-op write brings it.
            let queue = writer.weak_queue();
            let sweeper = Arc::downgrade(&sweeper);
            runtime.spawn(async move {
                let mut ticks = tokio::time::interval(SWEEP_AFTER);
                loop {
                    ticks.tick().await;
                    let (Some(queue), Some(sweeper)) = (queue.upgrade(), sweeper.upgrade()) else {
                        return;
                    };
                    if sweeper.force() {
                        let (job, _) = writer::job(Guard::None, |_: &Connection| Ok(()));
                        let _ = queue.send(job).await;
                    }
                }
            });
        }
        Ok(Self {
            writer: Some(writer),
            sweeper,
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// Stops accepting writes, waits until every queued write is committed and the writer thread
    /// has exited. For graceful shutdown; dropping the store also lets queued writes finish, but
    /// without waiting.
    pub async fn close(mut self) -> Result<(), StoreError> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let thread = writer.stop();
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|_| StoreError::Backend("waiting for the store writer failed".to_owned()))?
            .map_err(|_| StoreError::Backend("the store writer thread panicked".to_owned()))
    }

    async fn write<T, F>(&self, guard: Guard, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.submit(guard, operation).await,
            None => Err(StoreError::Backend("the store is closed".to_owned())),
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
                return Err(StoreError::Backend("no read connection".to_owned()));
            };
            // A panic cannot happen while a connection is in use (no code here panics), and a
            // read leaves nothing half-done: a poisoned lock is safe to take.
            let mut conn = reader.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = conn.transaction().map_err(backend)?;
            let result = operation(&tx);
            // Read-only: ending the transaction is all `finish` does here.
            tx.finish().map_err(backend)?;
            result
        })
        .await
        .map_err(|_| StoreError::Backend("a store read task failed".to_owned()))?
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

impl Store for SqliteStore {
    async fn register(&self, mailbox: MailboxId, identity_key: [u8; 32], now: u64) -> Result<(), StoreError> {
        self.write(Guard::Savepoint, move |conn| {
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
        self.write(Guard::Savepoint, move |conn| {
            ops::upload_prekeys(conn, mailbox, signed_prekey, one_time, max_one_time)
        })
        .await
    }

    async fn claim_bundle(&self, mailbox: MailboxId) -> Result<ClaimedBundle, StoreError> {
        self.write(Guard::Savepoint, move |conn| ops::claim_bundle(conn, mailbox))
            .await
    }

    async fn one_time_prekey_count(&self, mailbox: MailboxId) -> Result<u32, StoreError> {
        self.read(move |conn| ops::one_time_prekey_count(conn, mailbox))
            .await
    }

    async fn enqueue(
        &self,
        deliveries: Vec<(MailboxId, Vec<u8>)>,
        now: u64,
        quota: Quota,
    ) -> Result<Vec<u64>, StoreError> {
        self.sweeper.wrote(&deliveries);
        self.write(Guard::None, move |conn| {
            ops::enqueue(conn, deliveries, now, quota)
        })
        .await
    }

    async fn enqueue_then<F>(&self, deliveries: Vec<(MailboxId, Vec<u8>)>, now: u64, quota: Quota, done: F)
    where
        F: FnOnce(Result<Vec<u64>, StoreError>) + Send + 'static,
    {
        self.sweeper.wrote(&deliveries);
        let operation = move |conn: &Connection| ops::enqueue(conn, deliveries, now, quota);
        match &self.writer {
            Some(writer) => writer.submit_then(Guard::None, operation, done).await,
            None => done(Err(StoreError::Backend("the store is closed".to_owned()))),
        }
    }

    async fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.read(move |conn| ops::fetch(conn, mailbox, after, limit))
            .await
    }

    async fn ack(&self, mailbox: MailboxId, through: u64) -> Result<u64, StoreError> {
        let sweeper = self.sweeper.clone();
        self.write(Guard::None, move |conn| {
            let (acked, id) = ops::ack(conn, mailbox, through)?;
            if acked > 0 {
                sweeper.note(id, acked);
            }
            Ok(acked)
        })
        .await
    }

    async fn purge_expired(&self, cutoff: u64) -> Result<u64, StoreError> {
        self.write(Guard::Savepoint, move |conn| ops::purge_expired(conn, cutoff))
            .await
    }

    async fn delete_mailbox(&self, mailbox: MailboxId) -> Result<(), StoreError> {
        self.write(Guard::Savepoint, move |conn| ops::delete_mailbox(conn, mailbox))
            .await
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        self.read(ops::queue_depth).await
    }
}
