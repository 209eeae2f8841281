//! Accounts' device lists: one row per account, one per membership. Publishing runs on the
//! writer in a savepoint, so its read of the stored counter and its writes are one atomic step.

use hush_proto::{AccountId, MailboxId};
use rusqlite::{Connection, OptionalExtension, params};

use crate::store::device_lists::{
    counter_from_sql, counter_to_sql, list_from_sql, membership_from_sql, replaces,
};
use crate::store::{DeviceListUpdate, StoreError, StoredDeviceList};

pub(super) fn publish(conn: &Connection, update: DeviceListUpdate) -> Result<(), StoreError> {
    let account = update.account.0;
    let stored: Option<(Vec<u8>, Vec<u8>)> = conn
        .prepare_cached("SELECT counter, list FROM device_lists WHERE account = ?1")
        .and_then(|mut statement| {
            statement
                .query_row([account], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })?;
    if let Some((counter, list)) = stored
        && !replaces(&update, counter_from_sql(&counter)?, &list)
    {
        return Err(StoreError::StaleDeviceList);
    }
    conn.prepare_cached(
        "INSERT INTO device_lists (account, counter, list) VALUES (?1, ?2, ?3) \
         ON CONFLICT (account) DO UPDATE SET counter = excluded.counter, list = excluded.list",
    )?
    .execute(params![
        account,
        counter_to_sql(update.counter),
        update.list.as_bytes()
    ])?;
    let held: Vec<[u8; 32]> = conn
        .prepare_cached("SELECT identity_key FROM device_memberships WHERE account = ?1")?
        .query_map([account], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    // A device that published its membership and is no longer named was removed by the
    // account: its mailbox goes too (one that never consented keeps it).
    for device in held.iter().filter(|device| !update.devices.contains(device)) {
        conn.prepare_cached("DELETE FROM device_memberships WHERE account = ?1 AND identity_key = ?2")?
            .execute(params![account, device])?;
        super::ops::delete_mailbox(conn, MailboxId::for_identity(device))?;
    }
    conn.prepare_cached(
        "INSERT INTO device_memberships (account, identity_key, signature) VALUES (?1, ?2, ?3) \
         ON CONFLICT (account, identity_key) DO UPDATE SET signature = excluded.signature",
    )?
    .execute(params![
        account,
        update.membership.identity_key,
        update.membership.signature.0
    ])?;
    Ok(())
}

pub(super) fn fetch(conn: &Connection, account: AccountId) -> Result<Option<StoredDeviceList>, StoreError> {
    let list: Option<Vec<u8>> = conn
        .prepare_cached("SELECT list FROM device_lists WHERE account = ?1")
        .and_then(|mut statement| statement.query_row([account.0], |row| row.get(0)).optional())?;
    let Some(list) = list else {
        return Ok(None);
    };
    let rows: Vec<(Vec<u8>, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT identity_key, signature FROM device_memberships WHERE account = ?1 \
             ORDER BY identity_key",
        )?
        .query_map([account.0], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let memberships = rows
        .iter()
        .map(|(identity_key, signature)| membership_from_sql(identity_key, signature))
        .collect::<Result<_, _>>()?;
    Ok(Some(StoredDeviceList {
        list: list_from_sql(list)?,
        memberships,
    }))
}
