//! The skipped-key store under a flood of out-of-order messages: it never exceeds
//! `MAX_SKIPPED_KEYS`, the oldest keys go first, and an evicted key gives a typed error.

use hush_crypto::DecryptError;
use hush_crypto::ratchet::MAX_SKIPPED_KEYS;
use rand::seq::SliceRandom;

use crate::common::pair;
use crate::{refused, rng, send, send_many};

#[test]
fn flood_across_chains_caps_store_and_evicts_oldest() {
    let mut rng = rng(8);
    let (mut alice, mut bob) = pair(&mut rng);
    // Chain 1: only counter 1500 arrives, 1500 keys skipped.
    let first = send_many(&mut alice, "first", 1501, &mut rng);
    assert_eq!(bob.decrypt(&first[1500], &mut rng).unwrap(), b"first 1500");
    assert_eq!(bob.skipped_key_count(), 1500);
    let reply = send(&mut bob, b"reply", &mut rng);
    alice.decrypt(&reply, &mut rng).unwrap();
    // Chain 2: again only counter 1500 arrives; 3000 keys would be held, the cap is 2000.
    let second = send_many(&mut alice, "second", 1501, &mut rng);
    assert_eq!(bob.decrypt(&second[1500], &mut rng).unwrap(), b"second 1500");
    assert_eq!(bob.skipped_key_count(), MAX_SKIPPED_KEYS);

    // The oldest 1000 keys (chain 1, counters 0..1000) were evicted.
    let evicted = 3000 - MAX_SKIPPED_KEYS;
    for counter in [0, 1, evicted - 1] {
        assert_eq!(
            refused(&mut bob, &first[counter], &mut rng),
            DecryptError::MessageKeyEvicted {
                counter: u32::try_from(counter).unwrap()
            }
        );
    }
    assert_eq!(bob.skipped_key_count(), MAX_SKIPPED_KEYS);
    assert_eq!(
        bob.decrypt(&first[evicted], &mut rng).unwrap(),
        format!("first {evicted}").as_bytes()
    );
    assert_eq!(bob.decrypt(&first[1499], &mut rng).unwrap(), b"first 1499");
    assert_eq!(bob.decrypt(&second[0], &mut rng).unwrap(), b"second 0");
    assert_eq!(bob.skipped_key_count(), MAX_SKIPPED_KEYS - 3);
}

#[test]
fn random_out_of_order_flood_never_exceeds_cap() {
    let mut rng = rng(9);
    let (mut alice, mut bob) = pair(&mut rng);
    const BLOCKS: u32 = 5;
    const BLOCK: u32 = 1000;
    let messages = send_many(&mut alice, "flood", BLOCKS * BLOCK, &mut rng);
    // In each block of 1000 (so no gap exceeds MAX_SKIP) half the messages arrive, in random
    // order; the other half never do, and their keys pile up past the cap.
    let mut undelivered = Vec::new();
    for block in 0..BLOCKS {
        let mut counters: Vec<u32> = (block * BLOCK..(block + 1) * BLOCK).collect();
        counters.shuffle(&mut rng);
        let (arrive, lost) = counters.split_at(counters.len() / 2);
        undelivered.extend_from_slice(lost);
        for &counter in arrive {
            let message = &messages[counter as usize];
            let result = bob.decrypt(message, &mut rng);
            match result {
                Ok(plaintext) => assert_eq!(plaintext, format!("flood {counter}").as_bytes()),
                // A key evicted before its message arrived: as good as lost.
                Err(DecryptError::MessageKeyEvicted { counter: c }) => {
                    assert_eq!(c, counter);
                    undelivered.push(counter);
                }
                Err(error) => panic!("counter {counter}: {error}"),
            }
            assert!(bob.skipped_key_count() <= MAX_SKIPPED_KEYS);
        }
    }
    // Eviction is oldest first and evicted keys form a prefix of the counters: exactly the newest
    // `kept` undelivered messages still decrypt, all older ones give the typed error.
    let kept = bob.skipped_key_count();
    undelivered.sort_unstable();
    let (gone, kept) = undelivered.split_at(undelivered.len() - kept);
    assert!(
        gone.len() >= (BLOCKS * BLOCK / 2) as usize - MAX_SKIPPED_KEYS,
        "too few evicted"
    );
    for &counter in gone {
        assert_eq!(
            refused(&mut bob, &messages[counter as usize], &mut rng),
            DecryptError::MessageKeyEvicted { counter }
        );
    }
    for &counter in kept {
        assert_eq!(
            bob.decrypt(&messages[counter as usize], &mut rng).unwrap(),
            format!("flood {counter}").as_bytes()
        );
    }
    assert_eq!(bob.skipped_key_count(), 0);
}
