//! `sealed_shared.json`: shared seals (SPEC.md §15.1), one body and a part per recipient, with
//! every intermediate value, each recipient opening its own part, and the opens and seals that
//! must be refused.

use hush_crypto::primitives::{aead_seal, hkdf_sha256, hmac_sha256, x25519, x25519_base};
use hush_crypto::sealed::{
    MAX_SHARED_PART_LEN, MAX_SHARED_RECIPIENTS, SHARED_BODY_HEADER_LEN, SHARED_BODY_OVERHEAD,
    SHARED_MESSAGE_INFO, SHARED_SEAL_VERSION, SHARED_SECRET_INFO, SHARED_WRAP_INFO, SealError, seal_shared,
};
use hush_crypto::{Account, IdentityKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::rng::{Recorder, throwaway};
use crate::util::{NOW, hex, variant, with_seal_error};

pub const DESCRIPTION: &str = "Shared seals (SPEC.md §15.1): one body for many recipients plus a 49-byte \
    part each. r = draw(32) (after the recipient list's checks); M = HKDF(salt r, SHA-256(plaintext), \
    \"Hush_v1_SharedSecret\", 32); e || body_key || body_nonce = HKDF(zero salt, M, \"Hush_v1_SharedMessage\", \
    76), E = X25519_base(e); body = 0x03 || E || AES-256-GCM(body_key, body_nonce, 0x03 || E, plaintext). Per \
    recipient R (Ed25519 identity, its X25519 form in the DH): pad || mac_key = HKDF(zero salt, X25519(e, R), \
    \"Hush_v1_SharedWrap\" || E || R, 64), wrap = M xor pad, tag = HMAC(mac_key, 0x03 || wrap || \
    SHA-256(body))[0..16], part = 0x03 || wrap || tag; a part's `envelope` is what the relay stores for \
    that recipient (proto/PROTOCOL.md \"Shared sends\": 0xF4 || varint(49) || part || body). Recipient accounts come from `pool_seeds` \
    (Account::hazmat_from_seed); `cases` list the pool indices they seal for, in order. `refused_opens` are \
    (part, body) pairs open_shared must refuse for the account with seed `opened_by_seed` (`other_seed` is \
    in no case), with the error variant (and the key error for Key); ephemeral_mismatch_by_hand and \
    body_unauthenticated_by_hand are made from the primitives with `hand_ephemeral_secret` and \
    `hand_message_secret` (see each case's `made_by`). `refused_seals` are recipient lists (pool indices) \
    seal_shared refuses, drawing nothing.";

const POOL: usize = 6;

// A part must fit the relay's bound on a delivery's part.
const _: () = assert!(MAX_SHARED_PART_LEN <= hush_proto::MAX_SHARED_PART_LEN);

/// A refused open: name, opener's seed, part, body, how it was made (empty: see the name).
type RefusedOpen<'a> = (&'a str, [u8; 32], Vec<u8>, Vec<u8>, &'a str);

fn account(seed: [u8; 32]) -> Account {
    Account::hazmat_from_seed(seed, NOW, &mut throwaway())
}

fn x25519_of(identity: &IdentityKey) -> [u8; 32] {
    identity.to_curve25519().expect("valid identity").to_bytes()
}

fn split<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().expect("fixed width")
}

/// Seal step 4: (e, body_key, body_nonce) from M.
fn message_keys(message_secret: &[u8; 32]) -> ([u8; 32], [u8; 32], [u8; 12]) {
    let mut okm = [0u8; 76];
    hkdf_sha256(None, message_secret, SHARED_MESSAGE_INFO, &mut okm).expect("76 bytes");
    (split(&okm[..32]), split(&okm[32..64]), split(&okm[64..]))
}

