//! A device's long-term keys: the identity, its signed prekeys (with rotation and a grace window)
//! and one-time prekeys; and the two ways a session starts.

use std::collections::{BTreeMap, VecDeque};

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{InboundError, KeyError, PickleError, SessionError};
use crate::keys::{Curve25519KeyPair, Curve25519PublicKey, IdentityKey, Secret32, SigningKey};
use crate::messages::{
    MAX_ADDRESS_LEN, OneTimePreKeyPublic, PreKeyBundle, PreKeyMessage, SignedPreKeyPublic, VerifiedBundle,
    signed_prekey_message,
};
use crate::pickle::{self, PickleKey};
use crate::ratchet::Ratchet;
use crate::session::{PendingPreKey, Session, SessionParts};
use crate::x3dh;

const DAY: u64 = 24 * 60 * 60;

/// How often the signed prekey should be replaced (see [`Account::needs_signed_prekey_rotation`]).
pub const SIGNED_PREKEY_ROTATION: u64 = 7 * DAY;

/// How long a replaced signed prekey still accepts new sessions: long enough for an initiator
/// that fetched the old bundle while the owner was offline for a week, short enough that a later
/// theft of the device does not expose month-old key agreements. Afterwards its private key is
/// erased.
pub const SIGNED_PREKEY_GRACE: u64 = 14 * DAY;

/// Most one-time prekeys an account holds (relays cap uploads well below this).
pub const MAX_ONE_TIME_PREKEYS: usize = 1000;

/// Most base keys remembered to refuse replayed pre-key messages that used no one-time prekey
/// (those with one are refused because the one-time prekey is gone). Forgotten oldest first,
/// and all of a signed prekey's base keys are forgotten when it expires.
pub const MAX_REMEMBERED_BASE_KEYS: usize = 10_000;

#[derive(Clone)]
struct SignedPreKey {
    id: u32,
    created_at: u64,
    retired_at: Option<u64>,
    key_pair: Curve25519KeyPair,
    signature: [u8; 64],
}

impl SignedPreKey {
    fn public(&self) -> SignedPreKeyPublic {
        SignedPreKeyPublic {
            id: self.id,
            created_at: self.created_at,
            key: self.key_pair.public(),
            signature: self.signature,
        }
    }

    fn expired(&self, now: u64) -> bool {
        self.retired_at
            .is_some_and(|retired_at| now.saturating_sub(retired_at) >= SIGNED_PREKEY_GRACE)
    }
}

/// A device's keys. Not `Serialize`: save it through [`Account::pickle`].
#[derive(Clone)]
pub struct Account {
    signing: SigningKey,
    identity_dh: Curve25519KeyPair,
    /// Oldest first; the last one is current.
    signed_prekeys: Vec<SignedPreKey>,
    one_time_prekeys: BTreeMap<u32, Curve25519KeyPair>,
    next_one_time_prekey_id: u32,
    next_signed_prekey_id: u32,
    used_base_keys: VecDeque<(u32, Curve25519PublicKey)>,
}

impl core::fmt::Debug for Account {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Account")
            .field("identity_key", &self.signing.public())
            .field("one_time_prekeys", &self.one_time_prekeys.len())
            .finish_non_exhaustive()
    }
}

/// A session started by an incoming pre-key message, with that message's plaintext.
#[derive(Debug)]
pub struct InboundSession {
    /// The new session.
    pub session: Session,
    /// The first message.
    pub plaintext: Vec<u8>,
}

impl Account {
    /// A new identity with a first signed prekey created at `now` (Unix seconds).
    pub fn new(now: u64, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self::from_identity_seed(&Secret32::random(rng), now, rng)
    }

    pub(crate) fn from_identity_seed(seed: &Secret32, now: u64, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let signing = SigningKey::from_seed(seed);
        let identity_dh = Curve25519KeyPair::from_secret(signing.to_curve25519_secret());
        let mut account = Self {
            signing,
            identity_dh,
            signed_prekeys: Vec::new(),
            one_time_prekeys: BTreeMap::new(),
            next_one_time_prekey_id: 1,
            next_signed_prekey_id: 1,
            used_base_keys: VecDeque::new(),
        };
        account.push_signed_prekey(now, Curve25519KeyPair::generate(rng));
        account
    }

