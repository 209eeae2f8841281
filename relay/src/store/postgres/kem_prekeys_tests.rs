//! KEM prekeys on a shared database: claims from two nodes at once, and the schema step that
//! adds them to a database of the previous version.

use hush_proto::KemPreKeyKind;

use super::tests::{connect, database_at_version, two_nodes};
use crate::store::suite::{
    fifty_kem_claims_hand_out_each_one_time_key_once, kem_one_time, kem_prekey, mailbox, one_time_prekeys,
    registered, signed_prekey,
};
use crate::store::{KemUpload, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_kem_claims_across_two_nodes_hand_out_each_one_time_key_once() {
    let (a, b) = two_nodes().await;
    let owner = registered(&*a, 1).await;
    let last_resort = kem_prekey(KemPreKeyKind::LastResort, 1, 0xEE);
    b.upload_kem_prekeys(
        owner,
        KemUpload {
            last_resort: Some(last_resort),
            one_time: kem_one_time(0..20),
        },
        100,
    )
    .await
    .unwrap();
    fifty_kem_claims_hand_out_each_one_time_key_once(&[a, b], owner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_four_adds_kem_prekeys_and_keeps_the_ec_prekeys() {
    let (url, client) = database_at_version(3).await;
    let store = connect(&url).await;
    store
        .upload_prekeys(mailbox(1), signed_prekey(3), one_time_prekeys(0..2), 10)
        .await
        .unwrap();
    let last_resort = kem_prekey(KemPreKeyKind::LastResort, 3, 0x33);
    let held = store
        .upload_kem_prekeys(
            mailbox(1),
            KemUpload {
                last_resort: Some(last_resort.clone()),
                one_time: kem_one_time(0..1),
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(held, 1);
    let bundle = store.claim_bundle(mailbox(1)).await.unwrap();
    assert_eq!(bundle.signed_prekey, signed_prekey(3));
    let first = store.claim_kem_prekey(mailbox(1), 3).await.unwrap();
    assert_eq!(
        first.prekey.map(|prekey| prekey.kind),
        Some(KemPreKeyKind::OneTime)
    );
    let second = store.claim_kem_prekey(mailbox(1), 3).await.unwrap();
    assert_eq!(second.prekey, Some(last_resort));
    let version: i32 = client
        .query_one("SELECT max(version) FROM schema_version", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 4);
}
