//! The suite's KEM prekey cases. The store trusts what the handler verified, so keys and
//! signatures here are filler bytes: what is checked is which key a claim gets, and that a
//! one-time key is handed out once.

use std::collections::HashSet;
use std::sync::Arc;

use hush_proto::{KEM_PUBLIC_KEY_LEN, KemPreKey, KemPreKeyKind, KemPublicKeyBytes, Signature};

use super::{mailbox, registered};
use crate::store::{KemUpload, Store, StoreError};

/// A KEM prekey of `kind` and `id`, its bytes derived from `fill`.
pub(crate) fn kem_prekey(kind: KemPreKeyKind, id: u32, fill: u8) -> KemPreKey {
    KemPreKey {
        kind,
        id,
        key: KemPublicKeyBytes(Box::new([fill; KEM_PUBLIC_KEY_LEN])),
        signature: Signature([fill ^ 0x5a; 64]),
    }
}

pub(crate) fn kem_one_time(ids: std::ops::Range<u32>) -> Vec<KemPreKey> {
    ids.map(|id| kem_prekey(KemPreKeyKind::OneTime, id, (id % 251) as u8))
        .collect()
}

pub(crate) async fn kem_claims_take_one_time_keys_lowest_first_then_the_last_resort<S: Store>(store: S) {
    let owner = registered(&store, 1).await;
    let last_resort = kem_prekey(KemPreKeyKind::LastResort, 7, 0xEE);
    let held = store
        .upload_kem_prekeys(
            owner,
            KemUpload {
                last_resort: Some(last_resort.clone()),
                one_time: kem_one_time(3..5),
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(held, 2);
    let first = store.claim_kem_prekey(owner, 7).await.unwrap();
    assert_eq!(first.prekey, Some(kem_one_time(3..4).remove(0)));
    assert_eq!(first.remaining, 1);
    let second = store.claim_kem_prekey(owner, 7).await.unwrap();
    assert_eq!(second.prekey.map(|prekey| prekey.id), Some(4));
    assert_eq!(second.remaining, 0);
    // Exhausted: the last-resort key, again and again.
    for _ in 0..2 {
        let claimed = store.claim_kem_prekey(owner, 7).await.unwrap();
        assert_eq!(claimed.prekey.as_ref(), Some(&last_resort));
        assert_eq!(claimed.remaining, 0);
    }
    // Served only with its own signed prekey.
    assert_eq!(store.claim_kem_prekey(owner, 8).await.unwrap().prekey, None);
}

pub(crate) async fn a_newer_last_resort_replaces_the_old_and_one_time_ids_replace<S: Store>(store: S) {
    let owner = registered(&store, 1).await;
    let old = kem_prekey(KemPreKeyKind::LastResort, 1, 0x01);
    let new = kem_prekey(KemPreKeyKind::LastResort, 2, 0x02);
    store
        .upload_kem_prekeys(
            owner,
            KemUpload {
                last_resort: Some(old),
                one_time: Vec::new(),
            },
            10,
        )
        .await
        .unwrap();
    store
        .upload_kem_prekeys(
            owner,
            KemUpload {
                last_resort: Some(new.clone()),
                one_time: Vec::new(),
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(store.claim_kem_prekey(owner, 1).await.unwrap().prekey, None);
    assert_eq!(
        store.claim_kem_prekey(owner, 2).await.unwrap().prekey,
        Some(new.clone())
    );
    // An upload without a last-resort key keeps the one held; the same id replaces.
    let again = kem_prekey(KemPreKeyKind::OneTime, 5, 0x55);
    let mut upload = kem_one_time(5..6);
    upload.push(again.clone());
    assert_eq!(
        store
            .upload_kem_prekeys(
                owner,
                KemUpload {
                    last_resort: None,
                    one_time: upload
                },
                10
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .upload_kem_prekeys(
                owner,
                KemUpload {
                    last_resort: None,
                    one_time: kem_one_time(5..7)
                },
                10
            )
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.claim_kem_prekey(owner, 2).await.unwrap().prekey,
        Some(kem_one_time(5..6).remove(0))
    );
    store.claim_kem_prekey(owner, 2).await.unwrap();
    assert_eq!(store.claim_kem_prekey(owner, 2).await.unwrap().prekey, Some(new));
}

pub(crate) async fn a_kem_upload_over_the_cap_stores_nothing<S: Store>(store: S) {
    let owner = registered(&store, 1).await;
    assert_eq!(
        store
            .upload_kem_prekeys(
                owner,
                KemUpload {
                    last_resort: None,
                    one_time: kem_one_time(0..4)
                },
                5
            )
            .await
            .unwrap(),
        4
    );
    let last_resort = kem_prekey(KemPreKeyKind::LastResort, 1, 0x77);
    assert!(matches!(
        store
            .upload_kem_prekeys(
                owner,
                KemUpload {
                    last_resort: Some(last_resort),
                    one_time: kem_one_time(10..12)
                },
                5
            )
            .await,
        Err(StoreError::TooManyPreKeys {
            held: 4,
            adding: 2,
            max: 5
        })
    ));
    // Neither the one-time keys nor the last-resort key of the refused upload were stored.
    for _ in 0..4 {
        assert!(store.claim_kem_prekey(owner, 1).await.unwrap().prekey.is_some());
    }
    assert_eq!(store.claim_kem_prekey(owner, 1).await.unwrap().prekey, None);
}

pub(crate) async fn kem_prekeys_need_a_mailbox_and_go_with_it<S: Store>(store: S) {
    assert!(matches!(
        store
            .upload_kem_prekeys(
                mailbox(9),
                KemUpload {
                    last_resort: None,
                    one_time: kem_one_time(0..1)
                },
                5
            )
            .await,
        Err(StoreError::UnknownMailbox)
    ));
    assert!(matches!(
        store.claim_kem_prekey(mailbox(9), 1).await,
        Err(StoreError::UnknownMailbox)
    ));
    let owner = registered(&store, 1).await;
    let last_resort = kem_prekey(KemPreKeyKind::LastResort, 1, 0x77);
    store
        .upload_kem_prekeys(
            owner,
            KemUpload {
                last_resort: Some(last_resort),
                one_time: kem_one_time(0..3),
            },
            5,
        )
        .await
        .unwrap();
    store.delete_mailbox(owner).await.unwrap();
    let owner = registered(&store, 1).await;
    let claimed = store.claim_kem_prekey(owner, 1).await.unwrap();
    assert_eq!((claimed.prekey, claimed.remaining), (None, 0));
}

pub(crate) async fn concurrent_kem_claims_hand_out_each_one_time_key_once<S: Store>(store: S) {
    let store = Arc::new(store);
    let owner = registered(&*store, 1).await;
    store
        .upload_kem_prekeys(
            owner,
            KemUpload {
                last_resort: Some(kem_prekey(KemPreKeyKind::LastResort, 1, 0xEE)),
                one_time: kem_one_time(0..20),
            },
            100,
        )
        .await
        .unwrap();
    fifty_kem_claims_hand_out_each_one_time_key_once(&[store], owner).await;
}

/// 50 concurrent claims of `owner`'s 20 one-time KEM prekeys (last-resort id 1), spread over
/// `nodes` (stores on one database): each one-time key is handed out once, the other 30 claims
/// get the last-resort key.
pub(crate) async fn fifty_kem_claims_hand_out_each_one_time_key_once<S: Store>(
    nodes: &[Arc<S>],
    owner: hush_proto::MailboxId,
) {
    let claims: Vec<_> = (0..50)
        .map(|n| {
            let node = Arc::clone(&nodes[n % nodes.len()]);
            tokio::spawn(async move { node.claim_kem_prekey(owner, 1).await })
        })
        .collect();
    let mut one_time = Vec::new();
    let mut last_resort = 0;
    for claim in claims {
        let prekey = claim.await.unwrap().unwrap().prekey.unwrap();
        match prekey.kind {
            KemPreKeyKind::OneTime => one_time.push(prekey.id),
            KemPreKeyKind::LastResort => last_resort += 1,
        }
    }
    let distinct: HashSet<u32> = one_time.iter().copied().collect();
    assert_eq!(one_time.len(), 20, "claimed {one_time:?}");
    assert_eq!(
        distinct.len(),
        20,
        "a KEM prekey was handed out twice: {one_time:?}"
    );
    assert_eq!(last_resort, 30);
}
