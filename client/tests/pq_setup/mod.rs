//! PQXDH between clients over a real relay (QUIC, the relay's store behind a wrapper that can
//! strip or reuse KEM prekeys): sessions set up hybrid by default, each one-time KEM prekey
//! served once, a bundle without a KEM prekey refused unless the app allows classical setup,
//! and a one-time KEM prekey served twice opening one session only. Bob accepts nobody first: an
//! accepted contact gets a session Bob starts, and the test is about the sessions they start.
//! Part of the `e2e` binary.

#[path = "../devices/substitute.rs"]
mod substitute;

use std::path::Path;

use hush_client::{
    Address, Client, ClientEvent, Content, DropReason, Event, Events, MessageStatus, OpenOptions,
    RelayAddress,
};
use hush_crypto::InboundError;
use hush_crypto::peer::PeerDecryptError;
use hush_proto::{KemPreKeyKind, MailboxId};

use crate::helpers::{PATIENCE, collect_until, online_client, spawn_relay_on, test_key};

fn mailbox(address: Address) -> MailboxId {
    address.mailbox()
}

/// Opens a registered client with `options`.
async fn client_with(path: &Path, key: u8, relay: &RelayAddress, options: OpenOptions) -> (Client, Events) {
    let (client, events) = Client::open_with_options(path, &test_key(key), relay.clone(), options)
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, client.register())
        .await
        .expect("registration timed out")
        .expect("registration failed");
    (client, events)
}

/// Waits for the `SessionSetUp` with `peer`: whether it was post-quantum, and whether we started it.
async fn session_set_up(events: &mut Events, peer: Address) -> (bool, bool) {
    let mut setup = None;
    collect_until(events, |event, _| {
        if let ClientEvent::Core(Event::SessionSetUp {
            peer: with,
            post_quantum,
            initiator,
        }) = event
            && *with == peer
        {
            setup = Some((*post_quantum, *initiator));
        }
        setup.is_some()
    })
    .await;
    setup.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_set_up_with_pqxdh_over_the_relay_and_each_one_time_kem_prekey_is_served_once() {
    let (store, lies) = substitute::Substituting::new();
    let relay = spawn_relay_on(store).await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut alice_events) =
        online_client(&dir.path().join("a.db"), &test_key(1), &relay.address).await;
    let (carol, _carol_events) = online_client(&dir.path().join("c.db"), &test_key(3), &relay.address).await;
    let (bob, mut bob_events) = online_client(&dir.path().join("b.db"), &test_key(2), &relay.address).await;
    alice
        .send(bob.address(), Content::text("from alice"))
        .await
        .unwrap();
    assert_eq!(
        session_set_up(&mut alice_events, bob.address()).await,
        (true, true)
    );
    assert_eq!(
        session_set_up(&mut bob_events, alice.address()).await,
        (true, false)
    );
    carol
        .send(bob.address(), Content::text("from carol"))
        .await
        .unwrap();
    assert_eq!(
        session_set_up(&mut bob_events, carol.address()).await,
        (true, false)
    );
    // Bob's directory served two different one-time KEM prekeys, one to each.
    let served: Vec<_> = lies
        .kem_served
        .lock()
        .unwrap()
        .iter()
        .filter(|(to, ..)| *to == mailbox(bob.address()))
        .map(|(_, kind, id)| (*kind, *id))
        .collect();
    assert_eq!(served.len(), 2, "{served:?}");
    assert!(served.iter().all(|(kind, _)| *kind == KemPreKeyKind::OneTime));
    assert_ne!(served[0].1, served[1].1, "a one-time KEM prekey was served twice");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classical_bundle_is_refused_by_default_and_accepted_where_both_sides_allow_it() {
    let (store, lies) = substitute::Substituting::new();
    let relay = spawn_relay_on(store).await;
    let dir = tempfile::tempdir().unwrap();
    let classical = OpenOptions::default().allow_classical_setup();
    let (bob, mut bob_events) =
        client_with(&dir.path().join("b.db"), 2, &relay.address, classical.clone()).await;
    let (alice, mut alice_events) =
        online_client(&dir.path().join("a.db"), &test_key(1), &relay.address).await;
    let (carol, mut carol_events) = client_with(&dir.path().join("c.db"), 3, &relay.address, classical).await;
    lies.strip_kem_prekeys(mailbox(bob.address()));

    // Alice requires PQXDH: refused, and after a few fetches her message fails.
    let id = alice.send(bob.address(), Content::text("refused")).await.unwrap();
    let mut refused = false;
    collect_until(&mut alice_events, |event, _| {
        refused |= matches!(event, ClientEvent::Core(Event::ClassicalSetupRefused { peer }) if *peer == bob.address());
        matches!(event, ClientEvent::Core(Event::StatusChanged { id: failed, status: MessageStatus::Failed, .. }) if *failed == id)
    })
    .await;
    assert!(refused);

    // Carol allows classical setup, and so does Bob: a classical session, and the message arrives.
    carol
        .send(bob.address(), Content::text("classical"))
        .await
        .unwrap();
    assert_eq!(
        session_set_up(&mut carol_events, bob.address()).await,
        (false, true)
    );
    assert_eq!(
        session_set_up(&mut bob_events, carol.address()).await,
        (false, false)
    );
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_kem_prekey_served_twice_opens_one_session_only() {
    let (store, lies) = substitute::Substituting::new();
    let relay = spawn_relay_on(store).await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, _alice_events) = online_client(&dir.path().join("a.db"), &test_key(1), &relay.address).await;
    let (carol, _carol_events) = online_client(&dir.path().join("c.db"), &test_key(3), &relay.address).await;
    let (bob, mut bob_events) = online_client(&dir.path().join("b.db"), &test_key(2), &relay.address).await;
    lies.reuse_kem_prekey(mailbox(bob.address()));
    alice.send(bob.address(), Content::text("first")).await.unwrap();
    assert_eq!(
        session_set_up(&mut bob_events, alice.address()).await,
        (true, false)
    );
    carol.send(bob.address(), Content::text("second")).await.unwrap();
    collect_until(&mut bob_events, |event, _| {
        matches!(
            event,
            ClientEvent::Core(Event::Dropped {
                reason: DropReason::Undecryptable(PeerDecryptError::Inbound(
                    InboundError::UnknownKemPreKey { .. }
                )),
                ..
            })
        )
    })
    .await;
    let served = lies.kem_served.lock().unwrap().clone();
    assert_eq!(served.len(), 2);
    assert_eq!(
        served[0], served[1],
        "the relay served the same one-time KEM prekey twice"
    );
    relay.stop().await;
}
