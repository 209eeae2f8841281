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
use hush_client_core::{Address, Content, Direction, MessageStatus, Store};

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

/// An account with `names.len()` devices: the first makes it, the others join it.
fn account(world: &mut World, names: &[&'static str]) -> Vec<ClientId> {
    let first = world.add_client(names[0]);
    let mut devices = vec![first];
    world.connect(first);
    world.drive();
    for name in &names[1..] {
        let new = world.add_joining_client(name);
        world.connect(new);
        world.drive();
        world.link(first, new);
        world.drive();
        assert_eq!(world.account_address(new), world.account_address(first));
        devices.push(new);
    }
    devices
}

/// Every device of `account` holds the same history with `peer` (ids, contents, directions,
/// as a set: messages from several devices have no order between them) and each sending
/// device's messages in that device's order.
fn histories_agree(
    world: &World,
    account: &[ClientId],
    peer: Address,
) -> Vec<(hush_client_core::MessageId, String)> {
    let sorted = |id: ClientId| {
        let mut all: Vec<_> = [Direction::Incoming, Direction::Outgoing]
            .into_iter()
            .flat_map(|direction| world.history(id, peer, direction))
            .map(|m| (m.id, format!("{:?}", m.content), m.direction))
            .collect();
        all.sort_by_key(|(id, _, _)| *id);
        all
    };
    let first = sorted(account[0]);
    for device in &account[1..] {
        let other = sorted(*device);
        let missing: Vec<_> = first
            .iter()
            .filter(|m| !other.contains(m))
            .map(|m| &m.1)
            .collect();
        let extra: Vec<_> = other
            .iter()
            .filter(|m| !first.contains(m))
            .map(|m| &m.1)
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}'s history with {peer} differs from {}'s: lacks {missing:?}, has more {extra:?}",
            world.clients[*device].name,
            world.clients[account[0]].name
        );
    }
    first.into_iter().map(|(id, text, _)| (id, text)).collect()
}

#[test]
fn two_devices_and_three_exchange_and_every_device_of_both_accounts_ends_with_one_history() {
    for (seed, faults) in [(7, Faults::default()), (8, Faults::rough()), (9, Faults::rough())] {
        let mut world = World::new(seed);
        let alice = account(&mut world, &["alice-phone", "alice-laptop"]);
        let bob = account(&mut world, &["bob-phone", "bob-laptop", "bob-tablet"]);
        let (alice_account, bob_account) = (world.account_address(alice[0]), world.account_address(bob[0]));
        for device in &alice {
            world.accept(*device, bob_account);
        }
        for device in &bob {
            world.accept(*device, alice_account);
        }
        world.drive();
        for device in alice.iter().chain(&bob) {
            world.clients[*device].app.unordered_peers = true;
        }
        world.faults = faults;
        let senders: Vec<(ClientId, Address)> = alice
            .iter()
            .map(|d| (*d, bob_account))
            .chain(bob.iter().map(|d| (*d, alice_account)))
            .collect();
        exchange(&mut world, &senders, 12, 40);

        let with_bob = histories_agree(&world, &alice, bob_account);
        let with_alice = histories_agree(&world, &bob, alice_account);
        // Both accounts hold the same messages, and each is every message any device sent.
        let mut all_sent: Vec<_> = alice
            .iter()
            .chain(&bob)
            .flat_map(|d| world.clients[*d].sent.iter().map(|s| s.id))
            .collect();
        all_sent.sort();
        let ids = |history: &[(hush_client_core::MessageId, String)]| {
            history.iter().map(|(id, _)| *id).collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&with_bob),
            all_sent,
            "seed {seed}: Alice's devices hold every message once"
        );
        assert_eq!(
            ids(&with_alice),
            all_sent,
            "seed {seed}: Bob's devices hold every message once"
        );
        // Each sending device's messages, on every device of the other account and on its own
        // account's other devices, are in the order it sent them.
        for sender in alice.iter().chain(&bob) {
            let name = world.clients[*sender].name;
            let (own, other, peer_of_own, peer_of_other) = if alice.contains(sender) {
                (&alice, &bob, bob_account, alice_account)
            } else {
                (&bob, &alice, alice_account, bob_account)
            };
            for device in other {
                assert_eq!(
                    texts(&world, *device, peer_of_other, Direction::Incoming, name),
                    sent_texts(&world, *sender),
                    "seed {seed}: {name} at {}",
                    world.clients[*device].name
                );
            }
            for device in own.iter().filter(|d| *d != sender) {
                assert_eq!(
                    texts(&world, *device, peer_of_own, Direction::Outgoing, name),
                    sent_texts(&world, *sender),
                    "seed {seed}: {name}'s copies at {}",
                    world.clients[*device].name
                );
                // Synced copies were announced, never as received messages.
                assert!(
                    world.clients[*device]
                        .app
                        .synced
                        .iter()
                        .any(|m| m.content == Content::text(format!("{name} #0")))
                );
            }
        }
    }
}

