//! `link.json`: the link handshake (SPEC.md §16.4–16.5): link codes, every intermediate value of
//! sealing a link message, the new device opening it, and link messages it must refuse.

use hush_crypto::devices::{
    AccountSigningKey, DeviceEntry, DeviceList, LINK_EPHEMERAL_INFO, LINK_MESSAGE_INFO, LinkCode, LinkError,
    LinkRequest,
};
use hush_crypto::primitives::{aead_seal, hkdf_sha256, x25519, x25519_base};
use hush_crypto::{Account, IdentityKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::rng::{Recorder, throwaway};
use crate::util::{NOW, hex, variant};

pub const DESCRIPTION: &str = "Link handshake (SPEC.md §16.4-16.5). LinkRequest::new draws e_N (32) then \
    link_secret (16); code = 0x02 || 0x07 || IK_N || E_N || link_secret || u64 created_at, text = lowercase \
    base32 without padding. Sealing draws r (32): code_hash = SHA-256(code); e_X = HKDF(salt r, ikm \
    link_secret, \"Hush_v2_LinkEphemeralSecret\" || code_hash || SHA-256(payload), 32); shared = X25519(e_X, \
    E_N); key || nonce = HKDF(salt link_secret, ikm shared, \"Hush_v2_LinkMessage\" || code_hash || E_X, 44); \
    header = 0x02 || 0x08 || IK_N || E_N || E_X; message = header || u32 len || AES-256-GCM(key, nonce, header \
    || code, payload); payload = IK_X || u16 len || device list || u8 has_seed || [account seed] || u32 len || \
    contacts || u32 len || history. `cases` seal with the API and open with the request; `refused` are \
    messages LinkRequest::open refuses, opened by the request of case `opened_by` at `now` (messages marked \
    hand_sealed were sealed from the primitives with `r` and the payload shown, to reach the checks behind \
    the AEAD).";

/// Everything the sealer computes, from the primitives (SPEC.md §16.5), checked against the API.
struct Trace {
    value: Value,
    message: Vec<u8>,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn payload(
    sender: &IdentityKey,
    list: &DeviceList,
    seed: Option<[u8; 32]>,
    contacts: &[u8],
    history: &[u8],
) -> Vec<u8> {
    let list = list.to_bytes();
    let mut out = sender.as_bytes().to_vec();
    out.extend_from_slice(&u16::try_from(list.len()).expect("short list").to_be_bytes());
    out.extend_from_slice(&list);
    match seed {
        Some(seed) => {
            out.push(1);
            out.extend_from_slice(&seed);
        }
        None => out.push(0),
    }
    for field in [contacts, history] {
        out.extend_from_slice(&u32::try_from(field.len()).expect("short field").to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

fn hand_seal(code: &[u8], r: &[u8; 32], payload: &[u8]) -> Trace {
    let identity = &code[2..34];
    let link_ephemeral: [u8; 32] = code[34..66].try_into().expect("32");
    let secret = &code[66..82];
    let code_hash = sha256(code);
    let ephemeral_info = [LINK_EPHEMERAL_INFO, &code_hash, &sha256(payload)].concat();
    let mut e = [0u8; 32];
    hkdf_sha256(Some(r), secret, &ephemeral_info, &mut e).expect("32 bytes");
    let ephemeral = x25519_base(&e);
    let shared = x25519(&e, &link_ephemeral).expect("valid link key");
    let message_info = [LINK_MESSAGE_INFO, &code_hash, &ephemeral].concat();
    let mut okm = [0u8; 44];
    hkdf_sha256(Some(secret), &shared, &message_info, &mut okm).expect("44 bytes");
    let key: [u8; 32] = okm[..32].try_into().expect("32");
    let nonce: [u8; 12] = okm[32..].try_into().expect("12");
    let header = [&[2u8, 0x08][..], identity, &link_ephemeral, &ephemeral].concat();
    let ad = [&header[..], code].concat();
    let ciphertext = aead_seal(&key, &nonce, &ad, payload).expect("seal");
    let message = [
        &header[..],
        &u32::try_from(ciphertext.len()).expect("short").to_be_bytes(),
        &ciphertext,
    ]
    .concat();
    let value = json!({
        "r": hex(r),
        "code_hash": hex(&code_hash),
        "payload": hex(payload),
        "payload_hash": hex(&sha256(payload)),
        "ephemeral_info": hex(&ephemeral_info),
        "sender_ephemeral_secret": hex(&e),
        "sender_ephemeral": hex(&ephemeral),
        "shared": hex(&shared),
        "message_info": hex(&message_info),
        "key": hex(&key),
        "nonce": hex(&nonce),
        "header": hex(&header),
        "associated_data": hex(&ad),
        "message": hex(&message),
    });
    Trace { value, message }
}

fn request(identity: IdentityKey, now: u64, rng: &mut Recorder) -> (LinkRequest, Value) {
    let request = LinkRequest::new(identity, now, rng);
    let random = rng.take_hex();
    let code = request.code();
    let value = json!({
        "request_random": random,
        "created_at": now,
        "code": hex(&code.to_bytes()),
        "code_text": code.to_text(),
        "link_ephemeral": hex(code.ephemeral().as_bytes()),
    });
    (request, value)
}

fn error_json(error: &LinkError) -> Value {
    match error {
        LinkError::Decode(decode) | LinkError::MalformedPayload(decode) => json!({
            "error": variant(error),
            "decode_error": variant(decode),
            "field": crate::util::decode_field(decode),
        }),
        LinkError::DeviceList(list) => json!({ "error": "DeviceList", "list_error": variant(list) }),
        other => json!({ "error": variant(other) }),
    }
}

pub fn generate(rng: &mut Recorder) -> Value {
    let phone_seed = rng.input::<32>();
    let laptop_seed = rng.input::<32>();
    let phone = Account::hazmat_from_seed(phone_seed, NOW, &mut throwaway()).identity_key();
    let laptop = Account::hazmat_from_seed(laptop_seed, NOW, &mut throwaway()).identity_key();
    let account = AccountSigningKey::generate(rng);
    let account_random = rng.take_hex();
    let first = account.first_device_list(DeviceEntry::new(phone, NOW));
    let list = account
        .add_device(&first, DeviceEntry::new(laptop, NOW + 30))
        .expect("two devices");

    let inputs: [(bool, &[u8], &[u8]); 2] = [
        (false, b"alice,bob", b""),
        (true, b"{\"contacts\":[\"hush:00\"]}", &[0x5a; 37]),
    ];
    let mut requests = Vec::new();
    let mut messages = Vec::new();
    let mut cases = Vec::new();
    for (index, (with_seed, contacts, history)) in inputs.iter().enumerate() {
        let now = NOW + 10 * index as u64;
        let (request, mut value) = request(laptop, now, rng);
        let code = request.code();
        let sealer = with_seed.then_some(&account);
        let message = code
            .seal(&phone, &list, sealer, contacts, history, now + 30, rng)
            .expect("seal");
        let r: [u8; 32] = rng.take().try_into().expect("32 bytes drawn");
        let seed = with_seed.then(|| account.hazmat_seed());
        let trace = hand_seal(
            &code.to_bytes(),
            &r,
            &payload(&phone, &list, seed, contacts, history),
        );
        assert_eq!(trace.message, message, "the SPEC's steps give the API's message");
        let object = value.as_object_mut().expect("object");
        object.insert("with_account_seed".into(), json!(with_seed));
        object.insert("contacts".into(), json!(hex(contacts)));
        object.insert("history".into(), json!(hex(history)));
        object.insert("sealed_at".into(), json!(now + 30));
        object.insert("seal".into(), trace.value);
        cases.push(value);
        requests.push(request);
        messages.push(message);
    }

    let genuine = messages[0].clone();
    let code = requests[0].code().to_bytes();
    let opened_at = NOW + 60;
    let mut refused: Vec<(&str, Vec<u8>, u64, bool)> = Vec::new();
    let other_device = Account::hazmat_from_seed(rng.input::<32>(), NOW, &mut throwaway()).identity_key();
    let other_key = x25519_base(&rng.input::<32>());
    let mut swapped = genuine.clone();
    swapped[2..34].copy_from_slice(other_device.as_bytes());
    refused.push(("swapped_new_device_key", swapped, opened_at, false));
    let mut swapped = genuine.clone();
    swapped[34..66].copy_from_slice(&other_key);
    refused.push(("swapped_link_ephemeral", swapped, opened_at, false));
    let mut swapped = genuine.clone();
    swapped[66..98].copy_from_slice(&other_key);
    refused.push(("swapped_sender_ephemeral", swapped, opened_at, false));
    let mut flipped = genuine.clone();
    flipped[102] ^= 1;
    refused.push(("flipped_ciphertext", flipped, opened_at, false));
    let mut flipped = genuine.clone();
    *flipped.last_mut().expect("nonempty") ^= 0x80;
    refused.push(("flipped_tag", flipped, opened_at, false));
    refused.push(("answers_another_code", messages[1].clone(), opened_at, false));
    let mut no_secret = code.clone();
    no_secret[66..82].copy_from_slice(&[0; 16]);
    let guessed = LinkCode::from_bytes(&no_secret).expect("code");
    let forged = guessed
        .seal(&phone, &list, None, b"", b"", NOW, rng)
        .expect("forged");
    let forged_r = rng.take_hex();
    refused.push(("sealed_without_the_code_secret", forged, opened_at, false));
    refused.push((
        "expired",
        genuine.clone(),
        NOW + hush_crypto::devices::LINK_CODE_LIFETIME + 1,
        false,
    ));
    refused.push((
        "truncated",
        genuine[..genuine.len() - 1].to_vec(),
        opened_at,
        false,
    ));
    refused.push(("trailing_byte", [&genuine[..], &[0]].concat(), opened_at, false));
    let mut v1 = genuine.clone();
    v1[0] = 1;
    refused.push(("version_1", v1, opened_at, false));
    let mut low_order = genuine.clone();
    low_order[66..98].copy_from_slice(&[0; 32]);
    refused.push(("low_order_sender_ephemeral", low_order, opened_at, false));
    let hand_r = rng.input::<32>();
    let without_laptop = hand_seal(&code, &hand_r, &payload(&phone, &first, None, b"", b""));
    refused.push(("list_without_new_device", without_laptop.message, opened_at, true));
    let other_account = AccountSigningKey::generate(rng);
    let _ = rng.take();
    let wrong_seed = hand_seal(
        &code,
        &hand_r,
        &payload(&phone, &list, Some(other_account.hazmat_seed()), b"", b""),
    );
    refused.push(("seed_of_another_account", wrong_seed.message, opened_at, true));
    let sender_is_new = hand_seal(&code, &hand_r, &payload(&laptop, &list, None, b"", b""));
    refused.push(("sender_is_the_new_device", sender_is_new.message, opened_at, true));
    let mut bad_payload = payload(&phone, &list, None, b"", b"");
    bad_payload.push(0);
    let trailing_payload = hand_seal(&code, &hand_r, &bad_payload);
    refused.push(("payload_trailing_byte", trailing_payload.message, opened_at, true));

    let mut refused_json: Vec<Value> = refused
        .iter()
        .map(|(name, message, now, hand_sealed)| {
            let error = requests[0].open(message, *now).expect_err(name);
            let mut case = json!({
                "name": name,
                "opened_by": 0,
                "now": now,
                "hand_sealed": hand_sealed,
                "message": hex(message),
            });
            let object = case.as_object_mut().expect("object");
            for (key, value) in error_json(&error).as_object().expect("object") {
                object.insert(key.clone(), value.clone());
            }
            case
        })
        .collect();

    // The genuine messages open; then a replay is refused.
    let mut opened = Vec::new();
    for (index, request) in requests.iter_mut().enumerate() {
        let linked = request.open(&messages[index], NOW + 60).expect("opens");
        opened.push(json!({
            "sender_device": hex(linked.sender_device.as_bytes()),
            "device_list": hex(&linked.device_list.to_bytes()),
            "account_key": hex(linked.device_list.account_key().as_bytes()),
            "has_account_seed": linked.account_signing_key.is_some(),
            "contacts": hex(&linked.contacts),
            "history": hex(&linked.history),
        }));
    }
    let error = requests[0].open(&genuine, opened_at).expect_err("replay");
    let mut replay = json!({
        "name": "replay_after_success",
        "opened_by": 0,
        "now": opened_at,
        "hand_sealed": false,
        "message": hex(&genuine),
        "after_genuine": true,
    });
    for (key, value) in error_json(&error).as_object().expect("object") {
        replay
            .as_object_mut()
            .expect("object")
            .insert(key.clone(), value.clone());
    }
    refused_json.push(replay);
    for (case, opened) in cases.iter_mut().zip(opened) {
        case.as_object_mut()
            .expect("object")
            .insert("opened".into(), opened);
    }

    json!({
        "phone_seed": hex(&phone_seed),
        "phone_identity_key": hex(phone.as_bytes()),
        "laptop_seed": hex(&laptop_seed),
        "laptop_identity_key": hex(laptop.as_bytes()),
        "account_generate_random": account_random,
        "account_seed": hex(&account.hazmat_seed()),
        "first_list": hex(&first.to_bytes()),
        "device_list": hex(&list.to_bytes()),
        "cases": cases,
        "forged_r": forged_r,
        "hand_sealed_r": hex(&hand_r),
        "other_account_seed": hex(&other_account.hazmat_seed()),
        "refused": refused_json,
    })
}
