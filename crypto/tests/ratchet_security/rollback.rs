//! Snapshot and restore (a backup rollback) of either party: no (key, nonce) pair protects two
//! plaintexts, and the sessions recover in a bounded number of messages; a saved and restored
//! session carries on exactly like the original.

#[cfg(feature = "hazmat")]
use std::collections::HashSet;

use hush_crypto::{DecryptError, Session, SessionMessage, SessionPickle};

#[cfg(feature = "hazmat")]
use crate::aead_key_and_nonce;
use crate::common::{NOW, accounts, establish, pair, state};
use crate::{refused, restore, rng, send, send_many};

#[cfg(feature = "hazmat")]
#[test]
fn rolled_back_sender_never_reuses_key_and_nonce() {
    let mut rng = rng(15);
    let (alice, bob) = pair(&mut rng);
    let mut triples = HashSet::new();
    let mut key_nonces = HashSet::new();
    // Either party may be the one restored from a backup.
    for (sender, receiver) in [(alice.clone(), bob.clone()), (bob, alice)] {
        let backup = sender.pickle();
        let chain_key_at_backup = sender.hazmat_keys().2.unwrap();
        let ad = sender.hazmat_associated_data().to_vec();
        let mut receiver = receiver;
        let receiver_backup = receiver.clone();
        let mut first: Option<SessionMessage> = None;
        let mut counter_at_backup = None;
        for trial in 0..20 {
            // Restore and send something else at the same chain position, then move on a bit.
            let mut sender = restore(&backup);
            assert_eq!(sender.hazmat_keys().2, Some(chain_key_at_backup));
            for index in 0..3 {
                let text = format!("trial {trial} message {index}");
                let message = send(&mut sender, text.as_bytes(), &mut rng);
                let inner = message.message();
                let base = *counter_at_backup.get_or_insert(inner.counter());
                assert_eq!(
                    inner.counter(),
                    base + index,
                    "restored sender resumes at the backup"
                );
                let triple = (inner.ratchet_key(), inner.counter(), inner.hazmat_salt());
                assert!(triples.insert(triple), "(ratchet key, counter, salt) repeated");
                let key_nonce = aead_key_and_nonce(&chain_key_at_backup, base, &ad, &message);
                assert!(key_nonces.insert(key_nonce), "(key, nonce) reused after rollback");
                if index == 0 {
                    match &first {
                        None => {
                            // The peer decrypts the first ciphertext at this position...
                            assert_eq!(receiver.decrypt(&message, &mut rng).unwrap(), text.as_bytes());
                            first = Some(message.clone());
                        }
                        Some(original) => {
                            assert_eq!(inner.ratchet_key(), original.message().ratchet_key());
                            assert_eq!(inner.counter(), original.message().counter());
                            assert_ne!(inner.hazmat_salt(), original.message().hazmat_salt());
                            // ...the re-sent one at the same counter is a duplicate to it, yet it
                            // is a valid ciphertext of its own plaintext.
                            assert_eq!(
                                refused(&mut receiver, &message, &mut rng),
                                DecryptError::Duplicate {
                                    counter: inner.counter()
                                }
                            );
                            let mut fresh = receiver_backup.clone();
                            assert_eq!(fresh.decrypt(&message, &mut rng).unwrap(), text.as_bytes());
                        }
                    }
                }
            }
        }
    }
    assert_eq!(triples.len(), 2 * 20 * 3);
    assert_eq!(key_nonces.len(), 2 * 20 * 3);
}

#[cfg(feature = "hazmat")]
#[test]
fn rolled_back_receiver_takes_a_fresh_ratchet_key() {
    let mut rng = rng(16);
    let (mut alice, bob) = pair(&mut rng);
    let backup = bob.pickle();
    let new_chain = send(&mut alice, b"new chain", &mut rng);
    let mut ratchet_keys = HashSet::new();
    let mut key_nonces = HashSet::new();
    for trial in 0..10 {
        // Each restored Bob redoes the DH step, with a new random ratchet key pair.
        let mut bob = restore(&backup);
        assert_eq!(bob.decrypt(&new_chain, &mut rng).unwrap(), b"new chain");
        let chain_key = bob.hazmat_keys().2.unwrap();
        let reply = send(&mut bob, format!("reply {trial}").as_bytes(), &mut rng);
        assert_eq!(reply.message().counter(), 0);
        assert!(
            ratchet_keys.insert(reply.message().ratchet_key()),
            "ratchet key reused"
        );
        let key_nonce = aead_key_and_nonce(&chain_key, 0, bob.hazmat_associated_data(), &reply);
        assert!(key_nonces.insert(key_nonce), "(key, nonce) reused after rollback");
        // Each of those replies is one Alice can read.
        let mut alice = alice.clone();
        assert_eq!(
            alice.decrypt(&reply, &mut rng).unwrap(),
            format!("reply {trial}").as_bytes()
        );
    }
}

