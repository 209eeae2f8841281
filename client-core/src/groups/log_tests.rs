//! The ordering rule: concurrent admins, late and reordered deliveries, removed admins.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hush_crypto::IdentityKey;
use hush_crypto::devices::AccountKey;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};

use super::tests::{Person, create, person, sign};
use super::*;

fn rename(name: &str) -> GroupOperation {
    GroupOperation::Rename {
        name: name.into(),
        description: None,
    }
}

fn remove(person: &Person) -> GroupOperation {
    GroupOperation::Remove {
        accounts: BTreeSet::from([person.account]),
    }
}

/// Applies `updates` in the given order to a fresh log of `creation`, resolving each author
/// device to the account it names (as the caller would through device lists).
fn replay(creation: &GroupUpdate, updates: &[&GroupUpdate]) -> GroupLog {
    let mut log = GroupLog::new(creation.clone(), &creation.author_account()).unwrap();
    for update in updates {
        log.receive((*update).clone(), &update.author_account()).unwrap();
    }
    log
}

#[test]
fn two_admins_at_one_version_apply_in_hash_order_and_the_second_is_rebased() {
    let mut rng = StdRng::seed_from_u64(10);
    let (alice, bob) = (person(&mut rng), person(&mut rng));
    let (creation, log) = create(&alice, &[(&bob, Role::Admin)], &mut rng);
    let by_alice = sign(&log, 2, &alice, rename("alice's name"));
    let by_bob = sign(&log, 2, &bob, rename("bob's name"));
    let (first, second) = if by_alice.hash() < by_bob.hash() {
        (&by_alice, &by_bob)
    } else {
        (&by_bob, &by_alice)
    };
    for order in [[&by_alice, &by_bob], [&by_bob, &by_alice]] {
        let log = replay(&creation, &order);
        // Both apply: the lower hash at version 2, the other re-based onto it at version 3.
        assert_eq!(log.state().version(), 3);
        let GroupOperation::Rename { name, .. } = second.operation() else {
            unreachable!()
        };
        assert_eq!(log.state().name(), name);
        assert_eq!(log.outcome(&first.hash()), Some(&Received::Applied));
        assert_eq!(log.outcome(&second.hash()), Some(&Received::Applied));
    }
}

#[test]
fn an_admins_removal_orders_before_its_concurrent_and_later_updates_which_are_refused() {
    let mut rng = StdRng::seed_from_u64(11);
    let (alice, carol, dave) = (person(&mut rng), person(&mut rng), person(&mut rng));
    let (creation, log) = create(&alice, &[(&carol, Role::Admin)], &mut rng);
    let removal = sign(&log, 2, &alice, remove(&carol));
    // Carol, at the same version, adds Dave; and later (having missed her removal) renames.
    let concurrent = sign(
        &log,
        2,
        &carol,
        GroupOperation::Add {
            members: BTreeMap::from([(dave.account, Role::Admin)]),
        },
    );
    let later = sign(&log, 3, &carol, rename("carol's group"));
    let all = [&removal, &concurrent, &later];
    for order in [[0, 1, 2], [1, 2, 0], [2, 1, 0], [1, 0, 2]] {
        let updates: Vec<&GroupUpdate> = order.iter().map(|&i| all[i]).collect();
        let log = replay(&creation, &updates);
        assert_eq!(log.state().role(&carol.account), None);
        assert_eq!(log.state().role(&dave.account), None);
        assert_eq!(log.state().name(), "climbing");
        // The refused updates took versions 3 and 4.
        assert_eq!(log.state().version(), 4);
        for refused in [&concurrent, &later] {
            assert_eq!(
                log.outcome(&refused.hash()),
                Some(&Received::Refused(GroupRuleError::AuthorNotMember))
            );
        }
    }
}

