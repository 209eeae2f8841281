//! Each contact's pinned device list (test-vectors/SPEC.md §16.8 "Pinning"): per contact
//! address, the account key, the accepted list (bytes and counter) and the devices whose
//! membership signature (§16.3) verified.
//!
//! A list is accepted only as §16.2 says: the first one must be signed by the account key the
//! contact's address names ([`DeviceList::verify_for_account`]), every later one must verify as
//! an update of the pinned one ([`DeviceList::verify_update`]: same key, a counter that only
//! grows); the pinned bytes served again are ignored. A list under another account key is an
//! identity change and is not pinned. A contact the relay has no list for stays a single-device
//! legacy peer: nothing is pinned and today's 1:1 path is used.
//!
//! Nothing here sends: fan-out over the pinned devices is a later step.

use std::collections::{BTreeMap, BTreeSet};

use hush_crypto::IdentityKey;
use hush_crypto::devices::{AccountKey, DeviceList, DeviceListError};
use hush_proto::Membership;

use crate::address::Address;

/// What the store keeps of one contact's pinned list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerDevicesRecord {
    /// The contact.
    pub peer: Address,
    /// The accepted list (SPEC.md §16.2 bytes; the account key and counter are inside).
    pub list: Vec<u8>,
    /// The membership signatures that verified: `(device identity key, signature)`.
    pub memberships: Vec<([u8; 32], [u8; 64])>,
}

/// One contact's pinned list and the devices that count (named by the list and with a
/// membership signature that verified).
#[derive(Debug, Clone)]
pub struct PeerDevices {
    list: DeviceList,
    members: Vec<(IdentityKey, [u8; 64])>,
}

impl PeerDevices {
    /// The account key (pinned with the first list).
    pub fn account_key(&self) -> AccountKey {
        *self.list.account_key()
    }

    /// The accepted list.
    pub fn list(&self) -> &DeviceList {
        &self.list
    }

    /// The accepted list's counter.
    pub fn counter(&self) -> u64 {
        self.list.counter()
    }

    /// The devices that count, in the list's order.
    pub fn devices(&self) -> Vec<IdentityKey> {
        self.members.iter().map(|(key, _)| *key).collect()
    }

    /// What the store keeps.
    pub fn record(&self, peer: Address) -> PeerDevicesRecord {
        PeerDevicesRecord {
            peer,
            list: self.list.to_bytes(),
            memberships: self
                .members
                .iter()
                .map(|(key, signature)| (*key.as_bytes(), *signature))
                .collect(),
        }
    }

    /// Restores a record: the list and each membership are verified again (a record that does
    /// not verify is refused, as the store is not trusted more than the relay).
    pub fn restore(record: &PeerDevicesRecord) -> Result<Self, DeviceListError> {
        let account = peer_account_key(&record.peer).ok_or(DeviceListError::AccountKeyChanged)?;
        let list = DeviceList::verify_for_account(&record.list, &account)?;
        let memberships: Vec<Membership> = record
            .memberships
            .iter()
            .map(|(identity_key, signature)| Membership {
                identity_key: *identity_key,
                signature: hush_proto::Signature(*signature),
            })
            .collect();
        Ok(Self::new(list, &memberships))
    }

    /// `list` with the devices among `memberships` whose signature verifies (SPEC.md §16.3).
    fn new(list: DeviceList, memberships: &[Membership]) -> Self {
        let account = *list.account_key();
        let members = list
            .devices()
            .iter()
            .filter_map(|entry| {
                let key = entry.identity_key;
                memberships
                    .iter()
                    .filter(|m| &m.identity_key == key.as_bytes())
                    .find(|m| account.verify_membership(&key, &m.signature.0).is_ok())
                    .map(|m| (key, m.signature.0))
            })
            .collect();
        Self { list, members }
    }
}

/// The account key a contact's address names (SPEC.md §16.1: the address is over the account
/// key).
/// key). `None` cannot happen for an address (its key was validated when parsed).
pub fn peer_account_key(peer: &Address) -> Option<AccountKey> {
    AccountKey::from_bytes(peer.as_bytes()).ok()
}

/// What became of a list the relay served for a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListOutcome {
    /// Pinned; the devices that count changed (the new set).
    Changed(Vec<IdentityKey>),
    /// Pinned (a newer counter, or new memberships) but the devices that count are the same.
    Pinned,
    /// The pinned bytes again, with no new membership: nothing to do.
    Unchanged,
    /// Signed by another account key than the one pinned (or the address names): an identity
    /// change. Nothing is pinned.
    AccountKeyChanged,
    /// Refused (malformed, bad signature, a counter that does not grow): nothing is pinned.
    Refused(DeviceListError),
}

/// The pinned lists of all contacts (saved with every change).
#[derive(Debug, Clone, Default)]
pub struct PeerLists {
    by_peer: BTreeMap<Address, PeerDevices>,
}

