//! The fuzzed relay's fixed world: the clock, the two fixture accounts (the owner of the fuzzed
//! connection and a peer) with genuine signatures, the limits of each mode, the setup a mode
//! installs, and a snapshot of what the store holds.

use std::sync::{Arc, OnceLock};

use hush_crypto::devices::AccountSigningKey;
use hush_crypto::{Account, SignaturePurpose};
use hush_proto::{
    AccessKey, AccountId, Envelope, MailboxId, OneTimePreKey, PreKeyUpload, Request, Signature, SignedPreKey,
    auth_transcript,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::config::Limits;
use crate::delivery::Online;
use crate::session::Session;
use crate::shared::Shared;
use crate::store::memory::MemoryStore;
use crate::store::{MailboxStatus, Quota, Store, StoredDeviceList};

/// The fixed clock (Unix seconds).
pub const NOW: u64 = 1_800_000_000;
/// The access key both fixture mailboxes start with (seeds present it, and a wrong one).
pub const ACCESS_KEY: AccessKey = AccessKey([0xAC; 32]);
/// The connection's login challenge.
pub const CHALLENGE: [u8; 32] = [0xC4; 32];
/// The connection's TLS exporter value.
pub const EXPORTER: [u8; 32] = [0xE7; 32];

/// Mode bit: start logged in as the owner.
pub const MODE_LOGGED_IN: u8 = 1;
/// Mode bit: a delivery task pushes the mailbox's messages after each request.
pub const MODE_DELIVERING: u8 = 1 << 5;
/// Mode bit: a second mailbox exists, with a bundle and a queued message.
pub const MODE_PEER: u8 = 1 << 6;
/// Mode bit: tight limits.
pub const MODE_TIGHT: u8 = 1 << 7;

/// One-time prekeys made for each fixture account's setup (the default cap).
const SETUP_ONE_TIME: usize = 500;
/// One-time prekeys in each fixture account's genuine upload (ids after the setup ones).
const UPLOAD_ONE_TIME: usize = 5;

/// A fixture account, as the relay sees it.
#[derive(Debug)]
pub(super) struct Party {
    pub(super) identity_key: [u8; 32],
    pub(super) mailbox: MailboxId,
    pub(super) signed_prekey: SignedPreKey,
    /// Installed directly in the store at setup.
    pub(super) setup_one_time: Vec<OneTimePreKey>,
    /// A genuine `UploadPreKeys` (signed prekey and fresh one-time prekeys).
    pub(super) upload: Request,
    /// A genuine login on the fuzzed connection.
    pub(super) authenticate: Request,
    /// The account's membership signature for the fixture account key ([`account_key`]).
    pub(super) membership: Signature,
}

/// The fixture account key both fixture devices belong to (seeded, so seeds keep matching).
pub(super) fn account_key() -> AccountSigningKey {
    AccountSigningKey::generate(&mut StdRng::seed_from_u64(3))
}

#[derive(Debug)]
pub(super) struct Fixture {
    pub(super) owner: Party,
    pub(super) peer: Party,
    /// The public [`account_key`].
    pub(super) account: AccountId,
}

#[allow(clippy::expect_used)]
fn party(seed: u64) -> Party {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut account = Account::new(NOW, &mut rng);
    let identity_key = account.identity_key().to_bytes();
    // A new account always has a signed prekey.
    let spk = account
        .signed_prekey()
        .expect("a new account has a signed prekey");
    let signed_prekey = SignedPreKey {
        id: spk.id,
        created_at: spk.created_at,
        key: spk.key.to_bytes(),
        signature: Signature(spk.signature),
    };
    let mut one_time = |count| -> Vec<OneTimePreKey> {
        account
            .generate_one_time_prekeys(count, &mut rng)
            .into_iter()
            .map(|otk| OneTimePreKey {
                id: otk.id,
                key: otk.key.to_bytes(),
            })
            .collect()
    };
    let setup_one_time = one_time(SETUP_ONE_TIME);
    let upload = Request::UploadPreKeys {
        signed_prekey: signed_prekey.clone(),
        // 5 is under the upload limit of 100.
        one_time_prekeys: PreKeyUpload::new(one_time(UPLOAD_ONE_TIME)).expect("under the upload limit"),
    };
    let authenticate = Request::Authenticate {
        identity_key,
        signature: Signature(account.sign(
            SignaturePurpose::RelayLogin,
            &auth_transcript(&CHALLENGE, &EXPORTER, &identity_key),
        )),
        registration: None,
    };
    Party {
        identity_key,
        mailbox: MailboxId::for_identity(&identity_key),
        signed_prekey,
        setup_one_time,
        upload,
        authenticate,
        membership: Signature(account.sign_membership(&account_key().public())),
    }
}

/// Built once per process from seeded RNGs, so the seed corpus keeps matching it.
pub(super) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        owner: party(1),
        peer: party(2),
        account: AccountId(*account_key().public().as_bytes()),
    })
}

