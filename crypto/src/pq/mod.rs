//! Post-quantum session setup (PQXDH, SPEC.md §17): ML-KEM-1024 keys, signed KEM prekeys, the
//! account's store of their secrets and the policy that decides whether classical X3DH is still
//! accepted.

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
