//! Removing a device and a relay that substitutes a linked device's key, over QUIC against a
//! real relay (test-vectors/SPEC.md §16.2, §16.4).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;
#[path = "devices/substitute.rs"]
mod substitute;

use std::time::{SystemTime, UNIX_EPOCH};

use hush_client::{Client, ClientError, ClientEvent, Event, NetError};
use hush_proto::MailboxId;
use hush_relay::registration::RegistrationAuthority;

use helpers::*;

fn in_an_hour() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 3600
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_device_loses_its_mailbox_and_its_login_fails() {
    // A relay that admits new addresses by token only: a login to a mailbox that exists needs
    // none, so a refused login shows the mailbox is gone.
    let authority = RegistrationAuthority::generate();
    let public = hush_relay::tls::to_hex(&authority.public_key());
    let relay = spawn_relay_with(|config| config.registration_key = Some(public)).await;
    let dir = tempfile::tempdir().unwrap();
    let admitted = async |client: &Client| {
        let identity = client.address().identity().to_bytes();
        client
            .set_registration_token(authority.issue(&identity, in_an_hour()))
            .await
            .unwrap();
        client.register().await.unwrap();
    };
    let (phone, mut phone_events) =
        Client::open(dir.path().join("phone.db"), &test_key(1), relay.address.clone())
            .await
            .unwrap();
    admitted(&phone).await;
    published(&mut phone_events, 1).await;
    let laptop_path = dir.path().join("laptop.db");
    let (laptop, mut laptop_events) = Client::open_joining(&laptop_path, &test_key(2), relay.address.clone())
        .await
        .unwrap();
    admitted(&laptop).await;
    let code = laptop.link_code().await.unwrap().to_text();
    phone.link_device(&code, false).await.unwrap();
    laptop.join_account().await.unwrap();
    published(&mut laptop_events, 2).await;
    let laptop_key = laptop.address().identity();
    laptop.shutdown().await.unwrap();

    // Reopened before the removal, the laptop logs in without a token: its mailbox exists.
    let (laptop, _events) = Client::open_existing(&laptop_path, &test_key(2), relay.address.clone())
        .await
        .unwrap();
    laptop.register().await.unwrap();
    laptop.shutdown().await.unwrap();

    phone.remove_device(laptop_key).await.unwrap();
    collect_until(&mut phone_events, |event, _| {
        matches!(event, ClientEvent::Core(Event::DeviceRemoved { device }) if *device == laptop_key)
    })
    .await;
    published(&mut phone_events, 3).await;
    let remaining = phone.device_list().await.unwrap();
    assert!(remaining.device(&laptop_key).is_none());
    assert_eq!(remaining.devices().len(), 1);

    // The relay deleted the laptop's mailbox with the list: its login is now a registration.
    let (laptop, _events) = Client::open_existing(&laptop_path, &test_key(2), relay.address.clone())
        .await
        .unwrap();
    let refused = laptop.register().await.unwrap_err();
    assert!(
        matches!(refused, ClientError::Relay(NetError::RegistrationTokenRequired)),
        "{refused:?}"
    );
    laptop.shutdown().await.unwrap();
    phone.shutdown().await.unwrap();
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_substitutes_the_linked_devices_key_is_detected() {
    let (store, lies) = substitute::Substituting::new();
    let relay = spawn_relay_on(store).await;
    let dir = tempfile::tempdir().unwrap();
    let (phone, mut phone_events) =
        online_client(&dir.path().join("phone.db"), &test_key(1), &relay.address).await;
    let (laptop, _laptop_events) =
        Client::open_joining(dir.path().join("laptop.db"), &test_key(2), relay.address.clone())
            .await
            .unwrap();
    laptop.register().await.unwrap();
    let laptop_key = laptop.address().identity();
    let laptop_mailbox = MailboxId::for_identity(&laptop_key.to_bytes());
    let impostor = hush_crypto::Account::new(in_an_hour() - 3600, &mut rand::rng());
    lies.swap(laptop_mailbox, &impostor);

    let code = laptop.link_code().await.unwrap().to_text();
    phone.link_device(&code, false).await.unwrap();
    collect_until(&mut phone_events, |event, _| {
        matches!(
            event,
            ClientEvent::Core(Event::LinkedDeviceKeyMismatch { device, served })
                if *device == laptop_key && *served == impostor.identity_key().to_bytes()
        )
    })
    .await;
    // The link itself needs no bundle: the laptop joins.
    laptop.join_account().await.unwrap();

    // Nothing was encrypted to the impostor's key: no message for its mailbox, and what the
    // laptop's mailbox got is the link message alone.
    let stored = lies.stored_for.lock().unwrap().clone();
    let impostor_mailbox = MailboxId::for_identity(&impostor.identity_key().to_bytes());
    assert!(stored.iter().all(|(mailbox, _)| *mailbox != impostor_mailbox));
    let for_laptop: Vec<&Vec<u8>> = stored
        .iter()
        .filter(|(mailbox, _)| *mailbox == laptop_mailbox)
        .map(|(_, envelope)| envelope)
        .collect();
    assert_eq!(for_laptop.len(), 1);
    assert_eq!(&for_laptop[0][..2], &[2, 0x08]);
    phone.shutdown().await.unwrap();
    laptop.shutdown().await.unwrap();
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_device_learns_it_was_removed_at_its_next_login() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let (phone, mut phone_events) = first_device(dir.path(), &relay.address).await;
    let laptop_path = dir.path().join("laptop.db");
    let (laptop, mut laptop_events, code) = joining(&laptop_path, &test_key(2), &relay.address).await;
    phone.link_device(&code, false).await.unwrap();
    laptop.join_account().await.unwrap();
    published(&mut laptop_events, 2).await;
    let laptop_key = laptop.address().identity();
    laptop.shutdown().await.unwrap();
    phone.remove_device(laptop_key).await.unwrap();
    published(&mut phone_events, 3).await;

    // On a relay with open registration its key registers an empty mailbox again; its client
    // compares lists at login, finds itself unlisted, and keeps nothing of the account's new list.
    let (laptop, mut laptop_events) =
        Client::open_existing(&laptop_path, &test_key(2), relay.address.clone())
            .await
            .unwrap();
    let received = collect_until(&mut laptop_events, |event, _| {
        matches!(
            event,
            ClientEvent::Core(Event::OwnListFailed(
                hush_client_core::OwnListError::RemovedFromAccount
            ))
        )
    })
    .await;
    assert!(received.is_empty(), "{received:?}");
    assert_eq!(laptop.device_list().await.unwrap().counter(), 2);
    laptop.shutdown().await.unwrap();
    phone.shutdown().await.unwrap();
    relay.stop().await;
}
