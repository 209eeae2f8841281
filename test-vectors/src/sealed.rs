//! `sealed.json`: sealed sender v2 (the outer envelope layer), every intermediate value of both
//! layers and of the synthetic ephemeral secret, the recipient opening each envelope, and
//! envelopes the recipient must refuse.

use hush_crypto::primitives::{aead_open, aead_seal, hkdf_sha256, x25519, x25519_base};
use hush_crypto::sealed::{
    SEAL_EPHEMERAL_INFO, SEAL_HEADER_LEN, SEAL_INNER_INFO, SEAL_OVERHEAD, SEAL_SENDER_INFO, SEALED_VERSION,
    seal,
};
use hush_crypto::{Account, IdentityKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::rng::{Recorder, throwaway};
use crate::util::{NOW, hex, unhex, with_seal_error};

pub const DESCRIPTION: &str = "Sealed sender v2 (SPEC.md §15): sealed = 0x02 || E[32] || sender_box[48] || \
    inner_box. r = draw(32); static_shared = X25519(sender identity secret, recipient identity as X25519); \
    e = HKDF(salt r, static_shared, \"Hush_v2_SealEphemeralSecret\" || IK_S || IK_R || SHA-256(inner), 32), \
    E = X25519_base(e). Layer 1: ephemeral_shared = X25519(e, IK_R as X25519), chain_key || sender_key || \
    sender_nonce = HKDF(zero salt, ephemeral_shared, \"Hush_v2_SealSender\" || E || IK_R, 76), sender_box = \
    AES-256-GCM(sender_key, sender_nonce, 0x02 || E || IK_R, IK_S). Layer 2: inner_key || inner_nonce = \
    HKDF(salt chain_key, static_shared, \"Hush_v2_SealInner\" || E || IK_R || IK_S || sender_box, 44), \
    inner_box = AES-256-GCM(inner_key, inner_nonce, sealed[0..81] || IK_R, inner). `cases` seal arbitrary \
    inner bytes and open them as the recipient; `refused` are envelopes open_sealed must refuse (the error \
    variant, and the key error for Key), each opened by the account whose seed is `opened_by_seed` \
    (`opened_by`: the recipient of text_inner, or `other`). sender_field_not_an_identity_key has a layer 1 \
    sealed by hand with `bad_sender_ephemeral_secret` whose tag verifies but whose sender field is the \
    small-order Ed25519 point 01 00..00; forged_claim_of_text_sender has a layer 1 sealed by hand with \
    `forged_ephemeral_secret` naming text_inner's sender and a layer 2 keyed with the `other` account's \
    static DH instead of the sender's.";

/// An Ed25519 encoding of the identity point (y = 1): canonical but of small order, so never a
/// valid identity key.
const SMALL_ORDER_IDENTITY: &str = "0100000000000000000000000000000000000000000000000000000000000000";

fn account(seed: [u8; 32]) -> Account {
    Account::hazmat_from_seed(seed, NOW, &mut throwaway())
}

fn identity_secret(account: &Account) -> [u8; 32] {
    account.hazmat_secrets().1
}

fn x25519_of(identity: &IdentityKey) -> [u8; 32] {
    identity.to_curve25519().expect("valid identity").to_bytes()
}

/// Layer 1's HKDF info, outputs and AD.
struct SenderLayer {
    info: Vec<u8>,
    chain_key: [u8; 32],
    key: [u8; 32],
    nonce: [u8; 12],
    ad: Vec<u8>,
}

/// Layer 1 from the primitives.
fn sender_layer(ephemeral_shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &IdentityKey) -> SenderLayer {
    let info = [
        SEAL_SENDER_INFO,
        ephemeral.as_slice(),
        recipient.as_bytes().as_slice(),
    ]
    .concat();
    let mut okm = [0u8; 76];
    hkdf_sha256(None, ephemeral_shared, &info, &mut okm).expect("76 bytes");
    let ad = [
        [SEALED_VERSION].as_slice(),
        ephemeral.as_slice(),
        recipient.as_bytes().as_slice(),
    ]
    .concat();
    SenderLayer {
        info,
        chain_key: okm[..32].try_into().expect("32"),
        key: okm[32..64].try_into().expect("32"),
        nonce: okm[64..].try_into().expect("12"),
        ad,
    }
}

/// Layer 2 from the primitives: (info, key, nonce).
fn inner_layer(
    chain_key: &[u8; 32],
    static_shared: &[u8; 32],
    ephemeral: &[u8; 32],
    recipient: &IdentityKey,
    sender: &[u8],
    sender_box: &[u8],
) -> (Vec<u8>, [u8; 32], [u8; 12]) {
    let info = [
        SEAL_INNER_INFO,
        ephemeral.as_slice(),
        recipient.as_bytes().as_slice(),
        sender,
        sender_box,
    ]
    .concat();
    let mut okm = [0u8; 44];
    hkdf_sha256(Some(chain_key), static_shared, &info, &mut okm).expect("44 bytes");
    (
        info,
        okm[..32].try_into().expect("32"),
        okm[32..].try_into().expect("12"),
    )
}

/// Builds an envelope by hand: layer 1 with `ephemeral_secret` naming `sender_field`, layer 2
/// keyed with `static_shared`. Returns the bytes.
fn by_hand(
    ephemeral_secret: &[u8; 32],
    recipient: &IdentityKey,
    sender_field: &[u8],
    static_shared: &[u8; 32],
    inner: &[u8],
) -> Vec<u8> {
    let ephemeral = x25519_base(ephemeral_secret);
    let ephemeral_shared = x25519(ephemeral_secret, &x25519_of(recipient)).expect("dh");
    let SenderLayer {
        chain_key,
        key,
        nonce,
        ad,
        ..
    } = sender_layer(&ephemeral_shared, &ephemeral, recipient);
    let sender_box = aead_seal(&key, &nonce, &ad, sender_field).expect("seal");
    assert!(aead_open(&key, &nonce, &ad, &sender_box).is_ok());
    let header = [[SEALED_VERSION].as_slice(), ephemeral.as_slice(), &sender_box].concat();
    let (_, key, nonce) = inner_layer(
        &chain_key,
        static_shared,
        &ephemeral,
        recipient,
        sender_field,
        &sender_box,
    );
    let inner_ad = [header.as_slice(), recipient.as_bytes()].concat();
    let inner_box = aead_seal(&key, &nonce, &inner_ad, inner).expect("seal");
    [header, inner_box].concat()
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
    let bad_sender_ephemeral_secret = rng.input::<32>();
    let forged_ephemeral_secret = rng.input::<32>();
    json!({
        "seal_overhead": SEAL_OVERHEAD,
        "cases": cases,
        "other_seed": hex(&other_seed),
        "other_identity": hex(account(other_seed).identity_key().as_bytes()),
        "bad_sender_ephemeral_secret": hex(&bad_sender_ephemeral_secret),
        "forged_ephemeral_secret": hex(&forged_ephemeral_secret),
        "refused": refused(
            &cases,
            &sealed_of,
            other_seed,
            bad_sender_ephemeral_secret,
            forged_ephemeral_secret,
        ),
    })
}

fn case(rng: &mut Recorder, name: &str, inner: &[u8]) -> (Value, Vec<u8>) {
    let sender_seed = rng.input::<32>();
    let recipient_seed = rng.input::<32>();
    let sender = account(sender_seed);
    let recipient = account(recipient_seed);
    let sender_ik = sender.identity_key();
    let recipient_ik = recipient.identity_key();
    let sealed = seal(&sender, &recipient_ik, inner, rng).expect("seal");
    let random: [u8; 32] = rng.take().try_into().expect("seal draws 32 bytes");

    // Every intermediate value, recomputed from the primitives, must give the same envelope.
    let recipient_x = x25519_of(&recipient_ik);
    let sender_x = x25519_of(&sender_ik);
    let static_shared = x25519(&identity_secret(&sender), &recipient_x).expect("dh");
    assert_eq!(
        static_shared,
        x25519(&identity_secret(&recipient), &sender_x).expect("dh"),
        "both sides agree on the static DH"
    );
    let inner_sha256: [u8; 32] = Sha256::digest(inner).into();
    let ephemeral_info = [
        SEAL_EPHEMERAL_INFO,
        sender_ik.as_bytes().as_slice(),
        recipient_ik.as_bytes().as_slice(),
        inner_sha256.as_slice(),
    ]
    .concat();
    let mut ephemeral_secret = [0u8; 32];
    hkdf_sha256(
        Some(&random),
        &static_shared,
        &ephemeral_info,
        &mut ephemeral_secret,
    )
    .expect("32 bytes");
    let ephemeral = x25519_base(&ephemeral_secret);
    let ephemeral_shared = x25519(&ephemeral_secret, &recipient_x).expect("dh");
    let SenderLayer {
        info: sender_info,
        chain_key,
        key: sender_key,
        nonce: sender_nonce,
        ad: sender_ad,
    } = sender_layer(&ephemeral_shared, &ephemeral, &recipient_ik);
    let sender_box = aead_seal(&sender_key, &sender_nonce, &sender_ad, sender_ik.as_bytes()).expect("seal");
    let header = [[SEALED_VERSION].as_slice(), ephemeral.as_slice(), &sender_box].concat();
    let (inner_info, inner_key, inner_nonce) = inner_layer(
        &chain_key,
        &static_shared,
        &ephemeral,
        &recipient_ik,
        sender_ik.as_bytes(),
        &sender_box,
    );
    let inner_ad = [header.as_slice(), recipient_ik.as_bytes().as_slice()].concat();
    let inner_box = aead_seal(&inner_key, &inner_nonce, &inner_ad, inner).expect("seal");
    let expected = [header.as_slice(), &inner_box].concat();
    assert_eq!(
        sealed, expected,
        "{name}: seal differs from the documented construction"
    );
    assert_eq!(sealed.len(), SEAL_OVERHEAD + inner.len());
    assert_eq!(header.len(), SEAL_HEADER_LEN);

    let opened = recipient.open_sealed(&sealed).expect("the recipient opens it");
    assert_eq!(opened.sender, sender_ik);
    assert_eq!(opened.inner, inner);

    let case = json!({
        "name": name,
        "sender_seed": hex(&sender_seed),
        "sender_identity": hex(sender_ik.as_bytes()),
        "sender_x25519_public": hex(&sender_x),
        "recipient_seed": hex(&recipient_seed),
        "recipient_identity": hex(recipient_ik.as_bytes()),
        "recipient_x25519_public": hex(&recipient_x),
        "inner": hex(inner),
        "random": hex(&random),
        "static_shared_secret": hex(&static_shared),
        "inner_sha256": hex(&inner_sha256),
        "ephemeral_hkdf_info": hex(&ephemeral_info),
        "ephemeral_secret": hex(&ephemeral_secret),
        "ephemeral_public": hex(&ephemeral),
        "ephemeral_shared_secret": hex(&ephemeral_shared),
        "sender_hkdf_info": hex(&sender_info),
        "chain_key": hex(&chain_key),
        "sender_key": hex(&sender_key),
        "sender_nonce": hex(&sender_nonce),
        "sender_associated_data": hex(&sender_ad),
        "sender_box": hex(&sender_box),
        "inner_hkdf_info": hex(&inner_info),
        "inner_key": hex(&inner_key),
        "inner_nonce": hex(&inner_nonce),
        "inner_associated_data": hex(&inner_ad),
        "inner_box": hex(&inner_box),
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
    bad_sender_ephemeral_secret: [u8; 32],
    forged_ephemeral_secret: [u8; 32],
) -> Vec<Value> {
    let seed_of = |i: usize, field: &str| -> [u8; 32] {
        unhex(cases[i][field].as_str().expect("hex"))
            .try_into()
            .expect("32")
    };
    let text = &sealed_of[2];
    let empty = &sealed_of[0];
    let text_recipient = seed_of(2, "recipient_seed");
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

    let recipient = account(text_recipient);
    let recipient_ik = recipient.identity_key();
    let recipient_x = x25519_of(&recipient_ik);
    // Layer 1 verifies but its sender field is not an identity key (layer 2 keyed with zeros:
    // an opener cannot get that far).
    let bad_sender = by_hand(
        &bad_sender_ephemeral_secret,
        &recipient_ik,
        &unhex(SMALL_ORDER_IDENTITY),
        &[0; 32],
        b"inner",
    );
    // Layer 1 names text_inner's sender; layer 2 is keyed with `other`'s static DH.
    let claimed = account(seed_of(2, "sender_seed")).identity_key();
    let forger_shared = x25519(&identity_secret(&account(other_seed)), &recipient_x).expect("dh");
    let forged = by_hand(
        &forged_ephemeral_secret,
        &recipient_ik,
        claimed.as_bytes(),
        &forger_shared,
        b"inner",
    );

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
            "flipped_first_inner_tag_byte",
            text_recipient,
            flip(text, text.len() - 16, 0x80),
        ),
        (
            "flipped_sender_box_ciphertext_byte",
            text_recipient,
            flip(text, 33, 0x01),
        ),
        (
            "flipped_sender_box_tag_byte",
            text_recipient,
            flip(text, 65, 0x01),
        ),
        (
            "flipped_inner_ciphertext_byte",
            text_recipient,
            flip(text, SEAL_HEADER_LEN, 0x01),
        ),
        ("flipped_ephemeral_key_byte", text_recipient, flip(text, 1, 0x01)),
        ("version_0", text_recipient, edit(text, 0, 0)),
        ("version_1", text_recipient, edit(text, 0, 1)),
        ("version_3", text_recipient, edit(text, 0, 3)),
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
            edit(&empty[..SEAL_OVERHEAD - 1], 0, 1),
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
        ("forged_claim_of_text_sender", text_recipient, forged),
    ];
    list.into_iter()
        .map(|(name, seed, bytes)| {
            let opener = account(seed);
            let error = opener.open_sealed(&bytes).expect_err(name);
            let case = json!({
                "name": name,
                "opened_by": if seed == other_seed { "other" } else { "recipient" },
                "opened_by_seed": hex(&seed),
                "bytes": hex(&bytes),
            });
            with_seal_error(case, &error)
        })
        .collect()
}
