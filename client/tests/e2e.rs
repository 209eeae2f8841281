//! The client against a real relay over QUIC: exchange, receipts, offline queues, plaintext
//! never on disk.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;
// PQXDH over the relay, in this binary to save CI a link.
mod pq_setup;

use hush_client::{Client, ClientError, ClientEvent, Content, Direction, Event, MessageStatus, StoreError};

use helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_message_sets_up_the_session_and_receipts_come_back() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut alice_events) =
        online_client(&dir.path().join("a.db"), &test_key(1), &relay.address).await;
    let (bob, mut bob_events) = online_client(&dir.path().join("b.db"), &test_key(2), &relay.address).await;

    bob.accept(alice.address()).await.unwrap();
    let id = alice
        .send(bob.address(), Content::text("hello Bob"))
        .await
        .unwrap();
    let received = collect_until(&mut bob_events, |_, received| !received.is_empty()).await;
    assert_eq!(texts(&received), ["hello Bob"]);
    assert_eq!(received[0].id, id);
    assert_eq!(received[0].peer, alice.address());

    // Sent, then delivered (Bob's device stored it), then read once Bob marks it.
    let mut statuses = Vec::new();
    collect_until(&mut alice_events, |event, _| {
        if let ClientEvent::Core(Event::StatusChanged {
            id: changed, status, ..
        }) = event
            && *changed == id
        {
            statuses.push(*status);
        }
        statuses.contains(&MessageStatus::Delivered)
    })
    .await;
    assert_eq!(statuses, [MessageStatus::Sent, MessageStatus::Delivered]);
    assert_eq!(bob.mark_read(alice.address()).await.unwrap(), 1);
    collect_until(&mut alice_events, |event, _| {
        matches!(event, ClientEvent::Core(Event::StatusChanged { status: MessageStatus::Read, id: changed, .. }) if *changed == id)
    })
    .await;
    let history = alice.history(bob.address(), None, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].message.status, MessageStatus::Read);
    assert_eq!(history[0].message.direction, Direction::Outgoing);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_each_way_while_one_side_is_offline_half_the_time() {
    const ROUNDS: usize = 10;
    const PER_ROUND: usize = 100;
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let bob_path = dir.path().join("b.db");
    let (alice, mut alice_events) =
        online_client(&dir.path().join("a.db"), &test_key(1), &relay.address).await;
    let (bob, _) = online_client(&bob_path, &test_key(2), &relay.address).await;
    let bob_address = bob.address();
    bob.shutdown().await.unwrap();

    let mut bob_received = Vec::new();
    for round in 0..ROUNDS {
        let online = round % 2 == 0;
        let relay_address = if online {
            relay.address.clone()
        } else {
            relay.unreachable()
        };
        let (bob, mut bob_events) = Client::open(&bob_path, &test_key(2), relay_address)
            .await
            .unwrap();
        for i in 0..PER_ROUND {
            let n = round * PER_ROUND + i;
            alice
                .send(bob_address, Content::text(format!("a{n}")))
                .await
                .unwrap();
            bob.send(alice.address(), Content::text(format!("b{n}")))
                .await
                .unwrap();
        }
        if online {
            // Everything Alice sent so far (including while Bob was away) reaches Bob.
            let expected = (round + 1) * PER_ROUND;
            let have = bob_received.len();
            let got = collect_until(&mut bob_events, |_, received| have + received.len() >= expected).await;
            bob_received.extend(got);
        } else {
            while let Some(event) = bob_events.try_next() {
                if let ClientEvent::Core(Event::MessageReceived(message)) = event {
                    bob_received.push(message);
                }
            }
        }
        bob.shutdown().await.unwrap();
    }
    // Bob comes back one last time; Alice must get all of Bob's messages, including those he
    // queued offline.
    let (bob, mut bob_events) = Client::open(&bob_path, &test_key(2), relay.address.clone())
        .await
        .unwrap();
    let total = ROUNDS * PER_ROUND;
    let have = bob_received.len();
    bob_received.extend(collect_until(&mut bob_events, |_, received| have + received.len() >= total).await);
    let alice_received = collect_until(&mut alice_events, |_, received| received.len() >= total).await;

    let expected_a: Vec<String> = (0..total).map(|n| format!("a{n}")).collect();
    let expected_b: Vec<String> = (0..total).map(|n| format!("b{n}")).collect();
    assert_same_sequence(&texts(&bob_received), &expected_a, "Bob's app, Alice's messages");
    assert_same_sequence(
        &texts(&alice_received),
        &expected_b,
        "Alice's app, Bob's messages",
    );
    // The histories agree: each holds both streams, exactly once.
    let history = bob.history(alice.address(), None, 10 * total).await.unwrap();
    let incoming: Vec<_> = history
        .iter()
        .filter(|entry| entry.message.direction == Direction::Incoming)
        .map(|entry| entry.message.clone())
        .collect();
    assert_same_sequence(&texts(&incoming), &expected_a, "Bob's history");
    assert_eq!(history.len(), 2 * total);
    // No late duplicates: a copy of one of Bob's messages, redelivered or re-reported after his
    // stream was complete, would reach Alice's app before a message Bob sends now, in the same
    // conversation. So his next message must be the very next one she gets.
    bob.send(alice.address(), Content::text("end")).await.unwrap();
    let after = collect_until(&mut alice_events, |_, received| {
        received
            .iter()
            .any(|message| message.content == Content::text("end"))
    })
    .await;
    assert_same_sequence(
        &texts(&after),
        &["end".to_owned()],
        "Alice's app after Bob's stream",
    );
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_on_disk_and_a_wrong_key_is_a_typed_error() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let alice_path = dir.path().join("a.db");
    let (alice, _alice_events) = online_client(&alice_path, &test_key(1), &relay.address).await;
    let (bob, mut bob_events) = online_client(&dir.path().join("b.db"), &test_key(2), &relay.address).await;
    let marker = "MARKER-7f3a9c-unique-plaintext";
    alice
        .add_contact("bob-contact-marker", bob.address())
        .await
        .unwrap();
    bob.accept(alice.address()).await.unwrap();
    alice.send(bob.address(), Content::text(marker)).await.unwrap();
    let received = collect_until(&mut bob_events, |_, received| !received.is_empty()).await;
    // Through the API the marker is there (so the grep below could find it)...
    assert_eq!(texts(&received), [marker]);
    let history = bob.history(alice.address(), None, 10).await.unwrap();
    assert_eq!(texts(&[history[0].message.clone()]), [marker]);
    alice.shutdown().await.unwrap();
    bob.shutdown().await.unwrap();
    let relay_address = relay.address.clone();
    let relay_dir = relay.stop().await;
    // ...but no file of either client or of the relay contains it.
    let mut files = raw_files(dir.path());
    files.extend(raw_files(relay_dir.path()));
    assert!(files.len() >= 2);
    for (path, bytes) in &files {
        assert!(
            !contains(bytes, marker.as_bytes()),
            "{} holds the plaintext",
            path.display()
        );
        assert!(
            !contains(bytes, b"bob-contact-marker"),
            "{} holds a contact name",
            path.display()
        );
    }
    // A wrong key is told apart from other failures.
    let error = Client::open(&alice_path, &test_key(9), relay_address)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::Store(StoreError::WrongKey)),
        "{error:?}"
    );
}
