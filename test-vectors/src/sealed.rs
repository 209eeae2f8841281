//! `sealed.json`: sealed sender (the outer envelope layer), every intermediate value, the
//! recipient opening each envelope, and envelopes the recipient must refuse.

use hush_crypto::primitives::{aead_open, aead_seal, hkdf_sha256, x25519, x25519_base};
use hush_crypto::sealed::{SEAL_INFO, SEAL_OVERHEAD, SEALED_VERSION, SealError, seal};
use hush_crypto::{Account, IdentityKey};
use serde_json::{Value, json};

use crate::rng::{Recorder, throwaway};
use crate::util::{NOW, hex, unhex, variant};

pub const DESCRIPTION: &str = "Sealed sender (SPEC.md §15): sealed = 0x01 || E[32] || AES-256-GCM(key, nonce, \
    ad, sender_identity[32] || inner), E = X25519_base(e) with e = draw(32), shared = X25519(e, \
    recipient identity as X25519), key || nonce = HKDF(zero salt, shared, \"Hush_v1_Seal\" || E || \
    recipient_identity, 44), ad = 0x01 || E || recipient_identity. `cases` seal arbitrary inner bytes and \
    open them as the recipient; `refused` are envelopes open_sealed must refuse (the error variant, and \
    the key error for Key), each opened by the account whose seed is `opened_by_seed` (`opened_by`: the \
    recipient of text_inner, or `other`). sender_field_not_an_identity_key is sealed by hand with \
    `bad_sender_ephemeral_secret` so that its tag verifies but its sender field is the small-order \
    Ed25519 point 01 00..00.";

/// An Ed25519 encoding of the identity point (y = 1): canonical but of small order, so never a
/// valid identity key.
const SMALL_ORDER_IDENTITY: &str = "0100000000000000000000000000000000000000000000000000000000000000";

fn account(seed: [u8; 32]) -> Account {
    Account::hazmat_from_seed(seed, NOW, &mut throwaway())
}

/// `HKDF(zero salt, shared, "Hush_v1_Seal" || E || recipient, 44)` -> (info, key, nonce), from the
/// primitives rather than from `seal`.
fn derive(shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &IdentityKey) -> (Vec<u8>, [u8; 32], [u8; 12]) {
    let info = [SEAL_INFO, ephemeral.as_slice(), recipient.as_bytes().as_slice()].concat();
    let mut okm = [0u8; 44];
    hkdf_sha256(None, shared, &info, &mut okm).expect("44 bytes");
    let key: [u8; 32] = okm[..32].try_into().expect("32");
    let nonce: [u8; 12] = okm[32..].try_into().expect("12");
    (info, key, nonce)
}

fn associated_data(ephemeral: &[u8; 32], recipient: &IdentityKey) -> Vec<u8> {
    [
        [SEALED_VERSION].as_slice(),
        ephemeral.as_slice(),
        recipient.as_bytes().as_slice(),
    ]
    .concat()
}

pub fn generate(rng: &mut Recorder) -> Value {
    let inners: Vec<(&str, Vec<u8>)> = vec![
        ("empty_inner", Vec::new()),
        ("one_byte_inner", vec![0x42]),
        ("text_inner", b"an inner SessionMessage would go here".to_vec()),
        ("long_inner", (0..300u32).map(|i| (i * 7 + 3) as u8).collect()),
    ];
    let mut cases = Vec::new();
    let mut sealed_of = Vec::new();
    for (name, inner) in inners {
        let (case, sealed) = case(rng, name, &inner);
        cases.push(case);
        sealed_of.push(sealed);
    }
    let other_seed = rng.input::<32>();
    let forged_ephemeral_secret = rng.input::<32>();
    json!({
        "seal_overhead": SEAL_OVERHEAD,
        "cases": cases,
        "other_seed": hex(&other_seed),
        "other_identity": hex(account(other_seed).identity_key().as_bytes()),
        "bad_sender_ephemeral_secret": hex(&forged_ephemeral_secret),
        "refused": refused(&cases, &sealed_of, other_seed, forged_ephemeral_secret),
    })
}

