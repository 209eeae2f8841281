//! This device's own account (and, with linking, its link request).

use hush_crypto::devices::{AccountSigningKey, DeviceEntry};

use super::helpers::{NOW, account, apply, load};
use crate::devices::OwnAccountRecord;
use crate::records::StoreOp;
use crate::store::Store;

/// The own account is one record: absent in a profile from before accounts, then put and
/// replaced whole (the account key's pickle may come and go, the list and counter change).
pub fn own_account_is_put_and_replaced<S: Store>(mut store: S) {
    let device = account();
    apply(&mut store, vec![StoreOp::PutAccount(device.pickle())]);
    assert_eq!(
        load(&store).own_account,
        None,
        "a profile from before accounts has none"
    );

    let key = AccountSigningKey::generate(&mut rand::rng());
    let first = key.first_device_list(DeviceEntry::new(device.identity_key(), NOW));
    let holder = OwnAccountRecord {
        signing_key: Some(key.pickle()),
        list: first.to_bytes(),
        published: 0,
    };
    apply(&mut store, vec![StoreOp::PutOwnAccount(holder.clone())]);
    assert_eq!(load(&store).own_account, Some(holder));

    let other = account();
    let second = key
        .add_device(&first, DeviceEntry::new(other.identity_key(), NOW + 1))
        .expect("a second device fits");
    let member = OwnAccountRecord {
        signing_key: None,
        list: second.to_bytes(),
        published: u64::MAX,
    };
    apply(&mut store, vec![StoreOp::PutOwnAccount(member.clone())]);
    assert_eq!(load(&store).own_account, Some(member));
}

/// A waiting link request is one record: put, replaced, and deleted with `None`.
pub fn link_request_is_put_replaced_and_deleted<S: Store>(mut store: S) {
    use hush_crypto::devices::LinkRequest;
    let device = account();
    apply(&mut store, vec![StoreOp::PutAccount(device.pickle())]);
    assert_eq!(load(&store).link_request, None);
    let first = LinkRequest::new(device.identity_key(), NOW, &mut rand::rng()).pickle();
    apply(&mut store, vec![StoreOp::PutLinkRequest(Some(first.clone()))]);
    assert_eq!(load(&store).link_request, Some(first));
    let second = LinkRequest::new(device.identity_key(), NOW + 1, &mut rand::rng()).pickle();
    apply(&mut store, vec![StoreOp::PutLinkRequest(Some(second.clone()))]);
    assert_eq!(load(&store).link_request, Some(second));
    apply(&mut store, vec![StoreOp::PutLinkRequest(None)]);
    assert_eq!(load(&store).link_request, None);
}

/// Contacts' pinned device lists: one record per contact, replaced whole, several contacts side
/// by side (SPEC.md §16.8 "Pinning").
pub fn peer_devices_are_put_and_replaced<S: Store>(mut store: S) {
    use crate::address::Address;
    use crate::devices::PeerDevicesRecord;
    let alice = Address::from_identity(&account().identity_key());
    let bob = Address::from_identity(&account().identity_key());
    let record = |peer, list: u8, members: u8| PeerDevicesRecord {
        peer,
        list: vec![list; 40],
        memberships: (0..members).map(|i| ([i; 32], [i; 64])).collect(),
    };
    apply(&mut store, vec![StoreOp::PutAccount(account().pickle())]);
    assert!(load(&store).peer_devices.is_empty());
    apply(
        &mut store,
        vec![
            StoreOp::PutPeerDevices(record(alice, 1, 1)),
            StoreOp::PutPeerDevices(record(bob, 2, 0)),
        ],
    );
    apply(&mut store, vec![StoreOp::PutPeerDevices(record(alice, 3, 2))]);
    let mut pinned = load(&store).peer_devices;
    pinned.sort_by_key(|record| *record.peer.as_bytes());
    let mut expected = vec![record(alice, 3, 2), record(bob, 2, 0)];
    expected.sort_by_key(|record| *record.peer.as_bytes());
    assert_eq!(pinned, expected);
}
