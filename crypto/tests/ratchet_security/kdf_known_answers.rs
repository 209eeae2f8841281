//! KDF known answers for the chain, root and message-key steps. Expected values computed
//! independently with Python's `hmac` and `hashlib` (test-vectors/independent/ratchet_kdf.py,
//! output in ratchet_kdf.json next to it).

use crate::common::pair;
use crate::{aead_key_and_nonce, rng, send};

fn hex32(hex: &str) -> [u8; 32] {
    hex_bytes(hex).try_into().unwrap()
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn counting(start: u8, len: u8) -> Vec<u8> {
    (start..start + len).collect()
}

#[test]
fn kdf_ck_known_answers() {
    use hush_crypto::ratchet::hazmat_kdf_ck;
    // ck = 00 01 .. 1f; mk = HMAC-SHA256(ck, 0x01), ck' = HMAC-SHA256(ck, 0x02).
    let chain_key: [u8; 32] = counting(0, 32).try_into().unwrap();
    let (message_key, next) = hazmat_kdf_ck(&chain_key);
    assert_eq!(
        message_key,
        hex32("9b4c8120a4823a95f47cde17a244f4507244ee6e3957d1fab9fa29b44d3829b7")
    );
    assert_eq!(
        next,
        hex32("4304c22c84a53755ab08ead8d97a8d429be5efa480682d7ad1da27f73e1fbe1d")
    );
    // Three steps: the message key of counter 2 and the chain key after it.
    let (_, ck2) = hazmat_kdf_ck(&next);
    let (mk2, ck3) = hazmat_kdf_ck(&ck2);
    assert_eq!(
        mk2,
        hex32("5d2042bf4c603cf3aa7194739ed08bc1c698a7ec7fb8e77d3ea2588c6fe78ce1")
    );
    assert_eq!(
        ck3,
        hex32("04428b813675036c07233edd0be13b7c422610a8c3d6ecc7c8fbd85671e47a13")
    );
}

#[test]
fn kdf_rk_known_answer() {
    use hush_crypto::ratchet::hazmat_kdf_rk;
    // HKDF-SHA256(salt = rk = 00..1f, ikm = dh = 20..3f, info = "Hush_v1_Ratchet", 64 bytes).
    let root_key: [u8; 32] = counting(0x00, 32).try_into().unwrap();
    let dh: [u8; 32] = counting(0x20, 32).try_into().unwrap();
    let (new_root, chain_key) = hazmat_kdf_rk(&root_key, &dh);
    assert_eq!(
        new_root,
        hex32("da9166c3c63ee5bad2e323bb642ea22561551fed4972eced4e5ecff55b669b3f")
    );
    assert_eq!(
        chain_key,
        hex32("d876ed1f3b924c47a4934020e7d9c81515a361ad66b2bc7847e706d01e3c741e")
    );
}

#[test]
fn message_key_expansion_known_answer() {
    use hush_crypto::ratchet::hazmat_expand_message_key;
    // HKDF-SHA256(salt = 60..6f, ikm = mk = 40..5f, info = "Hush_v1_MessageKeys", 44 bytes).
    let message_key: [u8; 32] = counting(0x40, 32).try_into().unwrap();
    let salt: [u8; 16] = counting(0x60, 16).try_into().unwrap();
    let (key, nonce) = hazmat_expand_message_key(&message_key, &salt);
    assert_eq!(
        key,
        hex32("9351285cde515b323ebd3c2d90a7f9e17616af7c7f001b3a2030093904c27750")
    );
    assert_eq!(nonce.to_vec(), hex_bytes("f207d55acac0abc895231565"));
}

#[test]
fn shipped_vectors_match() {
    use hush_crypto::ratchet::{hazmat_expand_message_key, hazmat_kdf_ck, hazmat_kdf_rk};
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../../../test-vectors/independent/ratchet_kdf.json")).unwrap();
    let field = |v: &serde_json::Value, name: &str| hex_bytes(v[name].as_str().unwrap());
    let mut checked = 0;
    for v in vectors["kdf_ck"].as_array().unwrap() {
        let (mk, ck) = hazmat_kdf_ck(&field(v, "chain_key").try_into().unwrap());
        assert_eq!(mk.to_vec(), field(v, "message_key"));
        assert_eq!(ck.to_vec(), field(v, "next_chain_key"));
        checked += 1;
    }
    for v in vectors["kdf_rk"].as_array().unwrap() {
        let (rk, ck) = hazmat_kdf_rk(
            &field(v, "root_key").try_into().unwrap(),
            &field(v, "dh_out").try_into().unwrap(),
        );
        assert_eq!(rk.to_vec(), field(v, "new_root_key"));
        assert_eq!(ck.to_vec(), field(v, "chain_key"));
        checked += 1;
    }
    for v in vectors["message_keys"].as_array().unwrap() {
        let (key, nonce) = hazmat_expand_message_key(
            &field(v, "message_key").try_into().unwrap(),
            &field(v, "salt").try_into().unwrap(),
        );
        assert_eq!(key.to_vec(), field(v, "aead_key"));
        assert_eq!(nonce.to_vec(), field(v, "aead_nonce"));
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} vectors");
}

#[test]
fn session_dh_step_follows_the_kdf_chain() {
    use hush_crypto::ratchet::{hazmat_kdf_ck, hazmat_kdf_rk};
    let mut rng = rng(23);
    let (mut alice, mut bob) = pair(&mut rng);
    let (root_before, bob_secret, _) = bob.hazmat_keys();
    let message = send(&mut alice, b"step", &mut rng);
    let alice_key = message.message().ratchet_key().to_bytes();
    assert_eq!(bob.decrypt(&message, &mut rng).unwrap(), b"step");
    let (root_after, bob_new_secret, sending) = bob.hazmat_keys();
    // Receiving half: KDF_RK(rk, DH(bob, alice')) gives the chain whose key 0 opens the message.
    let dh = hush_crypto::primitives::x25519(&bob_secret, &alice_key).unwrap();
    let (root_mid, receiving_chain) = hazmat_kdf_rk(&root_before, &dh);
    let _ = aead_key_and_nonce(&receiving_chain, 0, bob.hazmat_associated_data(), &message);
    // Sending half: KDF_RK(rk', DH(bob', alice')).
    let dh = hush_crypto::primitives::x25519(&bob_new_secret, &alice_key).unwrap();
    let (root_expected, sending_expected) = hazmat_kdf_rk(&root_mid, &dh);
    assert_eq!(root_after, root_expected);
    assert_eq!(sending, Some(sending_expected));
    // And Bob's next sending chain key is one KDF_CK step on.
    let _ = send(&mut bob, b"reply", &mut rng);
    assert_eq!(bob.hazmat_keys().2, Some(hazmat_kdf_ck(&sending_expected).1));
}
