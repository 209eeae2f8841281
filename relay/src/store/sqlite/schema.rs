//! Connection settings and the schema, versioned with `PRAGMA user_version` and migrated forward
//! at open.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::options::Synchronous;
use crate::store::migrations::Migrations;
use crate::store::{BackendError, StoreError};

/// How long a connection waits on a lock held by another before failing with "busy". Only the
/// writer writes, so waits are short: readers never block it in WAL mode, and a checkpoint
/// briefly does.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const MIGRATIONS: Migrations = Migrations(&[
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
    // Version 2. `messages.mailbox` holds the mailbox's small integer `id` instead of its
    // 32-byte key: the (mailbox, seq) index is a quarter of the size, so a batch of inserts and
    // acks dirties (and writes to the WAL) fewer pages. `id` is local to this file and never
    // leaves it; the mailbox row keeps its 32-byte key.
    "ALTER TABLE mailboxes ADD COLUMN id INTEGER NOT NULL DEFAULT 0;
    WITH numbered AS (SELECT mailbox, row_number() OVER (ORDER BY mailbox) AS n FROM mailboxes)
    UPDATE mailboxes SET id = numbered.n FROM numbered WHERE numbered.mailbox = mailboxes.mailbox;
    CREATE UNIQUE INDEX mailboxes_by_id ON mailboxes (id);
    CREATE TABLE messages_v2 (
        mailbox INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        size INTEGER NOT NULL,
        envelope BLOB NOT NULL,
        PRIMARY KEY (mailbox, seq)
    );
    INSERT INTO messages_v2 (mailbox, seq, received_at, size, envelope)
        SELECT mailboxes.id, messages.seq, messages.received_at, messages.size, messages.envelope
        FROM messages JOIN mailboxes USING (mailbox) ORDER BY messages.rowid;
    DROP TABLE messages;
    ALTER TABLE messages_v2 RENAME TO messages;
    CREATE INDEX messages_by_received_at ON messages (received_at);",
    // Version 3. An ack records how far the owner has acknowledged instead of deleting at once:
    // acked rows are past `acked_through`, invisible to every read, and deleted in bulk by the
    // writer's sweep (see `ops::sweep`), which rewrites each page once for many acks instead of
    // once per ack. The sweep runs within a second of an ack, at close, and at open.
    "ALTER TABLE mailboxes ADD COLUMN acked_through INTEGER NOT NULL DEFAULT 0;",
    // Version 4. The verifier (SHA-256) of the mailbox's access key, `NULL` while it has none.
    "ALTER TABLE mailboxes ADD COLUMN access_verifier BLOB;",
    // Version 5. Accounts' device lists (proto/PROTOCOL.md "Device lists"): the latest list per
    // account key, its counter as 8 big-endian bytes (blobs compare as the numbers do), and
    // the membership signature of each listed device that published one. Nothing ties an
    // account to a mailbox row: the list names devices by identity key, as contacts see them.
    "CREATE TABLE device_lists (
        account BLOB PRIMARY KEY NOT NULL,
        counter BLOB NOT NULL,
        list BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE device_memberships (
        account BLOB NOT NULL REFERENCES device_lists (account) ON DELETE CASCADE,
        identity_key BLOB NOT NULL,
        signature BLOB NOT NULL,
        PRIMARY KEY (account, identity_key)
    ) WITHOUT ROWID;",
    // Version 6. KEM prekeys for PQXDH (proto/PROTOCOL.md "Prekeys"): signed one-time ones,
    // each deleted when a fetch claims it, and one last-resort key per mailbox. Rowid tables:
    // at 1.6 KB a row is too large for WITHOUT ROWID.
    "CREATE TABLE kem_one_time_prekeys (
        mailbox BLOB NOT NULL REFERENCES mailboxes (mailbox) ON DELETE CASCADE,
        id INTEGER NOT NULL,
        key BLOB NOT NULL,
        signature BLOB NOT NULL,
        UNIQUE (mailbox, id)
    );
    CREATE TABLE kem_last_resort_prekeys (
        mailbox BLOB PRIMARY KEY NOT NULL REFERENCES mailboxes (mailbox) ON DELETE CASCADE,
        id INTEGER NOT NULL,
        key BLOB NOT NULL,
        signature BLOB NOT NULL
    );",
]);

/// The schema version this build writes.
#[cfg(test)]
pub(super) const SCHEMA_VERSION: usize = MIGRATIONS.latest();

