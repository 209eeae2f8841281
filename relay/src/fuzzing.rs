//! Entry points of the cargo-fuzz targets `relay_request_handler` and `relay_journal_replay` in
//! `fuzz/`, shared with the corpus replay test (`tests/fuzz_corpus.rs`), and the seed corpus they
//! start from. The request handler's input format follows; the journal target takes raw file
//! bytes (see [`journal_replay`]).
//!
//! An input is `[mode, stream...]`: `mode` sets the relay up (bits below), `stream` is a byte
//! stream of length-prefixed [`ClientFrame`]s, each run through the request handlers
//! (`cmd::apply`) on one connection against a fresh in-memory store, as the connection's request
//! loop would (without the per-connection rate limit). The connection has a fixed challenge and
//! TLS exporter, so the seed corpus carries genuine login signatures of the two fixture accounts
//! and the fuzzer can log in by the front door too.
//!
//! | mode bits | meaning |
//! | --- | --- |
//! | [`MODE_LOGGED_IN`] | start logged in as the owner (set as `authenticate` does after verifying) |
//! | `(mode >> 1) & 3` | the owner's prekeys: none, a signed prekey only, 3 one-time, the cap |
//! | `(mode >> 3) & 3` | messages queued for the owner: 0, 1, 3, 70 (more than one delivery batch) |
//! | [`MODE_DELIVERING`] | a delivery task pushes the logged-in mailbox's messages after each request |
//! | [`MODE_PEER`] | a second mailbox (the peer) exists, with a bundle and one queued message |
//! | [`MODE_TIGHT`] | tight limits (tiny quota, prekey cap, envelopes and fetch rates) instead of the defaults |
//!
//! The function returns normally for every input; it panics only through an `assert!` on an
//! invariant, which is the bug the fuzzer reports. After every request:
//!
//! - the answer is `Ok` of the kind the request asks for, or a typed error whose detail fits
//!   [`hush_proto::MAX_ERROR_DETAIL_LEN`]; the response frame encodes under the frame limit;
//! - a refused request changed nothing in the store (mailboxes, prekeys, queued messages); an
//!   `Ack` answered with `UnknownSequence` in particular deleted nothing;
//! - a request that needs a login, without one, is `Unauthorized`;
//! - `Send`/`SendMany` add exactly one message per recipient (with the recipient's access key or
//!   within its stranger budget); `SetAccessKey` changes only our own verifier; `Ack` deletes exactly the messages
//!   up to its number, and only ones this connection was pushed; `FetchBundle` takes exactly the
//!   one-time prekey it returns; a login reports the prekey count the store holds;
//! - the queue depth equals the messages the mailboxes hold and never exceeds what was enqueued;
//!   no mailbox holds more one-time prekeys than the cap;
//! - every push is a push, encodes under the frame limit, and deliveries go out in `seq` order.
//!
//! Allocation is bounded by the input: at most [`MAX_REQUESTS`] requests run, and every message and
//! prekey in the store came from the input or from the fixed setup.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use hush_crypto::{Account, SignaturePurpose};
use hush_proto::{
    AccessKey, Addressed, ClientFrame, Deliveries, Delivery, Envelope, ErrorCode, FrameDecoder,
    MAX_ERROR_DETAIL_LEN, MailboxId, OneTimePreKey, PreKeyUpload, Push, Request, RequestId, Response, Seq,
    ServerFrame, Signature, SignedPreKey, auth_transcript, encode_frame,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::mpsc;

use crate::budget::StrangerBudget;
use crate::clock::{Clock, ManualClock};
use crate::cmd;
use crate::config::{Config, Limits};
use crate::connection::{ConnState, DELIVERY_BATCH, OUTBOX_CAPACITY};
use crate::hub::{Hub, Online};
use crate::limits::KeyedLimiter;
use crate::metrics::Metrics;
use crate::reports::Reports;
use crate::server::Shared;
use crate::store::memory::MemoryStore;
use crate::store::{MailboxStatus, Quota, Store};

/// The fixed clock (Unix seconds).
pub const NOW: u64 = 1_800_000_000;
/// The access key both fixture mailboxes start with (seeds present it, and a wrong one).
pub const ACCESS_KEY: AccessKey = AccessKey([0xAC; 32]);
/// The connection's login challenge.
pub const CHALLENGE: [u8; 32] = [0xC4; 32];
/// The connection's TLS exporter value.
pub const EXPORTER: [u8; 32] = [0xE7; 32];
/// Most requests run per input, so one input stays fast.
pub const MAX_REQUESTS: usize = 64;

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

/// An entry function: runs one input through one fuzz target.
pub type Target = fn(&[u8]);

/// Every fuzz target of this crate by name (the name of its `fuzz/fuzz_targets/<name>.rs` and of
/// its `fuzz/corpus/<name>/` seed directory).
pub const TARGETS: &[(&str, Target)] = &[
    ("relay_request_handler", request_handler),
    ("relay_journal_replay", journal_replay),
];

/// Entry of the fuzz target `relay_journal_replay`: `data` as the SQLite store's message journal,
/// read back as at open after a crash (a file anyone with disk access, or a torn write, may have
/// mangled), and as a run of journal records. Never panics; asserts what replay promises.
pub fn journal_replay(data: &[u8]) {
    crate::store::sqlite::fuzz_journal_replay(data);
}

/// A fixture account, as the relay sees it.
#[derive(Debug)]
struct Party {
    identity_key: [u8; 32],
    mailbox: MailboxId,
    signed_prekey: SignedPreKey,
    /// Installed directly in the store at setup.
    setup_one_time: Vec<OneTimePreKey>,
    /// A genuine `UploadPreKeys` (signed prekey and fresh one-time prekeys).
    upload: Request,
    /// A genuine login on the fuzzed connection.
    authenticate: Request,
}

#[derive(Debug)]
struct Fixture {
    owner: Party,
    peer: Party,
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
    }
}

