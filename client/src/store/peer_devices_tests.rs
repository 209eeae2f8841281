#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Schema version 4: a version-3 profile migrates and keeps its own account; contacts' pinned
//! lists are stored, replaced and loaded.

use hush_client_core::{Address, PeerDevicesRecord, Store, StoreOp};

use super::super::{DatabaseKey, SqlStore, ops, schema};

fn key() -> DatabaseKey {
    DatabaseKey::from_bytes([6; 32])
}

#[test]
fn a_version_3_profile_migrates_to_version_4_and_stores_pinned_lists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    let account = hush_crypto::Account::new(1_700_000_000, &mut rand::rng());
    let peer = Address::from_identity(&hush_crypto::Account::new(1, &mut rand::rng()).identity_key());
    let own = hush_client_core::OwnAccountRecord {
        signing_key: None,
        list: vec![1, 2, 3],
        published: 1,
    };
    {
        // A database as a version-3 build left it.
        let mut conn = schema::open_keyed(&path, &key()).unwrap();
        schema::configure(&conn).unwrap();
        schema::migrate_to(&mut conn, 3).unwrap();
        let pickle_key = key().pickle_key().unwrap();
        let tx = conn.transaction().unwrap();
        for op in [
            StoreOp::PutAccount(account.pickle()),
            StoreOp::PutOwnAccount(own.clone()),
        ] {
            ops::apply(&tx, &op, &pickle_key, &mut rand::rng()).unwrap();
        }
        tx.commit().unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'peer_devices'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "version 3 has no peer_devices table");
    }

    let mut store = SqlStore::open_existing(&path, &key()).unwrap();
    let version: i64 = store
        .conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, schema::SCHEMA_VERSION);
    let snapshot = store.load().unwrap().unwrap();
    assert_eq!(snapshot.own_account, Some(own));
    assert!(snapshot.peer_devices.is_empty());

    let first = PeerDevicesRecord {
        peer,
        list: vec![9; 40],
        memberships: vec![([1; 32], [2; 64])],
    };
    let second = PeerDevicesRecord {
        peer,
        list: vec![8; 50],
        memberships: vec![([1; 32], [2; 64]), ([3; 32], [4; 64])],
    };
    for record in [&first, &second] {
        let commit = hush_client_core::Commit {
            ops: vec![StoreOp::PutPeerDevices(record.clone())],
        };
        store.apply(&commit).unwrap();
    }
    drop(store);
    let store = SqlStore::open_existing(&path, &key()).unwrap();
    assert_eq!(store.load().unwrap().unwrap().peer_devices, vec![second]);
}