/// Rolls `broken` back to `backup`, shows the session does not heal on its own, then recovers
/// with a fresh X3DH session started by the broken side. Returns the number of messages it took
/// until both sides had decrypted one from the other.
fn rollback_and_recover(broken_is_initiator: bool, seed: u64) -> usize {
    let mut rng = rng(seed);
    let (mut alice_account, mut bob_account) = accounts(&mut rng);
    let (mut alice, mut bob) = establish(&alice_account, b"alice", &mut bob_account, b"bob", &mut rng);
    let backup = if broken_is_initiator {
        alice.pickle()
    } else {
        bob.pickle()
    };
    for round in 0..3 {
        let to_bob = send(&mut alice, format!("a{round}").as_bytes(), &mut rng);
        bob.decrypt(&to_bob, &mut rng).unwrap();
        let to_alice = send(&mut bob, format!("b{round}").as_bytes(), &mut rng);
        alice.decrypt(&to_alice, &mut rng).unwrap();
    }
    // The backup is restored: the broken side is three DH steps behind.
    let (mut broken, mut healthy) = if broken_is_initiator {
        (restore(&backup), bob)
    } else {
        (restore(&backup), alice)
    };
    // It cannot read anything the healthy side sends now, however long they keep trying, and the
    // refusals change nothing.
    for attempt in 0..5 {
        let message = send(
            &mut healthy,
            format!("after rollback {attempt}").as_bytes(),
            &mut rng,
        );
        refused(&mut broken, &message, &mut rng);
        if let Ok(message) = broken.encrypt(NOW, b"from the past", &mut rng) {
            let _ = healthy.decrypt(&message, &mut rng);
        }
    }

    // Recovery (documented): the side that sees decrypt errors fetches a new bundle and starts a
    // new session, which replaces the old one on both sides.
    let (broken_account, healthy_account, broken_address, healthy_address): (_, _, &[u8], &[u8]) =
        if broken_is_initiator {
            (&alice_account, &mut bob_account, &b"alice"[..], &b"bob"[..])
        } else {
            (&bob_account, &mut alice_account, &b"bob"[..], &b"alice"[..])
        };
    let mut steps = 0;
    let otk = healthy_account.generate_one_time_prekeys(1, &mut rng)[0];
    let bundle = healthy_account
        .prekey_bundle(Some(otk.id))
        .unwrap()
        .verify(Some(&broken.remote_identity()))
        .unwrap();
    let mut broken = broken_account
        .create_outbound_session(broken_address, healthy_address, &bundle, NOW, &mut rng)
        .unwrap();
    let SessionMessage::PreKey(hello) = send(&mut broken, b"new session", &mut rng) else {
        panic!("expected a pre-key message");
    };
    steps += 1;
    let inbound = healthy_account
        .create_inbound_session(healthy_address, &hello, NOW, &mut rng)
        .unwrap();
    assert_eq!(inbound.plaintext, b"new session");
    let old_healthy = std::mem::replace(&mut healthy, inbound.session);
    assert_ne!(old_healthy.session_id(), healthy.session_id());
    let answer = send(&mut healthy, b"answer", &mut rng);
    steps += 1;
    assert_eq!(broken.decrypt(&answer, &mut rng).unwrap(), b"answer");
    assert!(broken.has_received_reply());
    // Converged: both directions work again, through further DH steps.
    for round in 0..3 {
        let m = send(&mut broken, format!("x{round}").as_bytes(), &mut rng);
        assert!(matches!(m, SessionMessage::Normal(_)));
        assert_eq!(
            healthy.decrypt(&m, &mut rng).unwrap(),
            format!("x{round}").as_bytes()
        );
        let m = send(&mut healthy, format!("y{round}").as_bytes(), &mut rng);
        assert_eq!(
            broken.decrypt(&m, &mut rng).unwrap(),
            format!("y{round}").as_bytes()
        );
    }
    steps
}

#[test]
fn rollback_of_either_party_recovers_with_fresh_session_in_bounded_steps() {
    for (broken_is_initiator, seed) in [(true, 17), (false, 18)] {
        let steps = rollback_and_recover(broken_is_initiator, seed);
        assert!(steps <= 2, "recovery took {steps} messages");
    }
}

#[test]
fn saved_and_restored_session_continues_exactly_like_the_original() {
    let mut rng = rng(26);
    let (mut alice, mut bob) = pair(&mut rng);
    let held = send_many(&mut alice, "held", 4, &mut rng);
    bob.decrypt(&held[3], &mut rng).unwrap();
    let key = hush_crypto::PickleKey::new([7; 32]);
    let sealed = bob.pickle().encrypt(&key, &mut rng);
    let mut restored = Session::from_pickle(&SessionPickle::from_encrypted(&key, &sealed).unwrap()).unwrap();
    assert_eq!(state(&restored), state(&bob));
    assert_eq!(restored.skipped_key_count(), 3);
    for (counter, message) in held.iter().enumerate().take(3) {
        assert_eq!(
            restored.decrypt(message, &mut rng).unwrap(),
            format!("held {counter}").as_bytes()
        );
    }
    assert_eq!(
        refused(&mut restored, &held[3], &mut rng),
        DecryptError::Duplicate { counter: 3 }
    );
}
