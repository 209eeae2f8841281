#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Group messages (proto/PROTOCOL.md "Group messages"): each one encrypted once on its sender's
//! chain and written as one `SendShared` to every member device. Five devices of four accounts
//! (Bob has two) exchange messages while the harness relay drops, refuses, duplicates and
//! crashes: every member device gets every other device's messages exactly once, in that
//! device's order, with the author recorded; Bob's devices see each other's as their own. After
//! Carol is removed nobody sends to her, and a later message re-sealed to her does not open.

mod harness;

use harness::{ClientId, Faults, World};
use hush_client_core::groups::GroupId;
use hush_client_core::{Address, Content, Direction, Event, Store};

const NAMES: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// The world, its clients (alice, bob, carol, dave, bob's laptop) and a group of all four
/// accounts made by alice, settled.
fn group_of_four(seed: u64) -> (World, Vec<ClientId>, GroupId) {
    let (mut world, ids) = World::contacts(seed, &NAMES, &[(1, "bob-laptop")]);
    let invited: Vec<Address> = ids[1..4].iter().map(|id| world.account_address(*id)).collect();
    let group = world
        .group(ids[0], |core, now| core.create_group(now, "climbing", &invited))
        .unwrap();
    world.drive();
    for id in &ids {
        assert!(
            world.clients[*id].core.is_group_member(&group),
            "{}",
            world.clients[*id].name
        );
    }
    (world, ids, group)
}

/// The texts in `id`'s group history written by `sender`'s device (its name prefixes them),
/// in history order.
fn texts_from(world: &World, id: ClientId, group: &GroupId, sender: ClientId, tag: &str) -> Vec<String> {
    let prefix = format!("{} {tag} ", world.clients[sender].name);
    world.texts_by(id, group.conversation(), sender, &prefix)
}

fn assert_everyone_got_everything(
    world: &World,
    ids: &[ClientId],
    group: &GroupId,
    tag: &str,
    queued: &[(ClientId, Vec<String>)],
) {
    for id in ids {
        for (sender, expected) in queued {
            let got = texts_from(world, *id, group, *sender, tag);
            assert_eq!(
                &got,
                expected,
                "{} from {}; dropped {:?}; stats {:?}",
                world.clients[*id].name,
                world.clients[*sender].name,
                world.clients[*id].app.dropped,
                world.stats
            );
            if world.account_address(*id) != world.account_address(*sender) {
                // Each incoming one names its author's account.
                let author = world.account_address(*sender);
                let history = world.history(*id, group.conversation(), Direction::Incoming);
                for message in history
                    .iter()
                    .filter(|m| matches!(&m.content, Content::Text(t) if got.contains(t)))
                {
                    assert_eq!(
                        world.clients[*id].store.author(&message.id).unwrap(),
                        Some(author)
                    );
                }
            }
        }
    }
}

fn run(seed: u64, faults: Faults) {
    let (mut world, ids, group) = group_of_four(seed);
    world.faults = faults;
    let queued = world.group_exchange(&ids, group, "hello", 6, 40);
    assert_everyone_got_everything(&world, &ids, &group, "hello", &queued);
    let total: usize = queued.iter().map(|(_, texts)| texts.len()).sum();
    assert!(total >= ids.len() * 5, "most messages were queued: {total}");
    // One upload per message: every message of the exchange went as one SendShared.
    assert!(world.relay.stats.shared >= total as u64);
}

#[test]
fn group_messages_reach_every_member_device_once_in_order() {
    run(41, Faults::default());
}

#[test]
fn group_messages_reach_every_member_device_once_in_order_on_a_rough_network() {
    for seed in [42, 43, 46, 47, 48, 49] {
        run(seed, Faults::rough());
    }
}

/// Messages sent while the group is still reaching its members (keys racing the log, key
/// requests answered after messages went out) are read by everyone all the same.
#[test]
fn messages_sent_while_the_group_is_still_forming_reach_everyone() {
    for seed in [50, 51, 52, 53] {
        let (mut world, ids) = World::contacts(seed, &NAMES, &[(1, "bob-laptop")]);
        world.faults = Faults::rough();
        let invited: Vec<Address> = ids[1..4].iter().map(|id| world.account_address(*id)).collect();
        let group = world
            .group(ids[0], |core, now| core.create_group(now, "climbing", &invited))
            .unwrap();
        let mut queued = world.group_exchange(&ids[..1], group, "early", 3, 3);
        // Each member sends as soon as it has joined.
        let joined: Vec<ClientId> = ids[1..]
            .iter()
            .copied()
            .filter(|id| world.clients[*id].core.is_group_member(&group))
            .collect();
        queued.extend(world.group_exchange(&joined, group, "early", 3, 3));
        assert_everyone_got_everything(&world, &ids, &group, "early", &queued);
    }
}

