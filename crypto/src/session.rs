//! A pairwise session: the Double Ratchet plus who it is with and, until the first reply, the
//! X3DH header every outgoing message carries.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{DecryptError, EncryptError, PickleError};
use crate::keys::{Curve25519PublicKey, IdentityKey};
use crate::messages::{MAX_ADDRESS_LEN, PreKeyMessage, SessionMessage};
use crate::pickle::{self, PickleKey};
use crate::pq::KemHeader;
use crate::pq::prekey::KemHeaderPickle;
use crate::ratchet::{Ratchet, RatchetPickle};

/// How long an initiator keeps sending on a session the responder never answered (30 days, as
/// libsignal). After that the responder has likely lost the prekeys; start over from a new bundle.
pub const MAX_UNACKNOWLEDGED_SESSION_AGE: u64 = 30 * 24 * 60 * 60;

/// What an initiator repeats in every message until the first reply.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct PendingPreKey {
    pub(crate) signed_prekey_id: u32,
    pub(crate) one_time_prekey_id: Option<u32>,
    pub(crate) local_address: Vec<u8>,
    pub(crate) created_at: u64,
}

/// Everything a new session is made of, on either side.
pub(crate) struct SessionParts {
    pub(crate) ratchet: Ratchet,
    pub(crate) associated_data: Vec<u8>,
    pub(crate) local_identity: IdentityKey,
    pub(crate) remote_identity: IdentityKey,
    pub(crate) remote_address: Vec<u8>,
    pub(crate) base_key: Curve25519PublicKey,
}

/// An established pairwise session. Not `Serialize`: save it through [`Session::pickle`].
#[derive(Clone)]
pub struct Session {
    pub(crate) ratchet: Ratchet,
    pub(crate) associated_data: Vec<u8>,
    pub(crate) local_identity: IdentityKey,
    pub(crate) remote_identity: IdentityKey,
    pub(crate) remote_address: Vec<u8>,
    pub(crate) base_key: Curve25519PublicKey,
    pub(crate) initiator: bool,
    pending: Option<PendingPreKey>,
    /// With `pending`, for a PQXDH session: the KEM header every pre-key message repeats.
    pending_kem: Option<KemHeader>,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.base_key)
            .field("remote_identity", &self.remote_identity)
            .field("initiator", &self.initiator)
            .field("answered", &self.pending.is_none())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session we started; `pending` goes out with every message until the first reply.
    pub(crate) fn new_outbound(parts: SessionParts, pending: PendingPreKey, kem: Option<KemHeader>) -> Self {
        let mut session = Self::from_parts(parts, true, Some(pending));
        session.pending_kem = kem;
        session
    }

    /// A session the peer started.
    pub(crate) fn new_inbound(parts: SessionParts) -> Self {
        Self::from_parts(parts, false, None)
    }

    fn from_parts(parts: SessionParts, initiator: bool, pending: Option<PendingPreKey>) -> Self {
        let SessionParts {
            ratchet,
            associated_data,
            local_identity,
            remote_identity,
            remote_address,
            base_key,
        } = parts;
        Self {
            ratchet,
            associated_data,
            local_identity,
            remote_identity,
            remote_address,
            base_key,
            initiator,
            pending,
            pending_kem: None,
        }
    }

    /// Encrypts `plaintext`. Until the peer has answered, the result is a pre-key message.
    ///
    /// `now` (Unix seconds) retires sessions nobody answered within
    /// [`MAX_UNACKNOWLEDGED_SESSION_AGE`].
    pub fn encrypt(
        &mut self,
        now: u64,
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SessionMessage, EncryptError> {
        if let Some(pending) = &self.pending
            && now.saturating_sub(pending.created_at) > MAX_UNACKNOWLEDGED_SESSION_AGE
        {
            return Err(EncryptError::StaleSession {
                created_at: pending.created_at,
                now,
            });
        }
        let message = self.ratchet.encrypt(&self.associated_data, plaintext, rng)?;
        Ok(match &self.pending {
            None => SessionMessage::Normal(message),
            Some(pending) => SessionMessage::PreKey(PreKeyMessage {
                identity_key: self.local_identity,
                base_key: self.base_key,
                signed_prekey_id: pending.signed_prekey_id,
                one_time_prekey_id: pending.one_time_prekey_id,
                kem: self.pending_kem.clone(),
                sender_address: pending.local_address.clone(),
                message,
            }),
        })
    }

    /// Decrypts a message of this session. On error the session is unchanged.
    pub fn decrypt(
        &mut self,
        message: &SessionMessage,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, DecryptError> {
        if let SessionMessage::PreKey(prekey) = message
            && !self.matches(prekey)
        {
            return Err(DecryptError::WrongSession);
        }
        let plaintext = self
            .ratchet
            .decrypt(&self.associated_data, message.message(), rng)?;
        // Any authenticated message from the peer proves it holds the session.
        self.pending = None;
        self.pending_kem = None;
        Ok(plaintext)
    }

    /// Whether a pre-key message belongs to this session (same initiator identity and base key,
    /// and we are its responder).
    pub fn matches(&self, message: &PreKeyMessage) -> bool {
        !self.initiator && message.base_key == self.base_key && message.identity_key == self.remote_identity
    }

    /// The initiator's base key: names the session, the same on both sides.
    pub fn session_id(&self) -> Curve25519PublicKey {
        self.base_key
    }

    /// The peer's identity key.
    pub fn remote_identity(&self) -> IdentityKey {
        self.remote_identity
    }

    /// The peer's address bound into this session.
    pub fn remote_address(&self) -> &[u8] {
        &self.remote_address
    }

    /// Whether the peer has answered (for the responder: always).
    pub fn has_received_reply(&self) -> bool {
        self.pending.is_none()
    }

    /// Whether [`Session::encrypt`] would refuse this session as stale at `now`.
    pub fn is_stale(&self, now: u64) -> bool {
        self.pending
            .as_ref()
            .is_some_and(|pending| now.saturating_sub(pending.created_at) > MAX_UNACKNOWLEDGED_SESSION_AGE)
    }

    /// Number of skipped message keys held (at most [`crate::ratchet::MAX_SKIPPED_KEYS`]).
    pub fn skipped_key_count(&self) -> usize {
        self.ratchet.skipped_key_count()
    }

    /// Number of receiving chains held (at most [`crate::ratchet::MAX_RECEIVING_CHAINS`]).
    pub fn receiving_chain_count(&self) -> usize {
        self.ratchet.receiving_chain_count()
    }

    /// Our current ratchet public key (cached; no curve operation).
    pub fn own_ratchet_key(&self) -> Curve25519PublicKey {
        self.ratchet.own_ratchet_key()
    }

    /// The session's saved form. Encrypt it with [`SessionPickle::encrypt`] before storing.
    pub fn pickle(&self) -> SessionPickle {
        SessionPickle {
            ratchet: self.ratchet.to_pickle(),
            associated_data: self.associated_data.clone(),
            local_identity: self.local_identity,
            remote_identity: self.remote_identity,
            remote_address: self.remote_address.clone(),
            base_key: self.base_key,
            initiator: self.initiator,
            pending: self.pending.clone(),
            kem: self.pending_kem.as_ref().map(KemHeader::to_pickle),
        }
    }

    /// Restores a session from its saved form.
    pub fn from_pickle(pickle: &SessionPickle) -> Result<Self, PickleError> {
        // Addresses longer than the wire format carries would make every pre-key message this
        // session sends undecodable (and past u16::MAX, mis-encoded): refuse them here, as
        // session creation does.
        let too_long = |address: &[u8]| address.len() > MAX_ADDRESS_LEN;
        if too_long(&pickle.remote_address)
            || pickle
                .pending
                .as_ref()
                .is_some_and(|pending| too_long(&pending.local_address))
        {
            return Err(PickleError::Malformed);
        }
        Ok(Self {
            ratchet: Ratchet::from_pickle(&pickle.ratchet).ok_or(PickleError::Malformed)?,
            associated_data: pickle.associated_data.clone(),
            local_identity: pickle.local_identity,
            remote_identity: pickle.remote_identity,
            remote_address: pickle.remote_address.clone(),
            base_key: pickle.base_key,
            initiator: pickle.initiator,
            pending: pickle.pending.clone(),
            pending_kem: match (&pickle.pending, &pickle.kem) {
                (Some(_), Some(kem)) => Some(KemHeader::from_pickle(kem).ok_or(PickleError::Malformed)?),
                (None, Some(_)) => return Err(PickleError::Malformed),
                (_, None) => None,
            },
        })
    }

    /// Raw ratchet keys `(root key, own ratchet secret, sending chain key)` for test vectors.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_keys(&self) -> ([u8; 32], [u8; 32], Option<[u8; 32]>) {
        self.ratchet.hazmat_keys()
    }

    /// The session associated data, for test vectors.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_associated_data(&self) -> &[u8] {
        &self.associated_data
    }
}