fn case(rng: &mut Recorder, name: &str, inner: &[u8]) -> (Value, Vec<u8>) {
    let sender_seed = rng.input::<32>();
    let recipient_seed = rng.input::<32>();
    let sender = account(sender_seed);
    let recipient = account(recipient_seed);
    let sender_ik = sender.identity_key();
    let recipient_ik = recipient.identity_key();
    let sealed = seal(&sender_ik, &recipient_ik, inner, rng).expect("seal");
    let random = rng.take();
    let ephemeral_secret: [u8; 32] = random.clone().try_into().expect("seal draws 32 bytes");

    // Every intermediate value, recomputed from the primitives, must give the same envelope.
    let ephemeral = x25519_base(&ephemeral_secret);
    let recipient_x = recipient_ik.to_curve25519().expect("valid identity");
    let shared = x25519(&ephemeral_secret, recipient_x.as_bytes()).expect("dh");
    let (info, key, nonce) = derive(&shared, &ephemeral, &recipient_ik);
    let ad = associated_data(&ephemeral, &recipient_ik);
    let plaintext = [sender_ik.as_bytes().as_slice(), inner].concat();
    let body = aead_seal(&key, &nonce, &ad, &plaintext).expect("seal");
    let expected = [[SEALED_VERSION].as_slice(), ephemeral.as_slice(), &body].concat();
    assert_eq!(
        sealed, expected,
        "{name}: seal differs from the documented construction"
    );
    assert_eq!(sealed.len(), SEAL_OVERHEAD + inner.len());

    let opened = recipient.open_sealed(&sealed).expect("the recipient opens it");
    assert_eq!(opened.sender, sender_ik);
    assert_eq!(opened.inner, inner);

    let case = json!({
        "name": name,
        "sender_seed": hex(&sender_seed),
        "sender_identity": hex(sender_ik.as_bytes()),
        "recipient_seed": hex(&recipient_seed),
        "recipient_identity": hex(recipient_ik.as_bytes()),
        "recipient_x25519_public": hex(recipient_x.as_bytes()),
        "inner": hex(inner),
        "random": hex(&random),
        "ephemeral_secret": hex(&ephemeral_secret),
        "ephemeral_public": hex(&ephemeral),
        "shared_secret": hex(&shared),
        "hkdf_info": hex(&info),
        "key": hex(&key),
        "nonce": hex(&nonce),
        "associated_data": hex(&ad),
        "aead_plaintext": hex(&plaintext),
        "sealed": hex(&sealed),
        "opened": {
            "sender": hex(opened.sender.as_bytes()),
            "inner": hex(&opened.inner),
        },
    });
    (case, sealed)
}

