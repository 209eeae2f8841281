//! Encrypted backups of a whole profile (test-vectors/SPEC.md §19): identity, account, contacts,
//! sessions, outbox and history in one file, authenticated chunk by chunk under a key stretched
//! from a passphrase with Argon2id, and restored into a new database.
//!
//! Export copies the database under a random one-off key `R` (the same copy a passphrase change
//! makes, pickles sealed again under `R`'s pickle key), streams that copy's rows into the file
//! after `R`, and deletes it. Import creates the new database, inserts the rows and seals the
//! pickles again under the new database's key. Neither holds more than a chunk and a row.

mod rows;
mod stream;

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use rand_core::Rng as _;
use thiserror::Error;
use zeroize::Zeroizing;

pub use self::rows::MAX_VALUE_LEN;
pub use self::stream::{BACKUP_HEADER_LEN, BACKUP_MAGIC, BACKUP_VERSION, CHUNK_LEN};
use self::stream::{ChunkKeys, ChunkReader, ChunkWriter, Header};
use super::kdf::{KdfParams, SALT_LEN};
use super::{DatabaseKey, SqlStore, StoreError};

/// Why a backup could not be written or restored.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The file does not start with the backup magic (or is shorter than the header).
    #[error("not a Hush backup file")]
    NotABackup,
    /// A format version this build does not read.
    #[error("backup format version {found}, expected {BACKUP_VERSION}")]
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
    },
    /// The header's Argon2 parameters are out of bounds, or stretching failed.
    #[error("backup key derivation: {0}")]
    Kdf(#[source] StoreError),
    /// A chunk did not authenticate: a wrong passphrase, or the file was changed, cut or
    /// reordered (the two cannot be told apart). Nothing was restored.
    #[error("wrong passphrase, or the backup was altered (chunk {chunk} does not authenticate)")]
    Unauthenticated {
        /// The first chunk that failed (0 for a wrong passphrase).
        chunk: u32,
    },
    /// The file ends before its last chunk (it was cut at a chunk boundary).
    #[error("the backup is truncated")]
    Truncated,
    /// The plaintext authenticated but does not parse (written by a broken exporter).
    #[error("malformed backup contents: {0}")]
    Malformed(&'static str),
    /// The backup's tables differ from this build's (another schema version).
    #[error("the backup's table {table} does not match this build's schema")]
    SchemaMismatch {
        /// The table.
        table: String,
    },
    /// The schema version of the backup is not this build's.
    #[error("backup of schema version {found}, this build has {expected}")]
    SchemaVersion {
        /// The backup's.
        found: u32,
        /// This build's.
        expected: u32,
    },
    /// A value or the whole stream is over the format's limits.
    #[error("a value or the backup is too large for the format")]
    TooLarge,
    /// The target exists already: a backup restores into a new profile only, and an export
    /// does not overwrite a file.
    #[error("{0} exists already")]
    Exists(PathBuf),
    /// Reading or writing a file failed.
    #[error("backup file: {0}")]
    Io(#[from] std::io::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for BackupError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Store(error.into())
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

fn schema_version(conn: &rusqlite::Connection, schema: &str) -> Result<u32, BackupError> {
    let version: i64 = conn.query_row(&format!("PRAGMA {schema}.user_version"), [], |row| row.get(0))?;
    u32::try_from(version).map_err(|_| BackupError::Malformed("a negative schema version"))
}

/// `path` with `suffix` appended to its file name.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

impl SqlStore {
    /// Writes a backup of this profile to `path` (which must not exist), encrypted under
    /// `passphrase` stretched with `params`. The file appears whole or not at all.
    pub fn export_backup(&self, path: &Path, passphrase: &str, params: KdfParams) -> Result<(), BackupError> {
        if path.exists() {
            return Err(BackupError::Exists(path.to_path_buf()));
        }
        let one_off = Zeroizing::new(random::<32>());
        let copy_key = DatabaseKey::from_bytes(*one_off);
        let copy = beside(path, ".copy");
        let partial = beside(path, ".partial");
        let result = (|| {
            super::salt_file::remove_if_present(&copy)?;
            super::private_file(&copy).map_err(BackupError::Io)?;
            super::rekey::write_copy(&self.conn, &copy, &copy_key, &self.pickle_key)?;
            let conn = rusqlite::Connection::open(&copy)?;
            conn.execute_batch(&copy_key.key_statement())?;
            let header = Header {
                params,
                salt: random::<SALT_LEN>(),
                nonce_prefix: random::<7>(),
            };
            let file = super::private_file(&partial)?;
            let keys = ChunkKeys::new(&header, header.key(passphrase)?);
            let mut out = ChunkWriter::new(BufWriter::new(file), keys)?;
            out.write(one_off.as_slice())?;
            out.write(&schema_version(&conn, "main")?.to_be_bytes())?;
            rows::write_tables(&conn, "main", &mut out)?;
            let file = out
                .finish()?
                .into_inner()
                .map_err(|error| BackupError::Io(error.into_error()))?;
            file.sync_all()?;
            std::fs::rename(&partial, path)?;
            Ok(())
        })();
        let _ = std::fs::remove_file(&copy);
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result
    }

    /// Restores the backup at `backup` into a new database at `database` (which must not
    /// exist) under `key`. On any error nothing is left at `database`.
    pub fn import_backup(
        backup: &Path,
        passphrase: &str,
        database: &Path,
        key: &DatabaseKey,
    ) -> Result<SqlStore, BackupError> {
        if database.exists() {
            return Err(BackupError::Exists(database.to_path_buf()));
        }
        let mut input = BufReader::new(File::open(backup)?);
        let header = ChunkReader::header(&mut input)?;
        let keys = ChunkKeys::new(&header, header.key(passphrase)?);
        let mut input = ChunkReader::new(input, keys);
        // The first chunk is authenticated before a database is created.
        let one_off = Zeroizing::new(rows::take::<32, _>(&mut input)?);
        let found = u32::from_be_bytes(rows::take(&mut input)?);
        let result = (|| {
            let store = SqlStore::open(database, key)?;
            let expected = schema_version(&store.conn, "main")?;
            if found != expected {
                return Err(BackupError::SchemaVersion { found, expected });
            }
            let tx = store.conn.unchecked_transaction()?;
            rows::read_tables(&tx, &mut input)?;
            tx.commit()?;
            let old = DatabaseKey::from_bytes(*one_off).pickle_key()?;
            super::rekey::reseal_pickles(&store.conn, "main", &old, &key.pickle_key()?)?;
            Ok(store)
        })();
        if result.is_err() {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(beside(database, suffix));
            }
        }
        result
    }
}

#[cfg(test)]
mod tests;
