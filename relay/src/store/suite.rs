//! The test suite every [`Store`] implementation runs, so they all mean the same thing.
//!
//! An implementation's test module invokes [`store_suite!`] with an expression that makes a fresh
//! store, as a `(store, guard)` pair; the guard (a temp dir, or `()`) lives as long as the test:
//!
//! ```ignore
//! #[cfg(test)]
//! mod tests {
//!     crate::store::suite::store_suite!((super::MemoryStore::new(), ()));
//! }
//! ```

use std::collections::HashSet;
use std::sync::Arc;

use hush_proto::{Envelope, MailboxId, OneTimePreKey, Signature, SignedPreKey};

use super::{MailboxStatus, Quota, Store, StoreError};

mod device_lists;
mod kem_prekeys;
pub(crate) use self::device_lists::*;
pub(crate) use self::kem_prekeys::*;

/// Generates one `#[tokio::test]` per suite function, each on a fresh store.
macro_rules! store_suite {
    ($make:expr) => {
        $crate::store::suite::store_suite!(@tests $make;
            register_is_idempotent_and_refuses_another_identity,
            mailbox_status_reports_registration,
            upload_prekeys_counts_and_replaces_same_ids,
            upload_over_the_cap_stores_nothing,
            upload_to_unknown_mailbox_fails,
            claim_before_upload_is_no_bundle,
            claim_hands_out_lowest_id_once_then_none,
            concurrent_claims_hand_out_each_prekey_once,
            unknown_mailbox_is_refused_everywhere,
            enqueue_assigns_increasing_seqs,
            enqueue_over_quota_for_one_recipient_stores_nothing,
            enqueue_to_unknown_recipient_stores_nothing,
            quota_counts_messages,
            quota_counts_bytes,
            purge_and_ack_free_quota,
            fetch_orders_and_pages,
            ack_deletes_only_through,
            ack_with_low_or_stale_seq_deletes_nothing,
            ack_beyond_the_last_message_hides_nothing_sent_later,
            purge_counts_only_what_was_not_acked,
            seqs_are_never_reused_after_ack,
            purge_expired_uses_the_given_cutoff,
            delete_mailbox_leaves_nothing,
            queue_depth_counts_every_mailbox,
            access_verifier_is_set_replaced_cleared_and_deleted_with_the_mailbox,
            access_verifiers_read_together_match_one_at_a_time,
            device_list_is_served_once_published_under_its_account_only,
            an_older_or_different_list_of_the_same_counter_changes_nothing,
            the_same_list_again_adds_the_publishers_membership,
            a_newer_list_drops_the_memberships_of_devices_it_no_longer_names,
            concurrent_publishes_keep_the_greatest_counter,
            counters_past_i64_compare_as_numbers,
            a_removed_device_that_consented_loses_its_mailbox,
            kem_claims_take_one_time_keys_lowest_first_then_the_last_resort,
            a_newer_last_resort_replaces_the_old_and_one_time_ids_replace,
            a_kem_upload_over_the_cap_stores_nothing,
            kem_prekeys_need_a_mailbox_and_go_with_it,
            concurrent_kem_claims_hand_out_each_one_time_key_once,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, _guard) = $make;
                $crate::store::suite::$name(store).await;
            }
        )*
    };
}
pub(crate) use store_suite;

/// Generous limits for tests that are not about quotas.
pub(crate) const QUOTA: Quota = Quota {
    max_messages: 1000,
    max_bytes: 1 << 20,
};

/// A mailbox id for test `n`.
/// An envelope of these bytes.
pub(crate) fn envelope(bytes: &[u8]) -> Envelope {
    Envelope::new(bytes.to_vec()).unwrap()
}

/// An envelope of `len` bytes, each `byte`.
pub(crate) fn filled(byte: u8, len: usize) -> Envelope {
    Envelope::new(vec![byte; len]).unwrap()
}

pub(crate) fn mailbox(n: u8) -> MailboxId {
    MailboxId([n; 32])
}

/// The identity key that owns [`mailbox`] `n`.
pub(crate) fn identity(n: u8) -> [u8; 32] {
    [n ^ 0x80; 32]
}

