//! Fixtures shared by the integration tests: accounts, established sessions and state snapshots.
//! Each test binary uses a subset, hence the `dead_code` allowance.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hush_crypto::{Account, Session, SessionMessage};
use rand::CryptoRng;

/// The clock every fixture runs at (Unix seconds).
pub const NOW: u64 = 1_700_000_000;

/// Two new accounts, Alice's and Bob's.
pub fn accounts(rng: &mut (impl CryptoRng + ?Sized)) -> (Account, Account) {
    (Account::new(NOW, rng), Account::new(NOW, rng))
}

/// Runs X3DH from `initiator` to `responder` (one-time prekey included) and one exchange each
/// way, so both sessions have a sending and a receiving chain and the initiator's next message is
/// a plain ratchet message. Returns `(initiator session, responder session)`.
pub fn establish(
    initiator: &Account,
    initiator_address: &[u8],
    responder: &mut Account,
    responder_address: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
) -> (Session, Session) {
    let otk = responder.generate_one_time_prekeys(1, rng)[0];
    let bundle = responder
        .prekey_bundle(Some(otk.id))
        .unwrap()
        .verify(None)
        .unwrap();
    let mut outbound = initiator
        .create_outbound_session(initiator_address, responder_address, &bundle, NOW, rng)
        .unwrap();
    let first = outbound.encrypt(NOW, b"first", rng).unwrap();
    let SessionMessage::PreKey(first) = first else {
        panic!("a new outbound session must send a pre-key message");
    };
    let inbound = responder
        .create_inbound_session(responder_address, &first, NOW, rng)
        .unwrap();
    assert_eq!(inbound.plaintext, b"first");
    let mut inbound = inbound.session;
    let reply = inbound.encrypt(NOW, b"reply", rng).unwrap();
    assert_eq!(outbound.decrypt(&reply, rng).unwrap(), b"reply");
    (outbound, inbound)
}

/// A fresh Alice/Bob session pair at addresses `b"alice"` and `b"bob"`.
pub fn pair(rng: &mut (impl CryptoRng + ?Sized)) -> (Session, Session) {
    let (alice, mut bob) = accounts(rng);
    establish(&alice, b"alice", &mut bob, b"bob", rng)
}

/// The session's deterministic serialized state: equal bytes mean an unchanged session.
pub fn state(session: &Session) -> Vec<u8> {
    session.pickle().to_plaintext_bytes()
}

/// The account's deterministic serialized state: equal bytes mean nothing was written.
pub fn account_state(account: &hush_crypto::Account) -> Vec<u8> {
    account.pickle().to_plaintext_bytes()
}

/// `responder`'s verified bundle, with a fresh one-time prekey if `with_one_time_prekey`.
pub fn bundle(
    responder: &mut Account,
    with_one_time_prekey: bool,
    rng: &mut (impl CryptoRng + ?Sized),
) -> hush_crypto::VerifiedBundle {
    let otk = with_one_time_prekey.then(|| responder.generate_one_time_prekeys(1, rng)[0].id);
    responder.prekey_bundle(otk).unwrap().verify(None).unwrap()
}

/// Starts a session from `initiator` to `responder` and returns it with its first (pre-key)
/// message carrying `plaintext`. Nothing is delivered.
pub fn first_prekey_message(
    initiator: &Account,
    initiator_address: &[u8],
    responder: &mut Account,
    responder_address: &[u8],
    with_one_time_prekey: bool,
    plaintext: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
) -> (Session, hush_crypto::PreKeyMessage) {
    let parties = (initiator, initiator_address, responder, responder_address);
    first_prekey_message_at(NOW, parties, with_one_time_prekey, plaintext, rng)
}

/// [`first_prekey_message`] with the initiator's clock at `now`.
pub fn first_prekey_message_at(
    now: u64,
    (initiator, initiator_address, responder, responder_address): (&Account, &[u8], &mut Account, &[u8]),
    with_one_time_prekey: bool,
    plaintext: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
) -> (Session, hush_crypto::PreKeyMessage) {
    let bundle = bundle(responder, with_one_time_prekey, rng);
    let mut outbound = initiator
        .create_outbound_session(initiator_address, responder_address, &bundle, now, rng)
        .unwrap();
    let SessionMessage::PreKey(first) = outbound.encrypt(now, plaintext, rng).unwrap() else {
        panic!("a new outbound session must send a pre-key message");
    };
    (outbound, first)
}
