//! The exact primitive wrappers every other module uses.
//!
//! Nothing outside this file touches `aes-gcm`, `hkdf`, `hmac` or the dalek crates' DH and
//! signature calls directly, so the Wycheproof and RFC known-answer tests in `tests/` exercise the
//! same code paths the protocol runs.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{AeadError, KeyError};

/// Length of an AES-256-GCM key.
pub const AEAD_KEY_LEN: usize = 32;
/// Length of an AES-GCM nonce (96 bits, the only size Hush uses).
pub const AEAD_NONCE_LEN: usize = 12;
/// Length of the full AES-GCM tag. Truncated tags are never accepted.
pub const AEAD_TAG_LEN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// AES-256-GCM encryption: returns `ciphertext || tag`.
pub fn aead_seal(
    key: &[u8; AEAD_KEY_LEN],
    nonce: &[u8; AEAD_NONCE_LEN],
    associated_data: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, AeadError> {
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
    let mut buffer = Vec::with_capacity(plaintext.len() + AEAD_TAG_LEN);
    buffer.extend_from_slice(plaintext);
    // Fails only for plaintexts over 64 GiB, which every caller's length limit excludes.
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::from(*nonce),
            associated_data,
            buffer.as_mut_slice().into(),
        )
        .map_err(|_| AeadError)?;
    buffer.extend_from_slice(tag.as_slice());
    Ok(buffer)
}

/// AES-256-GCM decryption of `ciphertext || tag` (the tag must be the full 16 bytes).
///
/// The tag comparison is the constant-time one inside `aes-gcm`.
pub fn aead_open(
    key: &[u8; AEAD_KEY_LEN],
    nonce: &[u8; AEAD_NONCE_LEN],
    associated_data: &[u8],
    ciphertext_and_tag: &[u8],
) -> Result<Vec<u8>, AeadError> {
    let body_len = ciphertext_and_tag
        .len()
        .checked_sub(AEAD_TAG_LEN)
        .ok_or(AeadError)?;
    let (body, tag) = ciphertext_and_tag.split_at(body_len);
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
    let mut buffer = body.to_vec();
    cipher
        .decrypt_inout_detached(
            &Nonce::from(*nonce),
            associated_data,
            buffer.as_mut_slice().into(),
            &Tag::try_from(tag).map_err(|_| AeadError)?,
        )
        .map_err(|_| {
            zeroize::Zeroize::zeroize(&mut buffer);
            AeadError
        })?;
    Ok(buffer)
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac_key_error());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 under `key` of the concatenation of `parts`, without copying them together (the
/// synthetic salts and nonces MAC a whole plaintext).
pub(crate) fn hmac_sha256_concat(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac_key_error());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of two messages under one key: `(HMAC(key, first), HMAC(key, second))`. The key
/// is absorbed once (the inner and outer pad blocks) and the keyed state cloned, which saves two
/// SHA-256 compressions over two [`hmac_sha256`] calls. Used by KDF_CK.
pub(crate) fn hmac_sha256_pair(key: &[u8], first: &[u8], second: &[u8]) -> ([u8; 32], [u8; 32]) {
    let keyed = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac_key_error());
    let mut mac = keyed.clone();
    mac.update(first);
    let first = mac.finalize().into_bytes().into();
    let mut mac = keyed;
    mac.update(second);
    (first, mac.finalize().into_bytes().into())
}

/// Verifies an HMAC-SHA256 tag in constant time. Tags shorter than 32 bytes are rejected.
pub fn hmac_sha256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    if tag.len() != 32 {
        return false;
    }
    ct_eq(&hmac_sha256(key, data), tag)
}

// HMAC accepts keys of any length, so `new_from_slice` cannot fail; this keeps that fact in one
// place without an `unwrap`.
fn unreachable_hmac_key_error() -> HmacSha256 {
    <HmacSha256 as KeyInit>::new(&Default::default())
}

/// HKDF-SHA256 (RFC 5869). `salt = None` means the RFC's all-zero salt.
///
/// Returns an error only if `okm` is longer than 255 * 32 bytes.
pub fn hkdf_sha256(salt: Option<&[u8]>, ikm: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), KeyError> {
    hkdf::Hkdf::<Sha256>::new(salt, ikm)
        .expand(info, okm)
        .map_err(|_| KeyError::KdfLength { requested: okm.len() })
}

/// X25519 (RFC 7748) with Hush's rules: the peer's public key must be canonical and not of low
/// order, and an all-zero shared secret is an error (the contributory check of RFC 7748 §6.1).
pub fn x25519(secret: &[u8; 32], public: &[u8; 32]) -> Result<[u8; 32], KeyError> {
    check_x25519_public(public)?;
    let mut shared = x25519_unchecked(secret, public);
    if bool::from(shared.ct_eq(&[0u8; 32])) {
        zeroize::Zeroize::zeroize(&mut shared);
        return Err(KeyError::NonContributory);
    }
    Ok(shared)
}

