//! `pqxdh.json`: KEM prekeys (seeds, keys, signatures, encodings), PQXDH with a one-time and with
//! the last-resort KEM prekey (every intermediate value), and the refused bundles and messages.

use hush_crypto::pq::kem::{hazmat_decapsulate, hazmat_public_key};
use hush_crypto::pq::{KemPreKeyKind, KemPreKeyPublic, PqPreKeyBundle, SetupPolicy, kem_prekey_message};
use hush_crypto::primitives::x25519;
use hush_crypto::ratchet::hazmat_kdf_rk;
use hush_crypto::{Account, PreKeyMessage, SessionMessage, SignaturePurpose, purpose_signed_message};
use serde_json::{Value, json};

use crate::rng::Recorder;
use crate::util::{NOW, hex, new_account, one_time_prekeys, session_state, unhex, variant};

pub const DESCRIPTION: &str = "PQXDH (Hush_v2_PQXDH_CURVE25519_SHA-256_ML-KEM-1024, SPEC.md §17): Bob's \
    ML-KEM-1024 prekeys from their 64 random bytes (d then z), signed with purpose 5; sessions with \
    a one-time and with the last-resort KEM prekey (ek_a, then m for Encaps_internal, then the \
    ratchet secret), DH1..DH4, the KEM ciphertext and shared secret SS, SK, the first PreKeyMessage \
    (version 2) and Bob's inbound session; then refused cases, each with its error variant and \
    leaving Bob's account unchanged.";

const ALICE: &[u8] = b"alice@hush.example/device-1";
const BOB: &[u8] = b"bob@hush.example/device-7";

fn kem_keys(bob: &Account, keys: &[KemPreKeyPublic]) -> Vec<Value> {
    keys.iter()
        .map(|key| {
            let seed = bob.hazmat_kem_prekey_seed(key.prekey_id()).expect("just made");
            let seed_array: &[u8; 64] = &seed;
            assert_eq!(&hazmat_public_key(seed_array), &key.key, "ek from d || z");
            let message = kem_prekey_message(key.kind, key.id, &key.key);
            json!({
                "kind": key.kind.tag(),
                "id": key.id,
                "d": hex(&seed[..32]),
                "z": hex(&seed[32..]),
                "public": hex(key.key.as_bytes()),
                "signed_message": hex(&purpose_signed_message(SignaturePurpose::KemPreKey, &message)),
                "signature": hex(&key.signature),
                "bytes": hex(&key.to_bytes()),
            })
        })
        .collect()
}

/// Bob's account and prekeys, recorded.
fn bob(rng: &mut Recorder) -> (Account, Value) {
    let (mut bob, bob_json) = new_account(rng);
    let otks = one_time_prekeys(&mut bob, 1, rng);
    let one_time = bob.generate_kem_one_time_prekeys(2, rng);
    let one_time_random = rng.take_hex();
    let last_resort = bob
        .generate_last_resort_kem_prekey(rng)
        .expect("a signed prekey is held");
    let last_resort_random = rng.take_hex();
    let json = json!({
        "account": bob_json,
        "one_time_prekeys": otks,
        "kem_one_time_prekeys": { "random": one_time_random, "keys": kem_keys(&bob, &one_time) },
        "kem_last_resort_prekey": { "random": last_resort_random, "keys": kem_keys(&bob, &[last_resort]) },
    });
    (bob, json)
}

pub fn generate(rng: &mut Recorder) -> Value {
    let (bob_account, bob_json) = bob(rng);
    let cases: Vec<Value> = [(Some(1), Some(1)), (None, None)]
        .into_iter()
        .map(|(otk, kem)| case(rng, &bob_account, otk, kem))
        .collect();
    let refused = refused(rng, &bob_account);
    json!({ "bob": bob_json, "cases": cases, "refused": refused, "decode_errors": decode_errors(&bob_account) })
}

