//! At open: what a crash left half-done is brought into the database (the journal's records,
//! acks whose deletes were cut short).

use std::collections::HashMap;

use hush_proto::MailboxId;
use rusqlite::{Connection, params};

use super::journal::Record;
use super::ops::load_queue;
use crate::store::{StoreError, to_sql};

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
pub(super) fn replay(conn: &mut Connection, records: Vec<Record>) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut mailboxes: HashMap<MailboxId, Option<Replayed>> = HashMap::new();
    let mut stored = 0u64;
    for record in records {
        let key = match &record {
            Record::Stored { mailbox, .. } | Record::Acked { mailbox, .. } => *mailbox,
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
            Record::Stored {
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
                })?;
                stored += 1;
                replayed.next_seq = replayed.next_seq.max(seq.saturating_add(1));
            }
            Record::Acked { through, .. } => {
                replayed.acked_through = replayed.acked_through.max(through);
            }
        }
    }
    for replayed in mailboxes.values().flatten() {
        let acked = replayed.acked_through.min(replayed.next_seq.saturating_sub(1));
        tx.execute(
            "UPDATE mailboxes SET next_seq = ?2, acked_through = ?3 WHERE id = ?1",
            params![replayed.id, to_sql(replayed.next_seq), to_sql(acked)],
        )?;
        // The counters, from the rows themselves.
        tx.execute(
            "UPDATE mailboxes SET \
             queued_count = (SELECT count(*) FROM messages WHERE mailbox = ?1 AND seq > ?2), \
             queued_bytes = (SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox = ?1 AND seq > ?2) \
             WHERE id = ?1",
            params![replayed.id, to_sql(acked)],
        )?;
    }
    sweep_all(&tx)?;
    tx.commit()?;
    Ok(stored)
}

/// Deletes every acknowledged row (at open: acks whose sweep a crash or kill cut short).
pub(super) fn sweep_all(conn: &Connection) -> Result<u64, StoreError> {
    let deleted = conn.execute(
        "DELETE FROM messages WHERE seq <= \
             (SELECT acked_through FROM mailboxes WHERE mailboxes.id = messages.mailbox)",
        [],
    )?;
    Ok(deleted as u64)
}
