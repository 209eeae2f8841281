//! The chains a member holds for one group, keyed by sender and distribution id.

use std::collections::BTreeMap;

use crate::error::GroupError;
use crate::keys::IdentityKey;

use super::{DISTRIBUTION_ID_LEN, GROUP_ID_LEN, GroupReceiver, SenderKeyDistribution, SenderKeyMessage};

/// Most chains kept per sending device: its current one and a few earlier rotations whose late
/// messages may still arrive. A device that rotates more often loses its oldest chain, so a member
/// spamming distributions cannot grow another member's state without bound.
pub const MAX_CHAINS_PER_SENDER: usize = 4;

/// A decrypted group message and the chain it came on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlaintext {
    /// The sending device's identity key (the one whose pairwise session brought the chain).
    pub sender: IdentityKey,
    /// The group epoch of the chain.
    pub epoch: u64,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

/// The receiving chains of one group. A chain is found by `(sender, distribution_id)`, never by
/// the distribution id alone, so two senders picking the same id get two chains.
#[derive(Debug, Clone)]
pub struct GroupChains {
    group_id: [u8; GROUP_ID_LEN],
    /// Per chain, the order it was added in (for evicting a sender's oldest).
    chains: BTreeMap<(IdentityKey, [u8; DISTRIBUTION_ID_LEN]), (u64, GroupReceiver)>,
    added: u64,
}

impl GroupChains {
    /// No chains yet.
    pub fn new(group_id: [u8; GROUP_ID_LEN]) -> Self {
        Self {
            group_id,
            chains: BTreeMap::new(),
            added: 0,
        }
    }

    /// The group.
    pub fn group_id(&self) -> [u8; GROUP_ID_LEN] {
        self.group_id
    }

    /// Takes a distribution that arrived over the authenticated pairwise session with
    /// `session_peer`. Refused, changing nothing: another group (`WrongGroup`), another sender
    /// than the peer (`ForwardedDistribution`), or other keys for a chain already held
    /// (`ConflictingDistribution`; the same chain again, at any iteration, is accepted and changes
    /// nothing).
    pub fn add_distribution(
        &mut self,
        distribution: &SenderKeyDistribution,
        session_peer: &IdentityKey,
    ) -> Result<(), GroupError> {
        if distribution.label.group_id != self.group_id {
            return Err(GroupError::WrongGroup);
        }
        let receiver = GroupReceiver::from_distribution(distribution, session_peer)?;
        let key = (distribution.label.sender, distribution.label.distribution_id);
        if let Some((_, held)) = self.chains.get(&key) {
            // The same chain again (same label and signing key, perhaps at a later iteration) is
            // a re-delivery: keep the held chain, which may still hold skipped keys.
            return if held.label == receiver.label && held.signing_key == receiver.signing_key {
                Ok(())
            } else {
                Err(GroupError::ConflictingDistribution)
            };
        }
        self.added = self.added.saturating_add(1);
        self.chains.insert(key, (self.added, receiver));
        self.evict_oldest_of(&distribution.label.sender);
        Ok(())
    }

    /// Verifies and decrypts a message on the chain its header names. `UnknownChain` if no
    /// distribution of that sender and id has been taken; otherwise as
    /// [`GroupReceiver::decrypt`]. On error nothing changes.
    pub fn decrypt(&mut self, message: &SenderKeyMessage) -> Result<GroupPlaintext, GroupError> {
        if message.label.group_id != self.group_id {
            return Err(GroupError::WrongGroup);
        }
        let key = (message.label.sender, message.label.distribution_id);
        let (_, receiver) = self.chains.get_mut(&key).ok_or(GroupError::UnknownChain)?;
        let plaintext = receiver.decrypt(message)?;
        Ok(GroupPlaintext {
            sender: receiver.label.sender,
            epoch: receiver.label.epoch,
            plaintext,
        })
    }

    /// Drops every chain of `sender` (a device removed from the group, or one that left).
    pub fn remove_sender(&mut self, sender: &IdentityKey) {
        self.chains.retain(|(held, _), _| held != sender);
    }

    /// Drops every chain of an epoch before `epoch` (once late messages of earlier epochs are no
    /// longer awaited).
    pub fn drop_epochs_before(&mut self, epoch: u64) {
        self.chains
            .retain(|_, (_, receiver)| receiver.label.epoch >= epoch);
    }

    /// Whether the chain `distribution_id` of `sender` is held.
    pub fn holds(&self, sender: &IdentityKey, distribution_id: &[u8; DISTRIBUTION_ID_LEN]) -> bool {
        self.chains.contains_key(&(*sender, *distribution_id))
    }

    /// Number of chains held.
    pub fn chain_count(&self) -> usize {
        self.chains.len()
    }

    /// The chains held, in (sender, distribution id) order, for saving each one's pickle.
    pub fn receivers(&self) -> impl Iterator<Item = &GroupReceiver> {
        self.chains.values().map(|(_, receiver)| receiver)
    }

    /// Puts back a chain restored from its pickle (as [`GroupChains::add_distribution`], without
    /// the session check, which the chain passed when it was first taken).
    pub fn restore(&mut self, receiver: GroupReceiver) -> Result<(), GroupError> {
        if receiver.label.group_id != self.group_id {
            return Err(GroupError::WrongGroup);
        }
        let sender = receiver.label.sender;
        self.added = self.added.saturating_add(1);
        self.chains
            .insert((sender, receiver.label.distribution_id), (self.added, receiver));
        self.evict_oldest_of(&sender);
        Ok(())
    }

    fn evict_oldest_of(&mut self, sender: &IdentityKey) {
        loop {
            let of_sender = self.chains.iter().filter(|((held, _), _)| held == sender);
            if of_sender.clone().count() <= MAX_CHAINS_PER_SENDER {
                return;
            }
            let Some(oldest) = of_sender
                .min_by_key(|(_, (added, _))| *added)
                .map(|(key, _)| *key)
            else {
                return;
            };
            self.chains.remove(&oldest);
        }
    }
}
