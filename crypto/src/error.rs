//! Error types, one per operation. Peer misbehaviour (bad bytes, bad tags, replays) and caller
//! misuse (oversize plaintext, stale session) are distinct variants.

use thiserror::Error;

/// A key or DH result that Hush refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An X25519 public key was not a canonical encoding (`u >= 2^255 - 19` or top bit set).
    #[error("X25519 public key is not canonically encoded")]
    NonCanonical,
    /// An X25519 public key is a point of small order.
    #[error("X25519 public key is a low-order point")]
    LowOrder,
    /// The X25519 shared secret was all zero (RFC 7748 §6.1 contributory check).
    #[error("X25519 shared secret is all zero")]
    NonContributory,
    /// Bytes that are not a valid, canonical, non-weak Ed25519 public key.
    #[error("invalid Ed25519 public key")]
    InvalidEd25519,
    /// An Ed25519 signature did not verify under strict rules.
    #[error("Ed25519 signature does not verify")]
    BadSignature,
    /// Bytes that are not an ML-KEM-1024 encapsulation key: a coefficient is not below `q`
    /// (FIPS 203 §7.2 modulus check).
    #[error("invalid ML-KEM-1024 encapsulation key")]
    InvalidKemKey,
    /// HKDF was asked for more than 255 * 32 bytes.
    #[error("HKDF output of {requested} bytes is longer than 8160")]
    KdfLength {
        /// Requested output length.
        requested: usize,
    },
}

/// AES-GCM authentication failed (wrong key, wrong associated data, or tampered bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("AEAD authentication failed")]
pub struct AeadError;

/// Bytes that are not a well-formed Hush wire message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before a field was complete.
    #[error("truncated: {field} needs {needed} more bytes, {available} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// Bytes were left after a complete message.
    #[error("{count} trailing bytes after a complete message")]
    TrailingBytes {
        /// Number of unread bytes.
        count: usize,
    },
    /// The version byte is not one this library speaks.
    #[error("unsupported version {found}, expected {expected}")]
    UnsupportedVersion {
        /// Version this library speaks.
        expected: u8,
        /// Version that came.
        found: u8,
    },
    /// The type byte names a different message kind.
    #[error("message type {found:#04x}, expected {expected:#04x}")]
    UnexpectedType {
        /// Type wanted here.
        expected: u8,
        /// Type that came.
        found: u8,
    },
    /// A length field is over its limit (checked before any allocation).
    #[error("{field} length {length} is over the limit of {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Length that came.
        length: usize,
        /// Limit.
        max: usize,
    },
    /// A length field is under its minimum.
    #[error("{field} length {length} is under the minimum of {min}")]
    TooShort {
        /// The field.
        field: &'static str,
        /// Length that came.
        length: usize,
        /// Minimum.
        min: usize,
    },
    /// A flag byte held something other than 0 or 1.
    #[error("{field} flag byte is {value}, expected 0 or 1")]
    InvalidFlag {
        /// The field.
        field: &'static str,
        /// Value that came.
        value: u8,
    },
    /// A key field holds a key Hush refuses.
    #[error("{field}: {source}")]
    InvalidKey {
        /// The field.
        field: &'static str,
        /// Why the key is refused.
        source: KeyError,
    },
}

/// A prekey bundle that must not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The signed prekey's signature does not verify under the bundle's identity key.
    #[error("signed prekey signature does not verify under the bundle identity")]
    BadSignature,
    /// The bundle's identity differs from the one pinned for this contact.
    #[error("bundle identity differs from the pinned identity")]
    IdentityMismatch,
    /// The bundle bytes are malformed.
    #[error("malformed bundle: {0}")]
    Decode(#[from] DecodeError),
    /// The signed prekey was created at least [`crate::SIGNED_PREKEY_ROTATION`] +
    /// [`crate::SIGNED_PREKEY_GRACE`] before `now`: its owner has erased it, or stopped rotating.
    #[error("signed prekey created at {created_at} is too old at {now}")]
    SignedPreKeyTooOld {
        /// The signed prekey's `created_at` (Unix seconds).
        created_at: u64,
        /// The time passed in.
        now: u64,
    },
    /// The signed prekey is dated more than [`crate::MAX_SIGNED_PREKEY_CLOCK_SKEW`] after `now`.
    #[error("signed prekey created at {created_at} is in the future at {now}")]
    SignedPreKeyInTheFuture {
        /// The signed prekey's `created_at` (Unix seconds).
        created_at: u64,
        /// The time passed in.
        now: u64,
    },
    /// The KEM prekey's signature does not verify under the bundle identity (purpose
    /// `KemPreKey`, SPEC.md §17.2).
    #[error("KEM prekey signature does not verify under the bundle identity")]
    BadKemSignature,
    /// A last-resort KEM prekey whose id is not the bundle's signed prekey id.
    #[error("last-resort KEM prekey {kem_prekey_id} does not belong to signed prekey {signed_prekey_id}")]
    KemPreKeyMismatch {
        /// The KEM prekey's id.
        kem_prekey_id: u32,
        /// The bundle's signed prekey id.
        signed_prekey_id: u32,
    },
}

