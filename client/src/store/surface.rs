//! Reactions, edits and deletes for everyone in the database (schema version 5): the `target`
//! column names the message a row acts on or refers to, `edits` keeps the texts an edit
//! replaced, `reactions` the set of (who, emoji) per message.

use hush_client_core::{
    Content, HistoryEntry, MAX_SURFACE_WINDOW, MessageId, StoreOp, StoredMessage, StoredReaction,
};
use rusqlite::{Connection, params};

use super::StoreError;
use super::codec::{self, MESSAGE_COLUMNS, column, saturating};
use super::queries::rows;

/// Kind numbers of reactions, edits and deletes (proto/PROTOCOL.md, "Content kinds"): rows of
/// these kinds act on other messages and are not listed in a history, except a tombstone (a
/// delete naming its own row).
/// A tombstone of a message that had a disappearing timer (`expires_at` set) is not listed
/// either: the message is gone, not deleted in view.
pub(super) const HIDDEN: &str =
    "NOT (kind IN (2, 3, 4) AND (target IS NULL OR target != id OR expires_at IS NOT NULL))";

fn execute(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// After inserting `message`: records what it names.
pub(super) fn note_target(conn: &Connection, message: &StoredMessage) -> Result<(), StoreError> {
    if let Some(target) = message.content.target() {
        execute(
            conn,
            "UPDATE messages SET target = ?2 WHERE id = ?1",
            params![message.id.0, target.0],
        )?;
    }
    Ok(())
}

fn set_content(conn: &Connection, id: &MessageId, content: &Content) -> Result<(), StoreError> {
    let (kind, body) = content.to_parts();
    execute(
        conn,
        "UPDATE messages SET kind = ?2, body = ?3, target = ?4 WHERE id = ?1",
        params![id.0, kind, body, content.target().map(|target| target.0)],
    )?;
    Ok(())
}

/// Applies [`StoreOp::EditMessage`], [`StoreOp::DeleteMessage`] and [`StoreOp::PutReaction`]
/// where [`StoreOp::applies_to`] lets them.
pub(super) fn apply(conn: &Connection, op: &StoreOp) -> Result<(), StoreError> {
    let Some(id) = op.surface_target() else {
        return Ok(());
    };
    let Some(message) = super::queries::message(conn, &id)? else {
        return Ok(());
    };
    if !op.applies_to(&message) {
        return Ok(());
    }
    match op {
        StoreOp::EditMessage { .. } => {
            if let Some((old, new)) = op.edited(&message) {
                execute(
                    conn,
                    "INSERT INTO edits (message, text) VALUES (?1, ?2)",
                    params![id.0, old],
                )?;
                set_content(conn, &id, &new)?;
            }
        }
        StoreOp::DeleteMessage { .. } => {
            // `secure_delete` overwrites what these free; the commit then truncates the log.
            set_content(conn, &id, &Content::tombstone(id))?;
            execute(conn, "DELETE FROM edits WHERE message = ?1", [id.0])?;
            execute(conn, "DELETE FROM reactions WHERE message = ?1", [id.0])?;
            // Stored edits of it keep their target and lose their text.
            execute(
                conn,
                "UPDATE messages SET body = substr(body, 1, 16) WHERE target = ?1 AND kind = 3",
                [id.0],
            )?;
        }
        StoreOp::PutReaction { by, emoji, added, .. } => {
            let sql = if *added {
                "INSERT INTO reactions (message, by, emoji) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"
            } else {
                "DELETE FROM reactions WHERE message = ?1 AND by = ?2 AND emoji = ?3"
            };
            execute(conn, sql, params![id.0, by.as_bytes(), emoji])?;
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn edits(conn: &Connection, id: &MessageId) -> Result<Vec<String>, StoreError> {
    rows(
        conn,
        "SELECT text FROM edits WHERE message = ?1 ORDER BY seq",
        [id.0],
        |row| column(row, 0, "edit text"),
    )
}

pub(super) fn reactions(conn: &Connection, id: &MessageId) -> Result<Vec<StoredReaction>, StoreError> {
    let mut reactions = rows(
        conn,
        "SELECT by, emoji FROM reactions WHERE message = ?1",
        [id.0],
        |row| {
            Ok(StoredReaction {
                by: codec::address(column(row, 0, "address")?)?,
                emoji: column(row, 1, "emoji")?,
            })
        },
    )?;
    // In `StoredReaction`'s order (SQL would sort the address bytes the same, but say it once).
    reactions.sort();
    Ok(reactions)
}

/// Up to `limit` messages in the thread under `root` before `before`, oldest first.
pub(super) fn thread(
    conn: &Connection,
    root: &MessageId,
    before: Option<u64>,
    limit: usize,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let mut entries = rows(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE target = ?1 AND kind = 6 AND position < ?2 \
             ORDER BY position DESC LIMIT ?3"
        ),
        params![root.0, before.map_or(i64::MAX, saturating), saturating(limit)],
        codec::message,
    )?;
    entries.reverse();
    Ok(entries)
}

/// The latest [`MAX_SURFACE_WINDOW`] messages, oldest first, for the snapshot.
pub(super) fn recent(conn: &Connection) -> Result<Vec<StoredMessage>, StoreError> {
    let mut recent: Vec<StoredMessage> = rows(
        conn,
        &format!("SELECT {MESSAGE_COLUMNS} FROM messages ORDER BY position DESC LIMIT ?1"),
        [saturating(MAX_SURFACE_WINDOW)],
        codec::message,
    )?
    .into_iter()
    .map(|entry| entry.message)
    .collect();
    recent.reverse();
    Ok(recent)
}

/// The `target` column of message `id` (for the migration test).
#[cfg(test)]
pub(super) fn target_of(conn: &Connection, id: &MessageId) -> Result<Option<Vec<u8>>, StoreError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached("SELECT target FROM messages WHERE id = ?1")?
        .query_row([id.0], |row| row.get(0))
        .optional()?
        .flatten())
}