/// The saved form of a [`Session`] (format version 1). Holds secrets: it is wiped on drop and
/// should only be stored encrypted, via [`SessionPickle::encrypt`].
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct SessionPickle {
    ratchet: RatchetPickle,
    associated_data: Vec<u8>,
    #[zeroize(skip)]
    local_identity: IdentityKey,
    #[zeroize(skip)]
    remote_identity: IdentityKey,
    remote_address: Vec<u8>,
    #[zeroize(skip)]
    base_key: Curve25519PublicKey,
    initiator: bool,
    #[zeroize(skip)]
    pending: Option<PendingPreKey>,
    /// A PQXDH session's repeated KEM header: sealed beside the rest under kind 7, so a
    /// classical session keeps kind 2 and its old bytes (SPEC.md §11).
    #[serde(skip)]
    #[zeroize(skip)]
    kem: Option<KemHeaderPickle>,
}

const SESSION_KINDS: (u8, u8) = (pickle::KIND_SESSION, pickle::KIND_SESSION_PQ);

impl SessionPickle {
    /// Encrypts the pickle under `key` (AES-256-GCM, synthetic nonce: SPEC.md §11).
    pub fn encrypt(&self, key: &PickleKey, rng: &mut (impl CryptoRng + ?Sized)) -> Vec<u8> {
        pickle::seal_extended(SESSION_KINDS, key, self, self.kem.as_ref(), rng)
    }

    /// Decrypts and decodes a pickle made by [`SessionPickle::encrypt`].
    pub fn from_encrypted(key: &PickleKey, bytes: &[u8]) -> Result<Self, PickleError> {
        let (mut pickle, kem): (Self, _) = pickle::open_extended(SESSION_KINDS, key, bytes)?;
        pickle.kem = kem;
        Ok(pickle)
    }

    /// The plaintext encoding (postcard), deterministic: equal sessions give equal bytes.
    pub fn to_plaintext_bytes(&self) -> Vec<u8> {
        pickle::encode_extended(self, self.kem.as_ref())
    }

    /// The KEM header, kept outside the serde fields (see the field's doc).
    pub(crate) fn kem_header(&self) -> Option<&KemHeaderPickle> {
        self.kem.as_ref()
    }

    pub(crate) fn set_kem_header(&mut self, kem: Option<KemHeaderPickle>) {
        self.kem = kem;
    }
}

impl core::fmt::Debug for SessionPickle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SessionPickle(..)")
    }
}
