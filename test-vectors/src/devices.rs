//! `devices.json`: signed device lists (SPEC.md §16.2), membership signatures (§16.3) and lists
//! that are refused.

use hush_crypto::devices::{AccountSigningKey, DeviceEntry, DeviceList, DeviceListError};
use hush_crypto::{Account, IdentityKey, SignaturePurpose, purpose_signed_message};
use serde_json::{Value, json};

use crate::rng::{Recorder, throwaway};
use crate::util::{NOW, hex, variant};

pub const DESCRIPTION: &str = "Device lists (SPEC.md §16.2): 0x02 || 0x06 || account_key[32] || u64 counter || \
    u8 device_count || entries (ascending identity key: identity[32] || u64 created_at || u8 has_mailbox || \
    [mailbox 32]) || signature[64], the signature = Ed25519(account seed, \"Hush_v1_IdentitySignature\" || 0x03 \
    || all bytes before it). `account_generate_random` is AccountSigningKey::generate's draw (the account \
    seed); devices are accounts from `device_seeds` (identity seeds). `membership` holds each device's \
    Ed25519(identity seed, \"Hush_v1_IdentitySignature\" || 0x04 || account_key). `refused`: `mode` decode \
    (DeviceList::from_bytes), or update (DeviceList::verify_update against `pinned`); `error` is the \
    DeviceListError variant, with the DecodeError variant and field for Decode. Bodies marked resigned were \
    signed by the account key as they are, so the check behind the signature is reached.";

/// The Ed25519 encoding of the identity point: canonical, small order, never a valid key.
const SMALL_ORDER: [u8; 32] = {
    let mut key = [0u8; 32];
    key[0] = 1;
    key
};

fn device(seed: [u8; 32]) -> IdentityKey {
    Account::hazmat_from_seed(seed, NOW, &mut throwaway()).identity_key()
}

fn list_json(list: &DeviceList) -> Value {
    let bytes = list.to_bytes();
    let body = &bytes[..bytes.len() - 64];
    let devices: Vec<Value> = list
        .devices()
        .iter()
        .map(|entry| {
            json!({
                "identity_key": hex(entry.identity_key.as_bytes()),
                "created_at": entry.created_at,
                "mailbox": entry.mailbox.map(|m| hex(&m)),
            })
        })
        .collect();
    json!({
        "account_key": hex(list.account_key().as_bytes()),
        "counter": list.counter(),
        "devices": devices,
        "signed_message": hex(&purpose_signed_message(SignaturePurpose::DeviceList, body)),
        "signature": hex(list.signature()),
        "bytes": hex(&bytes),
    })
}

fn error_json(error: &DeviceListError) -> Value {
    match error {
        DeviceListError::Decode(decode) => json!({
            "error": "Decode",
            "decode_error": variant(decode),
            "field": crate::util::decode_field(decode),
        }),
        other => json!({ "error": variant(other) }),
    }
}

fn resign(account: &AccountSigningKey, body: &[u8]) -> Vec<u8> {
    [body, &account.hazmat_sign_list_body(body)].concat()
}

fn body_of(list: &DeviceList) -> Vec<u8> {
    let bytes = list.to_bytes();
    bytes[..bytes.len() - 64].to_vec()
}

