//! The `hush` binary against an in-process relay: history paging, conversations with unread
//! counts, the inbox marking new messages, contact remove/rename/duplicate/own address, message
//! requests (requests, accept, report), and the
//! `--json` shapes (parsed here, field by field).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use hush_client::{Address, Client, ClientEvent, Content, Event, Events, MessageId, MessageStatus};
use serde_json::Value;

use helpers::hush::{Hush, Run};
use helpers::*;

/// `Run::json` for the listing commands' `--json` output.
trait Json {
    fn json(&self) -> Value;
}

impl Json for Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Sends `texts` from `client` to `to` and waits until the relay has stored each.
async fn send_stored(client: &Client, events: &mut Events, to: Address, texts: &[String]) -> Vec<MessageId> {
    let mut ids = Vec::new();
    for text in texts {
        ids.push(client.send(to, Content::text(text.clone())).await.unwrap());
    }
    let mut stored = std::collections::HashSet::new();
    collect_until(events, |event, _| {
        if let ClientEvent::Core(Event::StatusChanged { id, status, .. }) = event
            && *status >= MessageStatus::Sent
        {
            stored.insert(*id);
        }
        ids.iter().all(|id| stored.contains(id))
    })
    .await;
    ids
}

/// A relay, and bob's CLI profile in a fresh directory (kept while the `TempDir` lives).
async fn relay_and_bob() -> (TestRelay, tempfile::TempDir, Hush, Address) {
    let relay = spawn_relay().await;
    let root = tempfile::tempdir().unwrap();
    let (bob, address) = Hush::init(root.path(), "bob", &relay.address).await;
    (relay, root, bob, address)
}

