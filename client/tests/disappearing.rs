//! Disappearing messages and search between two clients over a real relay: a timer set by one
//! side is an event on both, the messages stored while it is set expire on both (by the clock
//! each is given), and neither database holds their texts afterwards, nor their search terms;
//! search follows edits, deletes for everyone and expiry on both sides.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use hush_client::store::{SearchPage, SearchScope};
use hush_client::{Client, ClientEvent, Content, Event, MessageId};

use helpers::*;

const TIMER: u32 = 3600;
/// Words only the expiring messages hold (as written, and as the search index keeps them).
const GONE: [&str; 3] = ["Zanzibarquay", "Quixotelagoon", "Marmaladefjord"];
/// A word of a message sent before the timer, which stays.
const KEPT: &str = "Keepsakeword";

fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

async fn found(client: &Client, query: &str, scope: SearchScope) -> Vec<MessageId> {
    client
        .search(query, scope, SearchPage::first(20))
        .await
        .unwrap()
        .into_iter()
        .map(|hit| hit.entry.message.id)
        .collect()
}

/// The database at `path`, decrypted with `key` into a plain copy (every table, the search
/// index's included), read raw.
fn decrypted_bytes(path: &Path, key: &[u8; 32]) -> Vec<u8> {
    let plain = path.with_extension("plain");
    let conn = rusqlite::Connection::open(path).unwrap();
    let hex: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
    conn.execute_batch(&format!("PRAGMA key = \"x'{hex}'\";"))
        .unwrap();
    conn.execute("ATTACH DATABASE ?1 AS plain KEY ''", [plain.to_str().unwrap()])
        .unwrap();
    conn.query_row("SELECT sqlcipher_export('plain')", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch("DETACH DATABASE plain").unwrap();
    drop(conn);
    let bytes = std::fs::read(&plain).unwrap();
    std::fs::remove_file(&plain).unwrap();
    bytes
}

fn history_texts(history: &[hush_client::HistoryEntry]) -> Vec<Content> {
    history
        .iter()
        .map(|entry| entry.message.content.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disappearing_conversation_forgets_its_texts_on_both_sides() {
    let (relay, dir) = (spawn_relay().await, tempfile::tempdir().unwrap());
    let path = |name: &str| dir.path().join(name);
    let (alice, mut alice_events) = online_client(&path("alice.db"), &test_key(1), &relay.address).await;
    let (bob, mut bob_events) = online_client(&path("bob.db"), &test_key(2), &relay.address).await;
    let (a, b) = (alice.address(), bob.address());
    bob.accept(a).await.unwrap();

    let kept = alice
        .send(b, Content::text(format!("{KEPT} stays")))
        .await
        .unwrap();
    let doomed = alice
        .send(b, Content::text("Cormorantword by mistake"))
        .await
        .unwrap();
    collect_until(&mut bob_events, |_, received| received.len() == 2).await;
    // Delete for everyone: out of both indexes.
    alice.delete_for_everyone(b, doomed).await.unwrap();
    collect_until(
        &mut bob_events,
        |event, _| matches!(event, ClientEvent::Core(Event::MessageDeleted { id, .. }) if *id == doomed),
    )
    .await;

    // Alice sets the timer: an event in both histories.
    let timer = alice.set_disappearing_timer(b, TIMER).await.unwrap();
    let received = collect_until(&mut bob_events, |_, received| received.len() == 1).await;
    assert_eq!(received[0].id, timer);
    assert_eq!(received[0].content, Content::timer(TIMER));
    assert_eq!(alice.disappearing_timer(b).await.unwrap(), Some(TIMER));
    assert_eq!(bob.disappearing_timer(a).await.unwrap(), Some(TIMER));

    let first = alice
        .send(b, Content::text(format!("meet at {} tonight", GONE[0])))
        .await
        .unwrap();
    collect_until(&mut bob_events, |_, received| received.len() == 1).await;
    let answer = bob.reply(a, first, &format!("{} is far", GONE[2])).await.unwrap();
    collect_until(&mut alice_events, |event, _| {
        matches!(event, ClientEvent::Core(Event::MessageReceived(message)) if message.id == answer)
    })
    .await;
    // An edit: both sides find the new text, neither the old.
    alice
        .edit(b, first, &format!("meet at {} tonight", GONE[1]))
        .await
        .unwrap();
    collect_until(
        &mut bob_events,
        |event, _| matches!(event, ClientEvent::Core(Event::MessageEdited { id, .. }) if *id == first),
    )
    .await;
    for (client, peer) in [(&alice, b), (&bob, a)] {
        assert_eq!(found(client, GONE[1], SearchScope::With(peer)).await, vec![first]);
        assert!(found(client, GONE[0], SearchScope::All).await.is_empty());
        assert_eq!(found(client, GONE[2], SearchScope::All).await, vec![answer]);
        assert_eq!(found(client, KEPT, SearchScope::All).await, vec![kept]);
        assert!(found(client, "Cormorantword", SearchScope::All).await.is_empty());
        assert_eq!(client.edits(first).await.unwrap().len(), 1);
    }

    // An hour and a second later, by the clock each side is given.
    let later = now_ms() + u64::from(TIMER) * 1000 + 1000;
    for (client, events) in [(&alice, &mut alice_events), (&bob, &mut bob_events)] {
        // Not a moment early: nothing is due yet by the real clock.
        assert!(client.expire_due(now_ms()).await.unwrap().is_empty());
        let expired = client.expire_due(later).await.unwrap();
        let mut ids: Vec<MessageId> = expired.iter().map(|expired| expired.id).collect();
        ids.sort();
        let mut expected = vec![first, answer];
        // The edit message carried text too, and expired with its target.
        expected.sort();
        assert!(
            expected.iter().all(|id| ids.contains(id)),
            "expired {ids:?}, expected at least {expected:?}"
        );
        collect_until(events, |event, _| matches!(event, ClientEvent::Expired(_))).await;
    }
    for (client, peer) in [(&alice, b), (&bob, a)] {
        let history = history_texts(&client.history(peer, None, 20).await.unwrap());
        assert_eq!(
            history,
            vec![
                Content::text(format!("{KEPT} stays")),
                Content::tombstone(doomed),
                Content::timer(TIMER),
            ],
            "{peer}"
        );
        for word in GONE {
            assert!(found(client, word, SearchScope::All).await.is_empty(), "{word}");
        }
        assert_eq!(found(client, KEPT, SearchScope::All).await, vec![kept]);
        assert!(client.edits(first).await.unwrap().is_empty());
    }

    alice.shutdown().await.unwrap();
    bob.shutdown().await.unwrap();
    for (name, key) in [("alice.db", [1u8; 32]), ("bob.db", [2u8; 32])] {
        // The raw files (the database and its log) are encrypted, so hold no word at all...
        for (file, bytes) in raw_files(dir.path()) {
            for word in GONE.iter().chain([&KEPT]) {
                assert!(!contains(&bytes, word.as_bytes()), "{}", file.display());
            }
        }
        // ... and decrypted, every table (the search index's too) holds the kept word, as
        // written and as indexed, and none of the expired ones.
        let plain = decrypted_bytes(&path(name), &key);
        assert!(contains(&plain, KEPT.as_bytes()), "{name}: the check sees texts");
        assert!(
            contains(&plain, KEPT.to_lowercase().as_bytes()),
            "{name}: the check sees index terms"
        );
        for word in GONE {
            assert!(!contains(&plain, word.as_bytes()), "{name} holds {word}");
            assert!(
                !contains(&plain, word.to_lowercase().as_bytes()),
                "{name}'s index holds {word}"
            );
        }
    }
}