#[test]
fn a_removed_member_gets_nothing_sent_after_and_cannot_open_it() {
    let (mut world, ids, group) = group_of_four(44);
    let [alice, bob, carol, dave, laptop] = ids[..] else {
        unreachable!()
    };
    world.group_exchange(&ids, group, "before", 2, 10);
    let carol_account = world.account_address(carol);
    world
        .group(alice, |core, now| core.group_remove(now, group, &[carol_account]))
        .unwrap();
    world.drive();
    let log_before = world.relay.log.len();
    let remaining = [alice, bob, dave, laptop];
    let queued = world.group_exchange(&remaining, group, "after", 3, 10);
    assert_eq!(queued.iter().map(|(_, t)| t.len()).sum::<usize>(), 12);
    assert_everyone_got_everything(&world, &remaining, &group, "after", &queued);
    for sender in remaining {
        assert!(texts_from(&world, carol, &group, sender, "after").is_empty());
    }
    // Nothing after the removal went to carol's mailbox...
    let carol_mailbox = world.address(carol).mailbox();
    assert!(
        world.relay.log[log_before..]
            .iter()
            .all(|(to, _, _)| *to != carol_mailbox)
    );
    // ... and a later message of alice's, sealed to carol by someone who has it (bob), does not
    // open for her: she holds no chain of alice's new epoch.
    let bob_mailbox = world.address(bob).mailbox();
    let (_, _, envelope) = world.relay.log[log_before..]
        .iter()
        .find(|(to, _, bytes)| *to == bob_mailbox && bytes.first() == Some(&hush_proto::SHARED_ENVELOPE_TAG))
        .cloned()
        .expect("a group message to bob after the removal");
    let split = hush_proto::split_shared_envelope(&envelope).unwrap();
    let inner = world.clients[bob]
        .core
        .account()
        .open_shared(split.part, split.body)
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(45);
    let carol_key = world.clients[carol].core.account().identity_key();
    let seal = hush_crypto::sealed::seal_shared(&[carol_key], &inner, &mut rng).unwrap();
    let resealed = hush_proto::shared_envelope(
        &hush_proto::SharedPart::new(seal.parts[0].clone()).unwrap(),
        &hush_proto::SharedBody::new(seal.body).unwrap(),
    );
    let dropped_before = world.clients[carol].app.dropped.len();
    let now = world.now;
    world.relay.enqueue(carol_mailbox, resealed.into_bytes(), now);
    world.drive();
    assert!(
        world.clients[carol].app.dropped.len() > dropped_before,
        "carol dropped it"
    );
    let history = world.history(carol, group.conversation(), Direction::Incoming);
    assert!(
        history
            .iter()
            .all(|m| !matches!(&m.content, Content::Text(t) if t.contains(" after ")))
    );
    assert!(!world.clients[carol].app.group_events.is_empty());
    let _ = Event::GroupChanged { group };
}

/// Alice's messages reach bob in her order though her chain rotates between them: a message of
/// her new chain waits for the late last one of her old chain, and after the gap timeout it
/// waits no longer (the late one is still delivered, after it).
#[test]
fn a_senders_order_holds_across_its_chain_rotations() {
    let (mut world, ids, group) = group_of_four(46);
    let [alice, bob, carol, dave, laptop] = ids[..] else {
        unreachable!()
    };
    let bob_mailbox = world.address(bob).mailbox();
    let drain = |world: &mut World| while world.step() {};
    let send = |world: &mut World, text: &str| {
        let content = Content::text(text);
        world
            .group(alice, |core, now| core.send_group(now, group, content))
            .unwrap();
    };
    let remove = |world: &mut World, who: ClientId| {
        let account = world.account_address(who);
        world
            .group(alice, |core, now| core.group_remove(now, group, &[account]))
            .unwrap();
    };
    let at = |world: &World, who: ClientId| world.texts_by(who, group.conversation(), alice, "alice ");

    // Her last message on her first chain is late to bob (not to his laptop).
    world.relay.hold_back = Some(bob_mailbox);
    send(&mut world, "alice old");
    drain(&mut world);
    assert_eq!(
        world.relay.held_back.len(),
        1,
        "alice's message to bob is held back"
    );
    remove(&mut world, carol);
    drain(&mut world);
    send(&mut world, "alice new");
    drain(&mut world);
    assert_eq!(at(&world, laptop), ["alice old", "alice new"]);
    assert!(at(&world, bob).is_empty(), "bob delivered {:?}", at(&world, bob));
    let now = world.now;
    world.relay.release_held_back(now);
    world.drive();
    assert_eq!(at(&world, bob), ["alice old", "alice new"]);

    // Again, and the late one never comes in time: after GROUP_GAP_MS the new chain goes on.
    world.relay.hold_back = Some(bob_mailbox);
    send(&mut world, "alice old 2");
    drain(&mut world);
    remove(&mut world, dave);
    drain(&mut world);
    send(&mut world, "alice new 2");
    drain(&mut world);
    assert_eq!(at(&world, bob), ["alice old", "alice new"]);
    let held_since = world.now;
    world.drive();
    assert!(world.now >= held_since + hush_client_core::GROUP_GAP_MS);
    assert_eq!(at(&world, bob), ["alice old", "alice new", "alice new 2"]);
    let now = world.now;
    world.relay.release_held_back(now);
    world.drive();
    assert_eq!(
        at(&world, bob),
        ["alice old", "alice new", "alice new 2", "alice old 2"]
    );
}

use rand::SeedableRng;