#[test]
fn admins_removing_each_other_at_one_version_converge_on_the_lower_hash() {
    let mut rng = StdRng::seed_from_u64(12);
    let (alice, bob, erin) = (person(&mut rng), person(&mut rng), person(&mut rng));
    let (creation, log) = create(&alice, &[(&bob, Role::Admin), (&erin, Role::Member)], &mut rng);
    let alice_removes_bob = sign(&log, 2, &alice, remove(&bob));
    let bob_removes_alice = sign(&log, 2, &bob, remove(&alice));
    let winner = if alice_removes_bob.hash() < bob_removes_alice.hash() {
        &alice
    } else {
        &bob
    };
    for order in [
        [&alice_removes_bob, &bob_removes_alice],
        [&bob_removes_alice, &alice_removes_bob],
    ] {
        let log = replay(&creation, &order);
        let admins: Vec<&AccountKey> = log.state().members().keys().collect();
        assert_eq!(admins.len(), 2, "the winner and erin remain");
        assert_eq!(log.state().role(&winner.account), Some(Role::Admin));
    }
}

#[test]
fn an_update_made_on_a_state_not_reached_waits_then_applies() {
    let mut rng = StdRng::seed_from_u64(13);
    let (alice, bob) = (person(&mut rng), person(&mut rng));
    let (creation, mut log) = create(&alice, &[], &mut rng);
    let mut ahead = log.clone();
    let add = ahead
        .make_update(
            &alice.device,
            alice.account,
            GroupOperation::Add {
                members: BTreeMap::from([(bob.account, Role::Member)]),
            },
        )
        .unwrap();
    let renamed = ahead
        .make_update(&alice.device, alice.account, rename("later"))
        .unwrap();
    assert_eq!(
        log.receive(renamed.clone(), &alice.account),
        Ok(Received::Waiting)
    );
    assert_eq!(log.state().version(), 1);
    assert_eq!(log.receive(add, &alice.account), Ok(Received::Applied));
    assert_eq!(log.outcome(&renamed.hash()), Some(&Received::Applied));
    assert_eq!(log.state(), ahead.state());
    assert_eq!(log.receive(renamed, &alice.account), Ok(Received::Duplicate));
    let mut held: Vec<GroupUpdate> = log.updates().skip(1).cloned().collect();
    held.reverse();
    let restored = GroupLog::restore(creation, held).unwrap();
    assert_eq!(restored.state(), log.state());
}

#[test]
fn waiting_updates_are_bounded() {
    let mut rng = StdRng::seed_from_u64(14);
    let alice = person(&mut rng);
    let (_, mut log) = create(&alice, &[], &mut rng);
    for version in 0..MAX_WAITING_UPDATES as u64 {
        let update = sign(&log, version + 3, &alice, rename("far"));
        assert_eq!(log.receive(update, &alice.account), Ok(Received::Waiting));
    }
    let one_more = sign(&log, 3, &alice, rename("one more"));
    assert_eq!(
        log.receive(one_more, &alice.account),
        Err(GroupUpdateError::TooManyWaiting {
            max: MAX_WAITING_UPDATES
        })
    );
    // An update that applies is still taken.
    let next = sign(&log, 2, &alice, rename("next"));
    assert_eq!(log.receive(next, &alice.account), Ok(Received::Applied));
}

/// One admin's attempt at a random operation on its own view of the group.
fn random_operation(log: &GroupLog, me: &Person, pool: &[Person], rng: &mut StdRng) -> GroupOperation {
    let members: Vec<AccountKey> = log.state().members().keys().copied().collect();
    let others: Vec<AccountKey> = members.iter().copied().filter(|a| *a != me.account).collect();
    match rng.random_range(0..10) {
        0..=2 => {
            let outsiders: Vec<&Person> = pool
                .iter()
                .filter(|p| log.state().role(&p.account).is_none())
                .collect();
            match outsiders.choose(rng) {
                Some(new) => GroupOperation::Add {
                    members: BTreeMap::from([(
                        new.account,
                        if rng.random_bool(0.3) {
                            Role::Admin
                        } else {
                            Role::Member
                        },
                    )]),
                },
                None => rename("full"),
            }
        }
        3..=5 => match others.choose(rng) {
            Some(account) => GroupOperation::Remove {
                accounts: BTreeSet::from([*account]),
            },
            None => rename("alone"),
        },
        6..=7 => match others.choose(rng) {
            Some(account) => GroupOperation::SetRole {
                account: *account,
                role: match log.state().role(account) {
                    Some(Role::Admin) => Role::Member,
                    _ => Role::Admin,
                },
            },
            None => rename("alone"),
        },
        8 => GroupOperation::Leave,
        _ => rename(&format!("name {}", rng.random::<u16>())),
    }
}