pub(crate) fn signed_prekey(id: u32) -> SignedPreKey {
    SignedPreKey {
        id,
        created_at: 1_700_000_000 + u64::from(id),
        key: [id as u8; 32],
        signature: Signature([0x5a ^ id as u8; 64]),
    }
}

pub(crate) fn one_time_prekeys(ids: std::ops::Range<u32>) -> Vec<OneTimePreKey> {
    ids.map(|id| OneTimePreKey {
        id,
        key: [(id % 251) as u8; 32],
    })
    .collect()
}

/// Registers mailbox `n` at time 0.
pub(crate) async fn registered<S: Store>(store: &S, n: u8) -> MailboxId {
    store.register(mailbox(n), identity(n), 0).await.unwrap();
    mailbox(n)
}

async fn seqs_of<S: Store>(store: &S, mailbox: MailboxId) -> Vec<u64> {
    store
        .fetch(mailbox, 0, usize::MAX)
        .await
        .unwrap()
        .iter()
        .map(|message| message.seq)
        .collect()
}

pub(crate) async fn register_is_idempotent_and_refuses_another_identity<S: Store>(store: S) {
    store.register(mailbox(1), identity(1), 10).await.unwrap();
    store.register(mailbox(1), identity(1), 20).await.unwrap();
    assert!(matches!(
        store.register(mailbox(1), identity(2), 30).await,
        Err(StoreError::IdentityMismatch)
    ));
    assert_eq!(
        store.mailbox_status(mailbox(1)).await.unwrap(),
        MailboxStatus::Active {
            identity_key: identity(1)
        }
    );
}

pub(crate) async fn mailbox_status_reports_registration<S: Store>(store: S) {
    assert_eq!(
        store.mailbox_status(mailbox(1)).await.unwrap(),
        MailboxStatus::Unknown
    );
    registered(&store, 1).await;
    assert_eq!(
        store.mailbox_status(mailbox(1)).await.unwrap(),
        MailboxStatus::Active {
            identity_key: identity(1)
        }
    );
    assert_eq!(
        store.mailbox_status(mailbox(2)).await.unwrap(),
        MailboxStatus::Unknown
    );
}

pub(crate) async fn upload_prekeys_counts_and_replaces_same_ids<S: Store>(store: S) {
    let owner = registered(&store, 1).await;
    assert_eq!(store.one_time_prekey_count(owner).await.unwrap(), 0);
    let held = store
        .upload_prekeys(owner, signed_prekey(1), one_time_prekeys(0..10), 100)
        .await
        .unwrap();
    assert_eq!(held, 10);
    // Ids 5..10 are replaced, 10..15 added; the signed prekey is replaced.
    let held = store
        .upload_prekeys(owner, signed_prekey(2), one_time_prekeys(5..15), 100)
        .await
        .unwrap();
    assert_eq!(held, 15);
    assert_eq!(store.one_time_prekey_count(owner).await.unwrap(), 15);
    let bundle = store.claim_bundle(owner).await.unwrap();
    assert_eq!(bundle.signed_prekey, signed_prekey(2));
    assert_eq!(bundle.identity_key, identity(1));
    // An upload with only a new signed prekey keeps the one-time prekeys.
    let held = store
        .upload_prekeys(owner, signed_prekey(3), Vec::new(), 100)
        .await
        .unwrap();
    assert_eq!(held, 14);
}

pub(crate) async fn upload_over_the_cap_stores_nothing<S: Store>(store: S) {
    let owner = registered(&store, 1).await;
    store
        .upload_prekeys(owner, signed_prekey(1), one_time_prekeys(0..8), 10)
        .await
        .unwrap();
    let refused = store
        .upload_prekeys(owner, signed_prekey(2), one_time_prekeys(100..103), 10)
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::TooManyPreKeys {
                held: 8,
                adding: 3,
                max: 10
            })
        ),
        "{refused:?}"
    );
    assert_eq!(store.one_time_prekey_count(owner).await.unwrap(), 8);
    // Neither the one-time prekeys nor the signed prekey of the refused upload were stored.
    let bundle = store.claim_bundle(owner).await.unwrap();
    assert_eq!(bundle.signed_prekey, signed_prekey(1));
    assert_eq!(bundle.one_time_prekey.map(|prekey| prekey.id), Some(0));
    // Exactly at the cap is fine (7 held + 3).
    let held = store
        .upload_prekeys(owner, signed_prekey(2), one_time_prekeys(100..103), 10)
        .await
        .unwrap();
    assert_eq!(held, 10);
}

