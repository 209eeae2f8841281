//! All sessions with one peer device, and which one to send on (Signal's Sesame, reduced to one
//! peer): when both sides start a session at once, both end up sending on the same one.
//!
//! The rule for the *active* session (the one [`PeerSessions::encrypt`] uses):
//! - a session we add (our own outbound one) or one the peer just started (a new pre-key message)
//!   becomes active;
//! - a message that decrypts in another session makes that session active only if its
//!   [`Session::session_id`] is smaller than the active one's.
//!
//! Both sides hold every session either of them sends on, so between new sessions the active id
//! only decreases; once a message gets through each way, both sides send on the same session.
//! The cost: a message delayed from a session the peer has since lost can pull us back onto it,
//! until the peer starts a new one.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::account::Account;
use crate::error::{DecryptError, EncryptError, InboundError, PickleError};
use crate::keys::IdentityKey;
use crate::messages::SessionMessage;
use crate::pickle::{self, PickleKey};
use crate::pq::SetupPolicy;
use crate::pq::prekey::KemHeaderPickle;
use crate::ratchet::MAX_SKIP;
use crate::session::{Session, SessionPickle};

const PEER_KINDS: (u8, u8) = (pickle::KIND_PEER_SESSIONS, pickle::KIND_PEER_SESSIONS_PQ);

/// Most sessions kept with one peer. Two are needed for simultaneous initiation; the rest cover
/// the peer restarting sessions (reinstall, restore) while messages of older ones are still in
/// flight. A failed decryption may try every session, so the bound also caps the X25519 and
/// AEAD passes it makes ([`MAX_DERIVATIONS_PER_MESSAGE`] caps its key derivations). The least
/// recently used inactive session is dropped first.
pub const MAX_PEER_SESSIONS: usize = 5;

/// Most key derivations (KDF_CK and KDF_RK steps) one incoming message may cause across all the
/// sessions it is tried in. A message needs at most `2 * MAX_SKIP + 3` (4,003) in the session it
/// belongs to: the rest of the previous chain, a root step and the new chain up to its counter.
/// Twice that lets the active session, tried first, fail at that cost and the right session still
/// be tried; without the cap one message could cost [`MAX_PEER_SESSIONS`] times as much. Whether
/// a session fits is known from the counters before it derives anything.
pub const MAX_DERIVATIONS_PER_MESSAGE: u32 = 2 * (2 * MAX_SKIP + 3);

/// Why a message from the peer could not be decrypted. Nothing changes when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PeerDecryptError {
    /// A pre-key message from an identity other than this peer's.
    #[error("pre-key message from another identity than this peer's")]
    WrongPeer,
    /// A pre-key message of no session we hold could not start a new one.
    #[error("could not start a session: {0}")]
    Inbound(#[from] InboundError),
    /// No session decrypted the message. The error is the most telling one a session gave
    /// (duplicate or evicted key over a failed tag), [`DecryptError::Unauthenticated`] if none.
    #[error("no session decrypted the message: {0}")]
    Decrypt(#[from] DecryptError),
    /// No session tried decrypted the message, and the sessions left untried would have needed
    /// more key derivations than were left of [`MAX_DERIVATIONS_PER_MESSAGE`].
    #[error(
        "message would need {needed} more key derivations in untried sessions, {left} left of the \
         {MAX_DERIVATIONS_PER_MESSAGE} allowed per message"
    )]
    DerivationBudgetExhausted {
        /// Derivations the untried sessions would have made, together.
        needed: u32,
        /// Derivations left of the budget when the first of them was passed over.
        left: u32,
    },
}

/// Why a message to the peer could not be encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PeerEncryptError {
    /// No session with the peer yet: fetch a bundle and [`PeerSessions::add_outbound`].
    #[error("no session with this peer")]
    NoSession,
    /// A session was given to [`PeerSessions::add_outbound`] that is with another identity.
    #[error("session is with another identity than this peer's")]
    WrongPeer,
    /// The active session refused (for example [`EncryptError::StaleSession`]).
    #[error("{0}")]
    Encrypt(#[from] EncryptError),
}

/// The sessions with one peer device (identified by its identity key). Changes only on success.
#[derive(Debug, Clone)]
pub struct PeerSessions {
    remote_identity: IdentityKey,
    /// Least recently used first; the active session is `active`.
    sessions: Vec<Session>,
    active: Option<usize>,
}

impl PeerSessions {
    /// No sessions yet with the device whose identity is `remote_identity`.
    pub fn new(remote_identity: IdentityKey) -> Self {
        Self {
            remote_identity,
            sessions: Vec::new(),
            active: None,
        }
    }

    /// The peer's identity key.
    pub fn remote_identity(&self) -> IdentityKey {
        self.remote_identity
    }

    /// Number of sessions held (at most [`MAX_PEER_SESSIONS`]).
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The session [`PeerSessions::encrypt`] uses.
    pub fn active(&self) -> Option<&Session> {
        self.active.and_then(|index| self.sessions.get(index))
    }

