//! The relay's KEM prekey directory over real QUIC and a real SQLite file: signed one-time KEM
//! prekeys each served once, the last-resort one when they are gone, signatures checked on
//! upload, the cap, and the owner told when they run low.

use std::collections::HashSet;

use crate::helpers::{T0, mailbox, prekey_upload, refused, spawn_relay};
use hush_crypto::pq::{KemPreKeyPublic, KemPublicKey, PqPreKeyBundle};
use hush_crypto::{
    Account, Curve25519PublicKey, IdentityKey, OneTimePreKeyPublic, PreKeyBundle, SignedPreKeyPublic,
};
use hush_proto::{
    Bundle, ErrorCode, KemPreKey, KemPreKeyKind, KemPreKeyUpload, KemPublicKeyBytes, Push, Request, Response,
    Signature,
};
use hush_relay::client::RelayClient;

fn to_wire(key: &KemPreKeyPublic) -> KemPreKey {
    KemPreKey {
        kind: match key.kind {
            hush_crypto::pq::KemPreKeyKind::OneTime => KemPreKeyKind::OneTime,
            _ => KemPreKeyKind::LastResort,
        },
        id: key.id,
        key: KemPublicKeyBytes(Box::new(*key.key.as_bytes())),
        signature: Signature(key.signature),
    }
}

/// An upload of `count` fresh one-time KEM prekeys and, if asked, a fresh last-resort one.
fn kem_upload(account: &mut Account, count: usize, last_resort: bool) -> Request {
    let rng = &mut rand::rng();
    let one_time = account
        .generate_kem_one_time_prekeys(count, rng)
        .iter()
        .map(to_wire)
        .collect();
    let last_resort = last_resort.then(|| to_wire(&account.generate_last_resort_kem_prekey(rng).unwrap()));
    Request::UploadKemPreKeys {
        last_resort,
        one_time: KemPreKeyUpload::new(one_time).unwrap(),
    }
}

/// The served bundle as hush-crypto reads it, verified (KEM signature included).
fn verified(bundle: &Bundle) -> PqPreKeyBundle {
    let kem = bundle.kem_prekey.as_ref().map(|kem| KemPreKeyPublic {
        kind: match kem.kind {
            KemPreKeyKind::OneTime => hush_crypto::pq::KemPreKeyKind::OneTime,
            KemPreKeyKind::LastResort => hush_crypto::pq::KemPreKeyKind::LastResort,
        },
        id: kem.id,
        key: KemPublicKey::from_bytes(&kem.key.0).unwrap(),
        signature: kem.signature.0,
    });
    let pq = PqPreKeyBundle {
        bundle: PreKeyBundle {
            identity_key: IdentityKey::from_bytes(&bundle.identity_key).unwrap(),
            signed_prekey: SignedPreKeyPublic {
                id: bundle.signed_prekey.id,
                created_at: bundle.signed_prekey.created_at,
                key: Curve25519PublicKey::from_bytes(&bundle.signed_prekey.key).unwrap(),
                signature: bundle.signed_prekey.signature.0,
            },
            one_time_prekey: bundle.one_time_prekey.map(|otk| OneTimePreKeyPublic {
                id: otk.id,
                key: Curve25519PublicKey::from_bytes(&otk.key).unwrap(),
            }),
        },
        kem_prekey: kem,
    };
    pq.verify(None).unwrap();
    pq
}

