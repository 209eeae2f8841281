//! Fuzz entry points of PQXDH (SPEC.md §17): the KEM prekey and version-2 bundle decoders, and
//! inbound PQXDH sessions (tampered KEM ciphertexts and headers reach decapsulation and the
//! first AEAD check), with their seeds.

use std::sync::OnceLock;

use super::fixture::{NOW, rng};
use super::{Seed, check_outcome, input_or_mutation};
use crate::Account;
use crate::messages::{PreKeyMessage, SessionMessage};
use crate::pq::{KemPreKeyPublic, PqPreKeyBundle, SetupPolicy};

/// Bob's account with PQXDH prekeys and Alice's first messages to it, built once.
struct PqFixture {
    /// Bob after one PQXDH session (its one-time KEM prekey 2 erased).
    bob: Account,
    /// `bob.pickle().to_plaintext_bytes()`.
    bob_bytes: Vec<u8>,
    /// Bob's KEM prekeys as uploaded: one-time 1 and 2, the last-resort one.
    kem_prekeys: Vec<Vec<u8>>,
    /// Version-2 bundles (one-time prekeys, last-resort KEM prekey) and a version-1 one.
    bundles: Vec<Vec<u8>>,
    /// Messages Bob has not read: with the EC and KEM one-time prekeys, with the last-resort
    /// KEM prekey only; and their plaintexts.
    pending: Vec<(Vec<u8>, Vec<u8>)>,
    /// Every genuine message: the pending ones, then the one Bob read (mutation sources).
    all: Vec<Vec<u8>>,
}

// Each step runs on valid inputs, so each `expect` states a fact about the library.
#[allow(clippy::expect_used)]
fn fixture() -> &'static PqFixture {
    static FIXTURE: OnceLock<PqFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rng(30);
        let alice = Account::new(NOW, &mut rng);
        let mut bob = Account::new(NOW, &mut rng);
        bob.generate_one_time_prekeys(1, &mut rng);
        let mut kem_prekeys = bob.generate_kem_one_time_prekeys(2, &mut rng);
        kem_prekeys.push(
            bob.generate_last_resort_kem_prekey(&mut rng)
                .expect("a signed prekey is held"),
        );
        let bundle = |otk: Option<u32>, kem: Option<u32>| bob.pq_prekey_bundle(otk, kem).expect("held");
        let bundles = [bundle(Some(1), Some(1)), bundle(None, None)];
        let mut first = |bundle: &PqPreKeyBundle, text: &[u8]| {
            let verified = bundle.verify(None).expect("an honest bundle verifies");
            let mut session = alice
                .create_session(b"alice", b"bob", &verified, SetupPolicy::default(), NOW, &mut rng)
                .expect("an honest bundle starts a session");
            session
                .encrypt(NOW, text, &mut rng)
                .expect("short plaintexts encrypt")
                .to_bytes()
        };
        let pending = vec![
            (first(&bundles[0], b"pq otk"), b"pq otk".to_vec()),
            (first(&bundles[1], b"pq last resort"), b"pq last resort".to_vec()),
        ];
        let used = first(&bundle(None, Some(2)), b"used");
        let SessionMessage::PreKey(used_message) = SessionMessage::from_bytes(&used).expect("genuine") else {
            unreachable!("an unanswered session sends pre-key messages")
        };
        bob.create_inbound_session(b"bob", &used_message, NOW, &mut rng)
            .expect("Alice's message starts a session");
        let mut all: Vec<Vec<u8>> = pending.iter().map(|(bytes, _)| bytes.clone()).collect();
        all.push(used);
        let mut bundles: Vec<Vec<u8>> = bundles.iter().map(PqPreKeyBundle::to_bytes).collect();
        bundles.push(bob.prekey_bundle(None).expect("held").to_bytes());
        PqFixture {
            bob_bytes: bob.pickle().to_plaintext_bytes(),
            bob,
            kem_prekeys: kem_prekeys.iter().map(KemPreKeyPublic::to_bytes).collect(),
            bundles,
            pending,
            all,
        }
    })
}

