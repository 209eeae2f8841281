//! `encodings.json`: every wire encoding with its fields, and decode errors.

use hush_crypto::group::{GroupSender, SenderKeyDistribution, SenderKeyMessage};
use hush_crypto::{Account, DecodeError, Message, PreKeyBundle, PreKeyMessage, SessionMessage};
use serde_json::{Value, json};

use crate::rng::{Recorder, throwaway};
use crate::util::{NOW, decode_field, hex, new_account, one_time_prekeys, variant};

pub const DESCRIPTION: &str = "Wire encodings: real Message, PreKeyMessage (with and without a one-time \
    prekey), PreKeyBundle (with and without), SenderKeyMessage and SenderKeyDistribution, with their \
    decoded fields; then byte strings that must not decode, with the DecodeError variant, its \
    `field` and, for InvalidKey, the KeyError.";

pub fn generate(rng: &mut Recorder) -> Value {
    let (alice, _) = new_account(rng);
    let (mut bob, _) = new_account(rng);
    let _ = one_time_prekeys(&mut bob, 1, rng);
    let bundle_with = bob.prekey_bundle(Some(1)).expect("held");
    let bundle_without = bob.prekey_bundle(None).expect("held");
    let mut prekey_messages = Vec::new();
    let mut sessions = Vec::new();
    for bundle in [&bundle_with, &bundle_without] {
        let verified = bundle.verify(None).expect("verifies");
        let mut session = alice
            .create_outbound_session(b"alice", b"bob", &verified, NOW, rng)
            .expect("session");
        let SessionMessage::PreKey(message) = session.encrypt(NOW, b"hi", rng).expect("encrypt") else {
            panic!("pre-key message expected")
        };
        prekey_messages.push(message);
        sessions.push(session);
    }
    let _ = rng.take();
    let inbound = bob
        .create_inbound_session(b"bob", &prekey_messages[0], NOW, rng)
        .expect("inbound");
    let mut bob_session = inbound.session;
    let SessionMessage::Normal(message) = bob_session
        .encrypt(NOW, b"a normal message", rng)
        .expect("encrypt")
    else {
        panic!("normal message expected")
    };
    let _ = rng.take();
    let group_sender_identity = Account::hazmat_from_seed([0x5e; 32], NOW, &mut throwaway()).identity_key();
    let mut sender = GroupSender::new(rng.input::<16>(), group_sender_identity, 9, rng);
    let group_message = sender.encrypt(b"to the group", rng).expect("encrypt");
    let distribution = sender.distribution();
    let _ = rng.take();

    let valid = json!({
        "message": message_json(&message),
        "prekey_message_with_one_time_prekey": prekey_json(&prekey_messages[0]),
        "prekey_message_without_one_time_prekey": prekey_json(&prekey_messages[1]),
        "prekey_bundle_with_one_time_prekey": bundle_json(&bundle_with),
        "prekey_bundle_without_one_time_prekey": bundle_json(&bundle_without),
        "sender_key_message": sender_key_message_json(&group_message),
        "sender_key_distribution": distribution_json(&distribution),
    });

    let mut errors = Vec::new();
    let kinds: [(&str, Vec<u8>); 5] = [
        ("message", message.to_bytes()),
        ("prekey_message", prekey_messages[0].to_bytes()),
        ("prekey_bundle", bundle_with.to_bytes()),
        ("sender_key_message", group_message.to_bytes()),
        ("sender_key_distribution", distribution.to_bytes()),
    ];
    for (kind, bytes) in &kinds {
        let mut push = |name: &str, bytes: Vec<u8>| errors.push(decode_case(kind, name, bytes));
        push("empty", Vec::new());
        push("version_only", bytes[..1].to_vec());
        push("truncated_by_one", bytes[..bytes.len() - 1].to_vec());
        push("truncated_in_first_key", bytes[..10].to_vec());
        let mut trailing = bytes.clone();
        trailing.push(0);
        push("trailing_byte", trailing);
        let mut version = bytes.clone();
        // 3: version 2 is the PQXDH form of the bundle and the pre-key message (SPEC.md §17).
        version[0] = 3;
        push("bad_version", version);
        let mut version = bytes.clone();
        version[0] = 0;
        push("version_zero", version);
        let mut kind_byte = bytes.clone();
        kind_byte[1] = if kind_byte[1] == 1 { 2 } else { 1 };
        push("wrong_type", kind_byte);
    }
    let with = |bytes: &[u8], at: usize, new: &[u8]| {
        let mut out = bytes.to_vec();
        out[at..at + new.len()].copy_from_slice(new);
        out
    };
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    let mut top_bit = [0u8; 32];
    top_bit[0] = 9;
    top_bit[31] = 0x80;
    let m = &kinds[0].1;
    let pk = &kinds[1].1;
    let b = &kinds[2].1;
    let skm = &kinds[3].1;
    let skd = &kinds[4].1;
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("message", "ratchet_key_zero_low_order", with(m, 2, &[0; 32])),
        (
            "message",
            "ratchet_key_one_low_order",
            with(m, 2, &{
                let mut one = [0u8; 32];
                one[0] = 1;
                one
            }),
        ),
        ("message", "ratchet_key_p_non_canonical", with(m, 2, &p)),
        ("message", "ratchet_key_top_bit_set", with(m, 2, &top_bit)),
        (
            "message",
            "ciphertext_length_15_under_tag",
            with(m, 58, &15u32.to_be_bytes()),
        ),
        (
            "message",
            "ciphertext_length_over_limit",
            with(m, 58, &((1u32 << 20) + 17).to_be_bytes()),
        ),
        (
            "message",
            "ciphertext_length_one_more_than_present",
            with(m, 58, &((m.len() - 62 + 1) as u32).to_be_bytes()),
        ),
        (
            "prekey_message",
            "identity_key_zero_low_order",
            with(pk, 2, &[0; 32]),
        ),
        (
            "prekey_message",
            "identity_key_non_canonical",
            with(pk, 2, &[0xff; 32]),
        ),
        (
            "prekey_message",
            "base_key_zero_low_order",
            with(pk, 34, &[0; 32]),
        ),
        ("prekey_message", "one_time_prekey_flag_2", with(pk, 70, &[2])),
        (
            "prekey_message",
            "sender_address_length_256",
            with(pk, 75, &256u16.to_be_bytes()),
        ),
        ("prekey_message", "inner_message_wrong_type", {
            let address_len = usize::from(u16::from_be_bytes([pk[75], pk[76]]));
            with(pk, 77 + address_len + 4 + 1, &[0x02])
        }),
        ("prekey_bundle", "one_time_prekey_flag_2", with(b, 142, &[2])),
        ("prekey_bundle", "signed_prekey_low_order", with(b, 46, &[0; 32])),
        (
            "prekey_bundle",
            "identity_key_non_canonical",
            with(b, 2, &[0xff; 32]),
        ),
        (
            "sender_key_message",
            "ciphertext_length_over_limit",
            with(skm, 94, &u32::MAX.to_be_bytes()),
        ),
        // Version 1 named no sender (SPEC.md §8).
        ("sender_key_message", "version_1", with(skm, 0, &[1])),
        ("sender_key_distribution", "version_1", with(skd, 0, &[1])),
        (
            "sender_key_message",
            "sender_zero_low_order",
            with(skm, 18, &[0; 32]),
        ),
        (
            "sender_key_distribution",
            "sender_zero_low_order",
            with(skd, 18, &[0; 32]),
        ),
        (
            "sender_key_distribution",
            "signing_key_zero_low_order",
            with(skd, 110, &[0; 32]),
        ),
    ];
    for (kind, name, bytes) in cases {
        errors.push(decode_case(kind, name, bytes));
    }
    json!({ "valid": valid, "decode_errors": errors })
}

