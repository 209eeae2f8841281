//! What the store keeps of accounts' device lists (proto/PROTOCOL.md "Device lists"): per
//! account key its latest list as published, and per listed device the membership signature it
//! published with it. Nothing else: not who published, not when. The handler verifies a list
//! before it reaches the store; the store only orders lists by counter.

use hush_proto::{AccountId, DeviceListBytes, Membership, Signature};

use super::{Corruption, StoreError};

/// A verified list to store, with what the store needs of it decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceListUpdate {
    /// The account key the list is signed by, which it is stored under.
    pub account: AccountId,
    /// The list's counter: a list replaces the stored one only with a greater counter.
    pub counter: u64,
    /// The list as published.
    pub list: DeviceListBytes,
    /// The identity keys the list names: memberships of other devices are dropped.
    pub devices: Vec<[u8; 32]>,
    /// The publishing device's membership signature (a device the list names).
    pub membership: Membership,
}

/// An account's stored list with the membership signatures held for its devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeviceList {
    /// The latest list published.
    pub list: DeviceListBytes,
    /// At most one per device the list names, in ascending order of identity key.
    pub memberships: Vec<Membership>,
}

/// Whether `update` may replace a stored list of `counter` and bytes `list`: a greater counter,
/// or the same list again (another of its devices adding its membership signature).
pub(crate) fn replaces(update: &DeviceListUpdate, counter: u64, list: &[u8]) -> bool {
    update.counter > counter || update.list.as_bytes() == list
}

/// A counter as the SQL stores keep it: 8 bytes big-endian, so that comparing the bytes (as
/// both SQLite and PostgreSQL compare blobs) compares the numbers over the whole `u64` range.
pub(crate) fn counter_to_sql(counter: u64) -> [u8; 8] {
    counter.to_be_bytes()
}

/// Reads back a counter [`counter_to_sql`] wrote.
pub(crate) fn counter_from_sql(bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes).map(u64::from_be_bytes).map_err(|_| {
        Corruption::WrongLength {
            expected: 8,
            found: bytes.len(),
        }
        .into()
    })
}

/// Reads back a list a store wrote; one over the protocol limit means a corrupt database.
pub(crate) fn list_from_sql(bytes: Vec<u8>) -> Result<DeviceListBytes, StoreError> {
    let len = bytes.len();
    DeviceListBytes::new(bytes).ok_or_else(|| Corruption::OversizeDeviceList { len }.into())
}

/// Reads back a membership a store wrote.
pub(crate) fn membership_from_sql(identity_key: &[u8], signature: &[u8]) -> Result<Membership, StoreError> {
    let wrong = |expected: usize, found: usize| StoreError::from(Corruption::WrongLength { expected, found });
    Ok(Membership {
        identity_key: identity_key
            .try_into()
            .map_err(|_| wrong(32, identity_key.len()))?,
        signature: Signature(signature.try_into().map_err(|_| wrong(64, signature.len()))?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_bytes_order_as_the_numbers_do() {
        let counters = [0, 1, 255, 256, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX];
        for pair in counters.windows(2) {
            assert!(counter_to_sql(pair[0]) < counter_to_sql(pair[1]), "{pair:?}");
            assert_eq!(counter_from_sql(&counter_to_sql(pair[1])).unwrap(), pair[1]);
        }
        assert!(counter_from_sql(&[0; 7]).is_err());
    }
}
