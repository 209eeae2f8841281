//! Hybrid setups that succeed, and what each leaves behind.

use hush_crypto::pq::{KemPreKeyKind, SetupPolicy};
use hush_crypto::{Account, PQXDH_VERSION, SessionMessage};

use crate::common::NOW;
use crate::{bob, rng, served, start};

#[test]
fn one_time_kem_prekey_setup_round_trips_and_erases_the_key() {
    let mut rng = rng(1);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = bob(&mut rng);
    let (mut alice_session, first) = start(&alice, &served(&bob, true, Some(1)), &mut rng);
    let kem = first.kem().unwrap();
    assert_eq!((kem.prekey.kind, kem.prekey.id), (KemPreKeyKind::OneTime, 1));
    assert_eq!(first.to_bytes()[0], PQXDH_VERSION);

    let wire = SessionMessage::from_bytes(&first.to_bytes()).unwrap();
    let SessionMessage::PreKey(received) = wire else {
        panic!()
    };
    let inbound = bob
        .create_inbound_session_with_policy(b"bob", &received, SetupPolicy::default(), NOW, &mut rng)
        .unwrap();
    assert_eq!(inbound.plaintext, b"hello");
    assert_eq!(
        bob.kem_one_time_prekey_count(),
        1,
        "the used one-time KEM prekey is erased"
    );
    assert_eq!(bob.one_time_prekey_count(), 0);

    let mut bob_session = inbound.session;
    let reply = bob_session.encrypt(NOW, b"hi", &mut rng).unwrap();
    assert_eq!(alice_session.decrypt(&reply, &mut rng).unwrap(), b"hi");
    assert!(matches!(
        alice_session.encrypt(NOW, b"!", &mut rng).unwrap(),
        SessionMessage::Normal(_)
    ));
}

#[test]
fn last_resort_kem_prekey_serves_several_initiators() {
    let mut rng = rng(2);
    let mut bob = bob(&mut rng);
    for i in 0..3 {
        let alice = Account::new(NOW, &mut rng);
        let (_, first) = start(&alice, &served(&bob, false, None), &mut rng);
        let kem = first.kem().unwrap();
        assert_eq!(kem.prekey.kind, KemPreKeyKind::LastResort);
        assert_eq!(kem.prekey.id, bob.signed_prekey().unwrap().id);
        let inbound = bob.create_inbound_session(b"bob", &first, NOW, &mut rng).unwrap();
        assert_eq!(inbound.plaintext, b"hello", "initiator {i}");
    }
    assert_eq!(
        bob.kem_one_time_prekey_count(),
        2,
        "one-time KEM prekeys untouched"
    );
}

#[test]
fn every_message_until_the_reply_repeats_the_kem_header() {
    let mut rng = rng(3);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = bob(&mut rng);
    let (mut alice_session, first) = start(&alice, &served(&bob, true, Some(2)), &mut rng);
    let SessionMessage::PreKey(second) = alice_session.encrypt(NOW, b"again", &mut rng).unwrap() else {
        panic!("still unanswered")
    };
    assert_eq!(second.kem(), first.kem());
    let mut bob_session = bob
        .create_inbound_session(b"bob", &first, NOW, &mut rng)
        .unwrap()
        .session;
    let second = SessionMessage::PreKey(second);
    assert_eq!(bob_session.decrypt(&second, &mut rng).unwrap(), b"again");
}

#[test]
fn classical_setup_still_works_when_allowed() {
    let mut rng = rng(4);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    let verified = bob.prekey_bundle(None).unwrap().verify(None).unwrap();
    let mut session = alice
        .create_session(
            b"alice",
            b"bob",
            &verified,
            SetupPolicy::AllowClassical,
            NOW,
            &mut rng,
        )
        .unwrap();
    let SessionMessage::PreKey(first) = session.encrypt(NOW, b"classic", &mut rng).unwrap() else {
        panic!()
    };
    assert!(first.kem().is_none());
    assert_eq!(first.to_bytes()[0], 1, "classical messages keep version 1");
    let inbound = bob.create_inbound_session(b"bob", &first, NOW, &mut rng).unwrap();
    assert_eq!(inbound.plaintext, b"classic");
}

#[test]
fn last_resort_kem_prekey_is_erased_with_its_signed_prekey() {
    let mut rng = rng(5);
    let mut bob = bob(&mut rng);
    let old_spk = bob.signed_prekey().unwrap().id;
    bob.rotate_signed_prekey(NOW, &mut rng);
    // Until a new last-resort key is made, the bundle of the new signed prekey has none.
    assert!(served(&bob, false, None).kem_prekey.is_none());
    bob.generate_last_resort_kem_prekey(&mut rng).unwrap();
    assert!(served(&bob, false, None).kem_prekey.is_some());
    // Past the old signed prekey's grace it goes, and its last-resort KEM prekey with it.
    let alice = Account::new(NOW, &mut rng);
    let (_, first) = start(&alice, &served(&bob, false, None), &mut rng);
    let mut later = bob.clone();
    later.remove_expired_signed_prekeys(NOW + hush_crypto::SIGNED_PREKEY_GRACE);
    assert!(!later.signed_prekey_ids().contains(&old_spk));
    #[cfg(feature = "hazmat")]
    {
        let id = |id| hush_crypto::pq::KemPreKeyId {
            kind: KemPreKeyKind::LastResort,
            id,
        };
        assert!(bob.hazmat_kem_prekey_seed(id(old_spk)).is_some());
        assert!(
            later.hazmat_kem_prekey_seed(id(old_spk)).is_none(),
            "erased with its signed prekey"
        );
        assert!(later.hazmat_kem_prekey_seed(id(old_spk + 1)).is_some());
    }
    assert!(
        later
            .create_inbound_session(b"bob", &first, NOW, &mut rng)
            .is_ok()
    );
}

#[cfg(feature = "hazmat")]
#[test]
fn last_resort_kem_prekey_goes_when_rotation_evicts_its_signed_prekey() {
    let mut rng = rng(6);
    let mut bob = bob(&mut rng);
    let first_spk = bob.signed_prekey().unwrap().id;
    for _ in 0..hush_crypto::MAX_SIGNED_PREKEYS {
        bob.rotate_signed_prekey(NOW, &mut rng);
        bob.generate_last_resort_kem_prekey(&mut rng).unwrap();
    }
    assert!(!bob.signed_prekey_ids().contains(&first_spk));
    let last_resort = |id| hush_crypto::pq::KemPreKeyId {
        kind: KemPreKeyKind::LastResort,
        id,
    };
    assert!(bob.hazmat_kem_prekey_seed(last_resort(first_spk)).is_none());
    for id in bob.signed_prekey_ids() {
        assert!(
            bob.hazmat_kem_prekey_seed(last_resort(id)).is_some(),
            "signed prekey {id}"
        );
    }
}