/// Seal step 6 for one recipient, every value by its vector name; the part is `"part"`.
fn recipient_part(
    ephemeral_secret: &[u8; 32],
    message_secret: &[u8; 32],
    body_sha256: &[u8],
    recipient: &IdentityKey,
) -> Value {
    let ephemeral = x25519_base(ephemeral_secret);
    let shared = x25519(ephemeral_secret, &x25519_of(recipient)).expect("dh");
    let info = [SHARED_WRAP_INFO, &ephemeral, recipient.as_bytes()].concat();
    let mut okm = [0u8; 64];
    hkdf_sha256(None, &shared, &info, &mut okm).expect("64 bytes");
    let wrap: Vec<u8> = message_secret
        .iter()
        .zip(&okm[..32])
        .map(|(m, p)| m ^ p)
        .collect();
    let head = [[SHARED_SEAL_VERSION].as_slice(), &wrap].concat();
    let tag = hmac_sha256(&okm[32..], &[head.as_slice(), body_sha256].concat());
    let part = [head.as_slice(), &tag[..16]].concat();
    json!({
        "identity": hex(recipient.as_bytes()),
        "x25519_public": hex(&x25519_of(recipient)),
        "ephemeral_shared_secret": hex(&shared),
        "wrap_hkdf_info": hex(&info),
        "pad": hex(&okm[..32]),
        "mac_key": hex(&okm[32..]),
        "wrap": hex(&wrap),
        "tag": hex(&tag[..16]),
        "part": hex(&part),
    })
}

/// A pair made from the primitives for one of the refusals `open_shared` meets only from a
/// sealer: the body under `ephemeral_secret` and the keys of `body_secret`, the part wrapping
/// `wrapped`, tagged as whoever knows the ephemeral secret can; the plaintext is `"plaintext"`.
struct HandMade {
    ephemeral_secret: [u8; 32],
    body_secret: [u8; 32],
    wrapped: [u8; 32],
}

impl HandMade {
    /// (part, body) for `recipient`.
    fn pair(&self, recipient: &IdentityKey) -> (Vec<u8>, Vec<u8>) {
        let (_, key, nonce) = message_keys(&self.body_secret);
        let header = [
            [SHARED_SEAL_VERSION].as_slice(),
            &x25519_base(&self.ephemeral_secret),
        ]
        .concat();
        let body = [
            header.clone(),
            aead_seal(&key, &nonce, &header, b"plaintext").expect("seal"),
        ]
        .concat();
        let part = recipient_part(
            &self.ephemeral_secret,
            &self.wrapped,
            &Sha256::digest(&body),
            recipient,
        );
        (unhex_field(&part["part"]), body)
    }
}

/// What the relay stores for one recipient of a `SendShared` (proto/PROTOCOL.md "Shared sends").
fn envelope(part: &[u8], body: &[u8]) -> Vec<u8> {
    let part = hush_proto::SharedPart::new(part.to_vec()).expect("a part fits the relay's bound");
    let body = hush_proto::SharedBody::new(body.to_vec()).expect("a short body fits");
    hush_proto::shared_envelope(&part, &body).as_bytes().to_vec()
}

fn unhex_field(value: &Value) -> Vec<u8> {
    crate::util::unhex(value.as_str().expect("hex"))
}

