//! Strangers against a mailbox, over real QUIC on 127.0.0.1:0: many throwaway identities share one
//! stranger budget per target (bundle fetches, messages), a contact presenting the target's access
//! key is not charged to it, a rotated key stops working, and reports reach the relay.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use helpers::{TestRelay, mailbox, next_delivery, prekey_upload, refused, spawn_relay};
use hush_proto::{AccessKey, Addressed, Deliveries, Envelope, ErrorCode, MailboxId, Request, Response};
use hush_relay::client::{ClientError, RelayClient};
use hush_relay::store::Store;

async fn send(
    client: &mut RelayClient,
    to: MailboxId,
    access: Option<AccessKey>,
    bytes: &[u8],
) -> Result<Response, ClientError> {
    client
        .request(Request::Send {
            to,
            access,
            envelope: Envelope::new(bytes.to_vec()).unwrap(),
        })
        .await
}

async fn fetch(
    client: &mut RelayClient,
    target: MailboxId,
    access: Option<AccessKey>,
) -> Result<Response, ClientError> {
    client
        .request(Request::FetchBundle {
            mailbox: target,
            access,
        })
        .await
}

async fn set_key(client: &mut RelayClient, key: Option<AccessKey>) {
    assert_eq!(
        client.request(Request::SetAccessKey { key }).await.unwrap(),
        Response::AccessKeySet
    );
}