/// Decodes a [`KemPreKeyPublic`]; if it decodes, it must re-encode to the input, and checking its
/// signature under Bob's identity must not panic.
pub fn decode_kem_prekey(data: &[u8]) {
    if let Ok(key) = KemPreKeyPublic::from_bytes(data) {
        assert_eq!(key.to_bytes(), data, "KemPreKey encoding is not canonical");
        let _ = key.verify(&fixture().bob.identity_key());
    }
}

/// Decodes a [`PqPreKeyBundle`] (either version); if it decodes, it must re-encode to the input,
/// and a bundle that verifies keeps exactly its KEM prekey.
pub fn decode_pq_prekey_bundle(data: &[u8]) {
    if let Ok(bundle) = PqPreKeyBundle::from_bytes(data) {
        assert_eq!(
            bundle.to_bytes(),
            data,
            "PqPreKeyBundle encoding is not canonical"
        );
        if let Ok(verified) = bundle.verify(Some(&bundle.bundle.identity_key)) {
            assert_eq!(verified.kem_prekey(), bundle.kem_prekey.as_ref());
        }
    }
}

/// Feeds the input (or a mutation of a genuine PQXDH message) to Bob's account under the default
/// policy: an error leaves the account byte-identical; a success is one of Alice's messages, and
/// its replay is then refused without changing the account.
pub fn inbound_pq_session(data: &[u8]) {
    let fixture = fixture();
    let input = input_or_mutation(data, &fixture.all);
    let Ok(message) = PreKeyMessage::from_bytes(&input) else {
        return;
    };
    let mut account = fixture.bob.clone();
    let mut rng = rng(31);
    let policy = SetupPolicy::default();
    let result = account
        .create_inbound_session_with_policy(b"bob", &message, policy, NOW, &mut rng)
        .map(|inbound| inbound.plaintext);
    let after = account.pickle().to_plaintext_bytes();
    let genuine = fixture.pending.iter().map(|(_, plaintext)| plaintext.clone());
    if check_outcome("inbound PQXDH", result, genuine, &fixture.bob_bytes, &after).is_some() {
        let replay = account.create_inbound_session_with_policy(b"bob", &message, policy, NOW, &mut rng);
        assert!(
            replay.is_err(),
            "a replayed PQXDH message started a second session"
        );
        assert!(
            account.pickle().to_plaintext_bytes() == after,
            "a refused replay changed the account"
        );
    }
}

/// The seeds of the three targets: genuine encodings and short mutation seeds aimed at the KEM
/// header (kind, id, ciphertext) and the tag.
pub(super) fn seeds() -> Vec<Seed> {
    let fixture = fixture();
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: String, bytes: Vec<u8>| {
        seeds.push(Seed { target, name, bytes });
    };
    for (index, key) in fixture.kem_prekeys.iter().enumerate() {
        add("decode_kem_prekey", format!("kem_prekey_{index}"), key.clone());
    }
    for (index, bundle) in fixture.bundles.iter().enumerate() {
        add(
            "decode_pq_prekey_bundle",
            format!("bundle_{index}"),
            bundle.clone(),
        );
    }
    for (index, message) in fixture.all.iter().enumerate() {
        add("inbound_pq_session", format!("message_{index}"), message.clone());
        add(
            "decode_prekey_message",
            format!("pq_prekey_{index}"),
            message.clone(),
        );
        add(
            "decode_session_message",
            format!("pq_prekey_{index}"),
            message.clone(),
        );
        let which = u8::try_from(index).unwrap_or(0);
        // Positions modulo the length: the KEM kind and id (76, 77..81), the ciphertext, the tag.
        for position in [76u8, 80, 200, 255] {
            add(
                "inbound_pq_session",
                format!("flip_{index}_{position}"),
                vec![position, 0x01, which],
            );
        }
    }
    seeds
}
