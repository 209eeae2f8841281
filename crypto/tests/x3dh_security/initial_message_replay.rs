//! Replay of an initial message (the same base key): refused, with and without a one-time prekey
//! and through `PeerSessions`; one message never makes two sessions.

use hush_crypto::peer::{PeerDecryptError, PeerSessions};
use hush_crypto::{Account, DecryptError, InboundError, SessionMessage};

use crate::common::{NOW, account_state, accounts, first_prekey_message};
use crate::rng;

#[test]
fn replayed_initial_message_is_rejected_with_and_without_one_time_prekey() {
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
fn replay_through_peer_sessions_is_duplicate_and_never_a_second_session() {
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
