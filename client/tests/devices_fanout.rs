//! Fan-out over QUIC against a real relay (proto/PROTOCOL.md "Accounts with several devices"):
//! Alice writes to Bob's account address and both of Bob's devices get every message, once, in
//! order, with one id; what each of Bob's devices sends reaches Alice under Bob's account and
//! Bob's other device as a synced copy; reading on one device marks the messages read on the
//! other; a removed device gets nothing sent after its removal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use hush_client::{ClientEvent, Content, Direction, Event, MessageStatus, StoredMessage};

use helpers::*;

/// Collects `count` synced copies (`MessageSynced`) from `events`.
async fn synced(events: &mut hush_client::Events, count: usize) -> Vec<StoredMessage> {
    let mut copies = Vec::new();
    collect_until(events, |event, _| {
        if let ClientEvent::Core(Event::MessageSynced(message)) = event {
            copies.push(message.clone());
        }
        copies.len() >= count
    })
    .await;
    copies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_devices_of_an_account_get_every_message_and_see_what_the_other_sent() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let (phone, mut phone_events) = first_device(dir.path(), &relay.address).await;
    let (laptop, mut laptop_events, code) =
        joining(&dir.path().join("laptop.db"), &test_key(3), &relay.address).await;
    phone.link_device(&code, false).await.unwrap();
    laptop.join_account().await.unwrap();
    published(&mut laptop_events, 2).await;
    let (alice, mut alice_events) =
        online_client(&dir.path().join("alice.db"), &test_key(2), &relay.address).await;
    let bob_account = phone.account_address().await.unwrap();
    assert_eq!(laptop.account_address().await.unwrap(), bob_account);
    assert_ne!(
        bob_account,
        phone.address(),
        "the account address is not a device's"
    );
    let alice_account = alice.account_address().await.unwrap();
    alice.add_contact("bob", bob_account).await.unwrap();
    phone.add_contact("alice", alice_account).await.unwrap();
    laptop.add_contact("alice", alice_account).await.unwrap();

    // Alice to Bob's account: both devices, same ids, in order.
    let mut sent = Vec::new();
    for n in 0..20 {
        sent.push(
            alice
                .send(bob_account, Content::text(format!("alice #{n}")))
                .await
                .unwrap(),
        );
    }
    for events in [&mut phone_events, &mut laptop_events] {
        let got = collect_until(events, |_, received| received.len() >= 20).await;
        assert_eq!(got.iter().map(|m| m.id).collect::<Vec<_>>(), sent);
        assert!(got.iter().all(|m| m.peer == alice_account));
    }

    // Each of Bob's devices to Alice's account: Alice files both under Bob's account; each of
    // Bob's devices gets the other's messages as synced copies.
    let mut from_phone = Vec::new();
    let mut from_laptop = Vec::new();
    for n in 0..10 {
        from_phone.push(
            phone
                .send(alice_account, Content::text(format!("phone #{n}")))
                .await
                .unwrap(),
        );
        from_laptop.push(
            laptop
                .send(alice_account, Content::text(format!("laptop #{n}")))
                .await
                .unwrap(),
        );
    }
    let got = collect_until(&mut alice_events, |_, received| received.len() >= 20).await;
    assert!(
        got.iter().all(|m| m.peer == bob_account),
        "filed under Bob's account"
    );
    let of = |ids: &[hush_client::MessageId]| -> Vec<_> {
        got.iter().filter(|m| ids.contains(&m.id)).map(|m| m.id).collect()
    };
    assert_eq!(of(&from_phone), from_phone, "the phone's messages, in its order");
    assert_eq!(
        of(&from_laptop),
        from_laptop,
        "the laptop's messages, in its order"
    );
    let at_laptop = synced(&mut laptop_events, 10).await;
    assert_eq!(at_laptop.iter().map(|m| m.id).collect::<Vec<_>>(), from_phone);
    let at_phone = synced(&mut phone_events, 10).await;
    assert_eq!(at_phone.iter().map(|m| m.id).collect::<Vec<_>>(), from_laptop);
    // Histories agree: the same ids with Alice on both of Bob's devices.
    let ids = |history: Vec<hush_client::HistoryEntry>| {
        let mut ids: Vec<_> = history
            .into_iter()
            .map(|entry| (entry.message.id, entry.message.direction))
            .collect();
        ids.sort_by_key(|(id, _)| *id);
        ids
    };
    let phone_history = ids(phone.history(alice_account, None, 100).await.unwrap());
    assert_eq!(phone_history.len(), 40);
    assert_eq!(
        phone_history,
        ids(laptop.history(alice_account, None, 100).await.unwrap())
    );
    assert!(
        phone_history
            .iter()
            .filter(|(_, d)| *d == Direction::Outgoing)
            .count()
            == 20
    );

    // Reading on the phone: the laptop marks them read, Alice sees them read.
    assert_eq!(phone.mark_read(alice_account).await.unwrap(), 20);
    collect_until(
        &mut laptop_events,
        |event, _| matches!(event, ClientEvent::Core(Event::ReadElsewhere { ids, .. }) if ids.len() == 20),
    )
    .await;
    assert_eq!(laptop.unread_count(alice_account).await.unwrap(), 0);
    let last = *sent.last().unwrap();
    collect_until(&mut alice_events, |event, _| {
        matches!(event, ClientEvent::Core(Event::StatusChanged { id, status: MessageStatus::Read, .. }) if *id == last)
    })
    .await;

    // The phone removes the laptop: what Alice sends after reaches the phone only.
    phone.remove_device(laptop.address().identity()).await.unwrap();
    published(&mut phone_events, 3).await;
    let after = alice.send(bob_account, Content::text("after")).await.unwrap();
    let got = collect_until(&mut phone_events, |_, received| {
        received.iter().any(|m| m.id == after)
    })
    .await;
    assert_eq!(got.last().map(|m| m.id), Some(after));
    collect_until(&mut alice_events, |event, _| {
        matches!(event, ClientEvent::Core(Event::StatusChanged { id, status: MessageStatus::Delivered, .. }) if *id == after)
    })
    .await;
    assert!(
        laptop
            .history(alice_account, None, 100)
            .await
            .unwrap()
            .iter()
            .all(|entry| entry.message.id != after),
        "the removed laptop got nothing sent after its removal"
    );
    for client in [phone, laptop, alice] {
        client.shutdown().await.unwrap();
    }
    relay.stop().await;
}
