//! Symmetric-key ratchet steps: KDF_CK, KDF_RK and the message-key expansion.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::keys::Secret32;
use crate::messages::SALT_LEN;
use crate::primitives::{self, AEAD_KEY_LEN, AEAD_NONCE_LEN};

/// HKDF info of KDF_RK.
pub const RATCHET_INFO: &[u8] = b"Hush_v1_Ratchet";
/// HKDF info of the message-key expansion.
pub const MESSAGE_KEYS_INFO: &[u8] = b"Hush_v1_MessageKeys";

/// HMAC label of the synthetic salt of a pairwise message.
pub const SALT_LABEL: &[u8] = b"Hush_v1_Salt";

/// A chain key. `next` is KDF_CK: `mk = HMAC(ck, 0x01)`, `ck' = HMAC(ck, 0x02)`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct ChainKey(pub(crate) Secret32);

impl ChainKey {
    pub(crate) fn next(&self) -> (MessageKey, ChainKey) {
        let (message_key, chain_key) = primitives::hmac_sha256_pair(self.0.bytes(), &[0x01], &[0x02]);
        (
            MessageKey(Secret32::new(message_key)),
            ChainKey(Secret32::new(chain_key)),
        )
    }
}

/// A message key, used for exactly one message.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct MessageKey(pub(crate) Secret32);

/// AES-256-GCM key and nonce for one message.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct AeadKeys {
    pub(crate) key: [u8; AEAD_KEY_LEN],
    pub(crate) nonce: [u8; AEAD_NONCE_LEN],
}

impl MessageKey {
    /// `HKDF-SHA256(salt = message salt, ikm = mk, info)` into key (32) || nonce (12). The salt
    /// (see [`MessageKey::synthetic_salt`]) makes a restored (rolled-back) state encrypt under fresh
    /// keys, so no (key, nonce) pair ever protects two different plaintexts.
    pub(crate) fn expand(&self, salt: &[u8; SALT_LEN], info: &[u8]) -> AeadKeys {
        expand_message_key(self.0.bytes(), salt, info)
    }
}

impl MessageKey {
    /// The synthetic per-message salt: `HMAC(mk, label || random[16] || plaintext)[0..16]`.
    ///
    /// A fresh `random` alone would repeat if the RNG stream repeats (a restored VM snapshot, a
    /// fork): the same message key and salt would then give the same AES-GCM key and nonce for a
    /// different plaintext. Mixing in the plaintext makes a repeated RNG reveal at most that two
    /// plaintexts are equal. The label and the fixed-width `random` keep the input unambiguous.
    pub(crate) fn synthetic_salt(
        &self,
        label: &[u8],
        random: &[u8; SALT_LEN],
        plaintext: &[u8],
    ) -> [u8; SALT_LEN] {
        synthetic_salt(self.0.bytes(), label, random, plaintext)
    }
}

pub(crate) fn synthetic_salt(
    message_key: &[u8; 32],
    label: &[u8],
    random: &[u8; SALT_LEN],
    plaintext: &[u8],
) -> [u8; SALT_LEN] {
    let mut mac = primitives::hmac_sha256_concat(message_key, &[label, random, plaintext]);
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&mac[..SALT_LEN]);
    mac.zeroize();
    salt
}

pub(crate) fn expand_message_key(ikm: &[u8; 32], salt: &[u8; SALT_LEN], info: &[u8]) -> AeadKeys {
    hkdf_aead_keys(Some(salt), ikm, info)
}

/// `HKDF-SHA256(salt, ikm, info)` into an AES-256 key (32) || GCM nonce (12).
pub(crate) fn hkdf_aead_keys(salt: Option<&[u8]>, ikm: &[u8], info: &[u8]) -> AeadKeys {
    let mut okm = [0u8; AEAD_KEY_LEN + AEAD_NONCE_LEN];
    // 44 bytes is far below HKDF's limit, so this cannot fail.
    let _ = primitives::hkdf_sha256(salt, ikm, info, &mut okm);
    let mut keys = AeadKeys {
        key: [0; AEAD_KEY_LEN],
        nonce: [0; AEAD_NONCE_LEN],
    };
    let (key, nonce) = okm.split_at(AEAD_KEY_LEN);
    keys.key.copy_from_slice(key);
    keys.nonce.copy_from_slice(nonce);
    okm.zeroize();
    keys
}

/// KDF_RK: `HKDF-SHA256(salt = rk, ikm = dh_out, info = "Hush_v1_Ratchet")` into
/// new root key (32) || chain key (32).
pub(crate) fn kdf_rk(root_key: &Secret32, dh_out: &Secret32) -> (Secret32, ChainKey) {
    let mut okm = [0u8; 64];
    // 64 bytes is far below HKDF's limit, so this cannot fail.
    let _ = primitives::hkdf_sha256(Some(root_key.bytes()), dh_out.bytes(), RATCHET_INFO, &mut okm);
    let mut root = [0u8; 32];
    let mut chain = [0u8; 32];
    let (left, right) = okm.split_at(32);
    root.copy_from_slice(left);
    chain.copy_from_slice(right);
    okm.zeroize();
    (Secret32::new(root), ChainKey(Secret32::new(chain)))
}
