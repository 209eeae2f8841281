//! Encrypted, versioned saved state.
//!
//! Layout: `u8 version (1) || u8 kind || nonce (12) || AES-256-GCM(key, nonce,
//! ad = "Hush_v1_Pickle" || version || kind, postcard(value))`. The nonce is synthetic (see
//! [`synthetic_nonce`]), so a repeated RNG stream never puts one nonce on two different pickles.

use rand_core::CryptoRng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::PickleError;
use crate::primitives::{self, AEAD_NONCE_LEN};

/// Version of the pickle envelope and of the pickle types inside it.
pub const PICKLE_VERSION: u8 = 1;
const PICKLE_LABEL: &[u8] = b"Hush_v1_Pickle";
/// HKDF info of the key the synthetic nonce is made under (a subkey, so the pickle key itself
/// only ever keys AES-GCM and HKDF-Extract).
const NONCE_KEY_INFO: &[u8] = b"Hush_v1_PickleNonceKey";
/// HMAC label of the synthetic nonce.
const NONCE_LABEL: &[u8] = b"Hush_v1_PickleNonce";

pub(crate) const KIND_ACCOUNT: u8 = 1;
pub(crate) const KIND_SESSION: u8 = 2;
pub(crate) const KIND_GROUP_SENDER: u8 = 3;
pub(crate) const KIND_GROUP_RECEIVER: u8 = 4;
pub(crate) const KIND_PEER_SESSIONS: u8 = 5;
/// An account holding KEM prekeys: `(account, KEM prekeys)` (SPEC.md §11).
pub(crate) const KIND_ACCOUNT_PQ: u8 = 6;
/// A session still repeating a PQXDH header: `(session, KEM header)`.
pub(crate) const KIND_SESSION_PQ: u8 = 7;
/// Peer sessions of which one or more repeat a PQXDH header: `(sessions, KEM header per session)`.
pub(crate) const KIND_PEER_SESSIONS_PQ: u8 = 8;
/// An account key's seed on a holder device (SPEC.md §16.8).
pub(crate) const KIND_ACCOUNT_KEY: u8 = 9;
/// A new device's pending link request (SPEC.md §16.8).
pub(crate) const KIND_LINK_REQUEST: u8 = 10;

/// A 32-byte key that encrypts pickles. Wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PickleKey(Box<[u8; 32]>);

impl PickleKey {
    /// Wraps key bytes supplied by the application (for example from its keystore).
    pub fn new(bytes: [u8; 32]) -> Self {
        let boxed = Box::new(bytes);
        // `bytes` is a copy on our stack: wipe it so only the boxed key remains.
        let mut bytes = bytes;
        bytes.zeroize();
        Self(boxed)
    }
}

impl core::fmt::Debug for PickleKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PickleKey(..)")
    }
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain structs into a Vec cannot fail with postcard.
    postcard::to_allocvec(value).unwrap_or_default()
}

fn associated_data(kind: u8) -> Vec<u8> {
    let mut ad = PICKLE_LABEL.to_vec();
    ad.extend_from_slice(&[PICKLE_VERSION, kind]);
    ad
}

