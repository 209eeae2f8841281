//! The inbox: decrypted messages held until the ones before them arrive, or until the app
//! accepts their sender's message request.

use std::collections::BTreeMap;

use crate::address::Address;
use crate::records::HeldMessage;

/// Most early messages held per peer while waiting for a gap to fill. The sender resends until
/// the relay stores each message, so gaps are short; the bound caps what a misbehaving peer can
/// make us keep.
pub const MAX_HELD_PER_PEER: usize = 10_000;

/// Held messages by sender and `conv_seq`.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    held: BTreeMap<(Address, u64), HeldMessage>,
}

impl Inbox {
    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }

    /// From the store at start-up.
    pub(crate) fn restore(&mut self, held: Vec<HeldMessage>) {
        for message in held {
            self.held.insert((message.peer, message.conv_seq), message);
        }
    }

    pub(crate) fn contains(&self, peer: Address, conv_seq: u64) -> bool {
        self.held.contains_key(&(peer, conv_seq))
    }

    /// Holds `held`; `false` (and nothing held) if `peer` already has [`MAX_HELD_PER_PEER`].
    pub(crate) fn hold(&mut self, held: HeldMessage) -> bool {
        if self.held_from(held.peer) >= MAX_HELD_PER_PEER {
            return false;
        }
        self.held.insert((held.peer, held.conv_seq), held);
        true
    }

    pub(crate) fn take(&mut self, peer: Address, conv_seq: u64) -> Option<HeldMessage> {
        self.held.remove(&(peer, conv_seq))
    }

    /// How many messages from `peer` are held.
    pub(crate) fn held_from(&self, peer: Address) -> usize {
        self.held.range((peer, 0)..=(peer, u64::MAX)).count()
    }

    /// Whether anything from `peer` is held.
    pub(crate) fn holds_from(&self, peer: Address) -> bool {
        self.held.range((peer, 0)..=(peer, u64::MAX)).next().is_some()
    }

    /// Drops what `peer` sent numbered below `before` (everything if `None`); the numbers
    /// dropped.
    pub(crate) fn drop_below(&mut self, peer: Address, before: Option<u64>) -> Vec<u64> {
        let seqs: Vec<u64> = match before {
            Some(before) => self.held.range((peer, 0)..(peer, before)),
            None => self.held.range((peer, 0)..=(peer, u64::MAX)),
        }
        .map(|((_, seq), _)| *seq)
        .collect();
        for seq in &seqs {
            self.held.remove(&(peer, *seq));
        }
        seqs
    }

    /// Takes everything held from `peer`, in `conv_seq` order.
    pub(crate) fn take_all(&mut self, peer: Address) -> Vec<HeldMessage> {
        let seqs: Vec<u64> = self
            .held
            .range((peer, 0)..=(peer, u64::MAX))
            .map(|((_, seq), _)| *seq)
            .collect();
        seqs.into_iter()
            .filter_map(|seq| self.held.remove(&(peer, seq)))
            .collect()
    }

    /// Per peer with held messages, in address order: the first held message (the one waiting
    /// for the gap right before it).
    pub(crate) fn firsts(&self) -> Vec<&HeldMessage> {
        let mut firsts: Vec<&HeldMessage> = Vec::new();
        for ((peer, _), held) in &self.held {
            if firsts.last().is_none_or(|last| last.peer != *peer) {
                firsts.push(held);
            }
        }
        firsts
    }
}
