#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! What one worst-case forged envelope costs its recipient, before and after sealed sender v2.
//!
//! A small custom harness (no criterion, to keep the dependency tree lean). Bob holds
//! `MAX_PEER_SESSIONS` sessions with his contact Alice, each with a receiving chain at counter 1.
//! The forged inner message has a ratchet key nobody knows, `PN = MAX_SKIP + 1`, `N = MAX_SKIP`
//! and a 256 KiB body, so every session it is tried in derives `2 * MAX_SKIP + 3` keys, does one
//! X25519 and one AES-GCM pass over the body before the tag fails.
//!
//! - `before`: the version-1 design. Anyone could seal that message claiming Alice (one
//!   ephemeral-static layer, reproduced here from the primitives: an X25519, the HKDF and a GCM
//!   pass over the envelope), after which every session was tried in turn (reproduced with the
//!   public `Session::decrypt`, as the old `PeerSessions::decrypt` did, with no budget).
//! - `after`: `Account::open_sealed` on a v2 envelope forged by Mallory claiming Alice (layer 1
//!   opens and names her, layer 2 does not): the message never reaches a session.
//! - `after_budget`: the same message given to today's `PeerSessions::decrypt`, which is what
//!   only Alice herself (or a relay replaying her genuine envelopes) can still make Bob do:
//!   capped at `MAX_DERIVATIONS_PER_MESSAGE`.
//! - `genuine`: `open_sealed` on Alice's genuine v2 envelope of the same size, for reference.
//! - `seal_open_small`: what honest traffic pays, v1 against v2: sealing then opening a
//!   300-byte inner message (v2 does two more X25519 and a key conversion on each side).
//!
//! Rounds of the scenarios alternate so a change in machine load hits all alike; each line gives
//! the median time per operation over the rounds. The last lines are
//! `RATIO forged_seal before=<us> after=<us> ratio=<before/after>`, one for the budget, and
//! `RATIO seal_open_small v1=<us> v2=<us> ratio=<v2/v1>`.
//! `HUSH_BENCH_ROUNDS` (default 15) overrides the number of rounds.

use std::hint::black_box;

use hush_crypto::peer::{MAX_PEER_SESSIONS, PeerDecryptError, PeerSessions};
use hush_crypto::primitives::{aead_open, aead_seal, hkdf_sha256, x25519, x25519_base};
use hush_crypto::ratchet::MAX_SKIP;
use hush_crypto::sealed::{SEAL_SENDER_INFO, SEALED_VERSION, SealError, seal};
use hush_crypto::{Account, IdentityKey, SessionMessage, VERSION};
use rand::RngExt;

mod timing;
use timing::{env_or, median, per_op};

const NOW: u64 = 1_700_000_000;
const BODY_LEN: usize = 256 * 1024;
/// Inner length of the honest seal-and-open comparison: about a short text's session message.
const SMALL_LEN: usize = 300;

fn random32() -> [u8; 32] {
    rand::rng().random()
}

