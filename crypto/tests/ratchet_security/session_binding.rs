//! Identities and addresses bound into the associated data: swapped or replaced ones, messages of
//! other sessions and pre-key messages of another session are refused.

use hush_crypto::DecryptError;

use crate::common::{NOW, accounts, bundle, establish};
use crate::{associated_data, refused, rng, send, session_ad, with_associated_data};

#[test]
fn swapped_or_replaced_identities_in_associated_data_fail() {
    let mut rng = rng(19);
    let (alice_account, mut bob_account) = accounts(&mut rng);
    let carol_account = hush_crypto::Account::new(NOW, &mut rng);
    let (alice_id, bob_id, carol_id) = (
        alice_account.identity_key().to_bytes(),
        bob_account.identity_key().to_bytes(),
        carol_account.identity_key().to_bytes(),
    );
    let (mut alice, mut bob) = establish(&alice_account, b"alice", &mut bob_account, b"bob", &mut rng);
    let genuine_ad = session_ad(&alice_id, b"alice", &bob_id, b"bob");
    assert_eq!(associated_data(&alice), genuine_ad);
    assert_eq!(associated_data(&bob), genuine_ad);

    let variants: [(&str, Vec<u8>); 7] = [
        (
            "identities swapped",
            session_ad(&bob_id, b"alice", &alice_id, b"bob"),
        ),
        (
            "addresses swapped",
            session_ad(&alice_id, b"bob", &bob_id, b"alice"),
        ),
        ("both swapped", session_ad(&bob_id, b"bob", &alice_id, b"alice")),
        (
            "initiator replaced",
            session_ad(&carol_id, b"alice", &bob_id, b"bob"),
        ),
        (
            "responder replaced",
            session_ad(&alice_id, b"alice", &carol_id, b"bob"),
        ),
        (
            "initiator address replaced",
            session_ad(&alice_id, b"carol", &bob_id, b"bob"),
        ),
        (
            "responder address replaced",
            session_ad(&alice_id, b"alice", &bob_id, b"carol"),
        ),
    ];
    let to_bob = send(&mut alice, b"to Bob", &mut rng);
    let to_alice = send(&mut bob, b"to Alice", &mut rng);
    for (name, ad) in &variants {
        assert_ne!(ad, &genuine_ad);
        let mut wrong_bob = with_associated_data(&bob, ad);
        assert_eq!(
            refused(&mut wrong_bob, &to_bob, &mut rng),
            DecryptError::Unauthenticated,
            "{name}"
        );
        let mut wrong_alice = with_associated_data(&alice, ad);
        assert_eq!(
            refused(&mut wrong_alice, &to_alice, &mut rng),
            DecryptError::Unauthenticated,
            "{name}"
        );
    }
    assert_eq!(bob.decrypt(&to_bob, &mut rng).unwrap(), b"to Bob");
    assert_eq!(alice.decrypt(&to_alice, &mut rng).unwrap(), b"to Alice");
}

#[test]
fn cross_delivery_between_sessions_of_other_identities_or_addresses_fails() {
    let mut rng = rng(20);
    let (alice_account, mut bob_account) = accounts(&mut rng);
    let carol_account = hush_crypto::Account::new(NOW, &mut rng);
    let (mut alice, mut bob) = establish(&alice_account, b"alice", &mut bob_account, b"bob", &mut rng);
    let (mut carol, mut bob_for_carol) =
        establish(&carol_account, b"carol", &mut bob_account, b"bob", &mut rng);
    let (mut alice_second, mut bob_second) =
        establish(&alice_account, b"alice", &mut bob_account, b"bob-2", &mut rng);
    let receivers = [&mut bob, &mut bob_for_carol, &mut bob_second];
    let messages = [
        send(&mut alice, b"from Alice", &mut rng),
        send(&mut carol, b"from Carol", &mut rng),
        send(&mut alice_second, b"from Alice to bob-2", &mut rng),
    ];
    for (to, receiver) in receivers.into_iter().enumerate() {
        for (from, message) in messages.iter().enumerate() {
            if from != to {
                refused(receiver, message, &mut rng);
            }
        }
        assert!(receiver.decrypt(&messages[to], &mut rng).is_ok());
    }
}

#[test]
fn pre_key_message_of_another_session_is_refused_without_change() {
    let mut rng = rng(27);
    let (alice_account, mut bob_account) = accounts(&mut rng);
    let (_, mut bob) = establish(&alice_account, b"alice", &mut bob_account, b"bob", &mut rng);
    let bundle = bundle(&mut bob_account, true, &mut rng);
    let mut other = alice_account
        .create_outbound_session(b"alice", b"bob", &bundle, NOW, &mut rng)
        .unwrap();
    let message = send(&mut other, b"other session", &mut rng);
    assert_eq!(refused(&mut bob, &message, &mut rng), DecryptError::WrongSession);
}
