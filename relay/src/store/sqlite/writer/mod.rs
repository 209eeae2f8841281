//! Group commit. One thread owns the write connection and the message journal; callers queue
//! operations to it and get the result once it is durable. The thread takes whatever has queued
//! up (at most `batch_max`) and runs it as one batch:
//!
//! - database operations (registration, prekeys, purges) run in one transaction, each in a
//!   savepoint unless it needs none ([`Guard`]), committed once;
//! - enqueues and acks do not touch the database: they append records to the batch's part of the
//!   message journal ([`super::journal`]), which is written and fsynced once, after the commit;
//! - then every job is answered, and the batch's messages and acks become visible to reads
//!   ([`super::recent`]).
//!
//! Under load many writes share one fsync: a batch starts at most once per commit delay
//! (`SqliteOptions::commit_delay`), and what arrives meanwhile joins the next one; alone, a
//! write is stored as soon as it arrives. The store's flush ticks (two a second, [`FLUSH_TICK`])
//! reach the thread as jobs. A change still unflushed at two ticks in a row, so between one and
//! two periods old, is flushed at the second, with whatever came after it; everything is flushed
//! before an operation that needs the database complete, such as deleting a mailbox. A flush
//! moves what is still unacknowledged into the database in one transaction and empties the
//! journal: a message acknowledged before that never costs a database write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hush_proto::MailboxId;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, watch};

use super::journal::Journal;
use super::recent::{Effect, Recent};
use super::{Synchronous, backend, ops};
use crate::metrics::{Metrics, StoreStats};
use crate::store::StoreError;

/// Period of the store's flush ticks: a change waits in the journal between one and two of them
/// before a flush moves it into the database ([`Core::tick`]). Long enough that almost every
/// message is delivered and acknowledged first (then it is never written to the database at
/// all), short enough that the journal replayed after a crash, and the memory holding
/// unacknowledged messages, stay small.
pub(super) const FLUSH_TICK: Duration = Duration::from_millis(500);
/// Journal size that brings a flush regardless of age: bounds the memory that holds the
/// unacknowledged part of it, and the replay after a crash, under a burst of large envelopes.
pub(super) const FLUSH_BYTES: u64 = 32 * 1024 * 1024;
/// Unacknowledged messages held in memory that bring a flush regardless of age. A flush
/// inserts each of them as a row, about 2 µs apiece on the 2-core dev machine (10,000 took
/// 19 ms), while the writer answers nothing else: this bounds that stall to about 8 ms when
/// many messages wait for offline recipients.
pub(super) const FLUSH_MESSAGES: usize = 4096;
/// Database commits after which the writer checkpoints the WAL (it also does after each flush).
/// SQLite's own automatic checkpoint is off: it ran inside a commit, before that batch was
/// answered.
pub(super) const CHECKPOINT_COMMITS: u32 = 256;

/// How a failing operation is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Guard {
    /// Runs in its own savepoint, rolled back if it fails: the operation may refuse after it
    /// has written.
    Savepoint,
    /// Runs without one. The operation must refuse (any error but [`StoreError::Backend`])
    /// before it writes anything; a backend error may come after a partial write, so it
    /// abandons the whole batch, whose jobs all get the error. Enqueues and acks, which write
    /// only to the journal, are such operations.
    None,
}

/// What the writer does before a job's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Before {
    /// Nothing: the job works on journal and memory as they are.
    Nothing,
    /// Flushes everything into the database first (tests that look at the rows).
    #[cfg(test)]
    Flush,
    /// A flush tick ([`FLUSH_TICK`]) has come: flushes first what has waited since the previous
    /// one ([`Core::tick`]).
    Tick,
    /// Flushes, then zeroes what the journal file still holds of earlier cycles: the job must
    /// leave no ciphertext behind (deleting a mailbox, purging expired messages).
    FlushAndScrub,
}

/// What running a job did to the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ran {
    /// Succeeded; its changes stay.
    Succeeded,
    /// Failed; undo its savepoint, or nothing if it had none (it refused before writing).
    Failed,
    /// Failed with a backend error without a savepoint: the batch may hold part of it.
    Broke,
}