pub(super) fn limits(mode: u8) -> Limits {
    let defaults = Limits::default();
    if mode & MODE_TIGHT == 0 {
        return defaults;
    }
    Limits {
        max_frame_len: 4096,
        max_envelope_len: 64,
        mailbox_max_messages: 4,
        mailbox_max_bytes: 128,
        max_one_time_prekeys: 8,
        prekey_low_threshold: 4,
        bundle_fetches_per_minute: 3,
        bundle_fetches_per_target_per_minute: 2,
        stranger_fetches_per_target: 1,
        stranger_messages_per_mailbox: 3,
        stranger_bytes_per_mailbox: 100,
        max_shared_fanout_bytes: 256,
        ephemeral_per_second: 0,
        ephemeral_burst: 2,
        ..defaults
    }
}

/// What the store holds for one mailbox.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MailboxView {
    pub(super) status: MailboxStatus,
    pub(super) one_time_prekeys: Option<u32>,
    pub(super) seqs: Vec<u64>,
    pub(super) access_verifier: Option<[u8; 32]>,
}

/// What the store holds for both fixture mailboxes (the only ones that can exist: registering
/// needs a login signature) and for the fixture account (the only account with a list: storing
/// one needs the account key's signature).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Snapshot {
    pub(super) owner: MailboxView,
    pub(super) peer: MailboxView,
    pub(super) depth: u64,
    pub(super) device_list: Option<StoredDeviceList>,
}

impl Snapshot {
    pub(super) fn view(&self, mailbox: &MailboxId) -> Option<&MailboxView> {
        let fixture = fixture();
        if *mailbox == fixture.owner.mailbox {
            Some(&self.owner)
        } else if *mailbox == fixture.peer.mailbox {
            Some(&self.peer)
        } else {
            None
        }
    }

    pub(super) fn prekeys(&self, mailbox: &MailboxId) -> Option<u32> {
        self.view(mailbox).and_then(|view| view.one_time_prekeys)
    }

    pub(super) fn queued(&self, mailbox: &MailboxId) -> usize {
        self.view(mailbox).map_or(0, |view| view.seqs.len())
    }
}

/// Installs the mode's mailboxes, prekeys, messages and login. Every step is within the
/// limits, so none fails.
pub(super) async fn setup(shared: &Shared<MemoryStore>, session: &mut Session, mode: u8) -> u64 {
    let fixture = fixture();
    let store = &*shared.store;
    let cap = shared.limits.max_one_time_prekeys as usize;
    let mut enqueued = 0;
    if mode & MODE_LOGGED_IN != 0 {
        let owner = &fixture.owner;
        register(store, owner, "owner").await;
        let one_time = match (mode >> 1) & 3 {
            0 => None,
            1 => Some(0),
            2 => Some(3),
            _ => Some(cap),
        };
        if let Some(count) = one_time {
            install_prekeys(shared, owner, count.min(cap)).await;
        }
        let queued = match (mode >> 3) & 3 {
            0 => 0,
            1 => 1,
            2 => 3,
            _ => 70,
        };
        enqueued += install_messages(shared, owner.mailbox, queued).await;
        // What `authenticate` does once the signature verifies.
        let online = Arc::new(Online::new(session.id, session.outbox.clone()));
        shared.hub.register(owner.mailbox, online.clone());
        session.mailbox = Some(owner.mailbox);
        session.online = Some(online);
    }
    if mode & MODE_PEER != 0 {
        let peer = &fixture.peer;
        register(store, peer, "peer").await;
        install_prekeys(shared, peer, 3.min(cap)).await;
        enqueued += install_messages(shared, peer.mailbox, 1).await;
    }
    enqueued
}

