//! The app-facing API beyond message flow: contacts and identity changes, safety numbers,
//! history paging, and the errors an app must be able to tell apart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::sync::Arc;

use hush_client::{
    Client, ClientError, ClientEvent, ContactUpdate, Content, KeepVerified, NetError, RelayAddress,
};

use helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_contact_identity_is_reported_and_the_policy_decides() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = Client::open_with_policy(
        dir.path().join("a.db"),
        &test_key(1),
        relay.address.clone(),
        Arc::new(KeepVerified),
    )
    .await
    .unwrap();
    let mut rng = rand::rng();
    let address =
        |account: &hush_crypto::Account| hush_client::Address::from_identity(&account.identity_key());
    let bob_1 = address(&hush_crypto::Account::new(0, &mut rng));
    let bob_2 = address(&hush_crypto::Account::new(0, &mut rng));
    let bob_3 = address(&hush_crypto::Account::new(0, &mut rng));

    assert_eq!(
        alice.add_contact("bob", bob_1).await.unwrap(),
        ContactUpdate::Added
    );
    assert_eq!(
        alice.add_contact("bob", bob_1).await.unwrap(),
        ContactUpdate::Unchanged
    );
    // Unverified: trust on first use accepts the change and says so.
    assert_eq!(
        alice.add_contact("bob", bob_2).await.unwrap(),
        ContactUpdate::Changed
    );
    let mut accepted_change = None;
    let changed = collect_until(&mut events, |event, _| {
        if let ClientEvent::ContactIdentityChanged { .. } = event {
            accepted_change = Some(event.clone());
            return true;
        }
        false
    })
    .await;
    assert!(changed.is_empty());
    assert_eq!(
        accepted_change,
        Some(ClientEvent::ContactIdentityChanged {
            name: "bob".to_owned(),
            old: bob_1,
            new: bob_2,
            accepted: true,
        })
    );
    // The new address is a new safety number to compare.
    assert_ne!(
        alice.safety_number(&bob_1).digits(),
        alice.safety_number(&bob_2).digits()
    );
    assert_eq!(alice.contact("bob").await.unwrap().address, bob_2);
    // Verified: this policy refuses, the old address stays, and the app hears about it.
    alice.verify_contact("bob").await.unwrap();
    let error = alice.add_contact("bob", bob_3).await.unwrap_err();
    assert!(
        matches!(error, ClientError::IdentityChangeRejected { ref name } if name == "bob"),
        "{error:?}"
    );
    let mut refused = None;
    collect_until(&mut events, |event, _| {
        if let ClientEvent::ContactIdentityChanged { .. } = event {
            refused = Some(event.clone());
            return true;
        }
        false
    })
    .await;
    assert_eq!(
        refused,
        Some(ClientEvent::ContactIdentityChanged {
            name: "bob".to_owned(),
            old: bob_2,
            new: bob_3,
            accepted: false,
        })
    );
    let contact = alice.contact("bob").await.unwrap();
    assert_eq!((contact.address, contact.verified), (bob_2, true));
    assert!(matches!(
        alice.contact("nobody").await,
        Err(ClientError::UnknownContact(_))
    ));
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safety_numbers_match_on_both_sides_and_history_pages_back() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, _alice_events) = online_client(&dir.path().join("a.db"), &test_key(1), &relay.address).await;
    let (bob, mut bob_events) = online_client(&dir.path().join("b.db"), &test_key(2), &relay.address).await;
    assert_eq!(
        alice.safety_number(&bob.address()).digits(),
        bob.safety_number(&alice.address()).digits()
    );
    assert_ne!(
        alice.safety_number(&bob.address()).digits(),
        alice.safety_number(&alice.address()).digits()
    );
    bob.accept(alice.address()).await.unwrap();
    for n in 0..25 {
        alice
            .send(bob.address(), Content::text(format!("p{n}")))
            .await
            .unwrap();
    }
    collect_until(&mut bob_events, |_, received| received.len() == 25).await;
    // Pages of 10, newest page first, each oldest first.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = bob.history(alice.address(), before, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        before = Some(page[0].position);
        pages.push(texts(
            &page.iter().map(|entry| entry.message.clone()).collect::<Vec<_>>(),
        ));
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    let all: Vec<String> = pages.into_iter().rev().flatten().collect();
    let expected: Vec<String> = (0..25).map(|n| format!("p{n}")).collect();
    assert_eq!(all, expected);
    assert_eq!(bob.conversations().await.unwrap(), [alice.address()]);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_an_app_can_tell_apart() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    // An unreachable relay: register reports it, sending still queues durably.
    let (client, _events) = Client::open(dir.path().join("a.db"), &test_key(1), relay.unreachable())
        .await
        .unwrap();
    let error = client.register().await.unwrap_err();
    assert!(
        matches!(error, ClientError::Relay(NetError::Unreachable { .. })),
        "{error:?}"
    );
    let me = client.address();
    assert!(matches!(
        client.send(me, Content::text("self")).await,
        Err(ClientError::SendToSelf)
    ));
    let too_long = Content::text("x".repeat(hush_client_core::MAX_TEXT_LEN + 1));
    let other =
        hush_client::Address::from_identity(&hush_crypto::Account::new(0, &mut rand::rng()).identity_key());
    assert!(matches!(
        client.send(other, too_long).await,
        Err(ClientError::InvalidContent(_))
    ));
    client
        .send(other, Content::text("queued while offline"))
        .await
        .unwrap();
    client.shutdown().await.unwrap();
    // A relay with the wrong certificate fingerprint is refused like an unreachable one.
    let wrong_pin = RelayAddress {
        fingerprint: [0; 32],
        ..relay.address.clone()
    };
    let (client, _events) = Client::open(dir.path().join("a.db"), &test_key(1), wrong_pin)
        .await
        .unwrap();
    let refused = client.register().await;
    assert!(matches!(refused, Err(ClientError::Relay(_))));
    // ... and says which certificate it met instead of a TLS alert (the relay's real one).
    match refused {
        Err(ClientError::Relay(NetError::CertificateMismatch {
            pinned, presented, ..
        })) => {
            assert_eq!(pinned, [0; 32]);
            assert_eq!(presented, relay.address.fingerprint);
        }
        other => panic!("expected a certificate mismatch, got {other:?}"),
    }
    client.shutdown().await.unwrap();
    // The profile is in use: a second open fails with a typed error.
    let (first, _events) = Client::open(dir.path().join("a.db"), &test_key(1), relay.address.clone())
        .await
        .unwrap();
    let second = Client::open(dir.path().join("a.db"), &test_key(1), relay.address.clone()).await;
    assert!(
        matches!(second, Err(ClientError::Store(hush_client::StoreError::Locked))),
        "{second:?}"
    );
    // Addresses that are not addresses.
    assert!(matches!(
        "hush:00"
            .parse::<hush_client::Address>()
            .map_err(ClientError::from),
        Err(ClientError::InvalidAddress(_))
    ));
    first.shutdown().await.unwrap();
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_s_first_message_is_a_request_until_accepted_and_a_block_drops_the_rest() {
    use hush_client::Event;
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut alice_events) =
        online_client(&dir.path().join("a.db"), &test_key(1), &relay.address).await;
    let (bob, mut bob_events) = online_client(&dir.path().join("b.db"), &test_key(2), &relay.address).await;
    alice.send(bob.address(), Content::text("hello?")).await.unwrap();
    let before_accept = collect_until(&mut bob_events, |event, _| {
        matches!(event, ClientEvent::Core(Event::MessageRequest { from }) if *from == alice.address())
    })
    .await;
    assert!(before_accept.is_empty(), "nothing delivered before accept");
    assert_eq!(bob.requests().await.unwrap(), vec![alice.address()]);
    assert!(bob.history(alice.address(), None, 10).await.unwrap().is_empty());

    bob.accept(alice.address()).await.unwrap();
    let received = collect_until(&mut bob_events, |_, received| !received.is_empty()).await;
    assert_eq!(texts(&received), ["hello?"]);
    assert!(bob.requests().await.unwrap().is_empty());

    bob.block(alice.address()).await.unwrap();
    // Stored by the relay (after Alice's stale key is refused, as a stranger's), then dropped
    // unread by Bob: a message Carol sends after them bounds the wait.
    let blocked = alice.send(bob.address(), Content::text("blocked")).await.unwrap();
    collect_until(&mut alice_events, |event, _| {
        matches!(event, ClientEvent::Core(Event::StatusChanged { id, status: hush_client::MessageStatus::Sent, .. }) if *id == blocked)
    })
    .await;
    let (carol, _carol_events) = online_client(&dir.path().join("c.db"), &test_key(3), &relay.address).await;
    bob.accept(carol.address()).await.unwrap();
    carol
        .send(bob.address(), Content::text("from carol"))
        .await
        .unwrap();
    let late = collect_until(&mut bob_events, |_, received| {
        received.iter().any(|message| message.peer == carol.address())
    })
    .await;
    assert_eq!(texts(&late), ["from carol"]);
    let history = bob.history(alice.address(), None, 10).await.unwrap();
    assert_eq!(history.len(), 1, "only the accepted message");
}
