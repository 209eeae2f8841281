//! Applying one [`StoreOp`] inside the commit's transaction. Every statement is prepared once per
//! connection and cached. An error leaves the transaction to be rolled back, so a commit is
//! applied whole or not at all.

use hush_client_core::{Address, StoreOp, StoredMessage};
use hush_crypto::PickleKey;
use hush_crypto::peer::PeerSessionsPickle;
use rand_core::CryptoRng;
use rusqlite::{Connection, OptionalExtension, Params, params};

use super::StoreError;
use super::codec::{self, int};

fn execute(conn: &Connection, sql: &str, params: impl Params) -> Result<usize, StoreError> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// Applies `op`; pickles are encrypted under `pickle_key` with nonces from `rng`.
pub(super) fn apply(
    conn: &Connection,
    op: &StoreOp,
    pickle_key: &PickleKey,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<(), StoreError> {
    match op {
        StoreOp::PutAccount(account) => {
            execute(
                conn,
                "INSERT INTO account (id, pickle) VALUES (1, ?1) \
                 ON CONFLICT (id) DO UPDATE SET pickle = excluded.pickle",
                [account.encrypt(pickle_key, rng)],
            )?;
        }
        StoreOp::PutPeer(pickle) => {
            let identity = peer_identity(pickle)?;
            execute(
                conn,
                "INSERT INTO peers (identity, pickle) VALUES (?1, ?2) \
                 ON CONFLICT (identity) DO UPDATE SET pickle = excluded.pickle",
                params![identity.as_bytes(), pickle.encrypt(pickle_key, rng)],
            )?;
        }
        StoreOp::PutConversation(conversation) => {
            execute(
                conn,
                "INSERT INTO conversations (peer, next_out_seq, next_in_seq) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (peer) DO UPDATE SET next_out_seq = excluded.next_out_seq, \
                 next_in_seq = excluded.next_in_seq",
                params![
                    conversation.peer.as_bytes(),
                    int(conversation.next_out_seq),
                    int(conversation.next_in_seq)
                ],
            )?;
        }
        StoreOp::InsertMessage(message) => insert_message(conn, message)?,
        StoreOp::SetStatus { id, peer, status } => {
            let current: Option<(Vec<u8>, i64)> = conn
                .prepare_cached("SELECT peer, status FROM messages WHERE id = ?1")?
                .query_row([id.0], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            if let Some((stored_peer, code)) = current
                && stored_peer.as_slice() == peer.as_bytes()
                && codec::status(code)?.advances_to(*status)
            {
                execute(
                    conn,
                    "UPDATE messages SET status = ?2 WHERE id = ?1",
                    params![id.0, status.to_code()],
                )?;
            }
        }
        StoreOp::PutOutbox(item) => {
            execute(
                conn,
                "INSERT INTO outbox (id, peer, conv_seq, payload, envelope, created_at, not_before) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (id) DO UPDATE SET peer = excluded.peer, conv_seq = excluded.conv_seq, \
                 payload = excluded.payload, envelope = excluded.envelope, \
                 created_at = excluded.created_at, not_before = excluded.not_before",
                params![
                    item.id.0,
                    item.peer.as_bytes(),
                    int(item.conv_seq),
                    item.payload,
                    item.envelope,
                    int(item.created_at),
                    int(item.not_before)
                ],
            )?;
        }
        StoreOp::RemoveOutbox(id) => {
            execute(conn, "DELETE FROM outbox WHERE id = ?1", [id.0])?;
        }
        StoreOp::PutHeld(held) => {
            execute(
                conn,
                "INSERT INTO held (peer, conv_seq, payload, received_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (peer, conv_seq) DO UPDATE SET payload = excluded.payload, \
                 received_at = excluded.received_at",
                params![
                    held.peer.as_bytes(),
                    int(held.conv_seq),
                    held.payload,
                    int(held.received_at)
                ],
            )?;
        }
        StoreOp::RemoveHeld { peer, conv_seq } => {
            execute(
                conn,
                "DELETE FROM held WHERE peer = ?1 AND conv_seq = ?2",
                params![peer.as_bytes(), int(*conv_seq)],
            )?;
        }
        StoreOp::PutContact(contact) => {
            execute(
                conn,
                "INSERT INTO contacts (name, address, verified, added_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (name) DO UPDATE SET address = excluded.address, \
                 verified = excluded.verified, added_at = excluded.added_at",
                params![
                    contact.name,
                    contact.address.as_bytes(),
                    contact.verified,
                    int(contact.added_at)
                ],
            )?;
        }
        StoreOp::RemoveContact(name) => {
            execute(conn, "DELETE FROM contacts WHERE name = ?1", [name])?;
        }
        StoreOp::PutOwnAccessKey(own) => super::access::put_own(conn, own)?,
        StoreOp::PutPeerAccess(access) => super::access::put_peer(conn, access)?,
        StoreOp::PutLinkRequest(Some(request)) => {
            let sealed = request.encrypt(pickle_key, rng);
            execute(
                conn,
                "INSERT OR REPLACE INTO link_request (id, pickle) VALUES (1, ?1)",
                [sealed],
            )?;
        }
        StoreOp::PutLinkRequest(None) => {
            execute(conn, "DELETE FROM link_request WHERE id = 1", [])?;
        }
        StoreOp::PutOwnAccount(own) => {
            // The account key's seed is sealed as the account's pickle is.
            let signing_key = own.signing_key.as_ref().map(|key| key.encrypt(pickle_key, rng));
            execute(
                conn,
                "INSERT INTO own_account (id, signing_key, list, published) VALUES (1, ?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET signing_key = excluded.signing_key, list = excluded.list, \
                 published = excluded.published",
                params![signing_key, own.list, int(own.published)],
            )?;
        }
        StoreOp::PutPeerDevices(record) => super::peer_devices::put(conn, record)?,
        StoreOp::PutGroup(blob) => super::groups::put(conn, blob)?,
        StoreOp::PutAuthor { id, author } => super::groups::put_author(conn, id, author)?,
        StoreOp::TrackGroupReceipts(record) => super::group_receipts::track(conn, record)?,
        StoreOp::SetGroupReceipt { id, member, receipt } => {
            super::group_receipts::set(conn, id, member, *receipt)?;
        }
        op @ (StoreOp::EditMessage { .. } | StoreOp::DeleteMessage { .. } | StoreOp::PutReaction { .. }) => {
            super::surface::apply(conn, op)?;
        }
        // A newer core's op this store does not know: refusing the commit keeps the
        // all-or-nothing promise instead of silently losing the op.
        _ => {
            return Err(StoreError::InvalidCommit(
                "it holds an operation this store does not know".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Adds `message` at the next position unless its id is already stored.
fn insert_message(conn: &Connection, message: &StoredMessage) -> Result<(), StoreError> {
    let (kind, body) = message.content.to_parts();
    let inserted = execute(
        conn,
        "INSERT INTO messages (id, peer, direction, conv_seq, sent_at, stored_at, kind, body, status) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING",
        params![
            message.id.0,
            message.peer.as_bytes(),
            codec::direction_code(message.direction),
            int(message.conv_seq),
            int(message.sent_at),
            int(message.stored_at),
            kind,
            body,
            message.status.to_code()
        ],
    )?;
    if inserted == 1 {
        execute(
            conn,
            "INSERT INTO activity (peer, last_position) VALUES (?1, ?2) \
             ON CONFLICT (peer) DO UPDATE SET last_position = excluded.last_position",
            params![message.peer.as_bytes(), conn.last_insert_rowid()],
        )?;
        super::surface::note_target(conn, message)?;
        super::expiry::note_insert(conn, message)?;
    }
    Ok(())
}

/// The identity a peer pickle is stored under. A pickle of the wrong shape is refused; its keys
/// are not restored here (that is the core's work at start-up, and costly on every commit).
fn peer_identity(pickle: &PeerSessionsPickle) -> Result<Address, StoreError> {
    pickle
        .check_shape()
        .map(|()| Address::from_identity(&pickle.remote_identity()))
        .map_err(|error| StoreError::InvalidCommit(format!("a malformed peer sessions pickle: {error}")))
}