/// Registers `party` (the `who` of the setup) with the fixture access key.
async fn register(store: &MemoryStore, party: &Party, who: &str) {
    let registered = store.register(party.mailbox, party.identity_key, NOW).await;
    assert!(registered.is_ok(), "setup: registering the {who} failed");
    let keyed = store
        .set_access_verifier(party.mailbox, Some(ACCESS_KEY.verifier()))
        .await;
    assert!(keyed.is_ok(), "setup: setting the {who}'s access key failed");
}

async fn install_prekeys(shared: &Shared<MemoryStore>, party: &Party, count: usize) {
    let one_time = party.setup_one_time.iter().take(count).copied().collect();
    let held = shared
        .store
        .upload_prekeys(
            party.mailbox,
            party.signed_prekey.clone(),
            one_time,
            shared.limits.max_one_time_prekeys,
        )
        .await;
    assert!(
        held.is_ok_and(|held| held as usize == count),
        "setup: uploading {count} prekeys failed"
    );
}

/// Queues `count` messages for `mailbox` (fewer if the quota holds fewer); how many.
async fn install_messages(shared: &Shared<MemoryStore>, mailbox: MailboxId, count: u64) -> u64 {
    let quota = Quota {
        max_messages: shared.limits.mailbox_max_messages,
        max_bytes: shared.limits.mailbox_max_bytes,
    };
    let count = count.min(quota.max_messages);
    // Small envelopes of distinct contents, well within the tight byte quota.
    let deliveries = (0..count)
        .filter_map(|index| Envelope::new(vec![index as u8; 1 + (index % 7) as usize]))
        .map(|envelope| (mailbox, envelope))
        .collect();
    let stored = shared.store.enqueue(deliveries, NOW, quota).await;
    assert!(
        stored.is_ok_and(|seqs| seqs.len() as u64 == count),
        "setup: queueing {count} messages failed"
    );
    count
}

async fn view(store: &MemoryStore, mailbox: MailboxId) -> MailboxView {
    let status = store.mailbox_status(mailbox).await;
    assert!(status.is_ok(), "the memory store failed");
    let status = status.unwrap_or(MailboxStatus::Unknown);
    let one_time_prekeys = store.one_time_prekey_count(mailbox).await.ok();
    let seqs: Vec<u64> = store
        .fetch(mailbox, 0, usize::MAX)
        .await
        .map(|messages| messages.iter().map(|message| message.seq).collect())
        .unwrap_or_default();
    let active = matches!(status, MailboxStatus::Active { .. });
    assert_eq!(
        one_time_prekeys.is_some(),
        active,
        "a prekey count exists exactly for active mailboxes"
    );
    assert!(active || seqs.is_empty(), "an unknown mailbox holds messages");
    assert!(
        seqs.windows(2).all(|pair| pair.first() < pair.get(1)),
        "seqs out of order"
    );
    let access_verifier = store.access_verifier(mailbox).await.ok().flatten();
    MailboxView {
        status,
        one_time_prekeys,
        seqs,
        access_verifier,
    }
}

/// What the store holds now, checking each mailbox's own invariants.
pub(super) async fn snapshot(store: &MemoryStore) -> Snapshot {
    let fixture = fixture();
    let depth = store.queue_depth().await;
    assert!(depth.is_ok(), "the memory store failed");
    let device_list = store.device_list(fixture.account).await;
    assert!(device_list.is_ok(), "the memory store failed");
    Snapshot {
        owner: view(store, fixture.owner.mailbox).await,
        peer: view(store, fixture.peer.mailbox).await,
        depth: depth.unwrap_or_default(),
        device_list: device_list.ok().flatten(),
    }
}