#[test]
fn reading_on_one_device_marks_the_messages_read_on_the_other_and_for_the_sender() {
    let mut world = World::new(11);
    let alice = account(&mut world, &["alice"]);
    let bob = account(&mut world, &["bob-phone", "bob-laptop"]);
    let (alice_account, bob_account) = (world.account_address(alice[0]), world.account_address(bob[0]));
    world.accept(alice[0], bob_account);
    for device in &bob {
        world.accept(*device, alice_account);
    }
    world.drive();
    for n in 0..3 {
        world.send(alice[0], bob_account, Content::text(format!("alice #{n}")));
    }
    world.drive();
    let read = world.mark_read(bob[0], alice_account);
    assert_eq!(read.len(), 3);
    world.drive();
    for id in &read {
        assert_eq!(
            world.status(bob[1], id),
            Some(MessageStatus::Seen),
            "the laptop marks it read"
        );
        assert_eq!(
            world.status(alice[0], id),
            Some(MessageStatus::Read),
            "Alice sees it read"
        );
    }
    assert_eq!(
        world.clients[bob[1]].app.read_elsewhere,
        vec![(alice_account, read.clone())]
    );
    assert!(
        world.clients[bob[1]]
            .store
            .unread(&alice_account)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_device_linked_later_is_announced_to_the_contact_and_gets_what_is_sent_after() {
    let (mut world, alice, phone, laptop) = alice_and_two_bobs(21);
    let (alice_account, bob_account) = (world.account_address(alice), world.account_address(phone));
    let before = world.send(alice, bob_account, Content::text("alice #0")).unwrap();
    world.drive();
    let tablet = world.add_joining_client("bob-tablet");
    world.connect(tablet);
    world.drive();
    world.link(phone, tablet);
    world.drive();
    world.clients[tablet].app.unordered_peers = true;
    // The tablet published its membership and told Alice, who fetched Bob's list again.
    let changed = world.clients[alice].app.device_events.iter().filter(|event| {
        matches!(event, hush_client_core::Event::ContactDevicesChanged { devices, .. } if devices.len() == 3)
    });
    assert_eq!(changed.count(), 1, "{:?}", world.clients[alice].app.device_events);
    // No drive here: Alice's message can reach the tablet before its fetch of her list is
    // answered; it claims her account, so it waits for the list and is filed under it.
    world.accept(tablet, alice_account);
    let after = world.send(alice, bob_account, Content::text("alice #1")).unwrap();
    world.drive();
    let got = |id| -> Vec<_> {
        world
            .history(id, alice_account, Direction::Incoming)
            .iter()
            .map(|m| m.id)
            .collect()
    };
    assert_eq!(got(phone), vec![before, after]);
    assert_eq!(got(laptop), vec![before, after]);
    assert_eq!(
        got(tablet),
        vec![after],
        "the tablet gets what was sent after it joined"
    );
    // And the tablet's own messages reach Alice and Bob's other devices.
    let from_tablet = world
        .send(tablet, alice_account, Content::text("bob-tablet #0"))
        .unwrap();
    world.drive();
    assert!(
        world
            .history(alice, bob_account, Direction::Incoming)
            .iter()
            .any(|m| m.id == from_tablet)
    );
    for device in [phone, laptop] {
        assert!(
            world
                .history(device, alice_account, Direction::Outgoing)
                .iter()
                .any(|m| m.id == from_tablet)
        );
    }
}

#[test]
fn content_from_a_contact_s_device_waits_for_its_list_and_is_filed_under_the_account() {
    let mut world = World::new(31);
    let alice = world.add_client("alice");
    let bob = world.add_client("bob");
    world.connect(alice);
    world.connect(bob);
    world.drive();
    let (alice_account, bob_account) = (world.account_address(alice), world.account_address(bob));
    world.accept(alice, bob_account);
    world.drive();
    // Bob adds Alice while offline: her list is asked for only when he logs in, and the relay
    // pushes what waits in his mailbox before it answers that fetch.
    world.go_offline(bob);
    world.accept(bob, alice_account);
    let sent: Vec<_> = (0..3)
        .map(|n| {
            world
                .send(alice, bob_account, Content::text(format!("alice #{n}")))
                .unwrap()
        })
        .collect();
    world.drive();
    world.connect(bob);
    world.drive();
    let filed: Vec<_> = world
        .history(bob, alice_account, Direction::Incoming)
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(filed, sent, "filed under Alice's account, in order");
    assert!(
        world
            .history(bob, world.address(alice), Direction::Incoming)
            .is_empty()
    );
    assert!(
        world.clients[bob].app.requests.is_empty(),
        "no message request from her device"
    );
    for id in &sent {
        assert_eq!(world.status(alice, id), Some(MessageStatus::Delivered));
    }
}