pub(crate) async fn upload_to_unknown_mailbox_fails<S: Store>(store: S) {
    assert!(matches!(
        store
            .upload_prekeys(mailbox(9), signed_prekey(1), one_time_prekeys(0..3), 10)
            .await,
        Err(StoreError::UnknownMailbox)
    ));
    assert_eq!(
        store.mailbox_status(mailbox(9)).await.unwrap(),
        MailboxStatus::Unknown
    );
}

pub(crate) async fn claim_before_upload_is_no_bundle<S: Store>(store: S) {
    let owner = registered(&store, 1).await;
    assert!(matches!(
        store.claim_bundle(owner).await,
        Err(StoreError::NoBundle)
    ));
}

pub(crate) async fn claim_hands_out_lowest_id_once_then_none<S: Store>(store: S) {
    let owner = registered(&store, 1).await;
    let mut prekeys = one_time_prekeys(0..3);
    prekeys.reverse();
    store
        .upload_prekeys(owner, signed_prekey(7), prekeys, 10)
        .await
        .unwrap();
    for (id, remaining) in [(0, 2), (1, 1), (2, 0)] {
        let bundle = store.claim_bundle(owner).await.unwrap();
        assert_eq!(bundle.identity_key, identity(1));
        assert_eq!(bundle.signed_prekey, signed_prekey(7));
        assert_eq!(bundle.one_time_prekey, one_time_prekeys(id..id + 1).pop());
        assert_eq!(bundle.remaining, remaining);
    }
    let bundle = store.claim_bundle(owner).await.unwrap();
    assert_eq!(bundle.one_time_prekey, None);
    assert_eq!(bundle.remaining, 0);
    assert_eq!(bundle.signed_prekey, signed_prekey(7));
}

pub(crate) async fn concurrent_claims_hand_out_each_prekey_once<S: Store>(store: S) {
    let store = Arc::new(store);
    let owner = registered(&*store, 1).await;
    store
        .upload_prekeys(owner, signed_prekey(1), one_time_prekeys(0..20), 100)
        .await
        .unwrap();
    fifty_claims_hand_out_each_prekey_once(&[store], owner).await;
}

/// 50 concurrent claims of `owner`'s 20 one-time prekeys, spread over `nodes` (stores on one
/// database): each prekey is handed out once, and 30 claims get none.
pub(crate) async fn fifty_claims_hand_out_each_prekey_once<S: Store>(nodes: &[Arc<S>], owner: MailboxId) {
    let claims: Vec<_> = (0..50)
        .map(|n| {
            let node = Arc::clone(&nodes[n % nodes.len()]);
            tokio::spawn(async move { node.claim_bundle(owner).await })
        })
        .collect();
    let mut claimed = Vec::new();
    let mut without = 0;
    for claim in claims {
        match claim.await.unwrap().unwrap().one_time_prekey {
            Some(prekey) => claimed.push(prekey.id),
            None => without += 1,
        }
    }
    let distinct: HashSet<u32> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 20, "claimed {claimed:?}");
    assert_eq!(distinct.len(), 20, "a prekey was handed out twice: {claimed:?}");
    assert_eq!(without, 30);
    for node in nodes {
        assert_eq!(node.one_time_prekey_count(owner).await.unwrap(), 0);
    }
}

pub(crate) async fn unknown_mailbox_is_refused_everywhere<S: Store>(store: S) {
    let unknown = mailbox(9);
    assert!(matches!(
        store.claim_bundle(unknown).await,
        Err(StoreError::UnknownMailbox)
    ));
    assert!(matches!(
        store.one_time_prekey_count(unknown).await,
        Err(StoreError::UnknownMailbox)
    ));
    assert!(matches!(
        store.fetch(unknown, 0, 10).await,
        Err(StoreError::UnknownMailbox)
    ));
    assert!(matches!(
        store.ack(unknown, 10).await,
        Err(StoreError::UnknownMailbox)
    ));
    // Deleting an unknown mailbox is not an error.
    store.delete_mailbox(unknown).await.unwrap();
}

