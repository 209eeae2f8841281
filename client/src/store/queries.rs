//! The reads behind [`hush_client_core::Store`]'s queries, each through a cached statement.

use hush_client_core::{
    Address, Contact, Direction, HistoryEntry, MAX_RECENT_INCOMING, MAX_UNCONFIRMED, MessageId,
    MessageStatus, Snapshot, StoredMessage,
};
use hush_crypto::peer::PeerSessionsPickle;
use hush_crypto::{AccountPickle, PickleKey};
use rusqlite::{Connection, OptionalExtension, Params, Row, params};

use super::StoreError;
use super::codec::{self, MESSAGE_COLUMNS, column, saturating, uint};
use super::summary::ConversationSummary;

/// Every row of `sql`, each turned into a `T` by `decode`.
pub(super) fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// The start-up snapshot; `None` without an account. Call inside one read transaction.
pub(super) fn load(conn: &Connection, pickle_key: &PickleKey) -> Result<Option<Snapshot>, StoreError> {
    let account: Option<Vec<u8>> = conn
        .prepare_cached("SELECT pickle FROM account WHERE id = 1")?
        .query_row([], |row| row.get(0))
        .optional()?;
    let Some(account) = account else {
        return Ok(None);
    };
    let account =
        AccountPickle::from_encrypted(pickle_key, &account).map_err(|error| StoreError::Decode {
            what: "account pickle",
            reason: error.to_string(),
        })?;
    let peers = rows(conn, "SELECT pickle FROM peers", [], |row| {
        let sealed: Vec<u8> = column(row, 0, "peer pickle")?;
        PeerSessionsPickle::from_encrypted(pickle_key, &sealed).map_err(|error| StoreError::Decode {
            what: "peer pickle",
            reason: error.to_string(),
        })
    })?;
    let conversations = rows(
        conn,
        "SELECT peer, next_out_seq, next_in_seq FROM conversations",
        [],
        |row| {
            Ok(hush_client_core::Conversation {
                peer: codec::address(column(row, 0, "address")?)?,
                next_out_seq: uint(column(row, 1, "next_out_seq")?),
                next_in_seq: uint(column(row, 2, "next_in_seq")?),
            })
        },
    )?;
    let outbox = rows(
        conn,
        "SELECT id, peer, conv_seq, payload, envelope, created_at, not_before FROM outbox",
        [],
        codec::outbox_item,
    )?;
    let held = rows(
        conn,
        "SELECT peer, conv_seq, payload, received_at FROM held",
        [],
        codec::held,
    )?;
    let mut unconfirmed: Vec<StoredMessage> = rows(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE direction = ?1 AND status = ?2 \
             ORDER BY position DESC LIMIT ?3"
        ),
        params![
            codec::direction_code(Direction::Outgoing),
            MessageStatus::Sent.to_code(),
            saturating(MAX_UNCONFIRMED)
        ],
        codec::message,
    )?
    .into_iter()
    .map(|entry| entry.message)
    .collect();
    unconfirmed.reverse();
    let mut recent_incoming = rows(
        conn,
        "SELECT id FROM messages WHERE direction = ?1 ORDER BY position DESC LIMIT ?2",
        params![
            codec::direction_code(Direction::Incoming),
            saturating(MAX_RECENT_INCOMING)
        ],
        |row| codec::message_id(column(row, 0, "message id")?),
    )?;
    recent_incoming.reverse();
    Ok(Some(Snapshot {
        account,
        peers,
        conversations,
        outbox,
        held,
        unconfirmed,
        recent_incoming,
        own_access_key: super::access::load_own(conn)?,
        peer_access: super::access::load_peers(conn)?,
        own_account: super::devices::load_own(conn, pickle_key)?,
        link_request: super::devices::load_link_request(conn, pickle_key)?,
        peer_devices: super::peer_devices::load(conn)?,
        recent: super::surface::recent(conn)?,
        groups: super::groups::load(conn)?,
        group_receipts: super::group_receipts::load(conn)?,
    }))
}

/// Up to `limit` of `peer`'s messages before `before`, oldest first.
pub(super) fn history(
    conn: &Connection,
    peer: &Address,
    before: Option<u64>,
    limit: usize,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let before = before.map_or(i64::MAX, saturating);
    let mut entries = rows(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE peer = ?1 AND position < ?2 AND {} \
             ORDER BY position DESC LIMIT ?3",
            super::surface::HIDDEN
        ),
        params![peer.as_bytes(), before, saturating(limit)],
        codec::message,
    )?;
    entries.reverse();
    Ok(entries)
}

pub(super) fn message(conn: &Connection, id: &MessageId) -> Result<Option<StoredMessage>, StoreError> {
    let entries = rows(
        conn,
        &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"),
        [id.0],
        codec::message,
    )?;
    Ok(entries.into_iter().next().map(|entry| entry.message))
}

/// Incoming, not yet seen: the partial index `messages_unread` answers this.
pub(super) fn unread(conn: &Connection, peer: &Address) -> Result<Vec<MessageId>, StoreError> {
    rows(
        conn,
        "SELECT id FROM messages WHERE peer = ?1 AND direction = 0 AND status = 10 ORDER BY position",
        [peer.as_bytes()],
        |row| codec::message_id(column(row, 0, "message id")?),
    )
}

pub(super) fn contacts(conn: &Connection) -> Result<Vec<Contact>, StoreError> {
    rows(
        conn,
        "SELECT name, address, verified, added_at FROM contacts ORDER BY name",
        [],
        codec::contact,
    )
}

pub(super) fn peers(conn: &Connection) -> Result<Vec<Address>, StoreError> {
    rows(
        conn,
        "SELECT peer FROM activity ORDER BY last_position DESC",
        [],
        |row| codec::address(column(row, 0, "address")?),
    )
}

/// Every conversation, most recent first: per peer, its latest message (the row `activity`
/// points at) and its unread count (a range of the partial index `messages_unread`) in one
/// statement, so a list of conversations costs no history read per peer; names come from the
/// address book, read and decoded whole first, so a damaged contact row is an error rather
/// than a conversation silently shown under its address. Call inside one read transaction.
pub(super) fn conversations_summary(conn: &Connection) -> Result<Vec<ConversationSummary>, StoreError> {
    // By name, so a peer with several names gets the first.
    let contacts = contacts(conn)?;
    rows(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS}, \
             (SELECT count(*) FROM messages AS unread WHERE unread.peer = messages.peer \
              AND unread.direction = 0 AND unread.status = 10) \
             FROM messages WHERE position IN (SELECT last_position FROM activity) \
             ORDER BY position DESC"
        ),
        [],
        |row| {
            let last = codec::message(row)?;
            let unread: i64 = column(row, 10, "unread count")?;
            let peer = last.message.peer;
            Ok(ConversationSummary {
                peer,
                name: contacts
                    .iter()
                    .find(|contact| contact.address == peer)
                    .map(|contact| contact.name.clone()),
                unread: usize::try_from(unread).map_err(|_| StoreError::Decode {
                    what: "unread count",
                    reason: format!("{unread} is out of range"),
                })?,
                last,
            })
        },
    )
}
