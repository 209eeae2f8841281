#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Reactions, edits, deletes for everyone, replies and threads through the harness, with
//! faults: both stores end the same, the text of a deleted message is gone from both, and
//! edits, deletes and reactions that break the rules are refused (sending) or ignored
//! (receiving).

mod harness;

use harness::{ClientId, Faults, World};
use hush_client_core::{
    Address, Content, Core, Event, IgnoredReason, MessageId, Store, StoredReaction, SurfaceError,
};

/// Sends until the queuing commit is applied (a crash before it loses the send).
fn surely(
    world: &mut World,
    from: ClientId,
    call: impl Fn(&mut Core, u64) -> Result<MessageId, SurfaceError>,
) -> MessageId {
    for _ in 0..100 {
        if let Some(id) = world.surface(from, &call).expect("the call is allowed") {
            return id;
        }
    }
    panic!("100 crashes in a row");
}

fn text(world: &mut World, from: ClientId, to: Address, body: &str) -> MessageId {
    loop {
        if let Some(id) = world.send(from, to, Content::text(body)) {
            return id;
        }
    }
}

fn content(world: &World, who: ClientId, id: &MessageId) -> Content {
    world.clients[who].store.message(id).unwrap().unwrap().content
}

fn reactions(world: &World, who: ClientId, id: &MessageId) -> Vec<StoredReaction> {
    world.clients[who].store.reactions(id).unwrap()
}

/// Every kind once, under rough faults, over several seeds.
fn every_kind(seed: u64, faults: Faults) {
    let (mut world, alice, bob) = World::alice_and_bob(seed);
    let (a, b) = (world.address(alice), world.address(bob));
    let first = text(&mut world, alice, b, "first draft");
    let secret = text(&mut world, alice, b, "secret words");
    let hello = text(&mut world, bob, a, "hello alice");
    world.drive();
    world.faults = faults;

    surely(&mut world, alice, |core, now| {
        core.handle_send_about(now, b, Content::reaction(hello, "👍", true))
    });
    surely(&mut world, bob, |core, now| {
        core.handle_send_about(now, a, Content::reaction(first, "🎉", true))
    });
    surely(&mut world, bob, |core, now| {
        core.handle_send_about(now, a, Content::reaction(first, "❤", true))
    });
    surely(&mut world, alice, |core, now| {
        core.handle_send_about(now, b, Content::edit(first, "second draft"))
    });
    surely(&mut world, alice, |core, now| {
        core.handle_send_about(now, b, Content::edit(first, "final"))
    });
    surely(&mut world, alice, |core, now| {
        core.handle_send_about(now, b, Content::edit(secret, "more secret words"))
    });
    surely(&mut world, alice, |core, now| {
        core.handle_send_about(now, b, Content::Delete(secret))
    });
    let reply = surely(&mut world, bob, |core, now| {
        core.handle_send_about(now, a, Content::reply(first, "agreed"))
    });
    let one = surely(&mut world, bob, |core, now| {
        core.handle_send_about(now, a, Content::in_thread(first, "on it"))
    });
    world.run(200);
    surely(&mut world, bob, |core, now| {
        core.handle_send_about(now, a, Content::reaction(first, "🎉", false))
    });
    let two = surely(&mut world, alice, |core, now| {
        core.handle_send_about(now, b, Content::in_thread(first, "thanks"))
    });
    world.heal();

    let (alice_address, bob_address) = (a, b);
    for who in [alice, bob] {
        let name = world.clients[who].name;
        assert_eq!(content(&world, who, &first), Content::text("final"), "{name}");
        assert_eq!(
            world.clients[who].store.edits(&first).unwrap(),
            vec!["first draft", "second draft"],
            "{name}"
        );
        assert_eq!(
            content(&world, who, &secret),
            Content::tombstone(secret),
            "{name}"
        );
        assert!(
            world.clients[who].store.edits(&secret).unwrap().is_empty(),
            "{name}"
        );
        let store = format!("{:?}", world.clients[who].store);
        assert!(
            !store.contains("secret words"),
            "{name}: a deleted text is still stored"
        );
        assert_eq!(
            reactions(&world, who, &first),
            vec![StoredReaction {
                by: bob_address,
                emoji: "❤".into()
            }],
            "{name}"
        );
        assert_eq!(
            reactions(&world, who, &hello),
            vec![StoredReaction {
                by: alice_address,
                emoji: "👍".into()
            }],
            "{name}"
        );
        assert_eq!(
            content(&world, who, &reply),
            Content::reply(first, "agreed"),
            "{name}"
        );
        let thread = world.clients[who].store.thread(&first, None, 10).unwrap();
        let ids: Vec<MessageId> = thread.iter().map(|entry| entry.message.id).collect();
        assert_eq!(ids, vec![one, two], "{name}: the thread");
        let page = world.clients[who]
            .store
            .thread(&first, Some(thread[1].position), 10)
            .unwrap();
        assert_eq!(page.len(), 1, "{name}: the thread's page before its last message");
        world.assert_idle(who);
    }
    // A crash eats the events behind an applied commit (the app rereads the store).
    if world.clients[bob].crashes > 0 {
        return;
    }
    let bob_saw = &world.clients[bob].app.surface;
    assert!(bob_saw.contains(&Event::MessageDeleted { peer: a, id: secret }));
    assert!(bob_saw.contains(&Event::MessageEdited {
        peer: a,
        id: first,
        text: "final".into()
    }));
}