fn texts_of(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_back_conversations_count_unread_and_inbox_marks_them_read() {
    let (relay, root, bob, bob_address) = relay_and_bob().await;
    let (alice, mut alice_events) =
        online_client(&root.path().join("alice.db"), &test_key(1), &relay.address).await;
    let (carol, mut carol_events) =
        online_client(&root.path().join("carol.db"), &test_key(2), &relay.address).await;
    bob.ok(&["contact", "add", "alice", &alice.address().to_string()])
        .await;
    bob.ok(&["contact", "add", "carol", &carol.address().to_string()])
        .await;

    let from_alice: Vec<String> = (0..7).map(|n| format!("m{n}")).collect();
    let ids = send_stored(&alice, &mut alice_events, bob_address, &from_alice).await;
    send_stored(
        &carol,
        &mut carol_events,
        bob_address,
        &["c0".into(), "c1".into()],
    )
    .await;

    // Conversations: most recent first, with unread counts and the latest message.
    let list = bob.ok(&["conversations", "--json"]).await.json();
    let conversations = list["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 2, "{list}");
    let (first, second) = (&conversations[0], &conversations[1]);
    assert_eq!(first["name"], "carol");
    assert_eq!(first["peer"], carol.address().to_string());
    assert_eq!(first["unread"], 2);
    assert_eq!(first["last"]["text"], "c1");
    assert_eq!(second["name"], "alice");
    assert_eq!(second["unread"], 7);
    let last = &second["last"];
    assert_eq!(last["id"], ids[6].to_string());
    assert_eq!(last["direction"], "incoming");
    assert_eq!(last["status"], "received");
    assert_eq!(last["unread"], true);
    assert!(last["sent_at_ms"].as_u64().unwrap() > 1_600_000_000_000, "{last}");
    assert!(last["position"].as_u64().is_some(), "{last}");
    let text = bob.ok(&["conversations"]).await.stdout;
    assert!(text.starts_with("carol\t2 unread\t["), "{text}");
    assert!(text.contains("alice\t7 unread\t"), "{text}");

    // History: pages of 3, oldest first within a page, each telling where the next one starts.
    let mut pages = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let mut args = vec!["history", "alice", "--limit", "3", "--json"];
        let position = before.map(|position| position.to_string());
        if let Some(position) = &position {
            args.extend(["--before", position]);
        }
        let page = bob.ok(&args).await.json();
        assert_eq!(page["peer"], alice.address().to_string());
        assert_eq!(page["name"], "alice");
        pages.push(texts_of(&page["messages"]));
        match page["next_before"].as_u64() {
            Some(position) => {
                assert_eq!(page["messages"][0]["position"].as_u64(), Some(position));
                before = Some(position);
            }
            None => break,
        }
    }
    assert_eq!(
        pages,
        [vec!["m4", "m5", "m6"], vec!["m1", "m2", "m3"], vec!["m0"]]
    );
    // The text form: dated lines, new ones marked, and the next page's command at the end.
    let page = bob.ok(&["history", "alice", "--limit", "2"]).await.stdout;
    let lines: Vec<&str> = page.lines().collect();
    assert_eq!(lines.len(), 3, "{page}");
    let dated = |line: &str, text: &str| {
        let rest = line
            .strip_prefix("* [")
            .unwrap_or_else(|| panic!("not a new message: {line}"));
        let (at, said) = rest.split_once("] ").unwrap();
        assert_eq!(said, format!("alice: {text}"));
        // YYYY-MM-DD hh:mm:ss
        assert_eq!(at.len(), 19, "{line}");
        assert_eq!(
            (&at[4..5], &at[7..8], &at[10..11], &at[13..14]),
            ("-", "-", " ", ":"),
            "{line}"
        );
    };
    dated(lines[0], "m5");
    dated(lines[1], "m6");
    let before = pages_position(&bob, "m5").await;
    assert_eq!(
        lines[2],
        format!("-- older messages: hush history alice --before {before}")
    );

    // Local time: nine hours east of UTC, the same message shows nine hours later.
    let hour = |run: Run| -> u32 {
        let line = run.stdout.lines().next().unwrap().to_owned();
        line[14..16]
            .parse()
            .unwrap_or_else(|_| panic!("no hour in {line:?}"))
    };
    let utc = hour(
        bob.run_in_zone(&["history", "alice", "--limit", "1"], "UTC")
            .await,
    );
    let east = hour(
        bob.run_in_zone(&["history", "alice", "--limit", "1"], "XST-9")
            .await,
    );
    assert_eq!(east, (utc + 9) % 24);

    bob.fails(&["history", "nobody"], 1, "no contact named \"nobody\"")
        .await;
    bob.fails(&["history", "alice", "--before", "soon"], 2, "is not a position")
        .await;
    bob.fails(&["history", "alice", "--before", "0"], 2, "is not a position")
        .await;

    // The inbox shows the new ones marked and marks them read: the counts drop to zero and
    // alice hears that they were read.
    let inbox = bob.ok(&["inbox", "--json"]).await.json();
    assert_eq!(inbox["online"], true);
    let shown = &inbox["conversations"][1];
    assert_eq!(
        (shown["name"].as_str(), shown["unread"].as_u64()),
        (Some("alice"), Some(7))
    );
    assert_eq!(texts_of(&shown["messages"]), from_alice);
    assert!(
        shown["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["unread"] == true)
    );
    let list = bob.ok(&["conversations", "--json"]).await.json();
    let unread: Vec<u64> = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["unread"].as_u64().unwrap())
        .collect();
    assert_eq!(unread, [0, 0]);
    collect_until(&mut alice_events, |event, _| {
        matches!(event, ClientEvent::Core(Event::StatusChanged { id, status: MessageStatus::Read, .. }) if *id == ids[6])
    })
    .await;
    let inbox = bob.ok(&["inbox"]).await.stdout;
    assert!(inbox.contains("== alice\n"), "{inbox}");
    assert!(!inbox.contains("new, marked *"), "{inbox}");

    // A conversation whose contact is removed stays, under the address.
    bob.ok(&["contact", "remove", "carol"]).await;
    let list = bob.ok(&["conversations", "--json"]).await.json();
    assert_eq!(list["conversations"][0]["peer"], carol.address().to_string());
    assert_eq!(list["conversations"][0]["name"], Value::Null);
    let text = bob.ok(&["conversations"]).await.stdout;
    assert!(
        text.starts_with(&format!("{}\t0 unread\t", carol.address())),
        "{text}"
    );
    relay.stop().await;
}

/// The position of the message with `text` in bob's history with alice.
async fn pages_position(bob: &Hush, text: &str) -> u64 {
    let page = bob
        .ok(&["history", "alice", "--limit", "100", "--json"])
        .await
        .json();
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|message| message["text"] == text)
        .and_then(|message| message["position"].as_u64())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_added_with_warnings_renamed_and_removed() {
    let (relay, _root, bob, bob_address) = relay_and_bob().await;
    let alice = Address::from_identity(&hush_crypto::Account::new(0, &mut rand::rng()).identity_key());
    let alice = alice.to_string();

    bob.fails(
        &["contact", "add", "me", &bob_address.to_string()],
        1,
        "your own address",
    )
    .await;
    let run = bob.ok(&["contact", "add", "alice", &alice]).await;
    assert_eq!(run.stdout, "alice: Added\n");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let run = bob.ok(&["contact", "add", "ally", &alice]).await;
    assert_eq!(run.stdout, "ally: Added\n");
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("also in your contacts as alice"),
        "{}",
        run.stderr
    );

    let list = bob.ok(&["contact", "list", "--json"]).await.json();
    let contacts = list["contacts"].as_array().unwrap();
    let names: Vec<&str> = contacts.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", "ally"]);
    assert_eq!(contacts[0]["address"], alice.as_str());
    assert_eq!(contacts[0]["verified"], false);
    assert!(contacts[0]["added_at_ms"].as_u64().unwrap() > 1_600_000_000_000);

    bob.fails(
        &["contact", "rename", "ally", "alice"],
        1,
        "a contact named \"alice\" already exists",
    )
    .await;
    bob.fails(
        &["contact", "rename", "nobody", "x"],
        1,
        "no contact named \"nobody\"",
    )
    .await;
    assert_eq!(
        bob.ok(&["contact", "rename", "ally", "Al"]).await.stdout,
        "ally renamed to Al\n"
    );
    let run = bob.ok(&["contact", "remove", "alice"]).await;
    assert!(
        run.stdout.starts_with(&format!("removed alice ({alice})")),
        "{}",
        run.stdout
    );
    bob.fails(&["contact", "remove", "alice"], 1, "no contact named \"alice\"")
        .await;
    let list = bob.ok(&["contact", "list"]).await.stdout;
    assert_eq!(list, format!("Al\t{alice}\n"));
    relay.stop().await;
}

