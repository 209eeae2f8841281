//! The signed device list (SPEC.md §16.2): which device identity keys belong to an account, in
//! one canonical encoding, signed by the account key, with a counter that only grows.

use super::error::DeviceListError;
use super::{ACCOUNT_VERSION, AccountKey, AccountSigningKey, TYPE_DEVICE_LIST};
use crate::error::DecodeError;
use crate::keys::IdentityKey;
use crate::signature::SignaturePurpose;
use crate::wire::{Reader, Writer};

/// Most devices an account has: Signal's figure (a primary and five linked devices). Every
/// message is encrypted once per device of the recipient and of the sender's own account, so
/// this bounds the fan-out of one send to `2 * MAX_DEVICES - 1` copies.
pub const MAX_DEVICES: usize = 6;

/// Bytes before the entries: version, type, account key, counter, device count.
const LIST_HEADER_LEN: usize = 2 + 32 + 8 + 1;
/// An entry with a mailbox: identity key, created_at, flag, mailbox.
const MAX_ENTRY_LEN: usize = 32 + 8 + 1 + 32;
/// Length of the signature that ends a list.
const SIGNATURE_LEN: usize = 64;

/// Longest encoding of a device list (six entries, each with a mailbox): 545 bytes.
pub const MAX_DEVICE_LIST_LEN: usize = LIST_HEADER_LEN + MAX_DEVICES * MAX_ENTRY_LEN + SIGNATURE_LEN;

/// One device of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceEntry {
    /// The device's identity key (its sessions and sealed-sender key).
    pub identity_key: IdentityKey,
    /// When the device joined (Unix seconds, the linking device's clock).
    pub created_at: u64,
    /// The device's relay mailbox id, when it is not the one derived from its identity key
    /// (`SHA-256("Hush_v1_Mailbox" || identity_key)`, proto/PROTOCOL.md).
    pub mailbox: Option<[u8; 32]>,
}

impl DeviceEntry {
    /// An entry whose mailbox is the one derived from its identity key.
    pub fn new(identity_key: IdentityKey, created_at: u64) -> Self {
        Self {
            identity_key,
            created_at,
            mailbox: None,
        }
    }
}

/// A device list whose signature verified under its own account key. Whether that account key
/// is the right one, and whether the list is newer than what the caller holds, is
/// [`DeviceList::verify_update`]'s and [`DeviceList::verify_for_account`]'s job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceList {
    account_key: AccountKey,
    counter: u64,
    devices: Vec<DeviceEntry>,
    signature: [u8; 64],
}

/// Checks count, order and duplicates of entries sorted or to be sorted.
fn check_devices(devices: &[DeviceEntry]) -> Result<(), DeviceListError> {
    if devices.is_empty() {
        return Err(DeviceListError::NoDevices);
    }
    if devices.len() > MAX_DEVICES {
        return Err(DeviceListError::TooManyDevices {
            count: devices.len(),
            max: MAX_DEVICES,
        });
    }
    for pair in devices.windows(2) {
        if let [first, second] = pair {
            match first.identity_key.cmp(&second.identity_key) {
                core::cmp::Ordering::Less => {}
                core::cmp::Ordering::Equal => return Err(DeviceListError::DuplicateDevice),
                core::cmp::Ordering::Greater => return Err(DeviceListError::DevicesOutOfOrder),
            }
        }
    }
    Ok(())
}

/// The signed part: everything before the signature.
fn encode_body(account_key: &AccountKey, counter: u64, devices: &[DeviceEntry]) -> Vec<u8> {
    let mut writer = Writer::with_versioned_header(ACCOUNT_VERSION, TYPE_DEVICE_LIST, MAX_DEVICE_LIST_LEN);
    writer
        .put(account_key.as_bytes())
        .u64(counter)
        .u8(u8::try_from(devices.len()).unwrap_or(u8::MAX));
    for device in devices {
        writer.put(device.identity_key.as_bytes()).u64(device.created_at);
        match &device.mailbox {
            Some(mailbox) => writer.u8(1).put(mailbox),
            None => writer.u8(0),
        };
    }
    writer.bytes
}

