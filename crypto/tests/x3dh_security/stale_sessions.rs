//! A session with no reply for `MAX_UNACKNOWLEDGED_SESSION_AGE` becomes stale and refuses to
//! encrypt; a reply before the deadline keeps it usable.

use hush_crypto::peer::{PeerEncryptError, PeerSessions};
use hush_crypto::session::MAX_UNACKNOWLEDGED_SESSION_AGE;
use hush_crypto::{EncryptError, SessionMessage};

use crate::common::{NOW, accounts, first_prekey_message};
use crate::rng;

#[test]
fn unanswered_session_becomes_stale_and_refuses_to_encrypt() {
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
fn a_reply_before_the_deadline_keeps_the_session_usable() {
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
