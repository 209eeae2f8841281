//! Backup and restore over a real relay: Alice exports her profile, stops, restores it into a
//! new directory under a new key, and carries on with Bob without a session reset: what Bob sent
//! meanwhile arrives, then 100 messages each way, in order, exactly once. A wrong passphrase is
//! refused and leaves nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use hush_client::{BackupError, Client, ClientError, ClientEvent, Content, Event, KdfParams};

use helpers::*;

const EACH_WAY: usize = 100;

/// Collects `count` messages from `events`; fails on a session reset.
async fn receive(events: &mut hush_client::Events, count: usize) -> Vec<String> {
    let got = collect_until(events, |event, received| {
        assert!(
            !matches!(event, ClientEvent::Core(Event::SessionReset { .. })),
            "the session was reset"
        );
        received.len() >= count
    })
    .await;
    texts(&got)
}

/// `client`'s backup in `dir`, under "backup words" at a test's Argon2 cost.
async fn export(client: &Client, dir: &std::path::Path) -> std::path::PathBuf {
    let backup = dir.join("alice.hushbackup");
    let cheap = KdfParams::new(1024, 1, 1).unwrap();
    client
        .export_backup_with(&backup, "backup words", cheap)
        .await
        .unwrap();
    backup
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_profile_carries_on_every_conversation() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let ((alice, mut alice_events), (bob, mut bob_events)) = alice_and_bob(dir.path(), &relay.address).await;
    let alice_address = alice.address();
    alice
        .send(bob.address(), Content::text("before 1"))
        .await
        .unwrap();
    assert_eq!(receive(&mut bob_events, 1).await, ["before 1"]);
    bob.send(alice_address, Content::text("before 2")).await.unwrap();
    assert_eq!(receive(&mut alice_events, 1).await, ["before 2"]);

    let backup = export(&alice, dir.path()).await;
    alice.shutdown().await.unwrap();
    drop(alice_events);
    // Bob writes while Alice is away: the relay keeps it for her mailbox.
    bob.send(alice_address, Content::text("while away"))
        .await
        .unwrap();

    let restored = dir.path().join("new").join("alice.db");
    std::fs::create_dir_all(restored.parent().unwrap()).unwrap();
    let key = test_key(9);
    let wrong = Client::restore_backup(&backup, "other words", &restored, &key)
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong,
            ClientError::Backup(BackupError::Unauthenticated { chunk: 0 })
        ),
        "{wrong:?}"
    );
    assert!(!restored.exists());
    Client::restore_backup(&backup, "backup words", &restored, &key)
        .await
        .unwrap();
    let (alice, mut alice_events) = online_client(&restored, &key, &relay.address).await;
    assert_eq!(alice.address(), alice_address, "the same identity");
    assert_eq!(receive(&mut alice_events, 1).await, ["while away"]);
    let history = alice.history(bob.address(), None, 10).await.unwrap();
    let earlier: Vec<_> = history.iter().map(|entry| entry.message.clone()).collect();
    assert_eq!(texts(&earlier), ["before 1", "before 2", "while away"]);
    // The search index came along: each word is found once per message holding it.
    let page = hush_client::SearchPage {
        before: None,
        limit: 10,
    };
    let hits = alice
        .search("before", hush_client::SearchScope::All, page)
        .await
        .unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    let hits = alice
        .search("away", hush_client::SearchScope::All, page)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");

    let to_bob: Vec<String> = (0..EACH_WAY).map(|n| format!("alice #{n}")).collect();
    let to_alice: Vec<String> = (0..EACH_WAY).map(|n| format!("bob #{n}")).collect();
    for (a, b) in to_bob.iter().zip(&to_alice) {
        alice.send(bob.address(), Content::text(a.clone())).await.unwrap();
        bob.send(alice_address, Content::text(b.clone())).await.unwrap();
    }
    assert_same_sequence(&receive(&mut bob_events, EACH_WAY).await, &to_bob, "Bob got");
    assert_same_sequence(
        &receive(&mut alice_events, EACH_WAY).await,
        &to_alice,
        "Alice got",
    );
    // Exactly once: a last message each way is the next one to arrive.
    alice.send(bob.address(), Content::text("last")).await.unwrap();
    bob.send(alice_address, Content::text("last")).await.unwrap();
    assert_eq!(receive(&mut bob_events, 1).await, ["last"]);
    assert_eq!(receive(&mut alice_events, 1).await, ["last"]);
    alice.shutdown().await.unwrap();
    bob.shutdown().await.unwrap();
    let _ = relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_backup_starts_the_session_over_and_both_sides_are_told() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let ((alice, alice_events), (bob, mut bob_events)) = alice_and_bob(dir.path(), &relay.address).await;
    let alice_address = alice.address();
    alice.send(bob.address(), Content::text("before")).await.unwrap();
    assert_eq!(receive(&mut bob_events, 1).await, ["before"]);
    let backup = export(&alice, dir.path()).await;
    // The original goes on after the export: the backup's sessions are behind.
    for n in 0..3 {
        alice
            .send(bob.address(), Content::text(format!("after {n}")))
            .await
            .unwrap();
    }
    assert_eq!(
        receive(&mut bob_events, 3).await,
        ["after 0", "after 1", "after 2"]
    );
    alice.shutdown().await.unwrap();
    drop(alice_events);

    let restored = dir.path().join("alice-restored.db");
    Client::restore_backup(&backup, "backup words", &restored, &test_key(9))
        .await
        .unwrap();
    let (alice, mut alice_events) = online_client(&restored, &test_key(9), &relay.address).await;
    alice
        .send(bob.address(), Content::text("from the restored copy"))
        .await
        .unwrap();
    // Bob finds the session broken, starts it over, and both apps are told.
    let mut got = Vec::new();
    let mut bob_told = false;
    collect_until(&mut bob_events, |event, received| {
        if let ClientEvent::Core(Event::SessionReset { peer, .. }) = event {
            assert_eq!(*peer, alice_address);
            bob_told = true;
        }
        got = texts(received);
        bob_told && got.contains(&"from the restored copy".to_owned())
    })
    .await;
    assert_eq!(
        got.iter()
            .filter(|text| *text == "from the restored copy")
            .count(),
        1
    );
    collect_until(&mut alice_events, |event, _| {
        matches!(event, ClientEvent::Core(Event::SessionReset { peer, .. }) if *peer == bob.address())
    })
    .await;
    // The new session carries on both ways.
    bob.send(alice_address, Content::text("welcome back"))
        .await
        .unwrap();
    let back = collect_until(&mut alice_events, |_, received| {
        texts(received).contains(&"welcome back".to_owned())
    })
    .await;
    assert!(texts(&back).contains(&"welcome back".to_owned()));
    alice.shutdown().await.unwrap();
    bob.shutdown().await.unwrap();
    let _ = relay.stop().await;
}
