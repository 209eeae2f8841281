#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Schema version 8: a version-7 profile (with a group and an author) migrates and keeps them;
//! our group messages' receipts are then stored, moved forward and kept across a reopen.

use hush_client_core::groups::{GroupBlob, GroupId};
use hush_client_core::{
    Address, Content, Direction, GroupReceiptRecord, MemberReceipt, MessageId, MessageStatus, Store, StoreOp,
    StoredMessage,
};

use super::{DatabaseKey, SqlStore, ops, schema};

fn key() -> DatabaseKey {
    DatabaseKey::from_bytes([8; 32])
}

fn address() -> Address {
    Address::from_identity(&hush_crypto::Account::new(1, &mut rand::rng()).identity_key())
}

#[test]
fn a_version_7_profile_migrates_to_version_8_and_keeps_group_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v7.db");
    let account = hush_crypto::Account::new(1_700_000_000, &mut rand::rng());
    let (bob, carol) = (address(), address());
    let group = GroupId([3; 16]);
    let blob = GroupBlob {
        id: group,
        bytes: vec![1, 2, 3],
    };
    let incoming = MessageId([4; 16]);
    {
        // A database as a version-7 build left it.
        let mut conn = schema::open_keyed(&path, &key()).unwrap();
        schema::configure(&conn).unwrap();
        schema::migrate_to(&mut conn, 7).unwrap();
        let pickle_key = key().pickle_key().unwrap();
        let tx = conn.transaction().unwrap();
        for op in [
            StoreOp::PutAccount(account.pickle()),
            StoreOp::PutGroup(blob.clone()),
            StoreOp::PutAuthor {
                id: incoming,
                author: bob,
            },
        ] {
            ops::apply(&tx, &op, &pickle_key, &mut rand::rng()).unwrap();
        }
        tx.commit().unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'group_receipts'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "version 7 has no group_receipts table");
    }

    let mut store = SqlStore::open_existing(&path, &key()).unwrap();
    let version: i64 = store
        .conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, schema::SCHEMA_VERSION);
    assert_eq!(version, 8);
    let snapshot = store.load().unwrap().unwrap();
    assert_eq!(snapshot.groups, vec![blob]);
    assert!(snapshot.group_receipts.is_empty());
    assert_eq!(store.author(&incoming).unwrap(), Some(bob));

    let ours = MessageId([5; 16]);
    let record = GroupReceiptRecord {
        id: ours,
        group,
        by_member: vec![(bob, MemberReceipt::Sent), (carol, MemberReceipt::Sent)],
    };
    store
        .apply(&hush_client_core::Commit {
            ops: vec![
                StoreOp::TrackGroupReceipts(record),
                StoreOp::SetGroupReceipt {
                    id: ours,
                    member: carol,
                    receipt: MemberReceipt::Read,
                },
            ],
        })
        .unwrap();
    drop(store);
    let store = SqlStore::open_existing(&path, &key()).unwrap();
    let receipts = store.group_receipts(&ours).unwrap().unwrap();
    assert_eq!((receipts.members, receipts.delivered, receipts.read), (2, 1, 1));
    let snapshot = store.load().unwrap().unwrap();
    assert_eq!(snapshot.group_receipts.len(), 1);
    assert_eq!(snapshot.group_receipts[0].id, ours);
}

#[test]
fn an_expired_group_message_takes_its_receipts_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqlStore::open(dir.path().join("p.db"), &key()).unwrap();
    let conversation = GroupId([3; 16]).conversation();
    let message = |id: u8, content: Content| StoredMessage {
        id: MessageId([id; 16]),
        peer: conversation,
        direction: Direction::Outgoing,
        conv_seq: u64::from(id),
        sent_at: 10,
        stored_at: 10,
        content,
        status: MessageStatus::Sent,
    };
    let ours = MessageId([2; 16]);
    let ops = vec![
        StoreOp::PutAccount(hush_crypto::Account::new(1_700_000_000, &mut rand::rng()).pickle()),
        StoreOp::InsertMessage(message(1, Content::timer(30))),
        StoreOp::InsertMessage(message(2, Content::text("rope check"))),
        StoreOp::TrackGroupReceipts(GroupReceiptRecord {
            id: ours,
            group: GroupId([3; 16]),
            by_member: vec![(address(), MemberReceipt::Delivered)],
        }),
    ];
    store.apply(&hush_client_core::Commit { ops }).unwrap();
    assert!(store.group_receipts(&ours).unwrap().is_some());
    let expired = store.expire(10 + 31_000).unwrap();
    assert!(expired.iter().any(|e| e.id == ours));
    assert_eq!(store.group_receipts(&ours).unwrap(), None);
    assert!(store.load().unwrap().unwrap().group_receipts.is_empty());
}