/// Built once per process from seeded RNGs, so the seed corpus keeps matching it.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        owner: party(1),
        peer: party(2),
    })
}

fn limits(mode: u8) -> Limits {
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
        ..defaults
    }
}

thread_local! {
    // A current-thread runtime per fuzzing thread: the handlers only await the in-memory store,
    // so no I/O or timer driver is needed.
    #[allow(clippy::expect_used)]
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime without drivers needs no OS resources");
}

/// Runs one input: the mode byte, then a stream of client frames (see the module docs).
pub fn request_handler(data: &[u8]) {
    let [mode, stream @ ..] = data else {
        return;
    };
    RUNTIME.with(|runtime| runtime.block_on(run(*mode, stream)));
}

async fn run(mode: u8, stream: &[u8]) {
    let config = Config {
        limits: limits(mode),
        ..Config::default()
    };
    let limits = &config.limits;
    let shared = Arc::new(Shared {
        fetch_by_requester: KeyedLimiter::per_minute(limits.bundle_fetches_per_minute),
        fetch_by_target: KeyedLimiter::per_minute(limits.bundle_fetches_per_target_per_minute),
        strangers: StrangerBudget::from_limits(limits),
        reports: Reports::default(),
        store: MemoryStore::new(),
        clock: Clock::Manual(ManualClock::new(NOW)),
        hub: Hub::default(),
        metrics: Arc::new(Metrics::default()),
        registration_key: None,
        next_connection_id: AtomicU64::new(2),
        admission: crate::admission::Admission::new(limits),
        config,
    });
    let (outbox, outbox_rx) = mpsc::channel(OUTBOX_CAPACITY);
    let mut harness = Harness {
        state: ConnState::new_for_tests(1, CHALLENGE, EXPORTER, outbox),
        shared,
        outbox_rx,
        delivering: mode & MODE_DELIVERING != 0,
        enqueued: 0,
        last_delivered: 0,
    };
    harness.setup(mode).await;
    harness.check_store(&harness.snapshot().await);
    harness.deliver().await;
    let mut decoder = FrameDecoder::new(harness.shared.config.limits.max_frame_len);
    // A stream that breaks the framing closes the connection: nothing more runs.
    if decoder.push(stream).is_err() {
        return;
    }
    for _ in 0..MAX_REQUESTS {
        let Ok(Some(frame)) = decoder.next_frame::<ClientFrame>() else {
            return;
        };
        harness.apply(frame).await;
        if harness.state.close_after {
            return;
        }
    }
}

