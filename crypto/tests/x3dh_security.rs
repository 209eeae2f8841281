#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Security properties of X3DH and session set-up: lines 14-25 ("X3DH / sessions") of
//! `SECURITY-TESTS.md`. Test names start with the checklist line they cover.

mod common;

use common::{NOW, account_state, accounts, bundle, first_prekey_message, pair};
use hush_crypto::group::{GroupSender, SenderKeyDistribution, SenderKeyMessage};
use hush_crypto::peer::{PeerDecryptError, PeerEncryptError, PeerSessions};
use hush_crypto::session::MAX_UNACKNOWLEDGED_SESSION_AGE;
use hush_crypto::{
    Account, BundleError, Curve25519PublicKey, DecodeError, DecryptError, EncryptError, IdentityKey,
    InboundError, KeyError, Message, PreKeyBundle, PreKeyMessage, SIGNED_PREKEY_GRACE,
    SIGNED_PREKEY_ROTATION, SessionMessage, VERSION,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

// Byte layout of an encoded `PreKeyBundle` (test-vectors/SPEC.md): version, type, identity key,
// u32 signed prekey id, u64 created_at, signed prekey, signature, flag, u32 one-time prekey id,
// one-time prekey.
const BUNDLE_IDENTITY: core::ops::Range<usize> = 2..34;
const BUNDLE_SIGNED_PREKEY: core::ops::Range<usize> = 46..78;
const BUNDLE_ONE_TIME_PREKEY: core::ops::Range<usize> = 147..179;

// Byte layout of an encoded `PreKeyMessage`: version, type, identity key, base key, u32 signed
// prekey id, flag, [u32 one-time prekey id], u16 len || sender address, u32 len || message.
const PREKEY_IDENTITY: core::ops::Range<usize> = 2..34;
const PREKEY_BASE_KEY: core::ops::Range<usize> = 34..66;
const PREKEY_SIGNED_PREKEY_ID: core::ops::Range<usize> = 66..70;
const PREKEY_ONE_TIME_PREKEY_ID: core::ops::Range<usize> = 71..75;

// Byte layout of an encoded `Message`: version, type, ratchet key, ...
const MESSAGE_RATCHET_KEY: core::ops::Range<usize> = 2..34;

/// Where the sender address sits in an encoded pre-key message.
fn address_range(message: &PreKeyMessage) -> core::ops::Range<usize> {
    let start = if message.one_time_prekey_id().is_some() {
        75
    } else {
        71
    } + 2;
    start..start + message.sender_address().len()
}

/// Where the inner ratchet message starts in an encoded pre-key message.
fn inner_start(message: &PreKeyMessage) -> usize {
    address_range(message).end + 4
}

fn decode_prekey(bytes: &[u8]) -> Result<PreKeyMessage, DecodeError> {
    match SessionMessage::from_bytes(bytes)? {
        SessionMessage::PreKey(message) => Ok(message),
        SessionMessage::Normal(_) => panic!("a pre-key message decoded as a normal one"),
    }
}

fn with_bytes(bytes: &[u8], range: core::ops::Range<usize>, replacement: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[range].copy_from_slice(replacement);
    out
}

// ---------------------------------------------------------------------------------------------
// Line 14: any bit flip in the signed-prekey signature -> bundle rejected.

#[test]
fn line14_every_bit_flip_in_signed_prekey_signature_rejects_bundle() {
    let mut rng = rng(14);
    let mut bob = Account::new(NOW, &mut rng);
    let otk = bob.generate_one_time_prekeys(1, &mut rng)[0];
    let genuine = bob.prekey_bundle(Some(otk.id)).unwrap();
    genuine.verify(None).unwrap();
    genuine.verify(Some(&bob.identity_key())).unwrap();

    for bit in 0..64 * 8 {
        let mut bundle = genuine.clone();
        bundle.signed_prekey.signature[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            bundle.verify(None),
            Err(BundleError::BadSignature),
            "flipped signature bit {bit}"
        );
        // The same through the wire encoding (the signature is not checked by decoding).
        let decoded = PreKeyBundle::from_bytes(&bundle.to_bytes()).unwrap();
        assert_eq!(decoded.verify(None), Err(BundleError::BadSignature));
    }
}

#[test]
fn line14_any_change_to_the_signed_fields_rejects_bundle() {
    let mut rng = rng(1414);
    let bob = Account::new(NOW, &mut rng);
    let genuine = bob.prekey_bundle(None).unwrap();
    let other_key = Account::new(NOW, &mut rng).signed_prekey().unwrap().key;

    let mut changed_id = genuine.clone();
    changed_id.signed_prekey.id ^= 1;
    let mut changed_time = genuine.clone();
    changed_time.signed_prekey.created_at += 1;
    let mut changed_key = genuine.clone();
    changed_key.signed_prekey.key = other_key;
    for bundle in [changed_id, changed_time, changed_key] {
        assert_eq!(bundle.verify(None), Err(BundleError::BadSignature));
    }
}

// ---------------------------------------------------------------------------------------------
// Line 15: signed prekey signed by another key, or an identity differing from the pinned one.

#[test]
fn line15_signed_prekey_signed_by_another_identity_is_rejected() {
    let mut rng = rng(15);
    let bob = Account::new(NOW, &mut rng);
    let mallory = Account::new(NOW, &mut rng);

    // Bob's identity with Mallory's (validly self-signed) signed prekey.
    let mut forged = bob.prekey_bundle(None).unwrap();
    forged.signed_prekey = mallory.signed_prekey().unwrap();
    assert_eq!(forged.verify(None), Err(BundleError::BadSignature));
    assert_eq!(
        forged.verify(Some(&bob.identity_key())),
        Err(BundleError::BadSignature)
    );

    // Mallory's identity with Bob's signed prekey.
    let mut forged = bob.prekey_bundle(None).unwrap();
    forged.identity_key = mallory.identity_key();
    assert_eq!(forged.verify(None), Err(BundleError::BadSignature));

    // Bob's signed prekey with a signature Mallory made over exactly the same bytes.
    #[cfg(feature = "hazmat")]
    {
        let mut forged = bob.prekey_bundle(None).unwrap();
        let spk = &forged.signed_prekey;
        forged.signed_prekey.signature = mallory.hazmat_sign_raw(&hush_crypto::signed_prekey_message(
            spk.id,
            spk.created_at,
            &spk.key,
        ));
        assert_eq!(forged.verify(None), Err(BundleError::BadSignature));
    }
}

#[test]
fn line15_bundle_identity_differing_from_pinned_one_is_rejected() {
    let mut rng = rng(1515);
    let bob = Account::new(NOW, &mut rng);
    let mallory = Account::new(NOW, &mut rng);
    let bob_identity = bob.identity_key();

    // Mallory's own bundle is perfectly valid, but not Bob's.
    let mallory_bundle = mallory.prekey_bundle(None).unwrap();
    mallory_bundle.verify(None).unwrap();
    assert_eq!(
        mallory_bundle.verify(Some(&bob_identity)),
        Err(BundleError::IdentityMismatch)
    );
    assert!(
        bob.prekey_bundle(None)
            .unwrap()
            .verify(Some(&bob_identity))
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// Line 16: corrupted initial message -> one uniform error, nothing saved, one-time prekey kept;
// then the genuine message succeeds and consumes it.

#[test]
fn line16_corrupted_initial_message_uniform_error_account_unchanged_then_genuine_consumes_prekey() {
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

// ---------------------------------------------------------------------------------------------
// Line 17: unknown or used prekey ids -> typed error, nothing written.

#[test]
fn line17_unknown_one_time_prekey_id_is_typed_error_and_nothing_written() {
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
fn line17_unknown_signed_prekey_id_is_typed_error_and_nothing_written() {
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
fn line17_one_time_prekey_used_by_another_initiator_is_typed_error_and_nothing_written() {
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

// ---------------------------------------------------------------------------------------------
// Line 18: replay of an initial message -> rejected; never two sessions from one message.

#[test]
fn line18_replayed_initial_message_is_rejected_with_and_without_one_time_prekey() {
    let mut rng = rng(18);
    let (alice, mut bob) = accounts(&mut rng);
    for with_otk in [true, false] {
        let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", with_otk, b"hi", &mut rng);
        bob.create_inbound_session(b"bob", &first, NOW, &mut rng).unwrap();
        let before = account_state(&bob);
        let error = bob
            .create_inbound_session(b"bob", &first, NOW, &mut rng)
            .unwrap_err();
        assert!(
            matches!(
                error,
                InboundError::ReplayedBaseKey | InboundError::UnknownOneTimePreKey { .. }
            ),
            "with one-time prekey: {with_otk}: {error:?}"
        );
        if !with_otk {
            // Only the remembered base key stops this one.
            assert_eq!(error, InboundError::ReplayedBaseKey);
        }
        assert_eq!(account_state(&bob), before);

        // Still refused after the account is saved and restored.
        let mut restored = Account::from_pickle(&bob.pickle()).unwrap();
        assert!(
            restored
                .create_inbound_session(b"bob", &first, NOW, &mut rng)
                .is_err()
        );
    }
}

#[test]
fn line18_replay_through_peer_sessions_is_duplicate_and_never_a_second_session() {
    let mut rng = rng(1818);
    let (alice, mut bob) = accounts(&mut rng);
    for with_otk in [true, false] {
        let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", with_otk, b"hi", &mut rng);
        let first = SessionMessage::PreKey(first);
        let mut peer = PeerSessions::new(alice.identity_key());
        assert_eq!(
            peer.decrypt(&mut bob, b"bob", &first, NOW, &mut rng).unwrap(),
            b"hi"
        );
        let account_before = account_state(&bob);
        let peer_before = peer.pickle().to_plaintext_bytes();
        assert_eq!(
            peer.decrypt(&mut bob, b"bob", &first, NOW, &mut rng),
            Err(PeerDecryptError::Decrypt(DecryptError::Duplicate { counter: 0 }))
        );
        assert_eq!(peer.len(), 1);
        assert_eq!(account_state(&bob), account_before);
        assert_eq!(peer.pickle().to_plaintext_bytes(), peer_before);

        // A second, fresh PeerSessions (the first one lost) cannot recreate the session either.
        let mut fresh = PeerSessions::new(alice.identity_key());
        assert!(matches!(
            fresh.decrypt(&mut bob, b"bob", &first, NOW, &mut rng),
            Err(PeerDecryptError::Inbound(
                InboundError::ReplayedBaseKey | InboundError::UnknownOneTimePreKey { .. }
            ))
        ));
        assert!(fresh.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Line 19: message delivered to the wrong recipient identity -> rejected.

#[test]
fn line19_initial_message_delivered_to_another_identity_with_same_prekey_ids_is_rejected() {
    let mut rng = rng(19);
    let (alice, mut bob) = accounts(&mut rng);
    let mut carol = Account::new(NOW, &mut rng);
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    // Carol holds a signed prekey and a one-time prekey with exactly the ids the message names.
    let carol_otk = carol.generate_one_time_prekeys(1, &mut rng)[0];
    assert_eq!(carol.signed_prekey().unwrap().id, first.signed_prekey_id());
    assert_eq!(Some(carol_otk.id), first.one_time_prekey_id());

    let before = account_state(&carol);
    for address in [&b"bob"[..], b"carol"] {
        assert_eq!(
            carol
                .create_inbound_session(address, &first, NOW, &mut rng)
                .unwrap_err(),
            InboundError::Unauthenticated
        );
    }
    assert_eq!(account_state(&carol), before);
    assert_eq!(carol.one_time_prekey_count(), 1);
    // The intended recipient still accepts it.
    assert_eq!(
        bob.create_inbound_session(b"bob", &first, NOW, &mut rng)
            .unwrap()
            .plaintext,
        b"hi"
    );
}

#[test]
fn line19_wrong_local_address_or_claimed_sender_is_rejected() {
    let mut rng = rng(1919);
    let (alice, mut bob) = accounts(&mut rng);
    let carol = Account::new(NOW, &mut rng);
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let before = account_state(&bob);
    for wrong in [&b"bobby"[..], b"", b"bo", b"carol"] {
        assert_eq!(
            bob.create_inbound_session(wrong, &first, NOW, &mut rng)
                .unwrap_err(),
            InboundError::Unauthenticated
        );
    }
    // Another sender address of the same length, and another claimed identity.
    let bytes = first.to_bytes();
    let other_sender = decode_prekey(&with_bytes(&bytes, address_range(&first), b"carol")).unwrap();
    let other_identity = decode_prekey(&with_bytes(
        &bytes,
        PREKEY_IDENTITY,
        carol.identity_key().as_bytes(),
    ))
    .unwrap();
    for forged in [other_sender, other_identity] {
        assert_eq!(
            bob.create_inbound_session(b"bob", &forged, NOW, &mut rng)
                .unwrap_err(),
            InboundError::Unauthenticated
        );
    }
    assert_eq!(account_state(&bob), before);
    assert!(bob.create_inbound_session(b"bob", &first, NOW, &mut rng).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Line 20: several initial messages before any reply -> all decrypt into one session.

#[test]
fn line20_initial_messages_out_of_order_all_decrypt_into_one_session() {
    let mut rng = rng(20);
    let (alice, mut bob) = accounts(&mut rng);
    let bundle = bundle(&mut bob, true, &mut rng);
    let mut outbound = alice
        .create_outbound_session(b"alice", b"bob", &bundle, NOW, &mut rng)
        .unwrap();
    let messages: Vec<PreKeyMessage> = (0..6)
        .map(|i| {
            match outbound
                .encrypt(NOW, format!("m{i}").as_bytes(), &mut rng)
                .unwrap()
            {
                SessionMessage::PreKey(message) => message,
                SessionMessage::Normal(_) => panic!("no reply yet: every message is a pre-key message"),
            }
        })
        .collect();
    let order = [3, 0, 5, 1, 4, 2];

    let first = &messages[order[0]];
    let inbound = bob.create_inbound_session(b"bob", first, NOW, &mut rng).unwrap();
    assert_eq!(inbound.plaintext, format!("m{}", order[0]).as_bytes());
    let mut session = inbound.session;
    for &i in &order[1..] {
        let message = &messages[i];
        assert!(session.matches(message), "message {i} belongs to the session");
        // Starting a second session from it is refused (the base key is spent).
        assert!(
            bob.create_inbound_session(b"bob", message, NOW, &mut rng)
                .is_err()
        );
        let plaintext = session
            .decrypt(&SessionMessage::PreKey(message.clone()), &mut rng)
            .unwrap();
        assert_eq!(plaintext, format!("m{i}").as_bytes());
    }
    assert_eq!(session.session_id(), outbound.session_id());

    // The reply ends the pre-key phase.
    let reply = session.encrypt(NOW, b"reply", &mut rng).unwrap();
    assert_eq!(outbound.decrypt(&reply, &mut rng).unwrap(), b"reply");
    let next = outbound.encrypt(NOW, b"normal", &mut rng).unwrap();
    assert!(matches!(next, SessionMessage::Normal(_)));
    assert_eq!(session.decrypt(&next, &mut rng).unwrap(), b"normal");
}

#[test]
fn line20_initial_messages_out_of_order_through_peer_sessions_make_one_session() {
    for seed in 0..8 {
        let mut rng = rng(2020 + seed);
        let (alice, mut bob) = accounts(&mut rng);
        let (mut outbound, _) = first_prekey_message(
            &alice,
            b"alice",
            &mut bob,
            b"bob",
            seed.is_multiple_of(2),
            b"m",
            &mut rng,
        );
        let mut messages: Vec<(usize, SessionMessage)> = (0..8)
            .map(|i| (i, outbound.encrypt(NOW, &[i as u8], &mut rng).unwrap()))
            .collect();
        messages.shuffle(&mut rng);
        let mut peer = PeerSessions::new(alice.identity_key());
        for (i, message) in &messages {
            assert_eq!(
                peer.decrypt(&mut bob, b"bob", message, NOW, &mut rng).unwrap(),
                [*i as u8]
            );
        }
        assert_eq!(peer.len(), 1);
        assert_eq!(peer.active().unwrap().session_id(), outbound.session_id());
    }
}

// ---------------------------------------------------------------------------------------------
// Line 21: simultaneous initiation from both sides, with loss -> both converge on one session.

struct Party {
    account: Account,
    address: &'static [u8],
    peer: PeerSessions,
}

impl Party {
    fn send(&mut self, text: String, rng: &mut StdRng) -> (Vec<u8>, String) {
        let wire = self.peer.encrypt(NOW, text.as_bytes(), rng).unwrap().to_bytes();
        (wire, text)
    }

    fn receive(&mut self, (wire, text): &(Vec<u8>, String), rng: &mut StdRng) {
        let message = SessionMessage::from_bytes(wire).unwrap();
        let plaintext = self
            .peer
            .decrypt(&mut self.account, self.address, &message, NOW, rng)
            .unwrap_or_else(|error| panic!("{text:?} did not decrypt: {error:?}"));
        assert_eq!(plaintext, text.as_bytes());
    }
}

/// How messages of the lossy phase fare.
#[derive(Clone, Copy, Debug)]
enum Loss {
    /// Nothing lost (the two initial messages cross).
    None,
    /// Everything Alice sends in the first round is lost.
    AliceFirstRound,
    /// Everything Bob sends in the first round is lost.
    BobFirstRound,
    /// Everything either sends in the first round is lost.
    BothFirstRound,
    /// Each message independently lost with this percentage, and the rest delayed at random.
    Random(u32),
}

fn lost(loss: Loss, round: usize, from_alice: bool, rng: &mut StdRng) -> bool {
    match loss {
        Loss::None => false,
        Loss::AliceFirstRound => round == 0 && from_alice,
        Loss::BobFirstRound => round == 0 && !from_alice,
        Loss::BothFirstRound => round == 0,
        Loss::Random(percent) => rng.random_range(0..100) < percent,
    }
}

/// Both sides start a session at once and keep sending at the same time (so messages always
/// cross) through a lossy, reordering network, then through a reliable one. Returns the number of
/// reliable rounds it took to agree on one session.
fn simultaneous_initiation(loss: Loss, seed: u64) -> usize {
    let mut rng = rng(seed);
    let (alice_account, mut bob_account) = accounts(&mut rng);
    let mut alice_account = alice_account;
    let to_bob = bundle(&mut bob_account, true, &mut rng);
    let to_alice = bundle(&mut alice_account, seed.is_multiple_of(2), &mut rng);
    let session_a = alice_account
        .create_outbound_session(b"alice", b"bob", &to_bob, NOW, &mut rng)
        .unwrap();
    let session_b = bob_account
        .create_outbound_session(b"bob", b"alice", &to_alice, NOW, &mut rng)
        .unwrap();
    let mut alice = Party {
        peer: PeerSessions::new(bob_account.identity_key()),
        account: alice_account,
        address: b"alice",
    };
    let mut bob = Party {
        peer: PeerSessions::new(alice.account.identity_key()),
        account: bob_account,
        address: b"bob",
    };
    alice.peer.add_outbound(session_a).unwrap();
    bob.peer.add_outbound(session_b).unwrap();

    let mut to_bob_in_flight = Vec::new();
    let mut to_alice_in_flight = Vec::new();
    let step = |round: usize,
                lossy: bool,
                alice: &mut Party,
                bob: &mut Party,
                to_bob_in_flight: &mut Vec<(Vec<u8>, String)>,
                to_alice_in_flight: &mut Vec<(Vec<u8>, String)>,
                rng: &mut StdRng| {
        for i in 0..rng.random_range(1..=3) {
            let message = alice.send(format!("a{round}.{i}"), rng);
            if !(lossy && lost(loss, round, true, rng)) {
                to_bob_in_flight.push(message);
            }
        }
        for i in 0..rng.random_range(1..=3) {
            let message = bob.send(format!("b{round}.{i}"), rng);
            if !(lossy && lost(loss, round, false, rng)) {
                to_alice_in_flight.push(message);
            }
        }
        for (in_flight, receiver) in [
            (&mut *to_bob_in_flight, &mut *bob),
            (&mut *to_alice_in_flight, &mut *alice),
        ] {
            in_flight.shuffle(rng);
            // On the lossy network some messages are held back to a later round.
            let held = if lossy && matches!(loss, Loss::Random(_)) {
                rng.random_range(0..=in_flight.len())
            } else {
                0
            };
            for message in in_flight.split_off(held) {
                receiver.receive(&message, rng);
            }
        }
    };

    for round in 0..6 {
        step(
            round,
            true,
            &mut alice,
            &mut bob,
            &mut to_bob_in_flight,
            &mut to_alice_in_flight,
            &mut rng,
        );
    }
    let agreed = |alice: &Party, bob: &Party| {
        alice.peer.active().unwrap().session_id() == bob.peer.active().unwrap().session_id()
    };
    // Agreement only counts once nothing is in flight: each reliable round delivers everything,
    // including messages the lossy network held back.
    let mut rounds = 0;
    loop {
        rounds += 1;
        step(
            100 + rounds,
            false,
            &mut alice,
            &mut bob,
            &mut to_bob_in_flight,
            &mut to_alice_in_flight,
            &mut rng,
        );
        assert!(to_bob_in_flight.is_empty() && to_alice_in_flight.is_empty());
        if agreed(&alice, &bob) {
            break;
        }
        assert!(
            rounds < 4,
            "{loss:?}, seed {seed}: no agreement after {rounds} reliable rounds"
        );
    }
    // Agreement is stable: more crossing rounds keep both on the same session.
    let agreed_id = alice.peer.active().unwrap().session_id();
    for round in 200..205 {
        step(
            round,
            false,
            &mut alice,
            &mut bob,
            &mut to_bob_in_flight,
            &mut to_alice_in_flight,
            &mut rng,
        );
        assert_eq!(alice.peer.active().unwrap().session_id(), agreed_id);
        assert_eq!(bob.peer.active().unwrap().session_id(), agreed_id);
    }
    assert!(alice.peer.len() <= 2 && bob.peer.len() <= 2);
    if matches!(loss, Loss::None) {
        // Both sessions reached both sides; the smaller id wins.
        assert_eq!((alice.peer.len(), bob.peer.len()), (2, 2));
        let smallest = alice.peer.sessions().iter().map(|s| s.session_id()).min();
        assert_eq!(Some(agreed_id), smallest);
    }
    // The agreed session is answered on both sides: plain ratchet messages both ways.
    for alice_sends in [true, false] {
        let (sender, receiver) = if alice_sends {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        let (wire, text) = sender.send("after".to_owned(), &mut rng);
        assert!(matches!(
            SessionMessage::from_bytes(&wire).unwrap(),
            SessionMessage::Normal(_)
        ));
        receiver.receive(&(wire, text), &mut rng);
    }
    assert_eq!(alice.peer.active().unwrap().session_id(), agreed_id);
    assert_eq!(bob.peer.active().unwrap().session_id(), agreed_id);
    rounds
}

#[test]
fn line21_simultaneous_initiation_converges_without_loss() {
    for seed in 0..6 {
        simultaneous_initiation(Loss::None, 2100 + seed);
    }
}

#[test]
fn line21_simultaneous_initiation_converges_when_one_sides_first_messages_are_lost() {
    for seed in 0..6 {
        simultaneous_initiation(Loss::AliceFirstRound, 2110 + seed);
        simultaneous_initiation(Loss::BobFirstRound, 2120 + seed);
        simultaneous_initiation(Loss::BothFirstRound, 2130 + seed);
    }
}

#[test]
fn line21_simultaneous_initiation_converges_under_random_loss_and_reordering() {
    for seed in 0..24 {
        let percent = [20, 50, 80][seed as usize % 3];
        simultaneous_initiation(Loss::Random(percent), 2140 + seed);
    }
}

#[test]
fn line21_peer_sessions_survive_a_pickle_round_trip_mid_convergence() {
    let mut rng = rng(2199);
    let (mut alice, mut bob) = accounts(&mut rng);
    let to_bob = bundle(&mut bob, true, &mut rng);
    let to_alice = bundle(&mut alice, true, &mut rng);
    let mut alice_peer = PeerSessions::new(bob.identity_key());
    let mut bob_peer = PeerSessions::new(alice.identity_key());
    alice_peer
        .add_outbound(
            alice
                .create_outbound_session(b"alice", b"bob", &to_bob, NOW, &mut rng)
                .unwrap(),
        )
        .unwrap();
    bob_peer
        .add_outbound(
            bob.create_outbound_session(b"bob", b"alice", &to_alice, NOW, &mut rng)
                .unwrap(),
        )
        .unwrap();
    let from_alice = alice_peer.encrypt(NOW, b"a", &mut rng).unwrap();
    let from_bob = bob_peer.encrypt(NOW, b"b", &mut rng).unwrap();
    assert_eq!(
        alice_peer
            .decrypt(&mut alice, b"alice", &from_bob, NOW, &mut rng)
            .unwrap(),
        b"b"
    );
    assert_eq!(
        bob_peer
            .decrypt(&mut bob, b"bob", &from_alice, NOW, &mut rng)
            .unwrap(),
        b"a"
    );
    assert_eq!(alice_peer.len(), 2);

    let key = hush_crypto::PickleKey::new([7; 32]);
    let sealed = alice_peer.pickle().encrypt(&key, &mut rng);
    let restored = PeerSessions::from_pickle(
        &hush_crypto::peer::PeerSessionsPickle::from_encrypted(&key, &sealed).unwrap(),
    )
    .unwrap();
    assert_eq!(
        restored.pickle().to_plaintext_bytes(),
        alice_peer.pickle().to_plaintext_bytes()
    );
    let mut alice_peer = restored;

    // Crossing again, then both agree on the smaller session id.
    let from_alice = alice_peer.encrypt(NOW, b"a2", &mut rng).unwrap();
    let from_bob = bob_peer.encrypt(NOW, b"b2", &mut rng).unwrap();
    assert_eq!(
        alice_peer
            .decrypt(&mut alice, b"alice", &from_bob, NOW, &mut rng)
            .unwrap(),
        b"b2"
    );
    assert_eq!(
        bob_peer
            .decrypt(&mut bob, b"bob", &from_alice, NOW, &mut rng)
            .unwrap(),
        b"a2"
    );
    let smaller = alice_peer
        .sessions()
        .iter()
        .map(|session| session.session_id())
        .min()
        .unwrap();
    assert_eq!(alice_peer.active().unwrap().session_id(), smaller);
    assert_eq!(bob_peer.active().unwrap().session_id(), smaller);
}

#[test]
fn line21_peer_sessions_refuse_other_identities_and_change_nothing_on_failure() {
    let mut rng = rng(2198);
    let (alice, mut bob) = accounts(&mut rng);
    let mallory = Account::new(NOW, &mut rng);
    let mut peer = PeerSessions::new(alice.identity_key());
    assert_eq!(
        peer.encrypt(NOW, b"x", &mut rng).unwrap_err(),
        PeerEncryptError::NoSession
    );

    // A pre-key message from Mallory is refused before the account is touched.
    let (_, from_mallory) = first_prekey_message(&mallory, b"alice", &mut bob, b"bob", true, b"x", &mut rng);
    let before = account_state(&bob);
    assert_eq!(
        peer.decrypt(
            &mut bob,
            b"bob",
            &SessionMessage::PreKey(from_mallory),
            NOW,
            &mut rng
        ),
        Err(PeerDecryptError::WrongPeer)
    );
    assert_eq!(account_state(&bob), before);
    assert!(peer.is_empty());
    // And so is an outbound session with Mallory.
    let to_mallory = {
        let mut mallory = mallory;
        bundle(&mut mallory, false, &mut rng)
    };
    let session = bob
        .create_outbound_session(b"bob", b"mallory", &to_mallory, NOW, &mut rng)
        .unwrap();
    assert_eq!(peer.add_outbound(session), Err(PeerEncryptError::WrongPeer));

    // A message no session decrypts leaves everything as it was.
    let (mut outbound, first) =
        first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    peer.decrypt(&mut bob, b"bob", &SessionMessage::PreKey(first), NOW, &mut rng)
        .unwrap();
    let reply = peer.encrypt(NOW, b"reply", &mut rng).unwrap();
    outbound.decrypt(&reply, &mut rng).unwrap();
    let (_, stranger) = pair(&mut rng);
    let mut stranger = stranger;
    let foreign = stranger.encrypt(NOW, b"?", &mut rng).unwrap();
    let before = peer.pickle().to_plaintext_bytes();
    assert_eq!(
        peer.decrypt(&mut bob, b"bob", &foreign, NOW, &mut rng),
        Err(PeerDecryptError::Decrypt(DecryptError::Unauthenticated))
    );
    assert_eq!(peer.pickle().to_plaintext_bytes(), before);
    let genuine = outbound.encrypt(NOW, b"ok", &mut rng).unwrap();
    assert_eq!(
        peer.decrypt(&mut bob, b"bob", &genuine, NOW, &mut rng).unwrap(),
        b"ok"
    );
}

#[test]
fn line21_peer_sessions_keep_at_most_max_sessions_and_the_active_one() {
    let mut rng = rng(2197);
    let (alice, mut bob) = accounts(&mut rng);
    let mut peer = PeerSessions::new(alice.identity_key());
    let mut last = None;
    for i in 0..hush_crypto::peer::MAX_PEER_SESSIONS + 3 {
        let (outbound, first) = first_prekey_message(
            &alice,
            b"alice",
            &mut bob,
            b"bob",
            i.is_multiple_of(2),
            b"new",
            &mut rng,
        );
        assert_eq!(
            peer.decrypt(&mut bob, b"bob", &SessionMessage::PreKey(first), NOW, &mut rng)
                .unwrap(),
            b"new"
        );
        // The session the peer just started is the one we answer on.
        assert_eq!(peer.active().unwrap().session_id(), outbound.session_id());
        assert!(peer.len() <= hush_crypto::peer::MAX_PEER_SESSIONS);
        last = Some(outbound);
    }
    assert_eq!(peer.len(), hush_crypto::peer::MAX_PEER_SESSIONS);
    let mut last = last.unwrap();
    let reply = peer.encrypt(NOW, b"to the newest", &mut rng).unwrap();
    assert_eq!(last.decrypt(&reply, &mut rng).unwrap(), b"to the newest");
}

// ---------------------------------------------------------------------------------------------
// Line 22: low-order, all-zero-output or non-canonical X25519 keys anywhere -> rejected.

fn hex32(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// p = 2^255 - 19 plus `add`, little-endian (`add` small enough not to carry past the low byte).
fn p_plus(add: u8) -> [u8; 32] {
    let mut out = [0xff; 32];
    out[0] = 0xed + add;
    out[31] = 0x7f;
    out
}

/// Canonical low-order X25519 u-coordinates (RFC 7748 section 6, libsodium's list).
fn low_order_x25519() -> Vec<[u8; 32]> {
    let mut one = [0u8; 32];
    one[0] = 1;
    let mut p_minus_1 = p_plus(0);
    p_minus_1[0] = 0xec;
    vec![
        [0; 32],
        one,
        hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        hex32("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        p_minus_1,
    ]
}

/// Non-canonical X25519 encodings: p, p + 1 and the others up to 2^255 - 1, and every low-order
/// value with the top bit set, and all ones.
fn non_canonical_x25519() -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = (0..=18).map(p_plus).collect();
    for mut key in low_order_x25519() {
        key[31] |= 0x80;
        out.push(key);
    }
    out.push([0xff; 32]);
    // A valid key with the top bit set is still refused.
    let mut rng = rng(22);
    let mut valid = Account::new(NOW, &mut rng)
        .signed_prekey()
        .unwrap()
        .key
        .to_bytes();
    valid[31] |= 0x80;
    out.push(valid);
    out
}

fn refused_x25519() -> Vec<([u8; 32], KeyError)> {
    let low = low_order_x25519()
        .into_iter()
        .map(|key| (key, KeyError::LowOrder));
    low.chain(
        non_canonical_x25519()
            .into_iter()
            .map(|key| (key, KeyError::NonCanonical)),
    )
    .collect()
}

#[test]
fn line22_low_order_and_non_canonical_x25519_public_keys_are_rejected() {
    let refused = refused_x25519();
    assert_eq!(refused.len(), 5 + 19 + 5 + 2);
    for (key, expected) in &refused {
        assert_eq!(Curve25519PublicKey::from_bytes(key), Err(*expected), "{key:02x?}");
        assert_eq!(Curve25519PublicKey::try_from(*key), Err(*expected));
        assert!(serde_json::from_str::<Curve25519PublicKey>(&serde_json::to_string(key).unwrap()).is_err());
        // The raw DH refuses it too (no all-zero or attacker-known shared secret).
        assert!(hush_crypto::primitives::x25519(&[0x42; 32], key).is_err());
    }
}

#[test]
fn line22_weak_x25519_keys_in_bundles_and_messages_are_decode_errors() {
    let mut rng = rng(2222);
    let (alice, mut bob) = accounts(&mut rng);
    let bundle_bytes = bundle(&mut bob, true, &mut rng).bundle().to_bytes();
    PreKeyBundle::from_bytes(&bundle_bytes).unwrap();
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let prekey_bytes = first.to_bytes();
    let inner_ratchet_key = inner_start(&first) + MESSAGE_RATCHET_KEY.start;
    let inner_ratchet_key = inner_ratchet_key..inner_ratchet_key + 32;
    let (mut alice_session, _) = pair(&mut rng);
    let SessionMessage::Normal(message) = alice_session.encrypt(NOW, b"x", &mut rng).unwrap() else {
        panic!("an answered session sends normal messages");
    };
    let message_bytes = message.to_bytes();

    for (key, expected) in refused_x25519() {
        let invalid = |field| DecodeError::InvalidKey {
            field,
            source: expected,
        };
        assert_eq!(
            PreKeyBundle::from_bytes(&with_bytes(&bundle_bytes, BUNDLE_SIGNED_PREKEY, &key)),
            Err(invalid("signed_prekey"))
        );
        assert_eq!(
            PreKeyBundle::from_bytes(&with_bytes(&bundle_bytes, BUNDLE_ONE_TIME_PREKEY, &key)),
            Err(invalid("one_time_prekey"))
        );
        assert_eq!(
            PreKeyMessage::from_bytes(&with_bytes(&prekey_bytes, PREKEY_BASE_KEY, &key)),
            Err(invalid("base_key"))
        );
        assert_eq!(
            SessionMessage::from_bytes(&with_bytes(&prekey_bytes, inner_ratchet_key.clone(), &key)),
            Err(invalid("ratchet_key"))
        );
        assert_eq!(
            Message::from_bytes(&with_bytes(&message_bytes, MESSAGE_RATCHET_KEY, &key)),
            Err(invalid("ratchet_key"))
        );
        assert_eq!(
            SessionMessage::from_bytes(&with_bytes(&message_bytes, MESSAGE_RATCHET_KEY, &key)),
            Err(invalid("ratchet_key"))
        );
    }
}

/// Ed25519 encodings of the eight small-order points (and their sign-flipped twins), and the
/// non-canonical encodings `y >= p` with either sign.
fn refused_ed25519() -> Vec<[u8; 32]> {
    let mut one = [0u8; 32];
    one[0] = 1;
    let mut minus_one = p_plus(0);
    minus_one[0] = 0xec;
    let small_order = [
        one,
        minus_one,
        [0; 32],
        hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
        hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    ];
    let mut out = Vec::new();
    for key in small_order {
        out.push(key);
        let mut signed = key;
        signed[31] |= 0x80;
        out.push(signed);
    }
    for add in 0..=18 {
        let key = p_plus(add);
        out.push(key);
        let mut signed = key;
        signed[31] |= 0x80;
        out.push(signed);
    }
    out
}

#[test]
fn line22_small_order_and_non_canonical_ed25519_identity_keys_are_rejected() {
    let mut rng = rng(2223);
    let (alice, mut bob) = accounts(&mut rng);
    let bundle_bytes = bundle(&mut bob, true, &mut rng).bundle().to_bytes();
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let prekey_bytes = first.to_bytes();
    let distribution = GroupSender::new([1; 16], &mut rng).distribution().to_bytes();
    let invalid = |field| DecodeError::InvalidKey {
        field,
        source: KeyError::InvalidEd25519,
    };
    for key in refused_ed25519() {
        assert_eq!(
            IdentityKey::from_bytes(&key),
            Err(KeyError::InvalidEd25519),
            "{key:02x?}"
        );
        assert_eq!(
            PreKeyBundle::from_bytes(&with_bytes(&bundle_bytes, BUNDLE_IDENTITY, &key)),
            Err(invalid("identity_key"))
        );
        assert_eq!(
            PreKeyMessage::from_bytes(&with_bytes(&prekey_bytes, PREKEY_IDENTITY, &key)),
            Err(invalid("identity_key"))
        );
        let signing_key = distribution.len() - 32..distribution.len();
        assert_eq!(
            SenderKeyDistribution::from_bytes(&with_bytes(&distribution, signing_key, &key)),
            Err(invalid("signing_key"))
        );
    }
    // Sanity: genuine keys still parse.
    assert_eq!(
        IdentityKey::from_bytes(alice.identity_key().as_bytes()).unwrap(),
        alice.identity_key()
    );
}

// ---------------------------------------------------------------------------------------------
// Line 23: rotated signed prekey: decrypts within the grace window, clean failure after, private
// key gone.

#[test]
fn line23_rotated_signed_prekey_works_within_grace_then_expires_and_is_erased() {
    let mut rng = rng(23);
    let (alice, mut bob) = accounts(&mut rng);
    #[cfg(feature = "hazmat")]
    let old_secret = bob.hazmat_secrets().2;
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", false, b"old", &mut rng);
    let old_id = first.signed_prekey_id();

    let rotated_at = NOW + SIGNED_PREKEY_ROTATION;
    assert!(!bob.needs_signed_prekey_rotation(rotated_at - 1));
    assert!(bob.needs_signed_prekey_rotation(rotated_at));
    let new = bob.rotate_signed_prekey(rotated_at, &mut rng);
    assert_ne!(new.id, old_id);
    assert_eq!(bob.signed_prekey_ids(), vec![old_id, new.id]);

    // Within the grace window the old signed prekey still starts sessions.
    let mut within = bob.clone();
    let last_moment = rotated_at + SIGNED_PREKEY_GRACE - 1;
    assert_eq!(
        within
            .create_inbound_session(b"bob", &first, last_moment, &mut rng)
            .unwrap()
            .plaintext,
        b"old"
    );

    // After it: a clean, typed failure, and nothing written.
    let expired_at = rotated_at + SIGNED_PREKEY_GRACE;
    let before = account_state(&bob);
    assert_eq!(
        bob.create_inbound_session(b"bob", &first, expired_at, &mut rng)
            .unwrap_err(),
        InboundError::ExpiredSignedPreKey { id: old_id }
    );
    assert_eq!(account_state(&bob), before);

    // Removing expired keys erases it.
    bob.remove_expired_signed_prekeys(expired_at - 1);
    assert_eq!(bob.signed_prekey_ids(), vec![old_id, new.id]);
    bob.remove_expired_signed_prekeys(expired_at);
    assert_eq!(bob.signed_prekey_ids(), vec![new.id]);
    assert_eq!(
        bob.create_inbound_session(b"bob", &first, expired_at, &mut rng)
            .unwrap_err(),
        InboundError::UnknownSignedPreKey { id: old_id }
    );
    #[cfg(feature = "hazmat")]
    {
        let saved = account_state(&bob);
        assert!(
            !saved.windows(32).any(|window| window == old_secret),
            "old private key still saved"
        );
        assert_ne!(bob.hazmat_secrets().2, old_secret);
    }

    // Sessions against the new signed prekey work.
    let parties = (&alice, &b"alice"[..], &mut bob, &b"bob"[..]);
    let (_, fresh) = common::first_prekey_message_at(expired_at, parties, true, b"new", &mut rng);
    assert_eq!(fresh.signed_prekey_id(), new.id);
    assert_eq!(
        bob.create_inbound_session(b"bob", &fresh, expired_at, &mut rng)
            .unwrap()
            .plaintext,
        b"new"
    );
}

#[test]
fn line23_next_rotation_after_grace_erases_the_old_signed_prekey() {
    let mut rng = rng(2323);
    let mut bob = Account::new(NOW, &mut rng);
    let old_id = bob.signed_prekey().unwrap().id;
    let first_rotation = bob.rotate_signed_prekey(NOW + SIGNED_PREKEY_ROTATION, &mut rng);
    let second_rotation =
        bob.rotate_signed_prekey(NOW + SIGNED_PREKEY_ROTATION + SIGNED_PREKEY_GRACE, &mut rng);
    let ids = bob.signed_prekey_ids();
    assert!(!ids.contains(&old_id));
    assert_eq!(ids, vec![first_rotation.id, second_rotation.id]);
    assert_eq!(bob.signed_prekey().unwrap().id, second_rotation.id);
}

// ---------------------------------------------------------------------------------------------
// Line 24: unknown or older message version -> rejected early.

fn assert_version_refused(name: &str, genuine: &[u8], decode: &dyn Fn(&[u8]) -> Result<(), DecodeError>) {
    assert!(decode(genuine).is_ok(), "{name}: genuine bytes decode");
    for version in [0u8, 2, 3, 0x7f, 0x80, 255] {
        let expected = Err(DecodeError::UnsupportedVersion {
            expected: VERSION,
            found: version,
        });
        let mut changed = genuine.to_vec();
        changed[0] = version;
        assert_eq!(decode(&changed), expected, "{name} version {version}");
        // Refused before anything else is looked at: type, length, keys or trailing bytes.
        let mut garbage = changed.clone();
        garbage[1] = 0xee;
        garbage.push(0);
        for bytes in [
            &[version][..],
            &[version, 0xee],
            &changed[..changed.len() / 2],
            &garbage,
        ] {
            assert_eq!(
                decode(bytes),
                expected,
                "{name} version {version}, {} bytes",
                bytes.len()
            );
        }
        let mut weak_keys = changed.clone();
        for byte in weak_keys.iter_mut().skip(2).take(64) {
            *byte = 0;
        }
        assert_eq!(decode(&weak_keys), expected);
    }
}

#[test]
fn line24_unsupported_version_is_refused_first_on_every_message_type() {
    let mut rng = rng(24);
    let (alice, mut bob) = accounts(&mut rng);
    let bundle_bytes = bundle(&mut bob, true, &mut rng).bundle().to_bytes();
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let (mut session, _) = pair(&mut rng);
    let normal = session.encrypt(NOW, b"x", &mut rng).unwrap().to_bytes();
    let mut sender = GroupSender::new([9; 16], &mut rng);
    let distribution = sender.distribution().to_bytes();
    let group_message = sender.encrypt(b"group", &mut rng).unwrap().to_bytes();

    assert_version_refused("Message", &normal, &|b| Message::from_bytes(b).map(drop));
    assert_version_refused("SessionMessage(Normal)", &normal, &|b| {
        SessionMessage::from_bytes(b).map(drop)
    });
    assert_version_refused("PreKeyMessage", &first.to_bytes(), &|b| {
        PreKeyMessage::from_bytes(b).map(drop)
    });
    assert_version_refused("SessionMessage(PreKey)", &first.to_bytes(), &|b| {
        SessionMessage::from_bytes(b).map(drop)
    });
    assert_version_refused("PreKeyBundle", &bundle_bytes, &|b| {
        PreKeyBundle::from_bytes(b).map(drop)
    });
    assert_version_refused("SenderKeyDistribution", &distribution, &|b| {
        SenderKeyDistribution::from_bytes(b).map(drop)
    });
    assert_version_refused("SenderKeyMessage", &group_message, &|b| {
        SenderKeyMessage::from_bytes(b).map(drop)
    });

    // The ratchet message inside a pre-key message is checked too.
    let bytes = first.to_bytes();
    for version in [0u8, 2, 255] {
        let mut changed = bytes.clone();
        changed[inner_start(&first)] = version;
        assert_eq!(
            SessionMessage::from_bytes(&changed),
            Err(DecodeError::UnsupportedVersion {
                expected: VERSION,
                found: version
            })
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Line 25: a session with no reply for a long time stops being used for sending.

#[test]
fn line25_unanswered_session_becomes_stale_and_refuses_to_encrypt() {
    let mut rng = rng(25);
    let (alice, mut bob) = accounts(&mut rng);
    let (mut outbound, _) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let last_moment = NOW + MAX_UNACKNOWLEDGED_SESSION_AGE;
    assert!(!outbound.is_stale(last_moment));
    assert!(matches!(
        outbound.encrypt(last_moment, b"still", &mut rng).unwrap(),
        SessionMessage::PreKey(_)
    ));
    let before = outbound.pickle().to_plaintext_bytes();
    let too_late = last_moment + 1;
    assert!(outbound.is_stale(too_late));
    assert_eq!(
        outbound.encrypt(too_late, b"late", &mut rng).unwrap_err(),
        EncryptError::StaleSession {
            created_at: NOW,
            now: too_late
        }
    );
    assert_eq!(
        outbound.pickle().to_plaintext_bytes(),
        before,
        "refusal changes nothing"
    );

    // Through PeerSessions the refusal is passed on.
    let mut peer = PeerSessions::new(bob.identity_key());
    peer.add_outbound(outbound).unwrap();
    assert!(matches!(
        peer.encrypt(too_late, b"late", &mut rng),
        Err(PeerEncryptError::Encrypt(EncryptError::StaleSession { .. }))
    ));
}

#[test]
fn line25_a_reply_before_the_deadline_keeps_the_session_usable() {
    let mut rng = rng(2525);
    let (alice, mut bob) = accounts(&mut rng);
    let (mut outbound, first) =
        first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let mut inbound = bob
        .create_inbound_session(b"bob", &first, NOW, &mut rng)
        .unwrap()
        .session;
    assert!(
        !inbound.is_stale(NOW + 10 * MAX_UNACKNOWLEDGED_SESSION_AGE),
        "responders never go stale"
    );
    let reply = inbound
        .encrypt(NOW + MAX_UNACKNOWLEDGED_SESSION_AGE, b"late reply", &mut rng)
        .unwrap();
    assert_eq!(outbound.decrypt(&reply, &mut rng).unwrap(), b"late reply");
    assert!(outbound.has_received_reply());
    let much_later = NOW + 10 * MAX_UNACKNOWLEDGED_SESSION_AGE;
    assert!(!outbound.is_stale(much_later));
    let message = outbound.encrypt(much_later, b"still here", &mut rng).unwrap();
    assert!(matches!(message, SessionMessage::Normal(_)));
    assert_eq!(inbound.decrypt(&message, &mut rng).unwrap(), b"still here");
}

#[test]
fn a_full_account_erases_its_oldest_one_time_prekeys_to_make_new_ones() {
    let mut rng = rng(77);
    let mut account = hush_crypto::Account::new(NOW, &mut rng);
    let first = account.generate_one_time_prekeys(hush_crypto::MAX_ONE_TIME_PREKEYS, &mut rng);
    assert_eq!(account.one_time_prekey_count(), hush_crypto::MAX_ONE_TIME_PREKEYS);
    // Keys claimed from the relay but never used must not block new ones for good.
    let fresh = account.generate_one_time_prekeys(10, &mut rng);
    assert_eq!(fresh.len(), 10);
    assert_eq!(account.one_time_prekey_count(), hush_crypto::MAX_ONE_TIME_PREKEYS);
    // The ten oldest are gone; the newest old one and the fresh ones are usable.
    assert!(account.prekey_bundle(Some(first[0].id)).is_none());
    assert!(account.prekey_bundle(Some(first[9].id)).is_none());
    assert!(account.prekey_bundle(Some(first[10].id)).is_some());
    assert!(account.prekey_bundle(Some(fresh[9].id)).is_some());
}
