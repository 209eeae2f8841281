//! KEM prekeys (schema version 6): one-time ones per mailbox, and one last-resort key per
//! mailbox. Both run on the writer in a savepoint, so a claim's select and delete, and an
//! upload's count, inserts and cap check, are each one atomic step.

use hush_proto::{KemPreKeyKind, MailboxId};
use rusqlite::{Connection, OptionalExtension, params};

use super::ops::require_mailbox;
use crate::store::kem_prekeys::{KemUpload, kem_prekey_from_sql, last_of_each_id};
use crate::store::{ClaimedKemPreKey, StoreError, count_u32, from_sql};

fn one_time_count(conn: &Connection, mailbox: &MailboxId) -> Result<u32, StoreError> {
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM kem_one_time_prekeys WHERE mailbox = ?1")
        .and_then(|mut statement| statement.query_row([mailbox.0], |row| row.get(0)))?;
    Ok(count_u32(from_sql(count)?))
}

pub(super) fn upload(
    conn: &Connection,
    mailbox: MailboxId,
    upload: KemUpload,
    max_one_time: u32,
) -> Result<u32, StoreError> {
    let KemUpload {
        last_resort,
        one_time,
    } = upload;
    require_mailbox(conn, &mailbox)?;
    let held = one_time_count(conn, &mailbox)?;
    let adding = count_u32(one_time.len() as u64);
    {
        let mut insert = conn.prepare_cached(
            "INSERT OR REPLACE INTO kem_one_time_prekeys (mailbox, id, key, signature) \
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for prekey in last_of_each_id(one_time).into_values() {
            insert.execute(params![
                mailbox.0,
                prekey.id,
                prekey.key.0.as_slice(),
                prekey.signature.0
            ])?;
        }
    }
    if let Some(prekey) = last_resort {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO kem_last_resort_prekeys (mailbox, id, key, signature) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            mailbox.0,
            prekey.id,
            prekey.key.0.as_slice(),
            prekey.signature.0
        ])?;
    }
    // Over the cap, the error rolls the savepoint back, last-resort key included.
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

type Row = (u32, Vec<u8>, Vec<u8>);

pub(super) fn claim(
    conn: &Connection,
    mailbox: MailboxId,
    signed_prekey_id: u32,
) -> Result<ClaimedKemPreKey, StoreError> {
    require_mailbox(conn, &mailbox)?;
    // Select and delete inside the writer's transaction: no other claim can interleave, so each
    // one-time KEM prekey is handed out at most once.
    let one_time: Option<Row> = conn
        .prepare_cached(
            "SELECT id, key, signature FROM kem_one_time_prekeys WHERE mailbox = ?1 \
             ORDER BY id LIMIT 1",
        )?
        .query_row([mailbox.0], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let prekey = match one_time {
        Some((id, key, signature)) => {
            conn.prepare_cached("DELETE FROM kem_one_time_prekeys WHERE mailbox = ?1 AND id = ?2")?
                .execute(params![mailbox.0, id])?;
            Some(kem_prekey_from_sql(KemPreKeyKind::OneTime, id, &key, &signature)?)
        }
        None => conn
            .prepare_cached(
                "SELECT id, key, signature FROM kem_last_resort_prekeys WHERE mailbox = ?1 AND id = ?2",
            )?
            .query_row(params![mailbox.0, signed_prekey_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?
            .map(|(id, key, signature): Row| {
                kem_prekey_from_sql(KemPreKeyKind::LastResort, id, &key, &signature)
            })
            .transpose()?,
    };
    Ok(ClaimedKemPreKey {
        prekey,
        remaining: one_time_count(conn, &mailbox)?,
    })
}
