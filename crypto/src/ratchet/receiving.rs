//! Receiving chains and the bounded store of skipped message keys.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::chain::{ChainKey, MessageKey};
use crate::keys::{Curve25519PublicKey, Secret32};

/// Most skipped message keys stored for one session, across all its receiving chains. When a
/// flood of out-of-order messages pushes past it, the oldest keys are evicted. 2,000 keys is about
/// 72 KiB per session.
pub const MAX_SKIPPED_KEYS: usize = 2000;

/// Most receiving chains kept (the current one and four older ones that may still hold skipped
/// keys), so memory stays bounded when the peer churns ratchet keys.
pub const MAX_RECEIVING_CHAINS: usize = 5;

/// One receiving chain. Only the newest has a chain key; older ones keep just the keys skipped
/// when the sender moved on (the Double Ratchet spec's MKSKIPPED, grouped by chain).
#[derive(Clone)]
pub(crate) struct ReceivingChain {
    pub(crate) ratchet_key: Curve25519PublicKey,
    pub(crate) chain_key: Option<ChainKey>,
    /// Counter of the next message key `chain_key` yields.
    pub(crate) next: u32,
    /// Keys below this counter that are missing were evicted (eviction is oldest-first, and
    /// within a chain keys are stored in counter order, so evicted keys are always a prefix).
    pub(crate) evicted_below: u32,
    /// Skipped keys in ascending counter order.
    pub(crate) skipped: VecDeque<(u32, MessageKey)>,
}

impl ReceivingChain {
    pub(crate) fn skipped_key(&self, counter: u32) -> Option<&MessageKey> {
        self.skipped
            .iter()
            .find(|(n, _)| *n == counter)
            .map(|(_, key)| key)
    }
}

/// All receiving chains, oldest first, with the caps enforced on every insert.
#[derive(Clone, Default)]
pub(crate) struct ReceivingChains {
    chains: VecDeque<ReceivingChain>,
    skipped_total: usize,
}

impl ReceivingChains {
    pub(crate) fn find(&self, ratchet_key: &Curve25519PublicKey) -> Option<usize> {
        self.chains
            .iter()
            .position(|chain| chain.ratchet_key == *ratchet_key)
    }

    pub(crate) fn get(&self, index: usize) -> Option<&ReceivingChain> {
        self.chains.get(index)
    }

    pub(crate) fn current(&self) -> Option<&ReceivingChain> {
        self.chains.back().filter(|chain| chain.chain_key.is_some())
    }

    pub(crate) fn skipped_total(&self) -> usize {
        self.skipped_total
    }

    pub(crate) fn len(&self) -> usize {
        self.chains.len()
    }

    /// Removes a used skipped key.
    pub(crate) fn take_skipped(&mut self, index: usize, counter: u32) {
        if let Some(chain) = self.chains.get_mut(index) {
            let before = chain.skipped.len();
            chain.skipped.retain(|(n, _)| *n != counter);
            self.skipped_total -= before - chain.skipped.len();
        }
    }

    /// Advances chain `index` after a successful decrypt of message `next - 1`.
    pub(crate) fn advance(
        &mut self,
        index: usize,
        chain_key: ChainKey,
        next: u32,
        skipped: Vec<(u32, MessageKey)>,
    ) {
        if let Some(chain) = self.chains.get_mut(index) {
            chain.chain_key = Some(chain_key);
            chain.next = next;
            self.skipped_total += skipped.len();
            chain.skipped.extend(skipped);
        }
        self.evict();
    }

    /// Closes the current chain at `next` (its remaining keys skipped) and starts a new one.
    pub(crate) fn step(
        &mut self,
        closed_next: u32,
        closed_skipped: Vec<(u32, MessageKey)>,
        new_chain: ReceivingChain,
    ) {
        if let Some(chain) = self.chains.back_mut().filter(|chain| chain.chain_key.is_some()) {
            chain.chain_key = None;
            chain.next = chain.next.max(closed_next);
            self.skipped_total += closed_skipped.len();
            chain.skipped.extend(closed_skipped);
        }
        self.skipped_total += new_chain.skipped.len();
        self.chains.push_back(new_chain);
        while self.chains.len() > MAX_RECEIVING_CHAINS {
            if let Some(dropped) = self.chains.pop_front() {
                self.skipped_total -= dropped.skipped.len();
            }
        }
        self.evict();
    }

    /// Drops the oldest skipped keys until the store is within [`MAX_SKIPPED_KEYS`].
    fn evict(&mut self) {
        while self.skipped_total > MAX_SKIPPED_KEYS {
            let Some(chain) = self.chains.iter_mut().find(|chain| !chain.skipped.is_empty()) else {
                break;
            };
            if let Some((counter, _)) = chain.skipped.pop_front() {
                chain.evicted_below = counter.saturating_add(1);
                self.skipped_total -= 1;
            }
        }
    }

    pub(crate) fn to_pickle(&self) -> Vec<ReceivingChainPickle> {
        self.chains
            .iter()
            .map(|chain| ReceivingChainPickle {
                ratchet_key: chain.ratchet_key,
                chain_key: chain.chain_key.as_ref().map(|key| *key.0.bytes()),
                next: chain.next,
                evicted_below: chain.evicted_below,
                skipped: chain
                    .skipped
                    .iter()
                    .map(|(n, key)| (*n, *key.0.bytes()))
                    .collect(),
            })
            .collect()
    }

    pub(crate) fn from_pickle(pickles: &[ReceivingChainPickle]) -> Option<Self> {
        if pickles.len() > MAX_RECEIVING_CHAINS {
            return None;
        }
        let mut chains = VecDeque::with_capacity(pickles.len());
        let mut skipped_total = 0usize;
        for pickle in pickles {
            skipped_total += pickle.skipped.len();
            chains.push_back(ReceivingChain {
                ratchet_key: pickle.ratchet_key,
                chain_key: pickle.chain_key.map(|bytes| ChainKey(Secret32::new(bytes))),
                next: pickle.next,
                evicted_below: pickle.evicted_below,
                skipped: pickle
                    .skipped
                    .iter()
                    .map(|(n, bytes)| (*n, MessageKey(Secret32::new(*bytes))))
                    .collect(),
            });
        }
        if skipped_total > MAX_SKIPPED_KEYS {
            return None;
        }
        Some(Self {
            chains,
            skipped_total,
        })
    }
}

/// Saved form of a receiving chain.
#[derive(Clone, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub(crate) struct ReceivingChainPickle {
    #[zeroize(skip)]
    ratchet_key: Curve25519PublicKey,
    chain_key: Option<[u8; 32]>,
    next: u32,
    evicted_below: u32,
    skipped: Vec<(u32, [u8; 32])>,
}
