//! When the writer moves what the journal and memory hold into the database, and what that move
//! writes. A change still unflushed at two flush ticks in a row, so between one and two periods
//! old, is flushed at the second, with whatever came after it; a full journal or memory, closing,
//! and an operation that needs the database complete (deleting a mailbox) flush at once. A flush
//! is one transaction and empties the journal: a message acknowledged before it never costs a
//! database write.

use std::time::Duration;

use rusqlite::{Connection, params};
use tokio::sync::watch;

use crate::store::sqlite::batch::Pending;
use crate::store::sqlite::journal::{CAPACITY, Journal};
use crate::store::{BackendError, to_sql};

/// Period of the store's flush ticks: a change waits in the journal between one and two of them
/// before a flush moves it into the database. Long enough that almost every message is
/// delivered and acknowledged first (then it is never written to the database at all), short
/// enough that the journal replayed after a crash, and the memory holding unacknowledged
/// messages, stay small.
pub(in crate::store::sqlite) const FLUSH_TICK: Duration = Duration::from_millis(500);
/// Journal size that brings a flush regardless of age: bounds the memory that holds the
/// unacknowledged part of it, and the replay after a crash, under a burst of large envelopes.
pub(in crate::store::sqlite) const FLUSH_BYTES: u64 = 32 * 1024 * 1024;
/// Unacknowledged messages held in memory that bring a flush regardless of age. A flush inserts
/// each of them as a row while the writer answers nothing else: this bounds that stall (a few
/// milliseconds, see bench/README.md) when many messages wait for offline recipients.
pub(in crate::store::sqlite) const FLUSH_MESSAGES: usize = 4096;
/// Database commits after which the writer checkpoints the WAL (it also does after each flush).
/// SQLite's own automatic checkpoint is off: it ran inside a commit, before that batch was
/// answered.
pub(in crate::store::sqlite) const CHECKPOINT_COMMITS: u32 = 256;

// The store resets the journal before it outgrows the preallocated space.
const _: () = assert!(FLUSH_BYTES + (8 << 20) <= CAPACITY);

/// The writer's flush and checkpoint bookkeeping.
#[derive(Debug)]
pub(super) struct Flushes {
    /// Changes not yet flushed were there at the previous flush tick already: the next tick
    /// flushes them.
    stale: bool,
    /// Database commits since the last WAL checkpoint.
    commits: u32,
    /// A flush was committed since the last WAL checkpoint.
    checkpoint_due: bool,
    /// Flushes done so far.
    done: watch::Sender<u64>,
}

impl Flushes {
    pub(super) fn new() -> Self {
        Self {
            stale: false,
            commits: 0,
            checkpoint_due: false,
            done: watch::Sender::new(0),
        }
    }

    /// Flushes done so far, for whoever waits for one.
    #[cfg(test)]
    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.done.subscribe()
    }

    /// A database commit of a batch.
    pub(super) fn committed(&mut self) {
        self.commits = self.commits.saturating_add(1);
    }

    /// Whether unflushed changes were there at the previous tick already.
    pub(super) fn stale(&self) -> bool {
        self.stale
    }

    /// After a tick: notes whether changes wait now.
    pub(super) fn ticked(&mut self, unflushed: bool) {
        self.stale = unflushed;
    }

    /// Whether a flush is due regardless of age (closing, or the journal or memory is full).
    pub(super) fn due(journal: &Journal, pending: &Pending, closing: bool) -> bool {
        closing || journal.len() >= FLUSH_BYTES || pending.recent().len() >= FLUSH_MESSAGES
    }

    /// Moves everything not yet in the database into it, in one transaction, then empties the
    /// journal and the in-memory part. On failure nothing changes and a later flush retries.
    pub(super) fn flush(
        &mut self,
        conn: &mut Connection,
        journal: &mut Journal,
        pending: &mut Pending,
    ) -> Result<(), BackendError> {
        let tx = conn.transaction()?;
        write_back(&tx, pending)?;
        tx.commit()?;
        self.committed();
        self.checkpoint_due = true;
        pending.forget(true);
        self.stale = false;
        if let Err(error) = journal.reset() {
            // Which header reached the disk is unknown; the journal refuses appends from now on,
            // so the store refuses writes (see `Committer::broken`) rather than journal into a
            // generation replay might ignore. Replay skips whatever the database already holds.
            tracing::error!(%error, "starting the message journal over failed");
        }
        self.done.send_modify(|flushes| *flushes += 1);
        Ok(())
    }

    /// Checkpoints the WAL after a flush or every [`CHECKPOINT_COMMITS`] commits.
    pub(super) fn checkpoint(&mut self, conn: &Connection) {
        if self.commits >= CHECKPOINT_COMMITS || self.checkpoint_due {
            self.commits = 0;
            self.checkpoint_due = false;
            // Passive: never waits on a reader; what it cannot copy now, the next one does.
            let checkpointed = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            if let Err(error) = checkpointed {
                tracing::warn!(error = %BackendError::Sqlite(error), "WAL checkpoint failed; will retry");
            }
        }
    }
}

/// The flush's SQL, inside its transaction: writes back every changed queue, deletes the
/// acknowledged rows, and inserts every message still held only in memory (all unacknowledged:
/// an ack drops them there).
fn write_back(conn: &Connection, pending: &Pending) -> Result<(), BackendError> {
    let queues = pending.queues();
    let mut update = conn.prepare_cached(
        "UPDATE mailboxes SET next_seq = ?2, queued_count = ?3, queued_bytes = ?4, \
             acked_through = ?5 WHERE id = ?1",
    )?;
    let mut delete = conn.prepare_cached("DELETE FROM messages WHERE mailbox = ?1 AND seq <= ?2")?;
    for queue in queues.values().filter(|queue| queue.dirty()) {
        let (live, flushed) = (&queue.live, &queue.flushed);
        update.execute(params![
            queue.id,
            to_sql(live.next_seq),
            to_sql(live.count),
            to_sql(live.bytes),
            to_sql(live.acked_through)
        ])?;
        if live.acked_through > flushed.acked_through
            && flushed.acked_through.saturating_add(1) < flushed.next_seq
        {
            delete.execute(params![queue.id, to_sql(live.acked_through)])?;
        }
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO messages (mailbox, seq, received_at, size, envelope) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    pending.recent().visit(|mailbox, message| {
        let queue = queues
            .get(mailbox)
            .ok_or(BackendError::Invariant("a journaled message has no queue"))?;
        insert.execute(params![
            queue.id,
            to_sql(message.seq),
            to_sql(message.received_at),
            to_sql(message.envelope.len() as u64),
            message.envelope.as_bytes()
        ])?;
        Ok(())
    })
}