pub(crate) async fn enqueue_assigns_increasing_seqs<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let b = registered(&store, 2).await;
    assert_eq!(
        store
            .enqueue(vec![(a, envelope(b"one"))], 100, QUOTA)
            .await
            .unwrap(),
        vec![1]
    );
    // Per-mailbox numbering, in input order, several to one mailbox in one call.
    let seqs = store
        .enqueue(
            vec![
                (b, envelope(b"b1")),
                (a, envelope(b"two")),
                (a, envelope(b"three")),
                (b, envelope(b"b2")),
            ],
            101,
            QUOTA,
        )
        .await
        .unwrap();
    assert_eq!(seqs, vec![1, 2, 3, 2]);
    let fetched = store.fetch(a, 0, 10).await.unwrap();
    let bodies: Vec<&[u8]> = fetched.iter().map(|m| m.envelope.as_bytes()).collect();
    assert_eq!(bodies, vec![&b"one"[..], b"two", b"three"]);
    assert_eq!(
        fetched.iter().map(|m| m.received_at).collect::<Vec<_>>(),
        vec![100, 101, 101]
    );
    assert_eq!(seqs_of(&store, b).await, vec![1, 2]);
    // An empty delivery list stores nothing and succeeds.
    assert_eq!(
        store.enqueue(Vec::new(), 102, QUOTA).await.unwrap(),
        Vec::<u64>::new()
    );
}

pub(crate) async fn enqueue_over_quota_for_one_recipient_stores_nothing<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let b = registered(&store, 2).await;
    let c = registered(&store, 3).await;
    let quota = Quota {
        max_messages: 2,
        max_bytes: 1 << 20,
    };
    store
        .enqueue(vec![(b, envelope(b"x")), (b, envelope(b"y"))], 1, quota)
        .await
        .unwrap();
    let refused = store
        .enqueue(
            vec![(a, envelope(b"1")), (b, envelope(b"2")), (c, envelope(b"3"))],
            2,
            quota,
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::QuotaExceeded { mailbox }) if mailbox == b),
        "{refused:?}"
    );
    assert_eq!(seqs_of(&store, a).await, Vec::<u64>::new());
    assert_eq!(seqs_of(&store, b).await, vec![1, 2]);
    assert_eq!(seqs_of(&store, c).await, Vec::<u64>::new());
    assert_eq!(store.queue_depth().await.unwrap(), 2);
    // The refused call consumed no seqs.
    assert_eq!(
        store.enqueue(vec![(a, envelope(b"1"))], 3, quota).await.unwrap(),
        vec![1]
    );
}

pub(crate) async fn enqueue_to_unknown_recipient_stores_nothing<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let refused = store
        .enqueue(vec![(a, envelope(b"1")), (mailbox(9), envelope(b"2"))], 1, QUOTA)
        .await;
    assert!(matches!(refused, Err(StoreError::UnknownMailbox)), "{refused:?}");
    assert_eq!(seqs_of(&store, a).await, Vec::<u64>::new());
    assert_eq!(store.queue_depth().await.unwrap(), 0);
    assert_eq!(
        store.mailbox_status(mailbox(9)).await.unwrap(),
        MailboxStatus::Unknown
    );
}

pub(crate) async fn quota_counts_messages<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let quota = Quota {
        max_messages: 3,
        max_bytes: 1 << 20,
    };
    for _ in 0..3 {
        store.enqueue(vec![(a, filled(0, 10))], 1, quota).await.unwrap();
    }
    assert!(matches!(
        store.enqueue(vec![(a, filled(0, 10))], 1, quota).await,
        Err(StoreError::QuotaExceeded { mailbox }) if mailbox == a
    ));
    // Draining makes room again.
    assert_eq!(store.ack(a, 1).await.unwrap(), 1);
    assert_eq!(
        store.enqueue(vec![(a, filled(0, 10))], 1, quota).await.unwrap(),
        vec![4]
    );
}