/// Encodings of §17 that must not decode, with the error variant, field and key error.
fn decode_errors(bob: &Account) -> Vec<Value> {
    let key = bob
        .pq_prekey_bundle(Some(1), Some(1))
        .and_then(|bundle| bundle.kem_prekey)
        .expect("held")
        .to_bytes();
    let bundle = bob.pq_prekey_bundle(None, None).expect("held").to_bytes();
    let with = |bytes: &[u8], at: usize, value: &[u8]| {
        let mut out = bytes.to_vec();
        out[at..at + value.len()].copy_from_slice(value);
        out
    };
    let mut trailing = key.clone();
    trailing.push(0);
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "kem_prekey_out_of_range_coefficient",
            "kem_prekey",
            with(&key, 8, &[0xff, 0xff]),
        ),
        ("kem_prekey_all_ff", "kem_prekey", with(&key, 8, &[0xff; 1536])),
        ("kem_prekey_bad_algorithm", "kem_prekey", with(&key, 2, &[2])),
        ("kem_prekey_bad_kind", "kem_prekey", with(&key, 3, &[3])),
        ("kem_prekey_trailing_byte", "kem_prekey", trailing),
        (
            "kem_prekey_truncated",
            "kem_prekey",
            key[..key.len() - 1].to_vec(),
        ),
        ("kem_prekey_version_2", "kem_prekey", with(&key, 0, &[2])),
        (
            "bundle_v2_truncated",
            "bundle",
            bundle[..bundle.len() - 64].to_vec(),
        ),
        (
            "bundle_v2_bad_kem_key",
            "bundle",
            with(&bundle, 143 + 6, &[0xff, 0xff]),
        ),
        ("bundle_version_3", "bundle", with(&bundle, 0, &[3])),
    ];
    cases
        .into_iter()
        .map(|(name, kind, bytes)| {
            let error = match kind {
                "kem_prekey" => KemPreKeyPublic::from_bytes(&bytes).map(drop),
                _ => PqPreKeyBundle::from_bytes(&bytes).map(drop),
            }
            .expect_err("refused");
            let key_error = match &error {
                hush_crypto::DecodeError::InvalidKey { source, .. } => json!(variant(source)),
                _ => Value::Null,
            };
            json!({ "name": name, "kind": kind, "bytes": hex(&bytes), "error": variant(&error),
                "field": crate::util::decode_field(&error), "key_error": key_error })
        })
        .collect()
}

fn arr<const N: usize>(text: &str) -> [u8; N] {
    unhex(text).try_into().expect("fixed length")
}

fn case(rng: &mut Recorder, bob: &Account, otk: Option<u32>, kem: Option<u32>) -> Value {
    let mut bob = bob.clone();
    let (alice, alice_json) = new_account(rng);
    let bundle = bob.pq_prekey_bundle(otk, kem).expect("held");
    let bundle_bytes = bundle.to_bytes();
    let verified = PqPreKeyBundle::from_bytes(&bundle_bytes)
        .expect("decodes")
        .verify(None)
        .expect("verifies");
    let mut session = alice
        .create_session(ALICE, BOB, &verified, SetupPolicy::RequirePostQuantum, NOW, rng)
        .expect("session");
    let random = rng.take();
    let base_secret: [u8; 32] = random[..32].try_into().expect("32");
    let m: [u8; 32] = random[32..64].try_into().expect("32");
    let kem_prekey = bundle.kem_prekey.as_ref().expect("a PQXDH bundle");
    let (ciphertext, ss) = kem_prekey.key.hazmat_encapsulate(&m);
    let seed = bob.hazmat_kem_prekey_seed(kem_prekey.prekey_id()).expect("held");
    assert_eq!(hazmat_decapsulate(&seed, &ciphertext), ss, "Decaps recovers SS");

    let alice_x: [u8; 32] = arr(alice_json["identity_x25519_secret"].as_str().expect("hex"));
    let spk = bundle.bundle.signed_prekey.key;
    let bob_identity_x = bundle.bundle.identity_key.to_curve25519().expect("valid");
    let dh1 = x25519(&alice_x, spk.as_bytes()).expect("dh1");
    let dh2 = x25519(&base_secret, bob_identity_x.as_bytes()).expect("dh2");
    let dh3 = x25519(&base_secret, spk.as_bytes()).expect("dh3");
    let dh4 = bundle
        .bundle
        .one_time_prekey
        .map(|otk| x25519(&base_secret, otk.key.as_bytes()).expect("dh4"));
    let sk = hush_crypto::x3dh::hazmat_pq_kdf(&dh1, &dh2, &dh3, dh4.as_ref(), Some(&ss));
    let (root_key, ratchet_secret, chain_key) = session.hazmat_keys();
    let chain_key = chain_key.expect("initiator sends at once");
    let ratchet_dh = x25519(&ratchet_secret, spk.as_bytes()).expect("ratchet dh");
    assert_eq!(
        hazmat_kdf_rk(&sk, &ratchet_dh),
        (root_key, chain_key),
        "SK mismatch"
    );

    let plaintext = b"Hello Bob, post-quantum this time.".to_vec();
    let message = session.encrypt(NOW, &plaintext, rng).expect("encrypt");
    let encrypt_random = rng.take_hex();
    let wire = message.to_bytes();
    let SessionMessage::PreKey(first) = SessionMessage::from_bytes(&wire).expect("decodes") else {
        panic!("the first message is a pre-key message")
    };
    assert_eq!(first.kem().expect("PQXDH").ciphertext.as_bytes(), &ciphertext);
    let inbound = bob
        .create_inbound_session_with_policy(BOB, &first, SetupPolicy::RequirePostQuantum, NOW, rng)
        .expect("inbound");
    let inbound_random = rng.take_hex();
    assert_eq!(inbound.plaintext, plaintext);

    json!({
        "name": if kem.is_some() { "one_time_kem_prekey" } else { "last_resort_kem_prekey" },
        "now": NOW,
        "alice_address": hex(ALICE),
        "bob_address": hex(BOB),
        "alice": alice_json,
        "bundle_one_time_prekey_id": otk,
        "bundle_kem_prekey": { "kind": kem_prekey.kind.tag(), "id": kem_prekey.id },
        "bundle": hex(&bundle_bytes),
        "create_session": {
            "random": hex(&random),
            "base_key_secret": hex(&base_secret),
            "base_key": hex(session.session_id().as_bytes()),
            "kem_m": hex(&m),
            "kem_ciphertext": hex(&ciphertext),
            "kem_shared_secret": hex(&ss),
            "dh1": hex(&dh1),
            "dh2": hex(&dh2),
            "dh3": hex(&dh3),
            "dh4": dh4.map(|dh| hex(&dh)),
            "sk": hex(&sk),
            "associated_data": hex(session.hazmat_associated_data()),
            "ratchet_secret": hex(&ratchet_secret),
            "ratchet_dh": hex(&ratchet_dh),
            "root_key": hex(&root_key),
            "sending_chain_key": hex(&chain_key),
        },
        "first_message": {
            "plaintext": hex(&plaintext),
            "random": encrypt_random,
            "bytes": hex(&wire),
        },
        "bob_inbound": {
            "random": inbound_random,
            "plaintext": hex(&inbound.plaintext),
            "state": session_state(&inbound.session),
        },
    })
}