/// Decodes `bytes` as `kind`; it must fail.
fn decode_case(kind: &str, name: &str, bytes: Vec<u8>) -> Value {
    let error = decode(kind, &bytes).expect_err("a decode-error vector decodes");
    let mut out = json!({
        "kind": kind,
        "name": name,
        "bytes": hex(&bytes),
        "error": variant(&error),
        "field": decode_field(&error),
    });
    if let DecodeError::InvalidKey { source, .. } = &error {
        out["key_error"] = json!(variant(source));
    }
    out
}

/// Decodes `bytes` as the named kind (fields discarded).
pub fn decode(kind: &str, bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    match kind {
        "message" => Message::from_bytes(bytes).map(|m| m.to_bytes()),
        "prekey_message" => PreKeyMessage::from_bytes(bytes).map(|m| m.to_bytes()),
        "prekey_bundle" => PreKeyBundle::from_bytes(bytes).map(|m| m.to_bytes()),
        "sender_key_message" => SenderKeyMessage::from_bytes(bytes).map(|m| m.to_bytes()),
        "sender_key_distribution" => SenderKeyDistribution::from_bytes(bytes).map(|m| m.to_bytes()),
        other => panic!("unknown kind {other}"),
    }
}

fn message_json(message: &Message) -> Value {
    let bytes = message.to_bytes();
    json!({
        "fields": {
            "version": 1,
            "type": 1,
            "ratchet_key": hex(message.ratchet_key().as_bytes()),
            "previous_counter": message.previous_counter(),
            "counter": message.counter(),
            "salt": hex(&message.hazmat_salt()),
            "ciphertext": hex(&bytes[62..]),
        },
        "bytes": hex(&bytes),
    })
}

