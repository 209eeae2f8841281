//! A profile directory restored from a backup, with the real client on disk against a real
//! relay: the session is reset and no message is lost or delivered twice.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::collections::HashMap;
use std::path::Path;

use hush_client::{Address, Client, ClientEvent, Content, Direction, Event, Events, MessageStatus};

use helpers::*;

/// Copies every file of `from` into `to` (created), as a backup tool would.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// What one side's app saw.
#[derive(Default)]
struct Seen {
    /// Text → how many times it was delivered.
    texts: HashMap<String, usize>,
    resets: usize,
}

impl Seen {
    fn take(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::Core(Event::MessageReceived(message)) => {
                if let Content::Text(text) = &message.content {
                    *self.texts.entry(text.clone()).or_default() += 1;
                }
            }
            ClientEvent::Core(Event::SessionReset { .. }) => self.resets += 1,
            _ => {}
        }
    }
}

/// `count` messages from each side, alternating.
async fn exchange(round: &str, count: usize, alice: &Client, bob: &Client) {
    for n in 0..count {
        alice
            .send(bob.address(), Content::text(format!("alice {round} #{n}")))
            .await
            .unwrap();
        bob.send(alice.address(), Content::text(format!("bob {round} #{n}")))
            .await
            .unwrap();
    }
}

/// Takes `events` into `seen` until `wanted` texts have all arrived.
async fn wait_for_texts(events: &mut Events, seen: &mut Seen, wanted: &[String]) {
    if wanted.iter().all(|text| seen.texts.contains_key(text)) {
        return;
    }
    collect_until(events, |event, _| {
        seen.take(event);
        wanted.iter().all(|text| seen.texts.contains_key(text))
    })
    .await;
}

/// Takes `events` into `seen` until every outgoing message in `client`'s history with `peer`
/// is delivered (or read): nothing stays `Sent`.
async fn wait_all_delivered(client: &Client, peer: Address, events: &mut Events, seen: &mut Seen) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let history = client.history(peer, None, 1000).await.unwrap();
            let pending = history
                .iter()
                .filter(|entry| entry.message.direction == Direction::Outgoing)
                .filter(|entry| {
                    !matches!(
                        entry.message.status,
                        MessageStatus::Delivered | MessageStatus::Read
                    )
                })
                .count();
            if pending == 0 {
                return;
            }
            // Statuses only change with an event: wait for the next one.
            let event = events.next().await.expect("event stream ended");
            seen.take(&event);
        }
    })
    .await
    .expect("timed out waiting for delivered receipts");
}

fn texts(side: &str, round: &str, count: usize) -> Vec<String> {
    (0..count).map(|n| format!("{side} {round} #{n}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_directory_restored_from_a_backup_loses_no_message() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("alice");
    let backup = dir.path().join("backup");
    std::fs::create_dir_all(&profile).unwrap();
    let alice_db = profile.join("alice.db");
    let (key_a, key_b) = (test_key(1), test_key(2));
    let (alice, mut alice_events) = online_client(&alice_db, &key_a, &relay.address).await;
    let (bob, mut bob_events) = online_client(&dir.path().join("bob.db"), &key_b, &relay.address).await;
    let (mut alice_seen, mut bob_seen) = (Seen::default(), Seen::default());
    let (alice_address, bob_address) = (alice.address(), bob.address());

    exchange("before", 5, &alice, &bob).await;
    wait_for_texts(&mut bob_events, &mut bob_seen, &texts("alice", "before", 5)).await;
    wait_for_texts(&mut alice_events, &mut alice_seen, &texts("bob", "before", 5)).await;
    wait_all_delivered(&alice, bob_address, &mut alice_events, &mut alice_seen).await;
    wait_all_delivered(&bob, alice_address, &mut bob_events, &mut bob_seen).await;

    // The backup: Alice's whole profile directory, taken while she is stopped.
    alice.shutdown().await.unwrap();
    copy_dir(&profile, &backup);
    let (alice, mut alice_events) = online_client(&alice_db, &key_a, &relay.address).await;

    exchange("after the backup", 20, &alice, &bob).await;
    wait_for_texts(
        &mut bob_events,
        &mut bob_seen,
        &texts("alice", "after the backup", 20),
    )
    .await;
    wait_for_texts(
        &mut alice_events,
        &mut alice_seen,
        &texts("bob", "after the backup", 20),
    )
    .await;
    wait_all_delivered(&alice, bob_address, &mut alice_events, &mut alice_seen).await;
    wait_all_delivered(&bob, alice_address, &mut bob_events, &mut bob_seen).await;

    // Restore: stop Alice, put the copy back, start her again.
    alice.shutdown().await.unwrap();
    std::fs::remove_dir_all(&profile).unwrap();
    copy_dir(&backup, &profile);
    let (alice, mut alice_events) = online_client(&alice_db, &key_a, &relay.address).await;
    assert_eq!(alice.address(), alice_address);

    exchange("after the restore", 20, &alice, &bob).await;
    wait_for_texts(
        &mut bob_events,
        &mut bob_seen,
        &texts("alice", "after the restore", 20),
    )
    .await;
    wait_for_texts(
        &mut alice_events,
        &mut alice_seen,
        &texts("bob", "after the restore", 20),
    )
    .await;
    wait_all_delivered(&alice, bob_address, &mut alice_events, &mut alice_seen).await;
    wait_all_delivered(&bob, alice_address, &mut bob_events, &mut bob_seen).await;

    // A last message each way, sent once everything is confirmed: a late copy of anything
    // resent would have to arrive before it.
    alice
        .send(bob_address, Content::text("alice last"))
        .await
        .unwrap();
    bob.send(alice_address, Content::text("bob last")).await.unwrap();
    wait_for_texts(&mut bob_events, &mut bob_seen, &["alice last".to_string()]).await;
    wait_for_texts(&mut alice_events, &mut alice_seen, &["bob last".to_string()]).await;

    for (name, seen) in [("alice", &alice_seen), ("bob", &bob_seen)] {
        let twice: Vec<&String> = seen
            .texts
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(t, _)| t)
            .collect();
        assert!(twice.is_empty(), "{name} saw messages twice: {twice:?}");
        assert!(seen.resets > 0, "{name} never heard of a session reset");
    }
    // 5 + 20 + 20 + 1 from each side, each seen once by the other's app (Alice's app saw the
    // middle 20 before the restore).
    assert_eq!(bob_seen.texts.len(), 46);
    assert_eq!(alice_seen.texts.len(), 46);

    alice.shutdown().await.unwrap();
    bob.shutdown().await.unwrap();
    relay.stop().await;
}
