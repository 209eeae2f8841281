//! [`SqlStore`]: the client's durable state in one SQLCipher-encrypted SQLite database.
//!
//! Every page of the database and of its write-ahead log is encrypted (AES-256, HMAC-SHA512 per
//! page) under a [`DatabaseKey`]: 32 raw bytes or an Argon2id hash of a passphrase. Pickles
//! (the account and the sessions) are encrypted once more with a key derived from it, so a
//! page-level leak (a debugging dump of SQLite's page cache, say) still does not show ratchet
//! keys.
//!
//! Each [`Commit`] is one `BEGIN IMMEDIATE` transaction, fsynced before [`Store::apply`]
//! returns; one that replaces the account or a peer's sessions is then checkpointed and the
//! write-ahead log truncated, so the replaced pickles' pages do not linger there. The connection holds an exclusive lock from open to drop, so one profile is used by
//! one process at a time.

mod access;
mod backup;
mod codec;
mod devices;
mod error;
#[cfg(test)]
mod existing_tests;
mod expiry;
mod group_receipts;
#[cfg(test)]
mod group_receipts_tests;
mod groups;
mod kdf;
mod key;
mod ops;
mod peer_devices;
mod queries;
mod rekey;
#[cfg(test)]
mod rekey_tests;
mod salt_file;
mod schema;
mod search;
#[cfg(test)]
mod search_tests;
mod summary;
mod surface;
#[cfg(test)]
mod surface_tests;
#[cfg(test)]
mod tests;
mod unlock;
mod wal;

use std::fmt;
use std::path::{Path, PathBuf};

use hush_client_core::{
    Address, Commit, Contact, GroupReceipts, HistoryEntry, MessageId, Snapshot, Store, StoredMessage,
    StoredReaction,
};
use hush_crypto::PickleKey;
use rusqlite::{Connection, TransactionBehavior};

pub use self::backup::{
    BACKUP_HEADER_LEN, BACKUP_MAGIC, BACKUP_VERSION, BackupError, CHUNK_LEN, MAX_VALUE_LEN,
};
pub use self::error::{NotAProfile, StoreError};
pub use self::expiry::Expired;
pub use self::kdf::{KdfParams, MAX_KDF_MEMORY_KIB, SALT_LEN};
pub use self::key::DatabaseKey;
pub use self::search::{
    MAX_PAGE, MAX_QUERY_LEN, MAX_QUERY_WORDS, SearchError, SearchHit, SearchPage, SearchScope,
};
pub use self::summary::ConversationSummary;

/// Statements kept prepared: every distinct statement the store runs fits.
const STATEMENT_CACHE: usize = 64;

/// A [`Store`] in an encrypted SQLite database file (plus its `-wal` while open).
pub struct SqlStore {
    conn: Connection,
    pickle_key: PickleKey,
    path: PathBuf,
    /// Whether the key came from a passphrase (so the passphrase can be changed).
    passphrase_keyed: bool,
}

impl SqlStore {
    /// Opens the database at `path` with `key`, creating it if the file does not exist, and
    /// brings its schema up to date.
    ///
    /// Fails with [`StoreError::WrongKey`] if `key` does not open it (or, for a key that matched
    /// its key check, [`StoreError::Corrupt`]: the first page is damaged),
    /// [`StoreError::NotADatabase`] if the file is not an encrypted database,
    /// [`StoreError::SchemaTooNew`] if a newer build wrote it, and [`StoreError::Locked`] if
    /// another process has it open.
    pub fn open(path: impl AsRef<Path>, key: &DatabaseKey) -> Result<Self, StoreError> {
        Self::open_checked(path.as_ref(), key, false)
    }

    /// Opens the database of an existing profile, never creating one: a missing or empty file,
    /// or one without Hush's schema, is [`StoreError::NotAProfile`] and is left untouched (a new
    /// database there would silently become a new identity).
    pub fn open_existing(path: impl AsRef<Path>, key: &DatabaseKey) -> Result<Self, StoreError> {
        Self::open_checked(path.as_ref(), key, true)
    }

