//! The SQL of each operation. Writes run on the writer thread in the batch transaction. Most run
//! inside a savepoint, so returning an error after a partial change is safe: the savepoint is
//! rolled back and nothing of the operation remains. The two hot ones, [`enqueue`] and [`ack`],
//! run without one and must refuse before their first change (see `writer::Guard`); they write
//! journal records, not rows, and the writer's [`flush`] brings their result into the database
//! later. Reads run on a read connection.
//!
//! Acknowledged messages: the database's `acked_through` mark hides the rows at or below it
//! from [`fetch`] and the counters; [`flush`] deletes them as it moves the mark.

use std::collections::HashMap;

use hush_proto::{MailboxId, OneTimePreKey, Signature, SignedPreKey};
use rusqlite::{Connection, OptionalExtension, params};

use super::recent::{Effect, Recent};
use super::writer::{Batch, Queue};
use super::{backend, journal};
use crate::store::{
    ClaimedBundle, MailboxStatus, Quota, StoreError, StoredMessage, count_u32, from_sql, to_sql,
};

/// The mailbox's integer id in this file (what `messages` rows name it by), or `UnknownMailbox`.
fn mailbox_id(conn: &Connection, mailbox: &MailboxId) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT id FROM mailboxes WHERE mailbox = ?1")
        .and_then(|mut statement| statement.query_row([mailbox.0], |row| row.get(0)).optional())
        .map_err(backend)?
        .ok_or(StoreError::UnknownMailbox)
}

/// `UnknownMailbox` unless the mailbox is registered.
fn require_mailbox(conn: &Connection, mailbox: &MailboxId) -> Result<(), StoreError> {
    mailbox_id(conn, mailbox).map(drop)
}

fn one_time_count(conn: &Connection, mailbox: &MailboxId) -> Result<u32, StoreError> {
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM one_time_prekeys WHERE mailbox = ?1")
        .and_then(|mut statement| statement.query_row([mailbox.0], |row| row.get(0)))
        .map_err(backend)?;
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
        .optional()
        .map_err(backend)?;
    match existing {
        Some(key) if key == identity_key => Ok(()),
        Some(_) => Err(StoreError::IdentityMismatch),
        None => {
            conn.execute(
                // A deleted mailbox's id may be taken again: its messages went with it.
                "INSERT INTO mailboxes (mailbox, identity_key, next_seq, created_at, id) \
                 VALUES (?1, ?2, 1, ?3, (SELECT coalesce(max(id), 0) + 1 FROM mailboxes))",
                params![mailbox.0, identity_key, to_sql(now)],
            )
            .map_err(backend)?;
            Ok(())
        }
    }
}

