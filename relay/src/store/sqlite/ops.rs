//! The SQL of each operation, on a connection it is given. Writes run on the writer thread in
//! the batch transaction, most inside a savepoint (see `writer::Guard`), so an error after a
//! partial change leaves nothing behind. Reads run on a read connection.
//!
//! Acknowledged messages: the database's `acked_through` mark hides the rows at or below it
//! from [`fetch`] and the counters; the writer's flush deletes them as it moves the mark.

use hush_proto::{MailboxId, OneTimePreKey, Signature, SignedPreKey};
use rusqlite::{Connection, OptionalExtension, params};

use crate::store::{
    ClaimedBundle, MailboxStatus, StoreError, StoredMessage, count_u32, envelope_from_sql, from_sql, to_sql,
};

/// The mailbox's integer id in this file (what `messages` rows name it by), or `UnknownMailbox`.
fn mailbox_id(conn: &Connection, mailbox: &MailboxId) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT id FROM mailboxes WHERE mailbox = ?1")
        .and_then(|mut statement| statement.query_row([mailbox.0], |row| row.get(0)).optional())?
        .ok_or(StoreError::UnknownMailbox)
}

/// `UnknownMailbox` unless the mailbox is registered.
pub(super) fn require_mailbox(conn: &Connection, mailbox: &MailboxId) -> Result<(), StoreError> {
    mailbox_id(conn, mailbox).map(drop)
}

fn one_time_count(conn: &Connection, mailbox: &MailboxId) -> Result<u32, StoreError> {
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM one_time_prekeys WHERE mailbox = ?1")
        .and_then(|mut statement| statement.query_row([mailbox.0], |row| row.get(0)))?;
    Ok(count_u32(from_sql(count)?))
}

pub(super) fn register(
    conn: &Connection,
    mailbox: MailboxId,
    identity_key: [u8; 32],
    now: u64,
) -> Result<(), StoreError> {
    let existing: Option<[u8; 32]> = conn
        .query_row(
            "SELECT identity_key FROM mailboxes WHERE mailbox = ?1",
            [mailbox.0],
            |row| row.get(0),
        )
        .optional()?;
    match existing {
        Some(key) if key == identity_key => Ok(()),
        Some(_) => Err(StoreError::IdentityMismatch),
        None => {
            conn.execute(
                // A deleted mailbox's id may be taken again: its messages went with it.
                "INSERT INTO mailboxes (mailbox, identity_key, next_seq, created_at, id) \
                 VALUES (?1, ?2, 1, ?3, (SELECT coalesce(max(id), 0) + 1 FROM mailboxes))",
                params![mailbox.0, identity_key, to_sql(now)],
            )?;
            Ok(())
        }
    }
}

pub(super) fn mailbox_status(conn: &Connection, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
    let identity_key: Option<[u8; 32]> = conn
        .prepare_cached("SELECT identity_key FROM mailboxes WHERE mailbox = ?1")
        .and_then(|mut statement| statement.query_row([mailbox.0], |row| row.get(0)).optional())?;
    Ok(match identity_key {
        Some(identity_key) => MailboxStatus::Active { identity_key },
        None => MailboxStatus::Unknown,
    })
}

pub(super) fn upload_prekeys(
    conn: &Connection,
    mailbox: MailboxId,
    signed_prekey: SignedPreKey,
    one_time: Vec<OneTimePreKey>,
    max_one_time: u32,
) -> Result<u32, StoreError> {
    require_mailbox(conn, &mailbox)?;
    let held = one_time_count(conn, &mailbox)?;
    conn.execute(
        "INSERT OR REPLACE INTO signed_prekeys (mailbox, id, created_at, key, signature) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            mailbox.0,
            signed_prekey.id,
            to_sql(signed_prekey.created_at),
            signed_prekey.key,
            signed_prekey.signature.0
        ],
    )?;
    let adding = u32::try_from(one_time.len()).unwrap_or(u32::MAX);
    {
        let mut insert = conn.prepare_cached(
            "INSERT OR REPLACE INTO one_time_prekeys (mailbox, id, key) VALUES (?1, ?2, ?3)",
        )?;
        for prekey in one_time {
            insert.execute(params![mailbox.0, prekey.id, prekey.key])?;
        }
    }
    // Counting after the inserts handles replaced ids and duplicates within the upload; over the
    // cap, the error rolls the savepoint back, signed prekey included.
    let after = one_time_count(conn, &mailbox)?;
    if after > max_one_time {
        return Err(StoreError::TooManyPreKeys {
            held,
            adding,
            max: max_one_time,
        });
    }
    Ok(after)
}

