//! Schema version 5 from a version-4 database, and a deleted text gone from the file bytes.

use hush_client_core::{Content, Direction, MessageId, Store, StoreOp};
use rusqlite::Connection;

use super::tests::{files_in, text_message};
use super::*;

fn key() -> DatabaseKey {
    DatabaseKey::from_bytes([7; 32])
}

fn address() -> Address {
    Address::from_identity(&hush_crypto::Account::new(1_700_000_000, &mut rand::rng()).identity_key())
}

#[test]
fn a_version_4_database_migrates_and_names_the_targets_of_rows_a_newer_client_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    let peer = address();
    let quoted = MessageId([1; 16]);
    {
        // A database as a version-4 build left it: a text, and a reply it kept as unsupported.
        let mut conn = schema::open_keyed(&path, &key()).unwrap();
        schema::configure(&conn).unwrap();
        schema::migrate_to(&mut conn, 4).unwrap();
        let tx = conn.transaction().unwrap();
        let account = hush_crypto::Account::new(1_700_000_000, &mut rand::rng());
        let pickle_key = key().pickle_key().unwrap();
        let mut reply = text_message(2, peer, "");
        reply.content = Content::Unsupported {
            kind: 5,
            data: [&quoted.0[..], b"re"].concat(),
        };
        for op in [
            StoreOp::PutAccount(account.pickle()),
            StoreOp::InsertMessage(text_message(1, peer, "quoted")),
            StoreOp::InsertMessage(reply),
        ] {
            ops::apply(&tx, &op, &pickle_key, &mut rand::rng()).unwrap();
        }
        tx.commit().unwrap();
        let columns: i64 = conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('messages') WHERE name = 'target'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(columns, 0, "version 4 has no target column");
    }
    let mut store = SqlStore::open_existing(&path, &key()).unwrap();
    let reply_id = MessageId([2; 16]);
    assert_eq!(
        store.message(&reply_id).unwrap().unwrap().content,
        Content::reply(quoted, "re")
    );
    assert_eq!(
        surface::target_of(&store.conn, &reply_id).unwrap(),
        Some(quoted.0.to_vec())
    );
    // The new tables work on the migrated file.
    store
        .apply(&Commit {
            ops: vec![StoreOp::EditMessage {
                id: quoted,
                peer,
                direction: Direction::Incoming,
                text: "edited".into(),
                edited_at: 3,
            }],
        })
        .unwrap();
    assert_eq!(store.edits(&quoted).unwrap(), vec!["quoted"]);
}

/// The store's own schema and settings on an unencrypted database (SQLCipher with no key) in
/// `dir`, so the file's bytes can be searched.
pub(super) fn plain_database(dir: &std::path::Path) -> Connection {
    let mut conn = Connection::open(dir.join("plain.db")).unwrap();
    schema::configure(&conn).unwrap();
    schema::migrate(&mut conn).unwrap();
    conn
}

/// Applies `ops` to a [`plain_database`] in one transaction, as the store does, and truncates
/// the log.
pub(super) fn commit_plain(conn: &mut Connection, ops: Vec<StoreOp>) {
    let pickle_key = key().pickle_key().unwrap();
    let tx = conn.transaction().unwrap();
    for op in &ops {
        ops::apply(&tx, op, &pickle_key, &mut rand::rng()).unwrap();
    }
    tx.commit().unwrap();
    wal::truncate(conn).unwrap();
}

/// The store's own schema, settings and ops on an unencrypted database (SQLCipher with no
/// key), so the file's bytes can be searched: after a delete for everyone and the log
/// truncation its commit triggers, neither the text nor its edit is anywhere in the files.
#[test]
fn a_deleted_text_is_overwritten_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = plain_database(dir.path());
    let peer = address();
    let target = MessageId([1; 16]);
    let mut edit = text_message(2, peer, "");
    edit.content = Content::edit(target, "edited SECRET-TWO");
    let commit = commit_plain;
    commit(
        &mut conn,
        vec![
            StoreOp::InsertMessage(text_message(1, peer, "original SECRET-ONE")),
            StoreOp::InsertMessage(edit),
            StoreOp::EditMessage {
                id: target,
                peer,
                direction: Direction::Incoming,
                text: "edited SECRET-TWO".into(),
                edited_at: 3,
            },
        ],
    );
    let found = |needle: &[u8]| {
        files_in(dir.path())
            .iter()
            .any(|(_, bytes)| bytes.windows(needle.len()).any(|window| window == needle))
    };
    // The search sees the texts while they are stored.
    assert!(found(b"SECRET-ONE") && found(b"SECRET-TWO"));
    commit(
        &mut conn,
        vec![StoreOp::DeleteMessage {
            id: target,
            peer,
            direction: Direction::Incoming,
        }],
    );
    assert!(!found(b"SECRET-ONE"), "the deleted text is still in the files");
    assert!(
        !found(b"SECRET-TWO"),
        "the deleted message's edit is still in the files"
    );
}