/// Several admins update concurrently, each on its own view, with updates reaching the others
/// late or in bursts; then members receive every update in different random orders. All end on
/// one state: the one the log's order gives for that set of updates.
#[test]
fn concurrent_admins_converge_whatever_the_delivery_order() {
    let (mut rebased, mut refused) = (0, 0);
    for seed in 0..48u64 {
        let mut rng = StdRng::seed_from_u64(100 + seed);
        let admins: Vec<Person> = (0..3).map(|_| person(&mut rng)).collect();
        let members: Vec<Person> = (0..2).map(|_| person(&mut rng)).collect();
        let pool: Vec<Person> = (0..4).map(|_| person(&mut rng)).collect();
        let everyone: Vec<&Person> = admins.iter().chain(&members).chain(&pool).collect();
        let by_device: HashMap<IdentityKey, AccountKey> = everyone
            .iter()
            .map(|p| (p.device.identity_key(), p.account))
            .collect();
        let others: Vec<(&Person, Role)> = admins[1..]
            .iter()
            .map(|p| (p, Role::Admin))
            .chain(members.iter().map(|p| (p, Role::Member)))
            .collect();
        let (creation, log) = create(&admins[0], &others, &mut rng);
        let mut views: Vec<GroupLog> = vec![log; admins.len()];
        let mut all: Vec<GroupUpdate> = Vec::new();
        for _ in 0..14 {
            let who = rng.random_range(0..admins.len());
            for _ in 0..8 {
                let operation = random_operation(&views[who], &admins[who], &pool, &mut rng);
                if let Ok(update) =
                    views[who].make_update(&admins[who].device, admins[who].account, operation)
                {
                    all.push(update);
                    break;
                }
            }
            // Some views catch up on everything so far, in a random order.
            for view in &mut views {
                if rng.random_bool(0.4) {
                    let mut missing = all.clone();
                    missing.shuffle(&mut rng);
                    for update in missing {
                        let account = by_device[&update.author_device()];
                        let before = view.state().version();
                        view.receive(update, &account).unwrap();
                        assert!(view.state().version() >= before, "the version went down");
                    }
                }
            }
        }
        let mut states = Vec::new();
        for _ in 0..5 {
            let mut order: Vec<&GroupUpdate> = all.iter().collect();
            order.shuffle(&mut rng);
            states.push(replay(&creation, &order).state().clone());
        }
        for view in &mut views {
            for update in &all {
                view.receive(update.clone(), &by_device[&update.author_device()])
                    .unwrap();
            }
            states.push(view.state().clone());
        }
        let sorted = replay(&creation, &all.iter().collect::<Vec<_>>());
        for state in &states {
            assert_eq!(state, sorted.state(), "seed {seed}");
        }
        let versions: BTreeSet<u64> = all.iter().map(GroupUpdate::version).collect();
        rebased += all.len() - versions.len();
        refused += all
            .iter()
            .filter(|u| matches!(sorted.outcome(&u.hash()), Some(Received::Refused(_))))
            .count();
        // Every update was placed (made on states their authors saw), applied or refused.
        assert_eq!(sorted.state().version(), 1 + all.len() as u64, "seed {seed}");
    }
    // The runs did exercise the rule: updates made at one version, and updates refused.
    assert!(
        rebased > 20 && refused > 5,
        "rebased {rebased}, refused {refused}"
    );
}
