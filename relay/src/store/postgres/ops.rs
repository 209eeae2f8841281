//! The SQL of each operation. Several relay nodes may run these at once on one database, so each
//! is one statement or one transaction, and a writer that reads before it writes (quota checks,
//! the prekey cap) first locks the mailbox row with `FOR UPDATE`.
//!
//! Lock order, which keeps concurrent operations from deadlocking: a mailbox row before any of
//! its messages, and several mailbox rows in `id` order. Claims lock only the one prekey they take
//! and wait on nothing after.

use std::collections::{BTreeMap, HashMap};

use hush_proto::{Envelope, MailboxId, OneTimePreKey, Signature, SignedPreKey};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use super::listen::{self, NodeId};
use super::pool::{PooledConn, Tx};
use crate::store::{
    BackendError, ClaimedBundle, Corruption, MailboxStatus, Quota, StoreError, StoredMessage, count_u32,
    envelope_from_sql, from_sql, to_sql,
};

/// How often [`register`] retries when a concurrent delete keeps removing the mailbox between its
/// insert and its read. Each retry means another node deleted the mailbox in that instant; two
/// in a row are already unlikely.
const REGISTER_ATTEMPTS: usize = 3;

/// Column `index` of `row`.
pub(super) fn column<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, StoreError> {
    row.try_get(index).map_err(StoreError::from)
}

/// A `BIGINT` column this store wrote from a `u64`.
pub(super) fn unsigned(row: &Row, index: usize) -> Result<u64, StoreError> {
    from_sql(column(row, index)?)
}

/// A `BYTEA` column this store wrote from `N` bytes.
fn fixed<const N: usize>(row: &Row, index: usize) -> Result<[u8; N], StoreError> {
    let bytes: &[u8] = column(row, index)?;
    bytes.try_into().map_err(|_| {
        StoreError::from(Corruption::WrongLength {
            expected: N,
            found: bytes.len(),
        })
    })
}

/// A prekey id: this store writes `u32`s.
pub(super) fn prekey_id(row: &Row, index: usize) -> Result<u32, StoreError> {
    let id: i64 = column(row, index)?;
    u32::try_from(id).map_err(|_| Corruption::PrekeyIdOutOfRange.into())
}

async fn identity_of(conn: &mut PooledConn<'_>, mailbox: &MailboxId) -> Result<Option<[u8; 32]>, StoreError> {
    let rows = conn
        .query(
            "SELECT identity_key FROM mailboxes WHERE mailbox = $1",
            &[&&mailbox.0[..]],
        )
        .await?;
    rows.first().map(|row| fixed(row, 0)).transpose()
}

/// Locks the mailbox's row for the rest of the transaction and returns its integer id, or
/// `UnknownMailbox`.
pub(super) async fn lock_mailbox(tx: &mut Tx<'_>, mailbox: &MailboxId) -> Result<i64, StoreError> {
    let rows = tx
        .query(
            "SELECT id FROM mailboxes WHERE mailbox = $1 FOR UPDATE",
            &[&&mailbox.0[..]],
        )
        .await?;
    rows.first()
        .map(|row| column(row, 0))
        .transpose()?
        .ok_or(StoreError::UnknownMailbox)
}

async fn one_time_count(tx: &mut Tx<'_>, id: i64) -> Result<u32, StoreError> {
    let rows = tx
        .query("SELECT count(*) FROM one_time_prekeys WHERE mailbox = $1", &[&id])
        .await?;
    let count = rows.first().map(|row| unsigned(row, 0)).transpose()?;
    Ok(count_u32(count.unwrap_or(0)))
}

