//! Saved PQXDH state: KEM prekeys in the account pickle, a pending KEM header in session and
//! peer-session pickles; classical state keeps its old pickle kinds and bytes.

use hush_crypto::peer::{PeerSessions, PeerSessionsPickle};
use hush_crypto::{Account, AccountPickle, PickleKey, Session, SessionMessage, SessionPickle};

use crate::common::{NOW, account_state};
use crate::{bob, rng, served, start};

fn key() -> PickleKey {
    PickleKey::new([7; 32])
}

#[test]
fn account_pickle_keeps_kem_prekeys_and_classical_accounts_keep_kind_1() {
    let mut rng = rng(20);
    let classical = Account::new(NOW, &mut rng);
    assert_eq!(classical.pickle().encrypt(&key(), &mut rng)[1], 1);

    let mut bob = bob(&mut rng);
    let sealed = bob.pickle().encrypt(&key(), &mut rng);
    assert_eq!(sealed[1], 6, "an account with KEM prekeys is sealed as kind 6");
    let restored = Account::from_pickle(&AccountPickle::from_encrypted(&key(), &sealed).unwrap()).unwrap();
    assert_eq!(account_state(&restored), account_state(&bob));
    assert_eq!(restored.kem_one_time_prekey_count(), 2);
    assert_eq!(served(&restored, true, Some(2)), served(&bob, true, Some(2)));

    // The restored account answers a session started before the save.
    let alice = Account::new(NOW, &mut rng);
    let (_, first) = start(&alice, &served(&bob, true, Some(2)), &mut rng);
    let mut restored = restored;
    assert!(
        restored
            .create_inbound_session(b"bob", &first, NOW, &mut rng)
            .is_ok()
    );
    assert!(bob.create_inbound_session(b"bob", &first, NOW, &mut rng).is_ok());
}

fn still_sends_the_kem_header(session: &mut Session, rng: &mut rand::rngs::StdRng) {
    let SessionMessage::PreKey(message) = session.encrypt(NOW, b"after restore", rng).unwrap() else {
        panic!("unanswered")
    };
    assert!(
        message.kem().is_some(),
        "the restored session lost its KEM header"
    );
}

#[test]
fn unanswered_pqxdh_session_keeps_its_kem_header_through_pickles() {
    let mut rng = rng(21);
    let alice = Account::new(NOW, &mut rng);
    let bob = bob(&mut rng);
    let (session, first) = start(&alice, &served(&bob, true, Some(1)), &mut rng);

    let sealed = session.pickle().encrypt(&key(), &mut rng);
    assert_eq!(sealed[1], 7);
    let mut restored =
        Session::from_pickle(&SessionPickle::from_encrypted(&key(), &sealed).unwrap()).unwrap();
    assert_eq!(
        restored.pickle().to_plaintext_bytes(),
        session.pickle().to_plaintext_bytes()
    );
    still_sends_the_kem_header(&mut restored, &mut rng);

    let mut peer = PeerSessions::new(bob.identity_key());
    peer.add_outbound(session).unwrap();
    let sealed = peer.pickle().encrypt(&key(), &mut rng);
    assert_eq!(sealed[1], 8);
    let restored =
        PeerSessions::from_pickle(&PeerSessionsPickle::from_encrypted(&key(), &sealed).unwrap()).unwrap();
    let mut active = restored.active().unwrap().clone();
    still_sends_the_kem_header(&mut active, &mut rng);
    let _ = first;
}

#[test]
fn answered_sessions_and_classical_peers_keep_their_old_kinds() {
    let mut rng = rng(22);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = bob(&mut rng);
    let (mut session, first) = start(&alice, &served(&bob, true, Some(1)), &mut rng);
    let mut bob_session = bob
        .create_inbound_session(b"bob", &first, NOW, &mut rng)
        .unwrap()
        .session;
    let reply = bob_session.encrypt(NOW, b"r", &mut rng).unwrap();
    session.decrypt(&reply, &mut rng).unwrap();
    assert_eq!(session.pickle().encrypt(&key(), &mut rng)[1], 2);
    assert_eq!(bob_session.pickle().encrypt(&key(), &mut rng)[1], 2);
    let mut peer = PeerSessions::new(bob.identity_key());
    peer.add_outbound(session).unwrap();
    assert_eq!(peer.pickle().encrypt(&key(), &mut rng)[1], 5);
}
