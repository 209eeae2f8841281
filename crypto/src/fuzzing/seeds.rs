//! The seed corpus the fuzz targets start from (written to `fuzz/corpus/` by the `fuzz_seeds`
//! example, replayed by `tests/fuzz_corpus.rs`).

use super::fixture::{group_fixture, inbound_fixture, rng, sealed_fixture, session_fixture};
use super::{PICKLE_KEY, Seed};
use crate::pickle::PickleKey;

/// The seed corpus: genuine encodings of every message type, the messages of the live fixtures
/// (so they match what the targets attack), mutation seeds, and pickles. Deterministic.
pub fn seed_corpus() -> Vec<Seed> {
    let session = session_fixture();
    let group = group_fixture();
    let inbound = inbound_fixture();
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: String, bytes: Vec<u8>| {
        seeds.push(Seed { target, name, bytes });
    };

    let normal: Vec<&Vec<u8>> = session.all.iter().filter(|b| b.get(1) == Some(&0x01)).collect();
    let prekey: Vec<&Vec<u8>> = session
        .all
        .iter()
        .chain(inbound.all.iter())
        .filter(|b| b.get(1) == Some(&0x02))
        .collect();
    for (index, bytes) in normal.iter().enumerate() {
        add("decode_message", format!("message_{index}"), bytes.to_vec());
        add(
            "decode_session_message",
            format!("message_{index}"),
            bytes.to_vec(),
        );
    }
    for (index, bytes) in prekey.iter().enumerate() {
        add("decode_prekey_message", format!("prekey_{index}"), bytes.to_vec());
        add(
            "decode_session_message",
            format!("prekey_{index}"),
            bytes.to_vec(),
        );
    }
    for (index, bytes) in session.bundles.iter().enumerate() {
        add("decode_prekey_bundle", format!("bundle_{index}"), bytes.clone());
    }
    for (index, bytes) in group.all.iter().enumerate() {
        add(
            "decode_sender_key_message",
            format!("group_{index}"),
            bytes.clone(),
        );
    }
    add(
        "decode_sender_key_distribution",
        "distribution".into(),
        group.distribution.clone(),
    );

    // Decryption targets: pending, delivered, and byte-flip mutations of each genuine message
    // (header, middle and last byte of the tag or signature).
    let mutations = |all: &[Vec<u8>]| -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for (which, bytes) in all.iter().enumerate() {
            let which_byte = u8::try_from(which).unwrap_or(0);
            let len = u8::try_from(bytes.len().min(255)).unwrap_or(255);
            for position in [1u8, 10, len / 2, len.saturating_sub(1)] {
                out.push((
                    format!("flip_{which}_{position}"),
                    vec![position, 0x01, which_byte],
                ));
            }
        }
        out
    };
    for (index, pending) in session.pending.iter().enumerate() {
        add(
            "session_decrypt",
            format!("pending_{index}"),
            pending.bytes.clone(),
        );
    }
    for (index, bytes) in session.delivered.iter().enumerate() {
        add("session_decrypt", format!("delivered_{index}"), bytes.clone());
    }
    for (name, bytes) in mutations(&session.all) {
        add("session_decrypt", name, bytes);
    }
    for (index, pending) in group.pending.iter().enumerate() {
        add("group_decrypt", format!("pending_{index}"), pending.bytes.clone());
    }
    for (index, bytes) in group.delivered.iter().enumerate() {
        add("group_decrypt", format!("delivered_{index}"), bytes.clone());
    }
    for (name, bytes) in mutations(&group.all) {
        add("group_decrypt", name, bytes);
    }
    for (index, pending) in inbound.pending.iter().enumerate() {
        add(
            "inbound_session",
            format!("pending_{index}"),
            pending.bytes.clone(),
        );
    }
    for (index, bytes) in inbound.delivered.iter().enumerate() {
        add("inbound_session", format!("delivered_{index}"), bytes.clone());
    }
    for (name, bytes) in mutations(&inbound.all) {
        add("inbound_session", name, bytes);
    }

    // Pickles, encrypted (deterministic nonces from a seeded RNG) and in plaintext.
    let key = PickleKey::new(PICKLE_KEY);
    let mut rng = rng(9);
    let pickles: [(&str, Vec<u8>, Vec<u8>); 6] = [
        (
            "session_bob",
            session.bob.encrypt(&key, &mut rng),
            session.bob_bytes.clone(),
        ),
        (
            "session_alice",
            session.alice.encrypt(&key, &mut rng),
            session.alice.to_plaintext_bytes(),
        ),
        (
            "session_alice_unanswered",
            session.alice_unanswered.encrypt(&key, &mut rng),
            session.alice_unanswered.to_plaintext_bytes(),
        ),
        (
            "account",
            inbound.account.encrypt(&key, &mut rng),
            inbound.account_bytes.clone(),
        ),
        (
            "group_sender",
            group.sender.encrypt(&key, &mut rng),
            group.sender.to_plaintext_bytes(),
        ),
        (
            "group_receiver",
            group.receiver.encrypt(&key, &mut rng),
            group.receiver_bytes.clone(),
        ),
    ];
    for (name, encrypted, plain) in pickles {
        add("unpickle", name.to_string(), encrypted);
        add("unpickle", format!("{name}_plain"), plain);
    }

    // Sealed envelopes: the genuine ones, one for someone else, and flips of the version byte,
    // the ephemeral key, the sealed sender (layer 1), the inner box (layer 2) and the last tag.
    let sealed = sealed_fixture();
    for (index, bytes) in sealed.all.iter().enumerate() {
        add("open_sealed", format!("envelope_{index}"), bytes.clone());
    }
    for (which, bytes) in sealed.all.iter().enumerate() {
        let which_byte = u8::try_from(which).unwrap_or(0);
        let last = u8::try_from(bytes.len().min(256).saturating_sub(1)).unwrap_or(u8::MAX);
        for position in [0u8, 1, 40, 90, last] {
            add(
                "open_sealed",
                format!("flip_{which}_{position}"),
                vec![position, 0x01, which_byte],
            );
        }
    }
    seeds.extend(super::devices::seeds());
    seeds.extend(super::pq::seeds());
    seeds.extend(super::shared::seeds());
    seeds
}
