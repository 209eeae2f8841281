//! Initial (pre-key) messages that are refused: a corrupted one gets one uniform error and writes
//! nothing (the one-time prekey stays, the genuine message then consumes it), and one naming an
//! unknown or already used prekey id is a typed error that writes nothing.

use hush_crypto::{Account, InboundError, SessionMessage};
use rand::rngs::StdRng;

use crate::common::{NOW, account_state, accounts, bundle, first_prekey_message};
use crate::{PREKEY_ONE_TIME_PREKEY_ID, PREKEY_SIGNED_PREKEY_ID, decode_prekey, rng, with_bytes};

#[test]
fn corrupted_initial_message_uniform_error_account_unchanged_then_genuine_consumes_prekey() {
    let mut rng = rng(16);
    let (alice, mut bob) = accounts(&mut rng);
    // Other one-time prekeys, so a flipped id may also name one Bob holds.
    bob.generate_one_time_prekeys(4, &mut rng);
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let otk_id = first.one_time_prekey_id().unwrap();
    let genuine = first.to_bytes();
    let before = account_state(&bob);
    let count_before = bob.one_time_prekey_count();

    let (mut decode_errors, mut unauthenticated, mut typed) = (0, 0, 0);
    for position in 0..genuine.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut corrupted = genuine.clone();
            corrupted[position] ^= mask;
            let message = match decode_prekey(&corrupted) {
                Ok(message) => message,
                Err(_) => {
                    decode_errors += 1;
                    continue;
                }
            };
            let error = bob
                .create_inbound_session(b"bob", &message, NOW, &mut rng)
                .expect_err("a corrupted pre-key message must not start a session");
            if PREKEY_SIGNED_PREKEY_ID.contains(&position) {
                assert!(
                    matches!(error, InboundError::UnknownSignedPreKey { .. }),
                    "{error:?}"
                );
                typed += 1;
            } else if PREKEY_ONE_TIME_PREKEY_ID.contains(&position) {
                // Either an id Bob does not hold, or another of his keys: the DH then fails.
                assert!(
                    matches!(
                        error,
                        InboundError::UnknownOneTimePreKey { .. } | InboundError::Unauthenticated
                    ),
                    "{error:?}"
                );
                typed += 1;
            } else {
                // Every cryptographic failure looks the same.
                assert_eq!(
                    error,
                    InboundError::Unauthenticated,
                    "byte {position} ^ {mask:#04x}"
                );
                unauthenticated += 1;
            }
            assert_eq!(
                account_state(&bob),
                before,
                "byte {position} ^ {mask:#04x} wrote state"
            );
        }
    }
    assert!(decode_errors > 0 && unauthenticated > 100 && typed > 0);
    assert_eq!(bob.one_time_prekey_count(), count_before);
    assert!(
        bob.prekey_bundle(Some(otk_id)).is_some(),
        "one-time prekey still there"
    );

    let inbound = bob
        .create_inbound_session(b"bob", &decode_prekey(&genuine).unwrap(), NOW, &mut rng)
        .unwrap();
    assert_eq!(inbound.plaintext, b"hi");
    assert_eq!(bob.one_time_prekey_count(), count_before - 1);
    assert!(
        bob.prekey_bundle(Some(otk_id)).is_none(),
        "one-time prekey consumed"
    );
}

#[test]
fn unknown_one_time_prekey_id_is_typed_error_and_nothing_written() {
    let mut rng = rng(17);
    let (alice, mut bob) = accounts(&mut rng);
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let before = account_state(&bob);
    let unknown = decode_prekey(&with_bytes(
        &first.to_bytes(),
        PREKEY_ONE_TIME_PREKEY_ID,
        &9999u32.to_be_bytes(),
    ))
    .unwrap();
    assert_eq!(
        bob.create_inbound_session(b"bob", &unknown, NOW, &mut rng)
            .unwrap_err(),
        InboundError::UnknownOneTimePreKey { id: 9999 }
    );
    assert_eq!(account_state(&bob), before);
}

#[test]
fn unknown_signed_prekey_id_is_typed_error_and_nothing_written() {
    let mut rng = rng(1717);
    let (alice, mut bob) = accounts(&mut rng);
    for with_otk in [true, false] {
        let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", with_otk, b"hi", &mut rng);
        let before = account_state(&bob);
        let unknown = decode_prekey(&with_bytes(
            &first.to_bytes(),
            PREKEY_SIGNED_PREKEY_ID,
            &77u32.to_be_bytes(),
        ))
        .unwrap();
        assert_eq!(
            bob.create_inbound_session(b"bob", &unknown, NOW, &mut rng)
                .unwrap_err(),
            InboundError::UnknownSignedPreKey { id: 77 }
        );
        assert_eq!(account_state(&bob), before);
    }
}

#[test]
fn one_time_prekey_used_by_another_initiator_is_typed_error_and_nothing_written() {
    let mut rng = rng(171717);
    let (alice, mut bob) = accounts(&mut rng);
    let carol = Account::new(NOW, &mut rng);
    // Alice and Carol fetched the same bundle (a relay serving a one-time prekey twice).
    let bundle = bundle(&mut bob, true, &mut rng);
    let otk_id = bundle.bundle().one_time_prekey.unwrap().id;
    let send_first = |from: &Account, address: &[u8], rng: &mut StdRng| {
        let mut session = from
            .create_outbound_session(address, b"bob", &bundle, NOW, rng)
            .unwrap();
        let SessionMessage::PreKey(first) = session.encrypt(NOW, b"hi", rng).unwrap() else {
            panic!("expected a pre-key message");
        };
        first
    };
    let from_alice = send_first(&alice, b"alice", &mut rng);
    let from_carol = send_first(&carol, b"carol", &mut rng);

    bob.create_inbound_session(b"bob", &from_alice, NOW, &mut rng)
        .unwrap();
    let before = account_state(&bob);
    assert_eq!(
        bob.create_inbound_session(b"bob", &from_carol, NOW, &mut rng)
            .unwrap_err(),
        InboundError::UnknownOneTimePreKey { id: otk_id }
    );
    assert_eq!(account_state(&bob), before);
}
