//! The Double Ratchet (Signal's specification, revision 4), with AES-256-GCM as the AEAD.
//!
//! Decryption computes every change on the side and commits it only after the AEAD tag
//! verifies, so a forged, replayed or corrupted message leaves the state byte-identical.

pub(crate) mod chain;
mod cost;
pub(crate) mod receiving;

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{DecryptError, EncryptError};
use crate::keys::{Curve25519KeyPair, Curve25519PublicKey, Secret32};
use crate::messages::{Message, SALT_LEN, encode_header};
use crate::primitives;
use chain::{ChainKey, MESSAGE_KEYS_INFO, MessageKey, SALT_LABEL, kdf_rk};
use receiving::{ReceivingChain, ReceivingChainPickle, ReceivingChains};

pub use receiving::{MAX_RECEIVING_CHAINS, MAX_SKIPPED_KEYS};

/// Most message keys one message may make the receiver skip, in its own chain or (via `PN`) in
/// the previous one. A gap this large means thousands of lost messages; a larger one is an attack
/// that would make us derive keys for nothing. vodozemac uses 2,000, libsignal 25,000.
pub const MAX_SKIP: u32 = 2000;

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct SendingChain {
    chain_key: ChainKey,
    next: u32,
}

/// Double Ratchet state of one session.
#[derive(Clone)]
pub(crate) struct Ratchet {
    root_key: Secret32,
    own_ratchet: Curve25519KeyPair,
    sending: Option<SendingChain>,
    previous_sending_length: u32,
    receiving: ReceivingChains,
}

