#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! A group of strangers (proto/PROTOCOL.md "Group control messages"): Alice makes a group of
//! her contacts at once, before any of their device lists is answered, and the members are not
//! each other's contacts (nor Alice's). Every member still joins, sets up pairwise sessions with
//! every other member, takes every other member device's sender key and files every message
//! under its author's account, exactly once and in order per sender, on a calm and on a rough
//! network.

mod harness;

use harness::{ClientId, Faults, World};
use hush_client_core::groups::GroupId;
use hush_client_core::{Address, Content, Direction, Store};

const NAMES: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

/// Five accounts (bob with a second device), online and quiet; nobody is anybody's contact.
fn strangers(seed: u64) -> (World, Vec<ClientId>) {
    let mut world = World::new(seed);
    let mut ids: Vec<ClientId> = NAMES.iter().map(|name| world.add_client(name)).collect();
    let laptop = world.add_joining_client("bob-laptop");
    for id in ids.iter().chain([&laptop]) {
        world.connect(*id);
    }
    world.drive();
    world.link(ids[1], laptop);
    world.drive();
    ids.push(laptop);
    for id in &ids {
        world.clients[*id].app.unordered_peers = true;
    }
    (world, ids)
}

/// Alice accepts the other four as contacts and makes the group in the same instant, her
/// contacts' lists not answered yet.
fn make_group(world: &mut World, ids: &[ClientId]) -> GroupId {
    let invited: Vec<Address> = ids[1..5].iter().map(|id| world.account_address(*id)).collect();
    for account in &invited {
        world.accept(ids[0], *account);
    }
    world
        .group(ids[0], |core, now| core.create_group(now, "strangers", &invited))
        .expect("a group of contacts whose lists are not answered yet")
}

fn run(seed: u64, faults: Faults) {
    let (mut world, ids) = strangers(seed);
    world.faults = faults;
    let group = make_group(&mut world, &ids);
    world.run(300);
    world.heal();
    world.drive();
    for id in &ids {
        assert!(
            world.clients[*id].core.is_group_member(&group),
            "{} joined; dropped {:?}",
            world.clients[*id].name,
            world.clients[*id].app.dropped
        );
    }
    let queued = world.group_exchange(&ids, group, "says", 4, 30);
    for id in &ids {
        for (sender, expected) in &queued {
            let prefix = format!("{} says ", world.clients[*sender].name);
            let got = world.texts_by(*id, group.conversation(), *sender, &prefix);
            assert_eq!(
                &got, expected,
                "seed {seed}: {} from {}; dropped {:?}",
                world.clients[*id].name, world.clients[*sender].name, world.clients[*id].app.dropped
            );
            let author = world.account_address(*sender);
            if world.account_address(*id) == author {
                continue;
            }
            // Filed under the author's account, not its device.
            for message in world
                .history(*id, group.conversation(), Direction::Incoming)
                .iter()
                .filter(|m| matches!(&m.content, Content::Text(t) if t.starts_with(&prefix)))
            {
                assert_eq!(
                    world.clients[*id].store.author(&message.id).unwrap(),
                    Some(author),
                    "seed {seed}: author at {}",
                    world.clients[*id].name
                );
            }
        }
    }
    let total: usize = queued.iter().map(|(_, texts)| texts.len()).sum();
    assert!(total >= ids.len() * 3, "most messages were queued: {total}");
}

#[test]
fn a_group_of_strangers_made_before_any_list_is_answered_talks() {
    run(71, Faults::default());
}

#[test]
fn a_group_of_strangers_talks_on_a_rough_network() {
    for seed in [72, 73, 74] {
        run(seed, Faults::rough());
    }
}

/// A group whose member devices outnumber what one `SendShared` reaches (1,000): `send_group`
/// refuses at once with `TooManyDevices`, queueing nothing; one of 996 devices takes it. The
/// member accounts are lists published straight into the harness relay (6 devices each, no
/// clients behind them).
#[test]
fn a_send_to_more_than_a_thousand_devices_is_refused_at_once() {
    use hush_client_core::GroupSendError;
    use hush_crypto::devices::{AccountSigningKey, DeviceEntry};
    use rand::SeedableRng;

    let (mut world, alice, _) = World::alice_and_bob(81);
    let mut rng = rand::rngs::StdRng::seed_from_u64(82);
    let mut accounts = Vec::new();
    for _ in 0..168 {
        let signing = AccountSigningKey::generate(&mut rng);
        let devices: Vec<hush_crypto::Account> =
            (0..6).map(|_| hush_crypto::Account::new(1, &mut rng)).collect();
        let entries = devices
            .iter()
            .map(|device| DeviceEntry::new(device.identity_key(), 1))
            .collect();
        let list = signing.sign_device_list(1, entries).unwrap();
        let memberships = devices
            .iter()
            .map(|device| {
                (
                    *device.identity_key().as_bytes(),
                    device.sign_membership(&signing.public()),
                )
            })
            .collect();
        let account = *signing.public().as_bytes();
        world
            .relay
            .device_lists
            .insert(account, (1, list.to_bytes(), memberships));
        accounts.push(Address::from_bytes(account).unwrap());
    }
    for account in &accounts {
        world.accept(alice, *account);
    }
    while !accounts
        .iter()
        .all(|account| world.clients[alice].core.peer_lists().has(account))
    {
        assert!(world.step(), "the lists were answered");
    }
    let big = world
        .group(alice, |core, now| core.create_group(now, "big", &accounts))
        .unwrap();
    let before = world.clients[alice].core.outbox_len();
    let refused = world.group(alice, |core, now| core.send_group(now, big, Content::text("hi")));
    assert_eq!(
        refused,
        Err(GroupSendError::TooManyDevices {
            devices: 168 * 6,
            max: 1000
        })
    );
    assert_eq!(world.clients[alice].core.outbox_len(), before, "nothing queued");
    let fits = world
        .group(alice, |core, now| {
            core.create_group(now, "fits", &accounts[..166])
        })
        .unwrap();
    assert!(
        world
            .group(alice, |core, now| core.send_group(now, fits, Content::text("hi")))
            .is_ok()
    );
}
