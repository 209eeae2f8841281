//! Ratchet-key churn: the receiving chains stay within `MAX_RECEIVING_CHAINS` and the session's
//! memory (and its saved form) stays bounded.

use hush_crypto::ratchet::{MAX_RECEIVING_CHAINS, MAX_SKIPPED_KEYS};
use hush_crypto::{DecryptError, Session};

use crate::common::{pair, state};
use crate::{refused, rng, send, send_many};

fn assert_bounded(session: &Session) {
    assert!(session.receiving_chain_count() <= MAX_RECEIVING_CHAINS);
    assert!(session.skipped_key_count() <= MAX_SKIPPED_KEYS);
}

#[test]
fn receiving_chains_bounded_under_ratchet_key_churn() {
    let mut rng = rng(13);
    let (mut alice, mut bob) = pair(&mut rng);
    const ROUNDS: usize = 40;
    let mut held = Vec::new();
    for round in 0..ROUNDS {
        // Each round is a new Alice chain; its first two messages are held back.
        let messages = send_many(&mut alice, &format!("round {round}"), 3, &mut rng);
        bob.decrypt(&messages[2], &mut rng).unwrap();
        held.push(messages[..2].to_vec());
        let reply = send(&mut bob, b"reply", &mut rng);
        alice.decrypt(&reply, &mut rng).unwrap();
        assert_bounded(&alice);
        assert_bounded(&bob);
        assert!(bob.skipped_key_count() <= 2 * MAX_RECEIVING_CHAINS);
    }
    assert_eq!(bob.receiving_chain_count(), MAX_RECEIVING_CHAINS);
    assert_eq!(alice.receiving_chain_count(), MAX_RECEIVING_CHAINS);
    assert_eq!(bob.skipped_key_count(), 2 * MAX_RECEIVING_CHAINS);
    // Held messages of the chains still kept decrypt; older ones are refused, state unchanged.
    for (round, messages) in held.iter().enumerate() {
        for (counter, message) in messages.iter().enumerate() {
            if round >= ROUNDS - MAX_RECEIVING_CHAINS {
                assert_eq!(
                    bob.decrypt(message, &mut rng).unwrap(),
                    format!("round {round} {counter}").as_bytes()
                );
            } else {
                // The chain itself is gone, so nothing tells this apart from a forgery under an
                // unknown ratchet key: a failed (uncommitted) DH step.
                assert_eq!(
                    refused(&mut bob, message, &mut rng),
                    DecryptError::Unauthenticated
                );
            }
        }
    }
    assert_eq!(bob.skipped_key_count(), 0);
}

#[test]
fn churn_with_large_gaps_keeps_memory_bounded() {
    let mut rng = rng(14);
    let (mut alice, mut bob) = pair(&mut rng);
    for round in 0..10 {
        // 700 messages per chain, only the last arrives: 699 skipped keys per chain.
        let messages = send_many(&mut alice, &format!("round {round}"), 700, &mut rng);
        bob.decrypt(messages.last().unwrap(), &mut rng).unwrap();
        assert_bounded(&bob);
        let replies = send_many(&mut bob, "reply", 300, &mut rng);
        alice.decrypt(replies.last().unwrap(), &mut rng).unwrap();
        assert_bounded(&alice);
    }
    assert_eq!(bob.skipped_key_count(), MAX_SKIPPED_KEYS);
    // The saved form is bounded too: a cap on keys is a cap on bytes.
    assert!(state(&bob).len() < (MAX_SKIPPED_KEYS + 2 * MAX_RECEIVING_CHAINS) * 40 + 1024);
}
