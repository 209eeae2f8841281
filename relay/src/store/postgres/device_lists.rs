//! Accounts' device lists. Publishing is one transaction whose first statement is a conditional
//! upsert of the list row: it locks the row and compares counters in the database, so of two
//! nodes publishing at once the later waits for the earlier and then sees its counter.

use hush_proto::{AccountId, MailboxId};

use super::pool::PooledConn;
use crate::store::device_lists::{counter_to_sql, list_from_sql, membership_from_sql};
use crate::store::{DeviceListUpdate, StoreError, StoredDeviceList};

pub(super) async fn publish(conn: &mut PooledConn<'_>, update: DeviceListUpdate) -> Result<(), StoreError> {
    let account = &update.account.0[..];
    let counter = counter_to_sql(update.counter);
    let mut tx = conn.transaction().await?;
    // `device_lists::replaces` in SQL: a greater counter, or the same list again.
    let stored = tx
        .query(
            "INSERT INTO device_lists (account, counter, list) VALUES ($1, $2, $3) \
             ON CONFLICT (account) DO UPDATE SET counter = EXCLUDED.counter, list = EXCLUDED.list \
             WHERE device_lists.counter < EXCLUDED.counter OR device_lists.list = EXCLUDED.list \
             RETURNING account",
            &[&account, &&counter[..], &update.list.as_bytes()],
        )
        .await?;
    if stored.is_empty() {
        return Err(StoreError::StaleDeviceList);
    }
    let devices: Vec<&[u8]> = update.devices.iter().map(|device| &device[..]).collect();
    let removed = tx
        .query(
            "DELETE FROM device_memberships WHERE account = $1 AND NOT (identity_key = ANY($2)) \
             RETURNING identity_key",
            &[&account, &devices],
        )
        .await?;
    // A device that published its membership and is no longer named was removed by the
    // account: its mailbox goes too, with its prekeys and messages (`ON DELETE CASCADE`).
    for row in &removed {
        let identity_key: &[u8] = row.try_get(0).map_err(StoreError::from)?;
        let identity_key: [u8; 32] =
            identity_key
                .try_into()
                .map_err(|_| crate::store::Corruption::WrongLength {
                    expected: 32,
                    found: identity_key.len(),
                })?;
        let mailbox = MailboxId::for_identity(&identity_key);
        tx.query("DELETE FROM mailboxes WHERE mailbox = $1", &[&&mailbox.0[..]])
            .await?;
    }
    tx.query(
        "INSERT INTO device_memberships (account, identity_key, signature) VALUES ($1, $2, $3) \
         ON CONFLICT (account, identity_key) DO UPDATE SET signature = EXCLUDED.signature",
        &[
            &account,
            &&update.membership.identity_key[..],
            &&update.membership.signature.0[..],
        ],
    )
    .await?;
    tx.commit().await
}

pub(super) async fn fetch(
    conn: &mut PooledConn<'_>,
    account: AccountId,
) -> Result<Option<StoredDeviceList>, StoreError> {
    // One statement, so the list and its memberships come from one snapshot.
    let rows = conn
        .query(
            "SELECT list, identity_key, signature FROM device_lists \
             LEFT JOIN device_memberships USING (account) WHERE account = $1 \
             ORDER BY identity_key",
            &[&&account.0[..]],
        )
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let list: Vec<u8> = first.try_get(0).map_err(StoreError::from)?;
    let mut memberships = Vec::with_capacity(rows.len());
    for row in &rows {
        let identity_key: Option<&[u8]> = row.try_get(1).map_err(StoreError::from)?;
        let signature: Option<&[u8]> = row.try_get(2).map_err(StoreError::from)?;
        if let (Some(identity_key), Some(signature)) = (identity_key, signature) {
            memberships.push(membership_from_sql(identity_key, signature)?);
        }
    }
    Ok(Some(StoredDeviceList {
        list: list_from_sql(list)?,
        memberships,
    }))
}
