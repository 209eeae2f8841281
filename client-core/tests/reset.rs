#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! A profile restored from an older copy, through the socket-free harness: the session is
//! reset, both sides resend what the other had not confirmed, and every message arrives once.

mod harness;

use std::collections::HashSet;

use harness::{ClientId, World};
use hush_client_core::{Content, Direction, MessageId, MessageStatus};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// `per_side` messages each way, interleaved at random, the world stepping in between.
fn exchange(world: &mut World, rng: &mut StdRng, round: &str, per_side: usize) {
    let (alice, bob) = (0, 1);
    let addresses = [world.address(alice), world.address(bob)];
    let mut sent = [0, 0];
    while sent.iter().any(|n| *n < per_side) {
        let from = if sent[0] == per_side {
            bob
        } else if sent[1] == per_side {
            alice
        } else {
            rng.random_range(0..2)
        };
        let text = format!("{} {round} #{}", world.clients[from].name, sent[from]);
        world
            .send(from, addresses[1 - from], Content::text(text))
            .expect("no crashes in this world");
        sent[from] += 1;
        world.run(rng.random_range(0..30));
    }
}

/// Every message `from` ever sent `to` reached `to`'s app exactly once (the app itself panics
/// on a second copy), and `from`'s store shows none of them short of delivered.
fn assert_all_arrived(world: &World, from: ClientId, to: ClientId) {
    let (sender, receiver) = (&world.clients[from], &world.clients[to]);
    let who = format!("{} → {}", sender.name, receiver.name);
    let seen: Vec<MessageId> = receiver.app.received[&sender.address]
        .iter()
        .map(|message| message.id)
        .collect();
    let sent: Vec<MessageId> = sender.sent.iter().map(|s| s.id).collect();
    assert_eq!(
        seen.iter().collect::<HashSet<_>>(),
        sent.iter().collect::<HashSet<_>>(),
        "{who}: the messages seen are not the messages sent ({} seen, {} sent)",
        seen.len(),
        sent.len()
    );
    assert_eq!(seen.len(), sent.len(), "{who}: a message was seen twice");
    for message in world.history(from, receiver.address, Direction::Outgoing) {
        assert!(
            matches!(message.status, MessageStatus::Delivered | MessageStatus::Read),
            "{who}: {} ({:?}) stays {:?}",
            message.id,
            message.content,
            message.status
        );
    }
}

/// Snapshot Alice's store, exchange 20 messages both ways, restore the snapshot, exchange 20
/// more both ways: every message arrives exactly once, both sides hear of the reset, nothing
/// stays `Sent`.
#[test]
fn a_profile_restored_from_a_backup_loses_no_message() {
    for seed in 0..8 {
        let (mut world, alice, bob) = World::alice_and_bob(100 + seed);
        let mut rng = StdRng::seed_from_u64(seed);
        exchange(&mut world, &mut rng, "before", 5);
        world.drive();
        let backup = world.clients[alice].store.clone();
        exchange(&mut world, &mut rng, "after the backup", 20);
        world.drive();
        world.restore_backup(alice, backup);
        exchange(&mut world, &mut rng, "after the restore", 20);
        world.drive();
        assert_all_arrived(&world, alice, bob);
        assert_all_arrived(&world, bob, alice);
        for id in [alice, bob] {
            let client = &world.clients[id];
            let peer = world.address(1 - id);
            assert!(
                client.app.resets.iter().any(|(about, _)| *about == peer),
                "seed {seed}: {} never heard of a reset",
                client.name
            );
            assert!(
                client.app.resets.len() <= 2,
                "seed {seed}: {} reset {} times: {:?}",
                client.name,
                client.app.resets.len(),
                client.app.resets
            );
            world.assert_idle(id);
        }
    }
}

/// As above, but the relay holds back the first message sent after the restore until the reset
/// is over: it comes on the old session, and must not pull its receiver back onto a session the
/// sender dropped (under the "smaller session id wins" rule) and lose what follows.
#[test]
fn a_message_delayed_past_a_reset_loses_nothing() {
    for seed in 0..12 {
        for delayed in [0, 1] {
            let (mut world, alice, bob) = World::alice_and_bob(200 + seed);
            let mut rng = StdRng::seed_from_u64(seed);
            exchange(&mut world, &mut rng, "before", 5);
            world.drive();
            let backup = world.clients[alice].store.clone();
            exchange(&mut world, &mut rng, "after the backup", 20);
            world.drive();
            world.restore_backup(alice, backup);
            world.drive();
            // The restored side (or its peer) sends first, on the old session; the relay
            // stores it and sits on it.
            world.relay.hold_back = Some(world.address(1 - delayed).mailbox());
            exchange(&mut world, &mut rng, "after the restore", 20);
            world.drive();
            assert_eq!(world.relay.release_held_back(world.now), 1);
            world.drive();
            exchange(&mut world, &mut rng, "after the delayed one", 5);
            world.drive();
            assert_all_arrived(&world, alice, bob);
            assert_all_arrived(&world, bob, alice);
            for id in [alice, bob] {
                let client = &world.clients[id];
                assert!(
                    // A held-back reset is started again once the quiet time is over.
                    !client.app.resets.is_empty() && client.app.resets.len() <= 4,
                    "seed {seed}, delayed from {delayed}: {} had resets {:?}",
                    client.name,
                    client.app.resets
                );
                world.assert_idle(id);
            }
        }
    }
}

/// A relay that answers `Stored` for a message and then drops it for good leaves a gap the
/// receiver cannot fill: waiting on it too long resets the session, and the sender resends
/// what was never confirmed, the dropped message among it.
#[test]
fn a_gap_that_cannot_fill_is_closed_by_a_reset() {
    for seed in 0..6 {
        let (mut world, alice, bob) = World::alice_and_bob(300 + seed);
        let mut rng = StdRng::seed_from_u64(seed);
        let alice_address = world.address(alice);
        exchange(&mut world, &mut rng, "before", 5);
        world.drive();
        world.relay.hold_back = Some(alice_address.mailbox());
        for n in 0..10 {
            world.send(bob, alice_address, Content::text(format!("bob #{n}")));
            world.run(rng.random_range(0..30));
        }
        world.drive();
        assert_eq!(world.relay.held_back.len(), 1, "the relay kept one message back");
        assert_all_arrived(&world, alice, bob);
        assert_all_arrived(&world, bob, alice);
        for id in [alice, bob] {
            assert!(
                !world.clients[id].app.resets.is_empty(),
                "seed {seed}: {} never heard of a reset",
                world.clients[id].name
            );
            world.assert_idle(id);
        }
    }
}