/// A peer key as an Edwards point, tagged with its X25519 encoding.
type EdwardsPeer = Option<([u8; 32], curve25519_dalek::EdwardsPoint)>;

std::thread_local! {
    /// The Edwards forms of the last two peer keys this thread did X25519 with (public data
    /// only). The protocol uses a peer key several times in a row: three X3DH DHs with the
    /// initiator's base key, two with the responder's signed prekey on the initiator's side, and
    /// both halves of a DH ratchet step with the new ratchet key.
    static RECENT_PEERS: core::cell::Cell<[EdwardsPeer; 2]> = const { core::cell::Cell::new([None, None]) };
}

/// X25519 as RFC 7748 defines it (`u([clamp(k)] P)`), byte for byte what x25519-dalek's
/// Montgomery ladder gives, computed on the birationally equivalent Edwards curve when the peer
/// key is on the curve: curve25519-dalek's constant-time Edwards multiplication can use its AVX2
/// backend, and the conversion `y = (u - 1) / (u + 1)` is paid once per peer key through
/// [`RECENT_PEERS`]. The maps both ways are exact, `±P` give the same u-coordinate and the
/// clamped scalar is used unreduced on both paths, so the output is identical. A `u` on the twist
/// (no Edwards point; a public fact about a public key) takes the ladder.
fn x25519_unchecked(secret: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
    let mut recent = RECENT_PEERS.get();
    let point = match recent.iter().flatten().find(|(u, _)| u == public) {
        Some((_, point)) => *point,
        None => match curve25519_dalek::MontgomeryPoint(*public).to_edwards(0) {
            Some(point) => {
                recent = [Some((*public, point)), recent[0]];
                RECENT_PEERS.set(recent);
                point
            }
            None => {
                return curve25519_dalek::MontgomeryPoint(*public)
                    .mul_clamped(*secret)
                    .to_bytes();
            }
        },
    };
    let mut product = point.mul_clamped(*secret);
    let shared = product.to_montgomery().to_bytes();
    zeroize::Zeroize::zeroize(&mut product);
    shared
}

/// [`x25519`] of one secret with many peers given as Edwards points of identity keys: for each
/// `A`, byte for byte `x25519(secret, u(A))` with `u(A)` its X25519 form, computed as
/// `u([clamp(secret)] A)` (the equivalence [`x25519_unchecked`] rests on) with one batched
/// inversion for every result, instead of a conversion each way and an inversion per peer.
/// `u(A)` needs no public-key check: an identity key is canonical and not of small order
/// (keys.rs refuses weak keys), so its u-coordinate is canonical and not a low-order point. An
/// all-zero result is `NonContributory`, as in [`x25519`].
pub(crate) fn x25519_edwards_batch(
    secret: &[u8; 32],
    peers: &[curve25519_dalek::EdwardsPoint],
) -> Vec<Result<[u8; 32], KeyError>> {
    let mut products: Vec<curve25519_dalek::EdwardsPoint> =
        peers.iter().map(|peer| peer.mul_clamped(*secret)).collect();
    let mut shared = curve25519_dalek::EdwardsPoint::to_montgomery_batch(&products);
    zeroize::Zeroize::zeroize(&mut products);
    let out = shared
        .iter()
        .map(|point| {
            let bytes = point.to_bytes();
            if bool::from(bytes.ct_eq(&[0u8; 32])) {
                Err(KeyError::NonContributory)
            } else {
                Ok(bytes)
            }
        })
        .collect();
    zeroize::Zeroize::zeroize(&mut shared);
    out
}

/// The X25519 public key for a secret scalar (clamped as RFC 7748 requires).
pub fn x25519_base(secret: &[u8; 32]) -> [u8; 32] {
    let secret = x25519_dalek::StaticSecret::from(*secret);
    x25519_dalek::PublicKey::from(&secret).to_bytes()
}

/// u-coordinates (canonical encodings) of the points of order 1, 2, 4 and 8 on Curve25519 and
/// its twist that have a canonical encoding, as listed by libsodium. Any DH with one of these gives
/// an all-zero or attacker-known result.
const LOW_ORDER_POINTS: [[u8; 32]; 5] = [
    // 0 (order 4)
    [0; 32],
    // 1 (order 1)
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    // 325606250916557431795983626356110631294008115727848805560023387167927233504 (order 8)
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda,
        0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
    ],
    // 39382357235489614581723060781553021112529911719440698176882885853963445705823 (order 8)
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04,
        0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57,
    ],
    // p - 1 (order 2)
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ],
];

