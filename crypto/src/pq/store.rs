//! The account's KEM prekey secrets: one-time keys by id and one last-resort key per signed
//! prekey (by that signed prekey's id), each with the signature published with it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::PickleError;
use crate::keys::SigningKey;
use crate::pq::kem::{KEM_SEED_LEN, KemKeyPair, KemPublicKey};
use crate::pq::prekey::{KemPreKeyId, KemPreKeyKind, KemPreKeyPublic, kem_prekey_message};
use crate::signature::{SignaturePurpose, purpose_signed_message};

/// Most one-time KEM prekeys an account holds. Each costs 64 bytes of seed here but 1.6 KB on
/// the relay; 200 is two uploads of 100 (Signal's batch), the same stock the EC keys keep in use.
pub const MAX_KEM_ONE_TIME_PREKEYS: usize = 200;

#[derive(Clone)]
struct StoredKemPreKey {
    key_pair: KemKeyPair,
    /// `ek`, kept once computed: expanding the seed (`KeyGen_internal`) is the costly part of
    /// serving a bundle, and an account loaded from its pickle computes it only when asked.
    public: OnceLock<KemPublicKey>,
    signature: [u8; 64],
}

impl StoredKemPreKey {
    fn new(key_pair: KemKeyPair, public: Option<KemPublicKey>, signature: [u8; 64]) -> Self {
        let cell = OnceLock::new();
        if let Some(public) = public {
            let _ = cell.set(public);
        }
        Self {
            key_pair,
            public: cell,
            signature,
        }
    }

    fn public(&self) -> &KemPublicKey {
        self.public.get_or_init(|| self.key_pair.public())
    }
}

/// One-time and last-resort KEM prekeys.
#[derive(Clone, Default)]
pub(crate) struct KemPreKeys {
    one_time: BTreeMap<u32, StoredKemPreKey>,
    /// By the id of the signed prekey each belongs to.
    last_resort: BTreeMap<u32, StoredKemPreKey>,
    /// 0 in a fresh store: the first id is then 1.
    next_one_time_id: u32,
}

fn sign(signing: &SigningKey, kind: KemPreKeyKind, id: u32, key_pair: &KemKeyPair) -> KemPreKeyPublic {
    let key = key_pair.public();
    let message = purpose_signed_message(SignaturePurpose::KemPreKey, &kem_prekey_message(kind, id, &key));
    KemPreKeyPublic {
        kind,
        id,
        key,
        signature: signing.sign(&message),
    }
}

