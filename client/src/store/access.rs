//! Our access key and each peer's standing and access key: `own_access` (one row) and
//! `peer_access` (a row per peer). Keys are secrets, kept only in the encrypted database.

use hush_client_core::{OwnAccessKey, PeerAccess, Standing};
use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::codec::{self, column};

fn key32(bytes: Vec<u8>, what: &'static str) -> Result<[u8; 32], StoreError> {
    let found = bytes.len();
    bytes.try_into().map_err(|_| StoreError::Decode {
        what,
        reason: format!("expected 32 bytes, found {found}"),
    })
}

pub(super) fn put_own(conn: &Connection, own: &OwnAccessKey) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO own_access (id, key, uploaded) VALUES (1, ?1, ?2) \
         ON CONFLICT (id) DO UPDATE SET key = excluded.key, uploaded = excluded.uploaded",
    )?
    .execute(params![own.key, own.uploaded])?;
    Ok(())
}

pub(super) fn put_peer(conn: &Connection, access: &PeerAccess) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO peer_access (peer, standing, access_key) VALUES (?1, ?2, ?3) \
         ON CONFLICT (peer) DO UPDATE SET standing = excluded.standing, access_key = excluded.access_key",
    )?
    .execute(params![
        access.peer.as_bytes(),
        access.standing.to_code(),
        access.access_key
    ])?;
    Ok(())
}

pub(super) fn load_own(conn: &Connection) -> Result<Option<OwnAccessKey>, StoreError> {
    let row: Option<(Vec<u8>, bool)> = conn
        .prepare_cached("SELECT key, uploaded FROM own_access WHERE id = 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    row.map(|(key, uploaded)| {
        Ok(OwnAccessKey {
            key: key32(key, "own access key")?,
            uploaded,
        })
    })
    .transpose()
}

pub(super) fn load_peers(conn: &Connection) -> Result<Vec<PeerAccess>, StoreError> {
    let mut statement = conn.prepare_cached("SELECT peer, standing, access_key FROM peer_access")?;
    let mut rows = statement.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let code: u8 = column(row, 1, "standing")?;
        let standing = Standing::from_code(code).ok_or_else(|| StoreError::Decode {
            what: "standing",
            reason: format!("unknown code {code}"),
        })?;
        let access_key: Option<Vec<u8>> = column(row, 2, "peer access key")?;
        out.push(PeerAccess {
            peer: codec::address(column(row, 0, "address")?)?,
            standing,
            access_key: access_key.map(|key| key32(key, "peer access key")).transpose()?,
        });
    }
    Ok(out)
}
