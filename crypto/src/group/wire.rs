//! The two sender-key encodings (SPEC.md §10.4, §10.5), version 2: both name the group, the
//! sending device's identity key and the group epoch, so a chain is bound to its sender.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::DecodeError;
use crate::keys::IdentityKey;
use crate::messages::{MAX_CIPHERTEXT_LEN, SALT_LEN};
use crate::primitives::AEAD_TAG_LEN;
use crate::wire::{Reader, TYPE_SENDER_KEY_DISTRIBUTION, TYPE_SENDER_KEY_MESSAGE, Writer};

/// Version byte of both sender-key encodings. Version 1 named no sender and is refused
/// (`UnsupportedVersion`): a chain it set up could be claimed by any member.
pub const SENDER_KEY_VERSION: u8 = 2;

/// Length of a group id.
pub const GROUP_ID_LEN: usize = 16;

/// Length of a distribution id (random, new with every sender chain).
pub const DISTRIBUTION_ID_LEN: usize = 16;

/// Which chain a message or distribution belongs to, and whose it is. The receiver keys its
/// chains by `(sender, distribution_id)`, so a distribution id is only unique per sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChainLabel {
    /// The group.
    pub group_id: [u8; GROUP_ID_LEN],
    /// The sending device's identity key.
    pub sender: IdentityKey,
    /// The group epoch the chain belongs to (the application's; it grows when members leave).
    pub epoch: u64,
    /// The chain's id.
    pub distribution_id: [u8; DISTRIBUTION_ID_LEN],
}

const LABEL_LEN: usize = GROUP_ID_LEN + 32 + 8 + DISTRIBUTION_ID_LEN;

/// Bytes of the header a message's AEAD and signature cover (version .. salt).
pub const GROUP_HEADER_LEN: usize = 2 + LABEL_LEN + 4 + SALT_LEN;

/// Bytes of an encoded distribution.
pub const DISTRIBUTION_LEN: usize = 2 + LABEL_LEN + 4 + 32 + 32;

impl ChainLabel {
    fn write(&self, writer: &mut Writer) {
        writer
            .put(&self.group_id)
            .put(self.sender.as_bytes())
            .u64(self.epoch)
            .put(&self.distribution_id);
    }

    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            group_id: reader.array("group_id")?,
            sender: reader.identity_key("sender")?,
            epoch: reader.u64("epoch")?,
            distribution_id: reader.array("distribution_id")?,
        })
    }
}

/// The sender's chain state as handed to a group member over a pairwise session. Holds the
/// chain key: wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SenderKeyDistribution {
    #[zeroize(skip)]
    pub(super) label: ChainLabel,
    pub(super) iteration: u32,
    pub(super) chain_key: [u8; 32],
    #[zeroize(skip)]
    pub(super) signing_key: IdentityKey,
}

impl core::fmt::Debug for SenderKeyDistribution {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SenderKeyDistribution")
            .field("label", &self.label)
            .field("iteration", &self.iteration)
            .finish_non_exhaustive()
    }
}

impl SenderKeyDistribution {
    /// Group, sender, epoch and distribution id.
    pub fn label(&self) -> &ChainLabel {
        &self.label
    }

    /// The chain position the key is at.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// Encodes: `u8 2 || u8 0x04 || group_id (16) || sender (32) || u64 epoch ||
    /// distribution_id (16) || u32 iteration || chain_key (32) || signing_key (32)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer =
            Writer::with_versioned_header(SENDER_KEY_VERSION, TYPE_SENDER_KEY_DISTRIBUTION, DISTRIBUTION_LEN);
        self.label.write(&mut writer);
        writer
            .u32(self.iteration)
            .put(&self.chain_key)
            .put(self.signing_key.as_bytes());
        writer.bytes
    }

    /// Decodes a distribution message.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.versioned_header(SENDER_KEY_VERSION, TYPE_SENDER_KEY_DISTRIBUTION)?;
        let distribution = Self {
            label: ChainLabel::read(&mut reader)?,
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
    pub(super) label: ChainLabel,
    pub(super) iteration: u32,
    pub(super) salt: [u8; SALT_LEN],
    pub(super) ciphertext: Vec<u8>,
    pub(super) signature: [u8; 64],
}

impl SenderKeyMessage {
    /// Group, sender, epoch and distribution id the header names (signed, but only checked
    /// against a chain when decrypting).
    pub fn label(&self) -> &ChainLabel {
        &self.label
    }

    /// Position in the sender's chain.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    pub(super) fn header_bytes(&self) -> Vec<u8> {
        let mut writer =
            Writer::with_versioned_header(SENDER_KEY_VERSION, TYPE_SENDER_KEY_MESSAGE, GROUP_HEADER_LEN);
        self.label.write(&mut writer);
        writer.u32(self.iteration).put(&self.salt);
        writer.bytes
    }

    /// The bytes the signature covers: everything before it.
    pub(super) fn signed_bytes(&self) -> Vec<u8> {
        let mut writer = Writer {
            bytes: self.header_bytes(),
        };
        writer.bytes_u32(&self.ciphertext);
        writer.bytes
    }

    /// Encodes: `u8 2 || u8 0x03 || group_id (16) || sender (32) || u64 epoch ||
    /// distribution_id (16) || u32 iteration || salt (16) || u32 len || ciphertext ||
    /// signature (64)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.signed_bytes();
        bytes.extend_from_slice(&self.signature);
        bytes
    }

    /// Decodes a group message (the signature is checked when decrypting).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.versioned_header(SENDER_KEY_VERSION, TYPE_SENDER_KEY_MESSAGE)?;
        let message = Self {
            label: ChainLabel::read(&mut reader)?,
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