/// The refusals, each given to `open_sealed` of the account `opened_by_seed`.
fn refused(
    cases: &[Value],
    sealed_of: &[Vec<u8>],
    other_seed: [u8; 32],
    forged_ephemeral_secret: [u8; 32],
) -> Vec<Value> {
    let seed_of = |i: usize| -> [u8; 32] {
        unhex(cases[i]["recipient_seed"].as_str().expect("hex"))
            .try_into()
            .expect("32")
    };
    let text = &sealed_of[2];
    let empty = &sealed_of[0];
    let text_recipient = seed_of(2);
    let edit = |bytes: &[u8], at: usize, value: u8| {
        let mut out = bytes.to_vec();
        out[at] = value;
        out
    };
    let flip = |bytes: &[u8], at: usize, mask: u8| edit(bytes, at, bytes[at] ^ mask);
    let set_ephemeral = |bytes: &[u8], key: &[u8; 32]| {
        let mut out = bytes.to_vec();
        out[1..33].copy_from_slice(key);
        out
    };

    // A well-formed envelope whose tag verifies but whose sender field is not an identity key.
    let recipient_ik = account(text_recipient).identity_key();
    let ephemeral = x25519_base(&forged_ephemeral_secret);
    let recipient_x = recipient_ik.to_curve25519().expect("valid identity");
    let shared = x25519(&forged_ephemeral_secret, recipient_x.as_bytes()).expect("dh");
    let (_, key, nonce) = derive(&shared, &ephemeral, &recipient_ik);
    let ad = associated_data(&ephemeral, &recipient_ik);
    let plaintext = [unhex(SMALL_ORDER_IDENTITY).as_slice(), b"inner"].concat();
    let body = aead_seal(&key, &nonce, &ad, &plaintext).expect("seal");
    assert!(aead_open(&key, &nonce, &ad, &body).is_ok());
    let bad_sender = [[SEALED_VERSION].as_slice(), ephemeral.as_slice(), &body].concat();

    // 2^255 - 1 (top bit clear, but >= p): not a canonical u-coordinate.
    let mut non_canonical = [0xff; 32];
    non_canonical[31] = 0x7f;
    let list: Vec<(&str, [u8; 32], Vec<u8>)> = vec![
        (
            "flipped_last_tag_byte",
            text_recipient,
            flip(text, text.len() - 1, 0x01),
        ),
        (
            "flipped_first_tag_byte",
            text_recipient,
            flip(text, text.len() - 16, 0x80),
        ),
        (
            "flipped_ciphertext_sender_byte",
            text_recipient,
            flip(text, 33, 0x01),
        ),
        (
            "flipped_ciphertext_inner_byte",
            text_recipient,
            flip(text, 33 + 32, 0x01),
        ),
        ("flipped_ephemeral_key_byte", text_recipient, flip(text, 1, 0x01)),
        ("version_0", text_recipient, edit(text, 0, 0)),
        ("version_2", text_recipient, edit(text, 0, 2)),
        ("version_255", text_recipient, edit(text, 0, 0xff)),
        ("empty_input", text_recipient, Vec::new()),
        ("version_byte_only", text_recipient, vec![SEALED_VERSION]),
        (
            "one_under_overhead",
            text_recipient,
            empty[..SEAL_OVERHEAD - 1].to_vec(),
        ),
        (
            "one_under_overhead_bad_version",
            text_recipient,
            edit(&empty[..SEAL_OVERHEAD - 1], 0, 2),
        ),
        (
            "truncated_by_one",
            text_recipient,
            text[..text.len() - 1].to_vec(),
        ),
        (
            "truncated_to_overhead",
            text_recipient,
            text[..SEAL_OVERHEAD].to_vec(),
        ),
        (
            "extended_by_one",
            text_recipient,
            [text.as_slice(), &[0]].concat(),
        ),
        (
            "ephemeral_low_order_zero",
            text_recipient,
            set_ephemeral(text, &[0; 32]),
        ),
        (
            "ephemeral_non_canonical",
            text_recipient,
            set_ephemeral(text, &non_canonical),
        ),
        ("ephemeral_top_bit_set", text_recipient, flip(text, 32, 0x80)),
        ("sealed_for_another_recipient", other_seed, text.clone()),
        (
            "sealed_for_another_recipient_empty_inner",
            other_seed,
            empty.clone(),
        ),
        ("sender_field_not_an_identity_key", text_recipient, bad_sender),
    ];
    list.into_iter()
        .map(|(name, seed, bytes)| {
            let opener = account(seed);
            let error = opener.open_sealed(&bytes).expect_err(name);
            let mut out = json!({
                "name": name,
                "opened_by": if seed == other_seed { "other" } else { "recipient" },
                "opened_by_seed": hex(&seed),
                "bytes": hex(&bytes),
                "error": variant(&error),
            });
            if let SealError::Key(key_error) = &error {
                out["key_error"] = json!(variant(key_error));
            }
            out
        })
        .collect()
}