/// A Normal message (SPEC.md §10.1) under a fresh ratchet key at the costliest counters, with a
/// `BODY_LEN` body that authenticates under no key.
fn forged_message() -> Vec<u8> {
    let mut bytes = vec![VERSION, 0x01];
    bytes.extend_from_slice(&x25519_base(&random32()));
    bytes.extend_from_slice(&(MAX_SKIP + 1).to_be_bytes());
    bytes.extend_from_slice(&MAX_SKIP.to_be_bytes());
    bytes.extend_from_slice(&random32()[..16]);
    let ciphertext: Vec<u8> = (0..BODY_LEN + 16).map(|_| rand::rng().random()).collect();
    bytes.extend_from_slice(&u32::try_from(ciphertext.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(&ciphertext);
    bytes
}

/// Version 1's single layer, from the primitives: what a sender did and a recipient had to do to
/// learn the (unauthenticated) sender. The recipient key is a stand-in pair of the same kind; the
/// work does not depend on which key it is.
struct V1Layer {
    recipient_secret: [u8; 32],
    recipient: [u8; 32],
}

impl V1Layer {
    fn new() -> Self {
        let recipient_secret = random32();
        Self {
            recipient_secret,
            recipient: x25519_base(&recipient_secret),
        }
    }

    fn keys(shared: &[u8; 32], ephemeral: &[u8], recipient: &[u8; 32]) -> ([u8; 32], [u8; 12], Vec<u8>) {
        let info = [b"Hush_v1_Seal".as_slice(), ephemeral, recipient].concat();
        let mut okm = [0u8; 44];
        hkdf_sha256(None, shared, &info, &mut okm).unwrap();
        let ad = [&[1u8], ephemeral, recipient].concat();
        (okm[..32].try_into().unwrap(), okm[32..].try_into().unwrap(), ad)
    }

    fn seal(&self, claimed: &IdentityKey, inner: &[u8]) -> Vec<u8> {
        let e = random32();
        let ephemeral = x25519_base(&e);
        let (key, nonce, ad) = Self::keys(&x25519(&e, &self.recipient).unwrap(), &ephemeral, &self.recipient);
        let body = aead_seal(
            &key,
            &nonce,
            &ad,
            &[claimed.as_bytes().as_slice(), inner].concat(),
        )
        .unwrap();
        [&[1u8], ephemeral.as_slice(), &body].concat()
    }

    /// -> the inner message bytes.
    fn open(&self, envelope: &[u8]) -> Vec<u8> {
        let ephemeral = &envelope[1..33];
        let shared = x25519(&self.recipient_secret, ephemeral.try_into().unwrap()).unwrap();
        let (key, nonce, ad) = Self::keys(&shared, ephemeral, &self.recipient);
        let mut plaintext = aead_open(&key, &nonce, &ad, &envelope[33..]).unwrap();
        plaintext.split_off(32)
    }
}

/// A v2 envelope by someone who holds no key of `claimed`'s: layer 1 (public keys only) names
/// `claimed`, the inner box is `BODY_LEN + 16` random bytes.
fn forged_v2(claimed: &IdentityKey, recipient: &IdentityKey) -> Vec<u8> {
    let e = random32();
    let ephemeral = x25519_base(&e);
    let shared = x25519(&e, &recipient.to_curve25519().unwrap().to_bytes()).unwrap();
    let info = [SEAL_SENDER_INFO, ephemeral.as_slice(), recipient.as_bytes()].concat();
    let mut okm = [0u8; 76];
    hkdf_sha256(None, &shared, &info, &mut okm).unwrap();
    let ad = [&[SEALED_VERSION], ephemeral.as_slice(), recipient.as_bytes()].concat();
    let key: [u8; 32] = okm[32..64].try_into().unwrap();
    let nonce: [u8; 12] = okm[64..].try_into().unwrap();
    let sender_box = aead_seal(&key, &nonce, &ad, claimed.as_bytes()).unwrap();
    let inner_box: Vec<u8> = (0..BODY_LEN + 16).map(|_| rand::rng().random()).collect();
    [&[SEALED_VERSION], ephemeral.as_slice(), &sender_box, &inner_box].concat()
}

/// Bob's sessions with Alice: `MAX_PEER_SESSIONS` sessions she started, each with one message
/// received (a receiving chain at counter 1).
fn bobs_sessions(alice: &Account, bob: &mut Account) -> PeerSessions {
    let mut rng = rand::rng();
    let mut peer = PeerSessions::new(alice.identity_key());
    for _ in 0..MAX_PEER_SESSIONS {
        let bundle = bob.prekey_bundle(None).unwrap().verify(None).unwrap();
        let mut session = alice
            .create_outbound_session(b"alice", b"bob", &bundle, NOW, &mut rng)
            .unwrap();
        let first = session.encrypt(NOW, b"hi", &mut rng).unwrap();
        peer.decrypt(bob, b"bob", &first, NOW, &mut rng).unwrap();
    }
    assert_eq!(peer.len(), MAX_PEER_SESSIONS);
    peer
}

fn main() {
    let rounds = env_or("HUSH_BENCH_ROUNDS", 15).max(1);
    let mut rng = rand::rng();
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    let mut peer = bobs_sessions(&alice, &mut bob);
    let inner = forged_message();
    let message = SessionMessage::from_bytes(&inner).unwrap();

    let v1 = V1Layer::new();
    let v1_forged = v1.seal(&alice.identity_key(), &inner);
    let small = vec![0x42; SMALL_LEN];
    let mut old_trial = peer.sessions().to_vec();
    let forged = forged_v2(&alice.identity_key(), &bob.identity_key());
    let genuine = seal(&alice, &bob.identity_key(), &inner, &mut rng).unwrap();

    // What each path does, checked once before timing.
    assert_eq!(SessionMessage::from_bytes(&v1.open(&v1_forged)).unwrap(), message);
    assert!(
        old_trial
            .iter_mut()
            .all(|s| s.decrypt(&message, &mut rng).is_err())
    );
    assert_eq!(bob.open_sealed(&forged), Err(SealError::Unauthenticated));
    assert!(matches!(
        peer.decrypt(&mut bob, b"bob", &message, NOW, &mut rng),
        Err(PeerDecryptError::DerivationBudgetExhausted { .. })
    ));
    assert_eq!(bob.open_sealed(&genuine).unwrap().sender, alice.identity_key());

    let (mut before, mut after, mut budget, mut reference) = (vec![], vec![], vec![], vec![]);
    let (mut small_v1, mut small_v2) = (vec![], vec![]);
    for _ in 0..rounds {
        before.push(per_op(3, || {
            let inner = v1.open(&v1_forged);
            let message = SessionMessage::from_bytes(&inner).unwrap();
            for session in &mut old_trial {
                black_box(session.decrypt(&message, &mut rand::rng()).is_err());
            }
        }));
        after.push(per_op(100, || {
            black_box(bob.open_sealed(&forged).is_err());
        }));
        budget.push(per_op(5, || {
            black_box(
                peer.decrypt(&mut bob, b"bob", &message, NOW, &mut rand::rng())
                    .is_err(),
            );
        }));
        reference.push(per_op(100, || {
            black_box(bob.open_sealed(&genuine).is_ok());
        }));
        small_v1.push(per_op(200, || {
            black_box(v1.open(&v1.seal(&alice.identity_key(), &small)));
        }));
        small_v2.push(per_op(200, || {
            let sealed = seal(&alice, &bob.identity_key(), &small, &mut rand::rng()).unwrap();
            black_box(bob.open_sealed(&sealed).unwrap());
        }));
    }
    let (small_v1, small_v2) = (median(&mut small_v1), median(&mut small_v2));
    let (before, after, budget, reference) = (
        median(&mut before),
        median(&mut after),
        median(&mut budget),
        median(&mut reference),
    );
    println!(
        "forged envelope, {BODY_LEN}-byte body, {MAX_PEER_SESSIONS} sessions with the claimed \
         contact, PN = {} and N = {MAX_SKIP}; median of {rounds} rounds",
        MAX_SKIP + 1
    );
    println!("  before        v1 seal + trial in every session   {before:>10.1} us/op");
    println!("  after         v2 open_sealed, forged claim        {after:>10.1} us/op");
    println!("  after_budget  PeerSessions::decrypt (budgeted)    {budget:>10.1} us/op");
    println!("  genuine       v2 open_sealed, genuine             {reference:>10.1} us/op");
    println!("honest seal then open, {SMALL_LEN}-byte inner:");
    println!("  v1            one layer                           {small_v1:>10.1} us/op");
    println!("  v2            two layers, synthetic ephemeral     {small_v2:>10.1} us/op");
    println!(
        "RATIO forged_seal before={before:.1}us after={after:.1}us ratio={:.1}",
        before / after
    );
    println!(
        "RATIO forged_seal_budget before={before:.1}us after={budget:.1}us ratio={:.2}",
        before / budget
    );
    println!(
        "RATIO seal_open_small v1={small_v1:.1}us v2={small_v2:.1}us ratio={:.2}",
        small_v2 / small_v1
    );
}