struct Harness {
    shared: Arc<Shared<MemoryStore>>,
    state: ConnState,
    outbox_rx: mpsc::Receiver<ServerFrame>,
    delivering: bool,
    /// Messages ever stored (setup and accepted sends).
    enqueued: u64,
    /// Highest seq the simulated delivery task pushed.
    last_delivered: u64,
}

/// What the store holds for one mailbox.
#[derive(Debug, Clone, PartialEq)]
struct MailboxView {
    status: MailboxStatus,
    one_time_prekeys: Option<u32>,
    seqs: Vec<u64>,
    access_verifier: Option<[u8; 32]>,
}

/// What the store holds for both fixture mailboxes (the only ones that can exist: registering
/// needs a login signature).
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    owner: MailboxView,
    peer: MailboxView,
    depth: u64,
}

impl Snapshot {
    fn view(&self, mailbox: &MailboxId) -> Option<&MailboxView> {
        let fixture = fixture();
        if *mailbox == fixture.owner.mailbox {
            Some(&self.owner)
        } else if *mailbox == fixture.peer.mailbox {
            Some(&self.peer)
        } else {
            None
        }
    }

    fn prekeys(&self, mailbox: &MailboxId) -> Option<u32> {
        self.view(mailbox).and_then(|view| view.one_time_prekeys)
    }

    fn queued(&self, mailbox: &MailboxId) -> usize {
        self.view(mailbox).map_or(0, |view| view.seqs.len())
    }
}

impl Harness {
    fn store(&self) -> &MemoryStore {
        &self.shared.store
    }

    fn quota(&self) -> Quota {
        Quota {
            max_messages: self.shared.config.limits.mailbox_max_messages,
            max_bytes: self.shared.config.limits.mailbox_max_bytes,
        }
    }

    /// Installs the mode's mailboxes, prekeys, messages and login. Every step is within the
    /// limits, so none fails.
    async fn setup(&mut self, mode: u8) {
        let fixture = fixture();
        let cap = self.shared.config.limits.max_one_time_prekeys as usize;
        if mode & MODE_LOGGED_IN != 0 {
            let owner = &fixture.owner;
            let registered = self
                .store()
                .register(owner.mailbox, owner.identity_key, NOW)
                .await;
            assert!(registered.is_ok(), "setup: registering the owner failed");
            let keyed = self
                .store()
                .set_access_verifier(owner.mailbox, Some(ACCESS_KEY.verifier()))
                .await;
            assert!(keyed.is_ok(), "setup: setting the owner's access key failed");
            let one_time = match (mode >> 1) & 3 {
                0 => None,
                1 => Some(0),
                2 => Some(3),
                _ => Some(cap),
            };
            if let Some(count) = one_time {
                self.install_prekeys(owner, count.min(cap)).await;
            }
            let queued = match (mode >> 3) & 3 {
                0 => 0,
                1 => 1,
                2 => 3,
                _ => 70,
            };
            self.install_messages(owner.mailbox, queued).await;
            // What `authenticate` does once the signature verifies.
            let online = Arc::new(Online::new(self.state.id, self.state.outbox.clone()));
            self.shared.hub.register(owner.mailbox, online.clone());
            self.state.mailbox = Some(owner.mailbox);
            self.state.online = Some(online);
        }
        if mode & MODE_PEER != 0 {
            let peer = &fixture.peer;
            let registered = self.store().register(peer.mailbox, peer.identity_key, NOW).await;
            assert!(registered.is_ok(), "setup: registering the peer failed");
            let keyed = self
                .store()
                .set_access_verifier(peer.mailbox, Some(ACCESS_KEY.verifier()))
                .await;
            assert!(keyed.is_ok(), "setup: setting the peer's access key failed");
            self.install_prekeys(peer, 3.min(cap)).await;
            self.install_messages(peer.mailbox, 1).await;
        }
    }

    async fn install_prekeys(&self, party: &Party, count: usize) {
        let one_time = party.setup_one_time.iter().take(count).copied().collect();
        let held = self
            .store()
            .upload_prekeys(
                party.mailbox,
                party.signed_prekey.clone(),
                one_time,
                self.shared.config.limits.max_one_time_prekeys,
            )
            .await;
        assert!(
            held.is_ok_and(|held| held as usize == count),
            "setup: uploading {count} prekeys failed"
        );
    }

