//! `negative.json`: messages Bob's session or account must refuse, each with the error variant,
//! applied in order (with a few honest deliveries between them) after a short setup.

use hush_crypto::primitives::x25519_base;
use serde_json::{Value, json};

use crate::conversation::{Conversation, Party, outcome};
use crate::rng::Recorder;
use crate::util::{hex, session_state, variant};

pub const DESCRIPTION: &str = "Negative vectors. After `events` (a setup in the ratchet.json format), \
    each of `cases` is given to Bob in order: `target` bob_session decrypts with his session, \
    bob_account starts an inbound session from a pre-key message. Refused cases leave Bob's \
    session and account unchanged and draw no randomness. TooManySkipped is decided before any \
    chain key is derived.";

/// Offsets in an encoded Message (see SPEC.md).
const RATCHET_KEY_AT: usize = 2;
const PREVIOUS_COUNTER_AT: usize = 34;
const COUNTER_AT: usize = 38;
const SALT_AT: usize = 42;
const CIPHERTEXT_AT: usize = 62;
/// Offset of the base key in an encoded PreKeyMessage.
const BASE_KEY_AT: usize = 34;

pub fn generate(rng: &mut Recorder) -> Value {
    let (mut conversation, setup) = Conversation::start(rng);
    let first = conversation.send(rng, Party::Alice, b"first (pre-key) message");
    conversation.deliver(rng, first).expect("inbound");
    let reply = conversation.send(rng, Party::Bob, b"reply");
    conversation.deliver(rng, reply).expect("reply");
    let m2 = conversation.send(rng, Party::Alice, b"m2: first of Alice's second chain");
    let m3 = conversation.send(rng, Party::Alice, b"m3");
    let m4 = conversation.send(rng, Party::Alice, b"m4");
    let fresh_key = x25519_base(&rng.input::<32>());

    let bytes_of = |c: &Conversation, i: usize| c.messages[i].bytes.clone();
    let flip = |mut bytes: Vec<u8>, at: usize, mask: u8| {
        bytes[at] ^= mask;
        bytes
    };
    let set_u32 = |mut bytes: Vec<u8>, at: usize, value: u32| {
        bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
        bytes
    };
    let set_key = |mut bytes: Vec<u8>, at: usize| {
        bytes[at..at + 32].copy_from_slice(&fresh_key);
        bytes
    };

    let m2_bytes = bytes_of(&conversation, m2);
    let m3_bytes = bytes_of(&conversation, m3);
    let m4_bytes = bytes_of(&conversation, m4);
    let first_bytes = bytes_of(&conversation, first);
    let tag_at = m3_bytes.len() - 1;
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        // Bob has not seen Alice's new ratchet key yet: these take the DH-step path.
        (
            "new_chain_tampered_salt",
            "bob_session",
            flip(m2_bytes.clone(), SALT_AT, 0x01),
        ),
        (
            "new_chain_tampered_previous_counter",
            "bob_session",
            flip(m2_bytes.clone(), PREVIOUS_COUNTER_AT + 3, 0x01),
        ),
        (
            "new_chain_tampered_body",
            "bob_session",
            flip(m2_bytes.clone(), CIPHERTEXT_AT, 0x01),
        ),
        (
            "new_chain_tampered_tag",
            "bob_session",
            flip(m2_bytes.clone(), m2_bytes.len() - 1, 0x80),
        ),
        (
            "new_chain_counter_over_max_skip",
            "bob_session",
            set_u32(m2_bytes.clone(), COUNTER_AT, 2001),
        ),
        (
            "new_chain_previous_counter_over_max_skip",
            "bob_session",
            set_u32(m2_bytes.clone(), PREVIOUS_COUNTER_AT, 1 + 2001),
        ),
        ("deliver_m2", "bob_session", m2_bytes.clone()),
        // Now on the current chain (next counter 1).
        (
            "tampered_salt",
            "bob_session",
            flip(m3_bytes.clone(), SALT_AT, 0x01),
        ),
        (
            "tampered_counter",
            "bob_session",
            set_u32(m3_bytes.clone(), COUNTER_AT, 3),
        ),
        (
            "tampered_body",
            "bob_session",
            flip(m3_bytes.clone(), CIPHERTEXT_AT + 1, 0x40),
        ),
        (
            "tampered_tag",
            "bob_session",
            flip(m3_bytes.clone(), tag_at, 0x01),
        ),
        (
            "unknown_ratchet_key",
            "bob_session",
            set_key(m3_bytes.clone(), RATCHET_KEY_AT),
        ),
        (
            "counter_at_max_skip",
            "bob_session",
            set_u32(m3_bytes.clone(), COUNTER_AT, 1 + 2000),
        ),
        (
            "counter_over_max_skip",
            "bob_session",
            set_u32(m3_bytes.clone(), COUNTER_AT, 1 + 2001),
        ),
        (
            "counter_u32_max",
            "bob_session",
            set_u32(m3_bytes.clone(), COUNTER_AT, u32::MAX),
        ),
        ("deliver_m4", "bob_session", m4_bytes.clone()),
        ("deliver_m3", "bob_session", m3_bytes.clone()),
        ("replayed_m3", "bob_session", m3_bytes.clone()),
        ("replayed_m2", "bob_session", m2_bytes.clone()),
        (
            "replayed_first_prekey_message_to_session",
            "bob_session",
            first_bytes.clone(),
        ),
        (
            "prekey_message_of_another_session",
            "bob_session",
            set_key(first_bytes.clone(), BASE_KEY_AT),
        ),
        (
            "replayed_first_prekey_message_to_account",
            "bob_account",
            first_bytes.clone(),
        ),
    ];

    let mut out = Vec::new();
    for (name, target, bytes) in cases {
        let before = session_state(conversation.bob_session.as_ref().expect("bob has a session"));
        let result = match target {
            "bob_session" => conversation.receive(rng, Party::Bob, &bytes),
            _ => inbound(&mut conversation, rng, &bytes),
        };
        let random = rng.take_hex();
        let after = session_state(conversation.bob_session.as_ref().expect("bob has a session"));
        if result.is_err() {
            assert_eq!(before, after, "{name}: state changed on error");
            assert!(random.is_empty(), "{name}: drew randomness on error");
        }
        let mut case = json!({
            "name": name,
            "target": target,
            "bytes": hex(&bytes),
            "random": random,
            "result": outcome(&result),
            "state_after": after,
        });
        if let Ok(plaintext) = &result {
            case["plaintext"] = json!(hex(plaintext));
        }
        out.push(case);
    }
    json!({
        "setup": setup,
        "messages": conversation.message_json,
        "events": conversation.events,
        "fresh_ratchet_key": hex(&fresh_key),
        "cases": out,
    })
}

fn inbound(conversation: &mut Conversation, rng: &mut Recorder, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let message = hush_crypto::PreKeyMessage::from_bytes(bytes).map_err(|e| variant(&e))?;
    conversation
        .bob
        .create_inbound_session(crate::conversation::BOB_ADDRESS, &message, crate::util::NOW, rng)
        .map(|inbound| inbound.plaintext)
        .map_err(|e| variant(&e))
}
