//! How [`SqliteStore::open`](super::SqliteStore::open) sets up the database.

use std::time::Duration;

/// How hard a commit pushes data to disk (SQLite's `PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// Every commit and every journal write is fsynced: a stored message survives power loss.
    /// The default.
    #[default]
    Full,
    /// Commits and journal writes are not fsynced (checkpoints and flushes are): survives a relay
    /// crash, but the last writes may be lost on power loss.
    Normal,
}

/// How [`SqliteStore::open`] sets up the database.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Durability of each commit.
    pub synchronous: Synchronous,
    /// Most queued writes made durable together (one transaction, one journal fsync).
    pub batch_max: usize,
    /// Shortest time between the starts of two write batches. Under load, writes arriving
    /// meanwhile share the next batch and its fsync; a write that finds the store idle is not
    /// delayed. Zero starts each batch as soon as the previous one is done.
    pub commit_delay: Duration,
}

/// [`SqliteOptions::commit_delay`] by default: on a small machine under load, 500 µs lets about
/// 30 writes share each fsync and gave more throughput and a lower p99 than no delay or longer
/// ones (bench/README.md has the measurements).
pub const DEFAULT_COMMIT_DELAY: Duration = Duration::from_micros(500);

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            batch_max: 256,
            commit_delay: DEFAULT_COMMIT_DELAY,
        }
    }
}