/// Why an outbound session could not be created from a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The bundle was refused.
    #[error("bundle refused: {0}")]
    Bundle(#[from] BundleError),
    /// A key exchange step gave a non-contributory result.
    #[error("key agreement failed: {0}")]
    KeyAgreement(KeyError),
    /// The bundle has no KEM prekey and the policy is [`crate::pq::SetupPolicy::RequirePostQuantum`]:
    /// a classical session would be open to a quantum-capable recorder (or a relay stripped the key).
    #[error("bundle has no KEM prekey and classical setup is not allowed")]
    ClassicalSetupRefused,
    /// An address is longer than [`crate::MAX_ADDRESS_LEN`].
    #[error("address of {length} bytes is over the limit of {max}")]
    AddressTooLong {
        /// Length given.
        length: usize,
        /// Limit.
        max: usize,
    },
}

/// Why an initial (pre-key) message could not start an inbound session. Nothing is written to the
/// account when any of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InboundError {
    /// The message bytes are malformed.
    #[error("malformed pre-key message: {0}")]
    Decode(#[from] DecodeError),
    /// The message names a signed prekey this account does not hold.
    #[error("unknown signed prekey id {id}")]
    UnknownSignedPreKey {
        /// Id named by the message.
        id: u32,
    },
    /// The named signed prekey was rotated out and its grace window has passed.
    #[error("signed prekey {id} has expired")]
    ExpiredSignedPreKey {
        /// Id named by the message.
        id: u32,
    },
    /// The message names a one-time prekey that is unknown or already used.
    #[error("unknown or already used one-time prekey id {id}")]
    UnknownOneTimePreKey {
        /// Id named by the message.
        id: u32,
    },
    /// A session was already created from this base key: the message is a replay.
    #[error("pre-key message replayed (base key already used)")]
    ReplayedBaseKey,
    /// The message uses no one-time prekey and signed prekey `id` already remembers
    /// [`crate::MAX_BASE_KEYS_PER_SIGNED_PREKEY`] base keys: its replays could no longer be told
    /// apart, so it is refused rather than forgetting one. The owner should rotate.
    #[error("signed prekey {id} remembers the most base keys it may; no session without a one-time prekey")]
    ReplayCacheFull {
        /// Id named by the message.
        id: u32,
    },
    /// The message names a KEM prekey this account does not hold: a one-time one already used
    /// (a replay or a relay that served it twice), or one never made.
    #[error("unknown or already used {kind:?} KEM prekey id {id}")]
    UnknownKemPreKey {
        /// The kind named by the message.
        kind: crate::pq::kind::KemPreKeyKind,
        /// The id named by the message.
        id: u32,
    },
    /// A classical (X3DH-only) pre-key message under
    /// [`crate::pq::SetupPolicy::RequirePostQuantum`].
    #[error("pre-key message has no KEM ciphertext and classical setup is not allowed")]
    ClassicalSetupRefused,
    /// The message did not authenticate. One uniform error for every cryptographic failure
    /// (bad keys, failed DH, failed tag), so an attacker learns nothing from which step failed.
    #[error("pre-key message did not authenticate")]
    Unauthenticated,
    /// Our own address is longer than [`crate::MAX_ADDRESS_LEN`].
    #[error("address of {length} bytes is over the limit of {max}")]
    AddressTooLong {
        /// Length given.
        length: usize,
        /// Limit.
        max: usize,
    },
}

/// Why a message could not be encrypted. These are caller-side conditions.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The plaintext is longer than [`crate::MAX_PLAINTEXT_LEN`].
    #[error("plaintext of {length} bytes is over the limit of {max}")]
    PlaintextTooLong {
        /// Length given.
        length: usize,
        /// Limit.
        max: usize,
    },
    /// The session was never answered and is older than
    /// [`crate::session::MAX_UNACKNOWLEDGED_SESSION_AGE`]: start a new one from a fresh bundle.
    #[error("session unanswered since {created_at}, too old at {now}: fetch a new bundle")]
    StaleSession {
        /// When the session was created (Unix seconds).
        created_at: u64,
        /// The time passed in.
        now: u64,
    },
    /// The sending chain counter would overflow `u32`; start a new session.
    #[error("sending chain exhausted")]
    ChainExhausted,
}

