//! Sender keys for groups (Signal's construction): each member has a chain key and an Ed25519
//! signing key, hands both to the other members in a [`SenderKeyDistribution`] over pairwise
//! sessions, and then encrypts each group message once, signed.

use std::collections::VecDeque;

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{DecodeError, GroupError, PickleError};
use crate::keys::{IdentityKey, Secret32, SigningKey};
use crate::messages::{MAX_CIPHERTEXT_LEN, MAX_PLAINTEXT_LEN, SALT_LEN};
use crate::pickle::{self, PickleKey, pickle_envelope};
use crate::primitives::{self, AEAD_TAG_LEN};
use crate::ratchet::MAX_SKIP;
use crate::ratchet::chain::{ChainKey, MessageKey};
use crate::wire::{Reader, TYPE_SENDER_KEY_DISTRIBUTION, TYPE_SENDER_KEY_MESSAGE, Writer};

/// HKDF info of the sender-key message-key expansion.
pub const SENDER_KEY_INFO: &[u8] = b"Hush_v1_SenderKey";

/// HMAC label of the synthetic salt of a group message (see
/// [`crate::ratchet`]'s pairwise salt; the same construction under the group message key).
pub const SENDER_KEY_SALT_LABEL: &[u8] = b"Hush_v1_SenderKeySalt";

/// Most skipped message keys a group receiver stores; oldest evicted first. Same reasoning as
/// [`crate::ratchet::MAX_SKIPPED_KEYS`].
pub const MAX_GROUP_SKIPPED_KEYS: usize = 2000;

/// Length of a distribution id (chosen by the sender, for example per group).
pub const DISTRIBUTION_ID_LEN: usize = 16;

const GROUP_HEADER_LEN: usize = 2 + DISTRIBUTION_ID_LEN + 4 + 4 + SALT_LEN;

/// The sender's chain state as handed to a group member over a pairwise session. Holds the
/// chain key: wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SenderKeyDistribution {
    #[zeroize(skip)]
    distribution_id: [u8; DISTRIBUTION_ID_LEN],
    chain_id: u32,
    iteration: u32,
    chain_key: [u8; 32],
    #[zeroize(skip)]
    signing_key: IdentityKey,
}

impl core::fmt::Debug for SenderKeyDistribution {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SenderKeyDistribution")
            .field("chain_id", &self.chain_id)
            .field("iteration", &self.iteration)
            .finish_non_exhaustive()
    }
}

impl SenderKeyDistribution {
    /// Distribution id.
    pub fn distribution_id(&self) -> [u8; DISTRIBUTION_ID_LEN] {
        self.distribution_id
    }

    /// Chain id (new on every rotation).
    pub fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// Encodes: `version || 0x04 || distribution_id (16) || u32 chain_id || u32 iteration ||
    /// chain_key (32) || signing_key (32)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::with_header(TYPE_SENDER_KEY_DISTRIBUTION, 90);
        writer
            .put(&self.distribution_id)
            .u32(self.chain_id)
            .u32(self.iteration)
            .put(&self.chain_key)
            .put(self.signing_key.as_bytes());
        writer.bytes
    }

    /// Decodes a distribution message.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.header(TYPE_SENDER_KEY_DISTRIBUTION)?;
        let distribution = Self {
            distribution_id: reader.array("distribution_id")?,
            chain_id: reader.u32("chain_id")?,
            iteration: reader.u32("iteration")?,
            chain_key: reader.array("chain_key")?,
            signing_key: reader.identity_key("signing_key")?,
        };
        reader.finish()?;
        Ok(distribution)
    }
}

/// One encrypted, signed group message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderKeyMessage {
    distribution_id: [u8; DISTRIBUTION_ID_LEN],
    chain_id: u32,
    iteration: u32,
    salt: [u8; SALT_LEN],
    ciphertext: Vec<u8>,
    signature: [u8; 64],
}

impl SenderKeyMessage {
    /// Distribution id.
    pub fn distribution_id(&self) -> [u8; DISTRIBUTION_ID_LEN] {
        self.distribution_id
    }

