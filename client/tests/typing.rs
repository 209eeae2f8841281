//! Typing and presence over a real relay (SPEC.md §18): 1,000 typing events reach the other
//! client and leave no trace in either database or in the relay's; an offline recipient gets
//! nothing later; presence is off until turned on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::path::Path;

use hush_client::{ClientEvent, Content, Event, Presence, PresenceSetting};

use helpers::*;

const TYPING_EVENTS: usize = 1_000;

/// The one text column `sql` selects, every row.
fn strings(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut statement = conn.prepare(sql).unwrap();
    let rows = statement.query_map([], |row| row.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// Every row of every table of the SQLite (or SQLCipher, with `key`) database at `path`.
fn rows(path: &Path, key: Option<u8>) -> Vec<(String, Vec<String>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    if let Some(byte) = key {
        let hex: String = std::iter::repeat_n(format!("{byte:02x}"), 32).collect();
        conn.execute_batch(&format!("PRAGMA key = \"x'{hex}'\";"))
            .unwrap();
    }
    let tables = strings(
        &conn,
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    );
    let mut out = Vec::new();
    for table in tables {
        let mut statement = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = statement.column_count();
        let mut dump: Vec<String> = statement
            .query_map([], |row| {
                Ok((0..columns)
                    .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        dump.sort();
        out.push((table, dump));
    }
    out
}

/// The relay's tables; of `mailboxes` only each mailbox's `next_seq`, which counts every
/// envelope ever stored for it (its other columns move with acknowledgements and logins).
fn relay_rows(dir: &Path) -> Vec<(String, Vec<String>)> {
    let path = dir.join(hush_relay::server::DATABASE_FILE);
    let mut all: Vec<_> = rows(&path, None)
        .into_iter()
        .filter(|(name, _)| name != "mailboxes")
        .collect();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let seqs = strings(
        &conn,
        "SELECT hex(mailbox) || ':' || next_seq FROM mailboxes ORDER BY mailbox",
    );
    all.push(("mailboxes.next_seq".to_owned(), seqs));
    all
}

fn busy_relay_config(config: &mut hush_relay::Config) {
    config.limits.ephemeral_per_second = 100_000;
    config.limits.ephemeral_burst = 100_000;
    config.limits.requests_per_second = 100_000;
    config.limits.request_burst = 100_000;
}

/// Waits until `events` reports `id` at `status`.
async fn status(
    events: &mut hush_client::Events,
    id: hush_client::MessageId,
    status: hush_client::MessageStatus,
) {
    collect_until(events, |event, _| {
        matches!(event, ClientEvent::Core(Event::StatusChanged { id: about, status: now, .. }) if *about == id && *now == status)
    })
    .await;
}

/// Alice and Bob, each an accepted contact of the other holding its access key (a message each
/// way, delivered and then read, so no receipt is left to send), both shut down again.
async fn contacts(
    dir: &Path,
    relay: &hush_client::RelayAddress,
) -> (hush_client::Address, hush_client::Address) {
    use hush_client::MessageStatus::{Delivered, Read};
    let ((alice, mut alice_events), (bob, mut bob_events)) = alice_and_bob(dir, relay).await;
    let hi = alice.send(bob.address(), Content::text("hi")).await.unwrap();
    status(&mut alice_events, hi, Delivered).await;
    bob.mark_read(alice.address()).await.unwrap();
    status(&mut alice_events, hi, Read).await;
    let hello = bob.send(alice.address(), Content::text("hello")).await.unwrap();
    status(&mut bob_events, hello, Delivered).await;
    alice.mark_read(bob.address()).await.unwrap();
    status(&mut bob_events, hello, Read).await;
    let addresses = (alice.address(), bob.address());
    alice.shutdown().await.unwrap();
    bob.shutdown().await.unwrap();
    addresses
}

/// The tables that changed from `before` to `after`.
fn changed<'a>(before: &[(String, Vec<String>)], after: &'a [(String, Vec<String>)]) -> Vec<&'a str> {
    after
        .iter()
        .filter(|table| !before.contains(table))
        .map(|(name, _)| name.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_typing_events_arrive_and_nothing_is_stored_anywhere() {
    let relay = spawn_relay_with(busy_relay_config).await;
    let dir = tempfile::tempdir().unwrap();
    let (alice_path, bob_path) = (dir.path().join("alice.db"), dir.path().join("bob.db"));
    contacts(dir.path(), &relay.address).await;
    // Every database is read at rest: the relay stopped, the clients shut down.
    let relay_dir = relay.stop().await;
    let before_relay = relay_rows(relay_dir.path());
    assert!(
        before_relay.iter().any(|(name, _)| name == "messages"),
        "the relay's database was read"
    );
    let before = [rows(&alice_path, Some(1)), rows(&bob_path, Some(2))];
    let relay = spawn_relay_with(|config| {
        busy_relay_config(config);
        config.data_dir = relay_dir.path().to_path_buf();
    })
    .await;
    let (alice, mut alice_events) = online_client(&alice_path, &test_key(1), &relay.address).await;
    let (bob, mut bob_events) = online_client(&bob_path, &test_key(2), &relay.address).await;

    let sent_each = TYPING_EVENTS / 2;
    for n in 0..sent_each {
        alice.send_typing(bob.address(), n % 2 == 0).await.unwrap();
        bob.send_typing(alice.address(), n % 2 == 1).await.unwrap();
    }
    for (events, from) in [
        (&mut bob_events, alice.address()),
        (&mut alice_events, bob.address()),
    ] {
        let mut typing = Vec::new();
        collect_until(events, |event, _| {
            if let ClientEvent::Core(Event::Typing {
                peer,
                typing: started,
            }) = event
            {
                assert_eq!(*peer, from);
                typing.push(*started);
            }
            typing.len() >= sent_each
        })
        .await;
        let alice_sent = from != bob.address();
        let expected: Vec<bool> = (0..sent_each).map(|n| (n % 2 == 0) == alice_sent).collect();
        assert_eq!(typing, expected, "every typing event once, in order");
    }
    alice.shutdown().await.unwrap();
    bob.shutdown().await.unwrap();
    let _ = relay.stop().await;
    // The relay stored no envelope (no mailbox's sequence moved, no row is new).
    let after_relay = relay_rows(relay_dir.path());
    assert!(
        changed(&before_relay, &after_relay).is_empty(),
        "the relay's tables changed: {:?}",
        changed(&before_relay, &after_relay)
    );
    // Neither client wrote a row. The account row is the identity pickle, sealed again with a
    // fresh nonce at each login (prekey upkeep, typing or not): only its count is compared.
    for (path, key, before) in [(&alice_path, 1, &before[0]), (&bob_path, 2, &before[1])] {
        let after = rows(path, Some(key));
        let moved: Vec<&str> = changed(before, &after)
            .into_iter()
            .filter(|name| *name != "account" || after.iter().any(|(n, dump)| n == name && dump.len() != 1))
            .collect();
        assert!(moved.is_empty(), "{}: tables changed: {moved:?}", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_contact_gets_no_typing_later_and_presence_is_off_until_turned_on() {
    let relay = spawn_relay_with(busy_relay_config).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, bob_address) = contacts(dir.path(), &relay.address).await;
    let (alice, mut alice_events) =
        online_client(&dir.path().join("alice.db"), &test_key(1), &relay.address).await;
    // Bob is offline: the relay drops these.
    for _ in 0..10 {
        alice.send_typing(bob_address, true).await.unwrap();
    }
    alice.set_presence(PresenceSetting::On).await.unwrap();
    // The same stream carries this after them: once it is stored, the relay has seen them all.
    let id = alice
        .send(bob_address, Content::text("after the typing"))
        .await
        .unwrap();
    collect_until(
        &mut alice_events,
        |event, _| matches!(event, ClientEvent::Core(Event::StatusChanged { id: about, .. }) if *about == id),
    )
    .await;
    let (bob, mut bob_events) = online_client(&dir.path().join("bob.db"), &test_key(2), &relay.address).await;
    let mut presence = Vec::new();
    let got = collect_until(&mut bob_events, |event, received| {
        match event {
            ClientEvent::Core(Event::Typing { .. }) => {
                panic!("a typing event reached Bob after he came online")
            }
            ClientEvent::Core(Event::PresenceChanged { presence: said, .. }) => presence.push(*said),
            _ => {}
        }
        !received.is_empty()
    })
    .await;
    assert_eq!(texts(&got), ["after the typing"]);
    assert!(
        presence.is_empty(),
        "Alice's \"online\" went while Bob was offline: {presence:?}"
    );
    // Bob turns presence on: Alice hears "online"; Bob leaves: she hears "last seen".
    bob.set_presence(PresenceSetting::On).await.unwrap();
    let mut heard = Vec::new();
    collect_until(&mut alice_events, |event, _| {
        if let ClientEvent::Core(Event::PresenceChanged { peer, presence }) = event {
            assert_eq!(*peer, bob_address);
            heard.push(*presence);
        }
        !heard.is_empty()
    })
    .await;
    assert_eq!(heard, [Presence::Online]);
    bob.shutdown().await.unwrap();
    collect_until(&mut alice_events, |event, _| {
        matches!(
            event,
            ClientEvent::Core(Event::PresenceChanged {
                presence: Presence::LastSeen(_),
                ..
            })
        )
    })
    .await;
    alice.shutdown().await.unwrap();
    let _ = relay.stop().await;
}