/// Why a message could not be decrypted. The session is unchanged whenever this is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The message bytes are malformed.
    #[error("malformed message: {0}")]
    Decode(#[from] DecodeError),
    /// The AEAD tag did not verify.
    #[error("message did not authenticate")]
    Unauthenticated,
    /// This message was already decrypted.
    #[error("duplicate message {counter}")]
    Duplicate {
        /// Message counter.
        counter: u32,
    },
    /// The key for this (old) message was evicted from the bounded store of skipped keys. (A
    /// message whose whole receiving chain was dropped, past
    /// [`crate::ratchet::MAX_RECEIVING_CHAINS`], cannot be told from a forgery and gives
    /// [`DecryptError::Unauthenticated`].)
    #[error("message key {counter} no longer kept")]
    MessageKeyEvicted {
        /// Message counter.
        counter: u32,
    },
    /// The message would need more than [`crate::ratchet::MAX_SKIP`] keys skipped.
    #[error("message skips {requested} keys, over the limit of {max}")]
    TooManySkipped {
        /// Keys that would have to be skipped.
        requested: u64,
        /// Limit.
        max: u32,
    },
    /// The message carries a ratchet key Hush refuses, or the DH with it failed.
    #[error("bad ratchet key: {0}")]
    BadRatchetKey(KeyError),
    /// A pre-key message belongs to a different session (another base key or identity).
    #[error("pre-key message belongs to another session")]
    WrongSession,
}

/// Why a group (sender-key) message or distribution was refused. Receiver state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GroupError {
    /// Malformed bytes.
    #[error("malformed group message: {0}")]
    Decode(#[from] DecodeError),
    /// The Ed25519 signature does not verify under the sender's signing key.
    #[error("group message signature does not verify")]
    BadSignature,
    /// The message names another distribution id than this receiver's chain.
    #[error("group message is for another distribution")]
    WrongChain,
    /// The message or distribution names another group than the chain or chain set it was
    /// given to.
    #[error("group message or distribution names another group")]
    WrongGroup,
    /// The message names another sender than the chain's (a message re-labelled to another
    /// member).
    #[error("group message names another sender than its chain's")]
    WrongSender,
    /// The message names another group epoch than the chain's.
    #[error("group message is for epoch {found}, its chain is of epoch {expected}")]
    WrongEpoch {
        /// The chain's epoch.
        expected: u64,
        /// The epoch the message names.
        found: u64,
    },
    /// A distribution names another sender than the pairwise session's peer it arrived over
    /// (a member forwarding another's distribution as its own).
    #[error("sender-key distribution names another sender than the session it came over")]
    ForwardedDistribution,
    /// No chain of this sender and distribution id is known (its distribution has not arrived,
    /// or the chain was dropped).
    #[error("no chain for this group message's sender and distribution id")]
    UnknownChain,
    /// A distribution for a chain already held (same sender and distribution id) carries other
    /// keys or another iteration (an identical one is a harmless re-delivery).
    #[error("sender-key distribution conflicts with the chain already held")]
    ConflictingDistribution,
    /// The AEAD tag did not verify.
    #[error("group message did not authenticate")]
    Unauthenticated,
    /// Already decrypted.
    #[error("duplicate group message {iteration}")]
    Duplicate {
        /// Message iteration.
        iteration: u32,
    },
    /// Older than this receiver's starting point, or its key was evicted.
    #[error("group message key {iteration} no longer kept")]
    MessageKeyEvicted {
        /// Message iteration.
        iteration: u32,
    },
    /// Would skip more than [`crate::ratchet::MAX_SKIP`] keys.
    #[error("group message skips {requested} keys, over the limit of {max}")]
    TooManySkipped {
        /// Keys that would have to be skipped.
        requested: u64,
        /// Limit.
        max: u32,
    },
    /// Caller error: the plaintext is too long.
    #[error("plaintext of {length} bytes is over the limit of {max}")]
    PlaintextTooLong {
        /// Length given.
        length: usize,
        /// Limit.
        max: usize,
    },
    /// The sender chain counter would overflow; rotate the sender key.
    #[error("sender chain exhausted")]
    ChainExhausted,
}

/// Why a pickle could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PickleError {
    /// Wrong pickle key or tampered bytes.
    #[error("pickle did not authenticate (wrong key or corrupted)")]
    Unauthenticated,
    /// The pickle format version is not one this library reads.
    #[error("unsupported pickle version {found}")]
    UnsupportedVersion {
        /// Version that came.
        found: u8,
    },
    /// The pickle is too short to hold its header.
    #[error("pickle is truncated")]
    Truncated,
    /// The decrypted contents do not decode as the expected type.
    #[error("pickle contents are malformed")]
    Malformed,
    /// The contents decode but hold an invalid key or broken invariant.
    #[error("pickle holds an invalid key: {0}")]
    InvalidKey(KeyError),
}