async fn fetch(client: &mut RelayClient, owner: &Account) -> Bundle {
    match client
        .request(Request::FetchBundle {
            mailbox: mailbox(owner),
            access: None,
        })
        .await
        .unwrap()
    {
        Response::Bundle(bundle) => bundle,
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_kem_prekey_claimed_at_most_once_under_50_concurrent_fetches_then_the_last_resort() {
    let relay = spawn_relay(|_| {}).await;
    let (mut owner, mut owner_client) = relay.user().await;
    owner_client.request(prekey_upload(&mut owner, 5)).await.unwrap();
    assert_eq!(
        owner_client
            .request(kem_upload(&mut owner, 20, true))
            .await
            .unwrap(),
        Response::KemPreKeysStored {
            one_time_kem_prekeys: 20
        }
    );
    let mut fetchers = Vec::new();
    for _ in 0..50 {
        fetchers.push(relay.user().await.1);
    }
    let target = mailbox(&owner);
    let tasks: Vec<_> = fetchers
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                client
                    .request(Request::FetchBundle {
                        mailbox: target,
                        access: None,
                    })
                    .await
            })
        })
        .collect();
    let mut one_time = Vec::new();
    let mut last_resort = 0;
    for task in tasks {
        let Response::Bundle(bundle) = task.await.unwrap().unwrap() else {
            panic!("not a bundle");
        };
        let kem = verified(&bundle).kem_prekey.unwrap();
        match bundle.kem_prekey.unwrap().kind {
            KemPreKeyKind::OneTime => one_time.push(kem.id),
            KemPreKeyKind::LastResort => {
                assert_eq!(kem.id, bundle.signed_prekey.id);
                last_resort += 1;
            }
        }
    }
    let distinct: HashSet<u32> = one_time.iter().copied().collect();
    assert_eq!(one_time.len(), 20, "each of the 20 KEM prekeys served");
    assert_eq!(distinct.len(), 20, "no KEM prekey served twice");
    assert_eq!(last_resort, 30, "the rest get the last-resort KEM prekey");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kem_upload_with_a_bad_signature_a_foreign_key_or_the_wrong_kind_is_refused() {
    let relay = spawn_relay(|_| {}).await;
    let (mut owner, mut client) = relay.user().await;
    client.request(prekey_upload(&mut owner, 1)).await.unwrap();
    let Request::UploadKemPreKeys {
        last_resort,
        one_time,
    } = kem_upload(&mut owner, 2, true)
    else {
        unreachable!()
    };
    let mut forged = one_time.clone().into_vec();
    forged[1].signature.0[3] ^= 1;
    let mut wrong_kind = one_time.clone().into_vec();
    wrong_kind[0].kind = KemPreKeyKind::LastResort;
    let mut bad_last_resort = last_resort.clone().unwrap();
    bad_last_resort.signature.0[0] ^= 1;
    let mut other = Account::new(T0, &mut rand::rng());
    let foreign = kem_upload(&mut other, 1, false);
    for (what, request) in [
        (
            "one forged signature",
            Request::UploadKemPreKeys {
                last_resort: last_resort.clone(),
                one_time: KemPreKeyUpload::new(forged).unwrap(),
            },
        ),
        (
            "a one-time key sent as last-resort",
            Request::UploadKemPreKeys {
                last_resort: last_resort.clone(),
                one_time: KemPreKeyUpload::new(wrong_kind).unwrap(),
            },
        ),
        (
            "a forged last-resort key",
            Request::UploadKemPreKeys {
                last_resort: Some(bad_last_resort),
                one_time: one_time.clone(),
            },
        ),
        ("keys signed by another identity", foreign),
    ] {
        assert_eq!(
            refused(client.request(request).await),
            ErrorCode::Invalid,
            "{what}"
        );
    }
    // Nothing of the refused uploads was stored: the bundle has no KEM prekey.
    let (_, mut fetcher) = relay.user().await;
    assert_eq!(fetch(&mut fetcher, &owner).await.kem_prekey, None);
    // The genuine upload is stored.
    assert_eq!(
        client
            .request(Request::UploadKemPreKeys {
                last_resort,
                one_time
            })
            .await
            .unwrap(),
        Response::KemPreKeysStored {
            one_time_kem_prekeys: 2
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kem_upload_over_the_cap_is_refused_whole() {
    let relay = spawn_relay(|config| config.limits.max_kem_one_time_prekeys = 4).await;
    let (mut owner, mut client) = relay.user().await;
    client.request(prekey_upload(&mut owner, 1)).await.unwrap();
    assert_eq!(
        client.request(kem_upload(&mut owner, 3, false)).await.unwrap(),
        Response::KemPreKeysStored {
            one_time_kem_prekeys: 3
        }
    );
    assert_eq!(
        refused(client.request(kem_upload(&mut owner, 2, true)).await),
        ErrorCode::TooManyPreKeys
    );
    let (_, mut fetcher) = relay.user().await;
    for _ in 0..3 {
        let kem = fetch(&mut fetcher, &owner).await.kem_prekey.unwrap();
        assert_eq!(kem.kind, KemPreKeyKind::OneTime);
    }
    // The refused upload's last-resort key was not stored either.
    assert_eq!(fetch(&mut fetcher, &owner).await.kem_prekey, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_is_told_when_its_kem_prekeys_run_low_and_a_newer_last_resort_replaces_the_old() {
    let relay = spawn_relay(|config| config.limits.prekey_low_threshold = 2).await;
    let (mut owner, mut owner_client) = relay.user().await;
    owner_client.request(prekey_upload(&mut owner, 10)).await.unwrap();
    owner_client
        .request(kem_upload(&mut owner, 2, true))
        .await
        .unwrap();
    let (_, mut fetcher) = relay.user().await;
    fetch(&mut fetcher, &owner).await;
    let remaining = loop {
        if let Push::KemPreKeysLow { remaining } = owner_client.next_push().await.unwrap() {
            break remaining;
        }
    };
    assert_eq!(remaining, 1);
    fetch(&mut fetcher, &owner).await;
    let old = fetch(&mut fetcher, &owner).await.kem_prekey.unwrap();
    assert_eq!(old.kind, KemPreKeyKind::LastResort);
    // A rotation: the new signed prekey, then its last-resort KEM prekey.
    owner.rotate_signed_prekey(T0 + 10, &mut rand::rng());
    owner_client.request(prekey_upload(&mut owner, 0)).await.unwrap();
    owner_client
        .request(kem_upload(&mut owner, 0, true))
        .await
        .unwrap();
    let bundle = fetch(&mut fetcher, &owner).await;
    let new = verified(&bundle).kem_prekey.unwrap();
    assert_eq!(new.id, bundle.signed_prekey.id);
    assert_ne!(new.key.as_bytes(), &*old.key.0);
}
