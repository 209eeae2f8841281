#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Schema version 3: a version-2 profile migrates and keeps everything; the own account's
//! account key is sealed inside the database and survives a passphrase change.

use hush_client_core::{Address, Commit, Core, OwnAccountRecord, Store, StoreOp};
use hush_crypto::devices::{AccountSigningKey, DeviceEntry};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::super::tests::text_message;
use super::super::{DatabaseKey, SqlStore, ops, schema};

fn key() -> DatabaseKey {
    DatabaseKey::from_bytes([5; 32])
}

fn user_version(store: &SqlStore) -> i64 {
    store
        .conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn a_version_2_profile_migrates_to_version_3_and_then_to_an_account() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let account = hush_crypto::Account::new(1_700_000_000, &mut rand::rng());
    let peer = Address::from_identity(&hush_crypto::Account::new(1, &mut rand::rng()).identity_key());
    {
        // A database as a version-2 build left it.
        let mut conn = schema::open_keyed(&path, &key()).unwrap();
        schema::configure(&conn).unwrap();
        schema::migrate_to(&mut conn, 2).unwrap();
        let pickle_key = key().pickle_key().unwrap();
        let tx = conn.transaction().unwrap();
        for op in [
            StoreOp::PutAccount(account.pickle()),
            StoreOp::InsertMessage(text_message(1, peer, "from before accounts")),
        ] {
            ops::apply(&tx, &op, &pickle_key, &mut rand::rng()).unwrap();
        }
        tx.commit().unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, 2);
        let own: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'own_account'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(own, 0, "version 2 has no own_account table");
    }

    let mut store = SqlStore::open_existing(&path, &key()).unwrap();
    assert_eq!(user_version(&store), schema::SCHEMA_VERSION);
    let snapshot = store.load().unwrap().unwrap();
    assert_eq!(snapshot.own_account, None);
    assert_eq!(store.history(&peer, None, 10).unwrap().len(), 1);

    // The core migrates the profile in its first commit; the store keeps it.
    let mut core = Core::restore(1_700_000_100_000, snapshot, Box::new(StdRng::seed_from_u64(1))).unwrap();
    assert_eq!(core.account().identity_key(), account.identity_key());
    while let Some(output) = core.poll_output() {
        if let hush_client_core::Output::Commit(commit) = output {
            store.apply(&commit).unwrap();
        }
    }
    drop(store);
    let store = SqlStore::open_existing(&path, &key()).unwrap();
    let record = store.load().unwrap().unwrap().own_account.expect("saved");
    assert_eq!(record, core.own_account().record());
    assert!(
        record.signing_key.is_some(),
        "the migrated device holds the new account key"
    );
    assert_eq!(store.history(&peer, None, 10).unwrap().len(), 1);
}

#[test]
fn the_account_key_is_sealed_and_survives_a_passphrase_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let params = super::super::KdfParams::new(64, 1, 1).unwrap();
    let old = DatabaseKey::from_passphrase_with_params("old horse", &path, params).unwrap();
    let mut store = SqlStore::open(&path, &old).unwrap();
    let device = hush_crypto::Account::new(1, &mut rand::rng());
    let key = AccountSigningKey::generate(&mut rand::rng());
    let list = key.first_device_list(DeviceEntry::new(device.identity_key(), 1));
    let record = OwnAccountRecord {
        signing_key: Some(key.pickle()),
        list: list.to_bytes(),
        published: 1,
    };
    let ops = vec![
        StoreOp::PutAccount(device.pickle()),
        StoreOp::PutOwnAccount(record.clone()),
    ];
    store.apply(&Commit { ops }).unwrap();
    let sealed: Vec<u8> = store
        .conn
        .query_row("SELECT signing_key FROM own_account WHERE id = 1", [], |row| {
            row.get(0)
        })
        .unwrap();
    let seed = AccountSigningKey::from_pickle(&record.signing_key.clone().unwrap());
    assert_eq!(seed.public(), key.public());
    assert!(
        hush_crypto::devices::AccountKeyPickle::from_encrypted(&old.pickle_key().unwrap(), &sealed).is_ok(),
        "stored as a pickle sealed under the pickle key"
    );

    let store = store.change_passphrase("new horse", Some(params)).unwrap();
    assert_eq!(store.load().unwrap().unwrap().own_account, Some(record));
}
