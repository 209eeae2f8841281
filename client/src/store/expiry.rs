//! Disappearing messages in the database (schema version 6, proto/PROTOCOL.md "Content kinds",
//! kind 7): `timers` holds each conversation's timer, set by the timer messages either side
//! sends; every other message stored while one is set gets `expires_at` = its store time plus
//! the timer. [`expire`] then turns each due message into a tombstone (no longer listed), with
//! its edit history and its reactions deleted and the rows that act on it (edits, reactions)
//! made such tombstones too; the search index drops it through its trigger, and
//! `secure_delete` overwrites what all this frees.

use hush_client_core::{Address, Content, MessageId, StoredMessage};
use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::codec::{self, column, int, uint};
use super::queries::rows;

fn execute(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// After inserting `message`: a timer message sets its conversation's timer. (Any other message
/// of a conversation with a timer gets its expiry from the `messages_expiry` trigger.)
pub(super) fn note_insert(conn: &Connection, message: &StoredMessage) -> Result<(), StoreError> {
    let peer = message.peer.as_bytes();
    if let Some(seconds) = message.content.timer_seconds() {
        if seconds == 0 {
            execute(conn, "DELETE FROM timers WHERE peer = ?1", [peer])?;
        } else {
            execute(
                conn,
                "INSERT INTO timers (peer, seconds) VALUES (?1, ?2) \
                 ON CONFLICT (peer) DO UPDATE SET seconds = excluded.seconds",
                params![peer, seconds],
            )?;
        }
    }
    Ok(())
}

/// The conversation's timer in seconds, `None` if off.
pub(super) fn timer(conn: &Connection, peer: &Address) -> Result<Option<u32>, StoreError> {
    let seconds: Option<i64> = conn
        .prepare_cached("SELECT seconds FROM timers WHERE peer = ?1")?
        .query_row([peer.as_bytes()], |row| row.get(0))
        .optional()?;
    seconds
        .map(|seconds| {
            u32::try_from(seconds).map_err(|_| StoreError::Decode {
                what: "disappearing timer",
                reason: format!("{seconds} is out of range"),
            })
        })
        .transpose()
}

/// When the next message expires (Unix ms), if one will.
pub(super) fn next_expiry(conn: &Connection) -> Result<Option<u64>, StoreError> {
    let next: Option<i64> = conn
        .prepare_cached("SELECT min(expires_at) FROM messages WHERE expires_at IS NOT NULL AND kind != 4")?
        .query_row([], |row| row.get(0))?;
    Ok(next.map(uint))
}

/// A message that expired: whose conversation, which one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    /// The peer of its conversation.
    pub peer: Address,
    /// Its id.
    pub id: MessageId,
}

/// Expires every message due at `now` (Unix ms), inside the caller's transaction.
pub(super) fn expire(conn: &Connection, now: u64) -> Result<Vec<Expired>, StoreError> {
    let due = rows(
        conn,
        "SELECT id, peer FROM messages \
         WHERE expires_at IS NOT NULL AND kind != 4 AND expires_at <= ?1",
        [int(now).max(0)],
        |row| {
            Ok(Expired {
                id: codec::message_id(column(row, 0, "message id")?)?,
                peer: codec::address(column(row, 1, "address")?)?,
            })
        },
    )?;
    for expired in &due {
        let id = expired.id.0;
        let (kind, body) = Content::tombstone(expired.id).to_parts();
        // The tombstone keeps the id (a copy arriving again stays a duplicate) and `expires_at`
        // (so it is not listed); the search trigger drops its index entry.
        execute(
            conn,
            "UPDATE messages SET kind = ?2, body = ?3, target = ?1 WHERE id = ?1",
            params![id, kind, body],
        )?;
        execute(conn, "DELETE FROM edits WHERE message = ?1", [id])?;
        execute(conn, "DELETE FROM reactions WHERE message = ?1", [id])?;
        // Who of the group stored and read it goes with it.
        execute(conn, "DELETE FROM group_receipts WHERE message = ?1", [id])?;
        // Reactions, edits and deletes of it become hidden tombstones too: an edit carries its
        // text, and the rows stay (a conversation's latest row may be one of them).
        execute(
            conn,
            "UPDATE messages SET kind = ?2, body = id, target = id, \
             expires_at = coalesce(expires_at, ?3) \
             WHERE target = ?1 AND id != ?1 AND kind IN (2, 3, 4)",
            params![id, kind, int(now).max(0)],
        )?;
    }
    Ok(due)
}

impl super::SqlStore {
    /// Expires every message due at `now` (Unix ms, the caller's clock) in one transaction, then
    /// truncates the write-ahead log so the texts' old pages do not stay in it. Returns what
    /// expired.
    pub fn expire(&mut self, now: u64) -> Result<Vec<Expired>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let expired = expire(&tx, now)?;
        tx.commit()?;
        if !expired.is_empty() {
            super::wal::truncate(&self.conn)?;
        }
        Ok(expired)
    }

    /// When the next message expires (Unix ms), if one will.
    pub fn next_expiry(&self) -> Result<Option<u64>, StoreError> {
        next_expiry(&self.conn)
    }

    /// The disappearing timer of the conversation with `peer`, in seconds; `None` if off.
    pub fn disappearing_timer(&self, peer: &Address) -> Result<Option<u32>, StoreError> {
        timer(&self.conn, peer)
    }
}