/// An operation queued for the writer, with the channel its result goes back on.
pub(super) trait WriteJob: Send {
    /// How a failure of this job is undone.
    fn guard(&self) -> Guard;

    /// What the writer must do before the job's batch.
    fn before(&self) -> Before;

    /// Runs the operation (inside its savepoint, if it has one).
    fn run(&mut self, batch: &mut Batch<'_>) -> Ran;

    /// Sends the result: the operation's own, or `batch_error` if the batch did not commit (then
    /// nothing of it was stored).
    fn reply(self: Box<Self>, batch_error: Option<&str>);
}

/// A mailbox's queue as the writer knows it: loaded from the database at first use after a
/// flush, then kept here (the database row is brought up to date at the next flush).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Queue {
    /// The mailbox's integer id in the database.
    pub(super) id: i64,
    /// The next sequence number to hand out.
    pub(super) next_seq: u64,
    /// Sequence numbers below this one are durable and visible to reads.
    pub(super) durable_next: u64,
    /// Sequence numbers below this one are in the database (or were deleted from it).
    pub(super) flushed_next: u64,
    /// Unacknowledged messages queued, and their envelope bytes.
    pub(super) count: u64,
    /// `count` as the database row holds it (it changes there only at a flush, which drops
    /// every queue the writer holds).
    pub(super) flushed_count: u64,
    pub(super) bytes: u64,
    /// The owner's acknowledgement.
    pub(super) acked_through: u64,
    /// The acknowledgement the database row holds.
    pub(super) flushed_acked: u64,
    /// Changed since it was loaded: the next flush writes it back.
    pub(super) dirty: bool,
}

/// What the writer keeps between batches, besides its connection and journal.
#[derive(Debug)]
pub(super) struct State {
    queues: HashMap<MailboxId, Queue>,
    /// The batch's journal records, written after its database commit.
    records: Vec<u8>,
    /// The batch's changes to [`Recent`], applied once the batch is durable.
    effects: Vec<Effect>,
    /// How to restore `queues` if the batch fails: each entry as it was before a change.
    undo: Vec<(MailboxId, Option<Queue>)>,
    recent: Arc<Recent>,
}

/// What a job sees of the writer while it runs.
pub(super) struct Batch<'a> {
    conn: &'a Connection,
    in_transaction: bool,
    state: &'a mut State,
}

impl<'a> Batch<'a> {
    /// The connection, inside the batch's transaction (begun here on first use).
    pub(super) fn sql(&mut self) -> Result<&'a Connection, StoreError> {
        if !self.in_transaction {
            self.conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
            self.in_transaction = true;
        }
        Ok(self.conn)
    }

    /// The connection for reads, inside the batch's transaction if one is open (then reads see
    /// the batch's own changes) and without starting one if not.
    pub(super) fn read(&self) -> &'a Connection {
        self.conn
    }

    /// The mailbox's queue, loaded if this is its first use since the last flush;
    /// `UnknownMailbox` if it is not registered.
    pub(super) fn queue(&mut self, mailbox: &MailboxId) -> Result<Queue, StoreError> {
        if let Some(queue) = self.state.queues.get(mailbox) {
            return Ok(*queue);
        }
        // Plain reads need no transaction; inside one, they see the batch's own changes (a
        // registration earlier in it), which the undo list forgets if the batch fails.
        let queue = ops::load_queue(self.read(), mailbox)?;
        self.state.queues.insert(*mailbox, queue);
        self.state.undo.push((*mailbox, None));
        Ok(queue)
    }

    /// Replaces the mailbox's queue (undone if the batch fails).
    pub(super) fn set_queue(&mut self, mailbox: MailboxId, queue: Queue) {
        let before = self.state.queues.insert(mailbox, queue);
        self.state.undo.push((mailbox, before));
    }

    /// Every queue the writer holds (loaded since the last flush).
    pub(super) fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.state.queues.values()
    }

    /// The batch's journal records, to append to.
    pub(super) fn records(&mut self) -> &mut Vec<u8> {
        &mut self.state.records
    }

    /// A change to reads, made once the batch is durable.
    pub(super) fn effect(&mut self, effect: Effect) {
        self.state.effects.push(effect);
    }

    /// Durable messages not yet flushed.
    pub(super) fn recent(&self) -> &Recent {
        &self.state.recent
    }
}