impl DeviceList {
    /// Decodes a device list strictly and verifies its signature under the account key it
    /// names. Checks in SPEC.md §16.2 order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DeviceListError> {
        let mut reader = Reader::new(bytes);
        reader.versioned_header(ACCOUNT_VERSION, TYPE_DEVICE_LIST)?;
        let account_key = AccountKey(reader.identity_key("account_key")?);
        let counter = reader.u64("counter")?;
        let count = usize::from(reader.u8("device_count")?);
        if count == 0 {
            return Err(DeviceListError::NoDevices);
        }
        if count > MAX_DEVICES {
            return Err(DeviceListError::TooManyDevices {
                count,
                max: MAX_DEVICES,
            });
        }
        let mut devices: Vec<DeviceEntry> = Vec::with_capacity(count);
        for _ in 0..count {
            let identity_key = reader.identity_key("device_identity_key")?;
            if let Some(last) = devices.last() {
                match last.identity_key.cmp(&identity_key) {
                    core::cmp::Ordering::Less => {}
                    core::cmp::Ordering::Equal => return Err(DeviceListError::DuplicateDevice),
                    core::cmp::Ordering::Greater => return Err(DeviceListError::DevicesOutOfOrder),
                }
            }
            let created_at = reader.u64("device_created_at")?;
            let mailbox = if reader.flag("device_has_mailbox")? {
                Some(reader.array::<32>("device_mailbox")?)
            } else {
                None
            };
            devices.push(DeviceEntry {
                identity_key,
                created_at,
                mailbox,
            });
        }
        let signature = reader.array::<64>("signature")?;
        reader.finish()?;
        let body_len = bytes.len().saturating_sub(SIGNATURE_LEN);
        let body = bytes.get(..body_len).ok_or(DecodeError::Truncated {
            field: "signature",
            needed: SIGNATURE_LEN,
            available: bytes.len(),
        })?;
        account_key
            .as_identity()
            .verify_for(SignaturePurpose::DeviceList, body, &signature)
            .map_err(|_| DeviceListError::BadSignature)?;
        Ok(Self {
            account_key,
            counter,
            devices,
            signature,
        })
    }

    /// Decodes and verifies a list that must be signed by `account_key` (the one a contact's
    /// address names): a list signed by another key is [`DeviceListError::AccountKeyChanged`].
    pub fn verify_for_account(bytes: &[u8], account_key: &AccountKey) -> Result<Self, DeviceListError> {
        let list = Self::from_bytes(bytes)?;
        if &list.account_key != account_key {
            return Err(DeviceListError::AccountKeyChanged);
        }
        Ok(list)
    }

    /// Decodes and verifies a list that replaces `pinned`: same account key, and a counter
    /// strictly greater (an equal counter is a replay even with equal bytes; callers that get the
    /// pinned bytes again compare bytes first).
    pub fn verify_update(bytes: &[u8], pinned: &DeviceList) -> Result<Self, DeviceListError> {
        let list = Self::verify_for_account(bytes, &pinned.account_key)?;
        if list.counter <= pinned.counter {
            return Err(DeviceListError::CounterNotGrowing {
                pinned: pinned.counter,
                found: list.counter,
            });
        }
        Ok(list)
    }

    /// The canonical encoding (what [`DeviceList::from_bytes`] accepts).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = encode_body(&self.account_key, self.counter, &self.devices);
        bytes.extend_from_slice(&self.signature);
        bytes
    }

    /// The account key that signed the list.
    pub fn account_key(&self) -> &AccountKey {
        &self.account_key
    }

    /// The list's counter: each new list of an account has a greater one.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// The devices, in ascending order of identity key.
    pub fn devices(&self) -> &[DeviceEntry] {
        &self.devices
    }

    /// The entry of `identity_key`, if the list names it.
    pub fn device(&self, identity_key: &IdentityKey) -> Option<&DeviceEntry> {
        self.devices
            .binary_search_by(|entry| entry.identity_key.cmp(identity_key))
            .ok()
            .and_then(|index| self.devices.get(index))
    }

    /// The account key's signature over the list.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
}

impl AccountSigningKey {
    /// Signs a list of `devices` (sorted here) with `counter`. Refuses lists no verifier would
    /// accept: no device, more than [`MAX_DEVICES`], a device twice.
    pub fn sign_device_list(
        &self,
        counter: u64,
        mut devices: Vec<DeviceEntry>,
    ) -> Result<DeviceList, DeviceListError> {
        devices.sort_by_key(|entry| entry.identity_key);
        check_devices(&devices)?;
        let account_key = self.public();
        let signature = self.sign_list_body(&encode_body(&account_key, counter, &devices));
        Ok(DeviceList {
            account_key,
            counter,
            devices,
            signature,
        })
    }

    /// The first list of a new account (counter 1), naming the one device it starts with (for a
    /// migrated single-device profile, that device).
    pub fn first_device_list(&self, device: DeviceEntry) -> DeviceList {
        let account_key = self.public();
        let devices = vec![device];
        let signature = self.sign_list_body(&encode_body(&account_key, 1, &devices));
        DeviceList {
            account_key,
            counter: 1,
            devices,
            signature,
        }
    }

    /// The next list after `current`: its counter plus one, with `device` added.
    pub fn add_device(
        &self,
        current: &DeviceList,
        device: DeviceEntry,
    ) -> Result<DeviceList, DeviceListError> {
        let counter = self.next_counter(current)?;
        let mut devices = current.devices.clone();
        devices.push(device);
        self.sign_device_list(counter, devices)
    }

    /// The next list after `current`: its counter plus one, without `identity_key`.
    pub fn remove_device(
        &self,
        current: &DeviceList,
        identity_key: &IdentityKey,
    ) -> Result<DeviceList, DeviceListError> {
        let counter = self.next_counter(current)?;
        if current.device(identity_key).is_none() {
            return Err(DeviceListError::UnknownDevice);
        }
        let devices = current
            .devices
            .iter()
            .filter(|entry| &entry.identity_key != identity_key)
            .copied()
            .collect();
        self.sign_device_list(counter, devices)
    }

    fn next_counter(&self, current: &DeviceList) -> Result<u64, DeviceListError> {
        if current.account_key != self.public() {
            return Err(DeviceListError::WrongAccountKey);
        }
        current
            .counter
            .checked_add(1)
            .ok_or(DeviceListError::CounterExhausted)
    }
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
