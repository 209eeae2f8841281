//! Prekey lifetimes on the responder: a rotated signed prekey decrypts within the grace window,
//! fails cleanly after it and is erased; a full account erases its oldest one-time prekeys to make
//! new ones.

use hush_crypto::{Account, InboundError, SIGNED_PREKEY_GRACE, SIGNED_PREKEY_ROTATION};

use crate::common::{NOW, account_state, accounts, first_prekey_message};
use crate::rng;

#[test]
fn rotated_signed_prekey_works_within_grace_then_expires_and_is_erased() {
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
    let (_, fresh) = crate::common::first_prekey_message_at(expired_at, parties, true, b"new", &mut rng);
    assert_eq!(fresh.signed_prekey_id(), new.id);
    assert_eq!(
        bob.create_inbound_session(b"bob", &fresh, expired_at, &mut rng)
            .unwrap()
            .plaintext,
        b"new"
    );
}

#[test]
fn next_rotation_after_grace_erases_the_old_signed_prekey() {
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
