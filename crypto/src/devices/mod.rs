//! Accounts with several devices (SPEC.md §16): the account key, the device list it signs, and
//! the link handshake a new device joins an account with.
//!
//! A device keeps its own identity key and sessions ([`crate::Account`]); an **account** is the
//! long-term Ed25519 [`AccountKey`] that names a person. The account key signs a versioned
//! [`DeviceList`]; each device consents to its account with a membership signature made by its
//! own identity key. A new device joins through a [`LinkRequest`] (its side, shown as a
//! [`LinkCode`]) and a link message an existing device seals for that code.
//!
//! ```
//! use hush_crypto::Account;
//! use hush_crypto::devices::{AccountSigningKey, DeviceEntry, LinkRequest};
//!
//! let mut rng = rand::rng();
//! let now = 1_700_000_000;
//! let phone = Account::new(now, &mut rng);
//! let account = AccountSigningKey::generate(&mut rng);
//! let list = account.first_device_list(DeviceEntry::new(phone.identity_key(), now));
//!
//! // The laptop shows a link code; the phone scans it and answers with a link message.
//! let laptop = Account::new(now, &mut rng);
//! let mut request = LinkRequest::new(laptop.identity_key(), now, &mut rng);
//! let code = request.code();
//! let new_list = account.add_device(&list, DeviceEntry::new(code.identity_key(), now)).unwrap();
//! let message = code
//!     .seal(&phone.identity_key(), &new_list, Some(&account), b"contacts", b"", now, &mut rng)
//!     .unwrap();
//!
//! // The laptop opens it: it is now a device of the account, and holds the account key.
//! let linked = request.open(&message, now).unwrap();
//! assert_eq!(linked.device_list.account_key(), &account.public());
//! assert_eq!(linked.contacts, b"contacts");
//! assert!(linked.account_signing_key.is_some());
//! ```

mod code;
mod error;
mod link;
mod list;
mod pickle;

use core::fmt;

use rand_core::CryptoRng;

pub use code::{LINK_CODE_LEN, LINK_CODE_LIFETIME, LinkCode, LinkRequest, MAX_LINK_CLOCK_SKEW};
pub use error::{DeviceListError, LinkCodeError, LinkError};
pub use link::{
    LINK_EPHEMERAL_INFO, LINK_MESSAGE_HEADER_LEN, LINK_MESSAGE_INFO, Linked, MAX_LINK_CONTACTS_LEN,
    MAX_LINK_HISTORY_LEN, MAX_LINK_PAYLOAD_LEN,
};
pub use list::{DeviceEntry, DeviceList, MAX_DEVICE_LIST_LEN, MAX_DEVICES};
pub use pickle::{AccountKeyPickle, LinkRequestPickle};

use crate::error::KeyError;
use crate::keys::{IdentityKey, Secret32, SigningKey};
use crate::signature::{SignaturePurpose, purpose_signed_message};

/// First byte of every account-layer encoding (device list, link code, link message). Version 1
/// is the device-only protocol of SPEC.md §1–§15, which has none of these messages.
pub const ACCOUNT_VERSION: u8 = 2;
/// Type byte of a [`DeviceList`].
pub const TYPE_DEVICE_LIST: u8 = 0x06;
/// Type byte of a [`LinkCode`].
pub const TYPE_LINK_CODE: u8 = 0x07;
/// Type byte of a link message.
pub const TYPE_LINK_MESSAGE: u8 = 0x08;

/// An account's long-term public key (Ed25519, validated as an identity key is). The address
/// and the account safety number are computed over it, so they survive device changes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey(IdentityKey);

impl AccountKey {
    /// Parses and validates an account key (the Ed25519 rules of SPEC.md §3.2).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        IdentityKey::from_bytes(bytes).map(Self)
    }

    /// The 32-byte Ed25519 encoding.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The key as an Ed25519 verifying key (for the safety number; an account's address is
    /// made from it without validating the bytes again).
    pub fn as_identity(&self) -> &IdentityKey {
        &self.0
    }

    /// Verifies a device's membership signature: `device` consents to belong to this account
    /// (SPEC.md §16.3).
    pub fn verify_membership(&self, device: &IdentityKey, signature: &[u8; 64]) -> Result<(), KeyError> {
        device.verify_for(SignaturePurpose::AccountMembership, self.as_bytes(), signature)
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountKey({})", crate::keys::hex(self.as_bytes()))
    }
}

/// The account's secret key. It signs device lists and nothing else. Zeroized on drop (the
/// wrapped dalek key is); no `Debug` output of the seed.
#[derive(Clone)]
pub struct AccountSigningKey(SigningKey);

impl AccountSigningKey {
    /// A new account key: draws a 32-byte seed.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self(SigningKey::generate(rng))
    }

    /// The key of a 32-byte seed (as a link message carries it).
    pub(crate) fn from_seed(seed: &Secret32) -> Self {
        Self(SigningKey::from_seed(seed))
    }

    /// The key of a known seed, for test vectors.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_from_seed(seed: [u8; 32]) -> Self {
        Self::from_seed(&Secret32::new(seed))
    }

    /// The seed, for test vectors.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_seed(&self) -> [u8; 32] {
        *self.0.seed().bytes()
    }

    /// Signs arbitrary list bytes (`body`, a list encoding without its signature), for test
    /// vectors of lists no honest signer makes.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_sign_list_body(&self, body: &[u8]) -> [u8; 64] {
        self.sign_list_body(body)
    }

    /// The seed, to hand to a device that becomes an account holder.
    pub(crate) fn seed(&self) -> Secret32 {
        self.0.seed()
    }

    /// The public account key.
    pub fn public(&self) -> AccountKey {
        AccountKey(self.0.public())
    }

    /// `Ed25519(account, "Hush_v1_IdentitySignature" || 3 || body)`.
    pub(crate) fn sign_list_body(&self, body: &[u8]) -> [u8; 64] {
        self.0
            .sign(&purpose_signed_message(SignaturePurpose::DeviceList, body))
    }
}

impl fmt::Debug for AccountSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AccountSigningKey").field(&self.public()).finish()
    }
}

impl crate::Account {
    /// This device's membership signature for `account` (SPEC.md §16.3): its consent to be
    /// listed as one of the account's devices. Contacts require it next to the account's list.
    pub fn sign_membership(&self, account: &AccountKey) -> [u8; 64] {
        self.sign(SignaturePurpose::AccountMembership, account.as_bytes())
    }
}