/// Checks that `public` is a canonical X25519 u-coordinate (`< 2^255 - 19`, top bit clear) and
/// not a low-order point.
pub fn check_x25519_public(public: &[u8; 32]) -> Result<(), KeyError> {
    if !is_canonical_u(public) {
        return Err(KeyError::NonCanonical);
    }
    let mut low_order = subtle::Choice::from(0u8);
    for point in &LOW_ORDER_POINTS {
        low_order |= point.ct_eq(public);
    }
    if bool::from(low_order) {
        return Err(KeyError::LowOrder);
    }
    Ok(())
}

/// `u < p = 2^255 - 19`, little-endian, with the top bit clear.
fn is_canonical_u(u: &[u8; 32]) -> bool {
    // p = 0x7fff...ffed (little-endian: ed ff .. ff 7f). u >= p iff u[31] == 0x7f, u[1..31] are
    // all 0xff and u[0] >= 0xed, or the top bit is set. Public keys are not secret.
    let [first, middle @ .., last] = u;
    if *last & 0x80 != 0 {
        return false;
    }
    !(*last == 0x7f && middle.iter().all(|b| *b == 0xff) && *first >= 0xed)
}

/// Strict Ed25519 verification (RFC 8032 with the checks of `verify_strict`: canonical `S`, no
/// small-order `R` or public key), so signatures are not malleable.
pub fn ed25519_verify(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Result<(), KeyError> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(public).map_err(|_| KeyError::InvalidEd25519)?;
    ed25519_verify_key(&key, message, signature)
}

/// [`ed25519_verify`] with the public key already decompressed (as [`crate::IdentityKey`] keeps
/// it), which saves a field exponentiation per signature.
pub(crate) fn ed25519_verify_key(
    key: &ed25519_dalek::VerifyingKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), KeyError> {
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    key.verify_strict(message, &signature)
        .map_err(|_| KeyError::BadSignature)
}

/// Ed25519 signature (RFC 8032 §5.1.6). The key is expanded once by its owner and reused.
pub fn ed25519_sign(key: &ed25519_dalek::SigningKey, message: &[u8]) -> [u8; 64] {
    use ed25519_dalek::Signer;
    key.sign(message).to_bytes()
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use rand_core::Rng;

    use super::*;

    /// The reference: x25519-dalek's Montgomery ladder.
    fn ladder(secret: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
        x25519_dalek::StaticSecret::from(*secret)
            .diffie_hellman(&x25519_dalek::PublicKey::from(*public))
            .to_bytes()
    }

    fn unhex(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn x25519_rfc7748_vectors() {
        // RFC 7748 §5.2, both vectors, twice each (the second time from the peer cache).
        let vectors = [
            (
                "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
                "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
            ),
            (
                "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
                "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
            ),
        ];
        for _ in 0..2 {
            for (scalar, u, expected) in vectors {
                assert_eq!(x25519_unchecked(&unhex(scalar), &unhex(u)), unhex(expected));
            }
        }
    }

    #[test]
    fn x25519_edwards_path_matches_the_ladder() {
        let mut rng = rand::rng();
        let mut on_twist = 0;
        for _ in 0..1000 {
            let mut secret = [0u8; 32];
            let mut public = [0u8; 32];
            rng.fill_bytes(&mut secret);
            rng.fill_bytes(&mut public);
            // Arbitrary u: about half on the twist, most with a small-order component.
            public[31] &= 0x7f;
            if curve25519_dalek::MontgomeryPoint(public).to_edwards(0).is_none() {
                on_twist += 1;
            }
            assert_eq!(x25519_unchecked(&secret, &public), ladder(&secret, &public));
            // Honest keys (prime order), each used three times as in X3DH, interleaved with
            // another key so the two-entry cache is exercised.
            let honest = x25519_base(&public);
            let other = x25519_base(&secret);
            for _ in 0..3 {
                rng.fill_bytes(&mut secret);
                assert_eq!(x25519(&secret, &honest).unwrap(), ladder(&secret, &honest));
                assert_eq!(x25519(&secret, &other).unwrap(), ladder(&secret, &other));
            }
        }
        assert!(on_twist > 300 && on_twist < 700, "{on_twist}");
        // Low-order points, including u = p - 1 (the one u the map to Edwards excludes).
        for point in &LOW_ORDER_POINTS {
            let mut secret = [0u8; 32];
            rng.fill_bytes(&mut secret);
            assert_eq!(x25519_unchecked(&secret, point), ladder(&secret, point));
            assert!(x25519(&secret, point).is_err());
        }
    }
}
