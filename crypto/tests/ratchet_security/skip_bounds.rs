//! The `MAX_SKIP` bound: in the current chain, on the first message of a new chain and on the
//! previous-chain length during a DH step, a gap of `MAX_SKIP` is accepted and one more is refused
//! before any key is derived.

use hush_crypto::DecryptError;
use hush_crypto::ratchet::{MAX_SKIP, MAX_SKIPPED_KEYS};

use crate::common::pair;
use crate::{plain, refused, rng, send, send_many};

fn too_many(gap: u32) -> DecryptError {
    DecryptError::TooManySkipped {
        requested: u64::from(gap),
        max: MAX_SKIP,
    }
}

#[test]
fn counter_jump_of_max_skip_accepted_and_max_skip_plus_one_rejected() {
    let mut rng = rng(4);
    let (mut alice, mut bob) = pair(&mut rng);
    // Counter c has plaintext "c {c}"; Bob receives counter 0, so his chain expects 1 next.
    let messages = send_many(&mut alice, "c", MAX_SKIP + 3, &mut rng);
    assert_eq!(bob.decrypt(&messages[0], &mut rng).unwrap(), b"c 0");

    let over = &messages[(MAX_SKIP + 2) as usize];
    assert_eq!(refused(&mut bob, over, &mut rng), too_many(MAX_SKIP + 1));
    assert_eq!(bob.skipped_key_count(), 0);

    let at_bound = &messages[(MAX_SKIP + 1) as usize];
    assert_eq!(
        bob.decrypt(at_bound, &mut rng).unwrap(),
        format!("c {}", MAX_SKIP + 1).as_bytes()
    );
    assert_eq!(bob.skipped_key_count(), MAX_SKIP as usize);
    // The message refused before is now in range; the skipped ones decrypt from the store.
    assert_eq!(
        bob.decrypt(over, &mut rng).unwrap(),
        format!("c {}", MAX_SKIP + 2).as_bytes()
    );
    assert_eq!(bob.decrypt(&messages[1], &mut rng).unwrap(), b"c 1");
    assert_eq!(
        bob.decrypt(&messages[MAX_SKIP as usize], &mut rng).unwrap(),
        format!("c {MAX_SKIP}").as_bytes()
    );
    assert_eq!(bob.skipped_key_count(), MAX_SKIP as usize - 2);
}

#[test]
fn first_message_on_new_chain_bounded_by_max_skip() {
    let mut rng = rng(5);
    let (mut alice, mut bob) = pair(&mut rng);
    // Alice's next ratchet key is new to Bob: counter N means N keys skipped in the DH step.
    let messages = send_many(&mut alice, "c", MAX_SKIP + 2, &mut rng);
    let chains = bob.receiving_chain_count();
    assert_eq!(
        refused(&mut bob, &messages[(MAX_SKIP + 1) as usize], &mut rng),
        too_many(MAX_SKIP + 1)
    );
    assert_eq!(bob.receiving_chain_count(), chains);
    assert_eq!(
        bob.decrypt(&messages[MAX_SKIP as usize], &mut rng).unwrap(),
        format!("c {MAX_SKIP}").as_bytes()
    );
    assert_eq!(bob.receiving_chain_count(), chains + 1);
    assert_eq!(bob.skipped_key_count(), MAX_SKIP as usize);
    assert_eq!(bob.decrypt(&messages[0], &mut rng).unwrap(), b"c 0");
}

#[test]
fn previous_chain_length_bounded_during_dh_step() {
    let mut rng = rng(6);
    let (mut alice, mut bob) = pair(&mut rng);
    let m0 = send(&mut alice, b"m0", &mut rng);
    assert_eq!(bob.decrypt(&m0, &mut rng).unwrap(), b"m0");
    // Bob's chain for Alice's current key now expects counter 1. His reply makes Alice step.
    let reply = send(&mut bob, b"reply", &mut rng);

    // Over the bound: Alice sends counters 1..=MAX_SKIP+1 that never arrive, so her next chain
    // says PN = MAX_SKIP + 2 and Bob would have to skip MAX_SKIP + 1 keys of the old chain.
    let mut alice_over = alice.clone();
    let mut bob_over = bob.clone();
    send_many(&mut alice_over, "lost", MAX_SKIP + 1, &mut rng);
    assert_eq!(alice_over.decrypt(&reply, &mut rng).unwrap(), b"reply");
    let next_chain = send(&mut alice_over, b"next chain", &mut rng);
    assert_eq!(plain(&next_chain).previous_counter(), MAX_SKIP + 2);
    assert_eq!(plain(&next_chain).counter(), 0);
    let chains = bob_over.receiving_chain_count();
    assert_eq!(
        refused(&mut bob_over, &next_chain, &mut rng),
        too_many(MAX_SKIP + 1)
    );
    assert_eq!(bob_over.receiving_chain_count(), chains);
    assert_eq!(bob_over.skipped_key_count(), 0);

    // At the bound: PN = MAX_SKIP + 1 is accepted and the old chain's keys are kept.
    let held = send_many(&mut alice, "held", MAX_SKIP, &mut rng);
    assert_eq!(alice.decrypt(&reply, &mut rng).unwrap(), b"reply");
    let next_chain = send(&mut alice, b"next chain", &mut rng);
    assert_eq!(plain(&next_chain).previous_counter(), MAX_SKIP + 1);
    assert_eq!(bob.decrypt(&next_chain, &mut rng).unwrap(), b"next chain");
    assert_eq!(bob.skipped_key_count(), MAX_SKIP as usize);
    assert_eq!(bob.decrypt(&held[0], &mut rng).unwrap(), b"held 0");
    let last = held.last().unwrap();
    assert_eq!(
        bob.decrypt(last, &mut rng).unwrap(),
        format!("held {}", MAX_SKIP - 1).as_bytes()
    );
}

#[test]
fn previous_chain_and_counter_gaps_each_bounded_when_both_large() {
    let mut rng = rng(7);
    let (mut alice, mut bob) = pair(&mut rng);
    let m0 = send(&mut alice, b"m0", &mut rng);
    bob.decrypt(&m0, &mut rng).unwrap();
    let reply = send(&mut bob, b"reply", &mut rng);
    send_many(&mut alice, "lost", MAX_SKIP, &mut rng);
    alice.decrypt(&reply, &mut rng).unwrap();
    // PN gap = MAX_SKIP (allowed) and N = MAX_SKIP + 1 (not): refused before any derivation.
    let next_chain = send_many(&mut alice, "next", MAX_SKIP + 2, &mut rng);
    assert_eq!(
        refused(&mut bob, &next_chain[(MAX_SKIP + 1) as usize], &mut rng),
        too_many(MAX_SKIP + 1)
    );
    // Both gaps at the bound: accepted, and the store stays within its cap.
    assert_eq!(
        bob.decrypt(&next_chain[MAX_SKIP as usize], &mut rng).unwrap(),
        format!("next {MAX_SKIP}").as_bytes()
    );
    assert!(bob.skipped_key_count() <= MAX_SKIPPED_KEYS);
}
