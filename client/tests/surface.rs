//! Reactions, edits, deletes for everyone, replies and threads between two clients over a real
//! relay: each kind sent, and both sides' history, edit history, reactions and thread agree.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use hush_client::{ClientError, ClientEvent, Content, Event, StoredReaction, SurfaceError};

use helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_reaches_the_other_side_and_both_histories_agree() {
    let (relay, dir) = (spawn_relay().await, tempfile::tempdir().unwrap());
    let profile = |name: &str| dir.path().join(name);
    let (alice, mut alice_events) = online_client(&profile("alice.db"), &test_key(1), &relay.address).await;
    let (bob, mut bob_events) = online_client(&profile("bob.db"), &test_key(2), &relay.address).await;
    let (a, b) = (alice.address(), bob.address());
    bob.accept(a).await.unwrap();

    let first = alice.send(b, Content::text("first draft")).await.unwrap();
    let secret = alice.send(b, Content::text("secret words")).await.unwrap();
    collect_until(&mut bob_events, |_, received| received.len() == 2).await;
    let hello = bob.send(a, Content::text("hello alice")).await.unwrap();
    collect_until(&mut alice_events, |_, received| received.len() == 1).await;

    alice.edit(b, first, "final draft").await.unwrap();
    alice.react(b, hello, "👍").await.unwrap();
    alice.delete_for_everyone(b, secret).await.unwrap();
    bob.react(a, first, "🎉").await.unwrap();
    let reply = bob.reply(a, first, "agreed").await.unwrap();
    let in_thread = bob.send_in_thread(a, first, "on it").await.unwrap();
    // Refused before sending: another's message, an unknown one, a deleted one.
    assert!(matches!(
        bob.edit(a, first, "forged").await,
        Err(ClientError::Surface(SurfaceError::NotOwnMessage { .. }))
    ));
    assert!(matches!(
        alice.delete_for_everyone(b, secret).await,
        Err(ClientError::Surface(SurfaceError::Deleted { .. }))
    ));

    // Bob hears the edit, the reaction and the delete; Alice the reaction, reply and thread.
    let mut heard = (false, false, false);
    collect_until(&mut bob_events, |event, _| {
        match event {
            ClientEvent::Core(Event::MessageEdited { id, .. }) if *id == first => heard.0 = true,
            ClientEvent::Core(Event::ReactionChanged { id, .. }) if *id == hello => heard.1 = true,
            ClientEvent::Core(Event::MessageDeleted { id, .. }) if *id == secret => heard.2 = true,
            _ => {}
        }
        heard == (true, true, true)
    })
    .await;
    let mut waiting = 3;
    collect_until(&mut alice_events, |event, _| {
        match event {
            ClientEvent::Core(Event::ReactionChanged { id, .. }) if *id == first => waiting -= 1,
            ClientEvent::Core(Event::MessageReceived(message))
                if message.id == reply || message.id == in_thread =>
            {
                waiting -= 1;
            }
            _ => {}
        }
        waiting == 0
    })
    .await;

    for (client, peer) in [(&alice, b), (&bob, a)] {
        let history = client.history(peer, None, 20).await.unwrap();
        let contents: Vec<Content> = history
            .iter()
            .map(|entry| entry.message.content.clone())
            .collect();
        assert_eq!(
            contents,
            vec![
                Content::text("final draft"),
                Content::tombstone(secret),
                Content::text("hello alice"),
                Content::reply(first, "agreed"),
                Content::in_thread(first, "on it"),
            ]
        );
        assert_eq!(client.edits(first).await.unwrap(), vec!["first draft"]);
        assert!(client.edits(secret).await.unwrap().is_empty());
        assert_eq!(
            client.reactions(first).await.unwrap(),
            vec![StoredReaction {
                by: b,
                emoji: "🎉".into()
            }]
        );
        assert_eq!(
            client.reactions(hello).await.unwrap(),
            vec![StoredReaction {
                by: a,
                emoji: "👍".into()
            }]
        );
        let thread = client.thread(first, None, 10).await.unwrap();
        assert_eq!(thread.len(), 1);
        assert_eq!(thread[0].message.id, in_thread);
    }
    // Taking a reaction back reaches the other side too.
    bob.unreact(a, first, "🎉").await.unwrap();
    collect_until(&mut alice_events, |event, _| {
        matches!(event, ClientEvent::Core(Event::ReactionChanged { id, added: false, .. }) if *id == first)
    })
    .await;
    assert!(alice.reactions(first).await.unwrap().is_empty());
    assert!(bob.reactions(first).await.unwrap().is_empty());
    relay.stop().await;
}