/// Logins call this every time, so the common case (registered already) is one read.
pub(super) async fn register(
    conn: &mut PooledConn<'_>,
    mailbox: MailboxId,
    identity_key: [u8; 32],
    now: u64,
) -> Result<(), StoreError> {
    for _ in 0..REGISTER_ATTEMPTS {
        match identity_of(conn, &mailbox).await? {
            Some(key) if key == identity_key => return Ok(()),
            Some(_) => return Err(StoreError::IdentityMismatch),
            None => {}
        }
        // A node registering the same mailbox at the same moment makes this insert wait for its
        // commit and then do nothing; the read above, run again, then sees that registration.
        let inserted = conn
            .query(
                "INSERT INTO mailboxes (mailbox, identity_key, next_seq, created_at) \
                 VALUES ($1, $2, 1, $3) ON CONFLICT (mailbox) DO NOTHING RETURNING id",
                &[&&mailbox.0[..], &&identity_key[..], &to_sql(now)],
            )
            .await?;
        if !inserted.is_empty() {
            return Ok(());
        }
    }
    Err(BackendError::RegisterRaced.into())
}

pub(super) async fn mailbox_status(
    conn: &mut PooledConn<'_>,
    mailbox: MailboxId,
) -> Result<MailboxStatus, StoreError> {
    Ok(match identity_of(conn, &mailbox).await? {
        Some(identity_key) => MailboxStatus::Active { identity_key },
        None => MailboxStatus::Unknown,
    })
}

pub(super) async fn upload_prekeys(
    conn: &mut PooledConn<'_>,
    mailbox: MailboxId,
    signed_prekey: SignedPreKey,
    one_time: Vec<OneTimePreKey>,
    max_one_time: u32,
) -> Result<u32, StoreError> {
    let mut tx = conn.transaction().await?;
    // Locked: no other upload can add prekeys between the count and the check below.
    let id = lock_mailbox(&mut tx, &mailbox).await?;
    let held = one_time_count(&mut tx, id).await?;
    tx.query(
        "INSERT INTO signed_prekeys (mailbox, id, created_at, key, signature) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (mailbox) DO UPDATE SET id = excluded.id, \
         created_at = excluded.created_at, key = excluded.key, signature = excluded.signature",
        &[
            &id,
            &i64::from(signed_prekey.id),
            &to_sql(signed_prekey.created_at),
            &&signed_prekey.key[..],
            &&signed_prekey.signature.0[..],
        ],
    )
    .await?;
    let adding = u32::try_from(one_time.len()).unwrap_or(u32::MAX);
    // One row per id, the last of an id in the upload winning (as a series of inserts would): a
    // single `INSERT ... ON CONFLICT` may not touch one row twice.
    let by_id: BTreeMap<u32, [u8; 32]> = one_time.iter().map(|prekey| (prekey.id, prekey.key)).collect();
    if !by_id.is_empty() {
        let ids: Vec<i64> = by_id.keys().map(|id| i64::from(*id)).collect();
        let keys: Vec<&[u8]> = by_id.values().map(|key| &key[..]).collect();
        tx.query(
            "INSERT INTO one_time_prekeys (mailbox, id, key) \
             SELECT $1::bigint, new.id, new.key FROM unnest($2::bigint[], $3::bytea[]) AS new (id, key) \
             ON CONFLICT (mailbox, id) DO UPDATE SET key = excluded.key",
            &[&id, &ids, &keys],
        )
        .await?;
    }
    // Counting after the inserts handles replaced ids; over the cap, dropping the transaction
    // rolls it back, signed prekey included.
    let after = one_time_count(&mut tx, id).await?;
    if after > max_one_time {
        return Err(StoreError::TooManyPreKeys {
            held,
            adding,
            max: max_one_time,
        });
    }
    tx.commit().await?;
    Ok(after)
}