/// A [`WriteJob`] from a closure, with what to do with its result.
struct Job<T, F, D> {
    guard: Guard,
    before: Before,
    operation: Option<F>,
    result: Option<Result<T, StoreError>>,
    done: D,
}

/// A job for `operation` and the receiver its result arrives on.
pub(super) fn job<T, F>(
    guard: Guard,
    before: Before,
    operation: F,
) -> (Box<dyn WriteJob>, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, receiver) = oneshot::channel();
    // The caller may have given up waiting (its future dropped); the write stands anyway.
    let job = job_then(guard, before, operation, move |result| drop(reply.send(result)));
    (job, receiver)
}

/// A job for `operation` whose result goes to `done`, called on the thread or task that answers
/// committed batches.
pub(super) fn job_then<T, F, D>(guard: Guard, before: Before, operation: F, done: D) -> Box<dyn WriteJob>
where
    T: Send + 'static,
    F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    D: FnOnce(Result<T, StoreError>) + Send + 'static,
{
    Box::new(Job {
        guard,
        before,
        operation: Some(operation),
        result: None,
        done,
    })
}

impl<T, F, D> WriteJob for Job<T, F, D>
where
    T: Send,
    F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send,
    D: FnOnce(Result<T, StoreError>) + Send,
{
    fn guard(&self) -> Guard {
        self.guard
    }

    fn before(&self) -> Before {
        self.before
    }

    fn run(&mut self, batch: &mut Batch<'_>) -> Ran {
        let Some(operation) = self.operation.take() else {
            return Ran::Failed;
        };
        let result = operation(batch);
        let ran = match (&result, self.guard) {
            (Ok(_), _) => Ran::Succeeded,
            (Err(StoreError::Backend(_)), Guard::None) => Ran::Broke,
            (Err(_), _) => Ran::Failed,
        };
        self.result = Some(result);
        ran
    }

    fn reply(self: Box<Self>, batch_error: Option<&str>) {
        let result = match (batch_error, self.result) {
            (Some(error), _) => Err(StoreError::Backend(error.to_owned())),
            (None, Some(result)) => result,
            (None, None) => Err(StoreError::Backend("the write was not run".to_owned())),
        };
        (self.done)(result);
    }
}

/// The writer's side of the store: connection, journal and state. Runs on the writer thread;
/// tests drive it directly.
#[derive(Debug)]
pub(super) struct Core {
    conn: Connection,
    journal: Journal,
    synchronous: Synchronous,
    state: State,
    /// Set when a journal write or fsync failed: what reached the disk is unknown (a failed
    /// fsync may even have dropped earlier data from the page cache), so the store refuses every
    /// later write until the relay restarts and replays what the journal holds.
    broken: Option<String>,
    /// Changes not yet flushed were there at the previous flush tick already: the next tick
    /// flushes them.
    stale: bool,
    commits: u32,
    /// A flush was committed since the last WAL checkpoint.
    checkpoint_due: bool,
    flushes: watch::Sender<u64>,
    /// Group-commit figures for the metrics endpoint.
    stats: Arc<StoreStats>,
}

impl Core {
    pub(super) fn new(
        conn: Connection,
        journal: Journal,
        synchronous: Synchronous,
        recent: Arc<Recent>,
    ) -> Self {
        Self {
            conn,
            journal,
            synchronous,
            state: State {
                queues: HashMap::new(),
                records: Vec::new(),
                effects: Vec::new(),
                undo: Vec::new(),
                recent,
            },
            broken: None,
            stale: false,
            commits: 0,
            checkpoint_due: false,
            flushes: watch::Sender::new(0),
            stats: Arc::default(),
        }
    }

