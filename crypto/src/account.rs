//! A device's long-term keys: the identity, its signed prekeys (with rotation and a grace window)
//! and one-time prekeys; and the two ways a session starts.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{BundleError, InboundError, KeyError, PickleError, SessionError};
use crate::keys::{Curve25519KeyPair, Curve25519PublicKey, IdentityKey, Secret32, SigningKey};
use crate::messages::{
    MAX_ADDRESS_LEN, OneTimePreKeyPublic, PreKeyBundle, PreKeyMessage, SignedPreKeyPublic, VerifiedBundle,
    signed_prekey_message,
};
use crate::pickle::{self, PickleKey};
use crate::pq::store::{KemPreKeys, KemPreKeysPickle};
use crate::pq::{KemHeader, KemPreKeyId, KemPreKeyKind, KemPreKeyPublic, PqPreKeyBundle, SetupPolicy};
use crate::ratchet::Ratchet;
use crate::session::{PendingPreKey, Session, SessionParts};
use crate::signature::{SignaturePurpose, purpose_signed_message};
use crate::x3dh;

const DAY: u64 = 24 * 60 * 60;

/// How often the signed prekey should be replaced (see [`Account::needs_signed_prekey_rotation`]).
pub const SIGNED_PREKEY_ROTATION: u64 = 7 * DAY;

/// How long a replaced signed prekey still accepts new sessions: long enough for an initiator
/// that fetched the old bundle while the owner was offline for a week, short enough that a later
/// theft of the device does not expose month-old key agreements. Afterwards its private key is
/// erased.
pub const SIGNED_PREKEY_GRACE: u64 = 14 * DAY;

/// How far in the future a bundle's signed prekey may be dated before an initiator refuses it:
/// the owner's clock may run ahead a little, but a key dated weeks ahead would stay "fresh" past
/// every rotation.
pub const MAX_SIGNED_PREKEY_CLOCK_SKEW: u64 = DAY;

/// Most one-time prekeys an account holds (relays cap uploads well below this).
pub const MAX_ONE_TIME_PREKEYS: usize = 1000;

/// Most signed prekeys held (the current one and retired ones in their grace window). Weekly
/// rotation with a 14-day grace holds three; early rotations (a full replay cache) can push past
/// it, and then the oldest is erased before its grace ends, with its remembered base keys.
pub const MAX_SIGNED_PREKEYS: usize = 5;

/// Most base keys remembered for one signed prekey, to refuse replayed pre-key messages (those
/// with a one-time prekey are refused anyway, the one-time prekey being gone). A signed prekey's
/// base keys are forgotten only when the signed prekey itself is erased, so a replay is refused
/// for as long as it could decrypt. When the set is full, sessions without a one-time prekey on
/// that signed prekey are refused ([`InboundError::ReplayCacheFull`]) instead of forgetting.
/// 2,000 sessions a week that found no one-time prekey is far beyond an honest contact list.
pub const MAX_BASE_KEYS_PER_SIGNED_PREKEY: usize = 2_000;

/// Base keys remembered for the current signed prekey at which
/// [`Account::needs_signed_prekey_rotation`] asks for an early rotation: half the cap, so the
/// owner's next upkeep rotates long before the current key starts refusing sessions.
pub const BASE_KEY_ROTATION_THRESHOLD: usize = MAX_BASE_KEYS_PER_SIGNED_PREKEY / 2;