pub(super) async fn claim_bundle(
    conn: &mut PooledConn<'_>,
    mailbox: MailboxId,
) -> Result<ClaimedBundle, StoreError> {
    let mut tx = conn.transaction().await?;
    let rows = tx
        .query(
            "SELECT m.id, m.identity_key, s.id, s.created_at, s.key, s.signature \
             FROM mailboxes m LEFT JOIN signed_prekeys s ON s.mailbox = m.id WHERE m.mailbox = $1",
            &[&&mailbox.0[..]],
        )
        .await?;
    let row = rows.first().ok_or(StoreError::UnknownMailbox)?;
    let id: i64 = column(row, 0)?;
    let identity_key = fixed::<32>(row, 1)?;
    if column::<Option<i64>>(row, 2)?.is_none() {
        return Err(StoreError::NoBundle);
    }
    let signed_prekey = SignedPreKey {
        id: prekey_id(row, 2)?,
        created_at: unsigned(row, 3)?,
        key: fixed(row, 4)?,
        signature: Signature(fixed(row, 5)?),
    };
    // The lowest id no concurrent claim holds: a claim running on another connection (this
    // node's or another's) has it locked, so this one takes the next instead of waiting for it
    // and finding it gone. Each prekey is deleted, and so handed out, once.
    let claimed = tx
        .query(
            "DELETE FROM one_time_prekeys WHERE mailbox = $1 AND id = (\
                 SELECT id FROM one_time_prekeys WHERE mailbox = $1 \
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED\
             ) RETURNING id, key",
            &[&id],
        )
        .await?;
    let one_time_prekey = claimed
        .first()
        .map(|row| {
            Ok::<_, StoreError>(OneTimePreKey {
                id: prekey_id(row, 0)?,
                key: fixed(row, 1)?,
            })
        })
        .transpose()?;
    let remaining = one_time_count(&mut tx, id).await?;
    tx.commit().await?;
    Ok(ClaimedBundle {
        identity_key,
        signed_prekey,
        one_time_prekey,
        remaining,
    })
}

pub(super) async fn one_time_prekey_count(
    conn: &mut PooledConn<'_>,
    mailbox: MailboxId,
) -> Result<u32, StoreError> {
    let rows = conn
        .query(
            "SELECT (SELECT count(*) FROM one_time_prekeys WHERE one_time_prekeys.mailbox = m.id) \
             FROM mailboxes m WHERE m.mailbox = $1",
            &[&&mailbox.0[..]],
        )
        .await?;
    let row = rows.first().ok_or(StoreError::UnknownMailbox)?;
    Ok(count_u32(unsigned(row, 0)?))
}

/// A recipient's queue as [`enqueue`] will leave it.
struct Queue {
    id: i64,
    next_seq: u64,
    /// Queued now plus what this call adds, for the quota check.
    count: u64,
    bytes: u64,
    /// What this call adds.
    added_count: u64,
    added_bytes: u64,
}

