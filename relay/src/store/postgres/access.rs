//! The access-key verifier of a mailbox: a nullable column of its row.

use hush_proto::MailboxId;

use super::pool::PooledConn;
use crate::store::{Corruption, StoreError};

pub(super) async fn set_verifier(
    conn: &mut PooledConn<'_>,
    mailbox: MailboxId,
    verifier: Option<[u8; 32]>,
) -> Result<(), StoreError> {
    let verifier = verifier.as_ref().map(|bytes| &bytes[..]);
    let rows = conn
        .query(
            "UPDATE mailboxes SET access_verifier = $2 WHERE mailbox = $1 RETURNING id",
            &[&&mailbox.0[..], &verifier],
        )
        .await?;
    if rows.is_empty() {
        return Err(StoreError::UnknownMailbox);
    }
    Ok(())
}

pub(super) async fn verifier(
    conn: &mut PooledConn<'_>,
    mailbox: MailboxId,
) -> Result<Option<[u8; 32]>, StoreError> {
    let rows = conn
        .query(
            "SELECT access_verifier FROM mailboxes WHERE mailbox = $1",
            &[&&mailbox.0[..]],
        )
        .await?;
    let row = rows.first().ok_or(StoreError::UnknownMailbox)?;
    let bytes: Option<&[u8]> = row.try_get(0).map_err(StoreError::from)?;
    bytes
        .map(|bytes| {
            <[u8; 32]>::try_from(bytes).map_err(|_| {
                StoreError::from(Corruption::WrongLength {
                    expected: 32,
                    found: bytes.len(),
                })
            })
        })
        .transpose()
}
