//! Accounts with several devices over QUIC against a real relay (test-vectors/SPEC.md §16):
//! linking a new device, a new device that restarts while it waits, removing a device.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::path::Path;

use hush_client::{Client, ClientEvent, Event};
use hush_crypto::IdentityKey;
use hush_proto::AccountId;
use hush_relay::store::Store;
use hush_relay::store::sqlite::{SqliteOptions, SqliteStore};

use helpers::*;

/// The identity keys and memberships the stopped relay in `data_dir` holds for the account.
async fn stored_devices(data_dir: &Path, account: &[u8; 32]) -> (Vec<IdentityKey>, Vec<[u8; 32]>) {
    let store = SqliteStore::open(&data_dir.join("relay.sqlite3"), SqliteOptions::default()).unwrap();
    let stored = store
        .device_list(AccountId(*account))
        .await
        .unwrap()
        .expect("a stored list");
    let list = hush_crypto::devices::DeviceList::from_bytes(stored.list.as_bytes()).unwrap();
    for membership in &stored.memberships {
        let device = IdentityKey::from_bytes(&membership.identity_key).unwrap();
        list.account_key()
            .verify_membership(&device, &membership.signature.0)
            .expect("every stored membership verifies");
    }
    let devices = list.devices().iter().map(|entry| entry.identity_key).collect();
    (
        devices,
        stored.memberships.iter().map(|m| m.identity_key).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_joins_the_account_over_quic_with_the_contacts() {
    for hand_over in [false, true] {
        let relay = spawn_relay().await;
        let dir = tempfile::tempdir().unwrap();
        let (phone, mut phone_events) =
            online_client(&dir.path().join("phone.db"), &test_key(1), &relay.address).await;
        let (bob, _bob_events) =
            online_client(&dir.path().join("bob.db"), &test_key(2), &relay.address).await;
        phone.add_contact("bob", bob.address()).await.unwrap();
        published(&mut phone_events, 1).await;

        let (laptop, mut laptop_events, code) =
            joining(&dir.path().join("laptop.db"), &test_key(3), &relay.address).await;
        let laptop_key = laptop.address().identity();
        phone.link_device(&code, hand_over).await.unwrap();
        collect_until(&mut phone_events, |event, _| {
            matches!(event, ClientEvent::Core(Event::DeviceAdded { device }) if *device == laptop_key)
        })
        .await;
        let account = laptop.join_account().await.unwrap();
        assert_eq!(account, phone.account_key().await.unwrap());
        collect_until(&mut laptop_events, |event, _| {
            matches!(event, ClientEvent::Core(Event::JoinedAccount { holder, .. }) if *holder == hand_over)
        })
        .await;
        published(&mut laptop_events, 2).await;
        assert_eq!(
            laptop.device_list().await.unwrap(),
            phone.device_list().await.unwrap()
        );
        assert_eq!(laptop.devices().await.unwrap().len(), 2);
        let contacts = laptop.contacts().await.unwrap();
        assert_eq!(contacts.len(), 1);
        assert_eq!(
            (contacts[0].name.as_str(), contacts[0].address),
            ("bob", bob.address())
        );
        // A linked holder can link (and remove) in turn; a linked non-holder cannot.
        let (third, mut third_events, third_code) =
            joining(&dir.path().join("third.db"), &test_key(4), &relay.address).await;
        let linked = laptop.link_device(&third_code, false).await;
        assert_eq!(linked.is_ok(), hand_over, "{linked:?}");
        let phone_key = phone.address().identity();
        let mut members = vec![phone_key, laptop_key];
        if hand_over {
            third.join_account().await.unwrap();
            published(&mut third_events, 3).await;
            members.push(third.address().identity());
        }
        for client in [phone, laptop, bob, third] {
            client.shutdown().await.unwrap();
        }
        let data = relay.stop().await;
        let (devices, memberships) = stored_devices(data.path(), account.as_bytes()).await;
        members.sort();
        assert_eq!(
            devices, members,
            "the relay's list names exactly the linked devices"
        );
        let mut expected: Vec<[u8; 32]> = members.iter().map(|key| *key.as_bytes()).collect();
        expected.sort();
        assert_eq!(memberships, expected, "each device published its membership");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_closed_while_waiting_still_joins_when_opened_again() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let (phone, _phone_events) = first_device(dir.path(), &relay.address).await;
    let laptop_path = dir.path().join("laptop.db");
    let (laptop, _events, code) = joining(&laptop_path, &test_key(3), &relay.address).await;
    let address = laptop.address();
    laptop.shutdown().await.unwrap();
    assert!(matches!(
        Client::open_joining(&laptop_path, &test_key(3), relay.address.clone()).await,
        Err(hush_client::ClientError::ProfileExists(_))
    ));

    // The phone answers while the laptop is closed; the answer waits in its mailbox.
    phone.link_device(&code, false).await.unwrap();
    let (laptop, mut laptop_events) =
        Client::open_existing(&laptop_path, &test_key(3), relay.address.clone())
            .await
            .unwrap();
    assert_eq!(laptop.address(), address);
    let account = laptop.join_account().await.unwrap();
    assert_eq!(account, phone.account_key().await.unwrap());
    published(&mut laptop_events, 2).await;
    assert!(matches!(
        laptop.link_code().await,
        Err(hush_client::ClientError::Device(
            hush_client_core::LinkDeviceError::NotJoining
        ))
    ));
    phone.shutdown().await.unwrap();
    laptop.shutdown().await.unwrap();
    relay.stop().await;
}
