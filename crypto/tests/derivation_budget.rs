#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! One message's trial decryption across a peer's sessions stays within
//! `MAX_DERIVATIONS_PER_MESSAGE`, and a session it no longer fits in is not tried.

mod common;

use common::{NOW, accounts, establish};
use hush_crypto::peer::{MAX_DERIVATIONS_PER_MESSAGE, PeerDecryptError, PeerSessions};
use hush_crypto::ratchet::MAX_SKIP;
use hush_crypto::{Account, Session, SessionMessage};

/// A session pair whose responder's next message costs the initiator the most a message can:
/// a DH step that skips `MAX_SKIP` keys of the previous chain and `MAX_SKIP` of the new one
/// (`2 * MAX_SKIP + 3` derivations). Returns (initiator session, that message).
fn costliest_genuine_message(
    alice: &Account,
    bob: &mut Account,
    rng: &mut rand::rngs::ThreadRng,
) -> (Session, SessionMessage) {
    let (mut alice_session, mut bob_session) = establish(alice, b"alice", bob, b"bob", rng);
    // Alice has Bob's message 0 of this chain; the next MAX_SKIP never reach her.
    for _ in 0..MAX_SKIP {
        bob_session.encrypt(NOW, b"lost", rng).unwrap();
    }
    let ping = alice_session.encrypt(NOW, b"ping", rng).unwrap();
    bob_session.decrypt(&ping, rng).unwrap();
    // Bob's new chain, previous chain length MAX_SKIP + 1; Alice gets only its message MAX_SKIP.
    for _ in 0..MAX_SKIP {
        bob_session.encrypt(NOW, b"lost", rng).unwrap();
    }
    let last = bob_session.encrypt(NOW, b"costly", rng).unwrap();
    let SessionMessage::Normal(inner) = &last else {
        panic!("an answered session sends normal messages");
    };
    assert_eq!(
        (inner.previous_counter(), inner.counter()),
        (MAX_SKIP + 1, MAX_SKIP)
    );
    (alice_session, last)
}

/// `message` with its ratchet key replaced by a fresh one: a forgery at the same counters.
fn with_new_ratchet_key(message: &SessionMessage) -> SessionMessage {
    let mut bytes = message.to_bytes();
    let stranger = Account::new(NOW, &mut rand::rng());
    let key = stranger.signed_prekey().unwrap().key;
    bytes[2..34].copy_from_slice(key.as_bytes());
    SessionMessage::from_bytes(&bytes).unwrap()
}

fn state(peer: &PeerSessions) -> Vec<u8> {
    peer.pickle().to_plaintext_bytes()
}

#[test]
fn message_over_the_derivation_budget_is_refused_and_its_session_not_tried() {
    let mut rng = rand::rng();
    let (mut alice, mut bob) = accounts(&mut rng);
    let (genuine_session, costly) = costliest_genuine_message(&alice, &mut bob, &mut rng);
    // Two more sessions with Bob, each with a receiving chain at 1: the costly message's new
    // ratchet key makes each of them attempt a full-cost DH step too.
    let (second, _) = establish(&alice, b"alice", &mut bob, b"bob", &mut rng);
    let (third, _) = establish(&alice, b"alice", &mut bob, b"bob", &mut rng);
    let mut peer = PeerSessions::new(bob.identity_key());
    // Tried in the order third (active), second, genuine (least recently used).
    for session in [genuine_session.clone(), second, third] {
        peer.add_outbound(session).unwrap();
    }
    let before = state(&peer);

    // The genuine session would decrypt it, but the two sessions tried first used the budget.
    assert_eq!(
        peer.decrypt(&mut alice, b"alice", &costly, NOW, &mut rng),
        Err(PeerDecryptError::DerivationBudgetExhausted {
            needed: 2 * MAX_SKIP + 3,
            left: 0
        })
    );
    assert_eq!(state(&peer), before, "a refused message changed the sessions");
    assert_eq!(
        genuine_session.clone().decrypt(&costly, &mut rng).unwrap(),
        b"costly",
        "the message is genuine in the session that was not tried"
    );

    // A forgery at the same counters gets the same refusal, after the same bounded work.
    let forged = with_new_ratchet_key(&costly);
    assert!(matches!(
        peer.decrypt(&mut alice, b"alice", &forged, NOW, &mut rng),
        Err(PeerDecryptError::DerivationBudgetExhausted { .. })
    ));
    assert_eq!(state(&peer), before, "a refused forgery changed the sessions");
}

#[test]
fn costliest_genuine_message_still_decrypts_in_the_second_session_tried() {
    let mut rng = rand::rng();
    let (mut alice, mut bob) = accounts(&mut rng);
    let (genuine_session, costly) = costliest_genuine_message(&alice, &mut bob, &mut rng);
    let (other, _) = establish(&alice, b"alice", &mut bob, b"bob", &mut rng);
    let mut peer = PeerSessions::new(bob.identity_key());
    peer.add_outbound(genuine_session).unwrap();
    peer.add_outbound(other).unwrap();
    // The active (other) session fails at full cost; the budget leaves exactly enough.
    assert_eq!(MAX_DERIVATIONS_PER_MESSAGE, 2 * (2 * MAX_SKIP + 3));
    assert_eq!(
        peer.decrypt(&mut alice, b"alice", &costly, NOW, &mut rng)
            .unwrap(),
        b"costly"
    );
}
