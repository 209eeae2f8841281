//! Bundles and initial messages PQXDH refuses, each leaving the account unchanged.

use hush_crypto::pq::{KemPreKeyKind, SetupPolicy};
use hush_crypto::{Account, BundleError, InboundError, PreKeyMessage, SessionError};

use crate::common::{NOW, account_state};
use crate::{bob, rng, served, start};

/// Offset of the KEM header's kind byte in a version-2 pre-key message with a one-time prekey.
const KEM_KIND_AT: usize = 2 + 32 + 32 + 4 + 1 + 4 + 1;
const KEM_ID_AT: usize = KEM_KIND_AT + 1;
const KEM_CIPHERTEXT_AT: usize = KEM_ID_AT + 4;

fn mutated(first: &PreKeyMessage, at: usize, value: u8) -> PreKeyMessage {
    let mut bytes = first.to_bytes();
    bytes[at] = value;
    PreKeyMessage::from_bytes(&bytes).unwrap()
}

#[test]
fn classical_bundle_is_refused_under_the_default_policy() {
    let mut rng = rng(10);
    let alice = Account::new(NOW, &mut rng);
    let bob = Account::new(NOW, &mut rng);
    let classical = bob.prekey_bundle(None).unwrap().verify(None).unwrap();
    let refused = alice.create_session(
        b"alice",
        b"bob",
        &classical,
        SetupPolicy::default(),
        NOW,
        &mut rng,
    );
    assert_eq!(refused.unwrap_err(), SessionError::ClassicalSetupRefused);
    // A PQXDH bundle whose KEM prekey a relay stripped is the same classical bundle.
    let mut stripped = served(&crate::bob(&mut rng), true, Some(1));
    stripped.kem_prekey = None;
    let verified = stripped.verify(None).unwrap();
    let refused = alice.create_session(b"alice", b"bob", &verified, SetupPolicy::default(), NOW, &mut rng);
    assert_eq!(refused.unwrap_err(), SessionError::ClassicalSetupRefused);
}

#[test]
fn classical_message_is_refused_by_a_responder_requiring_post_quantum() {
    let mut rng = rng(11);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = bob(&mut rng);
    let bundle = bob.prekey_bundle(Some(1)).unwrap().verify(None).unwrap();
    let mut session = alice
        .create_outbound_session(b"alice", b"bob", &bundle, NOW, &mut rng)
        .unwrap();
    let hush_crypto::SessionMessage::PreKey(first) = session.encrypt(NOW, b"x", &mut rng).unwrap() else {
        panic!()
    };
    let before = account_state(&bob);
    let refused =
        bob.create_inbound_session_with_policy(b"bob", &first, SetupPolicy::default(), NOW, &mut rng);
    assert_eq!(refused.unwrap_err(), InboundError::ClassicalSetupRefused);
    assert_eq!(account_state(&bob), before);
}

#[test]
fn kem_prekey_with_a_bad_signature_is_refused() {
    let mut rng = rng(12);
    let bob = bob(&mut rng);
    let genuine = served(&bob, true, Some(1));
    let mut forged = genuine.clone();
    forged.kem_prekey.as_mut().unwrap().signature[5] ^= 1;
    assert_eq!(forged.verify(None).unwrap_err(), BundleError::BadKemSignature);
    // A genuinely signed one-time key relabelled as last-resort (or given another id) fails too:
    // kind and id are signed.
    let mut relabelled = genuine.clone();
    let kem = relabelled.kem_prekey.as_mut().unwrap();
    kem.kind = KemPreKeyKind::LastResort;
    kem.id = bob.signed_prekey().unwrap().id;
    assert_eq!(relabelled.verify(None).unwrap_err(), BundleError::BadKemSignature);
    let mut renumbered = genuine.clone();
    renumbered.kem_prekey.as_mut().unwrap().id = 2;
    assert_eq!(renumbered.verify(None).unwrap_err(), BundleError::BadKemSignature);
    // Another account's KEM prekey under Bob's identity.
    let mallory = crate::bob(&mut rng);
    let mut swapped = genuine.clone();
    swapped.kem_prekey = served(&mallory, true, Some(1)).kem_prekey;
    assert_eq!(swapped.verify(None).unwrap_err(), BundleError::BadKemSignature);
    assert!(genuine.verify(None).is_ok());
}

#[test]
fn stale_last_resort_kem_prekey_under_a_new_signed_prekey_is_refused() {
    let mut rng = rng(13);
    let mut bob = bob(&mut rng);
    let old = served(&bob, false, None).kem_prekey.unwrap();
    bob.rotate_signed_prekey(NOW, &mut rng);
    bob.generate_last_resort_kem_prekey(&mut rng).unwrap();
    let mut paired = served(&bob, false, None);
    paired.kem_prekey = Some(old.clone());
    assert_eq!(
        paired.verify(None).unwrap_err(),
        BundleError::KemPreKeyMismatch {
            kem_prekey_id: old.id,
            signed_prekey_id: bob.signed_prekey().unwrap().id
        }
    );
}