pub fn generate(rng: &mut Recorder) -> Value {
    let pool_seeds: Vec<[u8; 32]> = (0..POOL).map(|_| rng.input::<32>()).collect();
    let pool: Vec<IdentityKey> = pool_seeds
        .iter()
        .map(|seed| account(*seed).identity_key())
        .collect();
    let specs: [(&str, Vec<usize>, Vec<u8>); 3] = [
        ("one_recipient_empty_plaintext", vec![0], Vec::new()),
        (
            "three_recipients_text",
            vec![0, 1, 2],
            b"a sender-key message would go here".to_vec(),
        ),
        (
            "five_recipients_long",
            vec![3, 0, 4, 1, 5],
            (0..300u32).map(|i| (i * 11 + 5) as u8).collect(),
        ),
    ];
    let mut cases = Vec::new();
    for (name, members, plaintext) in &specs {
        cases.push(case(rng, name, members, plaintext, &pool, &pool_seeds));
    }
    let other_seed = rng.input::<32>();
    let hand_ephemeral_secret = rng.input::<32>();
    let hand_message_secret = rng.input::<32>();
    let hand = Hand {
        ephemeral_secret: hand_ephemeral_secret,
        message_secret: hand_message_secret,
    };
    json!({
        "part_len": MAX_SHARED_PART_LEN,
        "body_overhead": SHARED_BODY_OVERHEAD,
        "max_recipients": MAX_SHARED_RECIPIENTS,
        "pool_seeds": pool_seeds.iter().map(|seed| hex(seed)).collect::<Vec<_>>(),
        "pool_identities": pool.iter().map(|key| hex(key.as_bytes())).collect::<Vec<_>>(),
        "cases": cases,
        "other_seed": hex(&other_seed),
        "other_identity": hex(account(other_seed).identity_key().as_bytes()),
        "hand_ephemeral_secret": hex(&hand_ephemeral_secret),
        "hand_message_secret": hex(&hand_message_secret),
        "refused_opens": refused_opens(&cases, &pool_seeds, other_seed, &hand),
        "refused_seals": refused_seals(rng, &pool),
    })
}

fn case(
    rng: &mut Recorder,
    name: &str,
    members: &[usize],
    plaintext: &[u8],
    pool: &[IdentityKey],
    pool_seeds: &[[u8; 32]],
) -> Value {
    let recipients: Vec<IdentityKey> = members.iter().map(|&i| pool[i]).collect();
    let seal = seal_shared(&recipients, plaintext, rng).expect("seal");
    let random: [u8; 32] = rng.take().try_into().expect("seal_shared draws 32 bytes");

    // Every intermediate value from the primitives must give the same body and parts.
    let plaintext_sha256 = Sha256::digest(plaintext);
    let mut message_secret = [0u8; 32];
    hkdf_sha256(
        Some(&random),
        &plaintext_sha256,
        SHARED_SECRET_INFO,
        &mut message_secret,
    )
    .expect("32 bytes");
    let (ephemeral_secret, body_key, body_nonce) = message_keys(&message_secret);
    let ephemeral = x25519_base(&ephemeral_secret);
    let header = [[SHARED_SEAL_VERSION].as_slice(), &ephemeral].concat();
    let body = [
        header.clone(),
        aead_seal(&body_key, &body_nonce, &header, plaintext).expect("seal"),
    ]
    .concat();
    assert_eq!(
        seal.body, body,
        "{name}: body differs from the documented construction"
    );
    assert_eq!(body.len(), SHARED_BODY_OVERHEAD + plaintext.len());
    let body_sha256 = Sha256::digest(&body);
    let parts: Vec<Value> = members
        .iter()
        .zip(&seal.parts)
        .map(|(&index, part)| {
            let mut entry = recipient_part(&ephemeral_secret, &message_secret, &body_sha256, &pool[index]);
            assert_eq!(
                unhex_field(&entry["part"]),
                *part,
                "{name}: part differs from the documented construction"
            );
            assert_eq!(part.len(), MAX_SHARED_PART_LEN);
            let opened = account(pool_seeds[index])
                .open_shared(part, &seal.body)
                .expect("each recipient opens its part");
            assert_eq!(opened, plaintext);
            entry["pool_index"] = json!(index);
            entry["opened"] = json!(hex(&opened));
            entry["envelope"] = json!(hex(&envelope(part, &seal.body)));
            entry
        })
        .collect();
    let mut out = json!({"name": name, "recipients": members, "parts": parts});
    let fields: [(&str, &[u8]); 11] = [
        ("plaintext", plaintext),
        ("random", &random),
        ("plaintext_sha256", &plaintext_sha256),
        ("message_secret", &message_secret),
        ("ephemeral_secret", &ephemeral_secret),
        ("body_key", &body_key),
        ("body_nonce", &body_nonce),
        ("ephemeral_public", &ephemeral),
        ("body_associated_data", &header),
        ("body", &body),
        ("body_sha256", &body_sha256),
    ];
    for (field, bytes) in fields {
        out[field] = json!(hex(bytes));
    }
    out
}