    /// Chain id.
    pub fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// Position in the sender's chain.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    fn header_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::with_header(TYPE_SENDER_KEY_MESSAGE, GROUP_HEADER_LEN);
        writer
            .put(&self.distribution_id)
            .u32(self.chain_id)
            .u32(self.iteration)
            .put(&self.salt);
        writer.bytes
    }

    /// The bytes the signature covers: everything before it.
    fn signed_bytes(&self) -> Vec<u8> {
        let mut writer = Writer {
            bytes: self.header_bytes(),
        };
        writer.bytes_u32(&self.ciphertext);
        writer.bytes
    }

    /// Encodes: `version || 0x03 || distribution_id (16) || u32 chain_id || u32 iteration ||
    /// salt (16) || u32 len || ciphertext || signature (64)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.signed_bytes();
        bytes.extend_from_slice(&self.signature);
        bytes
    }

    /// Decodes a group message (the signature is checked when decrypting).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.header(TYPE_SENDER_KEY_MESSAGE)?;
        let message = Self {
            distribution_id: reader.array("distribution_id")?,
            chain_id: reader.u32("chain_id")?,
            iteration: reader.u32("iteration")?,
            salt: reader.array("salt")?,
            ciphertext: reader
                .bytes_u32("ciphertext", AEAD_TAG_LEN, MAX_CIPHERTEXT_LEN)?
                .to_vec(),
            signature: reader.array("signature")?,
        };
        reader.finish()?;
        Ok(message)
    }
}

/// Our own sending chain in one group.
#[derive(Clone)]
pub struct GroupSender {
    distribution_id: [u8; DISTRIBUTION_ID_LEN],
    chain_id: u32,
    iteration: u32,
    chain_key: ChainKey,
    signing: SigningKey,
}

impl core::fmt::Debug for GroupSender {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GroupSender")
            .field("chain_id", &self.chain_id)
            .field("iteration", &self.iteration)
            .finish_non_exhaustive()
    }
}

impl GroupSender {
    /// A new sender chain with a fresh chain key, signing key and random chain id. Rotating the
    /// sender key (after a member leaves) is making a new one.
    pub fn new(distribution_id: [u8; DISTRIBUTION_ID_LEN], rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self {
            distribution_id,
            chain_id: rng.next_u32(),
            iteration: 0,
            chain_key: ChainKey(Secret32::random(rng)),
            signing: SigningKey::generate(rng),
        }
    }

    /// The distribution message for members, starting at the current iteration (new members
    /// cannot read earlier messages).
    pub fn distribution(&self) -> SenderKeyDistribution {
        SenderKeyDistribution {
            distribution_id: self.distribution_id,
            chain_id: self.chain_id,
            iteration: self.iteration,
            chain_key: *self.chain_key.0.bytes(),
            signing_key: self.signing.public(),
        }
    }

