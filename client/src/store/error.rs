//! [`StoreError`]: why the local database could not be opened, read or written.

use std::path::PathBuf;

use rusqlite::ErrorCode;
use thiserror::Error;

/// Why the local database could not be opened, read or written. Messages never include stored
/// data: SQLite's messages name tables and columns, not bound values.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key or passphrase does not open this database. For a passphrase whose salt file
    /// holds a key check (every profile this build created or opened once) this is certain: the
    /// check failed before the database was read, and a damaged database is
    /// [`StoreError::Corrupt`] instead. For a raw key, or a salt file from before key checks,
    /// nothing tells the two apart: SQLCipher authenticates every page, so a damaged first page
    /// looks the same.
    #[error("wrong key or passphrase for this database")]
    WrongKey,
    /// The passphrase is the old one of a passphrase change that was interrupted after the
    /// database was re-keyed: the new passphrase opens it (and finishes the change).
    #[error(
        "this is the old passphrase: an interrupted passphrase change already re-keyed the database, \
         so open it with the new passphrase"
    )]
    PassphraseChanged,
    /// The passphrase is the new one of a passphrase change that was interrupted before the
    /// database was re-keyed: the old passphrase still opens it.
    #[error(
        "this is the new passphrase of a passphrase change that was interrupted before it took \
         effect: the old passphrase still opens the database"
    )]
    PassphraseChangeUnfinished,
    /// The database is keyed with a raw key, not a passphrase, so it has no passphrase to change.
    #[error("the database is opened with a raw key, not a passphrase")]
    NotPassphraseKeyed,
    /// The file is not an encrypted Hush database (for example a plain SQLite file, or one whose
    /// size is not whole pages).
    #[error("not an encrypted Hush database: {0}")]
    NotADatabase(String),
    /// The database is damaged: a page failed its integrity check, or (with a passphrase that
    /// matched its key check) the first page does not decrypt.
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
