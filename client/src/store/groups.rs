//! Groups (`groups`, schema version 7): one row per group, its id and its stored form (the
//! signed updates, our sending chain and the other members' chains, as the core encodes them).
//! `authors` keeps who wrote each incoming group message. The chain keys in it are protected as the rest of the database is, by SQLCipher.

use hush_client_core::groups::{GroupBlob, GroupId};
use hush_client_core::{Address, MessageId};
use rusqlite::OptionalExtension;
use rusqlite::{Connection, params};

use super::StoreError;

pub(super) fn load(conn: &Connection) -> Result<Vec<GroupBlob>, StoreError> {
    let mut statement = conn.prepare_cached("SELECT id, record FROM groups ORDER BY id")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?))
    })?;
    rows.map(|row| {
        let (id, bytes) = row?;
        let id = <[u8; 16]>::try_from(id.as_slice()).map_err(|_| StoreError::Decode {
            what: "group id",
            reason: format!("{} bytes, expected 16", id.len()),
        })?;
        Ok(GroupBlob {
            id: GroupId(id),
            bytes,
        })
    })
    .collect()
}

pub(super) fn put(conn: &Connection, blob: &GroupBlob) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO groups (id, record) VALUES (?1, ?2) \
         ON CONFLICT (id) DO UPDATE SET record = excluded.record",
    )?
    .execute(params![blob.id.0.as_slice(), blob.bytes])?;
    Ok(())
}

pub(super) fn put_author(conn: &Connection, id: &MessageId, author: &Address) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT OR REPLACE INTO authors (message, author) VALUES (?1, ?2)")?
        .execute(params![id.0.as_slice(), author.as_bytes().as_slice()])?;
    Ok(())
}

pub(super) fn author(conn: &Connection, id: &MessageId) -> Result<Option<Address>, StoreError> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT author FROM authors WHERE message = ?1")?
        .query_row([id.0.as_slice()], |row| row.get(0))
        .optional()?;
    bytes.map(super::codec::address).transpose()
}
