//! How long signed prekeys and the base keys remembered for them live: the replay cache is tied
//! to signed-prekey rotation, and an initiator refuses a signed prekey its owner must have erased.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{NOW, account_state, accounts, bundle, first_prekey_message, first_prekey_message_at};
use hush_crypto::{
    Account, BASE_KEY_ROTATION_THRESHOLD, BundleError, InboundError, MAX_BASE_KEYS_PER_SIGNED_PREKEY,
    MAX_REMEMBERED_BASE_KEYS, MAX_SIGNED_PREKEY_CLOCK_SKEW, MAX_SIGNED_PREKEYS, SIGNED_PREKEY_GRACE,
    SIGNED_PREKEY_ROTATION, SessionError,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// One contact opens sessions without one-time prekeys, as many as the account remembers in all
/// and one more (a FIFO of that size would then have forgotten the first). The signed prekey's
/// cache fills, asking for rotation half way; then further sessions without a one-time prekey
/// are refused, and the very first message, replayed, is still refused.
#[test]
fn full_replay_cache_refuses_new_sessions_and_still_refuses_an_early_replay() {
    let mut rng = StdRng::seed_from_u64(401);
    let (alice, mut bob) = accounts(&mut rng);
    let spk_id = bob.signed_prekey().unwrap().id;
    let mut first = None;
    let mut accepted = 0;
    let mut refusal = None;
    for _ in 0..=MAX_REMEMBERED_BASE_KEYS {
        let (_, message) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", false, b"hi", &mut rng);
        // Pickling the whole account every round would dominate the test's time.
        let before = (accepted >= MAX_BASE_KEYS_PER_SIGNED_PREKEY).then(|| account_state(&bob));
        match bob.create_inbound_session(b"bob", &message, NOW, &mut rng) {
            Ok(_) => accepted += 1,
            Err(error) => {
                assert_eq!(Some(account_state(&bob)), before, "a refusal writes nothing");
                refusal = Some(error);
                break;
            }
        }
        first.get_or_insert(message);
        assert_eq!(
            bob.needs_signed_prekey_rotation(NOW),
            accepted >= BASE_KEY_ROTATION_THRESHOLD,
            "after {accepted} sessions"
        );
    }
    let first = first.unwrap();
    assert_eq!(
        bob.create_inbound_session(b"bob", &first, NOW, &mut rng)
            .unwrap_err(),
        InboundError::ReplayedBaseKey,
        "the first message, replayed after {accepted} sessions"
    );
    assert_eq!(accepted, MAX_BASE_KEYS_PER_SIGNED_PREKEY);
    assert_eq!(refusal, Some(InboundError::ReplayCacheFull { id: spk_id }));
    assert_eq!(bob.remembered_base_keys(spk_id), MAX_BASE_KEYS_PER_SIGNED_PREKEY);

    // A session with a one-time prekey needs no remembered base key and still works; and so does
    // the replay check after a save and restore.
    let (_, with_otk) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"otk", &mut rng);
    assert_eq!(
        bob.create_inbound_session(b"bob", &with_otk, NOW, &mut rng)
            .unwrap()
            .plaintext,
        b"otk"
    );
    let mut restored = Account::from_pickle(&bob.pickle()).unwrap();
    assert_eq!(
        restored
            .create_inbound_session(b"bob", &first, NOW, &mut rng)
            .unwrap_err(),
        InboundError::ReplayedBaseKey
    );

    // After the (early) rotation the new signed prekey takes sessions without one-time prekeys.
    let new = bob.rotate_signed_prekey(NOW, &mut rng);
    assert!(!bob.needs_signed_prekey_rotation(NOW));
    let (_, later) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", false, b"later", &mut rng);
    assert_eq!(later.signed_prekey_id(), new.id);
    bob.create_inbound_session(b"bob", &later, NOW, &mut rng).unwrap();
    assert_eq!(
        bob.create_inbound_session(b"bob", &first, NOW, &mut rng)
            .unwrap_err(),
        InboundError::ReplayedBaseKey
    );
}