    /// An account from a known identity seed, for test vectors.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_from_seed(seed: [u8; 32], now: u64, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self::from_identity_seed(&Secret32::new(seed), now, rng)
    }

    /// Raw secrets `(identity seed, identity X25519 secret, current signed prekey secret)` for
    /// test vectors.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_secrets(&self) -> ([u8; 32], [u8; 32], [u8; 32]) {
        let spk = self
            .signed_prekeys
            .last()
            .map_or([0; 32], |spk| *spk.key_pair.secret().bytes());
        (
            *self.signing.seed().bytes(),
            *self.identity_dh.secret().bytes(),
            spk,
        )
    }

    /// The raw secret of one-time prekey `id`, for test vectors.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_one_time_prekey_secret(&self, id: u32) -> Option<[u8; 32]> {
        self.one_time_prekeys.get(&id).map(|pair| *pair.secret().bytes())
    }

    fn push_signed_prekey(&mut self, now: u64, key_pair: Curve25519KeyPair) -> SignedPreKeyPublic {
        let id = self.next_signed_prekey_id;
        self.next_signed_prekey_id = self.next_signed_prekey_id.wrapping_add(1).max(1);
        let signature = self
            .signing
            .sign(&signed_prekey_message(id, now, &key_pair.public()));
        let spk = SignedPreKey {
            id,
            created_at: now,
            retired_at: None,
            key_pair,
            signature,
        };
        let public = spk.public();
        self.signed_prekeys.push(spk);
        public
    }

    /// This device's identity key.
    pub fn identity_key(&self) -> IdentityKey {
        self.signing.public()
    }

    /// Signs `message` with the identity key (for example a relay's login challenge).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message)
    }

    /// X25519 between the identity key (in its X25519 form) and `public`: the sealed-sender
    /// opening step. Returns the shared secret; the caller zeroizes it.
    pub(crate) fn identity_key_agreement(&self, public: &Curve25519PublicKey) -> Result<[u8; 32], KeyError> {
        self.identity_dh
            .diffie_hellman(public)
            .map(|secret| *secret.bytes())
    }

    /// The current signed prekey, for upload.
    pub fn signed_prekey(&self) -> Option<SignedPreKeyPublic> {
        self.signed_prekeys.last().map(SignedPreKey::public)
    }

    /// Whether the current signed prekey is older than [`SIGNED_PREKEY_ROTATION`].
    pub fn needs_signed_prekey_rotation(&self, now: u64) -> bool {
        self.signed_prekeys
            .last()
            .is_none_or(|spk| now.saturating_sub(spk.created_at) >= SIGNED_PREKEY_ROTATION)
    }

    /// Replaces the signed prekey. The previous one keeps accepting new sessions for
    /// [`SIGNED_PREKEY_GRACE`]; expired ones are erased here.
    pub fn rotate_signed_prekey(
        &mut self,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> SignedPreKeyPublic {
        if let Some(current) = self.signed_prekeys.last_mut() {
            current.retired_at = Some(now);
        }
        let public = self.push_signed_prekey(now, Curve25519KeyPair::generate(rng));
        self.remove_expired_signed_prekeys(now);
        public
    }

    /// Erases signed prekeys whose grace window has passed, with the base keys remembered for
    /// them.
    pub fn remove_expired_signed_prekeys(&mut self, now: u64) {
        let expired: Vec<u32> = self
            .signed_prekeys
            .iter()
            .filter(|spk| spk.expired(now))
            .map(|spk| spk.id)
            .collect();
        self.signed_prekeys.retain(|spk| !spk.expired(now));
        self.used_base_keys.retain(|(id, _)| !expired.contains(id));
    }

    /// Ids of the signed prekeys still held (current last).
    pub fn signed_prekey_ids(&self) -> Vec<u32> {
        self.signed_prekeys.iter().map(|spk| spk.id).collect()
    }

    /// Makes `count` new one-time prekeys (at most [`MAX_ONE_TIME_PREKEYS`]) and returns their
    /// public halves for upload. The account never holds more than that: when full, the oldest
    /// are erased first (a message naming one then fails with `UnknownOneTimePreKey`).
    pub fn generate_one_time_prekeys(
        &mut self,
        count: usize,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Vec<OneTimePreKeyPublic> {
        let count = count.min(MAX_ONE_TIME_PREKEYS);
        // Full: erase the oldest (lowest ids) to make room. Keys the relay handed out whose first
        // message never came would otherwise fill the account for good and end one-time prekeys.
        while self.one_time_prekeys.len() + count > MAX_ONE_TIME_PREKEYS {
            if self.one_time_prekeys.pop_first().is_none() {
                break;
            }
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let id = self.next_one_time_prekey_id;
            self.next_one_time_prekey_id = self.next_one_time_prekey_id.wrapping_add(1).max(1);
            let key_pair = Curve25519KeyPair::generate(rng);
            out.push(OneTimePreKeyPublic {
                id,
                key: key_pair.public(),
            });
            self.one_time_prekeys.insert(id, key_pair);
        }
        out
    }

    /// Number of unused one-time prekeys held.
    pub fn one_time_prekey_count(&self) -> usize {
        self.one_time_prekeys.len()
    }

    /// A bundle with the current signed prekey and the given one-time prekey (as a relay would
    /// serve it). `None` if that one-time prekey is not held.
    pub fn prekey_bundle(&self, one_time_prekey_id: Option<u32>) -> Option<PreKeyBundle> {
        let one_time_prekey = match one_time_prekey_id {
            Some(id) => Some(OneTimePreKeyPublic {
                id,
                key: self.one_time_prekeys.get(&id)?.public(),
            }),
            None => None,
        };
        Some(PreKeyBundle {
            identity_key: self.identity_key(),
            signed_prekey: self.signed_prekey()?,
            one_time_prekey,
        })
    }

    /// Starts a session with the owner of `bundle` (X3DH as initiator). `local_address` and
    /// `remote_address` are bound into the session's associated data.
    pub fn create_outbound_session(
        &self,
        local_address: &[u8],
        remote_address: &[u8],
        bundle: &VerifiedBundle,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Session, SessionError> {
        for address in [local_address, remote_address] {
            if address.len() > MAX_ADDRESS_LEN {
                return Err(SessionError::AddressTooLong {
                    length: address.len(),
                    max: MAX_ADDRESS_LEN,
                });
            }
        }
        let bundle = bundle.bundle();
        let remote_identity_dh = bundle
            .identity_key
            .to_curve25519()
            .map_err(SessionError::KeyAgreement)?;
        let base = Curve25519KeyPair::generate(rng);
        let shared = x3dh::initiator_secret(
            &self.identity_dh,
            &base,
            &remote_identity_dh,
            &bundle.signed_prekey.key,
            bundle.one_time_prekey.as_ref().map(|otk| &otk.key),
        )
        .map_err(SessionError::KeyAgreement)?;
        let ratchet = Ratchet::init_initiator(&shared, &bundle.signed_prekey.key, rng)
            .map_err(SessionError::KeyAgreement)?;
        let associated_data = x3dh::session_associated_data(
            &self.identity_key(),
            local_address,
            &bundle.identity_key,
            remote_address,
        );
        Ok(Session::new_outbound(
            SessionParts {
                ratchet,
                associated_data,
                local_identity: self.identity_key(),
                remote_identity: bundle.identity_key,
                remote_address: remote_address.to_vec(),
                base_key: base.public(),
            },
            PendingPreKey {
                signed_prekey_id: bundle.signed_prekey.id,
                one_time_prekey_id: bundle.one_time_prekey.map(|otk| otk.id),
                local_address: local_address.to_vec(),
                created_at: now,
            },
        ))
    }

    /// Starts a session from an incoming pre-key message (X3DH as responder) and decrypts it.
    ///
    /// The account changes only if the message authenticates: then its one-time prekey is
    /// erased and its base key remembered, so the same message cannot start a second session.
    /// Check [`Session::matches`] on existing sessions first: later pre-key messages of an
    /// established session decrypt there.
    pub fn create_inbound_session(
        &mut self,
        local_address: &[u8],
        message: &PreKeyMessage,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<InboundSession, InboundError> {
        if local_address.len() > MAX_ADDRESS_LEN {
            return Err(InboundError::AddressTooLong {
                length: local_address.len(),
                max: MAX_ADDRESS_LEN,
            });
        }
        let spk_id = message.signed_prekey_id;
        let spk = self
            .signed_prekeys
            .iter()
            .find(|spk| spk.id == spk_id)
            .ok_or(InboundError::UnknownSignedPreKey { id: spk_id })?;
        if spk.expired(now) {
            return Err(InboundError::ExpiredSignedPreKey { id: spk_id });
        }
        if self
            .used_base_keys
            .iter()
            .any(|(_, key)| *key == message.base_key)
        {
            return Err(InboundError::ReplayedBaseKey);
        }
        let one_time = match message.one_time_prekey_id {
            Some(id) => Some(
                self.one_time_prekeys
                    .get(&id)
                    .ok_or(InboundError::UnknownOneTimePreKey { id })?,
            ),
            None => None,
        };
        let remote_identity_dh = message
            .identity_key
            .to_curve25519()
            .map_err(|_| InboundError::Unauthenticated)?;
        let shared = x3dh::responder_secret(
            &self.identity_dh,
            &spk.key_pair,
            one_time,
            &remote_identity_dh,
            &message.base_key,
        )
        .map_err(|_| InboundError::Unauthenticated)?;
        let associated_data = x3dh::session_associated_data(
            &message.identity_key,
            &message.sender_address,
            &self.identity_key(),
            local_address,
        );
        let mut session = Session::new_inbound(SessionParts {
            ratchet: Ratchet::init_responder(&shared, spk.key_pair.clone()),
            associated_data,
            local_identity: self.identity_key(),
            remote_identity: message.identity_key,
            remote_address: message.sender_address.clone(),
            base_key: message.base_key,
        });
        let plaintext = session
            .decrypt(&crate::SessionMessage::PreKey(message.clone()), rng)
            .map_err(|_| InboundError::Unauthenticated)?;

        // Authenticated: commit.
        if let Some(id) = message.one_time_prekey_id {
            self.one_time_prekeys.remove(&id);
        }
        self.used_base_keys.push_back((spk_id, message.base_key));
        while self.used_base_keys.len() > MAX_REMEMBERED_BASE_KEYS {
            self.used_base_keys.pop_front();
        }
        Ok(InboundSession { session, plaintext })
    }

    /// The account's saved form. Encrypt it with [`AccountPickle::encrypt`] before storing.
    pub fn pickle(&self) -> AccountPickle {
        AccountPickle {
            identity_seed: *self.signing.seed().bytes(),
            signed_prekeys: self
                .signed_prekeys
                .iter()
                .map(|spk| SignedPreKeyPickle {
                    id: spk.id,
                    created_at: spk.created_at,
                    retired_at: spk.retired_at,
                    secret: *spk.key_pair.secret().bytes(),
                    signature: spk.signature.to_vec(),
                })
                .collect(),
            one_time_prekeys: self
                .one_time_prekeys
                .iter()
                .map(|(id, pair)| (*id, *pair.secret().bytes()))
                .collect(),
            next_one_time_prekey_id: self.next_one_time_prekey_id,
            next_signed_prekey_id: self.next_signed_prekey_id,
            used_base_keys: self
                .used_base_keys
                .iter()
                .map(|(id, key)| (*id, key.to_bytes()))
                .collect(),
        }
    }

    /// Restores an account from its saved form.
    pub fn from_pickle(pickle: &AccountPickle) -> Result<Self, PickleError> {
        let signing = SigningKey::from_seed(&Secret32::new(pickle.identity_seed));
        let identity_dh = Curve25519KeyPair::from_secret(signing.to_curve25519_secret());
        let mut signed_prekeys = Vec::with_capacity(pickle.signed_prekeys.len());
        for spk in &pickle.signed_prekeys {
            let signature: [u8; 64] = spk
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| PickleError::Malformed)?;
            signed_prekeys.push(SignedPreKey {
                id: spk.id,
                created_at: spk.created_at,
                retired_at: spk.retired_at,
                key_pair: Curve25519KeyPair::from_secret(Secret32::new(spk.secret)),
                signature,
            });
        }
        if pickle.one_time_prekeys.len() > MAX_ONE_TIME_PREKEYS
            || pickle.used_base_keys.len() > MAX_REMEMBERED_BASE_KEYS
        {
            return Err(PickleError::Malformed);
        }
        let mut used_base_keys = VecDeque::with_capacity(pickle.used_base_keys.len());
        for (id, key) in &pickle.used_base_keys {
            used_base_keys.push_back((
                *id,
                Curve25519PublicKey::from_bytes(key).map_err(PickleError::InvalidKey)?,
            ));
        }
        Ok(Self {
            signing,
            identity_dh,
            signed_prekeys,
            one_time_prekeys: pickle
                .one_time_prekeys
                .iter()
                .map(|(id, secret)| (*id, Curve25519KeyPair::from_secret(Secret32::new(*secret))))
                .collect(),
            next_one_time_prekey_id: pickle.next_one_time_prekey_id,
            next_signed_prekey_id: pickle.next_signed_prekey_id,
            used_base_keys,
        })
    }
}

#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct SignedPreKeyPickle {
    id: u32,
    created_at: u64,
    retired_at: Option<u64>,
    secret: [u8; 32],
    signature: Vec<u8>,
}

/// The saved form of an [`Account`] (format version 1). Wiped on drop; store it encrypted.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct AccountPickle {
    identity_seed: [u8; 32],
    signed_prekeys: Vec<SignedPreKeyPickle>,
    one_time_prekeys: Vec<(u32, [u8; 32])>,
    next_one_time_prekey_id: u32,
    next_signed_prekey_id: u32,
    used_base_keys: Vec<(u32, [u8; 32])>,
}

impl AccountPickle {
    /// Encrypts the pickle under `key`.
    pub fn encrypt(&self, key: &PickleKey, rng: &mut (impl CryptoRng + ?Sized)) -> Vec<u8> {
        pickle::seal(pickle::KIND_ACCOUNT, key, self, rng)
    }

    /// Decrypts and decodes a pickle made by [`AccountPickle::encrypt`].
    pub fn from_encrypted(key: &PickleKey, bytes: &[u8]) -> Result<Self, PickleError> {
        pickle::open(pickle::KIND_ACCOUNT, key, bytes)
    }

    /// The plaintext encoding (postcard).
    pub fn to_plaintext_bytes(&self) -> Vec<u8> {
        pickle::encode(self)
    }
}

impl core::fmt::Debug for AccountPickle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AccountPickle(..)")
    }
}