/// Settings of the one connection that writes.
pub(super) fn configure_writer(conn: &Connection, synchronous: Synchronous) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(BackendError::NotWal { mode }.into());
    }
    let synchronous = match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The writer checkpoints itself, after answering a batch (`SqliteStore`'s housekeeping).
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // After a burst of large envelopes, a checkpointed WAL file shrinks back to this size.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    // Deleted rows (acked messages, deleted mailboxes) are overwritten with zeros instead of
    // lingering in free pages of the database file.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // Group commit wraps most operations in a savepoint; keep its statement journal in memory
    // rather than in a temporary file written for every batch.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

/// Settings of a read connection: it can never write, even by mistake.
pub(super) fn configure_reader(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(())
}

/// Brings the schema to [`SCHEMA_VERSION`], each step in its own transaction with its version
/// bump. A database from a newer build is refused rather than misread.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (to, sql) in MIGRATIONS.after(version)? {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", to)?;
        tx.commit()?;
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
        assert!(matches!(
            migrate(&mut conn),
            Err(StoreError::Backend(BackendError::SchemaTooNew { .. }))
        ));
    }

    #[test]
    fn version_two_keeps_queued_messages_under_integer_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("relay.db")).unwrap();
        conn.execute_batch(MIGRATIONS.0[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        for (key, seqs) in [([2u8; 32], &[5i64, 6][..]), ([1u8; 32], &[1][..])] {
            conn.execute(
                "INSERT INTO mailboxes (mailbox, identity_key, next_seq, created_at) VALUES (?1, ?1, 9, 0)",
                [key],
            )
            .unwrap();
            for seq in seqs {
                conn.execute(
                    "INSERT INTO messages (mailbox, seq, received_at, size, envelope) VALUES (?1, ?2, 3, 1, x'aa')",
                    rusqlite::params![key, seq],
                )
                .unwrap();
            }
        }
        migrate(&mut conn).unwrap();
        let rows: Vec<(Vec<u8>, i64, i64)> = conn
            .prepare(
                "SELECT mailboxes.mailbox, mailboxes.id, messages.seq FROM messages \
                 JOIN mailboxes ON mailboxes.id = messages.mailbox ORDER BY messages.mailbox, seq",
            )
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![(vec![1; 32], 1, 1), (vec![2; 32], 2, 5), (vec![2; 32], 2, 6)]
        );
    }

    #[test]
    fn version_five_adds_device_lists_and_keeps_what_version_four_held() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("relay.db")).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        for sql in &MIGRATIONS.0[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute(
            "INSERT INTO mailboxes (mailbox, identity_key, next_seq, created_at, id, access_verifier) \
             VALUES (?1, ?1, 1, 0, 1, ?2)",
            rusqlite::params![[1u8; 32], [2u8; 32]],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let verifier: [u8; 32] = conn
            .query_row("SELECT access_verifier FROM mailboxes", [], |row| row.get(0))
            .unwrap();
        assert_eq!(verifier, [2; 32]);
        let lists: i64 = conn
            .query_row("SELECT count(*) FROM device_lists", [], |row| row.get(0))
            .unwrap();
        assert_eq!(lists, 0);
        conn.execute(
            "INSERT INTO device_lists (account, counter, list) VALUES (?1, ?2, x'aa')",
            rusqlite::params![[3u8; 32], 7u64.to_be_bytes()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO device_memberships (account, identity_key, signature) VALUES (?1, ?1, ?2)",
            rusqlite::params![[3u8; 32], [4u8; 64]],
        )
        .unwrap();
        // A membership belongs to a stored list.
        assert!(
            conn.execute(
                "INSERT INTO device_memberships (account, identity_key, signature) VALUES (?1, ?1, ?2)",
                rusqlite::params![[5u8; 32], [4u8; 64]],
            )
            .is_err()
        );
    }

    #[test]
    fn version_six_adds_kem_prekeys_and_keeps_the_ec_prekeys() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("relay.db")).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        for sql in &MIGRATIONS.0[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        conn.execute(
            "INSERT INTO mailboxes (mailbox, identity_key, next_seq, created_at, id) VALUES (?1, ?1, 1, 0, 1)",
            [[1u8; 32]],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO one_time_prekeys (mailbox, id, key) VALUES (?1, 4, ?2)",
            rusqlite::params![[1u8; 32], [4u8; 32]],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let ec: i64 = conn
            .query_row("SELECT count(*) FROM one_time_prekeys", [], |row| row.get(0))
            .unwrap();
        assert_eq!(ec, 1);
        for table in ["kem_one_time_prekeys", "kem_last_resort_prekeys"] {
            conn.execute(
                &format!("INSERT INTO {table} (mailbox, id, key, signature) VALUES (?1, 1, x'aa', x'bb')"),
                [[1u8; 32]],
            )
            .unwrap();
            // A KEM prekey belongs to a registered mailbox.
            assert!(
                conn.execute(
                    &format!(
                        "INSERT INTO {table} (mailbox, id, key, signature) VALUES (?1, 2, x'aa', x'bb')"
                    ),
                    [[2u8; 32]],
                )
                .is_err()
            );
        }
    }
}