#[test]
fn tampered_kem_ciphertext_fails_to_authenticate_and_changes_nothing() {
    let mut rng = rng(14);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = bob(&mut rng);
    let (_, first) = start(&alice, &served(&bob, true, Some(1)), &mut rng);
    let before = account_state(&bob);
    for at in [
        KEM_CIPHERTEXT_AT,
        KEM_CIPHERTEXT_AT + 700,
        KEM_CIPHERTEXT_AT + 1567,
    ] {
        let tampered = mutated(&first, at, first.to_bytes()[at] ^ 0x40);
        let refused = bob.create_inbound_session(b"bob", &tampered, NOW, &mut rng);
        assert_eq!(refused.unwrap_err(), InboundError::Unauthenticated, "byte {at}");
        assert_eq!(account_state(&bob), before, "byte {at}");
    }
    assert!(bob.create_inbound_session(b"bob", &first, NOW, &mut rng).is_ok());
}

#[test]
fn wrong_kem_prekey_id_or_kind_is_refused_before_any_key_agreement() {
    let mut rng = rng(15);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = bob(&mut rng);
    let (_, first) = start(&alice, &served(&bob, true, Some(1)), &mut rng);
    let before = account_state(&bob);
    let unknown = mutated(&first, KEM_ID_AT + 3, 9);
    assert_eq!(
        bob.create_inbound_session(b"bob", &unknown, NOW, &mut rng)
            .unwrap_err(),
        InboundError::UnknownKemPreKey {
            kind: KemPreKeyKind::OneTime,
            id: 9
        }
    );
    // Another held one-time key: it decapsulates to an unrelated secret.
    let other = mutated(&first, KEM_ID_AT + 3, 2);
    assert_eq!(
        bob.create_inbound_session(b"bob", &other, NOW, &mut rng)
            .unwrap_err(),
        InboundError::Unauthenticated
    );
    // The last-resort key with the one-time key's id: Bob holds none with id 1 unless it is the
    // signed prekey's, and then it is the wrong key.
    let relabelled = mutated(&first, KEM_KIND_AT, 2);
    assert_eq!(
        bob.create_inbound_session(b"bob", &relabelled, NOW, &mut rng)
            .unwrap_err(),
        InboundError::Unauthenticated
    );
    assert_eq!(account_state(&bob), before);
    // The message stripped of its KEM header (re-encoded as classical X3DH) does not authenticate.
    let mut classical = first.to_bytes();
    classical[0] = 1;
    classical.drain(KEM_KIND_AT - 1..KEM_CIPHERTEXT_AT + 1568);
    let classical = PreKeyMessage::from_bytes(&classical).unwrap();
    assert_eq!(
        bob.create_inbound_session(b"bob", &classical, NOW, &mut rng)
            .unwrap_err(),
        InboundError::Unauthenticated
    );
    assert_eq!(account_state(&bob), before);
}

#[test]
fn reused_one_time_kem_prekey_is_refused() {
    let mut rng = rng(16);
    let mut bob = bob(&mut rng);
    // A relay serves one-time KEM prekey 1 to two initiators (no EC one-time prekey either time).
    let bundle = served(&bob, false, Some(1));
    let (_, first) = start(&Account::new(NOW, &mut rng), &bundle, &mut rng);
    let (_, second) = start(&Account::new(NOW, &mut rng), &bundle, &mut rng);
    assert!(bob.create_inbound_session(b"bob", &first, NOW, &mut rng).is_ok());
    let before = account_state(&bob);
    assert_eq!(
        bob.create_inbound_session(b"bob", &second, NOW, &mut rng)
            .unwrap_err(),
        InboundError::UnknownKemPreKey {
            kind: KemPreKeyKind::OneTime,
            id: 1
        }
    );
    // The first message replayed: its base key is remembered.
    assert_eq!(
        bob.create_inbound_session(b"bob", &first, NOW, &mut rng)
            .unwrap_err(),
        InboundError::ReplayedBaseKey
    );
    assert_eq!(account_state(&bob), before);
}

#[test]
fn pqxdh_message_delivered_to_another_account_with_the_same_prekey_ids_is_refused() {
    let mut rng = rng(17);
    let alice = Account::new(NOW, &mut rng);
    let bob = bob(&mut rng);
    let mut carol = crate::bob(&mut rng);
    let (_, first) = start(&alice, &served(&bob, true, Some(1)), &mut rng);
    let before = account_state(&carol);
    assert_eq!(
        carol
            .create_inbound_session(b"bob", &first, NOW, &mut rng)
            .unwrap_err(),
        InboundError::Unauthenticated
    );
    assert_eq!(account_state(&carol), before);
}