impl Ratchet {
    /// RatchetInitAlice: the initiator starts sending at once against the responder's signed
    /// prekey, which doubles as the responder's first ratchet key.
    pub(crate) fn init_initiator(
        shared_secret: &Secret32,
        remote_ratchet: &Curve25519PublicKey,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Self, crate::error::KeyError> {
        let own_ratchet = Curve25519KeyPair::generate(rng);
        let dh = own_ratchet.diffie_hellman(remote_ratchet)?;
        let (root_key, chain_key) = kdf_rk(shared_secret, &dh);
        Ok(Self {
            root_key,
            own_ratchet,
            sending: Some(SendingChain { chain_key, next: 0 }),
            previous_sending_length: 0,
            receiving: ReceivingChains::default(),
        })
    }

    /// RatchetInitBob: the responder's first ratchet key pair is its signed prekey.
    pub(crate) fn init_responder(shared_secret: &Secret32, signed_prekey: Curve25519KeyPair) -> Self {
        Self {
            root_key: shared_secret.clone(),
            own_ratchet: signed_prekey,
            sending: None,
            previous_sending_length: 0,
            receiving: ReceivingChains::default(),
        }
    }

    /// Encrypts one message. `associated_data` is the session's (see [`aead_associated_data`]).
    pub(crate) fn encrypt(
        &mut self,
        associated_data: &[u8],
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Message, EncryptError> {
        if plaintext.len() > crate::MAX_PLAINTEXT_LEN {
            return Err(EncryptError::PlaintextTooLong {
                length: plaintext.len(),
                max: crate::MAX_PLAINTEXT_LEN,
            });
        }
        // Every session gets a sending chain before it is handed out: the initiator at init, the
        // responder in the DH step of its first decrypt.
        let sending = self.sending.as_mut().ok_or(EncryptError::ChainExhausted)?;
        let counter = sending.next;
        let next = counter.checked_add(1).ok_or(EncryptError::ChainExhausted)?;
        let (message_key, chain_key) = sending.chain_key.next();
        let mut random = [0u8; SALT_LEN];
        rng.fill_bytes(&mut random);
        let salt = message_key.synthetic_salt(SALT_LABEL, &random, plaintext);
        let ratchet_key = self.own_ratchet.public();
        let header = encode_header(&ratchet_key, self.previous_sending_length, counter, &salt);
        let keys = message_key.expand(&salt, MESSAGE_KEYS_INFO);
        let ciphertext = primitives::aead_seal(
            &keys.key,
            &keys.nonce,
            &aead_associated_data(associated_data, &header),
            plaintext,
        )
        .map_err(|_| EncryptError::PlaintextTooLong {
            length: plaintext.len(),
            max: crate::MAX_PLAINTEXT_LEN,
        })?;
        sending.chain_key = chain_key;
        sending.next = next;
        Ok(Message {
            ratchet_key,
            previous_counter: self.previous_sending_length,
            counter,
            salt,
            ciphertext,
        })
    }

    /// Decrypts one message; on any error the state is unchanged.
    pub(crate) fn decrypt(
        &mut self,
        associated_data: &[u8],
        message: &Message,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, DecryptError> {
        let counter = message.counter;
        if let Some(index) = self.receiving.find(&message.ratchet_key) {
            let Some(chain) = self.receiving.get(index) else {
                return Err(DecryptError::Unauthenticated);
            };
            if counter < chain.next {
                let Some(key) = chain.skipped_key(counter) else {
                    return Err(if counter < chain.evicted_below {
                        DecryptError::MessageKeyEvicted { counter }
                    } else {
                        DecryptError::Duplicate { counter }
                    });
                };
                let plaintext = open(associated_data, message, key)?;
                self.receiving.take_skipped(index, counter);
                return Ok(plaintext);
            }
            // A closed chain has no keys past its end: an honest sender never sends there.
            let Some(chain_key) = chain.chain_key.as_ref() else {
                return Err(DecryptError::Unauthenticated);
            };
            let (skipped, message_key, chain_key) = skip(chain_key, chain.next, counter)?;
            let plaintext = open(associated_data, message, &message_key)?;
            self.receiving
                .advance(index, chain_key, counter.saturating_add(1), skipped);
            return Ok(plaintext);
        }
        self.decrypt_with_dh_step(associated_data, message, rng)
    }

    /// A message under a ratchet key we have not seen: the DH ratchet step of the spec, computed
    /// on the side and committed after the tag verifies.
    fn decrypt_with_dh_step(
        &mut self,
        associated_data: &[u8],
        message: &Message,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, DecryptError> {
        // Bound both gaps before deriving a single key.
        let closed = match self.receiving.current() {
            Some(current) if message.previous_counter > current.next => {
                let gap = message.previous_counter - current.next;
                if gap > MAX_SKIP {
                    return Err(DecryptError::TooManySkipped {
                        requested: u64::from(gap),
                        max: MAX_SKIP,
                    });
                }
                current.chain_key.as_ref().map(|key| (key, current.next))
            }
            _ => None,
        };
        if message.counter > MAX_SKIP {
            return Err(DecryptError::TooManySkipped {
                requested: u64::from(message.counter),
                max: MAX_SKIP,
            });
        }
        let closed_skipped = match closed {
            Some((chain_key, next)) => skip(chain_key, next, message.previous_counter)?.0,
            None => Vec::new(),
        };
        let dh = self
            .own_ratchet
            .diffie_hellman(&message.ratchet_key)
            .map_err(DecryptError::BadRatchetKey)?;
        let (root_key, receiving_chain_key) = kdf_rk(&self.root_key, &dh);
        let (skipped, message_key, next_chain_key) = skip(&receiving_chain_key, 0, message.counter)?;
        let plaintext = open(associated_data, message, &message_key)?;

        // Authenticated: now take the sending half of the step, then commit everything.
        let own_ratchet = Curve25519KeyPair::generate(rng);
        let dh = own_ratchet
            .diffie_hellman(&message.ratchet_key)
            .map_err(DecryptError::BadRatchetKey)?;
        let (root_key, sending_chain_key) = kdf_rk(&root_key, &dh);

        self.receiving.step(
            message.previous_counter,
            closed_skipped,
            ReceivingChain {
                ratchet_key: message.ratchet_key,
                chain_key: Some(next_chain_key),
                next: message.counter.saturating_add(1),
                evicted_below: 0,
                skipped: skipped.into(),
            },
        );
        self.previous_sending_length = self.sending.as_ref().map_or(0, |chain| chain.next);
        self.sending = Some(SendingChain {
            chain_key: sending_chain_key,
            next: 0,
        });
        self.own_ratchet = own_ratchet;
        self.root_key = root_key;
        Ok(plaintext)
    }

    pub(crate) fn own_ratchet_key(&self) -> Curve25519PublicKey {
        self.own_ratchet.public()
    }

    pub(crate) fn skipped_key_count(&self) -> usize {
        self.receiving.skipped_total()
    }

    pub(crate) fn receiving_chain_count(&self) -> usize {
        self.receiving.len()
    }

    pub(crate) fn to_pickle(&self) -> RatchetPickle {
        RatchetPickle {
            root_key: *self.root_key.bytes(),
            own_ratchet_secret: *self.own_ratchet.secret().bytes(),
            sending_chain_key: self.sending.as_ref().map(|chain| *chain.chain_key.0.bytes()),
            sending_next: self.sending.as_ref().map_or(0, |chain| chain.next),
            previous_sending_length: self.previous_sending_length,
            receiving: self.receiving.to_pickle(),
        }
    }

    pub(crate) fn from_pickle(pickle: &RatchetPickle) -> Option<Self> {
        Some(Self {
            root_key: Secret32::new(pickle.root_key),
            own_ratchet: Curve25519KeyPair::from_secret(Secret32::new(pickle.own_ratchet_secret)),
            sending: pickle.sending_chain_key.map(|bytes| SendingChain {
                chain_key: ChainKey(Secret32::new(bytes)),
                next: pickle.sending_next,
            }),
            previous_sending_length: pickle.previous_sending_length,
            receiving: ReceivingChains::from_pickle(&pickle.receiving)?,
        })
    }

    /// Raw keys for test vectors.
    #[cfg(feature = "hazmat")]
    pub(crate) fn hazmat_keys(&self) -> ([u8; 32], [u8; 32], Option<[u8; 32]>) {
        (
            *self.root_key.bytes(),
            *self.own_ratchet.secret().bytes(),
            self.sending.as_ref().map(|chain| *chain.chain_key.0.bytes()),
        )
    }
}

/// Saved form of the ratchet, versioned through the session pickle that contains it.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct RatchetPickle {
    root_key: [u8; 32],
    own_ratchet_secret: [u8; 32],
    sending_chain_key: Option<[u8; 32]>,
    sending_next: u32,
    previous_sending_length: u32,
    receiving: Vec<ReceivingChainPickle>,
}

/// Keys skipped on the way, the message key, and the chain key after it.
type Skipped = (Vec<(u32, MessageKey)>, MessageKey, ChainKey);

/// Derives the keys from `from` up to and including `to` on a copy of the chain: the skipped keys
/// `from..to`, the message key for `to`, and the chain key after it. Bounded by [`MAX_SKIP`]
/// before the first derivation.
fn skip(chain_key: &ChainKey, from: u32, to: u32) -> Result<Skipped, DecryptError> {
    let gap = to.saturating_sub(from);
    if gap > MAX_SKIP {
        return Err(DecryptError::TooManySkipped {
            requested: u64::from(gap),
            max: MAX_SKIP,
        });
    }
    let mut skipped = Vec::with_capacity(gap as usize);
    let mut chain_key = chain_key.clone();
    for counter in from..to {
        let (message_key, next) = chain_key.next();
        skipped.push((counter, message_key));
        chain_key = next;
    }
    let (message_key, next) = chain_key.next();
    Ok((skipped, message_key, next))
}

fn open(associated_data: &[u8], message: &Message, key: &MessageKey) -> Result<Vec<u8>, DecryptError> {
    let keys = key.expand(&message.salt, MESSAGE_KEYS_INFO);
    primitives::aead_open(
        &keys.key,
        &keys.nonce,
        &aead_associated_data(associated_data, &message.header_bytes()),
        &message.ciphertext,
    )
    .map_err(|_| DecryptError::Unauthenticated)
}

/// The AEAD associated data of a message: `u32 len(session_ad) || session_ad || header`. The
/// length prefix keeps the split between the two unambiguous.
pub(crate) fn aead_associated_data(session_ad: &[u8], header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + session_ad.len() + header.len());
    out.extend_from_slice(&u32::try_from(session_ad.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(session_ad);
    out.extend_from_slice(header);
    out
}

/// KDF_RK on raw bytes, for known-answer tests: `(new root key, chain key)`.
#[cfg(feature = "hazmat")]
pub fn hazmat_kdf_rk(root_key: &[u8; 32], dh_out: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let (root, chain) = kdf_rk(&Secret32::new(*root_key), &Secret32::new(*dh_out));
    (*root.bytes(), *chain.0.bytes())
}

/// KDF_CK on raw bytes, for known-answer tests: `(message key, next chain key)`.
#[cfg(feature = "hazmat")]
pub fn hazmat_kdf_ck(chain_key: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let (message_key, next) = ChainKey(Secret32::new(*chain_key)).next();
    (*message_key.0.bytes(), *next.0.bytes())
}

/// The message-key expansion on raw bytes, for known-answer tests: `(AES-256 key, GCM nonce)`.
#[cfg(feature = "hazmat")]
pub fn hazmat_expand_message_key(
    message_key: &[u8; 32],
    salt: &[u8; SALT_LEN],
) -> ([u8; primitives::AEAD_KEY_LEN], [u8; primitives::AEAD_NONCE_LEN]) {
    let keys = chain::expand_message_key(message_key, salt, MESSAGE_KEYS_INFO);
    (keys.key, keys.nonce)
}

/// The synthetic salt of a pairwise message, `HMAC(mk, "Hush_v1_Salt" || random || plaintext)[0..16]`,
/// for test vectors.
#[cfg(feature = "hazmat")]
pub fn hazmat_message_salt(
    message_key: &[u8; 32],
    random: &[u8; SALT_LEN],
    plaintext: &[u8],
) -> [u8; SALT_LEN] {
    chain::synthetic_salt(message_key, SALT_LABEL, random, plaintext)
}

/// The AEAD associated data of a message (`u32 len || session_ad || header`), for test vectors.
#[cfg(feature = "hazmat")]
pub fn hazmat_aead_associated_data(session_ad: &[u8], header: &[u8]) -> Vec<u8> {
    aead_associated_data(session_ad, header)
}