pub(crate) fn seal<T: Serialize>(
    kind: u8,
    key: &PickleKey,
    value: &T,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Vec<u8> {
    let mut plaintext = encode(value);
    let mut random = [0u8; AEAD_NONCE_LEN];
    rng.fill_bytes(&mut random);
    let nonce = synthetic_nonce(key, kind, &random, &plaintext);
    // Pickles are far below AES-GCM's length limit.
    let ciphertext =
        primitives::aead_seal(&key.0, &nonce, &associated_data(kind), &plaintext).unwrap_or_default();
    plaintext.zeroize();
    let mut out = Vec::with_capacity(2 + AEAD_NONCE_LEN + ciphertext.len());
    out.extend_from_slice(&[PICKLE_VERSION, kind]);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// `HMAC(nonce_key, "Hush_v1_PickleNonce" || version || kind || random[12] || plaintext)[0..12]`
/// with `nonce_key = HKDF(zero salt, pickle key, "Hush_v1_PickleNonceKey", 32)`.
///
/// A raw random nonce repeats when the RNG stream does (a restored VM snapshot, a fork), and one
/// pickle key with one nonce on two different pickles breaks AES-GCM. Mixing in the plaintext
/// leaves a repeated RNG revealing at most that two pickles are equal. Opening reads the nonce
/// from the envelope, so pickles sealed with random nonces still open.
fn synthetic_nonce(
    key: &PickleKey,
    kind: u8,
    random: &[u8; AEAD_NONCE_LEN],
    plaintext: &[u8],
) -> [u8; AEAD_NONCE_LEN] {
    let mut nonce_key = [0u8; 32];
    // 32 bytes is far below HKDF's limit, so this cannot fail.
    let _ = primitives::hkdf_sha256(None, key.0.as_slice(), NONCE_KEY_INFO, &mut nonce_key);
    let mut mac = primitives::hmac_sha256_concat(
        &nonce_key,
        &[NONCE_LABEL, &[PICKLE_VERSION, kind], random, plaintext],
    );
    nonce_key.zeroize();
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    nonce.copy_from_slice(&mac[..AEAD_NONCE_LEN]);
    mac.zeroize();
    nonce
}

pub(crate) fn open<T: DeserializeOwned>(kind: u8, key: &PickleKey, bytes: &[u8]) -> Result<T, PickleError> {
    let [version, found_kind, rest @ ..] = bytes else {
        return Err(PickleError::Truncated);
    };
    if *version != PICKLE_VERSION {
        return Err(PickleError::UnsupportedVersion { found: *version });
    }
    if *found_kind != kind {
        return Err(PickleError::Malformed);
    }
    if rest.len() < AEAD_NONCE_LEN {
        return Err(PickleError::Truncated);
    }
    let (nonce, ciphertext) = rest.split_at(AEAD_NONCE_LEN);
    let mut nonce_bytes = [0u8; AEAD_NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    let mut plaintext = primitives::aead_open(&key.0, &nonce_bytes, &associated_data(kind), ciphertext)
        .map_err(|_| PickleError::Unauthenticated)?;
    let value = postcard::from_bytes(&plaintext).map_err(|_| PickleError::Malformed);
    plaintext.zeroize();
    value
}

/// The plaintext of `value`, or of `(value, extension)` when there is one: the classical state
/// keeps its old kind and bytes, post-quantum additions travel beside it under a new kind.
pub(crate) fn encode_extended<T: Serialize, E: Serialize>(value: &T, extension: Option<&E>) -> Vec<u8> {
    match extension {
        None => encode(value),
        Some(extension) => encode(&(value, extension)),
    }
}

/// Seals `value` under `kind`, or `(value, extension)` under `extended_kind`.
pub(crate) fn seal_extended<T: Serialize, E: Serialize>(
    (kind, extended_kind): (u8, u8),
    key: &PickleKey,
    value: &T,
    extension: Option<&E>,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Vec<u8> {
    match extension {
        None => seal(kind, key, value, rng),
        Some(extension) => seal(extended_kind, key, &(value, extension), rng),
    }
}

/// Opens a pickle sealed by [`seal_extended`] under either kind.
pub(crate) fn open_extended<T: DeserializeOwned, E: DeserializeOwned>(
    (kind, extended_kind): (u8, u8),
    key: &PickleKey,
    bytes: &[u8],
) -> Result<(T, Option<E>), PickleError> {
    if bytes.get(1) == Some(&extended_kind) {
        let (value, extension) = open::<(T, E)>(extended_kind, key, bytes)?;
        Ok((value, Some(extension)))
    } else {
        open(kind, key, bytes).map(|value| (value, None))
    }
}

/// Decodes a plaintext pickle encoding (as made by `to_plaintext_bytes`); for fuzzing and tests.
pub fn decode_plaintext<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PickleError> {
    postcard::from_bytes(bytes).map_err(|_| PickleError::Malformed)
}

/// `encrypt`, `from_encrypted`, `to_plaintext_bytes` and a `Debug` that prints nothing of the
/// contents, for a pickle type sealed under `kind`.
macro_rules! pickle_envelope {
    ($ty:ty, $kind:expr) => {
        impl $ty {
            /// Encrypts the pickle under `key`.
            pub fn encrypt(&self, key: &PickleKey, rng: &mut (impl CryptoRng + ?Sized)) -> Vec<u8> {
                pickle::seal($kind, key, self, rng)
            }

            /// Decrypts and decodes a pickle made by `encrypt`.
            pub fn from_encrypted(key: &PickleKey, bytes: &[u8]) -> Result<Self, PickleError> {
                pickle::open($kind, key, bytes)
            }

            /// The plaintext encoding (postcard), deterministic: equal states give equal bytes.
            pub fn to_plaintext_bytes(&self) -> Vec<u8> {
                pickle::encode(self)
            }
        }

        impl core::fmt::Debug for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($ty), "(..)"))
            }
        }
    };
}

pub(crate) use pickle_envelope;
