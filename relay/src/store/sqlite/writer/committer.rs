//! The writer thread's state: the write connection, the message journal and what the batches
//! since the last flush changed. Runs one batch at a time and makes it durable: database
//! operations in one transaction, each in a savepoint unless it needs none ([`Guard`]),
//! committed once; then the batch's journal records, written and fsynced once. Tests drive it
//! directly.

use std::sync::Arc;
use std::time::Instant;

use rusqlite::Connection;
#[cfg(test)]
use tokio::sync::watch;

use super::flush::Flushes;
use super::job::{Committed, Guard, Ran, WriteJob};
use crate::metrics::{Metrics, StoreStats};
use crate::store::sqlite::Synchronous;
use crate::store::sqlite::batch::{Batch, Pending};
use crate::store::sqlite::journal::Journal;
use crate::store::sqlite::recent::Recent;
use crate::store::{BackendError, JournalAction};

/// What the writer thread owns; see the module doc.
#[derive(Debug)]
pub(in crate::store::sqlite) struct Committer {
    conn: Connection,
    journal: Journal,
    synchronous: Synchronous,
    pending: Pending,
    /// Set when a journal write or fsync failed: what reached the disk is unknown (a failed
    /// fsync may even have dropped earlier data from the page cache), so the store refuses every
    /// later write until the relay restarts and replays what the journal holds.
    broken: Option<Arc<BackendError>>,
    flushes: Flushes,
    /// Group-commit figures for the metrics endpoint.
    stats: Arc<StoreStats>,
}

impl Committer {
    pub(in crate::store::sqlite) fn new(
        conn: Connection,
        journal: Journal,
        synchronous: Synchronous,
        recent: Arc<Recent>,
    ) -> Self {
        Self {
            conn,
            journal,
            synchronous,
            pending: Pending::new(recent),
            broken: None,
            flushes: Flushes::new(),
            stats: Arc::default(),
        }
    }

    /// The store's group-commit figures, which this writer keeps up to date.
    pub(in crate::store::sqlite) fn stats(&self) -> Arc<StoreStats> {
        Arc::clone(&self.stats)
    }

    /// Flushes done so far, for whoever waits for one.
    #[cfg(test)]
    pub(in crate::store::sqlite) fn flushes(&self) -> watch::Receiver<u64> {
        self.flushes.subscribe()
    }

    /// Runs `batch` and makes it durable: a failing job (over quota, unknown mailbox) is undone
    /// alone, anything else fails the whole batch, whose jobs then all get that error.
    pub(in crate::store::sqlite) fn run_batch(&mut self, mut batch: Vec<Box<dyn WriteJob>>) -> Committed {
        let error = match &self.broken {
            Some(broken) => Some(broken.clone()),
            None => self.run_jobs(&mut batch).err().map(Arc::new),
        };
        if error.is_some() {
            self.pending.abandon();
        }
        Committed::new(batch, error)
    }

    fn run_jobs(&mut self, batch: &mut [Box<dyn WriteJob>]) -> Result<(), BackendError> {
        let mut context = Batch::new(&self.conn, &mut self.pending);
        let ran = run_each(&mut context, batch);
        let jobs = batch.len() as u64;
        let in_transaction = context.in_transaction();
        let committed = ran.and_then(|()| {
            if in_transaction {
                self.flushes.committed();
                self.conn.execute_batch("COMMIT").map_err(BackendError::Sqlite)
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
        let journaled = !self.pending.records().is_empty();
        if journaled {
            let sync = self.synchronous == Synchronous::Full;
            let started = Instant::now();
            let appended = self.journal.append(self.pending.records(), sync);
            self.stats.sync.observe(started.elapsed());
            if let Err(error) = appended {
                tracing::error!(%error, "writing the message journal failed; the store refuses writes until restarted");
                let broken = Arc::new(BackendError::Journal {
                    action: JournalAction::Append,
                    source: error,
                });
                self.broken = Some(Arc::clone(&broken));
                return Err(BackendError::Shared(broken));
            }
        }
        if journaled || in_transaction {
            Metrics::add(&self.stats.batches, 1);
            Metrics::add(&self.stats.writes, jobs);
        }
        // Durable: the changes become visible.
        self.pending.commit();
        Ok(())
    }

    /// Moves everything not yet in the database into it (see [`Flushes::flush`]).
    pub(in crate::store::sqlite) fn flush(&mut self) -> Result<(), BackendError> {
        if let Some(broken) = &self.broken {
            return Err(BackendError::Shared(Arc::clone(broken)));
        }
        if !self.unflushed() {
            // Only loaded, unchanged queues.
            self.pending.forget(false);
            return Ok(());
        }
        self.flushes
            .flush(&mut self.conn, &mut self.journal, &mut self.pending)
    }

    /// A flush tick: flushes if changes already unflushed at the previous tick still are (they
    /// have waited at least one period, at most two); otherwise notes whether changes wait now.
    /// A failed flush is retried at the next tick.
    pub(in crate::store::sqlite) fn tick(&mut self) {
        if self.flushes.stale() {
            self.flush_or_warn();
        }
        let unflushed = self.unflushed();
        self.flushes.ticked(unflushed);
    }

    /// [`Committer::flush`] where a failure is only logged: whatever asked for it retries later.
    fn flush_or_warn(&mut self) {
        if let Err(error) = self.flush() {
            tracing::warn!(%error, "moving journaled messages into the database failed; will retry");
        }
    }

    /// Whether anything is not yet in the database: journaled records, or queues changed since
    /// they were loaded.
    fn unflushed(&self) -> bool {
        self.journal.len() > 0 || self.pending.any_dirty()
    }

    /// After a flush: zeroes the journal's earlier cycles (see [`Journal::scrub`]).
    pub(in crate::store::sqlite) fn scrub(&mut self) -> Result<(), BackendError> {
        self.journal.scrub().map_err(|source| BackendError::Journal {
            action: JournalAction::Scrub,
            source,
        })
    }

    /// Copies the WAL into the database and empties it, so the page images it holds of rows
    /// just deleted (overwritten in the database by `secure_delete`) are gone from the files.
    pub(super) fn truncate_wal(&mut self) {
        let truncated = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        if let Err(error) = truncated {
            tracing::warn!(error = %BackendError::Sqlite(error), "emptying the WAL after a delete failed");
        }
    }

    /// After each batch (answered by then): flushes if one is due regardless of age (see
    /// [`Flushes::due`]; age is the flush ticks' business, [`Committer::tick`]), then
    /// checkpoints the WAL if that is due.
    pub(in crate::store::sqlite) fn housekeeping(&mut self, closing: bool) {
        if Flushes::due(&self.journal, &self.pending, closing) {
            self.flush_or_warn();
        }
        self.flushes.checkpoint(&self.conn);
    }

    /// The connection, for tests that look at the database directly.
    #[cfg(test)]
    pub(in crate::store::sqlite) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Runs each job, in its savepoint if it has one.
fn run_each(batch: &mut Batch<'_>, jobs: &mut [Box<dyn WriteJob>]) -> Result<(), BackendError> {
    for job in jobs {
        match job.guard() {
            Guard::Savepoint => {
                let conn = batch.sql()?;
                conn.execute_batch("SAVEPOINT job")?;
                let end = if job.run(batch) == Ran::Succeeded {
                    "RELEASE job"
                } else {
                    "ROLLBACK TO job; RELEASE job"
                };
                conn.execute_batch(end)?;
            }
            Guard::None => {
                if job.run(batch) == Ran::Broke {
                    return Err(BackendError::PartWay);
                }
            }
        }
    }
    Ok(())
}
