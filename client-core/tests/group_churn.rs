#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! A group that changes while it talks (issue 19, "Must show"): five accounts, bob and dave with
//! two devices each. Alice makes a group of alice, bob and carol; while every member device keeps
//! sending and the harness relay drops, refuses, duplicates, restarts and crashes clients, alice
//! adds dave, removes carol, adds erin and removes bob. At the end:
//! - every device of a current member holds every message sent while (in its sender's view) its
//!   account was a member, exactly once, in its sender's order, with its author recorded;
//! - no device of a removed account holds any message sent after (in its sender's view) the
//!   removal;
//! - every current member device holds the same group state.

mod harness;

use std::collections::BTreeSet;

use harness::{ClientId, Faults, World};
use hush_client_core::groups::GroupId;
use hush_client_core::{Address, Content, Direction, Store};

const NAMES: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

/// Units of the world between rounds of messages: a change takes a few rounds to reach every
/// member on the rough network, so messages of the old and the new membership cross.
const UNITS_PER_ROUND: usize = 25;

/// One queued group message: its sender device, its text and the member accounts (as
/// addresses) the sender's core held the group to have when it was sent.
struct Sent {
    from: ClientId,
    text: String,
    members: BTreeSet<Account>,
}

/// An account, by its address's bytes (addresses are not ordered).
type Account = [u8; 32];

/// The group's member accounts as `id` holds them.
fn members(world: &World, id: ClientId, group: &GroupId) -> BTreeSet<Account> {
    world.clients[id]
        .core
        .group(group)
        .map(|state| state.members().keys().map(|key| *key.as_bytes()).collect())
        .unwrap_or_default()
}

/// The texts of `sender`'s device in `id`'s group history, in history order.
fn texts_from(world: &World, id: ClientId, group: &GroupId, sender: ClientId) -> Vec<String> {
    let prefix = format!("{} ", world.clients[sender].name);
    world.texts_by(id, group.conversation(), sender, &prefix)
}

/// One message from every device that holds itself a member, each recorded with its sender's
/// view of the members if its commit was applied (a crash may lose the call).
fn send_round(world: &mut World, ids: &[ClientId], group: GroupId, round: usize, sent: &mut Vec<Sent>) {
    for from in ids.iter().copied() {
        if !world.clients[from].core.is_group_member(&group) {
            continue;
        }
        let view = members(world, from, &group);
        let text = format!("{} #{round}", world.clients[from].name);
        let content = Content::text(text.clone());
        let Ok(id) = world.group(from, |core, now| core.send_group(now, group, content)) else {
            continue;
        };
        if world.clients[from].store.message(&id).unwrap().is_some() {
            sent.push(Sent {
                from,
                text,
                members: view,
            });
        }
    }
}

/// A membership change alice makes, retried (between rounds) until her state shows it: a crash
/// can lose the call before its commit.
enum Change {
    Add(Address),
    Remove(Address),
}

fn apply(world: &mut World, alice: ClientId, group: GroupId, change: &Change) -> bool {
    let done = |world: &World| match change {
        Change::Add(account) => members(world, alice, &group).contains(account.as_bytes()),
        Change::Remove(account) => !members(world, alice, &group).contains(account.as_bytes()),
    };
    if !done(world) {
        let _ = world.group(alice, |core, now| match change {
            Change::Add(account) => core.group_add(now, group, &[*account]),
            Change::Remove(account) => core.group_remove(now, group, &[*account]),
        });
    }
    done(world)
}

