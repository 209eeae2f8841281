//! Device lists at the relay (PROTOCOL.md "Device lists"), over QUIC against the real relay:
//! what a publish must carry to be stored, which list stays, and what a fetch serves.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use helpers::{T0, metric, refused, spawn_relay};
use hush_crypto::Account;
use hush_crypto::devices::{AccountKey, AccountSigningKey, DeviceEntry, DeviceList};
use hush_proto::{
    AccountId, DeviceListBytes, ErrorCode, MailboxId, Membership, Request, Response, Signature,
};
use hush_relay::client::{ClientError, RelayClient};

fn account_id(key: &AccountKey) -> AccountId {
    AccountId(*key.as_bytes())
}

/// `device` publishing `list` with its membership signature for `signed_for`.
fn publish_as(device: &Account, list: &DeviceList, signed_for: &AccountKey) -> Request {
    publish_bytes(list.to_bytes(), Signature(device.sign_membership(signed_for)))
}

fn publish_bytes(list: Vec<u8>, membership: Signature) -> Request {
    Request::PublishDeviceList {
        list: DeviceListBytes::new(list).unwrap(),
        membership,
    }
}

/// `device` publishing `list` with its membership for the list's own account key.
fn publish(device: &Account, list: &DeviceList) -> Request {
    publish_as(device, list, list.account_key())
}

fn membership(device: &Account, account: &AccountKey) -> Membership {
    Membership {
        identity_key: device.identity_key().to_bytes(),
        signature: Signature(device.sign_membership(account)),
    }
}

async fn fetch(
    client: &mut RelayClient,
    account: &AccountKey,
) -> Result<(Vec<u8>, Vec<Membership>), ClientError> {
    match client
        .request(Request::FetchDeviceList {
            account: account_id(account),
        })
        .await?
    {
        Response::DeviceList { list, memberships } => Ok((list.as_bytes().to_vec(), memberships.into_vec())),
        other => panic!("expected a device list, got {other:?}"),
    }
}

/// The code a fetch of `account`'s list is refused with.
async fn fetch_refused(client: &mut RelayClient, account: &AccountKey) -> ErrorCode {
    refused(
        client
            .request(Request::FetchDeviceList {
                account: account_id(account),
            })
            .await,
    )
}