    /// Encrypts and signs one group message.
    pub fn encrypt(
        &mut self,
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SenderKeyMessage, GroupError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(GroupError::PlaintextTooLong {
                length: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        let next = self.iteration.checked_add(1).ok_or(GroupError::ChainExhausted)?;
        let (message_key, chain_key) = self.chain_key.next();
        let mut random = [0u8; SALT_LEN];
        rng.fill_bytes(&mut random);
        let salt = message_key.synthetic_salt(SENDER_KEY_SALT_LABEL, &random, plaintext);
        let mut message = SenderKeyMessage {
            distribution_id: self.distribution_id,
            chain_id: self.chain_id,
            iteration: self.iteration,
            salt,
            ciphertext: Vec::new(),
            signature: [0; 64],
        };
        let keys = message_key.expand(&salt, SENDER_KEY_INFO);
        message.ciphertext =
            primitives::aead_seal(&keys.key, &keys.nonce, &message.header_bytes(), plaintext).map_err(
                |_| GroupError::PlaintextTooLong {
                    length: plaintext.len(),
                    max: MAX_PLAINTEXT_LEN,
                },
            )?;
        message.signature = self.signing.sign(&message.signed_bytes());
        self.chain_key = chain_key;
        self.iteration = next;
        Ok(message)
    }

    /// The saved form.
    pub fn pickle(&self) -> GroupSenderPickle {
        GroupSenderPickle {
            distribution_id: self.distribution_id,
            chain_id: self.chain_id,
            iteration: self.iteration,
            chain_key: *self.chain_key.0.bytes(),
            signing_seed: *self.signing.seed().bytes(),
        }
    }

    /// Restores from the saved form.
    pub fn from_pickle(pickle: &GroupSenderPickle) -> Self {
        Self {
            distribution_id: pickle.distribution_id,
            chain_id: pickle.chain_id,
            iteration: pickle.iteration,
            chain_key: ChainKey(Secret32::new(pickle.chain_key)),
            signing: SigningKey::from_seed(&Secret32::new(pickle.signing_seed)),
        }
    }
}

/// Another member's chain as we receive it.
#[derive(Clone)]
pub struct GroupReceiver {
    distribution_id: [u8; DISTRIBUTION_ID_LEN],
    chain_id: u32,
    signing_key: IdentityKey,
    next: u32,
    chain_key: ChainKey,
    /// Iterations below this are unreadable: before the distribution, or evicted.
    evicted_below: u32,
    skipped: VecDeque<(u32, MessageKey)>,
}

impl core::fmt::Debug for GroupReceiver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GroupReceiver")
            .field("chain_id", &self.chain_id)
            .field("next", &self.next)
            .field("skipped", &self.skipped.len())
            .finish_non_exhaustive()
    }
}

impl GroupReceiver {
    /// Starts receiving from a distribution message (received over an authenticated pairwise
    /// session; the caller ties it to that session's peer).
    pub fn from_distribution(distribution: &SenderKeyDistribution) -> Self {
        Self {
            distribution_id: distribution.distribution_id,
            chain_id: distribution.chain_id,
            signing_key: distribution.signing_key,
            next: distribution.iteration,
            chain_key: ChainKey(Secret32::new(distribution.chain_key)),
            evicted_below: distribution.iteration,
            skipped: VecDeque::new(),
        }
    }

    /// Verifies and decrypts one group message. On error the receiver is unchanged.
    pub fn decrypt(&mut self, message: &SenderKeyMessage) -> Result<Vec<u8>, GroupError> {
        if message.distribution_id != self.distribution_id || message.chain_id != self.chain_id {
            return Err(GroupError::WrongChain);
        }
        self.signing_key
            .verify(&message.signed_bytes(), &message.signature)
            .map_err(|_| GroupError::BadSignature)?;
        let iteration = message.iteration;
        if iteration < self.next {
            let Some(position) = self.skipped.iter().position(|(n, _)| *n == iteration) else {
                return Err(if iteration < self.evicted_below {
                    GroupError::MessageKeyEvicted { iteration }
                } else {
                    GroupError::Duplicate { iteration }
                });
            };
            let plaintext = self
                .skipped
                .get(position)
                .map(|(_, key)| open(message, key))
                .ok_or(GroupError::Unauthenticated)??;
            self.skipped.remove(position);
            return Ok(plaintext);
        }
        let gap = iteration - self.next;
        if gap > MAX_SKIP {
            return Err(GroupError::TooManySkipped {
                requested: u64::from(gap),
                max: MAX_SKIP,
            });
        }
        let mut skipped = Vec::with_capacity(gap as usize);
        let mut chain_key = self.chain_key.clone();
        for n in self.next..iteration {
            let (key, next) = chain_key.next();
            skipped.push((n, key));
            chain_key = next;
        }
        let (message_key, chain_key) = chain_key.next();
        let plaintext = open(message, &message_key)?;
        self.chain_key = chain_key;
        self.next = iteration.saturating_add(1);
        self.skipped.extend(skipped);
        while self.skipped.len() > MAX_GROUP_SKIPPED_KEYS {
            if let Some((n, _)) = self.skipped.pop_front() {
                self.evicted_below = n.saturating_add(1);
            }
        }
        Ok(plaintext)
    }

