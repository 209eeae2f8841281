//! A repeated RNG stream (a restored VM or process snapshot, a fork) must never make one AES-GCM
//! (key, nonce) pair protect two different plaintexts: the per-message salts and the pickle nonce
//! are synthetic (they mix in the plaintext), so a replayed RNG reveals at most that two
//! plaintexts are equal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

/// An RNG restored from a snapshot: every call gives the same stream. (`StdRng` is not `Clone`
/// in rand 0.10; re-seeding gives the stream a clone would.)
fn snapshot_rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

use hush_crypto::group::{GroupSender, SENDER_KEY_INFO};
use hush_crypto::{PickleKey, primitives};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Offsets in an encoded SenderKeyMessage (SPEC.md §10.4).
const GROUP_SALT: core::ops::Range<usize> = 78..94;
const GROUP_HEADER_LEN: usize = 94;
const GROUP_BODY_START: usize = 98;
/// Offset of the nonce in a pickle envelope (SPEC.md §11).
const PICKLE_NONCE: core::ops::Range<usize> = 2..14;

/// KDF_CK's message key: `HMAC(ck, 0x01)` (SPEC.md §7.2).
fn message_key(chain_key: &[u8; 32]) -> [u8; 32] {
    primitives::hmac_sha256(chain_key, &[0x01])
}

/// `(AES key, GCM nonce) = HKDF(salt, mk, info, 44)` (SPEC.md §7.2).
fn expand(message_key: &[u8; 32], salt: &[u8], info: &[u8]) -> ([u8; 32], [u8; 12]) {
    let mut okm = [0u8; 44];
    primitives::hkdf_sha256(Some(salt), message_key, info, &mut okm).unwrap();
    (okm[..32].try_into().unwrap(), okm[32..].try_into().unwrap())
}

/// Two sessions in the same state and two RNGs in the same state (the snapshot and its restored
/// copy) encrypt different plaintexts: the AES-GCM key and nonce differ. Covers a first (pre-key)
/// message, a message on an established chain, and the first message after a DH step that the
/// restored receiver redid with the replayed RNG (so even its new ratchet key repeats).
#[cfg(feature = "hazmat")]
#[test]
fn cloned_session_and_rng_never_reuse_key_and_nonce_for_different_plaintexts() {
    use hush_crypto::ratchet::{hazmat_aead_associated_data, hazmat_expand_message_key, hazmat_kdf_ck};
    use hush_crypto::{Session, SessionMessage};

    /// The (key, nonce) that protect `message`, derived from the sender's chain key before it
    /// sent, and checked to really open it.
    fn key_and_nonce(
        chain_key: &[u8; 32],
        session_ad: &[u8],
        message: &SessionMessage,
    ) -> ([u8; 32], [u8; 12]) {
        let inner = message.message();
        let (message_key, _) = hazmat_kdf_ck(chain_key);
        let (key, nonce) = hazmat_expand_message_key(&message_key, &inner.hazmat_salt());
        let bytes = inner.to_bytes();
        let ad = hazmat_aead_associated_data(session_ad, &bytes[..58]);
        assert!(primitives::aead_open(&key, &nonce, &ad, &bytes[62..]).is_ok());
        (key, nonce)
    }

    /// Encrypts `a` and `b` from clones of `session` with copies of one RNG snapshot.
    fn check(session: &Session, seed: u64) {
        let chain_key = session.hazmat_keys().2.unwrap();
        let ad = session.hazmat_associated_data().to_vec();
        let (mut first, mut second) = (session.clone(), session.clone());
        let (mut rng_a, mut rng_b) = (snapshot_rng(seed), snapshot_rng(seed));
        let a = first.encrypt(common::NOW, b"attack at dawn", &mut rng_a).unwrap();
        let b = second
            .encrypt(common::NOW, b"attack at dusk", &mut rng_b)
            .unwrap();
        assert_eq!(
            a.message().counter(),
            b.message().counter(),
            "same chain position"
        );
        assert_eq!(a.message().ratchet_key(), b.message().ratchet_key());
        assert_ne!(
            key_and_nonce(&chain_key, &ad, &a),
            key_and_nonce(&chain_key, &ad, &b),
            "(key, nonce) reused for different plaintexts"
        );
        // Equal plaintexts from equal states give the equal message: the most a replay shows.
        let mut third = session.clone();
        let again = third
            .encrypt(common::NOW, b"attack at dawn", &mut snapshot_rng(seed))
            .unwrap();
        assert_eq!(again.to_bytes(), a.to_bytes());
    }

    let mut rng = StdRng::seed_from_u64(1501);
    let (alice, mut bob) = common::accounts(&mut rng);
    let bundle = common::bundle(&mut bob, false, &mut rng);
    let outbound = alice
        .create_outbound_session(b"alice", b"bob", &bundle, common::NOW, &mut rng)
        .unwrap();
    check(&outbound, 1502);

    let (mut alice, bob) = common::establish(&alice, b"alice", &mut bob, b"bob", &mut rng);
    check(&alice, 1503);

    // Bob restored from a snapshot redoes a DH step with the same RNG stream, then replies.
    let new_chain = alice.encrypt(common::NOW, b"new chain", &mut rng).unwrap();
    let mut bob_once = bob.clone();
    let mut bob_again = bob.clone();
    bob_once.decrypt(&new_chain, &mut snapshot_rng(1504)).unwrap();
    bob_again.decrypt(&new_chain, &mut snapshot_rng(1504)).unwrap();
    assert_eq!(
        bob_once.hazmat_keys(),
        bob_again.hazmat_keys(),
        "the replayed RNG repeats the step"
    );
    check(&bob_once, 1505);
}