    /// The sessions held, least recently used first.
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// Adds a session we started (from [`Account::create_outbound_session`]) and makes it active.
    pub fn add_outbound(&mut self, session: Session) -> Result<(), PeerEncryptError> {
        if session.remote_identity() != self.remote_identity {
            return Err(PeerEncryptError::WrongPeer);
        }
        self.push_active(session);
        Ok(())
    }

    /// Encrypts on the active session.
    pub fn encrypt(
        &mut self,
        now: u64,
        plaintext: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<SessionMessage, PeerEncryptError> {
        let session = self
            .active
            .and_then(|index| self.sessions.get_mut(index))
            .ok_or(PeerEncryptError::NoSession)?;
        Ok(session.encrypt(now, plaintext, rng)?)
    }

    /// Decrypts a message from the peer: a pre-key message in the session it names or, if none,
    /// in a new session started on `account` (which then changes as
    /// [`Account::create_inbound_session`] says); a normal message in whichever session
    /// decrypts it, trying sessions only while they fit in [`MAX_DERIVATIONS_PER_MESSAGE`].
    /// `local_address` is ours, as bound into sessions the peer starts.
    pub fn decrypt(
        &mut self,
        account: &mut Account,
        local_address: &[u8],
        message: &SessionMessage,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, PeerDecryptError> {
        self.decrypt_with_policy(
            account,
            local_address,
            message,
            SetupPolicy::AllowClassical,
            now,
            rng,
        )
    }

    /// [`PeerSessions::decrypt`], with a pre-key message that would start a new session held to
    /// `policy` ([`Account::create_inbound_session_with_policy`]): under
    /// [`SetupPolicy::RequirePostQuantum`] a classical one is refused.
    pub fn decrypt_with_policy(
        &mut self,
        account: &mut Account,
        local_address: &[u8],
        message: &SessionMessage,
        policy: SetupPolicy,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, PeerDecryptError> {
        if let SessionMessage::PreKey(prekey) = message {
            if prekey.identity_key() != self.remote_identity {
                return Err(PeerDecryptError::WrongPeer);
            }
            if let Some(index) = self.sessions.iter().position(|s| s.matches(prekey)) {
                return self.decrypt_in(index, message, rng);
            }
            let inbound =
                account.create_inbound_session_with_policy(local_address, prekey, policy, now, rng)?;
            self.push_active(inbound.session);
            return Ok(inbound.plaintext);
        }
        // Active session first: it is the one the peer most likely sends on.
        let order = self
            .active
            .into_iter()
            .chain((0..self.sessions.len()).rev().filter(|i| Some(*i) != self.active));
        let mut error = DecryptError::Unauthenticated;
        let mut left = MAX_DERIVATIONS_PER_MESSAGE;
        let mut passed_over: Option<(u32, u32)> = None;
        for index in order {
            let Some(session) = self.sessions.get_mut(index) else {
                continue;
            };
            let cost = session.ratchet.decrypt_cost(message.message());
            let Some(rest) = left.checked_sub(cost) else {
                let (needed, left_then) = passed_over.unwrap_or((0, left));
                passed_over = Some((needed.saturating_add(cost), left_then));
                continue;
            };
            left = rest;
            // A failed decrypt leaves the session unchanged, so trying each in turn is safe.
            match session.decrypt(message, rng) {
                Ok(plaintext) => {
                    self.received_in(index);
                    return Ok(plaintext);
                }
                Err(found @ (DecryptError::Duplicate { .. } | DecryptError::MessageKeyEvicted { .. })) => {
                    error = found;
                }
                Err(_) => {}
            }
        }
        match passed_over {
            Some((needed, left)) if error == DecryptError::Unauthenticated => {
                Err(PeerDecryptError::DerivationBudgetExhausted { needed, left })
            }
            _ => Err(error.into()),
        }
    }

    fn decrypt_in(
        &mut self,
        index: usize,
        message: &SessionMessage,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, PeerDecryptError> {
        let session = self.sessions.get_mut(index).ok_or(DecryptError::WrongSession)?;
        let plaintext = session.decrypt(message, rng)?;
        self.received_in(index);
        Ok(plaintext)
    }

    /// Bookkeeping after session `index` decrypted a message: it becomes most recently used, and
    /// active if its id is smaller than the active one's (the convergence rule).
    fn received_in(&mut self, index: usize) {
        let active_id = self.active().map(Session::session_id);
        let becomes_active = active_id.is_none_or(|id| {
            self.sessions
                .get(index)
                .is_some_and(|session| session.session_id().as_bytes() < id.as_bytes())
        });
        let keeps_active = self.active == Some(index);
        if let Some(session) = self.remove_at(index) {
            self.sessions.push(session);
            let last = self.sessions.len() - 1;
            if becomes_active || keeps_active {
                self.active = Some(last);
            }
        }
    }

    /// Removes session `index`, fixing up `active` (which is cleared if it was `index`).
    fn remove_at(&mut self, index: usize) -> Option<Session> {
        if index >= self.sessions.len() {
            return None;
        }
        let session = self.sessions.remove(index);
        self.active = match self.active {
            Some(active) if active == index => None,
            Some(active) if active > index => Some(active - 1),
            other => other,
        };
        Some(session)
    }

    fn push_active(&mut self, session: Session) {
        if self.sessions.len() >= MAX_PEER_SESSIONS {
            // Least recently used first; the active session is never the one dropped.
            if let Some(victim) = (0..self.sessions.len()).find(|i| Some(*i) != self.active) {
                self.remove_at(victim);
            }
        }
        self.sessions.push(session);
        self.active = Some(self.sessions.len() - 1);
    }

    /// The saved form. Encrypt it with [`PeerSessionsPickle::encrypt`] before storing.
    pub fn pickle(&self) -> PeerSessionsPickle {
        PeerSessionsPickle {
            remote_identity: self.remote_identity,
            sessions: self.sessions.iter().map(Session::pickle).collect(),
            active: self.active.and_then(|index| u32::try_from(index).ok()),
        }
    }

    /// Restores from the saved form.
    pub fn from_pickle(pickle: &PeerSessionsPickle) -> Result<Self, PickleError> {
        let active = pickle.checked_active()?;
        let sessions = pickle
            .sessions
            .iter()
            .map(Session::from_pickle)
            .collect::<Result<Vec<_>, _>>()?;
        if sessions
            .iter()
            .any(|session| session.remote_identity() != pickle.remote_identity)
        {
            return Err(PickleError::Malformed);
        }
        Ok(Self {
            remote_identity: pickle.remote_identity,
            sessions,
            active,
        })
    }
}

/// The saved form of a [`PeerSessions`]: its sessions' pickles in order and which one is active.
/// Holds secrets: wiped on drop, store it encrypted.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct PeerSessionsPickle {
    #[zeroize(skip)]
    remote_identity: IdentityKey,
    sessions: Vec<SessionPickle>,
    active: Option<u32>,
}

impl PeerSessionsPickle {
    /// The peer's identity key (what a store files the pickle under).
    pub fn remote_identity(&self) -> IdentityKey {
        self.remote_identity
    }

    /// The shape checks [`PeerSessions::from_pickle`] makes before restoring any key: at most
    /// [`MAX_PEER_SESSIONS`] sessions and an active index among them. Cheap (no key is rebuilt),
    /// so a store can refuse a malformed pickle without restoring it.
    pub fn check_shape(&self) -> Result<(), PickleError> {
        self.checked_active().map(|_| ())
    }

    fn checked_active(&self) -> Result<Option<usize>, PickleError> {
        if self.sessions.len() > MAX_PEER_SESSIONS {
            return Err(PickleError::Malformed);
        }
        match self.active {
            Some(index) => {
                let index = usize::try_from(index).map_err(|_| PickleError::Malformed)?;
                if index >= self.sessions.len() {
                    return Err(PickleError::Malformed);
                }
                Ok(Some(index))
            }
            None => Ok(None),
        }
    }

    /// The sessions' KEM headers (SPEC.md §11, kind 8), or `None` when no session has one, so
    /// classical peer sessions keep kind 5 and their old bytes.
    fn kem_headers(&self) -> Option<Vec<Option<KemHeaderPickle>>> {
        let headers: Vec<_> = self.sessions.iter().map(|s| s.kem_header().cloned()).collect();
        headers.iter().any(Option::is_some).then_some(headers)
    }

    /// Encrypts the pickle under `key`.
    pub fn encrypt(&self, key: &PickleKey, rng: &mut (impl CryptoRng + ?Sized)) -> Vec<u8> {
        pickle::seal_extended(PEER_KINDS, key, self, self.kem_headers().as_ref(), rng)
    }

    /// Decrypts and decodes a pickle made by [`PeerSessionsPickle::encrypt`].
    pub fn from_encrypted(key: &PickleKey, bytes: &[u8]) -> Result<Self, PickleError> {
        let (mut pickle, headers): (Self, Option<Vec<Option<KemHeaderPickle>>>) =
            pickle::open_extended(PEER_KINDS, key, bytes)?;
        if let Some(headers) = headers {
            if headers.len() != pickle.sessions.len() {
                return Err(PickleError::Malformed);
            }
            for (session, header) in pickle.sessions.iter_mut().zip(headers) {
                session.set_kem_header(header);
            }
        }
        Ok(pickle)
    }

    /// The plaintext encoding (postcard), deterministic.
    pub fn to_plaintext_bytes(&self) -> Vec<u8> {
        pickle::encode_extended(self, self.kem_headers().as_ref())
    }
}

impl core::fmt::Debug for PeerSessionsPickle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PeerSessionsPickle(..)")
    }
}
