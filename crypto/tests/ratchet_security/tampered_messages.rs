//! Tampered and forged messages: any flipped, dropped or added byte (header, body, tag or the
//! session's associated data) is refused and leaves the session byte-identical, and a forgery
//! under a new ratchet key takes no DH step and stores no skipped keys.

use hush_crypto::ratchet::MAX_SKIP;
use hush_crypto::{DecryptError, Session, SessionMessage};
use rand::RngExt;
use rand::rngs::StdRng;

use crate::common::{pair, state};
use crate::{
    BODY_START, CIPHERTEXT_LEN_FIELD, COUNTER, PREVIOUS_COUNTER, RATCHET_KEY, SALT, associated_data,
    foreign_ratchet_key, refused, rng, send, with_associated_data,
};

/// Flips every byte of `genuine` with several masks and every byte of the receiver's associated
/// data; each variant must be refused without touching the receiver's state. Returns how many
/// variants decoded and reached `decrypt`.
fn assert_every_flip_refused(receiver: &mut Session, genuine: &SessionMessage, rng: &mut StdRng) -> usize {
    let bytes = genuine.to_bytes();
    let before = state(receiver);
    let mut attempts = 0;
    for index in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff, 0x5a] {
            let mut tampered = bytes.clone();
            tampered[index] ^= mask;
            let Ok(message) = SessionMessage::from_bytes(&tampered) else {
                // Only the framing and key fields can fail to decode.
                assert!(
                    index < SALT.start || CIPHERTEXT_LEN_FIELD.contains(&index),
                    "byte {index} ^ {mask:#04x} failed to decode"
                );
                continue;
            };
            attempts += 1;
            let result = receiver.decrypt(&message, rng);
            assert!(
                result.is_err(),
                "byte {index} ^ {mask:#04x} decrypted: {result:?}"
            );
            if index >= SALT.start {
                // Salt, body and tag: always an authentication failure.
                assert_eq!(result, Err(DecryptError::Unauthenticated), "byte {index}");
            }
            assert_eq!(
                state(receiver),
                before,
                "byte {index} ^ {mask:#04x} changed the state"
            );
        }
    }
    let ad = associated_data(receiver);
    for index in 0..ad.len() {
        let mut tampered_ad = ad.clone();
        tampered_ad[index] ^= 0x01;
        let mut tampered = with_associated_data(receiver, &tampered_ad);
        let tampered_before = state(&tampered);
        assert_eq!(
            tampered.decrypt(genuine, rng),
            Err(DecryptError::Unauthenticated),
            "associated data byte {index}"
        );
        assert_eq!(state(&tampered), tampered_before);
    }
    assert_eq!(state(receiver), before);
    attempts
}

#[test]
fn flipped_byte_anywhere_fails_and_leaves_state_identical() {
    let mut rng = rng(1);
    let (mut alice, mut bob) = pair(&mut rng);

    // A message on a ratchet key Bob has not seen: every variant goes through the DH step.
    let new_chain = send(&mut alice, b"first message of a new chain", &mut rng);
    let attempts = assert_every_flip_refused(&mut bob, &new_chain, &mut rng);
    assert!(
        attempts > 3 * new_chain.to_bytes().len(),
        "too few variants reached decrypt"
    );
    assert_eq!(
        bob.decrypt(&new_chain, &mut rng).unwrap(),
        b"first message of a new chain"
    );

    // The next message of that chain, in order.
    let in_order = send(&mut alice, b"in order on the current chain", &mut rng);
    assert_every_flip_refused(&mut bob, &in_order, &mut rng);
    assert_eq!(
        bob.decrypt(&in_order, &mut rng).unwrap(),
        b"in order on the current chain"
    );

    // A message whose key waits in the skipped-key store.
    let held = send(&mut alice, b"held back, then tampered", &mut rng);
    let later = send(&mut alice, b"delivered first", &mut rng);
    assert_eq!(bob.decrypt(&later, &mut rng).unwrap(), b"delivered first");
    assert_eq!(bob.skipped_key_count(), 1);
    assert_every_flip_refused(&mut bob, &held, &mut rng);
    assert_eq!(bob.decrypt(&held, &mut rng).unwrap(), b"held back, then tampered");
    assert_eq!(bob.skipped_key_count(), 0);

    // And the other direction, where Alice's receiving chain is the one probed.
    let reply = send(&mut bob, b"reply on Bob's new chain", &mut rng);
    assert_every_flip_refused(&mut alice, &reply, &mut rng);
    assert_eq!(
        alice.decrypt(&reply, &mut rng).unwrap(),
        b"reply on Bob's new chain"
    );
}

