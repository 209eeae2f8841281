//! Several initial messages before any reply, delivered out of order: all decrypt into one
//! session.

use hush_crypto::peer::PeerSessions;
use hush_crypto::{PreKeyMessage, SessionMessage};
use rand::seq::SliceRandom;

use crate::common::{NOW, accounts, bundle, first_prekey_message};
use crate::rng;

#[test]
fn initial_messages_out_of_order_all_decrypt_into_one_session() {
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
fn initial_messages_out_of_order_through_peer_sessions_make_one_session() {
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