#[test]
fn every_kind_reaches_both_stores_under_faults() {
    for seed in 0..40 {
        every_kind(seed, Faults::rough());
    }
}

#[test]
fn edits_and_deletes_of_a_message_one_did_not_send_are_refused() {
    let (mut world, alice, bob) = World::alice_and_bob(100);
    let (a, b) = (world.address(alice), world.address(bob));
    let hello = text(&mut world, bob, a, "hello");
    world.drive();
    let now = world.now;
    let core = &mut world.clients[alice].core;
    assert_eq!(
        core.handle_send_about(now, b, Content::edit(hello, "forged")),
        Err(SurfaceError::NotOwnMessage { id: hello })
    );
    assert_eq!(
        core.handle_send_about(now, b, Content::Delete(hello)),
        Err(SurfaceError::NotOwnMessage { id: hello })
    );
    let unknown = MessageId([0x55; 16]);
    assert_eq!(
        core.handle_send_about(now, b, Content::edit(unknown, "x")),
        Err(SurfaceError::UnknownMessage { id: unknown })
    );
    assert_eq!(
        core.handle_send_about(now, b, Content::reaction(unknown, "👍", true)),
        Err(SurfaceError::UnknownMessage { id: unknown })
    );
    // Bob's message is not in a conversation with anyone else.
    let carol = world.add_client("carol");
    let c = world.address(carol);
    let now = world.now;
    assert_eq!(
        world.clients[alice]
            .core
            .handle_send_about(now, c, Content::reaction(hello, "👍", true)),
        Err(SurfaceError::UnknownMessage { id: hello })
    );
}

#[test]
fn an_edit_by_someone_who_did_not_send_the_message_is_ignored_with_an_event() {
    let (mut world, alice, bob) = World::alice_and_bob(101);
    let (a, b) = (world.address(alice), world.address(bob));
    let mine = text(&mut world, alice, b, "alice wrote this");
    world.drive();
    world.faults = Faults::rough();
    // A modified client skips the check and sends edits and a delete of Alice's message.
    let forged_edit = world.send(bob, a, Content::edit(mine, "bob's words")).unwrap();
    let forged_delete = world.send(bob, a, Content::Delete(mine)).unwrap();
    world.heal();
    assert_eq!(content(&world, alice, &mine), Content::text("alice wrote this"));
    assert!(world.clients[alice].store.edits(&mine).unwrap().is_empty());
    let ignored = &world.clients[alice].app.surface;
    for effect in [forged_edit, forged_delete] {
        assert!(
            ignored.contains(&Event::EffectIgnored {
                peer: b,
                effect,
                target: mine,
                reason: IgnoredReason::NotAuthor
            }),
            "{ignored:?}"
        );
    }
}

#[test]
fn a_reaction_to_a_message_the_receiver_deleted_is_ignored() {
    let (mut world, alice, bob) = World::alice_and_bob(102);
    let (a, b) = (world.address(alice), world.address(bob));
    let gone = text(&mut world, alice, b, "soon gone");
    world.drive();
    world.faults = Faults::rough();
    // Both at once: Bob reacts before Alice's delete reaches him.
    surely(&mut world, alice, |core, now| {
        core.handle_send_about(now, b, Content::Delete(gone))
    });
    let reaction = surely(&mut world, bob, |core, now| {
        core.handle_send_about(now, a, Content::reaction(gone, "👍", true))
    });
    world.heal();
    for who in [alice, bob] {
        assert_eq!(content(&world, who, &gone), Content::tombstone(gone));
        assert!(reactions(&world, who, &gone).is_empty());
    }
    assert!(world.clients[alice].app.surface.contains(&Event::EffectIgnored {
        peer: b,
        effect: reaction,
        target: gone,
        reason: IgnoredReason::TargetDeleted
    }));
    // And now Bob knows it is deleted: he cannot react any more.
    let now = world.now;
    assert_eq!(
        world.clients[bob]
            .core
            .handle_send_about(now, a, Content::reaction(gone, "👍", true)),
        Err(SurfaceError::Deleted { id: gone })
    );
}
