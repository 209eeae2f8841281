//! Connection settings and the schema, versioned with `PRAGMA user_version` and migrated forward
//! at open.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::{Synchronous, backend};
use crate::store::StoreError;

/// How long a connection waits on a lock held by another before failing with "busy". Only the
/// writer writes, so waits are short: readers never block it in WAL mode, and a checkpoint
/// briefly does.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migrations in order: entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1. Only what delivery needs: no sender, no plaintext, nothing about who talks to
    // whom. Small-row tables are WITHOUT ROWID (the key is the row); `messages` keeps a rowid
    // because envelopes reach 1 MiB, and large rows belong in a rowid table.
    "CREATE TABLE mailboxes (
        mailbox BLOB PRIMARY KEY NOT NULL,
        identity_key BLOB NOT NULL,
        next_seq INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        -- Messages and envelope bytes queued, kept with every insert and delete so the quota
        -- check costs one row read instead of a scan of the mailbox's queue.
        queued_count INTEGER NOT NULL DEFAULT 0,
        queued_bytes INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE signed_prekeys (
        mailbox BLOB PRIMARY KEY NOT NULL REFERENCES mailboxes (mailbox) ON DELETE CASCADE,
        id INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        key BLOB NOT NULL,
        signature BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE one_time_prekeys (
        mailbox BLOB NOT NULL REFERENCES mailboxes (mailbox) ON DELETE CASCADE,
        id INTEGER NOT NULL,
        key BLOB NOT NULL,
        PRIMARY KEY (mailbox, id)
    ) WITHOUT ROWID;
    CREATE TABLE messages (
        mailbox BLOB NOT NULL REFERENCES mailboxes (mailbox) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        size INTEGER NOT NULL,
        envelope BLOB NOT NULL,
        PRIMARY KEY (mailbox, seq)
    );
    CREATE INDEX messages_by_received_at ON messages (received_at);",
];

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Settings of the one connection that writes.
pub(super) fn configure_writer(conn: &Connection, synchronous: Synchronous) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(backend)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "expected journal mode wal, the database is in {mode}"
        )));
    }
    let synchronous = match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(backend)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(backend)?;
    // Deleted rows (acked messages, deleted mailboxes) are overwritten with zeros instead of
    // lingering in free pages of the database file.
    conn.pragma_update(None, "secure_delete", "ON").map_err(backend)?;
    // Group commit wraps each operation in a savepoint; keep its statement journal in memory
    // rather than in a temporary file written for every batch.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(backend)?;
    Ok(())
}

/// Settings of a read connection: it can never write, even by mistake.
pub(super) fn configure_reader(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.pragma_update(None, "query_only", "ON").map_err(backend)?;
    Ok(())
}

/// Brings the schema to [`SCHEMA_VERSION`], each step in its own transaction with its version
/// bump. A database from a newer build is refused rather than misread.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(backend)?;
    let version = usize::try_from(version)
        .map_err(|_| StoreError::Backend(format!("schema version {version} is negative")))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "database schema version {version} is newer than this relay's {SCHEMA_VERSION}"
        )));
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.pragma_update(None, "user_version", from + 1)
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_is_idempotent_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("relay.db")).unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION as i64);

        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(migrate(&mut conn), Err(StoreError::Backend(_))));
    }
}