fn prekey_json(message: &PreKeyMessage) -> Value {
    json!({
        "fields": {
            "version": 1,
            "type": 2,
            "identity_key": hex(message.identity_key().as_bytes()),
            "base_key": hex(message.base_key().as_bytes()),
            "signed_prekey_id": message.signed_prekey_id(),
            "one_time_prekey_id": message.one_time_prekey_id(),
            "sender_address": hex(message.sender_address()),
            "message": hex(&message.message().to_bytes()),
        },
        "bytes": hex(&message.to_bytes()),
    })
}

fn bundle_json(bundle: &PreKeyBundle) -> Value {
    let spk = &bundle.signed_prekey;
    json!({
        "fields": {
            "version": 1,
            "type": 5,
            "identity_key": hex(bundle.identity_key.as_bytes()),
            "signed_prekey_id": spk.id,
            "signed_prekey_created_at": spk.created_at,
            "signed_prekey": hex(spk.key.as_bytes()),
            "signed_prekey_signature": hex(&spk.signature),
            "one_time_prekey_id": bundle.one_time_prekey.map(|otk| otk.id),
            "one_time_prekey": bundle.one_time_prekey.map(|otk| hex(otk.key.as_bytes())),
        },
        "bytes": hex(&bundle.to_bytes()),
    })
}

fn sender_key_message_json(message: &SenderKeyMessage) -> Value {
    let bytes = message.to_bytes();
    let end = bytes.len() - 64;
    json!({
        "fields": {
            "version": 2,
            "type": 3,
            "group_id": hex(&message.label().group_id),
            "sender": hex(message.label().sender.as_bytes()),
            "epoch": message.label().epoch,
            "distribution_id": hex(&message.label().distribution_id),
            "iteration": message.iteration(),
            "salt": hex(&bytes[78..94]),
            "ciphertext": hex(&bytes[98..end]),
            "signature": hex(&bytes[end..]),
        },
        "bytes": hex(&bytes),
    })
}

fn distribution_json(distribution: &SenderKeyDistribution) -> Value {
    let bytes = distribution.to_bytes();
    json!({
        "fields": {
            "version": 2,
            "type": 4,
            "group_id": hex(&distribution.label().group_id),
            "sender": hex(distribution.label().sender.as_bytes()),
            "epoch": distribution.label().epoch,
            "distribution_id": hex(&distribution.label().distribution_id),
            "iteration": distribution.iteration(),
            "chain_key": hex(&bytes[78..110]),
            "signing_key": hex(&bytes[110..142]),
        },
        "bytes": hex(&bytes),
    })
}
