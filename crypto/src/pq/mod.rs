//! Post-quantum session setup (PQXDH, SPEC.md §17): ML-KEM-1024 keys, signed KEM prekeys, the
//! account's store of their secrets and the policy that decides whether classical X3DH is still
//! accepted.
//!
//! ```
//! use hush_crypto::pq::{PqPreKeyBundle, SetupPolicy};
//! use hush_crypto::{Account, SessionMessage};
//!
//! let mut rng = rand::rng();
//! let now = 1_700_000_000;
//! let alice = Account::new(now, &mut rng);
//! let mut bob = Account::new(now, &mut rng);
//! // Bob uploads one-time KEM prekeys and a last-resort one for his signed prekey.
//! let kem = bob.generate_kem_one_time_prekeys(1, &mut rng).remove(0);
//! bob.generate_last_resort_kem_prekey(&mut rng).unwrap();
//!
//! // The relay serves a version-2 bundle; Alice verifies it (KEM signature included).
//! let wire = bob.pq_prekey_bundle(None, Some(kem.id)).unwrap().to_bytes();
//! let bundle = PqPreKeyBundle::from_bytes(&wire).unwrap().verify(None).unwrap();
//! let mut session = alice
//!     .create_session(b"alice", b"bob", &bundle, SetupPolicy::default(), now, &mut rng)
//!     .unwrap();
//! let SessionMessage::PreKey(first) = session.encrypt(now, b"hi", &mut rng).unwrap() else { unreachable!() };
//! let inbound = bob
//!     .create_inbound_session_with_policy(b"bob", &first, SetupPolicy::default(), now, &mut rng)
//!     .unwrap();
//! assert_eq!(inbound.plaintext, b"hi");
//!
//! // A bundle without a KEM prekey is refused unless the caller allows classical setup.
//! let classical = bob.prekey_bundle(None).unwrap().verify(None).unwrap();
//! assert!(alice.create_session(b"alice", b"bob", &classical, SetupPolicy::default(), now, &mut rng).is_err());
//! ```

mod bundle;
pub mod kem;
pub(crate) mod kind;
mod policy;
pub mod prekey;
pub(crate) mod store;

pub use bundle::PqPreKeyBundle;
pub use kem::{KEM_CIPHERTEXT_LEN, KEM_PUBLIC_KEY_LEN, KEM_SEED_LEN, KemCiphertext, KemPublicKey};
pub use policy::SetupPolicy;
pub use prekey::{
    KEM_ALGORITHM_ML_KEM_1024, KemHeader, KemPreKeyId, KemPreKeyKind, KemPreKeyPublic, TYPE_KEM_PREKEY,
    kem_prekey_message,
};
pub use store::MAX_KEM_ONE_TIME_PREKEYS;