pub fn generate(rng: &mut Recorder) -> Value {
    let account = AccountSigningKey::generate(rng);
    let account_random = rng.take_hex();
    let seeds: Vec<[u8; 32]> = (0..6).map(|_| rng.input::<32>()).collect();
    let devices: Vec<IdentityKey> = seeds.iter().map(|seed| device(*seed)).collect();

    let first = account.first_device_list(DeviceEntry::new(devices[0], NOW));
    let mut with_mailbox = DeviceEntry::new(devices[1], NOW + 60);
    with_mailbox.mailbox = Some([0x4d; 32]);
    let second = account.add_device(&first, with_mailbox).expect("two devices");
    let full = account
        .sign_device_list(
            9,
            devices
                .iter()
                .enumerate()
                .map(|(i, key)| DeviceEntry::new(*key, NOW + 3600 * i as u64))
                .collect(),
        )
        .expect("six devices");
    let membership: Vec<Value> = seeds
        .iter()
        .take(2)
        .map(|seed| {
            let phone = Account::hazmat_from_seed(*seed, NOW, &mut throwaway());
            let signature = phone.sign_membership(&account.public());
            assert!(
                account
                    .public()
                    .verify_membership(&phone.identity_key(), &signature)
                    .is_ok()
            );
            json!({
                "device_identity_key": hex(phone.identity_key().as_bytes()),
                "signed_message": hex(&purpose_signed_message(
                    SignaturePurpose::AccountMembership,
                    account.public().as_bytes()
                )),
                "signature": hex(&signature),
            })
        })
        .collect();

    let other = AccountSigningKey::generate(rng);
    let other_random = rng.take_hex();
    let foreign = other
        .add_device(
            &other.first_device_list(DeviceEntry::new(devices[0], NOW)),
            with_mailbox,
        )
        .expect("foreign list");

    let bytes = second.to_bytes();
    let body = body_of(&second);
    let one_body = body_of(&first);
    let mut cases: Vec<(&str, Vec<u8>, Option<&DeviceList>)> = Vec::new();
    cases.push(("truncated_signature", bytes[..bytes.len() - 1].to_vec(), None));
    cases.push(("truncated_in_entry", bytes[..60].to_vec(), None));
    cases.push(("trailing_byte", [&bytes[..], &[0]].concat(), None));
    let mut v1 = bytes.clone();
    v1[0] = 1;
    cases.push(("version_1", v1, None));
    let mut wrong_type = bytes.clone();
    wrong_type[1] = 0x07;
    cases.push(("link_code_type", wrong_type, None));
    let mut none = one_body[..43].to_vec();
    none[42] = 0;
    cases.push(("no_devices_resigned", resign(&account, &none), None));
    let mut seven = one_body.clone();
    seven[42] = 7;
    cases.push(("seven_devices_resigned", resign(&account, &seven), None));
    let mut twice = one_body.clone();
    twice[42] = 2;
    twice.extend_from_slice(&one_body[43..]);
    cases.push(("duplicate_device_resigned", resign(&account, &twice), None));
    let entries = &body[43..];
    let first_len = if entries[40] == 1 { 73 } else { 41 };
    let (low, high) = entries.split_at(first_len);
    let reversed = [&body[..43], high, low].concat();
    cases.push(("descending_devices_resigned", resign(&account, &reversed), None));
    let mut flag = one_body.clone();
    flag[43 + 40] = 2;
    cases.push(("mailbox_flag_2_resigned", resign(&account, &flag), None));
    let mut bad_account = bytes.clone();
    bad_account[2..34].copy_from_slice(&SMALL_ORDER);
    cases.push(("small_order_account_key", bad_account, None));
    let mut bad_device = one_body.clone();
    bad_device[43..75].copy_from_slice(&SMALL_ORDER);
    cases.push((
        "small_order_device_key_resigned",
        resign(&account, &bad_device),
        None,
    ));
    let mut flipped_signature = bytes.clone();
    *flipped_signature.last_mut().expect("nonempty") ^= 1;
    cases.push(("flipped_signature", flipped_signature, None));
    let mut flipped_counter = bytes.clone();
    flipped_counter[41] ^= 1;
    cases.push(("flipped_counter", flipped_counter, None));
    let mut claimed = foreign.to_bytes();
    claimed[2..34].copy_from_slice(account.public().as_bytes());
    cases.push(("other_account_claims_pinned_key", claimed, None));
    cases.push(("other_account_key", foreign.to_bytes(), Some(&first)));
    cases.push(("older_counter", first.to_bytes(), Some(&second)));
    cases.push(("same_counter_again", second.to_bytes(), Some(&second)));

    let refused: Vec<Value> = cases
        .iter()
        .map(|(name, bytes, pinned)| {
            let error = match pinned {
                Some(pinned) => DeviceList::verify_update(bytes, pinned),
                None => DeviceList::from_bytes(bytes),
            }
            .expect_err(name);
            let mut case = json!({
                "name": name,
                "mode": if pinned.is_some() { "update" } else { "decode" },
                "bytes": hex(bytes),
                "pinned": pinned.map(|list| hex(&list.to_bytes())),
            });
            let object = case.as_object_mut().expect("object");
            for (key, value) in error_json(&error).as_object().expect("object") {
                object.insert(key.clone(), value.clone());
            }
            case
        })
        .collect();

    assert_eq!(
        DeviceList::verify_update(&second.to_bytes(), &first).expect("update"),
        second
    );
    json!({
        "account_generate_random": account_random,
        "account_seed": hex(&account.hazmat_seed()),
        "account_key": hex(account.public().as_bytes()),
        "device_seeds": seeds.iter().map(|seed| hex(seed)).collect::<Vec<_>>(),
        "device_identity_keys": devices.iter().map(|key| hex(key.as_bytes())).collect::<Vec<_>>(),
        "lists": {
            "first": list_json(&first),
            "second": list_json(&second),
            "full": list_json(&full),
        },
        "membership": membership,
        "other_account_generate_random": other_random,
        "other_account_key": hex(other.public().as_bytes()),
        "refused": refused,
    })
}