    fn open_checked(path: &Path, key: &DatabaseKey, existing: bool) -> Result<Self, StoreError> {
        if existing {
            schema::check_not_empty(path)?;
        } else if !path.exists() {
            // Created here, readable by its owner only; SQLite's -wal file takes the same mode.
            private_file(path).map_err(|source| StoreError::Io {
                what: format!("cannot create {}", path.display()),
                source,
            })?;
        }
        let mut conn = match schema::open_keyed(path, key) {
            Err(StoreError::WrongKey) => return Err(unlock::explain_unopened(key, path)),
            opened => opened?,
        };
        if existing {
            schema::check_hush_schema(&conn, path)?;
        }
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        schema::lock(&conn)?;
        // Only now, holding the lock, are the salt files ours to change.
        unlock::settle(key, path);
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            conn,
            pickle_key: key.pickle_key()?,
            path: path.to_owned(),
            passphrase_keyed: *key.origin() != key::Origin::Raw,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every conversation, most recent first, with its contact name, latest message and unread
    /// count: two statements (the address book, then one row per conversation) in one read
    /// transaction. A contact row that does not decode is an error.
    pub fn conversations_summary(&self) -> Result<Vec<ConversationSummary>, StoreError> {
        self.read(queries::conversations_summary)
    }

    /// Runs `read` in one read transaction, so it sees a single consistent state.
    fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let result = read(&tx);
        // Nothing was written: ending the transaction is all this does.
        tx.finish()?;
        result
    }
}

/// Creates (or truncates) `path`, readable and writable by its owner only (0600 on Unix).
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store for SqlStore {
    type Error = StoreError;

    fn load(&self) -> Result<Option<Snapshot>, StoreError> {
        self.read(|conn| queries::load(conn, &self.pickle_key))
    }

    fn apply(&mut self, commit: &Commit) -> Result<(), StoreError> {
        if commit.is_empty() {
            return Ok(());
        }
        let mut rng = rand::rng();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for op in &commit.ops {
            // An error drops `tx`, which rolls the whole commit back.
            ops::apply(&tx, op, &self.pickle_key, &mut rng)?;
        }
        tx.commit()?;
        if wal::replaces_secrets(commit)
            && let Err(error) = wal::truncate(&self.conn)
        {
            // The commit is durable, so `apply` succeeded (an error would say it was not
            // applied); the old pages stay in the log until the next such commit truncates it.
            tracing::warn!(%error, "could not truncate the write-ahead log");
        }
        Ok(())
    }

    fn history(
        &self,
        peer: &Address,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        queries::history(&self.conn, peer, before, limit)
    }

    fn author(&self, id: &MessageId) -> Result<Option<Address>, StoreError> {
        groups::author(&self.conn, id)
    }

    fn group_receipts(&self, id: &MessageId) -> Result<Option<GroupReceipts>, StoreError> {
        group_receipts::receipts(&self.conn, id)
    }

    fn message(&self, id: &MessageId) -> Result<Option<StoredMessage>, StoreError> {
        queries::message(&self.conn, id)
    }

    fn edits(&self, id: &MessageId) -> Result<Vec<String>, StoreError> {
        surface::edits(&self.conn, id)
    }

    fn reactions(&self, id: &MessageId) -> Result<Vec<StoredReaction>, StoreError> {
        surface::reactions(&self.conn, id)
    }

    fn thread(
        &self,
        root: &MessageId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        surface::thread(&self.conn, root, before, limit)
    }

    fn unread(&self, peer: &Address) -> Result<Vec<MessageId>, StoreError> {
        queries::unread(&self.conn, peer)
    }

    fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        queries::contacts(&self.conn)
    }

    fn peers(&self) -> Result<Vec<Address>, StoreError> {
        queries::peers(&self.conn)
    }
}
