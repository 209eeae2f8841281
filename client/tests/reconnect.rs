//! `Client::reconnect` replaces the connection, and messages sent before, during and after it
//! all arrive exactly once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use hush_client::{ClientEvent, ConnectionState, Content, Events, StoredMessage};

use helpers::*;

/// Takes events until the client is online again, keeping the messages received meanwhile.
async fn until_online_again(events: &mut Events, received: &mut Vec<StoredMessage>) {
    let mut went_offline = false;
    received.extend(
        collect_until(events, |event, _| {
            if let ClientEvent::Connection(ConnectionState::Offline { .. }) = event {
                went_offline = true;
            }
            went_offline && matches!(event, ClientEvent::Connection(ConnectionState::Online))
        })
        .await,
    );
}

/// Waits for the message `last`, asserting every message up to it continues `expected` (so a
/// copy arriving late, before `last`, fails the test).
async fn receive_through(events: &mut Events, received: &mut Vec<StoredMessage>, expected: &[String]) {
    let last = expected.last().unwrap().clone();
    let have = received.len();
    received.extend(
        collect_until(events, |_, got| {
            texts(got).last() == Some(&last) || have + got.len() >= expected.len()
        })
        .await,
    );
    assert_same_sequence(&texts(received), expected, "received");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_replaces_the_connection_and_every_message_arrives_once() {
    const PER_PHASE: usize = 40;
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut alice_events) =
        online_client(&dir.path().join("a.db"), &test_key(1), &relay.address).await;
    let (bob, mut bob_events) = online_client(&dir.path().join("b.db"), &test_key(2), &relay.address).await;
    let mut expected_by_bob = Vec::new();
    let mut expected_by_alice = Vec::new();
    let mut bob_received = Vec::new();
    let mut alice_received = Vec::new();
    let mut n = 0;
    let mut exchange =
        async |count: usize, expected_by_bob: &mut Vec<String>, expected_by_alice: &mut Vec<String>| {
            for _ in 0..count {
                alice
                    .send(bob.address(), Content::text(format!("a{n}")))
                    .await
                    .unwrap();
                bob.send(alice.address(), Content::text(format!("b{n}")))
                    .await
                    .unwrap();
                expected_by_bob.push(format!("a{n}"));
                expected_by_alice.push(format!("b{n}"));
                n += 1;
            }
        };

    // Before: delivered on the first connection.
    exchange(PER_PHASE, &mut expected_by_bob, &mut expected_by_alice).await;
    receive_through(&mut bob_events, &mut bob_received, &expected_by_bob).await;
    receive_through(&mut alice_events, &mut alice_received, &expected_by_alice).await;

    // During: both reconnect while their last sends are still in flight, then send more.
    exchange(PER_PHASE, &mut expected_by_bob, &mut expected_by_alice).await;
    alice.reconnect().await.unwrap();
    bob.reconnect().await.unwrap();
    exchange(PER_PHASE, &mut expected_by_bob, &mut expected_by_alice).await;
    until_online_again(&mut alice_events, &mut alice_received).await;
    until_online_again(&mut bob_events, &mut bob_received).await;

    // After: on the new connections, with a last marker each, so nothing waits behind it.
    exchange(PER_PHASE, &mut expected_by_bob, &mut expected_by_alice).await;
    alice.send(bob.address(), Content::text("end")).await.unwrap();
    bob.send(alice.address(), Content::text("end")).await.unwrap();
    expected_by_bob.push("end".into());
    expected_by_alice.push("end".into());
    receive_through(&mut bob_events, &mut bob_received, &expected_by_bob).await;
    receive_through(&mut alice_events, &mut alice_received, &expected_by_alice).await;

    // The histories hold each message once.
    let history = bob.history(alice.address(), None, 1000).await.unwrap();
    assert_eq!(history.len(), 2 * expected_by_bob.len());
    relay.stop().await;
}
