//! `group.json`: a sender-key chain, its distribution, nine messages delivered out of order to
//! two receivers (one joining late), and refused messages.

use hush_crypto::Account;
use hush_crypto::group::{
    DISTRIBUTION_ID_LEN, GROUP_HEADER_LEN, GROUP_ID_LEN, GroupReceiver, GroupSender, SenderKeyDistribution,
    SenderKeyMessage, hazmat_sender_key_salt,
};
use hush_crypto::ratchet::hazmat_kdf_ck;
use serde_json::{Value, json};

use crate::rng::{Recorder, throwaway};
use crate::util::{NOW, hex, variant};

pub const DESCRIPTION: &str = "Sender keys (version 2, bound to their sender): GroupSender::new(group_id, \
    sender, epoch) draws 16 bytes of distribution id, 32 bytes of chain key, 32 bytes of Ed25519 \
    signing seed; `sender` is the identity key of the Ed25519 seed `sender_seed`. Each encrypt draws \
    16 random bytes, and its salt is HMAC(message_key, \"Hush_v1_SenderKeySalt\" || random || \
    plaintext)[0..16]. Receivers A and B take their distributions over the sender's own session \
    (session peer = sender); A starts at iteration 0, B at iteration 3; `forwarded` is the \
    distribution taken over another member's session. `refused` cases are applied in order (receiver A, except `before_distribution`: \
    receiver B) after the deliveries; refused ones leave the receiver unchanged (the last case \
    delivers message 8, withheld from A until then); `resigned` ones were re-signed with the sender's signing seed, so only the check \
    they target refuses them.";

/// Offsets in an encoded SenderKeyMessage (SPEC.md §10.4); the label (group id, sender,
/// epoch, distribution id) is at the same place in a distribution (§10.5).
const GROUP_ID_AT: usize = 2;
const SENDER_AT: usize = GROUP_ID_AT + GROUP_ID_LEN;
const EPOCH_AT: usize = SENDER_AT + 32;
const DISTRIBUTION_ID_AT: usize = EPOCH_AT + 8;
const ITERATION_AT: usize = DISTRIBUTION_ID_AT + DISTRIBUTION_ID_LEN;
const SALT_AT: usize = ITERATION_AT + 4;
const CIPHERTEXT_AT: usize = GROUP_HEADER_LEN + 4;
/// Offsets in an encoded SenderKeyDistribution: after the iteration, the chain key and then
/// the signing key.
const CHAIN_KEY_AT: usize = ITERATION_AT + 4;
const SIGNING_KEY_AT: usize = CHAIN_KEY_AT + 32;

const EPOCH: u64 = 5;