pub(super) fn mailbox_status(conn: &Connection, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
    let identity_key: Option<[u8; 32]> = conn
        .prepare_cached("SELECT identity_key FROM mailboxes WHERE mailbox = ?1")
        .and_then(|mut statement| statement.query_row([mailbox.0], |row| row.get(0)).optional())
        .map_err(backend)?;
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
    )
    .map_err(backend)?;
    let adding = u32::try_from(one_time.len()).unwrap_or(u32::MAX);
    {
        let mut insert = conn
            .prepare_cached("INSERT OR REPLACE INTO one_time_prekeys (mailbox, id, key) VALUES (?1, ?2, ?3)")
            .map_err(backend)?;
        for prekey in one_time {
            insert
                .execute(params![mailbox.0, prekey.id, prekey.key])
                .map_err(backend)?;
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
        .optional()
        .map_err(backend)?
        .ok_or(StoreError::UnknownMailbox)?;
    let signed: Option<(u32, i64, [u8; 32], [u8; 64])> = conn
        .query_row(
            "SELECT id, created_at, key, signature FROM signed_prekeys WHERE mailbox = ?1",
            [mailbox.0],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()
        .map_err(backend)?;
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
        .optional()
        .map_err(backend)?;
    if let Some(prekey) = &one_time_prekey {
        conn.execute(
            "DELETE FROM one_time_prekeys WHERE mailbox = ?1 AND id = ?2",
            params![mailbox.0, prekey.id],
        )
        .map_err(backend)?;
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

/// The mailbox's queue as the database holds it (what the writer keeps until its next flush),
/// or `UnknownMailbox`.
pub(super) fn load_queue(conn: &Connection, mailbox: &MailboxId) -> Result<Queue, StoreError> {
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
        .map_err(backend)?
        .ok_or(StoreError::UnknownMailbox)?;
    let next_seq = from_sql(next_seq)?;
    let acked_through = from_sql(acked)?;
    Ok(Queue {
        id,
        next_seq,
        durable_next: next_seq,
        flushed_next: next_seq,
        count: from_sql(count)?,
        flushed_count: from_sql(count)?,
        bytes: from_sql(bytes)?,
        acked_through,
        flushed_acked: acked_through,
        dirty: false,
    })
}

/// Refuses before changing anything (unknown recipient, over quota), so it needs no savepoint.
/// Writes one journal record per envelope; the messages reach the database at the writer's next
/// flush, if they are still unacknowledged then.
pub(super) fn enqueue(
    batch: &mut Batch<'_>,
    deliveries: Vec<(MailboxId, Vec<u8>)>,
    now: u64,
    quota: Quota,
) -> Result<Vec<u64>, StoreError> {
    // Checks first: every recipient's queue as it will be after this call, several envelopes to
    // one mailbox counted together.
    let mut queues: Vec<(MailboxId, Queue)> = Vec::new();
    let mut planned = Vec::with_capacity(deliveries.len());
    for (mailbox, envelope) in &deliveries {
        let slot = match queues.iter().position(|(known, _)| known == mailbox) {
            Some(slot) => slot,
            None => {
                queues.push((*mailbox, batch.queue(mailbox)?));
                queues.len() - 1
            }
        };
        let (_, queue) = queues
            .get_mut(slot)
            .ok_or_else(|| StoreError::Backend("enqueue lost a recipient".to_owned()))?;
        queue.count = queue.count.saturating_add(1);
        queue.bytes = queue.bytes.saturating_add(envelope.len() as u64);
        if queue.count > quota.max_messages || queue.bytes > quota.max_bytes {
            return Err(StoreError::QuotaExceeded { mailbox: *mailbox });
        }
        planned.push((queue.next_seq, queue.flushed_next));
        queue.next_seq = queue.next_seq.saturating_add(1);
    }
    // Then the changes: a record and a visible message per envelope.
    let seqs = planned.iter().map(|(seq, _)| *seq).collect();
    for ((seq, from_seq), (mailbox, envelope)) in planned.into_iter().zip(deliveries) {
        journal::encode_stored(batch.records(), &mailbox, seq, now, &envelope);
        batch.effect(Effect::Stored {
            mailbox,
            from_seq,
            messages: vec![StoredMessage {
                seq,
                received_at: now,
                envelope,
            }],
        });
    }
    for (mailbox, mut queue) in queues {
        queue.dirty = true;
        batch.set_queue(mailbox, queue);
    }
    Ok(seqs)
}

pub(super) fn fetch(
    conn: &Connection,
    mailbox: MailboxId,
    after: u64,
    limit: usize,
) -> Result<Vec<StoredMessage>, StoreError> {
    let id = mailbox_id(conn, &mailbox)?;
    // No `LIMIT ?`: this SQLite build (STAT4) re-prepares a statement whose LIMIT is a bound
    // parameter on every run, which cost several percent of the relay's CPU under load. The
    // rows come in index order, so taking `limit` of them stops the scan just the same.
    let mut statement = conn
        .prepare_cached(
            "SELECT seq, received_at, envelope FROM messages WHERE mailbox = ?1 \
             AND seq > max(?2, (SELECT acked_through FROM mailboxes WHERE id = ?1)) ORDER BY seq",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map(params![id, to_sql(after)], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get(2)?))
        })
        .map_err(backend)?;
    let mut messages = Vec::new();
    for row in rows.take(limit) {
        let (seq, received_at, envelope) = row.map_err(backend)?;
        messages.push(StoredMessage {
            seq: from_sql(seq)?,
            received_at: from_sql(received_at)?,
            envelope,
        });
    }
    Ok(messages)
}

/// Like [`enqueue`], refuses (unknown mailbox) before changing anything, and writes only a
/// journal record. Returns how many messages the ack took off the queue.
pub(super) fn ack(batch: &mut Batch<'_>, mailbox: MailboxId, through: u64) -> Result<u64, StoreError> {
    let mut queue = batch.queue(&mailbox)?;
    // Never past the last durable sequence number, so a later message is never hidden.
    let through = through.min(queue.durable_next.saturating_sub(1));
    if through <= queue.acked_through {
        return Ok(0);
    }
    // The acknowledged messages still in the database, then those only in memory (the two
    // ranges do not overlap: memory holds `flushed_next` and later).
    let (mut count, mut bytes) = (0u64, 0u64);
    let in_database = through.min(queue.flushed_next.saturating_sub(1));
    if in_database > queue.acked_through {
        let (rows, size): (i64, i64) = batch
            .read()
            .prepare_cached(
                "SELECT count(*), coalesce(sum(size), 0) FROM messages \
                 WHERE mailbox = ?1 AND seq > ?2 AND seq <= ?3",
            )
            .and_then(|mut statement| {
                statement.query_row(
                    params![queue.id, to_sql(queue.acked_through), to_sql(in_database)],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
            })
            .map_err(backend)?;
        count = from_sql(rows)?;
        bytes = from_sql(size)?;
    }
    let (recent_count, recent_bytes) = batch
        .recent()
        .count_between(&mailbox, queue.acked_through, through);
    count = count.saturating_add(recent_count);
    bytes = bytes.saturating_add(recent_bytes);
    queue.count = queue.count.saturating_sub(count);
    queue.bytes = queue.bytes.saturating_sub(bytes);
    queue.acked_through = through;
    queue.dirty = true;
    journal::encode_acked(batch.records(), &mailbox, through);
    batch.effect(Effect::Acked {
        mailbox,
        from_seq: queue.flushed_next,
        through,
    });
    batch.set_queue(mailbox, queue);
    Ok(count)
}

/// The writer's flush, inside its transaction: writes back every changed queue, deletes the
/// acknowledged rows, and inserts every message still held only in memory (all unacknowledged:
/// an ack drops them there).
pub(super) fn flush(
    conn: &Connection,
    queues: &HashMap<MailboxId, Queue>,
    recent: &Recent,
) -> Result<(), StoreError> {
    let mut update = conn
        .prepare_cached(
            "UPDATE mailboxes SET next_seq = ?2, queued_count = ?3, queued_bytes = ?4, \
             acked_through = ?5 WHERE id = ?1",
        )
        .map_err(backend)?;
    let mut delete = conn
        .prepare_cached("DELETE FROM messages WHERE mailbox = ?1 AND seq <= ?2")
        .map_err(backend)?;
    for queue in queues.values().filter(|queue| queue.dirty) {
        update
            .execute(params![
                queue.id,
                to_sql(queue.next_seq),
                to_sql(queue.count),
                to_sql(queue.bytes),
                to_sql(queue.acked_through)
            ])
            .map_err(backend)?;
        if queue.acked_through > queue.flushed_acked
            && queue.flushed_acked.saturating_add(1) < queue.flushed_next
        {
            delete
                .execute(params![queue.id, to_sql(queue.acked_through)])
                .map_err(backend)?;
        }
    }
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO messages (mailbox, seq, received_at, size, envelope) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(backend)?;
    recent.visit(|mailbox, message| {
        let queue = queues
            .get(mailbox)
            .ok_or_else(|| StoreError::Backend("a journaled message has no queue".to_owned()))?;
        insert
            .execute(params![
                queue.id,
                to_sql(message.seq),
                to_sql(message.received_at),
                to_sql(message.envelope.len() as u64),
                message.envelope
            ])
            .map_err(backend)?;
        Ok(())
    })
}

/// A mailbox as replay finds it.
struct Replayed {
    id: i64,
    /// Records below this `seq` were flushed before the crash: the database has them, or had
    /// them and deleted them since.
    flushed_next: u64,
    next_seq: u64,
    acked_through: u64,
}

/// At open: brings the journal's records into the database, in one transaction (a crash ended
/// the relay before its last flush). Replaying twice changes nothing: stored records the
/// database already had are skipped, and acks only move marks forward. Records for mailboxes no
/// longer registered are dropped. Returns how many messages were brought in.
pub(super) fn replay(conn: &mut Connection, records: Vec<journal::Record>) -> Result<u64, StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    let mut mailboxes: HashMap<MailboxId, Option<Replayed>> = HashMap::new();
    let mut stored = 0u64;
    for record in records {
        let key = match &record {
            journal::Record::Stored { mailbox, .. } | journal::Record::Acked { mailbox, .. } => *mailbox,
        };
        let replayed = match mailboxes.get_mut(&key) {
            Some(replayed) => replayed,
            None => {
                let loaded = match load_queue(&tx, &key) {
                    Ok(queue) => Some(Replayed {
                        id: queue.id,
                        flushed_next: queue.next_seq,
                        next_seq: queue.next_seq,
                        acked_through: queue.acked_through,
                    }),
                    Err(StoreError::UnknownMailbox) => None,
                    Err(error) => return Err(error),
                };
                mailboxes.entry(key).or_insert(loaded)
            }
        };
        let Some(replayed) = replayed else { continue };
        match record {
            journal::Record::Stored {
                seq,
                received_at,
                envelope,
                ..
            } => {
                if seq < replayed.flushed_next || seq <= replayed.acked_through {
                    continue;
                }
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO messages (mailbox, seq, received_at, size, envelope) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        replayed.id,
                        to_sql(seq),
                        to_sql(received_at),
                        to_sql(envelope.len() as u64),
                        envelope
                    ])
                })
                .map_err(backend)?;
                stored += 1;
                replayed.next_seq = replayed.next_seq.max(seq.saturating_add(1));
            }
            journal::Record::Acked { through, .. } => {
                replayed.acked_through = replayed.acked_through.max(through);
            }
        }
    }
    for replayed in mailboxes.values().flatten() {
        let acked = replayed.acked_through.min(replayed.next_seq.saturating_sub(1));
        tx.execute(
            "UPDATE mailboxes SET next_seq = ?2, acked_through = ?3 WHERE id = ?1",
            params![replayed.id, to_sql(replayed.next_seq), to_sql(acked)],
        )
        .map_err(backend)?;
        // The counters, from the rows themselves.
        tx.execute(
            "UPDATE mailboxes SET \
             queued_count = (SELECT count(*) FROM messages WHERE mailbox = ?1 AND seq > ?2), \
             queued_bytes = (SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox = ?1 AND seq > ?2) \
             WHERE id = ?1",
            params![replayed.id, to_sql(acked)],
        )
        .map_err(backend)?;
    }
    sweep_all(&tx)?;
    tx.commit().map_err(backend)?;
    Ok(stored)
}

