//! Each contact's pinned device list (`peer_devices`, schema version 4; SPEC.md §16.8
//! "Pinning"): the list's bytes and the membership signatures that verified, concatenated as
//! 96-byte entries (identity key, signature). The core verifies both again when it restores.

use hush_client_core::PeerDevicesRecord;
use rusqlite::{Connection, params};

use super::StoreError;
use super::codec::address;

/// One membership entry: a device identity key and its signature.
const ENTRY: usize = 32 + 64;

/// Membership entries: `(device identity key, signature)`.
type Entries = Vec<([u8; 32], [u8; 64])>;

fn memberships(bytes: &[u8]) -> Result<Entries, StoreError> {
    if !bytes.len().is_multiple_of(ENTRY) {
        return Err(StoreError::Decode {
            what: "peer memberships",
            reason: format!("{} bytes is not a whole number of entries", bytes.len()),
        });
    }
    Ok(bytes
        .chunks_exact(ENTRY)
        .filter_map(|entry| {
            let (key, signature) = entry.split_at(32);
            Some((key.try_into().ok()?, signature.try_into().ok()?))
        })
        .collect())
}

pub(super) fn load(conn: &Connection) -> Result<Vec<PeerDevicesRecord>, StoreError> {
    let mut statement = conn.prepare_cached("SELECT peer, list, memberships FROM peer_devices")?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, Vec<u8>>(0)?,
            row.get::<_, Vec<u8>>(1)?,
            row.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    rows.map(|row| {
        let (peer, list, entries) = row?;
        Ok(PeerDevicesRecord {
            peer: address(peer)?,
            list,
            memberships: memberships(&entries)?,
        })
    })
    .collect()
}

pub(super) fn put(conn: &Connection, record: &PeerDevicesRecord) -> Result<(), StoreError> {
    let entries: Vec<u8> = record
        .memberships
        .iter()
        .flat_map(|(key, signature)| key.iter().chain(signature.iter()).copied())
        .collect();
    conn.prepare_cached(
        "INSERT INTO peer_devices (peer, list, memberships) VALUES (?1, ?2, ?3) \
         ON CONFLICT (peer) DO UPDATE SET list = excluded.list, memberships = excluded.memberships",
    )?
    .execute(params![record.peer.as_bytes().as_slice(), record.list, entries])?;
    Ok(())
}

#[cfg(test)]
#[path = "peer_devices_tests.rs"]
mod tests;