/// The same for sender keys: one `GroupSender` state and one RNG state, two plaintexts.
#[test]
fn cloned_group_sender_and_rng_never_reuse_key_and_nonce_for_different_plaintexts() {
    let mut rng = StdRng::seed_from_u64(1511);
    let sender = GroupSender::new(
        [7; 16],
        hush_crypto::Account::new(0, &mut rng).identity_key(),
        1,
        &mut rng,
    );
    // The distribution carries the chain key (SPEC.md §10.5, bytes 78..110).
    let chain_key: [u8; 32] = sender.distribution().to_bytes()[78..110].try_into().unwrap();
    let key_and_nonce = |plaintext: &[u8]| {
        let bytes = sender
            .clone()
            .encrypt(plaintext, &mut snapshot_rng(1512))
            .unwrap()
            .to_bytes();
        let (key, nonce) = expand(&message_key(&chain_key), &bytes[GROUP_SALT], SENDER_KEY_INFO);
        let ciphertext = &bytes[GROUP_BODY_START..bytes.len() - 64];
        let opened = primitives::aead_open(&key, &nonce, &bytes[..GROUP_HEADER_LEN], ciphertext).unwrap();
        assert_eq!(opened, plaintext);
        (bytes, key, nonce)
    };
    let (dawn, key_a, nonce_a) = key_and_nonce(b"attack at dawn");
    let (_, key_b, nonce_b) = key_and_nonce(b"attack at dusk");
    assert_ne!(
        (key_a, nonce_a),
        (key_b, nonce_b),
        "(key, nonce) reused for different plaintexts"
    );
    assert_eq!(key_and_nonce(b"attack at dawn").0, dawn);
}

/// The same for pickles: one pickle key and one RNG state, two different states saved.
#[test]
fn cloned_rng_never_reuses_a_pickle_nonce_for_different_pickles() {
    let mut rng = StdRng::seed_from_u64(1521);
    let (mut alice, _bob) = common::pair(&mut rng);
    let before = alice.pickle();
    alice.encrypt(common::NOW, b"moves the chain", &mut rng).unwrap();
    let after = alice.pickle();
    assert_ne!(before.to_plaintext_bytes(), after.to_plaintext_bytes());
    let key = PickleKey::new([9; 32]);
    let sealed_before = before.encrypt(&key, &mut snapshot_rng(1522));
    let sealed_after = after.encrypt(&key, &mut snapshot_rng(1522));
    assert_ne!(
        sealed_before[PICKLE_NONCE], sealed_after[PICKLE_NONCE],
        "one nonce on two different pickles"
    );
    // Equal pickles may share a nonce: then they are the same bytes, revealing only equality.
    assert_eq!(before.encrypt(&key, &mut snapshot_rng(1522)), sealed_before);
    // Both still open.
    for sealed in [&sealed_before, &sealed_after] {
        hush_crypto::SessionPickle::from_encrypted(&key, sealed).unwrap();
    }

    // Group pickles and account pickles go through the same envelope.
    let sender = GroupSender::new(
        [1; 16],
        hush_crypto::Account::new(0, &mut rng).identity_key(),
        1,
        &mut rng,
    );
    let mut moved = sender.clone();
    moved.encrypt(b"x", &mut rng).unwrap();
    assert_ne!(
        sender.pickle().encrypt(&key, &mut snapshot_rng(1522))[PICKLE_NONCE],
        moved.pickle().encrypt(&key, &mut snapshot_rng(1522))[PICKLE_NONCE]
    );
}