/// Checks every recipient before writing anything, then writes all envelopes, advances the
/// counters and sends one notice per recipient, all in one transaction: the notices go out when
/// it commits, and not at all if it does not.
pub(super) async fn enqueue(
    conn: &mut PooledConn<'_>,
    node: NodeId,
    deliveries: Vec<(MailboxId, Envelope)>,
    now: u64,
    quota: Quota,
) -> Result<Vec<u64>, StoreError> {
    let mut recipients: Vec<MailboxId> = deliveries.iter().map(|(mailbox, _)| *mailbox).collect();
    recipients.sort_unstable();
    recipients.dedup();
    let keys: Vec<&[u8]> = recipients.iter().map(|mailbox| &mailbox.0[..]).collect();
    let mut tx = conn.transaction().await?;
    // Locked in id order (see the module doc): concurrent enqueues to the same recipients, from
    // any node, take turns, so each reads the counters the previous one left.
    let rows = tx
        .query(
            "SELECT mailbox, id, next_seq, queued_count, queued_bytes FROM mailboxes \
             WHERE mailbox = ANY($1) ORDER BY id FOR UPDATE",
            &[&keys],
        )
        .await?;
    let mut queues: HashMap<MailboxId, Queue> = HashMap::with_capacity(rows.len());
    for row in &rows {
        queues.insert(
            MailboxId(fixed(row, 0)?),
            Queue {
                id: column(row, 1)?,
                next_seq: unsigned(row, 2)?,
                count: unsigned(row, 3)?,
                bytes: unsigned(row, 4)?,
                added_count: 0,
                added_bytes: 0,
            },
        );
    }
    // Checks, in input order, several envelopes to one mailbox counted together.
    let mut planned = Vec::with_capacity(deliveries.len());
    for (mailbox, envelope) in &deliveries {
        let queue = queues.get_mut(mailbox).ok_or(StoreError::UnknownMailbox)?;
        let size = envelope.len() as u64;
        queue.count = queue.count.saturating_add(1);
        queue.bytes = queue.bytes.saturating_add(size);
        if queue.count > quota.max_messages || queue.bytes > quota.max_bytes {
            return Err(StoreError::QuotaExceeded { mailbox: *mailbox });
        }
        queue.added_count += 1;
        queue.added_bytes = queue.added_bytes.saturating_add(size);
        planned.push((queue.id, queue.next_seq));
        queue.next_seq = queue.next_seq.saturating_add(1);
    }
    // Then the writes, in one statement (one round trip): all envelopes in one insert, all
    // counters in one update, one notice per recipient.
    let ids: Vec<i64> = planned.iter().map(|(id, _)| *id).collect();
    let seqs: Vec<i64> = planned.iter().map(|(_, seq)| to_sql(*seq)).collect();
    let sizes: Vec<i64> = deliveries
        .iter()
        .map(|(_, envelope)| to_sql(envelope.len() as u64))
        .collect();
    let envelopes: Vec<&[u8]> = deliveries
        .iter()
        .map(|(_, envelope)| envelope.as_bytes())
        .collect();
    let queues: Vec<&Queue> = queues.values().filter(|queue| queue.added_count > 0).collect();
    let queue_ids: Vec<i64> = queues.iter().map(|queue| queue.id).collect();
    let next_seqs: Vec<i64> = queues.iter().map(|queue| to_sql(queue.next_seq)).collect();
    let added_counts: Vec<i64> = queues.iter().map(|queue| to_sql(queue.added_count)).collect();
    let added_bytes: Vec<i64> = queues.iter().map(|queue| to_sql(queue.added_bytes)).collect();
    let notices: Vec<String> = recipients
        .iter()
        .map(|mailbox| listen::payload(node, mailbox))
        .collect();
    tx.query(
        "WITH inserted AS (\
             INSERT INTO messages (mailbox, seq, received_at, size, envelope) \
             SELECT new.mailbox, new.seq, $1::bigint, new.size, new.envelope \
             FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[]) \
                 AS new (mailbox, seq, size, envelope)\
         ), \
         advanced AS (\
             UPDATE mailboxes SET next_seq = new.next_seq, \
             queued_count = mailboxes.queued_count + new.count, \
             queued_bytes = mailboxes.queued_bytes + new.bytes \
             FROM unnest($6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[]) \
                 AS new (id, next_seq, count, bytes) \
             WHERE mailboxes.id = new.id\
         ) \
         SELECT pg_notify($10::text, payload) FROM unnest($11::text[]) AS payload",
        &[
            &to_sql(now),
            &ids,
            &seqs,
            &sizes,
            &envelopes,
            &queue_ids,
            &next_seqs,
            &added_counts,
            &added_bytes,
            &listen::CHANNEL,
            &notices,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(planned.into_iter().map(|(_, seq)| seq).collect())
}

pub(super) async fn fetch(
    conn: &mut PooledConn<'_>,
    mailbox: MailboxId,
    after: u64,
    limit: usize,
) -> Result<Vec<StoredMessage>, StoreError> {
    // One round trip: no row means no such mailbox; one row of NULLs, an empty queue.
    let rows = conn
        .query(
            "SELECT m.id, q.seq, q.received_at, q.envelope FROM mailboxes m \
             LEFT JOIN LATERAL (\
                 SELECT seq, received_at, envelope FROM messages \
                 WHERE messages.mailbox = m.id AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint\
             ) q ON true \
             WHERE m.mailbox = $1 ORDER BY q.seq",
            &[&&mailbox.0[..], &to_sql(after), &to_sql(limit as u64)],
        )
        .await?;
    if rows.is_empty() {
        return Err(StoreError::UnknownMailbox);
    }
    let mut messages = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(seq) = column::<Option<i64>>(row, 1)? else {
            continue;
        };
        messages.push(StoredMessage {
            seq: from_sql(seq)?,
            received_at: unsigned(row, 2)?,
            envelope: envelope_from_sql(column(row, 3)?)?,
        });
    }
    Ok(messages)
}

/// One statement: the mailbox row is locked (`target`) before any of its messages is deleted,
/// and the counters go down by exactly what was deleted.
pub(super) async fn ack(
    conn: &mut PooledConn<'_>,
    mailbox: MailboxId,
    through: u64,
) -> Result<u64, StoreError> {
    let rows = conn
        .query(
            "WITH target AS (SELECT id FROM mailboxes WHERE mailbox = $1 FOR UPDATE), \
             deleted AS (\
                 DELETE FROM messages USING target \
                 WHERE messages.mailbox = target.id AND messages.seq <= $2::bigint \
                 RETURNING messages.size\
             ), \
             totals AS (SELECT count(*) AS count, coalesce(sum(size), 0)::bigint AS bytes FROM deleted), \
             updated AS (\
                 UPDATE mailboxes SET queued_count = greatest(mailboxes.queued_count - totals.count, 0), \
                 queued_bytes = greatest(mailboxes.queued_bytes - totals.bytes, 0) \
                 FROM target, totals WHERE mailboxes.id = target.id AND totals.count > 0\
             ) \
             SELECT totals.count FROM target, totals",
            &[&&mailbox.0[..], &to_sql(through)],
        )
        .await?;
    let row = rows.first().ok_or(StoreError::UnknownMailbox)?;
    unsigned(row, 0)
}

pub(super) async fn purge_expired(conn: &mut PooledConn<'_>, cutoff: u64) -> Result<u64, StoreError> {
    let cutoff = to_sql(cutoff);
    let mut tx = conn.transaction().await?;
    // The mailboxes with expired messages, locked in id order before their messages are deleted.
    let rows = tx
        .query(
            "SELECT id FROM mailboxes WHERE id IN (\
                 SELECT DISTINCT mailbox FROM messages WHERE received_at < $1::bigint\
             ) ORDER BY id FOR UPDATE",
            &[&cutoff],
        )
        .await?;
    let ids = rows
        .iter()
        .map(|row| column::<i64>(row, 0))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Ok(0);
    }
    let rows = tx
        .query(
            "WITH deleted AS (\
                 DELETE FROM messages WHERE mailbox = ANY($2) AND received_at < $1::bigint \
                 RETURNING mailbox, size\
             ), \
             totals AS (\
                 SELECT mailbox, count(*) AS count, sum(size)::bigint AS bytes FROM deleted GROUP BY mailbox\
             ), \
             updated AS (\
                 UPDATE mailboxes SET queued_count = greatest(mailboxes.queued_count - totals.count, 0), \
                 queued_bytes = greatest(mailboxes.queued_bytes - totals.bytes, 0) \
                 FROM totals WHERE mailboxes.id = totals.mailbox\
             ) \
             SELECT coalesce(sum(count), 0)::bigint FROM totals",
            &[&cutoff, &ids],
        )
        .await?;
    let deleted = rows.first().map(|row| unsigned(row, 0)).transpose()?;
    tx.commit().await?;
    Ok(deleted.unwrap_or(0))
}