/// Deletes every acknowledged row (at open: acks whose sweep a crash or kill cut short).
pub(super) fn sweep_all(conn: &Connection) -> Result<u64, StoreError> {
    let deleted = conn
        .execute(
            "DELETE FROM messages WHERE seq <= \
             (SELECT acked_through FROM mailboxes WHERE mailboxes.id = messages.mailbox)",
            [],
        )
        .map_err(backend)?;
    Ok(deleted as u64)
}

/// Lowers a mailbox's queue counters after deleting `count` messages of `bytes` bytes.
fn unqueue(conn: &Connection, id: i64, count: i64, bytes: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE mailboxes SET queued_count = max(queued_count - ?2, 0), \
         queued_bytes = max(queued_bytes - ?3, 0) WHERE id = ?1",
    )
    .and_then(|mut statement| statement.execute(params![id, count, bytes]))
    .map_err(backend)?;
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
        })
        .map_err(backend)?;
    // Acked rows past their TTL go too, uncounted.
    conn.execute("DELETE FROM messages WHERE received_at < ?1", [to_sql(cutoff)])
        .map_err(backend)?;
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
    conn.execute("DELETE FROM messages WHERE mailbox = ?1", [id])
        .map_err(backend)?;
    for sql in [
        "DELETE FROM one_time_prekeys WHERE mailbox = ?1",
        "DELETE FROM signed_prekeys WHERE mailbox = ?1",
        "DELETE FROM mailboxes WHERE mailbox = ?1",
    ] {
        conn.execute(sql, [mailbox.0]).map_err(backend)?;
    }
    Ok(())
}

/// Unacknowledged messages in every mailbox, without a flush: the database's counts, with those
/// of the queues the writer holds (changed since they were loaded) replaced by the writer's.
pub(super) fn queue_depth(batch: &mut Batch<'_>) -> Result<u64, StoreError> {
    let count: i64 = batch
        .read()
        .query_row(
            "SELECT coalesce(sum(queued_count), 0) FROM mailboxes",
            [],
            |row| row.get(0),
        )
        .map_err(backend)?;
    // The database's sum includes each held queue's `flushed_count`, so this never goes below 0.
    let (held, flushed) = batch.queues().fold((0u64, 0u64), |(held, flushed), queue| {
        (
            held.saturating_add(queue.count),
            flushed.saturating_add(queue.flushed_count),
        )
    });
    Ok(from_sql(count)?.saturating_add(held).saturating_sub(flushed))
}
