#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! An envelope that claims a contact but was sealed by someone else is dropped at the seal, with
//! no sender named, and leaves the real conversation intact.

mod harness;

use harness::World;
use hush_client_core::{Content, Direction, DropReason};
use hush_crypto::IdentityKey;
use hush_crypto::primitives::{aead_seal, hkdf_sha256, x25519, x25519_base};
use hush_crypto::sealed::{SEAL_SENDER_INFO, SEALED_VERSION};
use rand::RngExt;

/// A sealed-sender v2 envelope (SPEC.md §15) whose layer 1 names `claimed`, built from public
/// keys only: the forger cannot compute layer 2, so its box is random bytes.
fn forged_claim(claimed: &IdentityKey, recipient: &IdentityKey) -> Vec<u8> {
    let mut rng = rand::rng();
    let e: [u8; 32] = rng.random();
    let ephemeral = x25519_base(&e);
    let shared = x25519(&e, &recipient.to_curve25519().unwrap().to_bytes()).unwrap();
    let info = [SEAL_SENDER_INFO, ephemeral.as_slice(), recipient.as_bytes()].concat();
    let mut okm = [0u8; 76];
    hkdf_sha256(None, &shared, &info, &mut okm).unwrap();
    let ad = [&[SEALED_VERSION], ephemeral.as_slice(), recipient.as_bytes()].concat();
    let sender_box = aead_seal(
        okm[32..64].try_into().unwrap(),
        okm[64..].try_into().unwrap(),
        &ad,
        claimed.as_bytes(),
    )
    .unwrap();
    let inner_box: Vec<u8> = (0..1024).map(|_| rng.random()).collect();
    [&[SEALED_VERSION], ephemeral.as_slice(), &sender_box, &inner_box].concat()
}

#[test]
fn forged_claim_of_a_contact_is_dropped_unnamed_and_the_conversation_goes_on() {
    let mut world = World::new(15);
    let alice = world.add_client("alice");
    let bob = world.add_client("bob");
    world.connect(alice);
    world.connect(bob);
    world.drive();
    let (alice_address, bob_address) = (world.address(alice), world.address(bob));
    world.send(alice, bob_address, Content::text("before")).unwrap();
    world.drive();

    let now = world.now;
    for _ in 0..3 {
        let forged = forged_claim(&alice_address.identity(), &bob_address.identity());
        world.relay.enqueue(bob_address.mailbox(), forged, now).unwrap();
    }
    world.drive();

    let dropped = &world.clients[bob].app.dropped;
    assert_eq!(dropped.len(), 3, "{dropped:?}");
    for (from, reason) in dropped {
        assert!(
            from.is_none() && matches!(reason, DropReason::Unsealable(_)),
            "a forged claim got past the seal: {from:?} {reason:?}"
        );
    }
    assert_eq!(
        world.relay.queued(&bob_address.mailbox()),
        0,
        "everything was acknowledged"
    );
    world.send(alice, bob_address, Content::text("after")).unwrap();
    world.drive();
    assert_eq!(world.history(bob, alice_address, Direction::Incoming).len(), 2);
    world.assert_exchange(alice, bob);
}