pub fn generate(rng: &mut Recorder) -> Value {
    let group_id = rng.input::<16>();
    let sender_seed = rng.input::<32>();
    let other_seed = rng.input::<32>();
    let sender_identity = Account::hazmat_from_seed(sender_seed, NOW, &mut throwaway()).identity_key();
    let other_identity = Account::hazmat_from_seed(other_seed, NOW, &mut throwaway()).identity_key();
    let mut sender = GroupSender::new(group_id, sender_identity, EPOCH, rng);
    let new_random = rng.take();
    let signing_seed: [u8; 32] = new_random[48..].try_into().expect("32");
    let distribution = sender.distribution();
    let distribution_bytes = distribution.to_bytes();
    let chain_key: [u8; 32] = distribution_bytes[CHAIN_KEY_AT..SIGNING_KEY_AT]
        .try_into()
        .expect("32");

    let mut messages = Vec::new();
    let mut encoded = Vec::new();
    let mut late_distribution = Vec::new();
    let mut chain = chain_key;
    for iteration in 0..9u32 {
        if iteration == 3 {
            late_distribution = sender.distribution().to_bytes();
        }
        let plaintext =
            format!("group message {iteration}{}", "!".repeat(iteration as usize * 5)).into_bytes();
        let message = sender.encrypt(&plaintext, rng).expect("encrypt");
        let random: [u8; 16] = rng.take().try_into().expect("encrypt draws 16 bytes");
        let (message_key, next) = hazmat_kdf_ck(&chain);
        let salt = hazmat_sender_key_salt(&message_key, &random, &plaintext);
        let bytes = message.to_bytes();
        assert_eq!(bytes[SALT_AT..CIPHERTEXT_AT - 4], salt, "synthetic salt");
        messages.push(json!({
            "iteration": iteration,
            "plaintext": hex(&plaintext),
            "random": hex(&random),
            "chain_key": hex(&chain),
            "message_key": hex(&message_key),
            "salt": hex(&salt),
            "bytes": hex(&bytes),
        }));
        chain = next;
        encoded.push(bytes);
    }

    let forwarded = GroupReceiver::from_distribution(
        &SenderKeyDistribution::from_bytes(&distribution_bytes).expect("decodes"),
        &other_identity,
    )
    .map(drop)
    .map_err(|e| variant(&e));
    let mut receiver_a = GroupReceiver::from_distribution(
        &SenderKeyDistribution::from_bytes(&distribution_bytes).expect("decodes"),
        &sender_identity,
    )
    .expect("the sender's own session");
    let deliveries_a = deliver(&mut receiver_a, &encoded, &[2, 0, 1, 5, 3, 7, 4, 6, 5]);
    let mut receiver_b = GroupReceiver::from_distribution(
        &SenderKeyDistribution::from_bytes(&late_distribution).expect("decodes"),
        &sender_identity,
    )
    .expect("the sender's own session");
    let deliveries_b = deliver(&mut receiver_b, &encoded, &[1, 4, 3, 7, 2, 6, 5]);

    // Refused messages, against receiver A (next iteration 8, no skipped keys left); message 8
    // was withheld from it so tampered copies reach the AEAD.
    let resign = |bytes: &mut Vec<u8>| {
        let signer = Account::hazmat_from_seed(signing_seed, NOW, &mut throwaway());
        let signed_len = bytes.len() - 64;
        let signature = signer.hazmat_sign_raw(&bytes[..signed_len]);
        bytes[signed_len..].copy_from_slice(&signature);
    };
    let mut refused = Vec::new();
    let mut case = |name: &str, bytes: Vec<u8>, receiver: &mut GroupReceiver, which: &str| {
        let result = SenderKeyMessage::from_bytes(&bytes)
            .map_err(|e| variant(&e))
            .and_then(|m| receiver.decrypt(&m).map_err(|e| variant(&e)));
        refused.push(json!({
            "name": name,
            "receiver": which,
            "bytes": hex(&bytes),
            "result": match &result { Ok(_) => "ok".to_string(), Err(e) => e.clone() },
        }));
    };
    let last = encoded[8].clone();
    let mut bad_signature = last.clone();
    *bad_signature.last_mut().expect("signature") ^= 0x01;
    case("bad_signature", bad_signature, &mut receiver_a, "a");
    let mut tampered = last.clone();
    tampered[CIPHERTEXT_AT] ^= 0x01;
    case("tampered_ciphertext", tampered.clone(), &mut receiver_a, "a");
    resign(&mut tampered);
    case("tampered_ciphertext_resigned", tampered, &mut receiver_a, "a");
    let mut tag = last.clone();
    let tag_at = tag.len() - 64 - 1;
    tag[tag_at] ^= 0x80;
    resign(&mut tag);
    case("tampered_tag_resigned", tag, &mut receiver_a, "a");
    let mut wrong_chain = last.clone();
    wrong_chain[DISTRIBUTION_ID_AT] ^= 0x01;
    resign(&mut wrong_chain);
    case(
        "wrong_distribution_id_resigned",
        wrong_chain,
        &mut receiver_a,
        "a",
    );
    let mut wrong_group = last.clone();
    wrong_group[GROUP_ID_AT] ^= 0x01;
    resign(&mut wrong_group);
    case("wrong_group_resigned", wrong_group, &mut receiver_a, "a");
    let mut wrong_sender = last.clone();
    wrong_sender[SENDER_AT..EPOCH_AT].copy_from_slice(other_identity.as_bytes());
    resign(&mut wrong_sender);
    case(
        "another_sender_resigned",
        wrong_sender.clone(),
        &mut receiver_a,
        "a",
    );
    let mut wrong_epoch = last.clone();
    wrong_epoch[EPOCH_AT..DISTRIBUTION_ID_AT].copy_from_slice(&(EPOCH + 1).to_be_bytes());
    resign(&mut wrong_epoch);
    case("next_epoch_resigned", wrong_epoch, &mut receiver_a, "a");
    case("duplicate", encoded[2].clone(), &mut receiver_a, "a");
    // receiver A's next iteration is 8: 8 + 2000 is the furthest it derives to; one more is refused.
    for (name, iteration) in [
        ("at_max_skip_resigned", 8 + 2000u32),
        ("over_max_skip_resigned", 8 + 2001),
    ] {
        let mut far = last.clone();
        far[ITERATION_AT..ITERATION_AT + 4].copy_from_slice(&iteration.to_be_bytes());
        resign(&mut far);
        case(name, far, &mut receiver_a, "a");
    }
    let mut early = encoded[1].clone();
    early[0] = 1;
    case("unsupported_version", early, &mut receiver_a, "a");
    case("before_distribution", encoded[0].clone(), &mut receiver_b, "b");
    case(
        "withheld_message_after_refusals",
        encoded[8].clone(),
        &mut receiver_a,
        "a",
    );

    json!({
        "group_id": hex(&group_id),
        "epoch": EPOCH,
        "sender_seed": hex(&sender_seed),
        "sender": hex(sender_identity.as_bytes()),
        "other_member_seed": hex(&other_seed),
        "other_member": hex(other_identity.as_bytes()),
        "group_sender_new": {
            "random": hex(&new_random),
            "distribution_id": hex(&distribution.label().distribution_id),
            "chain_key": hex(&chain_key),
            "signing_seed": hex(&signing_seed),
            "signing_key": hex(&distribution_bytes[SIGNING_KEY_AT..]),
        },
        "forwarded": {
            "distribution": "distribution",
            "session_peer": hex(other_identity.as_bytes()),
            "result": forwarded.err().unwrap_or_else(|| "ok".to_string()),
        },
        "distribution": hex(&distribution_bytes),
        "late_distribution": hex(&late_distribution),
        "messages": messages,
        "receiver_a": { "distribution": "distribution", "session_peer": "sender", "deliveries": deliveries_a },
        "receiver_b": { "distribution": "late_distribution", "session_peer": "sender", "deliveries": deliveries_b },
        "refused": refused,
    })
}

fn deliver(receiver: &mut GroupReceiver, encoded: &[Vec<u8>], order: &[usize]) -> Vec<Value> {
    order
        .iter()
        .map(|&index| {
            let message = SenderKeyMessage::from_bytes(&encoded[index]).expect("decodes");
            let mut out = json!({ "message": index });
            match receiver.decrypt(&message) {
                Ok(plaintext) => {
                    out["result"] = json!("ok");
                    out["plaintext"] = json!(hex(&plaintext));
                }
                Err(e) => out["result"] = json!(variant(&e)),
            }
            out["skipped_key_count"] = json!(receiver.skipped_key_count());
            out
        })
        .collect()
}
