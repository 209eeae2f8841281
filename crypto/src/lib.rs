//! # hush-crypto
//!
//! The cryptographic core of Hush: X3DH and PQXDH key agreement ([`pq`], with ML-KEM-1024), the
//! Double Ratchet, sender keys for groups and safety numbers, on x25519-dalek, ed25519-dalek,
//! ml-kem, AES-256-GCM and HKDF-SHA256.
//! No I/O and no clock: time comes in as `now` (Unix seconds), randomness as an RNG.
//! Every byte layout and KDF label is written down in `test-vectors/SPEC.md`.
//!
//! ```
//! use hush_crypto::{Account, SessionMessage};
//!
//! let mut rng = rand::rng();
//! let now = 1_700_000_000;
//! let alice = Account::new(now, &mut rng);
//! let mut bob = Account::new(now, &mut rng);
//!
//! // Bob publishes a bundle (through the relay); Alice fetches and verifies it.
//! let otk = bob.generate_one_time_prekeys(1, &mut rng)[0];
//! let bundle = bob.prekey_bundle(Some(otk.id)).unwrap().verify(None).unwrap();
//!
//! // Alice starts a session and sends; the first messages carry the X3DH header.
//! let mut alice_session = alice.create_outbound_session(b"alice", b"bob", &bundle, now, &mut rng).unwrap();
//! let wire = alice_session.encrypt(now, b"hello Bob", &mut rng).unwrap().to_bytes();
//!
//! // Bob starts his side from that message.
//! let SessionMessage::PreKey(first) = SessionMessage::from_bytes(&wire).unwrap() else { unreachable!() };
//! let inbound = bob.create_inbound_session(b"bob", &first, now, &mut rng).unwrap();
//! assert_eq!(inbound.plaintext, b"hello Bob");
//! let mut bob_session = inbound.session;
//!
//! // Bob replies; from then on both send plain ratchet messages.
//! let reply = bob_session.encrypt(now, b"hi Alice", &mut rng).unwrap();
//! assert_eq!(alice_session.decrypt(&reply, &mut rng).unwrap(), b"hi Alice");
//! assert!(matches!(alice_session.encrypt(now, b"!", &mut rng).unwrap(), SessionMessage::Normal(_)));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod account;
pub mod devices;
mod error;
/// Entry points of the cargo-fuzz targets in `fuzz/` and their seed corpus.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod group;
mod keys;
mod messages;
pub mod peer;
pub mod pickle;
pub mod pq;
pub mod primitives;
pub mod ratchet;
pub mod safety;
pub mod sealed;
pub mod session;
mod signature;
mod wire;
pub mod x3dh;

pub use account::{
    Account, AccountPickle, BASE_KEY_ROTATION_THRESHOLD, InboundSession, MAX_BASE_KEYS_PER_SIGNED_PREKEY,
    MAX_ONE_TIME_PREKEYS, MAX_REMEMBERED_BASE_KEYS, MAX_SIGNED_PREKEY_CLOCK_SKEW, MAX_SIGNED_PREKEYS,
    SIGNED_PREKEY_GRACE, SIGNED_PREKEY_ROTATION,
};
pub use error::{
    AeadError, BundleError, DecodeError, DecryptError, EncryptError, GroupError, InboundError, KeyError,
    PickleError, SessionError,
};
pub use keys::{Curve25519PublicKey, IdentityKey};
pub use messages::{
    MAX_ADDRESS_LEN, MAX_CIPHERTEXT_LEN, MAX_PLAINTEXT_LEN, Message, OneTimePreKeyPublic, PreKeyBundle,
    PreKeyMessage, SessionMessage, SignedPreKeyPublic, VerifiedBundle, signed_prekey_message,
};
pub use pickle::PickleKey;
pub use safety::SafetyNumber;
pub use session::{Session, SessionPickle};
pub use signature::{PURPOSE_SIGNATURE_LABEL, SignaturePurpose, purpose_signed_message};
pub use wire::{PQXDH_VERSION, VERSION};
