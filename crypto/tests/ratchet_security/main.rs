#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::panic, clippy::indexing_slicing)]
//! Security properties of the Double Ratchet, one file per property: the "Ratchet" lines of
//! `SECURITY-TESTS.md` (test-vectors/README.md says which test covers which line). Here: the byte
//! layout of an encoded `Message` and the helpers the files share.

#[path = "../common/mod.rs"]
mod common;

#[cfg(feature = "hazmat")]
mod kdf_known_answers;
mod loss_and_reordering;
mod nonce_uniqueness;
mod receiving_chain_cap;
mod replays;
mod rollback;
mod session_binding;
mod skip_bounds;
mod skipped_key_cap;
mod tampered_messages;
mod unambiguous_encoding;

use common::{NOW, pair, state};
use hush_crypto::{Curve25519PublicKey, DecryptError, Message, Session, SessionMessage, SessionPickle};
use rand::SeedableRng;
use rand::rngs::StdRng;

// Byte layout of an encoded `Message` (test-vectors/SPEC.md): version, type, ratchet key, PN, N,
// salt, then `u32 len || ciphertext || tag`.
const RATCHET_KEY: core::ops::Range<usize> = 2..34;
const PREVIOUS_COUNTER: core::ops::Range<usize> = 34..38;
const COUNTER: core::ops::Range<usize> = 38..42;
const SALT: core::ops::Range<usize> = 42..58;
const HEADER_LEN: usize = 58;
const CIPHERTEXT_LEN_FIELD: core::ops::Range<usize> = 58..62;
const BODY_START: usize = 62;
const TAG_LEN: usize = 16;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn send(session: &mut Session, plaintext: &[u8], rng: &mut StdRng) -> SessionMessage {
    session.encrypt(NOW, plaintext, rng).unwrap()
}

/// Sends `count` messages whose plaintexts are `"{label} {counter}"`.
fn send_many(session: &mut Session, label: &str, count: u32, rng: &mut StdRng) -> Vec<SessionMessage> {
    (0..count)
        .map(|i| send(session, format!("{label} {i}").as_bytes(), rng))
        .collect()
}

fn plain(message: &SessionMessage) -> &Message {
    match message {
        SessionMessage::Normal(message) => message,
        SessionMessage::PreKey(_) => panic!("expected a plain ratchet message"),
    }
}

/// Decrypts a message that must be refused, checks the session is byte-identical afterwards and
/// returns the error.
fn refused(session: &mut Session, message: &SessionMessage, rng: &mut StdRng) -> DecryptError {
    let before = state(session);
    let error = session
        .decrypt(message, rng)
        .expect_err("message must be refused");
    assert_eq!(
        state(session),
        before,
        "a refused message changed the session ({error})"
    );
    error
}

/// The session's associated data, read from its saved form.
fn associated_data(session: &Session) -> Vec<u8> {
    let value = serde_json::to_value(session.pickle()).unwrap();
    serde_json::from_value(value["associated_data"].clone()).unwrap()
}

/// A copy of `session` that differs only in its associated data.
fn with_associated_data(session: &Session, associated_data: &[u8]) -> Session {
    let mut value = serde_json::to_value(session.pickle()).unwrap();
    value["associated_data"] = serde_json::json!(associated_data);
    let pickle: SessionPickle = serde_json::from_value(value).unwrap();
    Session::from_pickle(&pickle).unwrap()
}

fn restore(snapshot: &SessionPickle) -> Session {
    Session::from_pickle(snapshot).unwrap()
}

/// A ratchet public key no session under test knows.
fn foreign_ratchet_key(rng: &mut StdRng) -> Curve25519PublicKey {
    let (carol, _) = pair(rng);
    carol.own_ratchet_key()
}

/// `IK_A || IK_B || u16 len || addr_A || u16 len || addr_B`, as `test-vectors/SPEC.md` says.
fn session_ad(
    initiator: &[u8; 32],
    initiator_address: &[u8],
    responder: &[u8; 32],
    responder_address: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(initiator);
    out.extend_from_slice(responder);
    for address in [initiator_address, responder_address] {
        out.extend_from_slice(&u16::try_from(address.len()).unwrap().to_be_bytes());
        out.extend_from_slice(address);
    }
    out
}

/// The AES-GCM key and nonce that protect `message`, derived independently from `chain_key`, the
/// sender's chain key at counter `chain_key_counter`, and checked to really open the message.
#[cfg(feature = "hazmat")]
fn aead_key_and_nonce(
    chain_key: &[u8; 32],
    chain_key_counter: u32,
    session_ad: &[u8],
    message: &SessionMessage,
) -> ([u8; 32], [u8; 12]) {
    use hush_crypto::ratchet::{hazmat_aead_associated_data, hazmat_expand_message_key, hazmat_kdf_ck};
    let inner = message.message();
    let mut chain_key = *chain_key;
    for _ in chain_key_counter..inner.counter() {
        chain_key = hazmat_kdf_ck(&chain_key).1;
    }
    let (message_key, _) = hazmat_kdf_ck(&chain_key);
    let (key, nonce) = hazmat_expand_message_key(&message_key, &inner.hazmat_salt());
    let bytes = inner.to_bytes();
    let associated_data = hazmat_aead_associated_data(session_ad, &bytes[..HEADER_LEN]);
    assert!(
        hush_crypto::primitives::aead_open(&key, &nonce, &associated_data, &bytes[BODY_START..]).is_ok(),
        "derived key and nonce do not open the message"
    );
    (key, nonce)
}