/// The secrets of the two refusals made by hand.
struct Hand {
    ephemeral_secret: [u8; 32],
    message_secret: [u8; 32],
}

/// The refused opens, each given to `open_shared` of the account `opened_by_seed`.
fn refused_opens(cases: &[Value], pool_seeds: &[[u8; 32]], other_seed: [u8; 32], hand: &Hand) -> Vec<Value> {
    let text = &cases[1];
    let part_of = |case: &Value, i: usize| unhex_field(&case["parts"][i]["part"]);
    let (part, body) = (part_of(text, 0), unhex_field(&text["body"]));
    let opener = pool_seeds[0];
    let recipient = account(opener).identity_key();
    let flip = |bytes: &[u8], at: usize, mask: u8| {
        let mut out = bytes.to_vec();
        out[at] ^= mask;
        out
    };
    let set = |bytes: &[u8], at: usize, value: &[u8]| {
        let mut out = bytes.to_vec();
        out[at..at + value.len()].copy_from_slice(value);
        out
    };
    let mut non_canonical = [0xff; 32];
    non_canonical[31] = 0x7f;
    let (mismatch_part, mismatch_body) = HandMade {
        ephemeral_secret: hand.ephemeral_secret,
        body_secret: hand.message_secret,
        wrapped: hand.message_secret,
    }
    .pair(&recipient);
    let (unauthenticated_part, unauthenticated_body) = HandMade {
        ephemeral_secret: message_keys(&hand.message_secret).0,
        body_secret: hand.ephemeral_secret,
        wrapped: hand.message_secret,
    }
    .pair(&recipient);
    let end = body.len();
    let list: Vec<RefusedOpen> = vec![
        ("part_empty", opener, Vec::new(), body.clone(), ""),
        (
            "part_truncated_by_one",
            opener,
            part[..MAX_SHARED_PART_LEN - 1].to_vec(),
            body.clone(),
            "",
        ),
        (
            "part_extended_by_one",
            opener,
            [part.as_slice(), &[0]].concat(),
            body.clone(),
            "",
        ),
        (
            "part_short_and_body_short",
            opener,
            part[..1].to_vec(),
            body[..1].to_vec(),
            "",
        ),
        ("part_version_0", opener, set(&part, 0, &[0]), body.clone(), ""),
        (
            "part_version_2_sealed_sender",
            opener,
            set(&part, 0, &[2]),
            body.clone(),
            "",
        ),
        (
            "part_version_255",
            opener,
            set(&part, 0, &[0xff]),
            body.clone(),
            "",
        ),
        (
            "part_bad_version_and_body_short",
            opener,
            set(&part, 0, &[2]),
            Vec::new(),
            "",
        ),
        ("body_empty", opener, part.clone(), Vec::new(), ""),
        (
            "body_one_under_overhead",
            opener,
            part.clone(),
            body[..SHARED_BODY_OVERHEAD - 1].to_vec(),
            "",
        ),
        ("body_version_2", opener, part.clone(), set(&body, 0, &[2]), ""),
        (
            "flipped_wrap_first_byte",
            opener,
            flip(&part, 1, 0x01),
            body.clone(),
            "",
        ),
        (
            "flipped_wrap_last_byte",
            opener,
            flip(&part, 32, 0x80),
            body.clone(),
            "",
        ),
        (
            "flipped_tag_first_byte",
            opener,
            flip(&part, 33, 0x01),
            body.clone(),
            "",
        ),
        (
            "flipped_tag_last_byte",
            opener,
            flip(&part, MAX_SHARED_PART_LEN - 1, 0x01),
            body.clone(),
            "",
        ),
        (
            "flipped_ephemeral_key_byte",
            opener,
            part.clone(),
            flip(&body, 1, 0x02),
            "",
        ),
        (
            "flipped_body_ciphertext_byte",
            opener,
            part.clone(),
            flip(&body, SHARED_BODY_HEADER_LEN, 0x01),
            "",
        ),
        (
            "flipped_body_tag_byte",
            opener,
            part.clone(),
            flip(&body, end - 1, 0x01),
            "",
        ),
        (
            "body_truncated_by_one",
            opener,
            part.clone(),
            body[..end - 1].to_vec(),
            "",
        ),
        (
            "body_extended_by_one",
            opener,
            part.clone(),
            [body.as_slice(), &[0]].concat(),
            "",
        ),
        (
            "ephemeral_low_order_zero",
            opener,
            part.clone(),
            set(&body, 1, &[0; 32]),
            "",
        ),
        (
            "ephemeral_non_canonical",
            opener,
            part.clone(),
            set(&body, 1, &non_canonical),
            "",
        ),
        (
            "ephemeral_top_bit_set",
            opener,
            part.clone(),
            flip(&body, 32, 0x80),
            "",
        ),
        (
            "part_of_another_recipient",
            opener,
            part_of(text, 1),
            body.clone(),
            "",
        ),
        (
            "opened_by_a_non_recipient",
            other_seed,
            part.clone(),
            body.clone(),
            "",
        ),
        (
            "part_with_another_seals_body",
            opener,
            part.clone(),
            unhex_field(&cases[0]["body"]),
            "",
        ),
        (
            "ephemeral_mismatch_by_hand",
            opener,
            mismatch_part,
            mismatch_body,
            "ephemeral secret hand_ephemeral_secret; body under the keys of hand_message_secret; the part \
             wraps hand_message_secret (which gives another ephemeral key); plaintext \"plaintext\"",
        ),
        (
            "body_unauthenticated_by_hand",
            opener,
            unauthenticated_part,
            unauthenticated_body,
            "ephemeral secret derived from hand_message_secret; body under the keys of \
             hand_ephemeral_secret taken as a message secret; the part wraps hand_message_secret; plaintext \
             \"plaintext\"",
        ),
    ];
    list.into_iter()
        .map(|(name, seed, part, body, made_by)| {
            let error = account(seed).open_shared(&part, &body).expect_err(name);
            let case = json!({
                "name": name,
                "opened_by": if seed == other_seed { "other" } else { "pool_0" },
                "opened_by_seed": hex(&seed),
                "part": hex(&part),
                "body": hex(&body),
            });
            let mut out = with_seal_error(case, &error);
            if !made_by.is_empty() {
                out["made_by"] = json!(made_by);
            }
            out
        })
        .collect()
}

/// Recipient lists seal_shared refuses before drawing.
fn refused_seals(rng: &mut Recorder, pool: &[IdentityKey]) -> Vec<Value> {
    let over: Vec<usize> = (0..=MAX_SHARED_RECIPIENTS).map(|i| i % POOL).collect();
    let lists: [(&str, Vec<usize>); 4] = [
        ("empty", Vec::new()),
        ("one_over_the_limit", over),
        ("repeat_at_2", vec![0, 1, 0]),
        ("repeat_at_1", vec![2, 2, 3]),
    ];
    lists
        .into_iter()
        .map(|(name, members)| {
            let recipients: Vec<IdentityKey> = members.iter().map(|&i| pool[i]).collect();
            let error = seal_shared(&recipients, b"x", rng).expect_err(name);
            assert!(rng.take().is_empty(), "{name}: a refused seal drew");
            let mut out = json!({"name": name, "recipients": members, "error": variant(&error)});
            match error {
                SealError::TooManyRecipients { count } => out["count"] = json!(count),
                SealError::DuplicateRecipient { index } => out["index"] = json!(index),
                _ => {}
            }
            out
        })
        .collect()
}
