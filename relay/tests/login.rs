//! What a login costs the relay on each path (PROTOCOL.md, Login, step 4): a wrong signature is
//! refused before any store access, so its work is the same whether the claimed mailbox exists,
//! never existed or was deleted. Counted on a store that counts its calls, not timed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::sync::atomic::{AtomicU64, Ordering};

use helpers::{T0, test_config};
use hush_crypto::{Account, SignaturePurpose};
use hush_proto::{
    AccountId, Envelope, ErrorCode, MailboxId, OneTimePreKey, Request, Response, Signature, SignedPreKey,
    auth_transcript,
};
use hush_relay::client::{ClientError, RelayClient};
use hush_relay::clock::{Clock, ManualClock};
use hush_relay::store::memory::MemoryStore;
use hush_relay::store::{
    ClaimedBundle, DeviceListUpdate, MailboxStatus, Quota, Store, StoreError, StoredDeviceList, StoredMessage,
};
use hush_relay::{Relay, RelayHandle};

/// The in-memory store, counting every call made to it.
#[derive(Debug, Default)]
struct Counting {
    inner: MemoryStore,
    calls: AtomicU64,
}

impl Counting {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Store for Counting {
    async fn register(&self, mailbox: MailboxId, identity_key: [u8; 32], now: u64) -> Result<(), StoreError> {
        self.count();
        self.inner.register(mailbox, identity_key, now).await
    }

    async fn mailbox_status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        self.count();
        self.inner.mailbox_status(mailbox).await
    }

    async fn upload_prekeys(
        &self,
        mailbox: MailboxId,
        signed_prekey: SignedPreKey,
        one_time: Vec<OneTimePreKey>,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        self.count();
        self.inner
            .upload_prekeys(mailbox, signed_prekey, one_time, max_one_time)
            .await
    }

    async fn claim_bundle(&self, mailbox: MailboxId) -> Result<ClaimedBundle, StoreError> {
        self.count();
        self.inner.claim_bundle(mailbox).await
    }

    async fn upload_kem_prekeys(
        &self,
        mailbox: MailboxId,
        upload: hush_relay::store::KemUpload,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        self.count();
        self.inner.upload_kem_prekeys(mailbox, upload, max_one_time).await
    }

    async fn claim_kem_prekey(
        &self,
        mailbox: MailboxId,
        signed_prekey_id: u32,
    ) -> Result<hush_relay::store::ClaimedKemPreKey, StoreError> {
        self.count();
        self.inner.claim_kem_prekey(mailbox, signed_prekey_id).await
    }

    async fn one_time_prekey_count(&self, mailbox: MailboxId) -> Result<u32, StoreError> {
        self.count();
        self.inner.one_time_prekey_count(mailbox).await
    }

    async fn set_access_verifier(
        &self,
        mailbox: MailboxId,
        verifier: Option<[u8; 32]>,
    ) -> Result<(), StoreError> {
        self.count();
        self.inner.set_access_verifier(mailbox, verifier).await
    }

    async fn access_verifier(&self, mailbox: MailboxId) -> Result<Option<[u8; 32]>, StoreError> {
        self.count();
        self.inner.access_verifier(mailbox).await
    }

    async fn enqueue(
        &self,
        deliveries: Vec<(MailboxId, Envelope)>,
        now: u64,
        quota: Quota,
    ) -> Result<Vec<u64>, StoreError> {
        self.count();
        self.inner.enqueue(deliveries, now, quota).await
    }

    async fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.count();
        self.inner.fetch(mailbox, after, limit).await
    }

    async fn ack(&self, mailbox: MailboxId, through: u64) -> Result<u64, StoreError> {
        self.count();
        self.inner.ack(mailbox, through).await
    }

    async fn publish_device_list(&self, update: DeviceListUpdate) -> Result<(), StoreError> {
        self.count();
        self.inner.publish_device_list(update).await
    }

    async fn device_list(&self, account: AccountId) -> Result<Option<StoredDeviceList>, StoreError> {
        self.count();
        self.inner.device_list(account).await
    }

    async fn purge_expired(&self, cutoff: u64) -> Result<u64, StoreError> {
        self.count();
        self.inner.purge_expired(cutoff).await
    }

    async fn delete_mailbox(&self, mailbox: MailboxId) -> Result<(), StoreError> {
        self.count();
        self.inner.delete_mailbox(mailbox).await
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        self.count();
        self.inner.queue_depth().await
    }
}

