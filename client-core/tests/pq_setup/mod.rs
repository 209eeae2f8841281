//! PQXDH in the core, over the in-memory relay: sessions set up hybrid by default, a bundle
//! without a KEM prekey refused unless the app allows classical setup, and a one-time KEM prekey
//! that a relay serves twice opening one session only. Part of the `core` test binary.

use hush_client_core::{Content, DropReason, MessageStatus, SetupPolicy};
use hush_crypto::InboundError;
use hush_crypto::peer::PeerDecryptError;

use crate::harness::World;
use crate::harness::kem::KemMode;

#[test]
fn two_clients_set_up_with_pqxdh_and_the_one_time_kem_prekey_is_claimed_once() {
    let (mut world, alice, bob) = World::alice_and_bob(71);
    let bob_address = world.address(bob);
    let alice_address = world.address(alice);
    // Upkeep put up Bob's last-resort KEM prekey, then (the count being low) 100 one-time ones.
    assert_eq!(world.relay.kem_one_time_count(&bob_address.mailbox()), 100);
    assert_eq!(world.clients[bob].app.kem_replenished, vec![0, 100]);
    world.send(alice, bob_address, Content::text("hybrid"));
    world.drive();
    world.send(bob, alice_address, Content::text("back"));
    world.drive();
    world.assert_exchange(alice, bob);
    world.assert_exchange(bob, alice);
    assert_eq!(world.relay.kem_one_time_count(&bob_address.mailbox()), 99);
    assert_eq!(world.clients[alice].app.setups, vec![(bob_address, true, true)]);
    assert_eq!(world.clients[bob].app.setups, vec![(alice_address, true, false)]);
}

#[test]
fn a_bundle_without_a_kem_prekey_is_refused_by_default_and_its_messages_fail() {
    let (mut world, alice, bob) = World::alice_and_bob(72);
    world.relay.kem_mode = KemMode::Strip;
    let bob_address = world.address(bob);
    let id = world
        .send(alice, bob_address, Content::text("downgraded?"))
        .unwrap();
    world.drive();
    assert_eq!(world.status(alice, &id), Some(MessageStatus::Failed));
    let app = &world.clients[alice].app;
    assert!(!app.classical_refused.is_empty());
    assert!(app.classical_refused.iter().all(|peer| *peer == bob_address));
    assert!(app.setups.is_empty(), "no session was made: {:?}", app.setups);
    assert_eq!(
        world.relay.queued(&bob_address.mailbox()),
        0,
        "nothing reached Bob"
    );
}

#[test]
fn classical_setup_works_only_where_both_sides_allow_it() {
    let (mut world, alice, bob) = World::alice_and_bob(73);
    world.relay.kem_mode = KemMode::Strip;
    let (alice_address, bob_address) = (world.address(alice), world.address(bob));
    world.clients[alice]
        .core
        .set_setup_policy(SetupPolicy::AllowClassical);
    // Bob still requires PQXDH: Alice's classical first message is dropped with a typed reason.
    world.send(alice, bob_address, Content::text("classical"));
    world.drive();
    assert_eq!(world.clients[alice].app.setups, vec![(bob_address, false, true)]);
    let dropped = &world.clients[bob].app.dropped;
    assert!(
        dropped.iter().any(|(from, reason)| *from == Some(alice_address)
            && matches!(
                reason,
                DropReason::Undecryptable(PeerDecryptError::Inbound(InboundError::ClassicalSetupRefused))
            )),
        "{dropped:?}"
    );
    assert!(world.clients[bob].app.received.is_empty());
    // Once Bob allows it too, the session starts classical and both directions work.
    world.clients[bob]
        .core
        .set_setup_policy(SetupPolicy::AllowClassical);
    world.send(bob, alice_address, Content::text("fine, classical"));
    world.drive();
    world.assert_exchange(bob, alice);
    assert!(
        world.clients[bob]
            .app
            .setups
            .contains(&(alice_address, false, true))
    );
}

#[test]
fn a_one_time_kem_prekey_served_twice_opens_one_session_only() {
    let mut world = World::new(74);
    let (alice, bob, carol) = (
        world.add_client("alice"),
        world.add_client("bob"),
        world.add_client("carol"),
    );
    for id in [alice, bob, carol] {
        world.connect(id);
    }
    world.drive();
    // A relay that never deletes a claimed one-time KEM prekey: Alice and Carol get the same.
    world.relay.kem_mode = KemMode::ReuseOneTime;
    let bob_address = world.address(bob);
    world.send(alice, bob_address, Content::text("from alice"));
    world.drive();
    world.send(carol, bob_address, Content::text("from carol"));
    world.drive();
    let app = &world.clients[bob].app;
    assert_eq!(app.setups, vec![(world.address(alice), true, false)]);
    assert!(app.received.contains_key(&world.address(alice)));
    assert!(!app.received.contains_key(&world.address(carol)));
    assert!(
        app.dropped
            .iter()
            .any(|(from, reason)| *from == Some(world.address(carol))
                && matches!(
                    reason,
                    DropReason::Undecryptable(PeerDecryptError::Inbound(
                        InboundError::UnknownKemPreKey { .. }
                    ))
                )),
        "{:?}",
        app.dropped
    );
}