impl KemPreKeys {
    /// Makes `count` one-time KEM prekeys (64 random bytes each, `d` then `z`), erasing the
    /// oldest when the store would pass [`MAX_KEM_ONE_TIME_PREKEYS`].
    pub(crate) fn generate_one_time(
        &mut self,
        signing: &SigningKey,
        count: usize,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Vec<KemPreKeyPublic> {
        let count = count.min(MAX_KEM_ONE_TIME_PREKEYS);
        while self.one_time.len() + count > MAX_KEM_ONE_TIME_PREKEYS {
            if self.one_time.pop_first().is_none() {
                break;
            }
        }
        (0..count)
            .map(|_| {
                let id = self.next_one_time_id.max(1);
                self.next_one_time_id = id.wrapping_add(1).max(1);
                let key_pair = KemKeyPair::generate(rng);
                let public = sign(signing, KemPreKeyKind::OneTime, id, &key_pair);
                let stored = StoredKemPreKey::new(key_pair, Some(public.key.clone()), public.signature);
                self.one_time.insert(id, stored);
                public
            })
            .collect()
    }

    /// Makes the last-resort KEM prekey of signed prekey `signed_prekey_id` (replacing any).
    pub(crate) fn generate_last_resort(
        &mut self,
        signing: &SigningKey,
        signed_prekey_id: u32,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> KemPreKeyPublic {
        let key_pair = KemKeyPair::generate(rng);
        let public = sign(signing, KemPreKeyKind::LastResort, signed_prekey_id, &key_pair);
        let stored = StoredKemPreKey::new(key_pair, Some(public.key.clone()), public.signature);
        self.last_resort.insert(signed_prekey_id, stored);
        public
    }

    fn stored(&self, id: KemPreKeyId) -> Option<&StoredKemPreKey> {
        match id.kind {
            KemPreKeyKind::OneTime => self.one_time.get(&id.id),
            KemPreKeyKind::LastResort => self.last_resort.get(&id.id),
        }
    }

    /// The published form of a held key.
    pub(crate) fn public(&self, id: KemPreKeyId) -> Option<KemPreKeyPublic> {
        self.stored(id).map(|stored| KemPreKeyPublic {
            kind: id.kind,
            id: id.id,
            key: stored.public().clone(),
            signature: stored.signature,
        })
    }

    pub(crate) fn key_pair(&self, id: KemPreKeyId) -> Option<&KemKeyPair> {
        self.stored(id).map(|stored| &stored.key_pair)
    }

    /// Erases a used key; last-resort keys stay (they go with their signed prekey).
    pub(crate) fn consume(&mut self, id: KemPreKeyId) {
        if id.kind == KemPreKeyKind::OneTime {
            self.one_time.remove(&id.id);
        }
    }

    /// Keeps only the last-resort keys whose signed prekey is still held.
    pub(crate) fn retain_last_resort(&mut self, held: &[u32]) {
        self.last_resort.retain(|id, _| held.contains(id));
    }

    pub(crate) fn one_time_count(&self) -> usize {
        self.one_time.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.one_time.is_empty() && self.last_resort.is_empty() && self.next_one_time_id == 0
    }

    /// The seed `d || z` of a held key, for test vectors.
    #[cfg(feature = "hazmat")]
    pub(crate) fn seed(&self, id: KemPreKeyId) -> Option<[u8; KEM_SEED_LEN]> {
        self.key_pair(id).map(|pair| *pair.seed())
    }

    pub(crate) fn pickle(&self) -> KemPreKeysPickle {
        let entries = |map: &BTreeMap<u32, StoredKemPreKey>| {
            map.iter()
                .map(|(id, stored)| KemPreKeyPickle {
                    id: *id,
                    seed: stored.key_pair.seed().to_vec(),
                    signature: stored.signature.to_vec(),
                })
                .collect()
        };
        KemPreKeysPickle {
            one_time: entries(&self.one_time),
            last_resort: entries(&self.last_resort),
            next_one_time_id: self.next_one_time_id,
        }
    }

    pub(crate) fn from_pickle(pickle: &KemPreKeysPickle) -> Result<Self, PickleError> {
        if pickle.one_time.len() > MAX_KEM_ONE_TIME_PREKEYS {
            return Err(PickleError::Malformed);
        }
        let entries = |list: &[KemPreKeyPickle]| -> Result<BTreeMap<u32, StoredKemPreKey>, PickleError> {
            list.iter()
                .map(|entry| {
                    let seed: &[u8; KEM_SEED_LEN] = entry
                        .seed
                        .as_slice()
                        .try_into()
                        .map_err(|_| PickleError::Malformed)?;
                    let signature = entry
                        .signature
                        .as_slice()
                        .try_into()
                        .map_err(|_| PickleError::Malformed)?;
                    let key_pair = KemKeyPair::from_seed(seed);
                    Ok((entry.id, StoredKemPreKey::new(key_pair, None, signature)))
                })
                .collect()
        };
        Ok(Self {
            one_time: entries(&pickle.one_time)?,
            last_resort: entries(&pickle.last_resort)?,
            next_one_time_id: pickle.next_one_time_id,
        })
    }
}

#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct KemPreKeyPickle {
    id: u32,
    /// `d || z`, 64 bytes (serde has no 64-byte arrays).
    seed: Vec<u8>,
    signature: Vec<u8>,
}

/// The saved form of [`KemPreKeys`], inside the account pickle (SPEC.md §11, kind 6).
#[derive(Clone, Default, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct KemPreKeysPickle {
    one_time: Vec<KemPreKeyPickle>,
    last_resort: Vec<KemPreKeyPickle>,
    next_one_time_id: u32,
}
