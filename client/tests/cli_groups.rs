//! `hush group` on a CLI profile: Alice makes a group with two contacts (library clients), reads
//! what Bob writes to it with its author, lists it, sends to it (its history then shows how
//! many members stored and read that message), and removes Carol, who then gets nothing; a
//! group that does not exist is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use hush_client::{ClientEvent, Content, Event, Events, GroupId, MessageStatus};

use helpers::hush::Hush;
use helpers::*;

async fn group_changed(events: &mut Events) -> GroupId {
    let mut found = None;
    collect_until(events, |event, _| {
        if let ClientEvent::Core(Event::GroupChanged { group }) = event {
            found = Some(*group);
        }
        found.is_some()
    })
    .await;
    found.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hush_group_makes_lists_sends_reads_and_removes() {
    let relay = spawn_relay().await;
    let root = tempfile::tempdir().unwrap();
    let (alice, alice_address) = Hush::init(root.path(), "alice", &relay.address).await;
    let (bob, mut bob_events) =
        online_client(&root.path().join("bob.db"), &test_key(1), &relay.address).await;
    let (carol, mut carol_events) =
        online_client(&root.path().join("carol.db"), &test_key(2), &relay.address).await;
    let bob_account = bob.account_address().await.unwrap();
    let carol_account = carol.account_address().await.unwrap();
    alice
        .ok(&["contact", "add", "bob", &bob_account.to_string()])
        .await;
    alice
        .ok(&["contact", "add", "carol", &carol_account.to_string()])
        .await;
    for (client, events, other) in [
        (&bob, &mut bob_events, carol_account),
        (&carol, &mut carol_events, bob_account),
    ] {
        client.add_contact("alice", alice_address).await.unwrap();
        client.add_contact("other", other).await.unwrap();
        let first = client
            .send(alice_address, Content::text("hi alice"))
            .await
            .unwrap();
        let second = client.send(other, Content::text("hi")).await.unwrap();
        for id in [first, second] {
            collect_until(events, |event, _| {
                matches!(event, ClientEvent::Core(Event::StatusChanged { id: sent, status, .. })
                    if *sent == id && *status >= MessageStatus::Sent)
            })
            .await;
        }
    }
    alice.ok(&["inbox"]).await;

    let made = alice
        .ok(&["group", "create", "climbing", "bob", "carol"])
        .await
        .stdout;
    assert!(
        made.starts_with("group ") && made.trim_end().ends_with(" climbing"),
        "{made}"
    );
    let group = group_changed(&mut bob_events).await;
    assert_eq!(group_changed(&mut carol_events).await, group);

    bob.send_group(group, Content::text("tuesday at six?"))
        .await
        .unwrap();
    // Alice's CLI reads it once it has Bob's key: take what arrives until it shows.
    let mut shown = String::new();
    for _ in 0..20 {
        shown = alice.ok(&["group", "history", "climbing"]).await.stdout;
        if shown.contains("bob: tuesday at six?") {
            break;
        }
    }
    assert!(shown.contains("bob: tuesday at six?"), "{shown}");
    let listed = alice.ok(&["group", "list"]).await.stdout;
    assert!(
        listed.contains("climbing: bob, carol") || listed.contains("climbing: carol, bob"),
        "{listed}"
    );

    let sent = alice
        .ok(&["group", "send", "climbing", "see you there"])
        .await
        .stdout;
    assert!(sent.contains("sent"), "{sent}");
    let got = collect_until(&mut bob_events, |_, received| {
        received
            .iter()
            .any(|m| matches!(&m.content, Content::Text(t) if t == "see you there"))
    })
    .await;
    assert!(got.iter().all(|m| m.peer == group.conversation()));
    // Bob reads it: Alice's history shows how far her message got.
    assert_eq!(bob.mark_group_read(group).await.unwrap(), 1);
    let mut shown = String::new();
    for _ in 0..20 {
        shown = alice.ok(&["group", "history", "climbing"]).await.stdout;
        if shown.contains("me: see you there (delivered to 2 of 2, read by 1 of 2)") {
            break;
        }
    }
    assert!(
        shown.contains("me: see you there (delivered to 2 of 2, read by 1 of 2)"),
        "{shown}"
    );

    alice.ok(&["group", "remove", "climbing", "carol"]).await;
    group_changed(&mut carol_events).await;
    let listed = alice.ok(&["group", "list"]).await.stdout;
    assert!(
        listed.contains("climbing: bob") && !listed.contains("carol"),
        "{listed}"
    );
    alice
        .fails(
            &["group", "send", "hiking", "hello"],
            1,
            "no group named \"hiking\"",
        )
        .await;
    for client in [bob, carol] {
        client.shutdown().await.unwrap();
    }
    relay.stop().await;
}
