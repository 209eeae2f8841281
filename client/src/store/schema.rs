//! Opening a database: keying, telling a wrong key from a file that is not ours, connection
//! settings, and the schema, versioned with `PRAGMA user_version` and migrated forward.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use super::StoreError;
use super::error::NotAProfile;
use super::key::DatabaseKey;

/// SQLCipher's page size (its default): an encrypted database is a whole number of these.
const PAGE_SIZE: u64 = 4096;

/// What a plaintext SQLite file starts with (SQLCipher encrypts even the header).
const PLAIN_SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Migrations in order: entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1. Integers are u64 values stored bit for bit (see `codec`); only positions,
    // which we assign from 1, are compared in SQL.
    "CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pickle BLOB NOT NULL
    );
    -- Sessions, one row per peer identity; the pickle is encrypted again with the pickle key.
    CREATE TABLE peers (
        identity BLOB PRIMARY KEY NOT NULL,
        pickle BLOB NOT NULL
    );
    CREATE TABLE conversations (
        peer BLOB PRIMARY KEY NOT NULL,
        next_out_seq INTEGER NOT NULL,
        next_in_seq INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- The history. AUTOINCREMENT: a position is never reused, even if messages are deleted
    -- some day, so paging with `before` stays correct.
    CREATE TABLE messages (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        id BLOB NOT NULL UNIQUE,
        peer BLOB NOT NULL,
        direction INTEGER NOT NULL,
        conv_seq INTEGER NOT NULL,
        sent_at INTEGER NOT NULL,
        stored_at INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        body BLOB NOT NULL,
        status INTEGER NOT NULL
    );
    CREATE INDEX messages_by_peer ON messages (peer, position);
    -- Incoming (0) and not yet seen (10): what `unread` lists, kept small by being partial.
    CREATE INDEX messages_unread ON messages (peer, position) WHERE direction = 0 AND status = 10;
    -- The latest position stored with each peer, so listing peers by activity reads one row
    -- per peer instead of the whole history.
    CREATE TABLE activity (
        peer BLOB PRIMARY KEY NOT NULL,
        last_position INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX activity_by_position ON activity (last_position);
    CREATE TABLE outbox (
        id BLOB PRIMARY KEY NOT NULL,
        peer BLOB NOT NULL,
        conv_seq INTEGER NOT NULL,
        payload BLOB NOT NULL,
        envelope BLOB,
        created_at INTEGER NOT NULL,
        not_before INTEGER NOT NULL
    );
    CREATE TABLE held (
        peer BLOB NOT NULL,
        conv_seq INTEGER NOT NULL,
        payload BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (peer, conv_seq)
    );
    CREATE TABLE contacts (
        name TEXT PRIMARY KEY NOT NULL,
        address BLOB NOT NULL,
        verified INTEGER NOT NULL,
        added_at INTEGER NOT NULL
    );",
    // Version 2: access keys and message requests. `own_access` holds our access key (one row);
    // `peer_access` each peer's standing (1 accepted, 2 requested, 3 blocked) and the access key
    // it gave us.
    "CREATE TABLE own_access (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        key BLOB NOT NULL,
        uploaded INTEGER NOT NULL
    );
    CREATE TABLE peer_access (
        peer BLOB PRIMARY KEY NOT NULL,
        standing INTEGER NOT NULL,
        access_key BLOB
    ) WITHOUT ROWID;",
    // Version 3: accounts with several devices. `own_account` holds this device's account (one
    // row): the account key's sealed pickle if this device holds it, the pinned device list and
    // the counter the relay last confirmed with our membership. `link_request` holds the sealed
    // link request a new device waits on, until its answer opened.
    "CREATE TABLE own_account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        signing_key BLOB,
        list BLOB NOT NULL,
        published INTEGER NOT NULL
    );
    CREATE TABLE link_request (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pickle BLOB NOT NULL
    );",
    // Version 4: each contact's pinned device list (SPEC.md §16.8 "Pinning"): the list's bytes
    // and the membership signatures that verified (96-byte entries: identity key, signature).
    "CREATE TABLE peer_devices (
        peer BLOB PRIMARY KEY NOT NULL,
        list BLOB NOT NULL,
        memberships BLOB NOT NULL
    ) WITHOUT ROWID;",
    // Version 5: reactions, edits and deletes for everyone (proto/PROTOCOL.md, "Content
    // kinds"). `target` is the message a row of kinds 2 to 6 names (the first 16 bytes of its
    // body; filled in for rows a newer client sent before this build knew the kinds); `edits`
    // keeps the texts edits replaced, in order; `reactions` is a set per message.
    "ALTER TABLE messages ADD COLUMN target BLOB;
    UPDATE messages SET target = substr(body, 1, 16) WHERE kind BETWEEN 2 AND 6 AND length(body) >= 16;
    CREATE INDEX messages_by_target ON messages (target, kind, position) WHERE target IS NOT NULL;
    CREATE TABLE edits (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        message BLOB NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX edits_by_message ON edits (message, seq);
    CREATE TABLE reactions (
        message BLOB NOT NULL,
        by BLOB NOT NULL,
        emoji TEXT NOT NULL,
        PRIMARY KEY (message, by, emoji)
    ) WITHOUT ROWID;",
    // Version 6: local full-text search and disappearing messages (`search`, `expiry`).
    super::search::MIGRATION,
    // Version 7: groups (client-core `groups`): one row per group with the core's stored form,
    // and the author (an account address) of each incoming group message.
    "CREATE TABLE groups (
        id BLOB PRIMARY KEY NOT NULL,
        record BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE authors (
        message BLOB PRIMARY KEY NOT NULL,
        author BLOB NOT NULL
    ) WITHOUT ROWID;",
    // Version 8: our group messages' receipts, per recipient account (`group_receipts`).
    super::group_receipts::MIGRATION,
];

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens `path` (creating it if needed), keys it with `key` and checks the key opens it.
pub(super) fn open_keyed(path: &Path, key: &DatabaseKey) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    // No busy timeout (rusqlite sets five seconds): the store keeps its database locked while
    // open (see `configure`), and waiting for another process to close it would only delay
    // the error.
    conn.busy_timeout(Duration::ZERO)?;
    conn.execute_batch(&key.key_statement())?;
    // SQLCipher logs to stderr by default (a failed page check on a wrong key, say), which
    // would end up in the app's terminal; every failure reaches us as an error code instead.
    // The setting is process-wide, and keying (above) is what first sets the default.
    conn.query_row("PRAGMA cipher_log_level = NONE", [], |_| Ok(()))?;
    // The first read decrypts page 1: a wrong key fails here, before anything is written.
    let probe = conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    });
    match probe {
        Ok(_) => Ok(conn),
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            drop(conn);
            Err(explain_unreadable(path))
        }
        Err(error) => Err(error.into()),
    }
}

