//! KEM prekeys (schema version 4). An upload locks the mailbox row first, as the EC upload
//! does, so no other upload adds keys between its count and its cap check; a claim locks only
//! the one-time key it takes (`FOR UPDATE SKIP LOCKED`), so concurrent claims, on this node or
//! another, each take a different key and none waits for another.

use hush_proto::{KemPreKeyKind, MailboxId};

use super::ops::{column, lock_mailbox, prekey_id, unsigned};
use super::pool::{PooledConn, Tx};
use crate::store::kem_prekeys::{KemUpload, kem_prekey_from_sql, last_of_each_id};
use crate::store::{ClaimedKemPreKey, StoreError, count_u32};

async fn one_time_count(tx: &mut Tx<'_>, id: i64) -> Result<u32, StoreError> {
    let rows = tx
        .query(
            "SELECT count(*) FROM kem_one_time_prekeys WHERE mailbox = $1",
            &[&id],
        )
        .await?;
    let count = rows.first().map(|row| unsigned(row, 0)).transpose()?;
    Ok(count_u32(count.unwrap_or(0)))
}

pub(super) async fn upload(
    conn: &mut PooledConn<'_>,
    mailbox: MailboxId,
    upload: KemUpload,
    max_one_time: u32,
) -> Result<u32, StoreError> {
    let KemUpload {
        last_resort,
        one_time,
    } = upload;
    let mut tx = conn.transaction().await?;
    let id = lock_mailbox(&mut tx, &mailbox).await?;
    let held = one_time_count(&mut tx, id).await?;
    let adding = count_u32(one_time.len() as u64);
    // One row per id: a single `INSERT ... ON CONFLICT` may not touch one row twice.
    let by_id = last_of_each_id(one_time);
    if !by_id.is_empty() {
        let ids: Vec<i64> = by_id.keys().map(|id| i64::from(*id)).collect();
        let keys: Vec<&[u8]> = by_id.values().map(|prekey| prekey.key.0.as_slice()).collect();
        let signatures: Vec<&[u8]> = by_id.values().map(|prekey| &prekey.signature.0[..]).collect();
        tx.query(
            "INSERT INTO kem_one_time_prekeys (mailbox, id, key, signature) \
             SELECT $1::bigint, new.id, new.key, new.signature \
             FROM unnest($2::bigint[], $3::bytea[], $4::bytea[]) AS new (id, key, signature) \
             ON CONFLICT (mailbox, id) DO UPDATE SET key = excluded.key, signature = excluded.signature",
            &[&id, &ids, &keys, &signatures],
        )
        .await?;
    }
    if let Some(prekey) = &last_resort {
        tx.query(
            "INSERT INTO kem_last_resort_prekeys (mailbox, id, key, signature) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (mailbox) DO UPDATE SET id = excluded.id, key = excluded.key, \
             signature = excluded.signature",
            &[
                &id,
                &i64::from(prekey.id),
                &prekey.key.0.as_slice(),
                &&prekey.signature.0[..],
            ],
        )
        .await?;
    }
    // Over the cap, dropping the transaction rolls it back, last-resort key included.
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

pub(super) async fn claim(
    conn: &mut PooledConn<'_>,
    mailbox: MailboxId,
    signed_prekey_id: u32,
) -> Result<ClaimedKemPreKey, StoreError> {
    let mut tx = conn.transaction().await?;
    let rows = tx
        .query("SELECT id FROM mailboxes WHERE mailbox = $1", &[&&mailbox.0[..]])
        .await?;
    let id: i64 = column(rows.first().ok_or(StoreError::UnknownMailbox)?, 0)?;
    let claimed = tx
        .query(
            "DELETE FROM kem_one_time_prekeys WHERE mailbox = $1 AND id = (\
                 SELECT id FROM kem_one_time_prekeys WHERE mailbox = $1 \
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED\
             ) RETURNING id, key, signature",
            &[&id],
        )
        .await?;
    let prekey = match claimed.first() {
        Some(row) => Some(kem_prekey_from_sql(
            KemPreKeyKind::OneTime,
            prekey_id(row, 0)?,
            column(row, 1)?,
            column(row, 2)?,
        )?),
        None => {
            let rows = tx
                .query(
                    "SELECT id, key, signature FROM kem_last_resort_prekeys WHERE mailbox = $1 AND id = $2",
                    &[&id, &i64::from(signed_prekey_id)],
                )
                .await?;
            rows.first()
                .map(|row| {
                    kem_prekey_from_sql(
                        KemPreKeyKind::LastResort,
                        prekey_id(row, 0)?,
                        column(row, 1)?,
                        column(row, 2)?,
                    )
                })
                .transpose()?
        }
    };
    let remaining = one_time_count(&mut tx, id).await?;
    tx.commit().await?;
    Ok(ClaimedKemPreKey { prekey, remaining })
}