impl PeerLists {
    /// Restores saved records (a record that no longer verifies is skipped: it is fetched again).
    pub fn restore(records: &[PeerDevicesRecord]) -> Self {
        let by_peer = records
            .iter()
            .filter_map(|record| Some((record.peer, PeerDevices::restore(record).ok()?)))
            .collect();
        Self { by_peer }
    }

    /// The pinned list of `peer`, if any (none: a single-device legacy peer, or not yet fetched).
    pub fn get(&self, peer: &Address) -> Option<&PeerDevices> {
        self.by_peer.get(peer)
    }

    /// The contact whose pinned list counts `device` (the first in address order should a
    /// device have signed memberships for several accounts).
    pub fn owner_of(&self, device: &IdentityKey) -> Option<Address> {
        self.by_peer
            .iter()
            .find(|(_, pinned)| pinned.members.iter().any(|(key, _)| key == device))
            .map(|(peer, _)| *peer)
    }

    /// Whether a list is pinned for `peer`.
    pub fn has(&self, peer: &Address) -> bool {
        self.by_peer.contains_key(peer)
    }

    /// Forgets `peer` (a removed contact).
    pub fn remove(&mut self, peer: &Address) {
        self.by_peer.remove(peer);
    }

    /// Considers a list the relay served for `peer` with its memberships (SPEC.md §16.2, §16.3).
    pub fn accept(&mut self, peer: Address, bytes: &[u8], memberships: &[Membership]) -> ListOutcome {
        let verified = match self.by_peer.get(&peer) {
            None => match peer_account_key(&peer) {
                Some(account) => DeviceList::verify_for_account(bytes, &account),
                None => Err(DeviceListError::AccountKeyChanged),
            },
            Some(pinned) if bytes == pinned.list.to_bytes() => Ok(pinned.list.clone()),
            Some(pinned) => DeviceList::verify_update(bytes, &pinned.list),
        };
        let list = match verified {
            Ok(list) => list,
            Err(DeviceListError::AccountKeyChanged) => return ListOutcome::AccountKeyChanged,
            Err(error) => return ListOutcome::Refused(error),
        };
        let new = PeerDevices::new(list, memberships);
        let old = self.by_peer.get(&peer);
        let outcome = match old {
            Some(old) if old.list.counter() == new.list.counter() && old.members == new.members => {
                return ListOutcome::Unchanged;
            }
            Some(old) if old.devices() == new.devices() => ListOutcome::Pinned,
            None if new.members.is_empty() => ListOutcome::Pinned,
            _ => ListOutcome::Changed(new.devices()),
        };
        self.by_peer.insert(peer, new);
        outcome
    }
}

/// Contacts' lists asked for on the current connection (memory only).
#[derive(Debug, Default)]
pub(crate) struct PeerFetch {
    /// Asked on this connection (answered or not): not asked again before the next login.
    pub(crate) asked: BTreeSet<Address>,
    /// The relay had no list for them on this connection: single-device legacy peers.
    pub(crate) legacy: BTreeSet<Address>,
    /// Answered on this connection (whatever the answer): what is pinned for them now is what
    /// the outbox seals for (see `fanout`).
    pub(crate) answered: BTreeSet<Address>,
    /// Devices that sent us a copy of a sent message while our list did not name them, for
    /// which our list was fetched again on this connection (see `sync`).
    pub(crate) unknown_own: BTreeSet<Address>,
    /// Per account asked for on this connection, the devices whose content waits (held) to be
    /// attributed by its answer (see `attribution`).
    pub(crate) pending: BTreeMap<Address, BTreeSet<Address>>,
    /// Logins so far in this process: where the next login's bounded fetch pass starts, so
    /// every contact is asked in turn (kept across connections).
    pub(crate) logins: usize,
}