/// Most base keys an account remembers in all (`MAX_SIGNED_PREKEYS` full sets, about 360 KB).
pub const MAX_REMEMBERED_BASE_KEYS: usize = MAX_SIGNED_PREKEYS * MAX_BASE_KEYS_PER_SIGNED_PREKEY;

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
    /// Base keys of the sessions started on each held signed prekey (by its id).
    used_base_keys: BTreeMap<u32, BTreeSet<[u8; 32]>>,
    /// PQXDH: one-time KEM prekeys and a last-resort one per signed prekey.
    kem_prekeys: KemPreKeys,
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
            used_base_keys: BTreeMap::new(),
            kem_prekeys: KemPreKeys::default(),
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

    /// An Ed25519 signature by the identity key over `message` itself, with no purpose prefix: for
    /// test vectors and tests that play an attacker who signs what they like with their own key.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message)
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

    /// Signs `message` with the identity key for `purpose`: the signature covers
    /// [`purpose_signed_message`]`(purpose, message)`, never `message` alone, so nothing signed here
    /// can pass as a signed-prekey signature or as a signature for another purpose.
    pub fn sign(&self, purpose: SignaturePurpose, message: &[u8]) -> [u8; 64] {
        self.signing.sign(&purpose_signed_message(purpose, message))
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

    /// Whether the current signed prekey should be replaced: it is older than
    /// [`SIGNED_PREKEY_ROTATION`], or [`BASE_KEY_ROTATION_THRESHOLD`] sessions were started on it
    /// (its replay cache is filling up).
    pub fn needs_signed_prekey_rotation(&self, now: u64) -> bool {
        self.signed_prekeys.last().is_none_or(|spk| {
            now.saturating_sub(spk.created_at) >= SIGNED_PREKEY_ROTATION
                || self.remembered_base_keys(spk.id) >= BASE_KEY_ROTATION_THRESHOLD
        })
    }

    /// Number of base keys remembered for signed prekey `id` (to refuse replays).
    pub fn remembered_base_keys(&self, signed_prekey_id: u32) -> usize {
        self.used_base_keys
            .get(&signed_prekey_id)
            .map_or(0, BTreeSet::len)
    }

    /// Replaces the signed prekey. The previous one keeps accepting new sessions for
    /// [`SIGNED_PREKEY_GRACE`]; expired ones are erased here, and so are the oldest beyond
    /// [`MAX_SIGNED_PREKEYS`] (each with its remembered base keys).
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
        while self.signed_prekeys.len() > MAX_SIGNED_PREKEYS {
            let oldest = self.signed_prekeys.remove(0);
            self.used_base_keys.remove(&oldest.id);
        }
        self.kem_prekeys.retain_last_resort(&self.signed_prekey_ids());
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
        self.used_base_keys.retain(|id, _| !expired.contains(id));
        self.kem_prekeys.retain_last_resort(&self.signed_prekey_ids());
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

    /// Makes `count` signed one-time KEM prekeys (at most
    /// [`crate::pq::MAX_KEM_ONE_TIME_PREKEYS`] held; the oldest are erased past it) and returns
    /// them for upload. Draws 64 bytes per key (`d` then `z`).
    pub fn generate_kem_one_time_prekeys(
        &mut self,
        count: usize,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Vec<KemPreKeyPublic> {
        self.kem_prekeys.generate_one_time(&self.signing, count, rng)
    }

    /// Makes the signed last-resort KEM prekey of the current signed prekey (replacing any) and
    /// returns it for upload; `None` if no signed prekey is held. Call it after every
    /// [`Account::rotate_signed_prekey`]: it is erased with its signed prekey. Draws 64 bytes.
    pub fn generate_last_resort_kem_prekey(
        &mut self,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Option<KemPreKeyPublic> {
        let spk_id = self.signed_prekeys.last()?.id;
        Some(self.kem_prekeys.generate_last_resort(&self.signing, spk_id, rng))
    }

    /// Number of unused one-time KEM prekeys held.
    pub fn kem_one_time_prekey_count(&self) -> usize {
        self.kem_prekeys.one_time_count()
    }

    /// A PQXDH bundle as a relay would serve it: [`Account::prekey_bundle`] plus the one-time
    /// KEM prekey `kem_one_time_prekey_id`, or the current signed prekey's last-resort KEM prekey
    /// when that is `None` (no KEM prekey at all if neither is held). `None` if a named key is
    /// not held.
    pub fn pq_prekey_bundle(
        &self,
        one_time_prekey_id: Option<u32>,
        kem_one_time_prekey_id: Option<u32>,
    ) -> Option<PqPreKeyBundle> {
        let bundle = self.prekey_bundle(one_time_prekey_id)?;
        let kem_prekey = match kem_one_time_prekey_id {
            Some(id) => Some(self.kem_prekeys.public(KemPreKeyId {
                kind: KemPreKeyKind::OneTime,
                id,
            })?),
            None => self.kem_prekeys.public(KemPreKeyId {
                kind: KemPreKeyKind::LastResort,
                id: bundle.signed_prekey.id,
            }),
        };
        Some(PqPreKeyBundle { bundle, kem_prekey })
    }

    /// The seed `d || z` of a held KEM prekey, for test vectors.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_kem_prekey_seed(&self, id: KemPreKeyId) -> Option<[u8; 64]> {
        self.kem_prekeys.seed(id)
    }

    /// Starts a session with the owner of `bundle` as [`Account::create_session`] does under
    /// [`SetupPolicy::AllowClassical`]: PQXDH when the bundle has a KEM prekey, classical X3DH
    /// when it has none. Kept for callers that do not pass a policy yet.
    pub fn create_outbound_session(
        &self,
        local_address: &[u8],
        remote_address: &[u8],
        bundle: &VerifiedBundle,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Session, SessionError> {
        self.create_session(
            local_address,
            remote_address,
            bundle,
            SetupPolicy::AllowClassical,
            now,
            rng,
        )
    }

    /// Starts a session with the owner of `bundle` (PQXDH, or X3DH if the policy allows it, as
    /// initiator). `local_address` and `remote_address` are bound into the session's associated
    /// data. A bundle without a KEM prekey is refused under [`SetupPolicy::RequirePostQuantum`]
    /// ([`SessionError::ClassicalSetupRefused`]); one whose signed prekey is too old or dated too
    /// far ahead of `now` is refused ([`BundleError::SignedPreKeyTooOld`],
    /// [`BundleError::SignedPreKeyInTheFuture`]).
    pub fn create_session(
        &self,
        local_address: &[u8],
        remote_address: &[u8],
        verified: &VerifiedBundle,
        policy: SetupPolicy,
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
        if verified.kem_prekey.is_none() && !policy.allows_classical() {
            return Err(SessionError::ClassicalSetupRefused);
        }
        let bundle = verified.bundle();
        check_signed_prekey_age(bundle.signed_prekey.created_at, now)?;
        let remote_identity_dh = bundle
            .identity_key
            .to_curve25519()
            .map_err(SessionError::KeyAgreement)?;
        let base = Curve25519KeyPair::generate(rng);
        let encapsulated = verified.kem_prekey.as_ref().map(|kem| {
            let (ciphertext, shared) = kem.key.encapsulate(rng);
            let header = KemHeader {
                prekey: kem.prekey_id(),
                ciphertext,
            };
            (header, shared)
        });
        let shared = x3dh::initiator_secret(
            &self.identity_dh,
            &base,
            &remote_identity_dh,
            &bundle.signed_prekey.key,
            bundle.one_time_prekey.as_ref().map(|otk| &otk.key),
            encapsulated.as_ref().map(|(_, shared)| shared),
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
            encapsulated.map(|(header, _)| header),
        ))
    }

    /// Starts a session from an incoming pre-key message as
    /// [`Account::create_inbound_session_with_policy`] does under [`SetupPolicy::AllowClassical`]
    /// (PQXDH or classical X3DH, whichever the initiator used).
    pub fn create_inbound_session(
        &mut self,
        local_address: &[u8],
        message: &PreKeyMessage,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<InboundSession, InboundError> {
        self.create_inbound_session_with_policy(local_address, message, SetupPolicy::AllowClassical, now, rng)
    }

    /// Starts a session from an incoming pre-key message (PQXDH or X3DH as responder) and
    /// decrypts it. A classical message is refused under [`SetupPolicy::RequirePostQuantum`].
    ///
    /// The account changes only if the message authenticates: then its one-time prekeys (EC and
    /// KEM) are erased and its base key remembered, so the same message cannot start a second
    /// session. Check [`Session::matches`] on existing sessions first: later pre-key messages of
    /// an established session decrypt there.
    pub fn create_inbound_session_with_policy(
        &mut self,
        local_address: &[u8],
        message: &PreKeyMessage,
        policy: SetupPolicy,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<InboundSession, InboundError> {
        if message.kem.is_none() && !policy.allows_classical() {
            return Err(InboundError::ClassicalSetupRefused);
        }
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
        let base_key = message.base_key.to_bytes();
        if self.used_base_keys.values().any(|keys| keys.contains(&base_key)) {
            return Err(InboundError::ReplayedBaseKey);
        }
        let cache_full = self.remembered_base_keys(spk_id) >= MAX_BASE_KEYS_PER_SIGNED_PREKEY;
        // A one-time KEM prekey's erasure refuses replays as a one-time EC prekey's does.
        let one_time_kem = message
            .kem
            .as_ref()
            .is_some_and(|kem| kem.prekey.kind == KemPreKeyKind::OneTime);
        let one_time = match message.one_time_prekey_id {
            Some(id) => Some(
                self.one_time_prekeys
                    .get(&id)
                    .ok_or(InboundError::UnknownOneTimePreKey { id })?,
            ),
            // Only the remembered base key could refuse this one's replay: never forget it.
            None if cache_full && !one_time_kem => return Err(InboundError::ReplayCacheFull { id: spk_id }),
            None => None,
        };
        let kem_shared = match &message.kem {
            Some(kem) => {
                let unknown = InboundError::UnknownKemPreKey {
                    kind: kem.prekey.kind,
                    id: kem.prekey.id,
                };
                let key_pair = self.kem_prekeys.key_pair(kem.prekey).ok_or(unknown)?;
                Some(key_pair.decapsulate(&kem.ciphertext))
            }
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
            kem_shared.as_ref(),
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
        if let Some(kem) = &message.kem {
            self.kem_prekeys.consume(kem.prekey);
        }
        // With a one-time prekey a full set needs no new entry: that key's erasure refuses replays.
        if !cache_full {
            self.used_base_keys.entry(spk_id).or_default().insert(base_key);
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
                .flat_map(|(id, keys)| keys.iter().map(|key| (*id, *key)))
                .collect(),
            kem: (!self.kem_prekeys.is_empty()).then(|| self.kem_prekeys.pickle()),
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
        // Pickles from before the per-signed-prekey sets hold one FIFO list (same layout, at most
        // MAX_REMEMBERED_BASE_KEYS entries, maybe all under one signed prekey): they load as is. A
        // set over the per-key cap only makes that signed prekey refuse sessions without a
        // one-time prekey. Entries for signed prekeys no longer held are dropped.
        let mut used_base_keys: BTreeMap<u32, BTreeSet<[u8; 32]>> = BTreeMap::new();
        for (id, key) in &pickle.used_base_keys {
            Curve25519PublicKey::from_bytes(key).map_err(PickleError::InvalidKey)?;
            if signed_prekeys.iter().any(|spk| spk.id == *id) {
                used_base_keys.entry(*id).or_default().insert(*key);
            }
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
            kem_prekeys: match &pickle.kem {
                Some(kem) => KemPreKeys::from_pickle(kem)?,
                None => KemPreKeys::default(),
            },
        })
    }
}

/// An initiator refuses a signed prekey its owner must already have erased (created at least
/// [`SIGNED_PREKEY_ROTATION`] + [`SIGNED_PREKEY_GRACE`] ago: a relay replaying an old bundle, or
/// an owner that stopped rotating), or one dated more than [`MAX_SIGNED_PREKEY_CLOCK_SKEW`] ahead.
fn check_signed_prekey_age(created_at: u64, now: u64) -> Result<(), BundleError> {
    if now.saturating_sub(created_at) >= SIGNED_PREKEY_ROTATION + SIGNED_PREKEY_GRACE {
        return Err(BundleError::SignedPreKeyTooOld { created_at, now });
    }
    if created_at.saturating_sub(now) > MAX_SIGNED_PREKEY_CLOCK_SKEW {
        return Err(BundleError::SignedPreKeyInTheFuture { created_at, now });
    }
    Ok(())
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
    /// KEM prekeys: sealed beside the classical fields under kind 6, so an account without them
    /// keeps kind 1 and its old bytes (SPEC.md §11).
    #[serde(skip)]
    kem: Option<KemPreKeysPickle>,
}

const ACCOUNT_KINDS: (u8, u8) = (pickle::KIND_ACCOUNT, pickle::KIND_ACCOUNT_PQ);

impl AccountPickle {
    /// Encrypts the pickle under `key`.
    pub fn encrypt(&self, key: &PickleKey, rng: &mut (impl CryptoRng + ?Sized)) -> Vec<u8> {
        pickle::seal_extended(ACCOUNT_KINDS, key, self, self.kem.as_ref(), rng)
    }

    /// Decrypts and decodes a pickle made by [`AccountPickle::encrypt`].
    pub fn from_encrypted(key: &PickleKey, bytes: &[u8]) -> Result<Self, PickleError> {
        let (mut pickle, kem): (Self, _) = pickle::open_extended(ACCOUNT_KINDS, key, bytes)?;
        pickle.kem = kem;
        Ok(pickle)
    }

    /// The plaintext encoding (postcard): the classical fields, then the KEM prekeys if any.
    pub fn to_plaintext_bytes(&self) -> Vec<u8> {
        pickle::encode_extended(self, self.kem.as_ref())
    }
}

impl core::fmt::Debug for AccountPickle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AccountPickle(..)")
    }
}