/// The memberships of `devices`, in the order the relay serves them (by identity key).
fn memberships_of(devices: &[&Account], account: &AccountKey) -> Vec<Membership> {
    let mut memberships: Vec<Membership> = devices.iter().map(|device| membership(device, account)).collect();
    memberships.sort_by_key(|membership| membership.identity_key);
    memberships
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_list_is_served_with_its_membership_and_verifies_at_the_fetcher() {
    let relay = spawn_relay(|_| {}).await;
    let (phone, mut phone_client) = relay.user().await;
    let account = AccountSigningKey::generate(&mut rand::rng());
    let list = account.first_device_list(DeviceEntry::new(phone.identity_key(), T0));
    assert_eq!(
        phone_client.request(publish(&phone, &list)).await.unwrap(),
        Response::DeviceListStored
    );
    let (_, mut contact) = relay.user().await;
    let (bytes, memberships) = fetch(&mut contact, &account.public()).await.unwrap();
    assert_eq!(bytes, list.to_bytes());
    assert_eq!(memberships, memberships_of(&[&phone], &account.public()));
    // What a contact does with it (SPEC.md §16.2, §16.3).
    let served = DeviceList::verify_for_account(&bytes, &account.public()).unwrap();
    let device = hush_crypto::IdentityKey::from_bytes(&memberships[0].identity_key).unwrap();
    assert!(served.device(&device).is_some());
    account
        .public()
        .verify_membership(&device, &memberships[0].signature.0)
        .unwrap();
    assert_eq!(metric(&relay, "hush_device_lists_stored_total").await, 1);
    assert_eq!(metric(&relay, "hush_device_lists_served_total").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_or_replayed_list_is_refused_stale_and_changes_nothing() {
    let relay = spawn_relay(|_| {}).await;
    let (phone, mut phone_client) = relay.user().await;
    let laptop = Account::new(T0, &mut rand::rng());
    let tablet = Account::new(T0, &mut rand::rng());
    let account = AccountSigningKey::generate(&mut rand::rng());
    let first = account.first_device_list(DeviceEntry::new(phone.identity_key(), T0));
    let second = account
        .add_device(&first, DeviceEntry::new(laptop.identity_key(), T0))
        .unwrap();
    // Another list with the second's counter: two holders of the account key raced.
    let rival = account
        .add_device(&first, DeviceEntry::new(tablet.identity_key(), T0))
        .unwrap();
    assert_eq!(rival.counter(), second.counter());
    phone_client.request(publish(&phone, &first)).await.unwrap();
    phone_client.request(publish(&phone, &second)).await.unwrap();
    for stale in [&first, &rival] {
        assert_eq!(
            refused(phone_client.request(publish(&phone, stale)).await),
            ErrorCode::StaleDeviceList
        );
    }
    let (bytes, memberships) = fetch(&mut phone_client, &account.public()).await.unwrap();
    assert_eq!(bytes, second.to_bytes());
    assert_eq!(memberships, memberships_of(&[&phone], &account.public()));
    assert_eq!(metric(&relay, "hush_device_lists_stale_total").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_does_not_name_the_publisher_is_refused() {
    let relay = spawn_relay(|_| {}).await;
    let phone = Account::new(T0, &mut rand::rng());
    let (outsider, mut outsider_client) = relay.user().await;
    let account = AccountSigningKey::generate(&mut rand::rng());
    let list = account.first_device_list(DeviceEntry::new(phone.identity_key(), T0));
    // A valid list and a valid membership signature, but by a device the list does not name.
    assert_eq!(
        refused(outsider_client.request(publish(&outsider, &list)).await),
        ErrorCode::Invalid
    );
    assert_eq!(
        fetch_refused(&mut outsider_client, &account.public()).await,
        ErrorCode::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_membership_signature_is_refused() {
    let relay = spawn_relay(|_| {}).await;
    let (phone, mut phone_client) = relay.user().await;
    let laptop = Account::new(T0, &mut rand::rng());
    let account = AccountSigningKey::generate(&mut rand::rng());
    let other = AccountSigningKey::generate(&mut rand::rng());
    let list = account.first_device_list(DeviceEntry::new(phone.identity_key(), T0));
    for membership in [
        // The publisher's consent to another account.
        Signature(phone.sign_membership(&other.public())),
        // Another device's consent to this one.
        Signature(laptop.sign_membership(&account.public())),
        Signature([0; 64]),
    ] {
        assert_eq!(
            refused(
                phone_client
                    .request(publish_bytes(list.to_bytes(), membership))
                    .await
            ),
            ErrorCode::Invalid
        );
    }
    assert_eq!(
        fetch_refused(&mut phone_client, &account.public()).await,
        ErrorCode::NotFound
    );
}

/// The account id a list is stored under is the account key in the list, and the list must be
/// signed by that key: a list that names Alice's account key but is signed by Mallory's does
/// not verify, so without Alice's key nobody writes Alice's entry, even from a device it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_for_one_account_key_signed_by_another_is_refused() {
    let relay = spawn_relay(|_| {}).await;
    let (phone, mut phone_client) = relay.user().await;
    let alice = AccountSigningKey::generate(&mut rand::rng());
    let mallory = AccountSigningKey::generate(&mut rand::rng());
    let genuine = alice.first_device_list(DeviceEntry::new(phone.identity_key(), T0));
    phone_client.request(publish(&phone, &genuine)).await.unwrap();
    // Mallory signs a list with a higher counter and swaps Alice's key in.
    let by_mallory = mallory
        .sign_device_list(9, vec![DeviceEntry::new(phone.identity_key(), T0)])
        .unwrap();
    let mut forged = by_mallory.to_bytes();
    forged[2..34].copy_from_slice(alice.public().as_bytes());
    let membership = Signature(phone.sign_membership(&alice.public()));
    assert_eq!(
        refused(phone_client.request(publish_bytes(forged, membership)).await),
        ErrorCode::Invalid
    );
    let (bytes, _) = fetch(&mut phone_client, &alice.public()).await.unwrap();
    assert_eq!(bytes, genuine.to_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishes_keep_the_highest_counter() {
    let relay = spawn_relay(|_| {}).await;
    let mut devices = Vec::new();
    for _ in 0..hush_proto::MAX_DEVICES {
        devices.push(relay.user().await);
    }
    let account = AccountSigningKey::generate(&mut rand::rng());
    let entries: Vec<DeviceEntry> = devices
        .iter()
        .map(|(device, _)| DeviceEntry::new(device.identity_key(), T0))
        .collect();
    const PER_DEVICE: u64 = 4;
    let highest = PER_DEVICE * devices.len() as u64;
    // Device i publishes the counters `i + 1 + 6k`, highest first, all at once.
    let tasks: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(i, (device, mut client))| {
            let lists: Vec<DeviceList> = (0..PER_DEVICE)
                .rev()
                .map(|k| {
                    let counter = i as u64 + 1 + k * hush_proto::MAX_DEVICES as u64;
                    account.sign_device_list(counter, entries.clone()).unwrap()
                })
                .collect();
            tokio::spawn(async move {
                for list in &lists {
                    client.write_request(publish(&device, list)).await.unwrap();
                }
                for _ in &lists {
                    match client.next_response().await {
                        Ok((_, Response::DeviceListStored)) => {}
                        Err(ClientError::Refused(error)) if error.code == ErrorCode::StaleDeviceList => {}
                        other => panic!("unexpected answer {other:?}"),
                    }
                }
                (device, client)
            })
        })
        .collect();
    let mut devices = Vec::new();
    for task in tasks {
        devices.push(task.await.unwrap());
    }
    let (bytes, memberships) = fetch(&mut devices[0].1, &account.public()).await.unwrap();
    let served = DeviceList::verify_for_account(&bytes, &account.public()).unwrap();
    assert_eq!(served.counter(), highest);
    // The device that published the highest counter has its membership served.
    let winner = &devices[(highest as usize - 1) % hush_proto::MAX_DEVICES].0;
    assert!(memberships.contains(&membership(winner, &account.public())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_list_drops_the_removed_devices_membership_and_mailbox() {
    let relay = spawn_relay(|_| {}).await;
    let (phone, mut phone_client) = relay.user().await;
    let (laptop, mut laptop_client) = relay.user().await;
    let account = AccountSigningKey::generate(&mut rand::rng());
    let first = account.first_device_list(DeviceEntry::new(phone.identity_key(), T0));
    let both = account
        .add_device(&first, DeviceEntry::new(laptop.identity_key(), T0))
        .unwrap();
    phone_client.request(publish(&phone, &both)).await.unwrap();
    // The laptop publishes the same list: its membership joins the phone's.
    assert_eq!(
        laptop_client.request(publish(&laptop, &both)).await.unwrap(),
        Response::DeviceListStored
    );
    let (_, memberships) = fetch(&mut phone_client, &account.public()).await.unwrap();
    assert_eq!(memberships, memberships_of(&[&phone, &laptop], &account.public()));

    let without_laptop = account.remove_device(&both, &laptop.identity_key()).unwrap();
    phone_client
        .request(publish(&phone, &without_laptop))
        .await
        .unwrap();
    let (bytes, memberships) = fetch(&mut phone_client, &account.public()).await.unwrap();
    assert_eq!(bytes, without_laptop.to_bytes());
    assert_eq!(memberships, memberships_of(&[&phone], &account.public()));
    // The laptop had consented (its membership), so the account removed its mailbox: its
    // connection can do nothing more, not even publish the old list back.
    assert_eq!(
        refused(laptop_client.request(publish(&laptop, &both)).await),
        ErrorCode::Unauthorized
    );
    assert_eq!(
        refused(
            phone_client
                .request(Request::FetchBundle {
                    mailbox: MailboxId::for_identity(&laptop.identity_key().to_bytes()),
                    access: None,
                })
                .await
        ),
        ErrorCode::NotFound,
        "its bundle is gone with it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlisting_a_device_that_never_consented_leaves_its_mailbox() {
    let relay = spawn_relay(|_| {}).await;
    let (phone, mut phone_client) = relay.user().await;
    let (stranger, mut stranger_client) = relay.user().await;
    let account = AccountSigningKey::generate(&mut rand::rng());
    let first = account.first_device_list(DeviceEntry::new(phone.identity_key(), T0));
    let listed = account
        .add_device(&first, DeviceEntry::new(stranger.identity_key(), T0))
        .unwrap();
    phone_client.request(publish(&phone, &listed)).await.unwrap();
    let unlisted = account.remove_device(&listed, &stranger.identity_key()).unwrap();
    phone_client.request(publish(&phone, &unlisted)).await.unwrap();
    // The stranger's mailbox is untouched: it can still fetch (it is logged in and exists).
    assert_eq!(
        fetch(&mut stranger_client, &account.public()).await.unwrap().0,
        unlisted.to_bytes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetching_an_account_with_no_list_is_not_found() {
    let relay = spawn_relay(|_| {}).await;
    let (_, mut client) = relay.user().await;
    let account = AccountSigningKey::generate(&mut rand::rng());
    assert_eq!(
        fetch_refused(&mut client, &account.public()).await,
        ErrorCode::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_list_requests_need_a_login() {
    let relay = spawn_relay(|_| {}).await;
    let phone = Account::new(T0, &mut rand::rng());
    let account = AccountSigningKey::generate(&mut rand::rng());
    let mut anonymous = relay.connect().await;
    assert_eq!(
        fetch_refused(&mut anonymous, &account.public()).await,
        ErrorCode::Unauthorized
    );
    // A publish small enough for the pre-login frame limit (a real list is not: see limits.rs).
    let tiny = publish_bytes(vec![2, 6, 0], Signature(phone.sign_membership(&account.public())));
    assert_eq!(refused(anonymous.request(tiny).await), ErrorCode::Unauthorized);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_list_requests_beyond_the_per_requester_limit_are_refused() {
    let relay = spawn_relay(|config| config.limits.bundle_fetches_per_minute = 3).await;
    let (phone, mut phone_client) = relay.user().await;
    let account = AccountSigningKey::generate(&mut rand::rng());
    let list = account.first_device_list(DeviceEntry::new(phone.identity_key(), T0));
    phone_client.request(publish(&phone, &list)).await.unwrap();
    let (_, mut scraper) = relay.user().await;
    for _ in 0..3 {
        fetch(&mut scraper, &account.public()).await.unwrap();
    }
    assert_eq!(
        fetch_refused(&mut scraper, &account.public()).await,
        ErrorCode::RateLimited
    );
    // The publisher's own budget is its own: one publish spent, fetches left.
    fetch(&mut phone_client, &account.public()).await.unwrap();
}