/// Every text `hush inbox --json` shows from `peer`.
async fn inbox_texts_from(bob: &Hush, peer: &Address) -> Vec<String> {
    let inbox = bob.ok(&["inbox", "--json"]).await.json();
    inbox["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|conversation| conversation["peer"] == peer.to_string())
        .flat_map(|conversation| texts_of(&conversation["messages"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_wait_as_requests_until_accepted_and_a_reported_one_is_dropped() {
    let (relay, root, bob, bob_address) = relay_and_bob().await;
    let (carol, mut carol_events) =
        online_client(&root.path().join("carol"), &test_key(3), &relay.address).await;
    let (mallory, mut mallory_events) =
        online_client(&root.path().join("mallory"), &test_key(4), &relay.address).await;
    let (carol_address, mallory_address) = (address_of(&carol), address_of(&mallory));
    send_stored(
        &carol,
        &mut carol_events,
        bob_address,
        &["hi bob, it is carol".into()],
    )
    .await;
    send_stored(&mallory, &mut mallory_events, bob_address, &["buy now".into()]).await;

    let requests = bob.ok(&["requests"]).await.stdout;
    for stranger in [carol_address, mallory_address] {
        assert!(
            requests.contains(&format!("request from {stranger}")),
            "{stranger} missing from:\n{requests}"
        );
    }
    assert!(
        inbox_texts_from(&bob, &carol_address).await.is_empty(),
        "a request is held, not shown"
    );

    bob.ok(&["accept", &carol_address.to_string()]).await;
    assert_eq!(
        inbox_texts_from(&bob, &carol_address).await,
        vec!["hi bob, it is carol"]
    );

    bob.ok(&["report", &mallory_address.to_string()]).await;
    let requests = bob.ok(&["requests"]).await.stdout;
    assert!(requests.contains("no message requests"), "{requests}");
    send_stored(&mallory, &mut mallory_events, bob_address, &["still here".into()]).await;
    assert!(
        inbox_texts_from(&bob, &mallory_address).await.is_empty(),
        "a reported sender's messages, held and new, are dropped"
    );
    // Carol, accepted, still gets through after the key rotation the report made.
    send_stored(
        &carol,
        &mut carol_events,
        bob_address,
        &["after the report".into()],
    )
    .await;
    assert_eq!(
        inbox_texts_from(&bob, &carol_address).await,
        vec!["hi bob, it is carol", "after the report"]
    );
    for client in [carol, mallory] {
        client.shutdown().await.unwrap();
    }
    relay.stop().await;
}