/// Expiry, and early erasure past `MAX_SIGNED_PREKEYS`, forget the base keys of exactly the
/// signed prekey erased: its replays then fail because the key is gone, the others' are still
/// refused as replays.
#[test]
fn rotation_and_expiry_forget_exactly_that_signed_prekeys_base_keys() {
    let mut rng = StdRng::seed_from_u64(402);
    let (alice, mut bob) = accounts(&mut rng);
    let old_id = bob.signed_prekey().unwrap().id;
    let mut on_old = Vec::new();
    for _ in 0..3 {
        let (_, message) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", false, b"old", &mut rng);
        bob.create_inbound_session(b"bob", &message, NOW, &mut rng)
            .unwrap();
        on_old.push(message);
    }
    let rotated_at = NOW + SIGNED_PREKEY_ROTATION;
    let new_id = bob.rotate_signed_prekey(rotated_at, &mut rng).id;
    let parties = (&alice, &b"alice"[..], &mut bob, &b"bob"[..]);
    let (_, on_new) = first_prekey_message_at(rotated_at, parties, false, b"new", &mut rng);
    bob.create_inbound_session(b"bob", &on_new, rotated_at, &mut rng)
        .unwrap();
    assert_eq!(bob.remembered_base_keys(old_id), 3);
    assert_eq!(bob.remembered_base_keys(new_id), 1);

    let replay = |bob: &mut Account, message, now, rng: &mut StdRng| {
        bob.create_inbound_session(b"bob", message, now, rng).unwrap_err()
    };
    // Within the grace window both are replays.
    let last_moment = rotated_at + SIGNED_PREKEY_GRACE - 1;
    bob.remove_expired_signed_prekeys(last_moment);
    for message in &on_old {
        assert_eq!(
            replay(&mut bob, message, last_moment, &mut rng),
            InboundError::ReplayedBaseKey
        );
    }
    // The old signed prekey expires: its base keys go with it, the new one's stay.
    let expired_at = rotated_at + SIGNED_PREKEY_GRACE;
    bob.remove_expired_signed_prekeys(expired_at);
    assert_eq!(bob.signed_prekey_ids(), vec![new_id]);
    assert_eq!(bob.remembered_base_keys(old_id), 0);
    assert_eq!(bob.remembered_base_keys(new_id), 1);
    for message in &on_old {
        assert_eq!(
            replay(&mut bob, message, expired_at, &mut rng),
            InboundError::UnknownSignedPreKey { id: old_id }
        );
    }
    assert_eq!(
        replay(&mut bob, &on_new, expired_at, &mut rng),
        InboundError::ReplayedBaseKey
    );

    // Rotating past MAX_SIGNED_PREKEYS erases the oldest early, with its base keys only.
    for _ in 0..MAX_SIGNED_PREKEYS - 1 {
        bob.rotate_signed_prekey(expired_at, &mut rng);
        assert!(bob.signed_prekey_ids().contains(&new_id));
        assert_eq!(
            replay(&mut bob, &on_new, expired_at, &mut rng),
            InboundError::ReplayedBaseKey
        );
    }
    bob.rotate_signed_prekey(expired_at, &mut rng);
    assert_eq!(bob.signed_prekey_ids().len(), MAX_SIGNED_PREKEYS);
    assert!(!bob.signed_prekey_ids().contains(&new_id));
    assert_eq!(bob.remembered_base_keys(new_id), 0);
    assert_eq!(
        replay(&mut bob, &on_new, expired_at, &mut rng),
        InboundError::UnknownSignedPreKey { id: new_id }
    );
}

/// The initiator refuses a bundle whose signed prekey its owner must already have erased, or
/// one dated too far ahead; the bounds are exact.
#[test]
fn bundle_with_a_signed_prekey_too_old_or_from_the_future_is_refused() {
    let mut rng = StdRng::seed_from_u64(403);
    let (alice, mut bob) = accounts(&mut rng);
    let bundle = bundle(&mut bob, false, &mut rng);
    let outbound = |now: u64, rng: &mut StdRng| {
        alice
            .create_outbound_session(b"alice", b"bob", &bundle, now, rng)
            .map(|_| ())
    };
    let too_old = NOW + SIGNED_PREKEY_ROTATION + SIGNED_PREKEY_GRACE;
    assert_eq!(outbound(too_old - 1, &mut rng), Ok(()));
    assert_eq!(
        outbound(too_old, &mut rng),
        Err(SessionError::Bundle(BundleError::SignedPreKeyTooOld {
            created_at: NOW,
            now: too_old
        }))
    );
    assert_eq!(outbound(NOW - MAX_SIGNED_PREKEY_CLOCK_SKEW, &mut rng), Ok(()));
    assert_eq!(
        outbound(NOW - MAX_SIGNED_PREKEY_CLOCK_SKEW - 1, &mut rng),
        Err(SessionError::Bundle(BundleError::SignedPreKeyInTheFuture {
            created_at: NOW,
            now: NOW - MAX_SIGNED_PREKEY_CLOCK_SKEW - 1
        }))
    );
    // Once the owner rotates, its new bundle is accepted at that time.
    bob.rotate_signed_prekey(too_old, &mut rng);
    let fresh = common::bundle(&mut bob, false, &mut rng);
    alice
        .create_outbound_session(b"alice", b"bob", &fresh, too_old, &mut rng)
        .unwrap();
}