pub(crate) async fn purge_and_ack_free_quota<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let quota = Quota {
        max_messages: 4,
        max_bytes: 40,
    };
    for now in [10, 20, 30, 40] {
        store.enqueue(vec![(a, filled(0, 10))], now, quota).await.unwrap();
    }
    assert!(store.enqueue(vec![(a, filled(0, 1))], 50, quota).await.is_err());
    // Expiry frees both the count and the bytes of what it deletes.
    assert_eq!(store.purge_expired(30).await.unwrap(), 2);
    store
        .enqueue(vec![(a, filled(0, 10)), (a, filled(0, 10))], 50, quota)
        .await
        .unwrap();
    assert!(store.enqueue(vec![(a, filled(0, 1))], 50, quota).await.is_err());
    // So does an ack; an ack that deletes nothing frees nothing.
    assert_eq!(store.ack(a, 2).await.unwrap(), 0);
    assert!(store.enqueue(vec![(a, filled(0, 1))], 50, quota).await.is_err());
    assert_eq!(store.ack(a, 3).await.unwrap(), 1);
    store.enqueue(vec![(a, filled(0, 10))], 60, quota).await.unwrap();
    assert_eq!(store.queue_depth().await.unwrap(), 4);
}

pub(crate) async fn quota_counts_bytes<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let quota = Quota {
        max_messages: 100,
        max_bytes: 100,
    };
    store.enqueue(vec![(a, filled(1, 60))], 1, quota).await.unwrap();
    assert!(matches!(
        store.enqueue(vec![(a, filled(2, 41))], 1, quota).await,
        Err(StoreError::QuotaExceeded { .. })
    ));
    // Two in one call count together.
    assert!(matches!(
        store
            .enqueue(vec![(a, filled(3, 20)), (a, filled(4, 21))], 1, quota)
            .await,
        Err(StoreError::QuotaExceeded { .. })
    ));
    // Exactly at the limit is fine.
    assert_eq!(
        store.enqueue(vec![(a, filled(5, 40))], 1, quota).await.unwrap(),
        vec![2]
    );
    // One envelope larger than the whole quota never fits.
    let b = registered(&store, 2).await;
    assert!(matches!(
        store.enqueue(vec![(b, filled(6, 101))], 1, quota).await,
        Err(StoreError::QuotaExceeded { mailbox }) if mailbox == b
    ));
}

pub(crate) async fn fetch_orders_and_pages<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    for n in 1..=5u8 {
        store
            .enqueue(vec![(a, filled(n, 3))], u64::from(n), QUOTA)
            .await
            .unwrap();
    }
    let all = store.fetch(a, 0, 100).await.unwrap();
    assert_eq!(all.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    assert_eq!(all.get(2).map(|m| m.envelope.clone()), Some(filled(3, 3)));
    let page = store.fetch(a, 2, 2).await.unwrap();
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3, 4]);
    let tail = store.fetch(a, 4, 10).await.unwrap();
    assert_eq!(tail.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![5]);
    assert!(store.fetch(a, 5, 10).await.unwrap().is_empty());
    assert!(store.fetch(a, u64::MAX, 10).await.unwrap().is_empty());
    assert!(store.fetch(a, 0, 0).await.unwrap().is_empty());
    // Fetching does not consume.
    assert_eq!(store.fetch(a, 0, 100).await.unwrap(), all);
}

pub(crate) async fn ack_deletes_only_through<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let b = registered(&store, 2).await;
    for _ in 0..5 {
        store
            .enqueue(vec![(a, envelope(b"m")), (b, envelope(b"m"))], 1, QUOTA)
            .await
            .unwrap();
    }
    assert_eq!(store.ack(a, 3).await.unwrap(), 3);
    assert_eq!(seqs_of(&store, a).await, vec![4, 5]);
    // The other mailbox's messages with the same seqs are untouched.
    assert_eq!(seqs_of(&store, b).await, vec![1, 2, 3, 4, 5]);
    assert_eq!(store.ack(a, 5).await.unwrap(), 2);
    assert_eq!(seqs_of(&store, a).await, Vec::<u64>::new());
}

