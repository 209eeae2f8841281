//! This device's own account against a real relay (test-vectors/SPEC.md §16.1): a new profile
//! publishes its device list at login; a profile from before accounts migrates, keeping its
//! identity key, sessions and mailbox, and publishes a list naming that key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::path::Path;

use hush_client::{Client, ClientEvent, Content, DatabaseKey, Event, Events};
use hush_crypto::devices::{AccountKey, DeviceList};
use hush_proto::AccountId;
use hush_relay::store::Store;
use hush_relay::store::sqlite::{SqliteOptions, SqliteStore};

use helpers::*;

/// Waits for the relay to confirm our list.
async fn published(events: &mut Events) -> u64 {
    let mut counter = 0;
    collect_until(events, |event, _| {
        if let ClientEvent::Core(Event::OwnListPublished { counter: stored }) = event {
            counter = *stored;
            return true;
        }
        false
    })
    .await;
    counter
}

/// What the stopped relay in `data_dir` holds for `account`.
async fn stored_list(data_dir: &Path, account: &AccountKey) -> hush_relay::store::StoredDeviceList {
    let store = SqliteStore::open(&data_dir.join("relay.sqlite3"), SqliteOptions::default()).unwrap();
    store
        .device_list(AccountId(*account.as_bytes()))
        .await
        .unwrap()
        .expect("the relay stored our list")
}

fn assert_membership(
    stored: &hush_relay::store::StoredDeviceList,
    list: &DeviceList,
    device: &hush_crypto::IdentityKey,
) {
    assert_eq!(stored.list.as_bytes(), list.to_bytes());
    let membership = stored
        .memberships
        .iter()
        .find(|membership| membership.identity_key == *device.as_bytes())
        .expect("our membership is stored");
    list.account_key()
        .verify_membership(device, &membership.signature.0)
        .expect("the membership verifies for the account key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_profile_publishes_its_device_list_at_login() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = online_client(&dir.path().join("a.db"), &test_key(1), &relay.address).await;
    assert_eq!(published(&mut events).await, 1);
    let list = alice.device_list().await.unwrap();
    let identity = alice.address().identity();
    assert_eq!(alice.devices().await.unwrap().len(), 1);
    assert!(list.device(&identity).is_some());
    alice.shutdown().await.unwrap();
    let data = relay.stop().await;
    assert_membership(
        &stored_list(data.path(), list.account_key()).await,
        &list,
        &identity,
    );
}

/// Turns the profile at `path` into what a version-2 build left: no own account.
fn downgrade_to_version_2(path: &Path, key_byte: u8) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let hex: String = std::iter::repeat_n(format!("{key_byte:02x}"), 32).collect();
    conn.execute_batch(&format!("PRAGMA key = \"x'{hex}'\";"))
        .unwrap();
    conn.execute_batch(
        "DROP TRIGGER message_search_insert; DROP TRIGGER message_search_update; \
         DROP TRIGGER message_search_delete; DROP TRIGGER messages_expiry; DROP TABLE message_search; \
         DROP TABLE timers; DROP INDEX messages_expiring; ALTER TABLE messages DROP COLUMN expires_at; \
         DROP TABLE own_account; DROP TABLE link_request; DROP TABLE peer_devices; \
         DROP INDEX messages_by_target; ALTER TABLE messages DROP COLUMN target; DROP TABLE edits; \
         DROP TABLE reactions; DROP TABLE groups; DROP TABLE authors; DROP TABLE group_receipts; \
         PRAGMA user_version = 2;",
    )
    .unwrap();
}

async fn open(path: &Path, key: &DatabaseKey, relay: &hush_client::RelayAddress) -> (Client, Events) {
    let (client, events) = Client::open_existing(path, key, relay.clone()).await.unwrap();
    client.register().await.unwrap();
    (client, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_from_before_accounts_migrates_keeping_its_identity_sessions_and_mailbox() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let alice_path = dir.path().join("a.db");
    let (alice, mut alice_events) = online_client(&alice_path, &test_key(1), &relay.address).await;
    let (bob, mut bob_events) = online_client(&dir.path().join("b.db"), &test_key(2), &relay.address).await;
    bob.accept(alice.address()).await.unwrap();
    alice.accept(bob.address()).await.unwrap();
    alice.send(bob.address(), Content::text("before")).await.unwrap();
    collect_until(&mut bob_events, |_, received| !received.is_empty()).await;
    let address = alice.address();
    let old_account = alice.account_key().await.unwrap();
    published(&mut alice_events).await;
    alice.shutdown().await.unwrap();

    downgrade_to_version_2(&alice_path, 1);
    // Bob writes while Alice is away: it waits in her mailbox.
    bob.send(address, Content::text("while you migrate"))
        .await
        .unwrap();

    let (alice, mut alice_events) = open(&alice_path, &test_key(1), &relay.address).await;
    assert_eq!(alice.address(), address, "the identity key is kept");
    let received = collect_until(&mut alice_events, |_, received| !received.is_empty()).await;
    assert_eq!(
        texts(&received),
        ["while you migrate"],
        "the mailbox and the session are kept"
    );
    assert_eq!(
        published(&mut alice_events).await,
        1,
        "a new account's first list"
    );
    let list = alice.device_list().await.unwrap();
    assert_ne!(*list.account_key(), old_account, "a new account key");
    assert_eq!(list.counter(), 1);
    assert_eq!(list.devices().len(), 1);
    assert!(
        list.device(&address.identity()).is_some(),
        "the list names the old identity key"
    );
    let history = alice.history(bob.address(), None, 10).await.unwrap();
    assert_eq!(history.len(), 2, "the history is kept");

    // The session goes on both ways.
    alice.send(bob.address(), Content::text("after")).await.unwrap();
    let received = collect_until(&mut bob_events, |_, received| !received.is_empty()).await;
    assert_eq!(texts(&received), ["after"]);
    alice.shutdown().await.unwrap();
    bob.shutdown().await.unwrap();
    let data = relay.stop().await;
    assert_membership(
        &stored_list(data.path(), list.account_key()).await,
        &list,
        &address.identity(),
    );
}