/// The mailbox row goes, and its prekeys and messages with it (`ON DELETE CASCADE`).
pub(super) async fn delete_mailbox(conn: &mut PooledConn<'_>, mailbox: MailboxId) -> Result<(), StoreError> {
    conn.query("DELETE FROM mailboxes WHERE mailbox = $1", &[&&mailbox.0[..]])
        .await?;
    Ok(())
}

pub(super) async fn queue_depth(conn: &mut PooledConn<'_>) -> Result<u64, StoreError> {
    let rows = conn
        .query(
            "SELECT coalesce(sum(queued_count), 0)::bigint FROM mailboxes",
            &[],
        )
        .await?;
    Ok(rows.first().map(|row| unsigned(row, 0)).transpose()?.unwrap_or(0))
}

/// Tells the other nodes that `mailbox` logged in on `node` (a notice on
/// [`listen::LOGIN_CHANNEL`], with the same payload as a stored message's).
pub(super) async fn announce_login(
    conn: &mut PooledConn<'_>,
    node: NodeId,
    mailbox: &MailboxId,
) -> Result<(), StoreError> {
    let payload = listen::payload(node, mailbox);
    conn.query(
        "SELECT pg_notify($1::text, $2::text)",
        &[&listen::LOGIN_CHANNEL, &payload],
    )
    .await?;
    Ok(())
}
