//! The suite's device-list cases. The store trusts what the handler verified, so the lists here
//! are arbitrary bytes: what is checked is which list stays and which memberships go with it.

use std::sync::Arc;

use hush_proto::{AccountId, DeviceListBytes, Membership, Signature};

use crate::store::{DeviceListUpdate, Store, StoreError, StoredDeviceList};

pub(crate) const ACCOUNT: AccountId = AccountId([0xA1; 32]);

fn device(n: u8) -> [u8; 32] {
    [n; 32]
}

pub(crate) fn membership(n: u8, signature: u8) -> Membership {
    Membership {
        identity_key: device(n),
        signature: Signature([signature; 64]),
    }
}

/// A list of `counter` naming `devices`, published by `publisher` with signature byte `sig`.
pub(crate) fn update(counter: u64, devices: &[u8], publisher: u8, sig: u8) -> DeviceListUpdate {
    let mut list = counter.to_be_bytes().to_vec();
    list.extend_from_slice(devices);
    DeviceListUpdate {
        account: ACCOUNT,
        counter,
        list: DeviceListBytes::new(list).unwrap(),
        devices: devices.iter().map(|n| device(*n)).collect(),
        membership: membership(publisher, sig),
    }
}

fn stored(update: &DeviceListUpdate, memberships: Vec<Membership>) -> Option<StoredDeviceList> {
    Some(StoredDeviceList {
        list: update.list.clone(),
        memberships,
    })
}

pub(crate) async fn device_list_is_served_once_published_under_its_account_only<S: Store>(store: S) {
    assert_eq!(store.device_list(ACCOUNT).await.unwrap(), None);
    let first = update(1, &[1], 1, 0x11);
    store.publish_device_list(first.clone()).await.unwrap();
    assert_eq!(
        store.device_list(ACCOUNT).await.unwrap(),
        stored(&first, vec![membership(1, 0x11)])
    );
    assert_eq!(store.device_list(AccountId([0xA2; 32])).await.unwrap(), None);
}

pub(crate) async fn an_older_or_different_list_of_the_same_counter_changes_nothing<S: Store>(store: S) {
    let current = update(5, &[1, 2], 1, 0x11);
    store.publish_device_list(current.clone()).await.unwrap();
    for refused in [
        update(4, &[1, 2], 2, 0x22),
        update(5, &[2], 2, 0x22),
        update(0, &[2], 2, 0x22),
    ] {
        assert!(matches!(
            store.publish_device_list(refused).await,
            Err(StoreError::StaleDeviceList)
        ));
    }
    assert_eq!(
        store.device_list(ACCOUNT).await.unwrap(),
        stored(&current, vec![membership(1, 0x11)])
    );
}

pub(crate) async fn the_same_list_again_adds_the_publishers_membership<S: Store>(store: S) {
    let list = update(3, &[1, 2, 3], 2, 0x22);
    store.publish_device_list(list.clone()).await.unwrap();
    let again = DeviceListUpdate {
        membership: membership(1, 0x11),
        ..list.clone()
    };
    store.publish_device_list(again.clone()).await.unwrap();
    // A device publishing again replaces its own signature.
    store
        .publish_device_list(DeviceListUpdate {
            membership: membership(2, 0x2F),
            ..list.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        store.device_list(ACCOUNT).await.unwrap(),
        stored(&list, vec![membership(1, 0x11), membership(2, 0x2F)])
    );
}

pub(crate) async fn a_newer_list_drops_the_memberships_of_devices_it_no_longer_names<S: Store>(store: S) {
    let both = update(1, &[1, 2], 1, 0x11);
    store.publish_device_list(both.clone()).await.unwrap();
    store
        .publish_device_list(DeviceListUpdate {
            membership: membership(2, 0x22),
            ..both
        })
        .await
        .unwrap();
    let without_two = update(2, &[1, 3], 3, 0x33);
    store.publish_device_list(without_two.clone()).await.unwrap();
    assert_eq!(
        store.device_list(ACCOUNT).await.unwrap(),
        stored(&without_two, vec![membership(1, 0x11), membership(3, 0x33)])
    );
}

pub(crate) async fn concurrent_publishes_keep_the_greatest_counter<S: Store>(store: S) {
    let store = Arc::new(store);
    // Odd counters first in the spawn order, so a store that kept the last writer would lose.
    let counters: Vec<u64> = (1..=24)
        .rev()
        .filter(|n| n % 2 == 0)
        .chain((1..=24).filter(|n| n % 2 == 1))
        .collect();
    let tasks: Vec<_> = counters
        .into_iter()
        .map(|counter| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                match store.publish_device_list(update(counter, &[1], 1, 0x11)).await {
                    Ok(()) | Err(StoreError::StaleDeviceList) => {}
                    Err(other) => panic!("publish failed: {other}"),
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        store.device_list(ACCOUNT).await.unwrap(),
        stored(&update(24, &[1], 1, 0x11), vec![membership(1, 0x11)])
    );
}

pub(crate) async fn counters_past_i64_compare_as_numbers<S: Store>(store: S) {
    let high = update(1 << 63, &[1], 1, 0x11);
    store.publish_device_list(high.clone()).await.unwrap();
    assert!(matches!(
        store
            .publish_device_list(update(i64::MAX as u64, &[1], 1, 0x11))
            .await,
        Err(StoreError::StaleDeviceList)
    ));
    let top = update(u64::MAX, &[1], 1, 0x11);
    store.publish_device_list(top.clone()).await.unwrap();
    assert_eq!(
        store.device_list(ACCOUNT).await.unwrap(),
        stored(&top, vec![membership(1, 0x11)])
    );
}

/// A newer list that no longer names a device deletes that device's mailbox, but only for a
/// device that published its membership for the account: an account cannot delete a stranger's
/// mailbox by listing it and then unlisting it.
pub(crate) async fn a_removed_device_that_consented_loses_its_mailbox<S: Store>(store: S) {
    use hush_proto::MailboxId;

    use crate::store::MailboxStatus;
    let mailbox = |n: u8| MailboxId::for_identity(&device(n));
    for n in 1..=3 {
        store.register(mailbox(n), device(n), 1_000).await.unwrap();
    }
    let all = update(1, &[1, 2, 3], 1, 0x11);
    store.publish_device_list(all.clone()).await.unwrap();
    store
        .publish_device_list(DeviceListUpdate {
            membership: membership(2, 0x22),
            ..all
        })
        .await
        .unwrap();
    // Device 3 never published its membership: a stranger the account listed.
    store.publish_device_list(update(2, &[1], 1, 0x11)).await.unwrap();
    assert_eq!(
        store.mailbox_status(mailbox(2)).await.unwrap(),
        MailboxStatus::Unknown
    );
    for kept in [1, 3] {
        assert_eq!(
            store.mailbox_status(mailbox(kept)).await.unwrap(),
            MailboxStatus::Active {
                identity_key: device(kept)
            }
        );
    }
}
