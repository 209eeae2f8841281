//! What a store operation can fail with: a refusal the caller can act on ([`StoreError`]), or a
//! failure of the backend underneath, which keeps the error it came from ([`BackendError`]).

use std::sync::Arc;

use hush_proto::MailboxId;
use thiserror::Error;

/// Storage failures.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The mailbox is not registered (never, or deleted: the two are not told apart).
    #[error("unknown mailbox")]
    UnknownMailbox,
    /// A mailbox is already registered with a different identity key.
    #[error("mailbox registered to another identity")]
    IdentityMismatch,
    /// Storing would push the recipient over its quota; nothing was stored.
    #[error("mailbox over quota")]
    QuotaExceeded {
        /// The full mailbox.
        mailbox: MailboxId,
    },
    /// The upload would exceed the per-mailbox one-time prekey cap; nothing was stored.
    #[error("too many one-time prekeys: {held} held, {adding} more, cap {max}")]
    TooManyPreKeys {
        /// Held now.
        held: u32,
        /// In the upload.
        adding: u32,
        /// Cap.
        max: u32,
    },
    /// The mailbox has no signed prekey yet, so no bundle can be served.
    #[error("no bundle uploaded")]
    NoBundle,
    /// The account's stored device list has a counter at least the published one's (and is
    /// not the same list): nothing was stored.
    #[error("a device list with a counter at least as high is stored")]
    StaleDeviceList,
    /// The backend failed (I/O, corruption, a closed writer). The operation may be retried.
    #[error("storage backend failed: {0}")]
    Backend(#[from] BackendError),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Backend(BackendError::Sqlite(error))
    }
}

/// A failure of the storage underneath a store, with the error it came from. Its messages never
/// quote stored data (an envelope, a key): they may be logged.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BackendError {
    /// SQLite failed. Its messages name tables and columns, never bound values.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[cfg(feature = "postgres")]
    #[error("postgres: {0}")]
    Postgres(#[from] PostgresError),
    /// The message journal beside the SQLite database failed.
    #[error("cannot {action} the message journal: {source}")]
    Journal {
        /// What the store was doing with it.
        action: JournalAction,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// SQLite would not put the database in WAL mode (the store's readers and its writer need it).
    #[error("expected journal mode wal, the database is in {mode}")]
    NotWal {
        /// The mode SQLite reported.
        mode: String,
    },
    /// A value read back is not one the store writes: the database is corrupt.
    #[error("corrupt database: {0}")]
    Corrupt(#[from] Corruption),
    /// The database's schema was written by a newer relay; refused rather than misread.
    #[error("database schema version {found} is newer than this relay's {supported}")]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// The newest this build knows.
        supported: usize,
    },
    /// Registration kept racing with deletions of the same mailbox on other nodes.
    #[error("registration kept racing with a deletion of the same mailbox")]
    RegisterRaced,
    /// The store is closed, or its writer has stopped: it takes no more writes.
    #[error("the store is closed")]
    Closed,
    /// The store's writer stopped before it answered a write (which may or may not be stored).
    #[error("the store writer stopped before replying")]
    NoReply,
    /// The store's writer thread panicked.
    #[error("the store writer thread panicked")]
    WriterPanicked,
    /// A store thread could not be started.
    #[error("cannot start the store {name} thread: {source}")]
    Thread {
        /// Which thread.
        name: &'static str,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// A blocking task of the store failed.
    #[error("a store task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The connection that hears other nodes' notices ended.
    #[error("the notice listener stopped")]
    ListenerStopped,
    /// An invariant of the store's own code did not hold (a bug).
    #[error("store invariant broken: {0}")]
    Invariant(&'static str),
    /// One failure shared by every write of a batch, or by every write after the journal broke.
    #[error(transparent)]
    Shared(Arc<BackendError>),
    /// A write of the batch failed part-way without a savepoint, so the whole batch was rolled
    /// back; nothing of it was stored.
    #[error("a write failed part-way; its batch was rolled back")]
    PartWay,
}

/// What the store was doing with its message journal when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JournalAction {
    /// Opening it and reading it back.
    Open,
    /// Starting it over after replay.
    Empty,
    /// Appending a batch (the store refuses writes from then on, until restarted).
    Append,
    /// Zeroing its earlier cycles.
    Scrub,
}

impl core::fmt::Display for JournalAction {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::Empty => "empty",
            Self::Append => "write (restart the relay)",
            Self::Scrub => "scrub",
        })
    }
}

/// How a value read back from the database differs from what the store writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Corruption {
    /// A negative integer where the store writes a `u64`.
    #[error("negative integer in the database")]
    NegativeInteger,
    /// A byte string of the wrong length.
    #[error("expected {expected} bytes in the database, found {found}")]
    WrongLength {
        /// What the store writes.
        expected: usize,
        /// What was read.
        found: usize,
    },
    /// A prekey id beyond `u32`.
    #[error("prekey id out of range in the database")]
    PrekeyIdOutOfRange,
    /// An envelope longer than the protocol allows (the store never accepts one).
    #[error("a stored envelope of {len} bytes is over the protocol limit")]
    OversizeEnvelope {
        /// Its length.
        len: usize,
    },
    /// A device list longer than the protocol allows (the store never accepts one).
    #[error("a stored device list of {len} bytes is over the protocol limit")]
    OversizeDeviceList {
        /// Its length.
        len: usize,
    },
    /// A negative schema version.
    #[error("schema version {0} is negative")]
    NegativeSchemaVersion(i64),
}

/// A PostgreSQL failure, shown without any stored data: a database error as its primary message
/// and SQLSTATE only, never its detail (which can quote a row's values). The error is kept
/// ([`PostgresError::get_ref`]) but not offered as a [`std::error::Error::source`], so printing
/// the chain cannot show the detail either.
#[cfg(feature = "postgres")]
pub struct PostgresError(tokio_postgres::Error);

#[cfg(feature = "postgres")]
impl PostgresError {
    /// The error as tokio-postgres gave it (its `Display` may quote stored values).
    pub fn get_ref(&self) -> &tokio_postgres::Error {
        &self.0
    }
}

#[cfg(feature = "postgres")]
impl From<tokio_postgres::Error> for PostgresError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self(error)
    }
}

#[cfg(feature = "postgres")]
impl core::fmt::Display for PostgresError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if let Some(db) = self.0.as_db_error() {
            return write!(f, "{} ({})", db.message(), db.code().code());
        }
        match std::error::Error::source(&self.0) {
            Some(source) => write!(f, "{}: {source}", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

// By hand: the derived one would show a database error's detail.
#[cfg(feature = "postgres")]
impl core::fmt::Debug for PostgresError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PostgresError({self})")
    }
}

#[cfg(feature = "postgres")]
impl std::error::Error for PostgresError {}

#[cfg(feature = "postgres")]
impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Backend(BackendError::Postgres(PostgresError(error)))
    }
}

impl From<Corruption> for StoreError {
    fn from(corruption: Corruption) -> Self {
        Self::Backend(BackendError::Corrupt(corruption))
    }
}
