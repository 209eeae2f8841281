//! PQXDH (SPEC.md §17): hybrid setup with one-time and last-resort KEM prekeys, the setup
//! policy, refused bundles and initial messages, and the saved forms of PQXDH state.
// Tests: a broken expectation should stop them loudly.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod encodings;
mod pickles;
mod refused;
mod replay;
mod setup;

#[path = "../common/mod.rs"]
mod common;

use hush_crypto::pq::{PqPreKeyBundle, SetupPolicy};
use hush_crypto::{Account, PreKeyMessage, Session, SessionMessage};
use rand::SeedableRng;
use rand::rngs::StdRng;

use common::NOW;

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Bob with one EC one-time prekey, two one-time KEM prekeys and a last-resort KEM prekey.
pub fn bob(rng: &mut StdRng) -> Account {
    let mut bob = Account::new(NOW, rng);
    bob.generate_one_time_prekeys(1, rng);
    bob.generate_kem_one_time_prekeys(2, rng);
    bob.generate_last_resort_kem_prekey(rng).unwrap();
    bob
}

/// Bob's bundle with the EC one-time prekey (if `otk`) and one-time KEM prekey `kem` (or the
/// last-resort one), through its wire form as a relay would serve it.
pub fn served(bob: &Account, otk: bool, kem: Option<u32>) -> PqPreKeyBundle {
    let bundle = bob.pq_prekey_bundle(otk.then_some(1), kem).unwrap();
    PqPreKeyBundle::from_bytes(&bundle.to_bytes()).unwrap()
}

/// Alice's session from `bundle` under the default policy, and its first message.
pub fn start(alice: &Account, bundle: &PqPreKeyBundle, rng: &mut StdRng) -> (Session, PreKeyMessage) {
    let verified = bundle.verify(None).unwrap();
    let mut session = alice
        .create_session(b"alice", b"bob", &verified, SetupPolicy::default(), NOW, rng)
        .unwrap();
    let SessionMessage::PreKey(first) = session.encrypt(NOW, b"hello", rng).unwrap() else {
        panic!("a new session sends a pre-key message")
    };
    (session, first)
}
