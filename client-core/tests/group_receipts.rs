#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Receipts in groups (issue 19, "Delivery guarantees"): five accounts in a group, alice with
//! two devices, and mallory outside it. Over a rough network (loss, refusals, duplicates,
//! crashes, relay restarts) alice's message comes back "delivered 4 of 4", then "read by 3 of 4"
//! once bob, carol and dave read it; a second read receipt counts once; a receipt naming
//! carol's message as alice's, and mallory's forged receipts (before and after she joins), are
//! ignored with a reason; alice's other device never
//! counts as a member, and what alice counts survives a crash.

mod harness;

use harness::{ClientId, Faults, World};
use hush_client_core::groups::GroupId;
use hush_client_core::{Content, GroupReceiptIgnored, GroupReceipts, MemberReceipt, MessageId, Store};

const NAMES: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "mallory"];

/// `id` reads every unread message of `group` (retried: a crash can lose the call before its
/// commit).
fn read_group(world: &mut World, id: ClientId, group: GroupId) {
    for _ in 0..50 {
        let store = &world.clients[id].store;
        let unread = store.unread(&group.conversation()).unwrap();
        if unread.is_empty() {
            return;
        }
        let read: Vec<_> = unread
            .iter()
            .map(|message| {
                (
                    *message,
                    store.author(message).unwrap().expect("an incoming group message"),
                )
            })
            .collect();
        world
            .group(id, |core, now| {
                core.handle_mark_group_read(now, group, &read);
                Ok::<_, ()>(())
            })
            .unwrap();
        world.run(20);
    }
    panic!("{} could not mark the group read", world.clients[id].name);
}

/// What alice's core counts for `message`, checked against her store and her app's last event.
fn alice_counts(world: &World, alice: ClientId, message: &MessageId) -> GroupReceipts {
    let client = &world.clients[alice];
    let counted = client
        .core
        .group_receipts(message)
        .expect("alice follows her message");
    assert_eq!(
        client.store.group_receipts(message).unwrap().as_ref(),
        Some(&counted)
    );
    assert_eq!(client.app.group_receipts.get(message), Some(&counted));
    counted
}

fn run(seed: u64) {
    let (mut world, ids) = World::contacts(seed, &NAMES, &[(0, "alice-2")]);
    let [alice, bob, carol, dave, erin, mallory, alice2] = ids[..] else {
        unreachable!()
    };
    let accounts = [bob, carol, dave, erin].map(|id| world.account_address(id));
    let mallory_account = world.account_address(mallory);
    let group = world
        .group(alice, |core, now| core.create_group(now, "crag", &accounts))
        .unwrap();
    world.drive();

    world.faults = Faults::rough();
    let message = loop {
        let sent = world.group(alice, |core, now| {
            core.send_group(now, group, Content::text("alice: rope check"))
        });
        if let Ok(id) = sent
            && world.clients[alice].store.message(&id).unwrap().is_some()
        {
            break id;
        }
        world.run(20);
    };
    // Carol's own message: alice holds it as an incoming one.
    let carols = loop {
        let sent = world.group(carol, |core, now| {
            core.send_group(now, group, Content::text("carol: on belay"))
        });
        if let Ok(id) = sent
            && world.clients[carol].store.message(&id).unwrap().is_some()
        {
            break id;
        }
        world.run(20);
    };
    world.run(300);
    world.heal();
    let counted = alice_counts(&world, alice, &message);
    assert_eq!(
        (counted.members, counted.delivered, counted.read),
        (4, 4, 0),
        "delivered 4 of 4 (seed {seed}, stats {:?})",
        world.stats
    );
    let members: Vec<_> = counted.by_member.iter().map(|(member, _)| *member).collect();
    let mut expected = accounts.to_vec();
    expected.sort_by_key(|account| *account.as_bytes());
    assert_eq!(
        members, expected,
        "the members at send time, alice's account not among them"
    );

    world.faults = Faults::rough();
    for reader in [bob, carol, dave] {
        read_group(&mut world, reader, group);
    }
    world.heal();
    let counted = alice_counts(&world, alice, &message);
    assert_eq!(
        (counted.members, counted.delivered, counted.read),
        (4, 4, 3),
        "read by 3 of 4 (seed {seed})"
    );
    let erin_account = world.account_address(erin);
    for (member, receipt) in &counted.by_member {
        let expected = if *member == erin_account {
            MemberReceipt::Delivered
        } else {
            MemberReceipt::Read
        };
        assert_eq!(*receipt, expected);
    }

    // Bob's second read receipt, one from bob naming carol's message as alice's, and mallory's
    // forged one (she names alice's message as read): none counts, none moves anything.
    let events_before = world.clients[alice].app.group_receipt_events;
    let author = world.account_address(alice);
    let now = world.now;
    world.clients[bob].core.handle_mark_read(now, author, &[carols]);
    world
        .group(bob, |core, now| {
            core.handle_mark_group_read(now, group, &[(message, author)]);
            Ok::<_, ()>(())
        })
        .unwrap();
    let now = world.now;
    world.clients[mallory]
        .core
        .handle_mark_read(now, author, &[message]);
    world.group(mallory, |_, _| Ok::<_, ()>(())).unwrap();
    world.drive();
    assert_eq!(
        alice_counts(&world, alice, &message),
        counted,
        "nothing counted twice or forged"
    );
    assert_eq!(
        world.clients[alice].app.group_receipt_events, events_before,
        "nothing moved"
    );
    let bob_account = world.account_address(bob);
    assert!(world.clients[alice].app.group_receipts_ignored.contains(&(
        bob_account,
        carols,
        GroupReceiptIgnored::NotOurs
    )),);
    assert!(
        world.clients[alice].app.group_receipts_ignored.contains(&(
            mallory_account,
            message,
            GroupReceiptIgnored::NotMember
        )),
        "mallory's receipt ignored as a non-member's: {:?}",
        world.clients[alice].app.group_receipts_ignored
    );

    // Mallory joins after the message was sent: still not one of its recipients.
    world
        .group(alice, |core, now| core.group_add(now, group, &[mallory_account]))
        .unwrap();
    world.drive();
    let now = world.now;
    world.clients[mallory]
        .core
        .handle_mark_read(now, author, &[message]);
    world.group(mallory, |_, _| Ok::<_, ()>(())).unwrap();
    world.drive();
    assert_eq!(alice_counts(&world, alice, &message), counted);
    assert!(world.clients[alice].app.group_receipts_ignored.contains(&(
        mallory_account,
        message,
        GroupReceiptIgnored::NotRecipient
    )),);

    // Alice's other device follows the same recipients (a receipt can reach it before its copy
    // of the message did, so it may count fewer), and what alice counted survives a crash.
    let other = world.clients[alice2]
        .core
        .group_receipts(&message)
        .expect("alice-2 follows alice's message");
    assert_eq!(other.members, 4);
    assert!(other.delivered <= 4 && other.read <= 3);
    world.crash(alice, None);
    world.drive();
    assert_eq!(world.clients[alice].core.group_receipts(&message), Some(counted));
}

#[test]
fn group_receipts_add_up_per_member_once_and_only_from_recipients() {
    for seed in [1, 2, 3] {
        run(seed);
    }
}
