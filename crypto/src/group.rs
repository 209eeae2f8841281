//! Sender keys for groups (Signal's construction): each member device has a chain key and an
//! Ed25519 signing key, hands both to the other members in a [`SenderKeyDistribution`] over
//! pairwise sessions, and then encrypts each group message once, signed.
//!
//! Unlike Signal's, a chain is bound to its sender: the distribution and every message name the
//! group, the sending device's identity key and the group epoch; a receiver takes a distribution
//! only from the pairwise session of the device it names ([`GroupReceiver::from_distribution`]),
//! keys its chains by sender and distribution id ([`GroupChains`]), and refuses a message whose
//! header names anything else than its chain.

use std::collections::VecDeque;

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{GroupError, PickleError};
use crate::keys::{IdentityKey, Secret32, SigningKey};
use crate::messages::{MAX_PLAINTEXT_LEN, SALT_LEN};
use crate::pickle::{self, PickleKey, pickle_envelope};
use crate::primitives;
use crate::ratchet::MAX_SKIP;
use crate::ratchet::chain::{ChainKey, MessageKey};

mod chains;
mod wire;

pub use chains::{GroupChains, GroupPlaintext, MAX_CHAINS_PER_SENDER};
pub use wire::{
    ChainLabel, DISTRIBUTION_ID_LEN, DISTRIBUTION_LEN, GROUP_HEADER_LEN, GROUP_ID_LEN, SENDER_KEY_VERSION,
    SenderKeyDistribution, SenderKeyMessage,
};

/// HKDF info of the sender-key message-key expansion.
pub const SENDER_KEY_INFO: &[u8] = b"Hush_v1_SenderKey";

/// HMAC label of the synthetic salt of a group message (see
/// [`crate::ratchet`]'s pairwise salt; the same construction under the group message key).
pub const SENDER_KEY_SALT_LABEL: &[u8] = b"Hush_v1_SenderKeySalt";

/// Most skipped message keys a group receiver stores; oldest evicted first. Same reasoning as
/// [`crate::ratchet::MAX_SKIPPED_KEYS`].
pub const MAX_GROUP_SKIPPED_KEYS: usize = 2000;

/// Our own sending chain in one group and epoch.
#[derive(Clone)]
pub struct GroupSender {
    label: ChainLabel,
    iteration: u32,
    chain_key: ChainKey,
    signing: SigningKey,
}

impl core::fmt::Debug for GroupSender {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Only the epoch of the label: the test that no secret prints compares against the whole
        // pickle, label included.
        f.debug_struct("GroupSender")
            .field("epoch", &self.label.epoch)
            .field("iteration", &self.iteration)
            .finish_non_exhaustive()
    }
}

impl GroupSender {
    /// A new sender chain of the device with identity key `sender` in `group_id` at `epoch`,
    /// with a fresh random distribution id, chain key and signing key. Rotating the sender key
    /// (after a member leaves) is making a new one at the new epoch.
    pub fn new(
        group_id: [u8; GROUP_ID_LEN],
        sender: IdentityKey,
        epoch: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Self {
        let mut distribution_id = [0u8; DISTRIBUTION_ID_LEN];
        rng.fill_bytes(&mut distribution_id);
        Self {
            label: ChainLabel {
                group_id,
                sender,
                epoch,
                distribution_id,
            },
            iteration: 0,
            chain_key: ChainKey(Secret32::random(rng)),
            signing: SigningKey::generate(rng),
        }
    }

    /// Group, sender, epoch and distribution id of this chain.
    pub fn label(&self) -> &ChainLabel {
        &self.label
    }

    /// Messages encrypted on this chain so far (the chain position of the next one).
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The distribution message for members, starting at the current iteration (new members
    /// cannot read earlier messages).
    pub fn distribution(&self) -> SenderKeyDistribution {
        SenderKeyDistribution {
            label: self.label,
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
            label: self.label,
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
            label: self.label,
            iteration: self.iteration,
            chain_key: *self.chain_key.0.bytes(),
            signing_seed: *self.signing.seed().bytes(),
        }
    }

    /// Restores from the saved form.
    pub fn from_pickle(pickle: &GroupSenderPickle) -> Self {
        Self {
            label: pickle.label,
            iteration: pickle.iteration,
            chain_key: ChainKey(Secret32::new(pickle.chain_key)),
            signing: SigningKey::from_seed(&Secret32::new(pickle.signing_seed)),
        }
    }
}

/// Another member device's chain as we receive it.
#[derive(Clone)]
pub struct GroupReceiver {
    label: ChainLabel,
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
            .field("label", &self.label)
            .field("next", &self.next)
            .field("skipped", &self.skipped.len())
            .finish_non_exhaustive()
    }
}

impl GroupReceiver {
    /// Starts receiving from a distribution that arrived over the authenticated pairwise session
    /// with the device whose identity key is `session_peer`. A distribution naming any other
    /// sender is refused (`ForwardedDistribution`): a member forwarding another's distribution
    /// as its own cannot get its messages taken for that member's.
    pub fn from_distribution(
        distribution: &SenderKeyDistribution,
        session_peer: &IdentityKey,
    ) -> Result<Self, GroupError> {
        if distribution.label.sender != *session_peer {
            return Err(GroupError::ForwardedDistribution);
        }
        Ok(Self {
            label: distribution.label,
            signing_key: distribution.signing_key,
            next: distribution.iteration,
            chain_key: ChainKey(Secret32::new(distribution.chain_key)),
            evicted_below: distribution.iteration,
            skipped: VecDeque::new(),
        })
    }

    /// Group, sender, epoch and distribution id of this chain.
    pub fn label(&self) -> &ChainLabel {
        &self.label
    }

    /// Verifies and decrypts one group message. On error the receiver is unchanged.
    pub fn decrypt(&mut self, message: &SenderKeyMessage) -> Result<Vec<u8>, GroupError> {
        check_label(&self.label, &message.label)?;
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
            label: self.label,
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
            label: pickle.label,
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

/// A message's header must name this chain's group, sender, distribution and epoch (checked in
/// that order, before the signature, so a mislabelled message costs no verification).
fn check_label(chain: &ChainLabel, message: &ChainLabel) -> Result<(), GroupError> {
    if message.group_id != chain.group_id {
        return Err(GroupError::WrongGroup);
    }
    if message.sender != chain.sender {
        return Err(GroupError::WrongSender);
    }
    if message.distribution_id != chain.distribution_id {
        return Err(GroupError::WrongChain);
    }
    if message.epoch != chain.epoch {
        return Err(GroupError::WrongEpoch {
            expected: chain.epoch,
            found: message.epoch,
        });
    }
    Ok(())
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

/// Saved form of a [`GroupSender`] (version 1 of the pickle kind; sender keys version 2). Wiped
/// on drop; store it encrypted.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct GroupSenderPickle {
    #[zeroize(skip)]
    label: ChainLabel,
    iteration: u32,
    chain_key: [u8; 32],
    signing_seed: [u8; 32],
}

/// Saved form of a [`GroupReceiver`] (version 1 of the pickle kind; sender keys version 2).
/// Wiped on drop; store it encrypted.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct GroupReceiverPickle {
    #[zeroize(skip)]
    label: ChainLabel,
    #[zeroize(skip)]
    signing_key: IdentityKey,
    next: u32,
    chain_key: [u8; 32],
    evicted_below: u32,
    skipped: Vec<(u32, [u8; 32])>,
}

pickle_envelope!(GroupSenderPickle, pickle::KIND_GROUP_SENDER);
pickle_envelope!(GroupReceiverPickle, pickle::KIND_GROUP_RECEIVER);
