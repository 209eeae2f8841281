//! The access-key verifier of a mailbox: a nullable column of its row.

use hush_proto::MailboxId;
use rusqlite::{Connection, OptionalExtension};

use crate::store::StoreError;

pub(super) fn set_verifier(
    conn: &Connection,
    mailbox: MailboxId,
    verifier: Option<[u8; 32]>,
) -> Result<(), StoreError> {
    let changed = conn.execute(
        "UPDATE mailboxes SET access_verifier = ?2 WHERE mailbox = ?1",
        rusqlite::params![mailbox.0, verifier],
    )?;
    if changed == 0 {
        return Err(StoreError::UnknownMailbox);
    }
    Ok(())
}

pub(super) fn verifier(conn: &Connection, mailbox: MailboxId) -> Result<Option<[u8; 32]>, StoreError> {
    conn.prepare_cached("SELECT access_verifier FROM mailboxes WHERE mailbox = ?1")
        .and_then(|mut statement| {
            statement
                .query_row([mailbox.0], |row| row.get::<_, Option<[u8; 32]>>(0))
                .optional()
        })?
        .ok_or(StoreError::UnknownMailbox)
}
