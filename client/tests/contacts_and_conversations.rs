//! The address book (own address refused, a duplicate address reported, rename, remove) and the
//! conversation list with unread counts, through the API against an in-process relay.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use hush_client::{Address, Client, ClientError, ClientEvent, ContactUpdate, Content, Event, Events};

use helpers::*;

/// A fresh address nobody uses.
fn stranger() -> Address {
    Address::from_identity(&hush_crypto::Account::new(0, &mut rand::rng()).identity_key())
}

/// Sends `texts` from `from` to `to` and waits until `events` (of `to`) has them all.
async fn deliver(from: &Client, to: Address, events: &mut Events, texts: &[&str]) {
    for text in texts {
        from.send(to, Content::text(*text)).await.unwrap();
    }
    let received = collect_until(events, |_, received| received.len() == texts.len()).await;
    assert_eq!(helpers::texts(&received), texts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_address_is_refused_a_duplicate_is_reported_and_rename_keeps_the_contact() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, _events) = Client::open(dir.path().join("a.db"), &test_key(1), relay.address.clone())
        .await
        .unwrap();
    let bob = stranger();

    let own = alice.add_contact("me", alice.address()).await.unwrap_err();
    assert!(matches!(own, ClientError::OwnAddress), "{own:?}");
    assert!(alice.contacts().await.unwrap().is_empty());

    assert_eq!(alice.add_contact("bob", bob).await.unwrap(), ContactUpdate::Added);
    assert_eq!(
        alice.add_contact("robert", bob).await.unwrap(),
        ContactUpdate::AddedDuplicate {
            other_names: vec!["bob".to_owned()]
        }
    );
    alice.verify_contact("bob").await.unwrap();
    let before = alice.contact("bob").await.unwrap();

    let taken = alice.rename_contact("bob", "robert").await.unwrap_err();
    assert!(
        matches!(&taken, ClientError::ContactNameTaken(name) if name == "robert"),
        "{taken:?}"
    );
    let unknown = alice.rename_contact("nobody", "x").await.unwrap_err();
    assert!(
        matches!(&unknown, ClientError::UnknownContact(name) if name == "nobody"),
        "{unknown:?}"
    );

    alice.remove_contact("robert").await.unwrap();
    alice.rename_contact("bob", "Bobby").await.unwrap();
    let contacts = alice.contacts().await.unwrap();
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let renamed = &contacts[0];
    assert_eq!(renamed.name, "Bobby");
    assert_eq!(
        (renamed.address, renamed.verified, renamed.added_at),
        (before.address, before.verified, before.added_at)
    );
    let gone = alice.contact("bob").await.unwrap_err();
    assert!(matches!(gone, ClientError::UnknownContact(_)), "{gone:?}");
    let again = alice.remove_contact("robert").await.unwrap_err();
    assert!(matches!(again, ClientError::UnknownContact(_)), "{again:?}");

    // All of it is durable: a reopened profile has the renamed contact only.
    alice.shutdown().await.unwrap();
    let (alice, _events) = Client::open(dir.path().join("a.db"), &test_key(1), relay.address.clone())
        .await
        .unwrap();
    let contacts = alice.contacts().await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].name, "Bobby");
    alice.shutdown().await.unwrap();
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_list_names_last_messages_and_unread_counts_and_removal_keeps_history() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut alice_events) =
        online_client(&dir.path().join("a.db"), &test_key(1), &relay.address).await;
    let (bob, _bob_events) = online_client(&dir.path().join("b.db"), &test_key(2), &relay.address).await;
    let (carol, mut carol_events) =
        online_client(&dir.path().join("c.db"), &test_key(3), &relay.address).await;
    alice.add_contact("bob", bob.address()).await.unwrap();
    // Carol is accepted but has no name: the list shows no name for her.
    alice.accept(carol.address()).await.unwrap();
    carol.accept(alice.address()).await.unwrap();
    assert!(alice.conversations_summary().await.unwrap().is_empty());

    deliver(&bob, alice.address(), &mut alice_events, &["b1", "b2", "b3"]).await;
    deliver(&carol, alice.address(), &mut alice_events, &["c1"]).await;
    deliver(&alice, carol.address(), &mut carol_events, &["to carol"]).await;

    let list = alice.conversations_summary().await.unwrap();
    let rows: Vec<_> = list
        .iter()
        .map(|c| {
            (
                c.peer,
                c.name.clone(),
                texts(std::slice::from_ref(&c.last.message)),
                c.unread,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (carol.address(), None, vec!["to carol".to_owned()], 1),
            (bob.address(), Some("bob".to_owned()), vec!["b3".to_owned()], 3),
        ]
    );
    // The latest message is the history's last entry.
    let history = alice.history(bob.address(), None, 1).await.unwrap();
    assert_eq!(list[1].last, history[0]);

    // Marking what a screen showed: only bob's unread b1 among these is marked.
    let b1 = alice.history(bob.address(), None, 3).await.unwrap()[0].message.id;
    let carol_history = alice.history(carol.address(), None, 2).await.unwrap();
    let (c1, to_carol) = (carol_history[0].message.id, carol_history[1].message.id);
    let marked = alice
        .mark_read_messages(bob.address(), &[b1, c1, to_carol, b1])
        .await
        .unwrap();
    assert_eq!(marked, 1);
    assert_eq!(alice.conversations_summary().await.unwrap()[1].unread, 2);
    assert_eq!(alice.mark_read(bob.address()).await.unwrap(), 2);
    let unread: Vec<usize> = alice
        .conversations_summary()
        .await
        .unwrap()
        .iter()
        .map(|c| c.unread)
        .collect();
    assert_eq!(unread, [1, 0]);

    // Removing bob keeps the conversation (under his address) and he is still accepted: his
    // next message arrives as a message, not a request.
    let removed = alice.remove_contact("bob").await.unwrap();
    assert_eq!(removed.address, bob.address());
    assert_eq!(alice.history(bob.address(), None, 10).await.unwrap().len(), 3);
    bob.send(alice.address(), Content::text("b4")).await.unwrap();
    let mut request = false;
    let received = collect_until(&mut alice_events, |event, received| {
        request |= matches!(event, ClientEvent::Core(Event::MessageRequest { .. }));
        !received.is_empty()
    })
    .await;
    assert_eq!(texts(&received), ["b4"]);
    assert!(!request);
    let first = &alice.conversations_summary().await.unwrap()[0];
    assert_eq!(
        (first.peer, first.name.as_deref(), first.unread),
        (bob.address(), None, 1)
    );
    relay.stop().await;
}