/// SQLite says "not a database" both for a wrong key and for a file that never was an encrypted
/// database; the file's shape tells some of the latter apart.
fn explain_unreadable(path: &Path) -> StoreError {
    let inspect = || -> std::io::Result<(u64, Vec<u8>)> {
        let file = File::open(path)?;
        let length = file.metadata()?.len();
        let mut header = Vec::with_capacity(PLAIN_SQLITE_HEADER.len());
        file.take(PLAIN_SQLITE_HEADER.len() as u64)
            .read_to_end(&mut header)?;
        Ok((length, header))
    };
    match inspect() {
        Ok((_, header)) if header == PLAIN_SQLITE_HEADER => {
            StoreError::NotADatabase("it is an unencrypted SQLite database".to_owned())
        }
        Ok((length, _)) if length % PAGE_SIZE != 0 => StoreError::NotADatabase(format!(
            "its size of {length} bytes is not a whole number of {PAGE_SIZE}-byte pages"
        )),
        Ok(_) => StoreError::WrongKey,
        Err(source) => StoreError::Io {
            what: format!("cannot inspect {}", path.display()),
            source,
        },
    }
}

/// An existing profile's file must be there and hold something: SQLCipher would take a missing
/// or empty file for a new database.
pub(super) fn check_not_empty(path: &Path) -> Result<(), StoreError> {
    let not_a_profile = |reason| StoreError::NotAProfile {
        path: path.to_owned(),
        reason,
    };
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.len() == 0 => Err(not_a_profile(NotAProfile::Empty)),
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(not_a_profile(NotAProfile::Missing))
        }
        Err(source) => Err(StoreError::Io {
            what: format!("cannot inspect {}", path.display()),
            source,
        }),
    }
}

/// An existing profile's database, keyed, has run at least Hush's first migration. Checked
/// before anything (the migrations, the journal mode) writes to the file.
pub(super) fn check_hush_schema(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == 0 {
        return Err(StoreError::NotAProfile {
            path: path.to_owned(),
            reason: NotAProfile::Foreign,
        });
    }
    Ok(())
}

/// Settings of the store's connection.
pub(super) fn configure(conn: &Connection) -> Result<(), StoreError> {
    // One process per profile: two clients on one database would both advance the same
    // ratchets and reuse message keys. Exclusive mode holds the file lock from the first write
    // until close (and WAL then needs no shared-memory file).
    let mode: String = conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("exclusive") {
        return Err(StoreError::Backend(format!(
            "expected locking mode exclusive, got {mode}"
        )));
    }
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "expected journal mode wal, got {mode}"
        )));
    }
    // Replaced pickles' old pages are cut out of the log after their commit (see `wal`); this
    // bounds what other commits leave in it once SQLite resets it.
    conn.pragma_update(None, "journal_size_limit", super::wal::WAL_SIZE_LIMIT)?;
    // Every commit is fsynced before `apply` returns: the core acknowledges a message to the
    // relay right after, so it must survive power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Deleted rows (sent outbox items, released held messages, texts deleted for everyone) are
    // overwritten, not left in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // Temporary tables and sort spills stay in memory rather than in files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // No foreign keys: rows about a peer (messages, held, outbox) stand on their own, and the
    // core decides what to keep.
    Ok(())
}

/// Brings the schema to [`SCHEMA_VERSION`], each step in its own transaction with its version
/// bump. A database from a newer build is refused rather than misread.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_to(conn, MIGRATIONS.len())
}

/// [`migrate`] up to schema version `target` only (tests make databases of older versions).
pub(super) fn migrate_to(conn: &mut Connection, target: usize) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let start = usize::try_from(version).map_err(|_| StoreError::Decode {
        what: "schema version",
        reason: format!("{version} is negative"),
    })?;
    for (from, sql) in MIGRATIONS.iter().enumerate().take(target).skip(start) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", from + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Takes the write lock now, so a second process fails at open with [`StoreError::Locked`]
/// instead of at its first write. In exclusive locking mode it is held until close.
pub(super) fn lock(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")?;
    Ok(())
}