#[test]
fn truncated_or_extended_message_fails_and_leaves_state_identical() {
    let mut rng = rng(2);
    let (mut alice, mut bob) = pair(&mut rng);
    let genuine = send(&mut alice, b"genuine", &mut rng);
    let bytes = genuine.to_bytes();
    let before = state(&bob);
    for length in 0..bytes.len() {
        assert!(
            SessionMessage::from_bytes(&bytes[..length]).is_err(),
            "prefix of {length} bytes"
        );
    }
    let mut extended = bytes.clone();
    extended.push(0);
    assert!(SessionMessage::from_bytes(&extended).is_err());
    // A consistent re-framing that drops the last tag byte: decodes, never authenticates.
    let mut short_tag = bytes[..bytes.len() - 1].to_vec();
    let body_len = u32::try_from(short_tag.len() - BODY_START).unwrap();
    short_tag[CIPHERTEXT_LEN_FIELD].copy_from_slice(&body_len.to_be_bytes());
    let short_tag = SessionMessage::from_bytes(&short_tag).unwrap();
    assert_eq!(
        refused(&mut bob, &short_tag, &mut rng),
        DecryptError::Unauthenticated
    );
    assert_eq!(state(&bob), before);
    assert_eq!(bob.decrypt(&genuine, &mut rng).unwrap(), b"genuine");
}

#[test]
fn forged_new_ratchet_key_bad_tag_no_dh_step_no_skipped_keys() {
    let mut rng = rng(3);
    let (mut alice, mut bob) = pair(&mut rng);
    let m0 = send(&mut alice, b"m0", &mut rng);
    assert_eq!(bob.decrypt(&m0, &mut rng).unwrap(), b"m0");
    let m1 = send(&mut alice, b"m1", &mut rng);
    let chains = bob.receiving_chain_count();
    let skipped = bob.skipped_key_count();
    let own_key = bob.own_ratchet_key();
    #[cfg(feature = "hazmat")]
    let keys = bob.hazmat_keys();

    let foreign = foreign_ratchet_key(&mut rng);
    // (PN, N): no gaps; and the largest gaps the bounds allow, so that the step derives (on the
    // side) MAX_SKIP keys in each chain before the tag check fails.
    for (previous_counter, counter) in [(1, 0), (0, 0), (1 + MAX_SKIP, MAX_SKIP), (1, 7)] {
        let mut forged = m1.to_bytes();
        forged[RATCHET_KEY].copy_from_slice(foreign.as_bytes());
        forged[PREVIOUS_COUNTER].copy_from_slice(&u32::to_be_bytes(previous_counter));
        forged[COUNTER].copy_from_slice(&u32::to_be_bytes(counter));
        let forged = SessionMessage::from_bytes(&forged).unwrap();
        assert_eq!(
            refused(&mut bob, &forged, &mut rng),
            DecryptError::Unauthenticated
        );
        assert_eq!(bob.receiving_chain_count(), chains, "a DH step was committed");
        assert_eq!(bob.skipped_key_count(), skipped, "skipped keys were stored");
        assert_eq!(
            bob.own_ratchet_key(),
            own_key,
            "the sending half of a DH step was taken"
        );
        #[cfg(feature = "hazmat")]
        assert!(bob.hazmat_keys() == keys, "root or chain key changed");
    }
    // Random body under the new key as well.
    let mut forged = m1.to_bytes();
    forged[RATCHET_KEY].copy_from_slice(foreign.as_bytes());
    for byte in &mut forged[BODY_START..] {
        *byte = rng.random();
    }
    let forged = SessionMessage::from_bytes(&forged).unwrap();
    assert_eq!(
        refused(&mut bob, &forged, &mut rng),
        DecryptError::Unauthenticated
    );

    assert_eq!(bob.decrypt(&m1, &mut rng).unwrap(), b"m1");
    // Bob's genuine reply still works, so his ratchet is where Alice expects it.
    let reply = send(&mut bob, b"reply", &mut rng);
    assert_eq!(alice.decrypt(&reply, &mut rng).unwrap(), b"reply");
}
