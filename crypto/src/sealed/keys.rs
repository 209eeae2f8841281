//! What sealing to one recipient costs the sender once, not per envelope.
//!
//! Every envelope from `IK_S` to `IK_R` needs `IK_R`'s X25519 form (a point decompression and an
//! inversion) and the static-static DH with it (a variable-base X25519). Both depend only on the
//! two identities, so [`SealKeys`] keeps them per recipient. The envelope's bytes do not change:
//! [`super::seal_with`] gives exactly what [`super::seal`] gives for the same RNG.
//!
//! Only the sender keeps them. The recipient computes its static DH afresh for every envelope, so
//! how long opening takes does not depend on whether the claimed sender is someone it knows (a
//! forger could otherwise time the recipient to learn which identities it talks to).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::account::Account;
use crate::error::KeyError;
use crate::keys::{Curve25519PublicKey, IdentityKey, Secret32};

/// Most recipients [`SealKeys`] keeps; past it, one is forgotten for each new one.
pub const MAX_SEAL_KEYS: usize = 1024;

/// One recipient's part: its X25519 form and the static-static DH with it.
pub(super) struct RecipientKeys {
    pub(super) x25519: Curve25519PublicKey,
    pub(super) static_shared: Secret32,
}

/// The sender's per-recipient sealing keys, in memory only (secrets zeroized when dropped).
/// Valid for one sending account: used with another, it starts over.
#[derive(Default)]
pub struct SealKeys {
    sender: Option<IdentityKey>,
    recipients: HashMap<[u8; 32], RecipientKeys>,
}

impl core::fmt::Debug for SealKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealKeys")
            .field("recipients", &self.recipients.len())
            .finish_non_exhaustive()
    }
}

impl SealKeys {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Recipients held.
    pub fn len(&self) -> usize {
        self.recipients.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.recipients.is_empty()
    }

    /// `recipient`'s keys for envelopes from `sender`, computed if not held. Errors as
    /// [`super::seal`] does for a recipient key that cannot take part in a DH; nothing is kept then.
    pub(super) fn get(
        &mut self,
        sender: &Account,
        recipient: &IdentityKey,
    ) -> Result<&RecipientKeys, KeyError> {
        let own = sender.identity_key();
        if self.sender.as_ref().map(IdentityKey::as_bytes) != Some(own.as_bytes()) {
            self.recipients.clear();
            self.sender = Some(own);
        }
        let id = *recipient.as_bytes();
        if self.recipients.len() >= MAX_SEAL_KEYS
            && !self.recipients.contains_key(&id)
            && let Some(old) = self.recipients.keys().next().copied()
        {
            self.recipients.remove(&old);
        }
        match self.recipients.entry(id) {
            Entry::Occupied(held) => Ok(held.into_mut()),
            Entry::Vacant(slot) => {
                let x25519 = recipient.to_curve25519()?;
                let static_shared = Secret32::new(sender.identity_key_agreement(&x25519)?);
                Ok(slot.insert(RecipientKeys {
                    x25519,
                    static_shared,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::sealed::{seal, seal_with};

    const NOW: u64 = 1_700_000_000;

    fn account() -> Account {
        Account::new(NOW, &mut rand::rng())
    }

    #[test]
    fn held_keys_give_the_bytes_of_a_fresh_seal() {
        let (alice, bob) = (account(), account());
        let mut keys = SealKeys::new();
        for (round, inner) in [&b"first"[..], b"second", b""].into_iter().enumerate() {
            let seed = 40 + u64::try_from(round).unwrap();
            let fresh = seal(
                &alice,
                &bob.identity_key(),
                inner,
                &mut StdRng::seed_from_u64(seed),
            )
            .unwrap();
            let held = seal_with(
                &alice,
                &mut keys,
                &bob.identity_key(),
                inner,
                &mut StdRng::seed_from_u64(seed),
            )
            .unwrap();
            assert_eq!(held, fresh, "round {round}");
            let opened = bob.open_sealed(&held).unwrap();
            assert_eq!(opened.sender.as_bytes(), alice.identity_key().as_bytes());
            assert_eq!(opened.inner, inner);
        }
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn keys_held_for_one_sender_are_not_used_for_another() {
        let (alice, carol, bob) = (account(), account(), account());
        let mut keys = SealKeys::new();
        seal_with(
            &alice,
            &mut keys,
            &bob.identity_key(),
            b"from alice",
            &mut rand::rng(),
        )
        .unwrap();
        // With Alice's static DH, Carol's envelope would not open (layer 2 is keyed by it).
        let sealed = seal_with(
            &carol,
            &mut keys,
            &bob.identity_key(),
            b"from carol",
            &mut rand::rng(),
        )
        .unwrap();
        let opened = bob.open_sealed(&sealed).unwrap();
        assert_eq!(opened.sender.as_bytes(), carol.identity_key().as_bytes());
        assert_eq!(opened.inner, b"from carol");
    }

    #[test]
    fn at_most_max_seal_keys_recipients_are_held() {
        let alice = account();
        let mut keys = SealKeys::new();
        let recipients: Vec<IdentityKey> = (0..=MAX_SEAL_KEYS).map(|_| account().identity_key()).collect();
        for recipient in &recipients {
            keys.get(&alice, recipient).unwrap();
        }
        assert_eq!(keys.len(), MAX_SEAL_KEYS);
        // The newest is held, and a forgotten one is computed again when needed.
        let last = recipients.last().unwrap();
        assert!(keys.recipients.contains_key(last.as_bytes()));
        let forgotten = recipients
            .iter()
            .find(|key| !keys.recipients.contains_key(key.as_bytes()))
            .unwrap();
        let expected = alice
            .identity_key_agreement(&forgotten.to_curve25519().unwrap())
            .unwrap();
        assert_eq!(
            keys.get(&alice, forgotten).unwrap().static_shared.bytes(),
            &expected
        );
        assert_eq!(keys.len(), MAX_SEAL_KEYS);
    }
}