pub(super) fn claim_bundle(conn: &Connection, mailbox: MailboxId) -> Result<ClaimedBundle, StoreError> {
    let identity_key: [u8; 32] = conn
        .query_row(
            "SELECT identity_key FROM mailboxes WHERE mailbox = ?1",
            [mailbox.0],
            |row| row.get(0),
        )
        .optional()?
        .ok_or(StoreError::UnknownMailbox)?;
    let signed: Option<(u32, i64, [u8; 32], [u8; 64])> = conn
        .query_row(
            "SELECT id, created_at, key, signature FROM signed_prekeys WHERE mailbox = ?1",
            [mailbox.0],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()?;
    let (id, created_at, key, signature) = signed.ok_or(StoreError::NoBundle)?;
    let signed_prekey = SignedPreKey {
        id,
        created_at: from_sql(created_at)?,
        key,
        signature: Signature(signature),
    };
    // Select and delete inside the writer's transaction: no other claim can interleave, so each
    // one-time prekey is handed out at most once.
    let one_time_prekey: Option<OneTimePreKey> = conn
        .query_row(
            "SELECT id, key FROM one_time_prekeys WHERE mailbox = ?1 ORDER BY id LIMIT 1",
            [mailbox.0],
            |row| {
                Ok(OneTimePreKey {
                    id: row.get(0)?,
                    key: row.get(1)?,
                })
            },
        )
        .optional()?;
    if let Some(prekey) = &one_time_prekey {
        conn.execute(
            "DELETE FROM one_time_prekeys WHERE mailbox = ?1 AND id = ?2",
            params![mailbox.0, prekey.id],
        )?;
    }
    Ok(ClaimedBundle {
        identity_key,
        signed_prekey,
        one_time_prekey,
        remaining: one_time_count(conn, &mailbox)?,
    })
}

pub(super) fn one_time_prekey_count(conn: &Connection, mailbox: MailboxId) -> Result<u32, StoreError> {
    require_mailbox(conn, &mailbox)?;
    one_time_count(conn, &mailbox)
}

/// A mailbox's queue as its database row holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct QueueRow {
    /// The mailbox's integer id in the database.
    pub(super) id: i64,
    pub(super) next_seq: u64,
    pub(super) count: u64,
    pub(super) bytes: u64,
    pub(super) acked_through: u64,
}

/// The mailbox's queue row, or `UnknownMailbox`.
pub(super) fn load_queue(conn: &Connection, mailbox: &MailboxId) -> Result<QueueRow, StoreError> {
    let (id, next_seq, count, bytes, acked): (i64, i64, i64, i64, i64) = conn
        .prepare_cached(
            "SELECT id, next_seq, queued_count, queued_bytes, acked_through FROM mailboxes WHERE mailbox = ?1",
        )
        .and_then(|mut statement| {
            statement
                .query_row([mailbox.0], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
                })
                .optional()
        })
        ?
        .ok_or(StoreError::UnknownMailbox)?;
    Ok(QueueRow {
        id,
        next_seq: from_sql(next_seq)?,
        count: from_sql(count)?,
        bytes: from_sql(bytes)?,
        acked_through: from_sql(acked)?,
    })
}

/// How many rows of mailbox `id` have `after < seq <= through`, and their envelope bytes.
pub(super) fn count_between(
    conn: &Connection,
    id: i64,
    after: u64,
    through: u64,
) -> Result<(u64, u64), StoreError> {
    let (rows, size): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(size), 0) FROM messages \
             WHERE mailbox = ?1 AND seq > ?2 AND seq <= ?3",
        )
        .and_then(|mut statement| {
            statement.query_row(params![id, to_sql(after), to_sql(through)], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
        })?;
    Ok((from_sql(rows)?, from_sql(size)?))
}

