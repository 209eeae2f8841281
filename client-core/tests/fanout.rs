#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Fan-out to a contact's devices (proto/PROTOCOL.md "Accounts with several devices"): Alice
//! writes to Bob's account address, and each of Bob's two devices gets every message once, in
//! order, with the same id; each of Bob's devices writes to Alice's account address, and Alice
//! files what both send under Bob's account, in each device's order. Over the harness relay,
//! with its faults (drops, crashes, refusals, duplicates, restarts).

mod harness;

use harness::{ClientId, Faults, World};
use hush_client_core::{Address, Content, Direction, MessageStatus};

/// Alice, and Bob with a phone and a laptop linked into one account; each has the other's
/// account as a contact (adding a contact accepts it and pins its list).
fn alice_and_two_bobs(seed: u64) -> (World, ClientId, ClientId, ClientId) {
    let mut world = World::new(seed);
    let alice = world.add_client("alice");
    let phone = world.add_client("bob-phone");
    let laptop = world.add_joining_client("bob-laptop");
    for id in [alice, phone, laptop] {
        world.connect(id);
    }
    world.drive();
    world.link(phone, laptop);
    world.drive();
    assert_eq!(
        world.account_address(laptop),
        world.account_address(phone),
        "the laptop joined the phone's account"
    );
    let (alice_account, bob_account) = (world.account_address(alice), world.account_address(phone));
    world.accept(alice, bob_account);
    world.accept(phone, alice_account);
    world.accept(laptop, alice_account);
    world.drive();
    for id in [alice, phone, laptop] {
        world.clients[id].app.unordered_peers = true;
    }
    (world, alice, phone, laptop)
}

fn texts(world: &World, id: ClientId, peer: Address, direction: Direction, prefix: &str) -> Vec<String> {
    world
        .history(id, peer, direction)
        .into_iter()
        .filter_map(|message| match message.content {
            Content::Text(text) if text.starts_with(prefix) => Some(text),
            _ => None,
        })
        .collect()
}

/// Sends `count` messages from each of `senders` in turn (each to `to`), running `units` of the
/// world between rounds; the texts are `"<name> #<n>"`.
fn exchange(world: &mut World, senders: &[(ClientId, Address)], count: usize, units: usize) {
    for n in 0..count {
        for (from, to) in senders {
            let name = world.clients[*from].name;
            world.send(*from, *to, Content::text(format!("{name} #{n}")));
        }
        world.run(units);
    }
    world.heal();
    world.drive();
}

/// Everything each side meant to send, in its order.
fn sent_texts(world: &World, id: ClientId) -> Vec<String> {
    world.clients[id]
        .sent
        .iter()
        .filter_map(|sent| match &sent.content {
            Content::Text(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn check(world: &World, alice: ClientId, phone: ClientId, laptop: ClientId) {
    let (alice_account, bob_account) = (world.account_address(alice), world.account_address(phone));
    // Each of Bob's devices holds every message Alice queued, once, in her order, same ids.
    let from_alice = sent_texts(world, alice);
    assert!(!from_alice.is_empty());
    let ids = |id: ClientId| -> Vec<_> {
        world
            .history(id, alice_account, Direction::Incoming)
            .into_iter()
            .map(|message| message.id)
            .collect()
    };
    for bob in [phone, laptop] {
        assert_eq!(
            texts(world, bob, alice_account, Direction::Incoming, "alice"),
            from_alice
        );
        // Nothing filed under Alice's device address: she is one contact, her account.
        assert!(
            world
                .history(bob, world.address(alice), Direction::Incoming)
                .is_empty()
        );
    }
    assert_eq!(ids(phone), ids(laptop), "both devices hold the same ids");
    let alice_ids: Vec<_> = world.clients[alice].sent.iter().map(|sent| sent.id).collect();
    assert_eq!(ids(phone), alice_ids);
    // Alice files both devices' messages under Bob's account, each device's in its order.
    for (bob, prefix) in [(phone, "bob-phone"), (laptop, "bob-laptop")] {
        assert_eq!(
            texts(world, alice, bob_account, Direction::Incoming, prefix),
            sent_texts(world, bob),
            "{prefix}'s messages at Alice"
        );
        assert!(
            world
                .history(alice, world.address(bob), Direction::Incoming)
                .is_empty()
        );
    }
    // Receipts from Bob's devices reach Alice's messages (filed under Bob's account).
    for id in &alice_ids {
        assert_eq!(world.status(alice, id), Some(MessageStatus::Delivered));
    }
    for bob in [phone, laptop] {
        for sent in &world.clients[bob].sent {
            assert_eq!(world.status(bob, &sent.id), Some(MessageStatus::Delivered));
        }
    }
}

#[test]
fn every_device_of_a_contact_gets_each_message_once_in_order_with_one_id() {
    let (mut world, alice, phone, laptop) = alice_and_two_bobs(1);
    let send_many = world.relay.stats.send_many;
    let (alice_account, bob_account) = (world.account_address(alice), world.account_address(phone));
    exchange(
        &mut world,
        &[
            (alice, bob_account),
            (phone, alice_account),
            (laptop, alice_account),
        ],
        20,
        30,
    );
    check(&world, alice, phone, laptop);
    // Alice's messages (and receipts) to Bob's two devices went out as one upload each.
    assert!(world.relay.stats.send_many >= send_many + 20);
}

#[test]
fn fan_out_survives_drops_crashes_refusals_duplicates_and_relay_restarts() {
    for seed in 0..6 {
        let (mut world, alice, phone, laptop) = alice_and_two_bobs(100 + seed);
        world.faults = Faults::rough();
        let (alice_account, bob_account) = (world.account_address(alice), world.account_address(phone));
        exchange(
            &mut world,
            &[
                (alice, bob_account),
                (phone, alice_account),
                (laptop, alice_account),
            ],
            25,
            40,
        );
        check(&world, alice, phone, laptop);
    }
}
