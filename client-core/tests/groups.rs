#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Group control over the pairwise sessions (proto/PROTOCOL.md "Group control messages"): a
//! group made, grown and shrunk while the harness relay drops, refuses, duplicates and crashes;
//! every member ends with the same state, holds a current sender key of every other member
//! device, and a removed member holds none and gets no key of a later epoch.

mod harness;

use std::collections::BTreeSet;

use harness::{ClientId, Faults, World};
use hush_client_core::groups::GroupId;
use hush_client_core::{Address, peer_account_key};

fn people(seed: u64, names: &[&'static str]) -> (World, Vec<ClientId>) {
    World::contacts(seed, names, &[])
}

fn members(world: &World, id: ClientId, group: &GroupId) -> Option<(u64, BTreeSet<Address>)> {
    let state = world.clients[id].core.group(group)?;
    let members = state
        .members()
        .keys()
        .map(|key| Address::from_bytes(*key.as_bytes()).unwrap())
        .collect();
    Some((state.version(), members))
}

/// Every client in `ids` holds `group` at the same version with the same members, and each of
/// them holds the sender key of every other one at that one's current epoch.
fn assert_converged(world: &World, ids: &[ClientId], group: &GroupId) {
    let first = members(world, ids[0], group).expect("the group reached every member");
    for id in ids {
        assert_eq!(
            members(world, *id, group).as_ref(),
            Some(&first),
            "{}",
            world.clients[*id].name
        );
    }
    for id in ids {
        let own = world.clients[*id].core.group_chains(group).unwrap();
        let epoch = own.own_epoch.expect("a member has a sending chain");
        let device = world.clients[*id].core.account().identity_key();
        for other in ids.iter().filter(|other| *other != id) {
            let theirs = world.clients[*other].core.group_chains(group).unwrap();
            assert!(
                theirs.received.contains(&(device, epoch)),
                "{} holds {}'s chain of epoch {epoch}",
                world.clients[*other].name,
                world.clients[*id].name
            );
        }
    }
}

fn run_group_life(seed: u64, faults: Faults) {
    let (mut world, ids) = people(seed, &["alice", "bob", "carol", "dave"]);
    let [alice, bob, carol, dave] = ids[..] else {
        unreachable!()
    };
    let account = |world: &World, id| world.account_address(id);
    world.faults = faults;
    let invited = [account(&world, bob), account(&world, carol)];
    let group = world
        .group(alice, |core, now| core.create_group(now, "climbing", &invited))
        .unwrap();
    world.run(200);
    world.heal();
    world.drive();
    assert_converged(&world, &[alice, bob, carol], &group);
    assert!(
        world.clients[dave].core.group(&group).is_none(),
        "dave was not invited"
    );

    world.faults = faults;
    let dave_account = account(&world, dave);
    world
        .group(alice, |core, now| core.group_add(now, group, &[dave_account]))
        .unwrap();
    world.run(200);
    world.heal();
    world.drive();
    assert_converged(&world, &[alice, bob, carol, dave], &group);

    world.faults = faults;
    let carol_account = account(&world, carol);
    let carol_epoch_seen: Vec<u64> = [alice, bob, dave]
        .iter()
        .map(|id| {
            world.clients[*id]
                .core
                .group_chains(&group)
                .unwrap()
                .own_epoch
                .unwrap()
        })
        .collect();
    world
        .group(alice, |core, now| core.group_remove(now, group, &[carol_account]))
        .unwrap();
    world.run(200);
    world.heal();
    world.drive();
    assert_converged(&world, &[alice, bob, dave], &group);
    // Every remaining member rotated, and carol holds no chain of any of them any more, nor a
    // key of its own.
    for (id, before) in [alice, bob, dave].iter().zip(carol_epoch_seen) {
        let now = world.clients[*id]
            .core
            .group_chains(&group)
            .unwrap()
            .own_epoch
            .unwrap();
        assert!(
            now > before,
            "{} rotated after carol left",
            world.clients[*id].name
        );
    }
    let (_, seen_by_carol) = members(&world, carol, &group).unwrap();
    assert!(
        !seen_by_carol.contains(&carol_account),
        "carol knows she was removed"
    );
    let carol_chains = world.clients[carol].core.group_chains(&group).unwrap();
    assert_eq!(carol_chains.own_epoch, None);
    assert!(
        carol_chains.received.is_empty(),
        "carol keeps no keys: {:?}",
        carol_chains.received
    );
    assert!(!world.clients[carol].core.is_group_member(&group));
    // Nobody keeps carol's chain.
    let carol_device = world.clients[carol].core.account().identity_key();
    for id in [alice, bob, dave] {
        let chains = world.clients[id].core.group_chains(&group).unwrap();
        assert!(chains.received.iter().all(|(device, _)| *device != carol_device));
    }
    assert!(peer_account_key(&carol_account).is_some());
}

#[test]
fn a_group_converges_through_create_add_and_remove() {
    run_group_life(31, Faults::default());
}

#[test]
fn a_group_converges_through_create_add_and_remove_on_a_rough_network() {
    for seed in [32, 33, 34] {
        run_group_life(seed, Faults::rough());
    }
}

#[test]
fn only_admins_change_a_group_and_strangers_are_refused() {
    let (mut world, ids) = people(35, &["alice", "bob", "carol"]);
    let [alice, bob, carol] = ids[..] else {
        unreachable!()
    };
    let bob_account = world.account_address(bob);
    let group = world
        .group(alice, |core, now| {
            core.create_group(now, "family", &[bob_account])
        })
        .unwrap();
    world.drive();
    let carol_account = world.account_address(carol);
    // Bob is a member, not an admin.
    let refused = world.group(bob, |core, now| core.group_add(now, group, &[carol_account]));
    assert!(
        matches!(refused, Err(hush_client_core::GroupCommandError::Refused(_))),
        "{refused:?}"
    );
    // Carol was never in it.
    let refused = world.group(carol, |core, now| core.group_leave(now, group));
    assert_eq!(refused, Err(hush_client_core::GroupCommandError::UnknownGroup));
    // An account we never talked to cannot be added.
    let mut other = World::new(36);
    let stranger = other.add_client("stranger");
    let stranger_account = other.account_address(stranger);
    let refused = world.group(alice, |core, now| core.group_add(now, group, &[stranger_account]));
    assert_eq!(
        refused,
        Err(hush_client_core::GroupCommandError::UnknownAccount { index: 0 })
    );
    world.drive();
    assert_converged(&world, &[alice, bob], &group);
    // Bob leaves: alice rotates, bob keeps nothing.
    world
        .group(bob, |core, now| core.group_leave(now, group))
        .unwrap();
    world.drive();
    let alice_chains = world.clients[alice].core.group_chains(&group).unwrap();
    assert_eq!(alice_chains.own_epoch, Some(1));
    assert!(alice_chains.received.is_empty());
    assert_eq!(
        world.clients[bob].core.group_chains(&group).unwrap().own_epoch,
        None
    );
}
