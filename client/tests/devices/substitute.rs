//! A relay store that lies about one device: the bundle it serves for a chosen mailbox is an
//! impostor's (another identity key, with a signed prekey that key really signed), or its KEM
//! prekey is stripped or served again. Everything else is the in-memory store's, and every
//! mailbox messages are stored for, and every KEM prekey claimed, is recorded.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::{Arc, Mutex};

use hush_crypto::Account;
use hush_proto::{AccountId, Envelope, KemPreKeyKind, MailboxId, OneTimePreKey, SignedPreKey};
use hush_relay::store::memory::MemoryStore;
use hush_relay::store::{
    ClaimedBundle, ClaimedKemPreKey, DeviceListUpdate, MailboxStatus, Quota, Store, StoreError,
    StoredDeviceList, StoredMessage,
};

#[derive(Debug, Default)]
pub struct Substituting {
    inner: MemoryStore,
    lies: Arc<Lies>,
}

/// What the test controls and sees of the lying store.
#[derive(Debug, Default)]
pub struct Lies {
    /// The mailbox whose bundle is swapped, and the impostor's bundle.
    swap: Mutex<Option<(MailboxId, ClaimedBundle)>>,
    /// Every mailbox a message was stored for, with the envelope, in order.
    pub stored_for: Mutex<Vec<(MailboxId, Vec<u8>)>>,
    /// What is done to one mailbox's KEM prekeys.
    kem: Mutex<KemLie>,
    /// Every KEM prekey served: the mailbox, and the key's kind and id.
    pub kem_served: Mutex<Vec<(MailboxId, KemPreKeyKind, u32)>>,
}

/// A lie about one mailbox's KEM prekeys.
#[derive(Debug, Default)]
enum KemLie {
    #[default]
    None,
    /// Its bundles come without a KEM prekey (an old relay, or a downgrade attempt).
    Strip(MailboxId),
    /// Its first claimed KEM prekey is served to every later fetch too.
    Reuse(MailboxId, Option<ClaimedKemPreKey>),
}

impl Substituting {
    /// The store and the handle the test keeps.
    pub fn new() -> (Self, Arc<Lies>) {
        let store = Self::default();
        let lies = Arc::clone(&store.lies);
        (store, lies)
    }
}

impl Lies {
    /// From now on, `mailbox`'s bundle is `impostor`'s.
    pub fn swap(&self, mailbox: MailboxId, impostor: &Account) {
        let bundle = impostor.prekey_bundle(None).unwrap();
        let claimed = ClaimedBundle {
            identity_key: impostor.identity_key().to_bytes(),
            signed_prekey: hush_client_core::signed_prekey_to_wire(&bundle.signed_prekey),
            one_time_prekey: None,
            remaining: 0,
        };
        *self.swap.lock().unwrap() = Some((mailbox, claimed));
    }

    /// From now on, `mailbox`'s bundles carry no KEM prekey.
    pub fn strip_kem_prekeys(&self, mailbox: MailboxId) {
        *self.kem.lock().unwrap() = KemLie::Strip(mailbox);
    }

    /// From now on, the next KEM prekey claimed of `mailbox` is served to every fetch after it.
    pub fn reuse_kem_prekey(&self, mailbox: MailboxId) {
        *self.kem.lock().unwrap() = KemLie::Reuse(mailbox, None);
    }
}

impl Store for Substituting {
    async fn register(&self, mailbox: MailboxId, identity_key: [u8; 32], now: u64) -> Result<(), StoreError> {
        self.inner.register(mailbox, identity_key, now).await
    }

    async fn mailbox_status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        self.inner.mailbox_status(mailbox).await
    }

    async fn upload_prekeys(
        &self,
        mailbox: MailboxId,
        signed_prekey: SignedPreKey,
        one_time: Vec<OneTimePreKey>,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        self.inner
            .upload_prekeys(mailbox, signed_prekey, one_time, max_one_time)
            .await
    }

    async fn claim_bundle(&self, mailbox: MailboxId) -> Result<ClaimedBundle, StoreError> {
        let swapped = self.lies.swap.lock().unwrap().clone();
        match swapped {
            Some((target, impostor)) if target == mailbox => Ok(impostor),
            _ => self.inner.claim_bundle(mailbox).await,
        }
    }

    async fn upload_kem_prekeys(
        &self,
        mailbox: MailboxId,
        upload: hush_relay::store::KemUpload,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        self.inner.upload_kem_prekeys(mailbox, upload, max_one_time).await
    }

    async fn claim_kem_prekey(
        &self,
        mailbox: MailboxId,
        signed_prekey_id: u32,
    ) -> Result<ClaimedKemPreKey, StoreError> {
        let reused = match &*self.lies.kem.lock().unwrap() {
            KemLie::Strip(target) if *target == mailbox => {
                return Ok(ClaimedKemPreKey {
                    prekey: None,
                    remaining: 0,
                });
            }
            KemLie::Reuse(target, reused) if *target == mailbox => Some(reused.clone()),
            _ => None,
        };
        let claimed = match reused {
            Some(Some(again)) => again,
            _ => self.inner.claim_kem_prekey(mailbox, signed_prekey_id).await?,
        };
        if let KemLie::Reuse(target, reused @ None) = &mut *self.lies.kem.lock().unwrap()
            && *target == mailbox
        {
            *reused = Some(claimed.clone());
        }
        if let Some(prekey) = &claimed.prekey {
            self.lies
                .kem_served
                .lock()
                .unwrap()
                .push((mailbox, prekey.kind, prekey.id));
        }
        Ok(claimed)
    }

    async fn one_time_prekey_count(&self, mailbox: MailboxId) -> Result<u32, StoreError> {
        self.inner.one_time_prekey_count(mailbox).await
    }

    async fn set_access_verifier(
        &self,
        mailbox: MailboxId,
        verifier: Option<[u8; 32]>,
    ) -> Result<(), StoreError> {
        self.inner.set_access_verifier(mailbox, verifier).await
    }

    async fn access_verifier(&self, mailbox: MailboxId) -> Result<Option<[u8; 32]>, StoreError> {
        self.inner.access_verifier(mailbox).await
    }

    async fn enqueue(
        &self,
        deliveries: Vec<(MailboxId, Envelope)>,
        now: u64,
        quota: Quota,
    ) -> Result<Vec<u64>, StoreError> {
        self.lies.stored_for.lock().unwrap().extend(
            deliveries
                .iter()
                .map(|(mailbox, envelope)| (*mailbox, envelope.as_bytes().to_vec())),
        );
        self.inner.enqueue(deliveries, now, quota).await
    }

    async fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.inner.fetch(mailbox, after, limit).await
    }

    async fn ack(&self, mailbox: MailboxId, through: u64) -> Result<u64, StoreError> {
        self.inner.ack(mailbox, through).await
    }

    async fn publish_device_list(&self, update: DeviceListUpdate) -> Result<(), StoreError> {
        self.inner.publish_device_list(update).await
    }

    async fn device_list(&self, account: AccountId) -> Result<Option<StoredDeviceList>, StoreError> {
        self.inner.device_list(account).await
    }

    async fn purge_expired(&self, cutoff: u64) -> Result<u64, StoreError> {
        self.inner.purge_expired(cutoff).await
    }

    async fn delete_mailbox(&self, mailbox: MailboxId) -> Result<(), StoreError> {
        self.inner.delete_mailbox(mailbox).await
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        self.inner.queue_depth().await
    }
}