    async fn install_messages(&mut self, mailbox: MailboxId, count: u64) {
        let quota = self.quota();
        let count = count.min(quota.max_messages);
        // Small envelopes of distinct contents, well within the tight byte quota.
        let deliveries = (0..count)
            .filter_map(|index| Envelope::new(vec![index as u8; 1 + (index % 7) as usize]))
            .map(|envelope| (mailbox, envelope))
            .collect();
        let stored = self.store().enqueue(deliveries, NOW, quota).await;
        assert!(
            stored.is_ok_and(|seqs| seqs.len() as u64 == count),
            "setup: queueing {count} messages failed"
        );
        self.enqueued += count;
    }

    async fn view(&self, mailbox: MailboxId) -> MailboxView {
        let store = self.store();
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

    async fn snapshot(&self) -> Snapshot {
        let fixture = fixture();
        let depth = self.store().queue_depth().await;
        assert!(depth.is_ok(), "the memory store failed");
        Snapshot {
            owner: self.view(fixture.owner.mailbox).await,
            peer: self.view(fixture.peer.mailbox).await,
            depth: depth.unwrap_or_default(),
        }
    }

    /// The store-wide invariants.
    fn check_store(&self, snapshot: &Snapshot) {
        let held = (snapshot.owner.seqs.len() + snapshot.peer.seqs.len()) as u64;
        assert_eq!(snapshot.depth, held, "queue depth disagrees with the mailboxes");
        assert!(
            snapshot.depth <= self.enqueued,
            "queue depth {} over the {} messages ever enqueued",
            snapshot.depth,
            self.enqueued
        );
        let cap = self.shared.config.limits.max_one_time_prekeys;
        for view in [&snapshot.owner, &snapshot.peer] {
            assert!(
                view.one_time_prekeys.unwrap_or(0) <= cap,
                "{:?} one-time prekeys held, over the cap of {cap}",
                view.one_time_prekeys
            );
        }
    }

    async fn apply(&mut self, frame: ClientFrame) {
        let ClientFrame { id, request } = frame;
        let before = self.snapshot().await;
        let logged_in = self.state.mailbox;
        let pushed = self.state.pushed_through();
        let result = cmd::apply(&self.shared, &mut self.state, request.clone()).await;
        let after = self.snapshot().await;
        assert_eq!(
            self.state.mailbox.is_some(),
            self.state.online.is_some(),
            "logged in without being online, or the reverse"
        );

        match &result {
            Err(refused) => {
                assert!(
                    refused.detail.len() <= MAX_ERROR_DETAIL_LEN,
                    "error detail of {} bytes",
                    refused.detail.len()
                );
                assert_eq!(
                    after, before,
                    "{:?} refused ({refused:?}) but changed the store",
                    request
                );
                assert_eq!(
                    self.state.mailbox, logged_in,
                    "a refused request changed the login"
                );
                assert!(!self.state.close_after, "a refused request closes the connection");
                if logged_in.is_none() && !matches!(request, Request::Authenticate { .. } | Request::Ping) {
                    assert_eq!(
                        refused.code,
                        ErrorCode::Unauthorized,
                        "{request:?} without a login"
                    );
                }
            }
            Ok(response) => {
                assert!(
                    logged_in.is_some() || matches!(request, Request::Authenticate { .. } | Request::Ping),
                    "{request:?} succeeded without a login"
                );
                self.check_success(&request, response, logged_in, pushed, &before, &after);
            }
        }
        // After `check_success`, which counts what was enqueued.
        self.check_store(&after);
        let frame = ServerFrame::Response { id, result };
        assert!(
            encode_frame(&frame, self.shared.config.limits.max_frame_len).is_ok(),
            "the response does not encode under the frame limit"
        );
        self.drain_pushes();
        self.deliver().await;
    }

    fn check_success(
        &mut self,
        request: &Request,
        response: &Response,
        logged_in: Option<MailboxId>,
        pushed: u64,
        before: &Snapshot,
        after: &Snapshot,
    ) {
        let cap = self.shared.config.limits.max_one_time_prekeys;
        // Everything but the mailbox `changed` (or nothing) is as it was.
        let only_changed = |changed: Option<&MailboxId>| {
            let fixture = fixture();
            for mailbox in [fixture.owner.mailbox, fixture.peer.mailbox] {
                if Some(&mailbox) != changed {
                    assert_eq!(
                        after.view(&mailbox),
                        before.view(&mailbox),
                        "{request:?} changed another mailbox"
                    );
                }
            }
        };
        assert!(
            matches!(
                (request, response),
                (Request::Authenticate { .. }, Response::Authenticated { .. })
                    | (Request::UploadPreKeys { .. }, Response::PreKeysStored { .. })
                    | (Request::FetchBundle { .. }, Response::Bundle(_))
                    | (Request::Send { .. } | Request::SendMany { .. }, Response::Stored)
                    | (Request::Ack { .. }, Response::Acked { .. })
                    | (Request::DeleteMailbox, Response::MailboxDeleted)
                    | (Request::Ping, Response::Pong)
                    | (Request::SetAccessKey { .. }, Response::AccessKeySet)
                    | (Request::Report { .. }, Response::Reported)
            ),
            "{request:?} answered with {response:?}"
        );
        match (request, response) {
            (
                Request::Authenticate { identity_key, .. },
                Response::Authenticated {
                    mailbox,
                    one_time_prekeys,
                },
            ) => {
                assert_eq!(logged_in, None, "logged in twice");
                assert_eq!(*mailbox, MailboxId::for_identity(identity_key));
                assert_eq!(self.state.mailbox, Some(*mailbox));
                let view = after.view(mailbox);
                assert!(
                    view.is_some_and(|view| view.status
                        == MailboxStatus::Active {
                            identity_key: *identity_key
                        }),
                    "logged in to a mailbox not registered to the key"
                );
                assert_eq!(Some(*one_time_prekeys), after.prekeys(mailbox));
                // Registration adds an empty mailbox; nothing else changes.
                if before
                    .view(mailbox)
                    .is_some_and(|view| view.status != MailboxStatus::Unknown)
                {
                    assert_eq!(after, before, "a login changed the store");
                } else {
                    only_changed(Some(mailbox));
                }
            }
            (
                Request::UploadPreKeys {
                    one_time_prekeys: upload,
                    ..
                },
                Response::PreKeysStored { one_time_prekeys },
            ) => {
                let mailbox = logged_in.unwrap_or(MailboxId([0; 32]));
                assert!(*one_time_prekeys <= cap, "upload over the cap stored");
                assert_eq!(Some(*one_time_prekeys), after.prekeys(&mailbox));
                let held = before.prekeys(&mailbox).unwrap_or(0);
                assert!(
                    *one_time_prekeys >= held
                        && *one_time_prekeys as usize <= held as usize + upload.as_slice().len(),
                    "an upload of {} took {held} prekeys to {one_time_prekeys}",
                    upload.as_slice().len()
                );
                assert_eq!(
                    before.view(&mailbox).map(|v| &v.seqs),
                    after.view(&mailbox).map(|v| &v.seqs)
                );
                only_changed(Some(&mailbox));
            }
            (Request::FetchBundle { mailbox, .. }, Response::Bundle(bundle)) => {
                let view = before.view(mailbox);
                assert!(
                    view.is_some_and(|view| view.status
                        == MailboxStatus::Active {
                            identity_key: bundle.identity_key
                        }),
                    "a bundle with the wrong identity"
                );
                let held = before.prekeys(mailbox).unwrap_or(0);
                let taken = u32::from(bundle.one_time_prekey.is_some());
                assert_eq!(
                    after.prekeys(mailbox),
                    Some(held.saturating_sub(taken)),
                    "a fetch took other than the prekey it returned"
                );
                assert!(
                    bundle.one_time_prekey.is_some() || held == 0,
                    "no one-time prekey served though {held} were held"
                );
                only_changed(Some(mailbox));
            }
            (Request::Send { to, .. }, Response::Stored) => {
                self.check_stored(request, &[*to], before, after);
            }
            (Request::SendMany { deliveries }, Response::Stored) => {
                let recipients: Vec<MailboxId> = deliveries
                    .as_slice()
                    .iter()
                    .map(|addressed| addressed.to)
                    .collect();
                self.check_stored(request, &recipients, before, after);
            }
            (Request::Ack { through }, Response::Acked { deleted }) => {
                let mailbox = logged_in.unwrap_or(MailboxId([0; 32]));
                assert!(
                    through.0 >= 1 && through.0 <= pushed,
                    "acked {} with only {pushed} pushed",
                    through.0
                );
                let expected: Vec<u64> = before
                    .view(&mailbox)
                    .map(|view| view.seqs.iter().copied().filter(|seq| *seq > through.0).collect())
                    .unwrap_or_default();
                assert_eq!(
                    after.view(&mailbox).map(|view| &view.seqs),
                    Some(&expected),
                    "an ack deleted other than what it covers"
                );
                assert_eq!(
                    *deleted as usize,
                    before.queued(&mailbox).saturating_sub(expected.len()),
                    "an ack misreported what it deleted"
                );
                only_changed(Some(&mailbox));
            }
            (Request::DeleteMailbox, Response::MailboxDeleted) => {
                let mailbox = logged_in.unwrap_or(MailboxId([0; 32]));
                assert!(self.state.close_after, "the connection stays open after deleting");
                let view = after.view(&mailbox);
                assert!(
                    view.is_some_and(|view| view.status == MailboxStatus::Unknown),
                    "the mailbox survived its deletion"
                );
                only_changed(Some(&mailbox));
            }
            (Request::Ping, Response::Pong) => assert_eq!(after, before, "a ping changed the store"),
            (Request::Report { .. }, Response::Reported) => {
                assert_eq!(after, before, "a report changed the store");
            }
            (Request::SetAccessKey { key }, Response::AccessKeySet) => {
                let mailbox = logged_in.unwrap_or(MailboxId([0; 32]));
                assert_eq!(
                    after.view(&mailbox).and_then(|view| view.access_verifier),
                    key.as_ref().map(AccessKey::verifier),
                    "the access key was not set"
                );
                assert_eq!(
                    before.view(&mailbox).map(|v| (&v.seqs, v.one_time_prekeys)),
                    after.view(&mailbox).map(|v| (&v.seqs, v.one_time_prekeys))
                );
                only_changed(Some(&mailbox));
            }
            // The kinds were checked above.
            _ => {}
        }
    }

    fn check_stored(
        &mut self,
        request: &Request,
        recipients: &[MailboxId],
        before: &Snapshot,
        after: &Snapshot,
    ) {
        assert!(!recipients.is_empty(), "a send to nobody stored");
        let added = recipients.len() as u64;
        assert_eq!(
            after.depth,
            before.depth + added,
            "{request:?} stored other than one per recipient"
        );
        let fixture = fixture();
        for mailbox in [fixture.owner.mailbox, fixture.peer.mailbox] {
            let count = recipients.iter().filter(|to| **to == mailbox).count();
            assert_eq!(
                after.queued(&mailbox),
                before.queued(&mailbox) + count,
                "a recipient did not get its messages"
            );
            assert_eq!(
                after.prekeys(&mailbox),
                before.prekeys(&mailbox),
                "a send changed prekeys"
            );
        }
        self.enqueued += added;
    }

    /// Takes every frame queued to the connection: only pushes, each encodable.
    fn drain_pushes(&mut self) {
        let max = self.shared.config.limits.max_frame_len;
        let threshold = self.shared.config.limits.prekey_low_threshold;
        while let Ok(frame) = self.outbox_rx.try_recv() {
            assert!(
                encode_frame(&frame, max).is_ok(),
                "a push does not encode under the frame limit"
            );
            // Responses go out through the request loop, deliveries through the delivery task:
            // a handler queues nothing but notices.
            assert!(
                matches!(frame, ServerFrame::Push(Push::PreKeysLow { .. })),
                "unexpected frame in the outbox: {frame:?}"
            );
            if let ServerFrame::Push(Push::PreKeysLow { remaining }) = frame {
                assert!(remaining < threshold, "prekeys low at {remaining}");
            }
        }
    }

    /// What the delivery task does: pushes the mailbox's messages after the last pushed one, in
    /// batches, recording each push before it can be acknowledged.
    async fn deliver(&mut self) {
        let (true, Some(mailbox)) = (self.delivering, self.state.mailbox) else {
            return;
        };
        let max = self.shared.config.limits.max_frame_len;
        loop {
            let Ok(messages) = self
                .store()
                .fetch(mailbox, self.last_delivered, DELIVERY_BATCH)
                .await
            else {
                return;
            };
            let full_batch = messages.len() == DELIVERY_BATCH;
            for message in messages {
                assert!(message.seq > self.last_delivered, "deliveries out of order");
                self.last_delivered = message.seq;
                let frame = ServerFrame::Push(Push::Deliver(Delivery {
                    seq: Seq(message.seq),
                    received_at: message.received_at,
                    envelope: message.envelope,
                }));
                assert!(
                    encode_frame(&frame, max).is_ok(),
                    "a delivery does not encode under the frame limit"
                );
                if let Some(online) = &self.state.online {
                    online.record_push(message.seq);
                }
            }
            if !full_batch {
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seed corpus.

#[path = "../../fuzz/seed.rs"]
mod seed;
pub use seed::Seed;

/// The seed corpus: genuine request sequences over the fixture (logins with the fixture
/// accounts' real signatures, genuine prekey uploads, sends between the two mailboxes, acks in and
/// out of range, deletion) in each mode family. Deterministic.
#[allow(clippy::expect_used)]
pub fn seed_corpus() -> Vec<Seed> {
    let fixture = fixture();
    let owner = &fixture.owner;
    let peer = &fixture.peer;
    let envelope = |len: usize, fill: u8| Envelope::new(vec![fill; len]).expect("under the envelope limit");
    let send = |to: MailboxId, len: usize| Request::Send {
        to,
        access: None,
        envelope: envelope(len, 0x5A),
    };
    let send_keyed = |to: MailboxId, access: AccessKey| Request::Send {
        to,
        access: Some(access),
        envelope: envelope(8, 0x5B),
    };
    let send_many = |to: &[MailboxId]| Request::SendMany {
        deliveries: Deliveries::new(
            to.iter()
                .map(|to| Addressed {
                    to: *to,
                    access: None,
                    envelope: envelope(16, 0xA5),
                })
                .collect(),
        )
        .expect("under the recipient limit"),
    };
    let wrong_key = AccessKey([0x0B; 32]);
    let ack = |through| Request::Ack {
        through: Seq(through),
    };
    let fetch = |mailbox| Request::FetchBundle {
        mailbox,
        access: None,
    };
    let fetch_keyed = |mailbox, access| Request::FetchBundle {
        mailbox,
        access: Some(access),
    };
    let unknown = MailboxId([0x42; 32]);
    let logged_in_full = MODE_LOGGED_IN | (3 << 1) | (3 << 3) | MODE_DELIVERING | MODE_PEER;
    let sequences: Vec<(&str, u8, Vec<Request>)> = vec![
        ("ping", 0, vec![Request::Ping]),
        (
            "logged_out_refusals",
            MODE_PEER,
            vec![
                owner.upload.clone(),
                fetch(peer.mailbox),
                send(peer.mailbox, 8),
                send_many(&[peer.mailbox]),
                ack(1),
                Request::DeleteMailbox,
                Request::Ping,
            ],
        ),
        (
            "login_then_everything",
            MODE_DELIVERING,
            vec![
                owner.authenticate.clone(),
                owner.upload.clone(),
                fetch(owner.mailbox),
                send(owner.mailbox, 10),
                send_many(&[owner.mailbox, owner.mailbox]),
                ack(2),
                ack(9),
                owner.authenticate.clone(),
                Request::DeleteMailbox,
            ],
        ),
        (
            "peer_login_existing",
            MODE_PEER | MODE_DELIVERING,
            vec![
                peer.authenticate.clone(),
                ack(1),
                peer.upload.clone(),
                fetch(peer.mailbox),
            ],
        ),
        (
            "wrong_login",
            MODE_PEER,
            vec![
                // The owner's key with the peer's signature.
                match (&owner.authenticate, &peer.authenticate) {
                    (Request::Authenticate { identity_key, .. }, Request::Authenticate { signature, .. }) => {
                        Request::Authenticate {
                            identity_key: *identity_key,
                            signature: *signature,
                            registration: None,
                        }
                    }
                    _ => Request::Ping,
                },
                Request::Ping,
            ],
        ),
        (
            "logged_in_all_kinds",
            logged_in_full,
            vec![
                owner.upload.clone(),
                peer.upload.clone(),
                fetch(peer.mailbox),
                fetch(owner.mailbox),
                fetch(unknown),
                send(peer.mailbox, 100),
                send(unknown, 1),
                send_many(&[peer.mailbox, owner.mailbox, peer.mailbox]),
                send_many(&[peer.mailbox, unknown]),
                ack(0),
                ack(3),
                ack(70),
                ack(u64::MAX),
                Request::Ping,
                peer.authenticate.clone(),
                Request::DeleteMailbox,
                Request::Ping,
            ],
        ),
        (
            "not_delivered_acks",
            MODE_LOGGED_IN | (2 << 3),
            vec![ack(1), ack(3), send(owner.mailbox, 4), ack(4)],
        ),
        (
            "few_prekeys",
            MODE_LOGGED_IN | (2 << 1) | MODE_PEER,
            vec![
                fetch(owner.mailbox),
                fetch(owner.mailbox),
                fetch(owner.mailbox),
                fetch(owner.mailbox),
                owner.upload.clone(),
                fetch(owner.mailbox),
            ],
        ),
        (
            "tight_limits",
            MODE_TIGHT | logged_in_full,
            vec![
                owner.upload.clone(),
                owner.upload.clone(),
                send(peer.mailbox, 64),
                send(peer.mailbox, 65),
                send_many(&[peer.mailbox, peer.mailbox, peer.mailbox, peer.mailbox]),
                send(owner.mailbox, 1),
                fetch(peer.mailbox),
                fetch(peer.mailbox),
                fetch(peer.mailbox),
                ack(4),
                send(owner.mailbox, 1),
            ],
        ),
        (
            "access_keys_and_strangers",
            MODE_TIGHT | logged_in_full,
            vec![
                send(peer.mailbox, 30),
                send(peer.mailbox, 30),
                send(peer.mailbox, 30),
                send(peer.mailbox, 30),
                send_keyed(peer.mailbox, ACCESS_KEY),
                send_keyed(peer.mailbox, wrong_key),
                fetch(peer.mailbox),
                fetch(peer.mailbox),
                fetch_keyed(peer.mailbox, ACCESS_KEY),
                fetch_keyed(peer.mailbox, wrong_key),
                Request::SetAccessKey { key: Some(wrong_key) },
                send_keyed(owner.mailbox, wrong_key),
                Request::SetAccessKey { key: None },
                send_keyed(owner.mailbox, wrong_key),
                Request::Report {
                    mailbox: peer.mailbox,
                },
                Request::Report {
                    mailbox: owner.mailbox,
                },
            ],
        ),
        (
            "logged_out_access_requests",
            MODE_PEER,
            vec![
                Request::SetAccessKey {
                    key: Some(ACCESS_KEY),
                },
                Request::Report {
                    mailbox: peer.mailbox,
                },
                send_keyed(peer.mailbox, ACCESS_KEY),
            ],
        ),
        (
            "tight_logged_out_login",
            MODE_TIGHT | MODE_DELIVERING,
            vec![
                owner.authenticate.clone(),
                owner.upload.clone(),
                send(owner.mailbox, 200),
            ],
        ),
    ];
    let journals = crate::store::sqlite::journal_seed_files()
        .into_iter()
        .map(|(name, bytes)| Seed {
            target: "relay_journal_replay",
            name,
            bytes,
        });
    sequences
        .into_iter()
        .map(|(name, mode, requests)| {
            let mut bytes = vec![mode];
            for (request, id) in requests.into_iter().zip(1..) {
                let frame = ClientFrame {
                    id: RequestId(id),
                    request,
                };
                bytes.extend(encode_frame(&frame, hush_proto::MAX_FRAME_LEN).expect("seed frames are small"));
            }
            Seed {
                target: "relay_request_handler",
                name: name.to_owned(),
                bytes,
            }
        })
        .chain(journals)
        .collect()
}