impl PeerFetch {
    /// A new connection (or none).
    pub(crate) fn reset(&mut self) {
        self.asked.clear();
        self.legacy.clear();
        self.answered.clear();
        self.unknown_own.clear();
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use hush_crypto::Account;
    use hush_crypto::devices::{AccountSigningKey, DeviceEntry};
    use hush_proto::Signature;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const NOW: u64 = 1_700_000_000;

    /// An account whose key is `seed`'s, and the address that names it.
    fn account(seed: u8) -> (AccountSigningKey, Address) {
        let key = AccountSigningKey::generate(&mut StdRng::seed_from_u64(u64::from(seed)));
        let address = Address::from_bytes(*key.public().as_bytes()).unwrap();
        (key, address)
    }

    fn member(device: &Account, key: &AccountSigningKey) -> Membership {
        Membership {
            identity_key: *device.identity_key().as_bytes(),
            signature: Signature(device.sign_membership(&key.public())),
        }
    }

    fn device() -> Account {
        Account::new(NOW, &mut rand::rng())
    }

    #[test]
    fn first_list_and_a_grown_one_are_pinned() {
        let (key, alice) = account(1);
        let (phone, laptop) = (device(), device());
        let first = key.first_device_list(DeviceEntry::new(phone.identity_key(), NOW));
        let mut lists = PeerLists::default();
        let outcome = lists.accept(alice, &first.to_bytes(), &[member(&phone, &key)]);
        assert_eq!(outcome, ListOutcome::Changed(vec![phone.identity_key()]));
        assert_eq!(lists.get(&alice).unwrap().counter(), 1);
        // The same bytes again: ignored.
        let again = lists.accept(alice, &first.to_bytes(), &[member(&phone, &key)]);
        assert_eq!(again, ListOutcome::Unchanged);

        let second = key
            .add_device(&first, DeviceEntry::new(laptop.identity_key(), NOW))
            .unwrap();
        let both = [member(&phone, &key), member(&laptop, &key)];
        let ListOutcome::Changed(mut devices) = lists.accept(alice, &second.to_bytes(), &both) else {
            panic!("the grown list is pinned");
        };
        let mut expected = vec![phone.identity_key(), laptop.identity_key()];
        devices.sort();
        expected.sort();
        assert_eq!(devices, expected);
        let pinned = lists.get(&alice).unwrap();
        assert_eq!(pinned.counter(), 2);
        assert_eq!(pinned.account_key(), key.public());

        // What the store keeps restores to the same pinned set.
        let restored = PeerLists::restore(&[pinned.record(alice)]);
        assert_eq!(restored.get(&alice).unwrap().devices(), pinned.devices());
        assert_eq!(restored.get(&alice).unwrap().counter(), 2);
    }

    #[test]
    fn a_stale_counter_is_refused() {
        let (key, alice) = account(2);
        let (phone, laptop) = (device(), device());
        let first = key.first_device_list(DeviceEntry::new(phone.identity_key(), NOW));
        let second = key
            .add_device(&first, DeviceEntry::new(laptop.identity_key(), NOW))
            .unwrap();
        let mut lists = PeerLists::default();
        let both = [member(&phone, &key), member(&laptop, &key)];
        assert!(matches!(
            lists.accept(alice, &second.to_bytes(), &both),
            ListOutcome::Changed(_)
        ));
        // The relay serves the older list (a rollback): refused, the newer one stays pinned.
        let outcome = lists.accept(alice, &first.to_bytes(), &both);
        assert_eq!(
            outcome,
            ListOutcome::Refused(DeviceListError::CounterNotGrowing { pinned: 2, found: 1 })
        );
        assert_eq!(lists.get(&alice).unwrap().counter(), 2);
        assert_eq!(lists.get(&alice).unwrap().devices().len(), 2);
    }

    #[test]
    fn another_account_key_is_an_identity_change_and_not_pinned() {
        let (_, alice) = account(3);
        let (mallory, _) = account(4);
        let phone = device();
        let forged = mallory.first_device_list(DeviceEntry::new(phone.identity_key(), NOW));
        let mut lists = PeerLists::default();
        let outcome = lists.accept(alice, &forged.to_bytes(), &[member(&phone, &mallory)]);
        assert_eq!(outcome, ListOutcome::AccountKeyChanged);
        assert!(!lists.has(&alice));

        // Also after a first list was pinned.
        let (key, _) = account(3);
        let first = key.first_device_list(DeviceEntry::new(phone.identity_key(), NOW));
        lists.accept(alice, &first.to_bytes(), &[member(&phone, &key)]);
        let outcome = lists.accept(alice, &forged.to_bytes(), &[member(&phone, &mallory)]);
        assert_eq!(outcome, ListOutcome::AccountKeyChanged);
        assert_eq!(lists.get(&alice).unwrap().account_key(), key.public());
    }

    #[test]
    fn a_device_without_a_valid_membership_does_not_count() {
        let (key, alice) = account(5);
        let (other, _) = account(6);
        let (phone, laptop, tablet) = (device(), device(), device());
        let first = key.first_device_list(DeviceEntry::new(phone.identity_key(), NOW));
        let second = key
            .add_device(&first, DeviceEntry::new(laptop.identity_key(), NOW))
            .unwrap();
        let third = key
            .add_device(&second, DeviceEntry::new(tablet.identity_key(), NOW))
            .unwrap();
        // The laptop's membership is for another account; the tablet's signature is the
        // phone's; only the phone counts.
        let mut stolen = member(&phone, &key);
        stolen.identity_key = *tablet.identity_key().as_bytes();
        let memberships = [member(&phone, &key), member(&laptop, &other), stolen];
        let mut lists = PeerLists::default();
        let outcome = lists.accept(alice, &third.to_bytes(), &memberships);
        assert_eq!(outcome, ListOutcome::Changed(vec![phone.identity_key()]));
        assert_eq!(lists.get(&alice).unwrap().devices(), vec![phone.identity_key()]);
    }
}