pub(crate) async fn ack_with_low_or_stale_seq_deletes_nothing<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    for _ in 0..4 {
        store.enqueue(vec![(a, envelope(b"m"))], 1, QUOTA).await.unwrap();
    }
    assert_eq!(store.ack(a, 0).await.unwrap(), 0);
    assert_eq!(store.ack(a, 2).await.unwrap(), 2);
    // Already acked: nothing left at or below it.
    assert_eq!(store.ack(a, 2).await.unwrap(), 0);
    assert_eq!(store.ack(a, 1).await.unwrap(), 0);
    assert_eq!(seqs_of(&store, a).await, vec![3, 4]);
}

pub(crate) async fn ack_beyond_the_last_message_hides_nothing_sent_later<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    store
        .enqueue(vec![(a, envelope(b"1")), (a, envelope(b"2"))], 1, QUOTA)
        .await
        .unwrap();
    assert_eq!(store.ack(a, 1000).await.unwrap(), 2);
    assert_eq!(
        store.enqueue(vec![(a, envelope(b"3"))], 1, QUOTA).await.unwrap(),
        vec![3]
    );
    assert_eq!(seqs_of(&store, a).await, vec![3]);
    assert_eq!(store.queue_depth().await.unwrap(), 1);
}

pub(crate) async fn purge_counts_only_what_was_not_acked<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let deliveries = (0..3u8).map(|i| (a, filled(i, 1))).collect();
    store.enqueue(deliveries, 1, QUOTA).await.unwrap();
    assert_eq!(store.ack(a, 2).await.unwrap(), 2);
    assert_eq!(store.purge_expired(10).await.unwrap(), 1);
    assert_eq!(store.queue_depth().await.unwrap(), 0);
    assert!(seqs_of(&store, a).await.is_empty());
    // The quota counts from zero again.
    let tight = Quota {
        max_messages: 1,
        max_bytes: 1 << 20,
    };
    assert_eq!(
        store.enqueue(vec![(a, envelope(b"4"))], 20, tight).await.unwrap(),
        vec![4]
    );
}

pub(crate) async fn seqs_are_never_reused_after_ack<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let first = store
        .enqueue(vec![(a, envelope(b"1")), (a, envelope(b"2"))], 1, QUOTA)
        .await
        .unwrap();
    assert_eq!(first, vec![1, 2]);
    assert_eq!(store.ack(a, 2).await.unwrap(), 2);
    let second = store.enqueue(vec![(a, envelope(b"3"))], 2, QUOTA).await.unwrap();
    assert_eq!(second, vec![3]);
    store.purge_expired(u64::MAX).await.unwrap();
    let third = store.enqueue(vec![(a, envelope(b"4"))], 3, QUOTA).await.unwrap();
    assert_eq!(third, vec![4]);
}

pub(crate) async fn purge_expired_uses_the_given_cutoff<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let b = registered(&store, 2).await;
    for (now, to) in [(100, a), (200, b), (300, a), (400, b)] {
        store
            .enqueue(vec![(to, envelope(b"m"))], now, QUOTA)
            .await
            .unwrap();
    }
    assert_eq!(store.purge_expired(100).await.unwrap(), 0);
    // Strictly before the cutoff.
    assert_eq!(store.purge_expired(200).await.unwrap(), 1);
    assert_eq!(store.purge_expired(301).await.unwrap(), 2);
    assert_eq!(seqs_of(&store, a).await, Vec::<u64>::new());
    assert_eq!(seqs_of(&store, b).await, vec![2]);
    assert_eq!(store.queue_depth().await.unwrap(), 1);
}

