//! `x3dh.json`: X3DH with and without a one-time prekey, every intermediate value, and the first
//! pre-key message both ways.

use hush_crypto::primitives::x25519;
use hush_crypto::ratchet::{
    hazmat_aead_associated_data, hazmat_expand_message_key, hazmat_kdf_ck, hazmat_kdf_rk, hazmat_message_salt,
};
use hush_crypto::{PreKeyBundle, SessionMessage};
use serde_json::{Value, json};

use crate::rng::Recorder;
use crate::util::{NOW, hex, new_account, one_time_prekeys, session_state, unhex};

pub const DESCRIPTION: &str = "X3DH (Hush_v1_X3DH) between two fresh accounts, with and without a one-time \
    prekey: keys, DH1..DH4, SK, session AD, the initiator's ratchet init and the first PreKeyMessage \
    (its synthetic salt from the 16 random bytes drawn), then the responder's inbound session.";

pub fn generate(rng: &mut Recorder) -> Value {
    let cases: Vec<Value> = [true, false].into_iter().map(|otk| case(rng, otk)).collect();
    json!({ "cases": cases })
}

fn arr(text: &str) -> [u8; 32] {
    unhex(text).try_into().expect("32 bytes")
}

fn case(rng: &mut Recorder, use_otk: bool) -> Value {
    let alice_address = b"alice@hush.example/device-1".to_vec();
    let bob_address = b"bob@hush.example/device-7".to_vec();
    let (alice, alice_json) = new_account(rng);
    let (mut bob, bob_json) = new_account(rng);
    let otks = one_time_prekeys(&mut bob, 2, rng);
    let otk_id = use_otk.then_some(2u32);
    let bundle = bob.prekey_bundle(otk_id).expect("bob holds the key");
    let bundle_bytes = bundle.to_bytes();
    let verified = PreKeyBundle::from_bytes(&bundle_bytes)
        .expect("own bundle decodes")
        .verify(None)
        .expect("own bundle verifies");

    let mut session = alice
        .create_outbound_session(&alice_address, &bob_address, &verified, NOW, rng)
        .expect("session");
    let outbound_random = rng.take();
    let (root_key, ratchet_secret, chain_key) = session.hazmat_keys();
    let chain_key = chain_key.expect("initiator sends at once");
    let base_secret: [u8; 32] = outbound_random[..32].try_into().expect("32");

    // The DHs, recomputed from raw secrets with the same primitive.
    let alice_x = arr(alice_json["identity_x25519_secret"].as_str().expect("hex"));
    let bob_identity_x = bundle.identity_key.to_curve25519().expect("valid");
    let spk = bundle.signed_prekey.key;
    let dh1 = x25519(&alice_x, spk.as_bytes()).expect("dh1");
    let dh2 = x25519(&base_secret, bob_identity_x.as_bytes()).expect("dh2");
    let dh3 = x25519(&base_secret, spk.as_bytes()).expect("dh3");
    let dh4 = bundle
        .one_time_prekey
        .map(|otk| x25519(&base_secret, otk.key.as_bytes()).expect("dh4"));
    let sk = hush_crypto::x3dh::hazmat_kdf(&dh1, &dh2, &dh3, dh4.as_ref());
    let ratchet_dh = x25519(&ratchet_secret, spk.as_bytes()).expect("ratchet dh");
    // The session must have used exactly this SK.
    assert_eq!(
        hazmat_kdf_rk(&sk, &ratchet_dh),
        (root_key, chain_key),
        "SK mismatch"
    );
    let associated_data = session.hazmat_associated_data().to_vec();

    let plaintext = b"Hello Bob, this is the first message.".to_vec();
    let message = session.encrypt(NOW, &plaintext, rng).expect("encrypt");
    let random: [u8; 16] = rng.take().try_into().expect("encrypt draws 16 bytes");
    let wire = message.to_bytes();
    let (message_key, _) = hazmat_kdf_ck(&chain_key);
    let salt = hazmat_message_salt(&message_key, &random, &plaintext);
    assert_eq!(salt, message.message().hazmat_salt(), "synthetic salt");
    let (aead_key, nonce) = hazmat_expand_message_key(&message_key, &salt);
    let header = &message.message().to_bytes()[..58];
    let aead_ad = hazmat_aead_associated_data(&associated_data, header);

    let SessionMessage::PreKey(first) = SessionMessage::from_bytes(&wire).expect("decodes") else {
        panic!("the first message is a pre-key message")
    };
    let inbound = bob
        .create_inbound_session(&bob_address, &first, NOW, rng)
        .expect("inbound");
    let inbound_random = rng.take();
    assert_eq!(inbound.plaintext, plaintext);
    assert_eq!(
        inbound.session.hazmat_associated_data(),
        associated_data.as_slice()
    );

    json!({
        "name": if use_otk { "with_one_time_prekey" } else { "without_one_time_prekey" },
        "now": NOW,
        "alice_address": hex(&alice_address),
        "bob_address": hex(&bob_address),
        "alice": alice_json,
        "bob": bob_json,
        "bob_one_time_prekeys": otks,
        "bundle_one_time_prekey_id": otk_id,
        "bundle": hex(&bundle_bytes),
        "create_outbound_session": {
            "random": hex(&outbound_random),
            "base_key_secret": hex(&base_secret),
            "base_key": hex(session.session_id().as_bytes()),
            "dh1": hex(&dh1),
            "dh2": hex(&dh2),
            "dh3": hex(&dh3),
            "dh4": dh4.map(|dh| hex(&dh)),
            "sk": hex(&sk),
            "associated_data": hex(&associated_data),
            "ratchet_secret": hex(&ratchet_secret),
            "ratchet_key": hex(message.message().ratchet_key().as_bytes()),
            "ratchet_dh": hex(&ratchet_dh),
            "root_key": hex(&root_key),
            "sending_chain_key": hex(&chain_key),
        },
        "first_message": {
            "plaintext": hex(&plaintext),
            "random": hex(&random),
            "message_key": hex(&message_key),
            "salt": hex(&salt),
            "aead_key": hex(&aead_key),
            "aead_nonce": hex(&nonce),
            "aead_associated_data": hex(&aead_ad),
            "bytes": hex(&wire),
        },
        "alice_state_after_encrypt": session_state(&session),
        "bob_inbound": {
            "random": hex(&inbound_random),
            "plaintext": hex(&inbound.plaintext),
            "state": session_state(&inbound.session),
        },
    })
}
