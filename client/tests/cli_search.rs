//! `hush search` on a CLI profile: results newest first with the words marked, `--with` one
//! conversation, paging with `--before`, and a query without words refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use hush_client::{ClientEvent, Content, Event, MessageStatus};

use helpers::hush::Hush;
use helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_marks_scopes_and_pages() {
    let relay = spawn_relay().await;
    let root = tempfile::tempdir().unwrap();
    let (bob, bob_address) = Hush::init(root.path(), "bob", &relay.address).await;
    let (alice, mut alice_events) =
        online_client(&root.path().join("alice.db"), &test_key(1), &relay.address).await;
    let (carol, mut carol_events) =
        online_client(&root.path().join("carol.db"), &test_key(2), &relay.address).await;
    bob.ok(&["contact", "add", "alice", &alice.address().to_string()])
        .await;
    bob.ok(&["contact", "add", "carol", &carol.address().to_string()])
        .await;
    for (client, events, texts) in [
        (
            &alice,
            &mut alice_events,
            ["lunch on friday?", "the lunch place moved"],
        ),
        (&carol, &mut carol_events, ["Lunch with the team", "nothing here"]),
    ] {
        let mut ids = Vec::new();
        for text in texts {
            ids.push(client.send(bob_address, Content::text(text)).await.unwrap());
        }
        collect_until(events, |event, _| {
            matches!(event, ClientEvent::Core(Event::StatusChanged { id, status, .. })
                if *id == ids[1] && *status >= MessageStatus::Sent)
        })
        .await;
    }
    bob.ok(&["inbox"]).await;

    let all = bob.ok(&["search", "lunch"]).await.stdout;
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 3, "{all}");
    assert!(lines[0].ends_with("carol: [Lunch] with the team"), "{all}");
    assert!(lines[1].ends_with("alice: the [lunch] place moved"), "{all}");
    assert!(lines[2].ends_with("alice: [lunch] on friday?"), "{all}");

    let with = bob
        .ok(&["search", "LUNCH", "fri*", "--with", "alice"])
        .await
        .stdout;
    assert_eq!(with.lines().count(), 1, "{with}");
    assert!(with.contains("alice: [lunch] on [friday?]"), "{with}");

    let first = bob.ok(&["search", "lunch", "--limit", "2"]).await.stdout;
    let hint = first.lines().last().unwrap();
    let before = hint
        .strip_prefix("-- older results: hush search lunch --before ")
        .unwrap_or_else(|| panic!("no paging hint in:\n{first}"));
    let next = bob.ok(&["search", "lunch", "--before", before]).await.stdout;
    assert_eq!(next.lines().count(), 1, "{next}");
    assert!(next.contains("[lunch] on friday?"), "{next}");

    let none = bob.ok(&["search", "absent"]).await.stdout;
    assert!(none.contains("no messages match absent"), "{none}");
    bob.fails(&["search", "!!"], 1, "no word to look for").await;
}