pub(crate) async fn delete_mailbox_leaves_nothing<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let b = registered(&store, 2).await;
    store
        .upload_prekeys(a, signed_prekey(1), one_time_prekeys(0..5), 10)
        .await
        .unwrap();
    store
        .enqueue(
            vec![(a, envelope(b"1")), (a, envelope(b"2")), (b, envelope(b"3"))],
            1,
            QUOTA,
        )
        .await
        .unwrap();
    assert_eq!(store.queue_depth().await.unwrap(), 3);

    store.delete_mailbox(a).await.unwrap();
    assert_eq!(store.mailbox_status(a).await.unwrap(), MailboxStatus::Unknown);
    assert!(matches!(
        store.fetch(a, 0, 10).await,
        Err(StoreError::UnknownMailbox)
    ));
    assert!(matches!(
        store.claim_bundle(a).await,
        Err(StoreError::UnknownMailbox)
    ));
    assert!(matches!(
        store.one_time_prekey_count(a).await,
        Err(StoreError::UnknownMailbox)
    ));
    assert!(matches!(
        store.enqueue(vec![(a, envelope(b"4"))], 2, QUOTA).await,
        Err(StoreError::UnknownMailbox)
    ));
    assert_eq!(store.queue_depth().await.unwrap(), 1);
    assert_eq!(seqs_of(&store, b).await, vec![1]);

    // Registering again starts from nothing: no old prekeys or messages come back.
    registered(&store, 1).await;
    assert!(matches!(store.claim_bundle(a).await, Err(StoreError::NoBundle)));
    assert_eq!(store.one_time_prekey_count(a).await.unwrap(), 0);
    assert!(store.fetch(a, 0, 10).await.unwrap().is_empty());
}

pub(crate) async fn queue_depth_counts_every_mailbox<S: Store>(store: S) {
    assert_eq!(store.queue_depth().await.unwrap(), 0);
    let a = registered(&store, 1).await;
    let b = registered(&store, 2).await;
    store
        .enqueue(
            vec![(a, envelope(b"1")), (b, envelope(b"2")), (b, envelope(b"3"))],
            1,
            QUOTA,
        )
        .await
        .unwrap();
    assert_eq!(store.queue_depth().await.unwrap(), 3);
    store.ack(b, 1).await.unwrap();
    assert_eq!(store.queue_depth().await.unwrap(), 2);
    store.purge_expired(2).await.unwrap();
    assert_eq!(store.queue_depth().await.unwrap(), 0);
}

pub(crate) async fn access_verifier_is_set_replaced_cleared_and_deleted_with_the_mailbox<S: Store>(store: S) {
    let a = registered(&store, 1).await;
    let b = registered(&store, 2).await;
    assert_eq!(store.access_verifier(a).await.unwrap(), None);
    store.set_access_verifier(a, Some([7; 32])).await.unwrap();
    store.set_access_verifier(b, Some([8; 32])).await.unwrap();
    assert_eq!(store.access_verifier(a).await.unwrap(), Some([7; 32]));
    store.set_access_verifier(a, Some([9; 32])).await.unwrap();
    assert_eq!(store.access_verifier(a).await.unwrap(), Some([9; 32]));
    assert_eq!(store.access_verifier(b).await.unwrap(), Some([8; 32]));
    store.set_access_verifier(b, None).await.unwrap();
    assert_eq!(store.access_verifier(b).await.unwrap(), None);

    let unknown = mailbox(9);
    assert!(matches!(
        store.set_access_verifier(unknown, Some([1; 32])).await,
        Err(StoreError::UnknownMailbox)
    ));
    assert!(matches!(
        store.access_verifier(unknown).await,
        Err(StoreError::UnknownMailbox)
    ));
    // A deleted and re-registered mailbox has no key: the old one must not come back.
    store.delete_mailbox(a).await.unwrap();
    assert!(matches!(
        store.access_verifier(a).await,
        Err(StoreError::UnknownMailbox)
    ));
    registered(&store, 1).await;
    assert_eq!(store.access_verifier(a).await.unwrap(), None);
}

pub(crate) async fn access_verifiers_read_together_match_one_at_a_time<S: Store>(store: S) {
    let keyed = registered(&store, 1).await;
    let open = registered(&store, 2).await;
    store.set_access_verifier(keyed, Some([7; 32])).await.unwrap();
    let unknown = mailbox(9);
    let read = store
        .access_verifiers(vec![open, keyed, unknown, keyed])
        .await
        .unwrap();
    assert_eq!(read.len(), 4);
    assert!(matches!(read[0], Ok(None)));
    assert!(matches!(read[1], Ok(Some(v)) if v == [7; 32]));
    assert!(matches!(read[2], Err(StoreError::UnknownMailbox)));
    assert!(matches!(read[3], Ok(Some(v)) if v == [7; 32]));
    assert!(store.access_verifiers(Vec::new()).await.unwrap().is_empty());
}