/// Offsets in a version-2 PreKeyMessage with a one-time prekey (SPEC.md §17.4).
const KEM_KIND_AT: usize = 76;
const KEM_ID_AT: usize = 77;
const KEM_CIPHERTEXT_AT: usize = 81;

fn refused(rng: &mut Recorder, bob: &Account) -> Value {
    let (alice, alice_json) = new_account(rng);
    let mut out = Vec::new();
    let mut bundle_case = |name: &str, bundle: PqPreKeyBundle, policy: SetupPolicy| {
        let bytes = bundle.to_bytes();
        let error = match PqPreKeyBundle::from_bytes(&bytes).expect("decodes").verify(None) {
            Err(error) => variant(&error),
            Ok(verified) => variant(
                &alice
                    .create_session(ALICE, BOB, &verified, policy, NOW, rng)
                    .expect_err("refused"),
            ),
        };
        assert!(rng.take().is_empty(), "a refused bundle draws nothing");
        out.push(json!({ "name": name, "target": "alice_create_session",
            "policy": format!("{policy:?}"), "bundle": hex(&bytes), "error": error }));
    };
    let genuine = bob.pq_prekey_bundle(Some(1), Some(1)).expect("held");
    let classical = PqPreKeyBundle {
        kem_prekey: None,
        ..genuine.clone()
    };
    bundle_case(
        "classical_bundle_default_policy",
        classical,
        SetupPolicy::RequirePostQuantum,
    );
    let mut bad_signature = genuine.clone();
    bad_signature.kem_prekey.as_mut().expect("kem").signature[0] ^= 1;
    bundle_case(
        "kem_prekey_bad_signature",
        bad_signature,
        SetupPolicy::RequirePostQuantum,
    );
    let mut relabelled = genuine.clone();
    relabelled.kem_prekey.as_mut().expect("kem").kind = KemPreKeyKind::LastResort;
    bundle_case(
        "one_time_kem_prekey_relabelled_last_resort",
        relabelled,
        SetupPolicy::RequirePostQuantum,
    );

    // Messages to Bob, each given to the same unchanged account.
    let verified = genuine.verify(None).expect("genuine");
    let mut session = alice
        .create_session(ALICE, BOB, &verified, SetupPolicy::RequirePostQuantum, NOW, rng)
        .expect("session");
    let SessionMessage::PreKey(first) = session.encrypt(NOW, b"to be refused", rng).expect("encrypt") else {
        panic!("pre-key message")
    };
    let setup_random = rng.take_hex();
    let first_bytes = first.to_bytes();
    let mutate = |at: usize, value: u8| {
        let mut bytes = first_bytes.clone();
        bytes[at] = value;
        bytes
    };
    let mut stripped = first_bytes.clone();
    stripped[0] = 1;
    stripped.drain(KEM_KIND_AT - 1..KEM_CIPHERTEXT_AT + 1568);
    let messages = [
        (
            "tampered_kem_ciphertext",
            mutate(KEM_CIPHERTEXT_AT + 10, first_bytes[KEM_CIPHERTEXT_AT + 10] ^ 1),
        ),
        ("unknown_kem_prekey_id", mutate(KEM_ID_AT + 3, 9)),
        ("other_kem_prekey_id", mutate(KEM_ID_AT + 3, 2)),
        ("kem_kind_changed", mutate(KEM_KIND_AT, 2)),
        ("kem_header_stripped", stripped),
    ];
    for (name, bytes) in messages {
        let message = PreKeyMessage::from_bytes(&bytes).expect("decodes");
        let mut bob = bob.clone();
        let policy = if name == "kem_header_stripped" {
            SetupPolicy::AllowClassical
        } else {
            SetupPolicy::RequirePostQuantum
        };
        let error = bob
            .create_inbound_session_with_policy(BOB, &message, policy, NOW, rng)
            .expect_err("refused");
        assert!(rng.take().is_empty(), "a refused message draws nothing");
        out.push(
            json!({ "name": name, "target": "bob_inbound", "policy": format!("{policy:?}"),
            "message": hex(&bytes), "error": variant(&error) }),
        );
    }
    // One-time KEM prekey 1 served twice (no EC one-time prekey): two sessions, two base keys.
    let twice = bob.pq_prekey_bundle(None, Some(1)).expect("held");
    let verified = twice.verify(None).expect("genuine");
    let mut pre_key_messages = Vec::new();
    for text in [&b"first"[..], b"second"] {
        let mut session = alice
            .create_session(ALICE, BOB, &verified, SetupPolicy::RequirePostQuantum, NOW, rng)
            .expect("session");
        let SessionMessage::PreKey(message) = session.encrypt(NOW, text, rng).expect("encrypt") else {
            panic!("pre-key message")
        };
        pre_key_messages.push(message);
    }
    let reused_setup_random = rng.take_hex();
    let mut used = bob.clone();
    used.create_inbound_session(BOB, &pre_key_messages[0], NOW, rng)
        .expect("genuine first use");
    let used_random = rng.take_hex();
    let reused = &pre_key_messages[1];
    let error = used
        .create_inbound_session(BOB, reused, NOW, rng)
        .expect_err("reused one-time KEM prekey");
    assert!(matches!(
        error,
        hush_crypto::InboundError::UnknownKemPreKey { .. }
    ));
    let classical = {
        let bundle = bob
            .prekey_bundle(Some(1))
            .expect("held")
            .verify(None)
            .expect("genuine");
        let mut session = alice
            .create_outbound_session(ALICE, BOB, &bundle, NOW, rng)
            .expect("session");
        session
            .encrypt(NOW, b"classical", rng)
            .expect("encrypt")
            .to_bytes()
    };
    let classical_random = rng.take_hex();
    let classical_error = bob
        .clone()
        .create_inbound_session_with_policy(
            BOB,
            &PreKeyMessage::from_bytes(&classical).expect("decodes"),
            SetupPolicy::RequirePostQuantum,
            NOW,
            rng,
        )
        .expect_err("classical refused");
    json!({
        "alice": alice_json,
        "alice_address": hex(ALICE),
        "bob_address": hex(BOB),
        "genuine_bundle": hex(&genuine.to_bytes()),
        "setup_random": setup_random,
        "genuine_message": hex(&first_bytes),
        "cases": out,
        "reused_one_time_kem_prekey": {
            "bundle": hex(&twice.to_bytes()),
            "setup_random": reused_setup_random,
            "first_message": hex(&pre_key_messages[0].to_bytes()),
            "first_use_random": used_random,
            "message": hex(&reused.to_bytes()),
            "error": variant(&error),
        },
        "classical_message_default_policy": {
            "random": classical_random,
            "message": hex(&classical),
            "error": variant(&classical_error),
        },
    })
}