/// Unacknowledged messages across mailboxes, as the rows' counters hold them.
pub(super) fn total_queued(conn: &Connection) -> Result<u64, StoreError> {
    let count: i64 = conn.query_row(
        "SELECT coalesce(sum(queued_count), 0) FROM mailboxes",
        [],
        |row| row.get(0),
    )?;
    from_sql(count)
}

pub(super) fn fetch(
    conn: &Connection,
    mailbox: MailboxId,
    after: u64,
    limit: usize,
) -> Result<Vec<StoredMessage>, StoreError> {
    let id = mailbox_id(conn, &mailbox)?;
    // No `LIMIT ?`: this SQLite build re-prepares such a statement on every run (see
    // bench/README.md). Rows come in index order, so taking `limit` of them stops the scan.
    let mut statement = conn.prepare_cached(
        "SELECT seq, received_at, envelope FROM messages WHERE mailbox = ?1 \
             AND seq > max(?2, (SELECT acked_through FROM mailboxes WHERE id = ?1)) ORDER BY seq",
    )?;
    let rows = statement.query_map(params![id, to_sql(after)], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get(2)?))
    })?;
    let mut messages = Vec::new();
    for row in rows.take(limit) {
        let (seq, received_at, envelope_bytes) = row?;
        messages.push(StoredMessage {
            seq: from_sql(seq)?,
            received_at: from_sql(received_at)?,
            envelope: envelope_from_sql(envelope_bytes)?,
        });
    }
    Ok(messages)
}

/// Lowers a mailbox's queue counters after deleting `count` messages of `bytes` bytes.
fn unqueue(conn: &Connection, id: i64, count: i64, bytes: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE mailboxes SET queued_count = max(queued_count - ?2, 0), \
         queued_bytes = max(queued_bytes - ?3, 0) WHERE id = ?1",
    )
    .and_then(|mut statement| statement.execute(params![id, count, bytes]))?;
    Ok(())
}

pub(super) fn purge_expired(conn: &Connection, cutoff: u64) -> Result<u64, StoreError> {
    let expired: Vec<(i64, i64, i64)> = conn
        .prepare_cached(
            // Acked rows were taken off the counters already.
            "SELECT messages.mailbox, count(*), coalesce(sum(messages.size), 0) FROM messages \
             JOIN mailboxes ON mailboxes.id = messages.mailbox \
             WHERE messages.received_at < ?1 AND messages.seq > mailboxes.acked_through \
             GROUP BY messages.mailbox",
        )
        .and_then(|mut statement| {
            statement
                .query_map([to_sql(cutoff)], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect()
        })?;
    // Acked rows past their TTL go too, uncounted.
    conn.execute("DELETE FROM messages WHERE received_at < ?1", [to_sql(cutoff)])?;
    let mut expired_count = 0u64;
    for (id, count, bytes) in expired {
        unqueue(conn, id, count, bytes)?;
        expired_count += from_sql(count)?;
    }
    Ok(expired_count)
}

pub(super) fn delete_mailbox(conn: &Connection, mailbox: MailboxId) -> Result<(), StoreError> {
    let id = match mailbox_id(conn, &mailbox) {
        Ok(id) => id,
        Err(StoreError::UnknownMailbox) => return Ok(()),
        Err(error) => return Err(error),
    };
    // Children first, explicitly: the outcome does not depend on foreign-key enforcement.
    conn.execute("DELETE FROM messages WHERE mailbox = ?1", [id])?;
    for sql in [
        "DELETE FROM kem_one_time_prekeys WHERE mailbox = ?1",
        "DELETE FROM kem_last_resort_prekeys WHERE mailbox = ?1",
        "DELETE FROM one_time_prekeys WHERE mailbox = ?1",
        "DELETE FROM signed_prekeys WHERE mailbox = ?1",
        "DELETE FROM mailboxes WHERE mailbox = ?1",
    ] {
        conn.execute(sql, [mailbox.0])?;
    }
    Ok(())
}