    /// Number of skipped keys held.
    pub fn skipped_key_count(&self) -> usize {
        self.skipped.len()
    }

    /// The saved form.
    pub fn pickle(&self) -> GroupReceiverPickle {
        GroupReceiverPickle {
            distribution_id: self.distribution_id,
            chain_id: self.chain_id,
            signing_key: self.signing_key,
            next: self.next,
            chain_key: *self.chain_key.0.bytes(),
            evicted_below: self.evicted_below,
            skipped: self.skipped.iter().map(|(n, key)| (*n, *key.0.bytes())).collect(),
        }
    }

    /// Restores from the saved form.
    pub fn from_pickle(pickle: &GroupReceiverPickle) -> Result<Self, PickleError> {
        if pickle.skipped.len() > MAX_GROUP_SKIPPED_KEYS {
            return Err(PickleError::Malformed);
        }
        Ok(Self {
            distribution_id: pickle.distribution_id,
            chain_id: pickle.chain_id,
            signing_key: pickle.signing_key,
            next: pickle.next,
            chain_key: ChainKey(Secret32::new(pickle.chain_key)),
            evicted_below: pickle.evicted_below,
            skipped: pickle
                .skipped
                .iter()
                .map(|(n, bytes)| (*n, MessageKey(Secret32::new(*bytes))))
                .collect(),
        })
    }
}

/// The synthetic salt of a group message, `HMAC(mk, "Hush_v1_SenderKeySalt" || random ||
/// plaintext)[0..16]`, for test vectors.
#[cfg(feature = "hazmat")]
pub fn hazmat_sender_key_salt(
    message_key: &[u8; 32],
    random: &[u8; SALT_LEN],
    plaintext: &[u8],
) -> [u8; SALT_LEN] {
    crate::ratchet::chain::synthetic_salt(message_key, SENDER_KEY_SALT_LABEL, random, plaintext)
}

/// The group message-key expansion on raw bytes, for test vectors: `(AES-256 key, GCM nonce)`.
#[cfg(feature = "hazmat")]
pub fn hazmat_expand_sender_key(
    message_key: &[u8; 32],
    salt: &[u8; SALT_LEN],
) -> ([u8; primitives::AEAD_KEY_LEN], [u8; primitives::AEAD_NONCE_LEN]) {
    let keys = crate::ratchet::chain::expand_message_key(message_key, salt, SENDER_KEY_INFO);
    (keys.key, keys.nonce)
}

fn open(message: &SenderKeyMessage, key: &MessageKey) -> Result<Vec<u8>, GroupError> {
    let keys = key.expand(&message.salt, SENDER_KEY_INFO);
    primitives::aead_open(
        &keys.key,
        &keys.nonce,
        &message.header_bytes(),
        &message.ciphertext,
    )
    .map_err(|_| GroupError::Unauthenticated)
}

/// Saved form of a [`GroupSender`] (version 1). Wiped on drop; store it encrypted.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct GroupSenderPickle {
    distribution_id: [u8; DISTRIBUTION_ID_LEN],
    chain_id: u32,
    iteration: u32,
    chain_key: [u8; 32],
    signing_seed: [u8; 32],
}

/// Saved form of a [`GroupReceiver`] (version 1). Wiped on drop; store it encrypted.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct GroupReceiverPickle {
    distribution_id: [u8; DISTRIBUTION_ID_LEN],
    chain_id: u32,
    #[zeroize(skip)]
    signing_key: IdentityKey,
    next: u32,
    chain_key: [u8; 32],
    evicted_below: u32,
    skipped: Vec<(u32, [u8; 32])>,
}

pickle_envelope!(GroupSenderPickle, pickle::KIND_GROUP_SENDER);
pickle_envelope!(GroupReceiverPickle, pickle::KIND_GROUP_RECEIVER);