/// Runs one seed; returns how many client crashes it had.
fn run(seed: u64) -> u64 {
    let (mut world, ids) = World::contacts(seed, &NAMES, &[(1, "bob-2"), (3, "dave-2")]);
    let [alice, bob, carol, dave, erin, _bob2, _dave2] = ids[..] else {
        unreachable!()
    };
    let [
        alice_account,
        bob_account,
        carol_account,
        dave_account,
        erin_account,
    ] = [alice, bob, carol, dave, erin].map(|id| world.account_address(id));
    let group = world
        .group(alice, |core, now| {
            core.create_group(now, "ropes", &[bob_account, carol_account])
        })
        .unwrap();
    world.drive();
    world.faults = Faults::rough();

    let changes = [
        Change::Add(dave_account),
        Change::Remove(carol_account),
        Change::Add(erin_account),
        Change::Remove(bob_account),
    ];
    let mut sent = Vec::new();
    let mut next_change = 0;
    let mut round = 0;
    // Two rounds of messages between changes, and a few units of the world between rounds: the
    // changes reach the members while messages of both epochs are in flight.
    while next_change < changes.len() || round < 16 {
        send_round(&mut world, &ids, group, round, &mut sent);
        world.run(UNITS_PER_ROUND);
        if round % 2 == 1
            && next_change < changes.len()
            && apply(&mut world, alice, group, &changes[next_change])
        {
            next_change += 1;
        }
        round += 1;
        assert!(round < 60, "alice's changes kept failing");
    }
    world.heal();
    world.drive();
    // The last sends happened after every change reached its sender, but messages of every
    // epoch were in flight while the changes travelled.
    assert!(sent.len() >= 40, "messages were queued: {}", sent.len());

    let final_members = members(&world, alice, &group);
    assert_eq!(
        final_members,
        BTreeSet::from([
            *alice_account.as_bytes(),
            *dave_account.as_bytes(),
            *erin_account.as_bytes()
        ]),
    );
    let current: Vec<ClientId> = ids
        .iter()
        .copied()
        .filter(|id| final_members.contains(world.account_address(*id).as_bytes()))
        .collect();
    assert_eq!(current.len(), 4, "alice, dave's two devices and erin");
    let alice_state = world.clients[alice].core.group(&group).cloned();
    for id in &current {
        assert_eq!(
            world.clients[*id].core.group(&group).cloned(),
            alice_state,
            "{} ends with alice's state",
            world.clients[*id].name
        );
    }
    for id in &ids {
        let account = *world.account_address(*id).as_bytes();
        for sender in &ids {
            let got = texts_from(&world, *id, &group, *sender);
            let meant: Vec<String> = sent
                .iter()
                .filter(|s| s.from == *sender && s.members.contains(&account))
                .map(|s| s.text.clone())
                .collect();
            let sender_stays = final_members.contains(world.account_address(*sender).as_bytes());
            if final_members.contains(&account) && !sender_stays {
                // A sender removed later: what it sent before its removal reached a member only
                // while that member did not yet know of the removal (a member drops what comes
                // from a non-member), but what did arrive arrived once, in order.
                assert!(
                    is_subsequence(&got, &meant),
                    "{} from removed {} (seed {seed}): {got:?} of {meant:?}",
                    world.clients[*id].name,
                    world.clients[*sender].name,
                );
            } else if final_members.contains(&account) {
                assert_eq!(
                    got,
                    meant,
                    "{} from {} (seed {seed}); dropped {:?}; stats {:?}",
                    world.clients[*id].name,
                    world.clients[*sender].name,
                    world.clients[*id].app.dropped,
                    world.stats
                );
                if *world.account_address(*sender).as_bytes() != account {
                    let author = world.account_address(*sender);
                    for message in world
                        .history(*id, group.conversation(), Direction::Incoming)
                        .iter()
                        .filter(|m| matches!(&m.content, Content::Text(t) if got.contains(t)))
                    {
                        assert_eq!(
                            world.clients[*id].store.author(&message.id).unwrap(),
                            Some(author)
                        );
                    }
                }
            } else {
                // A removed account's devices hold nothing sent after their removal (and may
                // have missed some of what was sent before it, once they learnt of it).
                assert!(
                    got.iter().all(|text| meant.contains(text)),
                    "{} holds {:?} from {}, sent after its removal",
                    world.clients[*id].name,
                    got.iter().filter(|t| !meant.contains(t)).collect::<Vec<_>>(),
                    world.clients[*sender].name
                );
            }
        }
    }
    world.stats.crashes
}

/// Whether `part` is `whole` with some entries left out (each once, in `whole`'s order).
fn is_subsequence(part: &[String], whole: &[String]) -> bool {
    let mut rest = whole.iter();
    part.iter().all(|entry| rest.any(|candidate| candidate == entry))
}

#[test]
fn a_group_that_adds_and_removes_while_it_talks_delivers_to_exactly_its_members() {
    // Seeds 71 to 86 pass. Seed 78 failed before chains named their predecessors: it delivered
    // two of a sender's messages after later ones sent on its next chain (order across a
    // sender's epochs, proto/PROTOCOL.md "Group messages").
    let crashes: u64 = (71..=80).map(run).sum();
    // Not every seed crashes a client; together they do, often.
    assert!(crashes >= 5, "clients crashed {crashes} times over the seeds");
}