    /// The store's group-commit figures, which this writer keeps up to date.
    pub(super) fn stats(&self) -> Arc<StoreStats> {
        Arc::clone(&self.stats)
    }

    /// Flushes done so far, for whoever waits for one.
    #[cfg(test)]
    pub(super) fn flushes(&self) -> watch::Receiver<u64> {
        self.flushes.subscribe()
    }

    /// Runs `batch` and makes it durable: a failing job (over quota, unknown mailbox) is undone
    /// alone, anything else fails the whole batch, whose jobs then all get that error.
    pub(super) fn run_batch(&mut self, mut batch: Vec<Box<dyn WriteJob>>) -> Committed {
        let error = match &self.broken {
            Some(broken) => Some(broken.clone()),
            None => self.run_jobs(&mut batch).err(),
        };
        if error.is_some() {
            self.abandon();
        }
        Committed { batch, error }
    }

    fn run_jobs(&mut self, batch: &mut [Box<dyn WriteJob>]) -> Result<(), String> {
        let mut context = Batch {
            conn: &self.conn,
            in_transaction: false,
            state: &mut self.state,
        };
        let ran = run_each(&mut context, batch);
        let jobs = batch.len() as u64;
        let in_transaction = context.in_transaction;
        let committed = ran.and_then(|()| {
            if in_transaction {
                self.commits = self.commits.saturating_add(1);
                self.conn.execute_batch("COMMIT").map_err(describe)
            } else {
                Ok(())
            }
        });
        if let Err(error) = committed {
            if in_transaction {
                // Nothing of the batch stays; a failed rollback leaves SQLite to roll back itself.
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            return Err(error);
        }
        let journaled = !self.state.records.is_empty();
        if journaled {
            let sync = self.synchronous == Synchronous::Full;
            let started = Instant::now();
            let appended = self.journal.append(&self.state.records, sync);
            self.stats.sync.observe(started.elapsed());
            if let Err(error) = appended {
                let message = format!("the message journal failed ({error}); restart the relay");
                tracing::error!(%error, "writing the message journal failed; the store refuses writes until restarted");
                self.broken = Some(message.clone());
                return Err(message);
            }
        }
        // Durable: the changes become visible.
        if journaled || in_transaction {
            Metrics::add(&self.stats.batches, 1);
            Metrics::add(&self.stats.writes, jobs);
        }
        self.state.records.clear();
        self.state.undo.clear();
        let effects = std::mem::take(&mut self.state.effects);
        for effect in &effects {
            if let Effect::Stored {
                mailbox, messages, ..
            } = effect
                && let (Some(queue), Some(last)) = (self.state.queues.get_mut(mailbox), messages.last())
            {
                queue.durable_next = queue.durable_next.max(last.seq.saturating_add(1));
            }
        }
        self.state.recent.apply(effects);
        Ok(())
    }

    /// Forgets a failed batch's changes to the writer's state.
    fn abandon(&mut self) {
        self.state.records.clear();
        self.state.effects.clear();
        while let Some((mailbox, before)) = self.state.undo.pop() {
            match before {
                Some(queue) => self.state.queues.insert(mailbox, queue),
                None => self.state.queues.remove(&mailbox),
            };
        }
    }

    /// Moves everything not yet in the database into it, in one transaction, then empties the
    /// journal and the in-memory part. On failure nothing changes and a later flush retries.
    pub(super) fn flush(&mut self) -> Result<(), StoreError> {
        if let Some(broken) = &self.broken {
            return Err(StoreError::Backend(broken.clone()));
        }
        if !self.unflushed() {
            // Only loaded, unchanged queues: dropping them bounds memory to busy mailboxes.
            self.state.queues.clear();
            return Ok(());
        }
        let tx = self.conn.transaction().map_err(backend)?;
        ops::flush(&tx, &self.state.queues, &self.state.recent)?;
        tx.commit().map_err(backend)?;
        self.commits = self.commits.saturating_add(1);
        self.checkpoint_due = true;
        self.state.recent.clear();
        self.state.queues.clear();
        self.stale = false;
        if let Err(error) = self.journal.reset() {
            // Which header reached the disk is unknown; the journal refuses appends from now on,
            // so the store refuses writes (see `broken`) rather than journal into a generation
            // replay might ignore. Replay skips whatever the database already holds.
            tracing::error!(%error, "starting the message journal over failed");
        }
        self.flushes.send_modify(|flushes| *flushes += 1);
        Ok(())
    }

    /// A flush tick: flushes if changes already unflushed at the previous tick still are (they
    /// have waited at least one period, at most two); otherwise notes whether changes wait now.
    /// A failed flush is retried at the next tick.
    pub(super) fn tick(&mut self) {
        if self.stale {
            self.flush_or_warn();
        }
        self.stale = self.unflushed();
    }

    /// [`Core::flush`] where a failure is only logged: whatever asked for it retries later.
    fn flush_or_warn(&mut self) {
        if let Err(error) = self.flush() {
            tracing::warn!(%error, "moving journaled messages into the database failed; will retry");
        }
    }

    /// Whether anything is not yet in the database: journaled records, or queues changed since
    /// they were loaded.
    fn unflushed(&self) -> bool {
        self.journal.len() > 0 || self.state.queues.values().any(|queue| queue.dirty)
    }

    /// After a flush: zeroes the journal's earlier cycles (see [`Journal::scrub`]).
    pub(super) fn scrub(&mut self) -> Result<(), StoreError> {
        self.journal
            .scrub()
            .map_err(|error| StoreError::Backend(format!("cannot scrub the message journal: {error}")))
    }

    /// Copies the WAL into the database and empties it, so the page images it holds of rows
    /// just deleted (overwritten in the database by `secure_delete`) are gone from the files.
    fn truncate_wal(&mut self) {
        let truncated = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        if let Err(error) = truncated {
            tracing::warn!(error = %backend(error), "emptying the WAL after a delete failed");
        }
    }

    /// After each batch (answered by then): flushes when the journal holds [`FLUSH_BYTES`],
    /// memory holds [`FLUSH_MESSAGES`] unacknowledged messages, or `closing` (age is the flush
    /// ticks' business, [`Core::tick`]); checkpoints the WAL after a flush or every
    /// [`CHECKPOINT_COMMITS`] commits.
    pub(super) fn housekeeping(&mut self, closing: bool) {
        let due = closing || self.journal.len() >= FLUSH_BYTES || self.state.recent.len() >= FLUSH_MESSAGES;
        if due {
            self.flush_or_warn();
        }
        if self.commits >= CHECKPOINT_COMMITS || self.checkpoint_due {
            self.commits = 0;
            self.checkpoint_due = false;
            // Passive: never waits on a reader; what it cannot copy now, the next one does.
            let checkpointed = self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            if let Err(error) = checkpointed {
                tracing::warn!(error = %backend(error), "WAL checkpoint failed; will retry");
            }
        }
    }

    /// The connection, for tests that look at the database directly.
    #[cfg(test)]
    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Runs each job, in its savepoint if it has one.
fn run_each(batch: &mut Batch<'_>, jobs: &mut [Box<dyn WriteJob>]) -> Result<(), String> {
    for job in jobs {
        match job.guard() {
            Guard::Savepoint => {
                let conn = batch.sql().map_err(|error| error.to_string())?;
                conn.execute_batch("SAVEPOINT job").map_err(describe)?;
                let end = if job.run(batch) == Ran::Succeeded {
                    "RELEASE job"
                } else {
                    "ROLLBACK TO job; RELEASE job"
                };
                conn.execute_batch(end).map_err(describe)?;
            }
            Guard::None => {
                if job.run(batch) == Ran::Broke {
                    return Err("a write failed part-way; its batch was rolled back".to_owned());
                }
            }
        }
    }
    Ok(())
}

fn describe(error: rusqlite::Error) -> String {
    match backend(error) {
        StoreError::Backend(message) => message,
        other => other.to_string(),
    }
}

/// How the writer thread spaces its batches out.
pub(super) trait Pace: Send + 'static {
    /// Called before each batch but the first, with when the one before it started; returns
    /// once the next batch may start. Writes that arrive meanwhile join it.
    fn wait(&mut self, previous: Instant);
}

/// The relay's pace: a batch starts at most once per commit delay
/// (`SqliteOptions::commit_delay`).
#[derive(Debug, Clone, Copy)]
pub(super) struct CommitDelay(pub(super) Duration);

impl Pace for CommitDelay {
    fn wait(&mut self, previous: Instant) {
        if let Some(rest) = remaining(previous.elapsed(), self.0) {
            std::thread::sleep(rest);
        }
    }
}

/// What is left of `delay` once `since` has passed, if anything.
fn remaining(since: Duration, delay: Duration) -> Option<Duration> {
    delay.checked_sub(since).filter(|rest| !rest.is_zero())
}

/// The writer thread and the queue into it.
#[derive(Debug)]
pub(super) struct Writer {
    queue: mpsc::Sender<Box<dyn WriteJob>>,
    /// `None` once taken by [`Writer::shutdown`].
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Asks the thread to stop taking jobs once it has run those already queued.
    stopping: Arc<AtomicBool>,
}

impl Writer {
    /// Starts the thread. It runs until every [`Writer`] handle to the queue is gone and the
    /// queue is drained, then flushes a last time.
    pub(super) fn spawn(core: Core, batch_max: usize, mut pace: Box<dyn Pace>) -> Result<Self, StoreError> {
        let batch_max = batch_max.max(1);
        // Bounded, so a flood of writers waits (asynchronously) instead of growing memory.
        let (queue, receiver) = mpsc::channel(batch_max.saturating_mul(4));
        let replies = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            // Unbounded, but each job in it has a caller still waiting for it, as in the queue.
            let (replies, committed) = mpsc::unbounded_channel();
            runtime.spawn(reply_to_each(committed));
            replies
        });
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let thread = std::thread::Builder::new()
            .name("hush-store-writer".to_owned())
            .spawn(move || run(core, receiver, batch_max, pace.as_mut(), replies, &stop))
            .map_err(|error| StoreError::Backend(format!("cannot start the store writer thread: {error}")))?;
        Ok(Self {
            queue,
            thread: Mutex::new(Some(thread)),
            stopping,
        })
    }

    /// Queues `operation` and waits for its durable result.
    pub(super) async fn submit<T, F>(
        &self,
        guard: Guard,
        before: Before,
        operation: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (job, receiver) = job(guard, before, operation);
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::Backend("the store writer has stopped".to_owned()))?;
        receiver
            .await
            .map_err(|_| StoreError::Backend("the store writer stopped before replying".to_owned()))?
    }

    /// Queues `operation`; `done` gets its durable result. Returns once queued (waiting for
    /// room when the queue is full).
    pub(super) async fn submit_then<T, F, D>(&self, guard: Guard, operation: F, done: D)
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        if let Err(mpsc::error::SendError(job)) = self
            .queue
            .send(job_then(guard, Before::Nothing, operation, done))
            .await
        {
            job.reply(Some("the store writer has stopped"));
        }
    }

    /// A handle on the queue that does not keep the writer running.
    pub(super) fn weak_queue(&self) -> mpsc::WeakSender<Box<dyn WriteJob>> {
        self.queue.downgrade()
    }

    /// Closes the queue; the thread finishes what is queued, flushes and exits. Returns the
    /// thread to join, for a caller that wants to wait (none if [`Writer::shutdown`] took it).
    pub(super) fn stop(self) -> Option<JoinHandle<()>> {
        drop(self.queue);
        self.thread.into_inner().unwrap_or_else(PoisonError::into_inner)
    }

    /// Through a shared reference: the thread runs what is already queued, flushes, closes the
    /// database and the journal, and exits; later writes fail. Waits for all of that.
    pub(super) async fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        // Wakes a thread waiting for work, so it sees the flag.
        let (wake, _) = job(Guard::None, Before::Nothing, |_: &mut Batch<'_>| Ok(()));
        let _ = self.queue.send(wake).await;
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// A batch after it was made durable (or failed), with the jobs still to be answered.
pub(super) struct Committed {
    batch: Vec<Box<dyn WriteJob>>,
    /// Why nothing of the batch was stored, if so.
    error: Option<String>,
}

impl Committed {
    pub(super) fn reply(self) {
        for job in self.batch {
            job.reply(self.error.as_deref());
        }
    }
}

/// Answers committed batches from inside the runtime. Waking a waiting task from the writer
/// thread can cost a system call each (to unpark an idle worker), paid on the one thread every
/// write waits for; handing over the whole batch costs one wake-up, and the tasks it wakes
/// from here go to a worker's own queue.
async fn reply_to_each(mut committed: mpsc::UnboundedReceiver<Committed>) {
    while let Some(batch) = committed.recv().await {
        batch.reply();
    }
}

/// The writer thread's loop. Before each batch but the first it waits as `pace` says (in the
/// relay, a batch starts at most once per commit delay): under load the writes that arrive
/// meanwhile queue up and share the next batch and its one fsync, which costs each of them up to
/// the delay in latency and saves the CPU of the fsyncs, wake-ups and context switches that many
/// small batches take. A write that finds the writer idle for longer than that starts at once.
/// While the store stops, batches are not paced.
fn run(
    mut core: Core,
    mut receiver: mpsc::Receiver<Box<dyn WriteJob>>,
    batch_max: usize,
    pace: &mut dyn Pace,
    replies: Option<mpsc::UnboundedSender<Committed>>,
    stopping: &AtomicBool,
) {
    // A job that needs a flush first, held back from the batch before it.
    let mut held: Option<Box<dyn WriteJob>> = None;
    let mut batch_started: Option<Instant> = None;
    loop {
        if let Some(started) = batch_started
            && !stopping.load(Ordering::Acquire)
        {
            pace.wait(started);
        }
        let first = match held.take() {
            Some(job) => job,
            None => match receiver.blocking_recv() {
                Some(job) => job,
                None => break,
            },
        };
        let scrubbing = first.before() == Before::FlushAndScrub;
        let prepared = match first.before() {
            Before::Nothing => Ok(()),
            #[cfg(test)]
            Before::Flush => core.flush(),
            Before::Tick => {
                core.tick();
                Ok(())
            }
            Before::FlushAndScrub => core.flush().and_then(|()| core.scrub()),
        };
        if let Err(error) = prepared {
            first.reply(Some(&error.to_string()));
            continue;
        }
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match receiver.try_recv() {
                Ok(job) if job.before() != Before::Nothing => {
                    held = Some(job);
                    break;
                }
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        batch_started = Some(Instant::now());
        let committed = core.run_batch(batch);
        if scrubbing {
            // Before the answer: the WAL still holds the deleted rows' old pages.
            core.truncate_wal();
        }
        match &replies {
            // The runtime the store was opened on answers; if it has shut down, answer here.
            Some(replies) => {
                if let Err(mpsc::error::SendError(committed)) = replies.send(committed) {
                    committed.reply();
                }
            }
            None => committed.reply(),
        }
        core.housekeeping(false);
        if stopping.load(Ordering::Acquire) {
            // Refuses new jobs; those already queued still come out of `blocking_recv`.
            receiver.close();
        }
    }
    core.housekeeping(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_delay_waits_only_for_what_is_left_of_it() {
        let delay = Duration::from_micros(500);
        assert_eq!(
            remaining(Duration::from_micros(200), delay),
            Some(Duration::from_micros(300))
        );
        assert_eq!(remaining(delay, delay), None, "exactly the delay has passed");
        assert_eq!(
            remaining(Duration::from_millis(3), delay),
            None,
            "idle longer than the delay"
        );
        assert_eq!(
            remaining(Duration::ZERO, Duration::ZERO),
            None,
            "no delay configured"
        );
    }
}
