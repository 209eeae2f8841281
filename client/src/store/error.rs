//! [`StoreError`]: why the local database could not be opened, read or written.

use std::path::PathBuf;

use rusqlite::ErrorCode;
use thiserror::Error;

/// Why the local database could not be opened, read or written. Messages never include stored
/// data: SQLite's messages name tables and columns, not bound values.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key or passphrase does not open this database. SQLCipher authenticates every page,
    /// so a damaged first page looks the same.
    #[error("wrong key or passphrase for this database (or its first page is damaged)")]
    WrongKey,
    /// The file is not an encrypted Hush database (for example a plain SQLite file, or one whose
    /// size is not whole pages).
    #[error("not an encrypted Hush database: {0}")]
    NotADatabase(String),
    /// The database opened with this key, but a page failed its integrity check.
    #[error("the database is corrupt: {0}")]
    Corrupt(String),
    /// The database was written by a newer build with a schema this one cannot read.
    #[error("the database has schema version {found}, this build reads up to {supported}")]
    SchemaTooNew {
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A stored row holds a value this build cannot decode.
    #[error("a stored {what} does not decode: {reason}")]
    Decode {
        /// Which kind of value.
        what: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// The commit cannot be applied (a caller error; nothing of it was written): a peer
    /// pickle that does not restore, or an operation this build does not know.
    #[error("the commit cannot be applied: {0}")]
    InvalidCommit(String),
    /// The database is open in another process (one profile, one client at a time: two would
    /// both advance the same ratchets).
    #[error("the database is in use by another process")]
    Locked,
    /// The database exists but the salt its passphrase key was derived with is gone; the
    /// passphrase alone cannot open it.
    #[error("the key salt file {0} is missing, so the passphrase cannot open the database")]
    SaltMissing(PathBuf),
    /// The key salt file is not in the expected format.
    #[error("the key salt file {path} is malformed: {reason}")]
    SaltMalformed {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Argon2 parameters out of range (a caller error, or a salt file asking for more memory
    /// than [`super::MAX_KDF_MEMORY_KIB`]).
    #[error("invalid key derivation parameters: {0}")]
    KdfParams(String),
    /// A file operation (the salt file, inspecting the database file) failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Any other SQLite failure (disk full, I/O error, ...).
    #[error("sqlite: {0}")]
    Backend(String),
    /// Opening an existing profile found no profile in the file; nothing was written to it.
    #[error("{} is not a Hush profile: {reason}", .path.display())]
    NotAProfile {
        /// The database file.
        path: PathBuf,
        /// What was found instead.
        reason: NotAProfile,
    },
}

/// What an existing profile's database file held instead of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NotAProfile {
    /// There is no such file.
    #[error("the file does not exist")]
    Missing,
    /// The file is empty (a crash or a full disk while it was created, or a truncation).
    #[error("the file is empty")]
    Empty,
    /// The key opens the file, but it holds no Hush schema (another application's database).
    #[error("the database holds no Hush schema")]
    Foreign,
    /// The schema is there but no account (identity) was ever saved in it.
    #[error("the database holds no account")]
    NoAccount,
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => Self::WrongKey,
            Some(ErrorCode::DatabaseCorrupt) => Self::Corrupt(error.to_string()),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Locked,
            _ => match error {
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..) => Self::Decode {
                    what: "column",
                    reason: error.to_string(),
                },
                error => Self::Backend(error.to_string()),
            },
        }
    }
}