/// A relay requiring registration tokens (so an owner's login to an unknown mailbox is refused
/// too), on the counting store.
async fn spawn() -> (
    std::net::SocketAddr,
    [u8; 32],
    RelayHandle<Counting>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.metrics_listen = None;
    let authority = Account::new(T0, &mut rand::rng());
    config.registration_key = Some(hush_relay::tls::to_hex(&authority.identity_key().to_bytes()));
    let relay = Relay::bind_with(config, Counting::default(), Clock::Manual(ManualClock::new(T0)))
        .await
        .unwrap();
    let addr = relay.local_addr().unwrap();
    let fingerprint = relay.fingerprint();
    let handle = relay.handle();
    tokio::spawn(relay.run(std::future::pending()));
    (addr, fingerprint, handle, dir)
}

/// A login claiming `claimed`'s key with a signature by another key: the store calls it made
/// and the answer.
async fn forged_login(
    addr: std::net::SocketAddr,
    fingerprint: [u8; 32],
    handle: &RelayHandle<Counting>,
    claimed: &Account,
) -> (u64, hush_proto::ErrorResponse) {
    let mut client = RelayClient::connect(addr, fingerprint).await.unwrap();
    let signer = Account::new(T0, &mut rand::rng());
    let before = handle.store().calls();
    let answer = client
        .request(Request::Authenticate {
            identity_key: claimed.identity_key().to_bytes(),
            signature: Signature(signer.sign(
                SignaturePurpose::RelayLogin,
                &auth_transcript(&[0; 32], &[0; 32], &[0; 32]),
            )),
            registration: None,
        })
        .await;
    let calls = handle.store().calls() - before;
    match answer {
        Err(ClientError::Refused(error)) => (calls, error),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_signature_does_the_same_work_for_an_existing_unknown_and_deleted_mailbox() {
    let (addr, fingerprint, handle, _dir) = spawn().await;
    // An existing mailbox (registered directly: the relay requires tokens) and a deleted one.
    let existing = Account::new(T0, &mut rand::rng());
    let deleted = Account::new(T0, &mut rand::rng());
    for account in [&existing, &deleted] {
        let key = account.identity_key().to_bytes();
        handle
            .store()
            .register(MailboxId::for_identity(&key), key, T0)
            .await
            .unwrap();
    }
    let mut owner = RelayClient::connect(addr, fingerprint).await.unwrap();
    assert!(matches!(
        owner.login(&deleted, None).await.unwrap(),
        Response::Authenticated { .. }
    ));
    assert_eq!(
        owner.request(Request::DeleteMailbox).await.unwrap(),
        Response::MailboxDeleted
    );
    let never = Account::new(T0, &mut rand::rng());

    let answers = [
        forged_login(addr, fingerprint, &handle, &existing).await,
        forged_login(addr, fingerprint, &handle, &never).await,
        forged_login(addr, fingerprint, &handle, &deleted).await,
    ];
    for (calls, error) in &answers {
        assert_eq!(*calls, 0, "a wrong signature reached the store");
        assert_eq!(error, &answers[0].1, "one answer for every mailbox state");
        assert_eq!(error.code, ErrorCode::Unauthorized);
    }

    // The owner of an unknown mailbox, without the token the relay requires, gets the same
    // answer after a lookup (the documented difference: only the key's owner gets that far).
    let mut client = RelayClient::connect(addr, fingerprint).await.unwrap();
    let before = handle.store().calls();
    let refused = match client.login(&never, None).await {
        Err(ClientError::Refused(error)) => error,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refused, answers[0].1);
    assert_eq!(handle.store().calls() - before, 1);
}
