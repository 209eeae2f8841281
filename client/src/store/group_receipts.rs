//! Our group messages' receipts (`group_receipts`, schema version 8): one row per message and
//! recipient account, with how far that account got (client-core `MemberReceipt` codes). The
//! rows of a message are written once, when it is sent; a receipt only moves its row forward.

use hush_client_core::groups::GroupId;
use hush_client_core::{
    Address, GroupReceiptRecord, GroupReceipts, MAX_TRACKED_GROUP_MESSAGES, MemberReceipt, MessageId,
};
use rusqlite::{Connection, params};

use super::StoreError;
use super::codec::{column, saturating};
use super::queries::rows;

/// Migration to schema version 8.
pub(super) const MIGRATION: &str = "CREATE TABLE group_receipts (
        message BLOB NOT NULL,
        group_id BLOB NOT NULL,
        member BLOB NOT NULL,
        receipt INTEGER NOT NULL,
        PRIMARY KEY (message, member)
    );";

pub(super) fn track(conn: &Connection, record: &GroupReceiptRecord) -> Result<(), StoreError> {
    let tracked: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM group_receipts WHERE message = ?1)")?
        .query_row([record.id.0.as_slice()], |row| row.get(0))?;
    if tracked {
        return Ok(());
    }
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO group_receipts (message, group_id, member, receipt) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (member, receipt) in &record.by_member {
        insert.execute(params![
            record.id.0.as_slice(),
            record.group.0.as_slice(),
            member.as_bytes().as_slice(),
            i64::from(receipt.to_code())
        ])?;
    }
    Ok(())
}

pub(super) fn set(
    conn: &Connection,
    id: &MessageId,
    member: &Address,
    receipt: MemberReceipt,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE group_receipts SET receipt = ?3 WHERE message = ?1 AND member = ?2 AND receipt < ?3",
    )?
    .execute(params![
        id.0.as_slice(),
        member.as_bytes().as_slice(),
        i64::from(receipt.to_code())
    ])?;
    Ok(())
}

/// One message's rows: its group and each member's receipt.
fn record(conn: &Connection, id: &MessageId) -> Result<Option<GroupReceiptRecord>, StoreError> {
    let found = rows(
        conn,
        "SELECT group_id, member, receipt FROM group_receipts WHERE message = ?1 ORDER BY member",
        [id.0.as_slice()],
        |row| {
            let group = group_id(column(row, 0, "group id")?)?;
            let member = super::codec::address(column(row, 1, "receipt member")?)?;
            let code: i64 = column(row, 2, "member receipt")?;
            let receipt = u8::try_from(code)
                .ok()
                .and_then(MemberReceipt::from_code)
                .ok_or_else(|| StoreError::Decode {
                    what: "member receipt",
                    reason: format!("unknown code {code}"),
                })?;
            Ok((group, member, receipt))
        },
    )?;
    let Some((group, _, _)) = found.first() else {
        return Ok(None);
    };
    let group = *group;
    Ok(Some(GroupReceiptRecord {
        id: *id,
        group,
        by_member: found
            .into_iter()
            .map(|(_, member, receipt)| (member, receipt))
            .collect(),
    }))
}

pub(super) fn receipts(conn: &Connection, id: &MessageId) -> Result<Option<GroupReceipts>, StoreError> {
    Ok(record(conn, id)?.map(|record| GroupReceipts::new(record.group, record.by_member)))
}

/// The latest [`MAX_TRACKED_GROUP_MESSAGES`] messages' records, oldest first (a message's
/// rows are written together, so its first row id orders it).
pub(super) fn load(conn: &Connection) -> Result<Vec<GroupReceiptRecord>, StoreError> {
    let mut latest = rows(
        conn,
        "SELECT message, MIN(rowid) AS first FROM group_receipts GROUP BY message \
         ORDER BY first DESC LIMIT ?1",
        [saturating(MAX_TRACKED_GROUP_MESSAGES)],
        |row| super::codec::message_id(column(row, 0, "message id")?),
    )?;
    latest.reverse();
    let mut records = Vec::with_capacity(latest.len());
    for id in latest {
        records.extend(record(conn, &id)?);
    }
    Ok(records)
}

fn group_id(bytes: Vec<u8>) -> Result<GroupId, StoreError> {
    let found = bytes.len();
    <[u8; 16]>::try_from(bytes)
        .map(GroupId)
        .map_err(|_| StoreError::Decode {
            what: "group id",
            reason: format!("expected 16 bytes, found {found}"),
        })
}
