//! This device's account: made with a new profile, migrated from a single-device profile
//! (SPEC.md §16.1), saved with every change, and the accessors the rest of the core reads it
//! through.

use hush_crypto::devices::{
    AccountKey, AccountKeyPickle, AccountSigningKey, DeviceEntry, DeviceList, DeviceListError,
};
use hush_crypto::{Account, IdentityKey};
use hush_proto::ErrorResponse;
use rand_core::CryptoRng;

use crate::address::Address;
use crate::error::CoreError;

/// What the store keeps of this device's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnAccountRecord {
    /// The account key's seed, if this device holds it (store it sealed, as account pickles).
    pub signing_key: Option<AccountKeyPickle>,
    /// The pinned device list (SPEC.md §16.2 bytes); it names this device.
    pub list: Vec<u8>,
    /// The counter of the latest list the relay confirmed storing with this device's
    /// membership (0: none yet). Below the list's counter, the core publishes at login.
    pub published: u64,
}

/// Why this device's own list could not be published or brought up to date. Reported as
/// [`crate::Event::OwnListFailed`]; the core tries again at the next login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OwnListError {
    /// The relay refused the publish or the fetch of our list.
    #[error("the relay refused our device list: {:?}: {}", .0.code, .0.detail)]
    Refused(ErrorResponse),
    /// The relay holds a list of our account we do not accept: not signed by our account key,
    /// not newer than ours although the relay called ours stale, or malformed.
    #[error("the relay serves a device list of our account we do not accept: {0}")]
    Rejected(DeviceListError),
    /// The relay called our list stale but serves no list of our account.
    #[error("the relay called our device list stale but has none")]
    Missing,
    /// The account's newest list no longer names this device: another device removed it.
    #[error("this device was removed from its account")]
    RemovedFromAccount,
    /// The relay answered with something other than what was asked.
    #[error("the relay answered a device-list request with something else")]
    UnexpectedAnswer,
}

/// This device's account.
#[derive(Debug, Clone)]
pub struct OwnAccount {
    signing_key: Option<AccountSigningKey>,
    list: DeviceList,
    membership: [u8; 64],
    pub(crate) published: u64,
    /// The account's address (over the list's account key, which a later list keeps).
    address: Address,
}

impl OwnAccount {
    /// A new account whose first device is `device` (a new profile, or a migrated one: SPEC.md
    /// §16.1). `now` in Unix seconds. Draws the account key's seed.
    pub(crate) fn create(device: &Account, now: u64, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let signing_key = AccountSigningKey::generate(rng);
        let list = signing_key.first_device_list(DeviceEntry::new(device.identity_key(), now));
        Self::from_parts(device, Some(signing_key), list, 0)
    }

    /// An account this device joined (or adopted): `list` names `device`.
    pub(crate) fn from_parts(
        device: &Account,
        signing_key: Option<AccountSigningKey>,
        list: DeviceList,
        published: u64,
    ) -> Self {
        let membership = device.sign_membership(list.account_key());
        // An account key is validated as an identity key is (SPEC.md §16.1), so this holds.
        let address = Address::from_bytes(*list.account_key().as_bytes())
            .unwrap_or_else(|_| Address::from_identity(&device.identity_key()));
        Self {
            signing_key,
            list,
            membership,
            published,
            address,
        }
    }

    /// The account's address: what contacts write to so that every device gets it.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Restores what [`OwnAccount::record`] saved, for `device`.
    pub(crate) fn restore(device: &Account, record: &OwnAccountRecord) -> Result<Self, CoreError> {
        let list = DeviceList::from_bytes(&record.list)
            .map_err(|_| CoreError::Inconsistent("the saved device list does not verify"))?;
        if list.device(&device.identity_key()).is_none() {
            return Err(CoreError::Inconsistent(
                "the saved device list does not name this device",
            ));
        }
        let signing_key = record.signing_key.as_ref().map(AccountSigningKey::from_pickle);
        if signing_key
            .as_ref()
            .is_some_and(|key| &key.public() != list.account_key())
        {
            return Err(CoreError::Inconsistent("the saved account key is not the list's"));
        }
        Ok(Self::from_parts(device, signing_key, list, record.published))
    }

    /// What the store keeps.
    pub fn record(&self) -> OwnAccountRecord {
        OwnAccountRecord {
            signing_key: self.signing_key.as_ref().map(AccountSigningKey::pickle),
            list: self.list.to_bytes(),
            published: self.published,
        }
    }

    /// The account key (the address and safety number are over it).
    pub fn account_key(&self) -> AccountKey {
        *self.list.account_key()
    }

    /// The pinned device list (it names this device).
    pub fn list(&self) -> &DeviceList {
        &self.list
    }

    /// The list's devices other than `me` (this device's identity key).
    pub fn other_devices(&self, me: &IdentityKey) -> Vec<DeviceEntry> {
        self.list
            .devices()
            .iter()
            .filter(|entry| &entry.identity_key != me)
            .copied()
            .collect()
    }

    /// The account key's secret, if this device is an account holder (SPEC.md §16.7).
    pub fn signing_key(&self) -> Option<&AccountSigningKey> {
        self.signing_key.as_ref()
    }

    /// Whether this device holds the account key.
    pub fn is_holder(&self) -> bool {
        self.signing_key.is_some()
    }

    /// This device's membership signature for the account (SPEC.md §16.3).
    pub fn membership(&self) -> &[u8; 64] {
        &self.membership
    }

    /// Whether the relay confirmed storing the pinned list with our membership.
    pub fn is_published(&self) -> bool {
        self.published >= self.list.counter()
    }

    /// Pins `list` (a newer list of the account, naming this device), unpublished.
    pub(crate) fn pin(&mut self, list: DeviceList) {
        self.list = list;
        self.published = 0;
    }
}

/// How long after a `RateLimited` answer the core asks again, milliseconds.
pub const LIST_RETRY_MS: u64 = 60_000;

/// Where the publishing stands on the current connection (memory only).
#[derive(Debug, Clone, Default)]
pub(crate) struct ListSync {
    /// A publish or fetch of our list is unanswered.
    pub(crate) in_flight: bool,
    /// Not before this time (Unix ms): the relay rate-limited us.
    pub(crate) retry_at: Option<u64>,
    /// The relay's list was compared with ours on this connection.
    pub(crate) checked: bool,
    /// Something failed on this connection: nothing more until the next login.
    pub(crate) halted: bool,
}

impl ListSync {
    /// When the core wants [`crate::Core::handle_timeout`] for the list.
    pub(crate) fn next_timeout(&self) -> Option<u64> {
        self.retry_at
    }

    /// A new connection (or none).
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Linked devices whose bundle is still to be checked (memory only).
#[derive(Debug, Default)]
pub(crate) struct BundleChecks {
    pub(crate) waiting: Vec<IdentityKey>,
    pub(crate) in_flight: Vec<IdentityKey>,
}

impl BundleChecks {
    /// A new connection (or none): nothing is in flight.
    pub(crate) fn reset(&mut self) {
        self.in_flight.clear();
    }
}
