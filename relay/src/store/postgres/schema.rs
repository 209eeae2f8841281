//! The schema, versioned in a `schema_version` table and migrated forward at open.

use super::pool::PooledConn;
use crate::store::StoreError;
use crate::store::migrations::Migrations;

pub(super) const MIGRATIONS: Migrations = Migrations(&[
    // Version 1: the SQLite store's schema at its version 2. Only what delivery needs: no sender,
    // no plaintext, nothing about who talks to whom. Child rows name their mailbox by its small
    // integer `id` (a quarter of the 32-byte key in every message's index entry); identity
    // values are never reused, so a deleted and re-registered mailbox starts from nothing.
    "CREATE TABLE mailboxes (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        mailbox BYTEA NOT NULL UNIQUE,
        identity_key BYTEA NOT NULL,
        next_seq BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        -- Messages and envelope bytes queued, kept with every insert and delete so the quota
        -- check costs one row read instead of a scan of the mailbox's queue.
        queued_count BIGINT NOT NULL DEFAULT 0,
        queued_bytes BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE signed_prekeys (
        mailbox BIGINT PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
        id BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        key BYTEA NOT NULL,
        signature BYTEA NOT NULL
    );
    CREATE TABLE one_time_prekeys (
        mailbox BIGINT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
        id BIGINT NOT NULL,
        key BYTEA NOT NULL,
        PRIMARY KEY (mailbox, id)
    );
    CREATE TABLE messages (
        mailbox BIGINT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        received_at BIGINT NOT NULL,
        size BIGINT NOT NULL,
        envelope BYTEA NOT NULL,
        PRIMARY KEY (mailbox, seq)
    );
    -- Ciphertext does not compress: store large envelopes out of line without trying.
    ALTER TABLE messages ALTER COLUMN envelope SET STORAGE EXTERNAL;
    CREATE INDEX messages_by_received_at ON messages (received_at);",
    // Version 2: the verifier (SHA-256) of the mailbox's access key, `NULL` while it has none.
    "ALTER TABLE mailboxes ADD COLUMN access_verifier BYTEA;",
    // Version 3: the SQLite store's version 5, accounts' device lists. The counter is 8
    // big-endian bytes: `bytea` compares bytewise, so the upsert's comparison is the numbers'
    // over the whole `u64` range.
    "CREATE TABLE device_lists (
        account BYTEA PRIMARY KEY,
        counter BYTEA NOT NULL,
        list BYTEA NOT NULL
    );
    CREATE TABLE device_memberships (
        account BYTEA NOT NULL REFERENCES device_lists (account) ON DELETE CASCADE,
        identity_key BYTEA NOT NULL,
        signature BYTEA NOT NULL,
        PRIMARY KEY (account, identity_key)
    );",
    // Version 4: the SQLite store's version 6, KEM prekeys for PQXDH: signed one-time ones,
    // each deleted when a fetch claims it, and one last-resort key per mailbox.
    "CREATE TABLE kem_one_time_prekeys (
        mailbox BIGINT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
        id BIGINT NOT NULL,
        key BYTEA NOT NULL,
        signature BYTEA NOT NULL,
        PRIMARY KEY (mailbox, id)
    );
    CREATE TABLE kem_last_resort_prekeys (
        mailbox BIGINT PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
        id BIGINT NOT NULL,
        key BYTEA NOT NULL,
        signature BYTEA NOT NULL
    );",
]);

/// The schema version this build writes.
#[cfg(test)]
pub(super) const SCHEMA_VERSION: usize = MIGRATIONS.latest();

/// Key of the advisory lock that serializes migrations, so nodes starting together do not race
/// to create the same tables ("hushrely" in ASCII).
const MIGRATION_LOCK: i64 = 0x6875_7368_7265_6c79;

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction. A database from a newer build is
/// refused rather than misread.
pub(super) async fn migrate(conn: &mut PooledConn<'_>) -> Result<(), StoreError> {
    let mut tx = conn.transaction().await?;
    tx.query("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let rows = tx
        .query("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await?;
    let version: i32 = rows.first().map(|row| row.try_get(0)).transpose()?.unwrap_or(0);
    for (to, sql) in MIGRATIONS.after(version.into())? {
        tx.batch_execute(sql).await?;
        tx.query("INSERT INTO schema_version (version) VALUES ($1)", &[&to])
            .await?;
    }
    tx.commit().await
}