/// One counter from the relay's metrics endpoint.
async fn metric(relay: &TestRelay, name: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(relay.metrics_addr.unwrap())
        .await
        .unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    socket.read_to_string(&mut text).await.unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} is served"));
    line[name.len() + 1..].parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_throwaway_identities_cannot_drain_one_time_prekeys_past_the_shared_stranger_budget() {
    let relay = spawn_relay(|config| {
        config.limits.stranger_fetches_per_target = 5;
        config.limits.stranger_window_secs = 3600;
    })
    .await;
    let (mut owner, mut owner_client) = relay.user().await;
    owner_client.request(prekey_upload(&mut owner, 50)).await.unwrap();
    let key = AccessKey([0x5C; 32]);
    set_key(&mut owner_client, Some(key)).await;
    let target = mailbox(&owner);

    // Twenty throwaway identities, each well inside its own per-requester limit.
    let mut bundles = 0;
    let mut refusals = 0;
    for _ in 0..20 {
        let (_, mut stranger) = relay.user().await;
        match fetch(&mut stranger, target, None).await {
            Ok(Response::Bundle(bundle)) => {
                assert!(bundle.one_time_prekey.is_some());
                bundles += 1;
            }
            other => {
                assert_eq!(refused(other), ErrorCode::RateLimited);
                refusals += 1;
            }
        }
        stranger.close();
    }
    assert_eq!((bundles, refusals), (5, 15), "the strangers share one budget");
    assert_eq!(
        relay.handle.store().one_time_prekey_count(target).await.unwrap(),
        45
    );
    assert_eq!(metric(&relay, "hush_stranger_fetches_refused_total").await, 15);

    // A contact with the key is not charged to it, and still gets a one-time prekey.
    let (_, mut contact) = relay.user().await;
    for _ in 0..3 {
        let Response::Bundle(bundle) = fetch(&mut contact, target, Some(key)).await.unwrap() else {
            panic!("a bundle");
        };
        assert!(bundle.one_time_prekey.is_some());
    }
    // A wrong key is refused outright and claims nothing.
    assert_eq!(
        refused(fetch(&mut contact, target, Some(AccessKey([1; 32]))).await),
        ErrorCode::AccessDenied
    );
    assert_eq!(
        relay.handle.store().one_time_prekey_count(target).await.unwrap(),
        42
    );

    // The next window brings the strangers' budget back.
    relay.clock.advance(3600);
    let (_, mut stranger) = relay.user().await;
    assert!(matches!(
        fetch(&mut stranger, target, None).await.unwrap(),
        Response::Bundle(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_sends_past_the_budget_are_refused_while_a_contact_with_the_key_gets_through() {
    let relay = spawn_relay(|config| {
        config.limits.stranger_messages_per_mailbox = 3;
        config.limits.stranger_bytes_per_mailbox = 1000;
        config.limits.mailbox_max_messages = 10;
    })
    .await;
    let (owner, mut owner_client) = relay.user().await;
    let key = AccessKey([0x7E; 32]);
    set_key(&mut owner_client, Some(key)).await;
    owner_client.close();
    let target = mailbox(&owner);

    let mut stored = 0;
    for n in 0..6u8 {
        let (_, mut stranger) = relay.user().await;
        match send(&mut stranger, target, None, &[n; 10]).await {
            Ok(Response::Stored) => stored += 1,
            other => assert_eq!(refused(other), ErrorCode::RateLimited),
        }
    }
    assert_eq!(stored, 3, "the strangers share one budget");
    // `SendMany` with one stranger recipient past its budget stores nothing for anyone.
    let (other, other_client) = relay.user().await;
    drop(other_client);
    let deliveries = Deliveries::new(vec![
        Addressed {
            to: mailbox(&other),
            access: None,
            envelope: Envelope::new(b"a".to_vec()).unwrap(),
        },
        Addressed {
            to: target,
            access: None,
            envelope: Envelope::new(b"b".to_vec()).unwrap(),
        },
    ])
    .unwrap();
    let (_, mut sender) = relay.user().await;
    assert_eq!(
        refused(sender.request(Request::SendMany { deliveries }).await),
        ErrorCode::RateLimited
    );
    assert!(
        relay
            .handle
            .store()
            .fetch(mailbox(&other), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A stranger's large message is refused by the byte budget as well.
    relay.clock.advance(24 * 60 * 60);
    let (_, mut stranger) = relay.user().await;
    assert_eq!(
        refused(send(&mut stranger, target, None, &[9; 1001]).await),
        ErrorCode::RateLimited
    );
    // The refused sends took nothing of the quota: a contact fills the other seven places.
    let (_, mut contact) = relay.user().await;
    for n in 0..7u8 {
        assert_eq!(
            send(&mut contact, target, Some(key), &[0xC0 | n; 10])
                .await
                .unwrap(),
            Response::Stored
        );
    }
    assert_eq!(
        refused(send(&mut contact, target, Some(key), b"full").await),
        ErrorCode::QuotaExceeded
    );
    let held = relay.handle.store().fetch(target, 0, 100).await.unwrap();
    assert_eq!(held.len(), 10);
    assert_eq!(metric(&relay, "hush_stranger_sends_refused_total").await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_access_key_is_refused_and_the_new_one_works() {
    let relay = spawn_relay(|config| config.limits.stranger_messages_per_mailbox = 0).await;
    let (owner, mut owner_client) = relay.user().await;
    let target = mailbox(&owner);
    let (old, new) = (AccessKey([1; 32]), AccessKey([2; 32]));
    let (_, mut contact) = relay.user().await;
    // No key set: any key is wrong; no key at all is a stranger's, and strangers get nothing here.
    assert_eq!(
        refused(send(&mut contact, target, Some(old), b"x").await),
        ErrorCode::AccessDenied
    );
    assert_eq!(
        refused(send(&mut contact, target, None, b"x").await),
        ErrorCode::RateLimited
    );
    set_key(&mut owner_client, Some(old)).await;
    assert_eq!(
        send(&mut contact, target, Some(old), b"1").await.unwrap(),
        Response::Stored
    );
    assert_eq!(next_delivery(&mut owner_client).await.envelope.as_bytes(), b"1");
    set_key(&mut owner_client, Some(new)).await;
    assert_eq!(
        refused(send(&mut contact, target, Some(old), b"2").await),
        ErrorCode::AccessDenied
    );
    assert_eq!(
        send(&mut contact, target, Some(new), b"3").await.unwrap(),
        Response::Stored
    );
    assert_eq!(next_delivery(&mut owner_client).await.envelope.as_bytes(), b"3");
    // The relay keeps the verifier, never the key.
    assert_eq!(
        relay.handle.store().access_verifier(target).await.unwrap(),
        Some(new.verifier())
    );
    assert!(!helpers::contains(&helpers::all_bytes(&relay.data_dir), &new.0));
    assert_eq!(metric(&relay, "hush_access_denied_total").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_reaches_the_relay() {
    let relay = spawn_relay(|_| {}).await;
    let (owner, mut owner_client) = relay.user().await;
    let (abuser, _abuser_client) = relay.user().await;
    assert_eq!(
        owner_client
            .request(Request::Report {
                mailbox: mailbox(&abuser)
            })
            .await
            .unwrap(),
        Response::Reported
    );
    assert_eq!(
        refused(
            owner_client
                .request(Request::Report {
                    mailbox: mailbox(&owner)
                })
                .await
        ),
        ErrorCode::Invalid
    );
    assert_eq!(metric(&relay, "hush_reports_total").await, 1);
    // Reporting needs a login.
    let mut anonymous = relay.connect().await;
    assert_eq!(
        refused(
            anonymous
                .request(Request::Report {
                    mailbox: mailbox(&abuser)
                })
                .await
        ),
        ErrorCode::Unauthorized
    );
}
