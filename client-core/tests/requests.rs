#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Message requests, blocking and reporting through the socket-free harness: a first message
//! from someone we never answered waits for the app, blocking drops a sender and rotates our
//! access key, reporting reaches the relay.

mod harness;

use harness::{ClientId, World};
use hush_client_core::{Content, Direction, MessageStatus, Standing};

/// Alice, Bob and Carol, registered, quiet; Bob's app decides on requests itself.
fn three(seed: u64) -> (World, ClientId, ClientId, ClientId) {
    let mut world = World::new(seed);
    let alice = world.add_client("alice");
    let bob = world.add_client("bob");
    let carol = world.add_client("carol");
    world.clients[bob].accepts_requests = false;
    for id in [alice, bob, carol] {
        world.connect(id);
    }
    world.drive();
    (world, alice, bob, carol)
}

fn texts(world: &World, id: ClientId, peer: hush_client_core::Address) -> Vec<String> {
    world
        .history(id, peer, Direction::Incoming)
        .into_iter()
        .map(|message| match message.content {
            Content::Text(text) => text,
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn a_first_message_from_an_unknown_sender_waits_as_a_request_until_accepted() {
    let (mut world, alice, bob, _) = three(7);
    let (alice_address, bob_address) = (world.address(alice), world.address(bob));
    let ids: Vec<_> = (1..=3)
        .map(|n| {
            world
                .send(alice, bob_address, Content::text(format!("hello #{n}")))
                .unwrap()
        })
        .collect();
    world.drive();

    // Held: an event says so, nothing is delivered, no receipt goes back.
    assert_eq!(world.clients[bob].app.requests, vec![alice_address]);
    assert_eq!(world.clients[bob].core.requests(), vec![alice_address]);
    assert_eq!(
        world.clients[bob].core.standing(&alice_address),
        Some(Standing::Requested)
    );
    assert!(!world.clients[bob].app.received.contains_key(&alice_address));
    assert!(texts(&world, bob, alice_address).is_empty());
    for id in &ids {
        assert_eq!(world.status(alice, id), Some(MessageStatus::Sent));
    }
    // Still held after more time and a restart of Bob.
    world.advance(60_000);
    world.crash(bob, None);
    world.drive();
    assert!(texts(&world, bob, alice_address).is_empty());
    assert_eq!(world.clients[bob].core.requests(), vec![alice_address]);

    // Accepted: delivered once, in order, and the receipts flow.
    world.accept(bob, alice_address);
    world.drive();
    assert_eq!(
        texts(&world, bob, alice_address),
        vec!["hello #1", "hello #2", "hello #3"]
    );
    assert_eq!(world.clients[bob].app.received[&alice_address].len(), 3);
    assert!(world.clients[bob].core.requests().is_empty());
    for id in &ids {
        assert_eq!(world.status(alice, id), Some(MessageStatus::Delivered));
    }
    assert_eq!(world.mark_read(bob, alice_address).len(), 3);
    world.drive();
    for id in &ids {
        assert_eq!(world.status(alice, id), Some(MessageStatus::Read));
    }
    assert_eq!(world.clients[bob].app.requests.len(), 1, "one request event");

    // Bob's key reached Alice with the acceptance: her next message is a contact's.
    let keyed = world.relay.stats.keyed;
    world
        .send(alice, bob_address, Content::text("as a contact"))
        .unwrap();
    world.drive();
    assert!(world.relay.stats.keyed > keyed);
    assert_eq!(texts(&world, bob, alice_address).len(), 4);
    world.assert_idle(bob);
}

#[test]
fn block_stops_delivery_and_the_old_access_key_is_refused_after_rotation() {
    let (mut world, alice, bob, carol) = three(8);
    let (alice_address, bob_address, carol_address) =
        (world.address(alice), world.address(bob), world.address(carol));
    // Bob writes first to both: they are his contacts and get his key.
    world.send(bob, alice_address, Content::text("hi alice")).unwrap();
    world.send(bob, carol_address, Content::text("hi carol")).unwrap();
    world.drive();
    world.send(alice, bob_address, Content::text("before")).unwrap();
    world.drive();
    assert_eq!(texts(&world, bob, alice_address), vec!["before"]);
    let old_verifier = world.relay.access[&bob_address.mailbox()];

    world.block(bob, alice_address);
    world.drive();
    assert_eq!(
        world.clients[bob].core.standing(&alice_address),
        Some(Standing::Blocked)
    );
    assert_ne!(
        world.relay.access[&bob_address.mailbox()],
        old_verifier,
        "rotated"
    );

    // Alice's old key is refused; she goes on as a stranger and Bob drops what she sends.
    let denied = world.relay.stats.access_denied;
    let after = world.send(alice, bob_address, Content::text("after")).unwrap();
    world.drive();
    assert!(
        world.relay.stats.access_denied > denied,
        "the old key was refused"
    );
    assert_eq!(world.status(alice, &after), Some(MessageStatus::Sent));
    assert_eq!(texts(&world, bob, alice_address), vec!["before"]);
    assert!(world.clients[bob].app.requests.is_empty());

    // Carol got the new key: her message is a contact's, and delivered.
    let (denied, keyed) = (world.relay.stats.access_denied, world.relay.stats.keyed);
    world
        .send(carol, bob_address, Content::text("still here"))
        .unwrap();
    world.drive();
    assert_eq!(world.relay.stats.access_denied, denied);
    assert!(world.relay.stats.keyed > keyed);
    assert_eq!(texts(&world, bob, carol_address), vec!["still here"]);
}

#[test]
fn a_report_reaches_the_relay_and_blocks() {
    let (mut world, alice, bob, _) = three(9);
    let (alice_address, bob_address) = (world.address(alice), world.address(bob));
    world.send(alice, bob_address, Content::text("spam")).unwrap();
    world.drive();
    assert_eq!(world.clients[bob].core.requests(), vec![alice_address]);
    world.report(bob, alice_address);
    world.drive();
    assert_eq!(
        world.relay.reports,
        vec![(bob_address.mailbox(), alice_address.mailbox())]
    );
    assert_eq!(
        world.clients[bob].core.standing(&alice_address),
        Some(Standing::Blocked)
    );
    assert!(world.clients[bob].core.requests().is_empty());
    assert!(
        texts(&world, bob, alice_address).is_empty(),
        "the held message is gone"
    );
    world
        .send(alice, bob_address, Content::text("more spam"))
        .unwrap();
    world.drive();
    assert!(texts(&world, bob, alice_address).is_empty());
}

#[test]
fn a_report_made_offline_reaches_the_relay_after_a_crash_and_only_once() {
    let (mut world, alice, bob, _) = three(10);
    let (alice_address, bob_address) = (world.address(alice), world.address(bob));
    world.send(alice, bob_address, Content::text("spam")).unwrap();
    world.drive();
    assert_eq!(world.clients[bob].core.requests(), vec![alice_address]);

    world.go_offline(bob);
    world.report(bob, alice_address);
    world.drive();
    assert!(world.relay.reports.is_empty(), "nothing reaches an offline relay");
    assert_eq!(
        world.clients[bob].core.standing(&alice_address),
        Some(Standing::ReportPending)
    );
    assert!(world.clients[bob].core.requests().is_empty());

    // The report outlives the process: a new core from the store sends it at its next login.
    world.crash(bob, None);
    world.connect(bob);
    world.drive();
    let report = (bob_address.mailbox(), alice_address.mailbox());
    assert_eq!(world.relay.reports, vec![report]);
    assert_eq!(
        world.clients[bob].core.standing(&alice_address),
        Some(Standing::Blocked),
        "the confirmed report is a plain block"
    );

    // Confirmed, it is not sent again, and the block still holds.
    world.go_offline(bob);
    world.connect(bob);
    world.drive();
    assert_eq!(world.relay.reports, vec![report]);
    world
        .send(alice, bob_address, Content::text("more spam"))
        .unwrap();
    world.drive();
    assert!(texts(&world, bob, alice_address).is_empty());
}
