//! Entry points of the cargo-fuzz targets `relay_request_handler` and `relay_journal_replay` in
//! `fuzz/`, shared with the corpus replay test (`tests/fuzz_corpus.rs`), and the seed corpus they
//! start from. The request handler's input format follows; the journal target takes raw file
//! bytes (see [`journal_replay`]).
//!
//! An input is `[mode, stream...]`: `mode` sets the relay up (bits below), `stream` is a byte
//! stream of length-prefixed [`ClientFrame`]s, each run through the request handlers
//! (`cmd::run`) on one connection against a fresh in-memory store, as the connection's request
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
//! - `Send`/`SendMany`/`SendShared` add exactly one message per recipient (with the recipient's
//!   access key or within its stranger budget; a `SendShared` naming a mailbox twice is refused);
//!   `SendEphemeral` changes nothing in the store, carries the recipient's access key, is pushed
//!   exactly when its recipient is online (here: our own mailbox) and then as one `Ephemeral` push; `SetAccessKey` changes only our own verifier; `Ack` deletes exactly the messages
//!   up to its number, and only ones this connection was pushed; `FetchBundle` takes exactly the
//!   one-time prekey it returns; a login reports the prekey count the store holds;
//! - `PublishDeviceList` stores only a list that verifies, names the logged-in device and has a
//!   greater counter (or is the stored list), keeps the publisher's membership and none of a
//!   device the list does not name; `FetchDeviceList` serves exactly what is stored and
//!   changes nothing;
//! - the queue depth equals the messages the mailboxes hold and never exceeds what was enqueued;
//!   no mailbox holds more one-time prekeys than the cap;
//! - every push is a push, encodes under the frame limit, and deliveries go out in `seq` order.
//!
//! Allocation is bounded by the input: at most [`MAX_REQUESTS`] requests run, and every message and
//! prekey in the store came from the input or from the fixed setup.

mod device_lists;
mod fixture;
mod seeds;

use hush_proto::{
    AccessKey, ClientFrame, ErrorCode, FrameDecoder, MAX_ERROR_DETAIL_LEN, MailboxId, Push, Request,
    Response, ServerFrame, encode_frame,
};
use tokio::sync::mpsc;

pub use self::fixture::{
    ACCESS_KEY, CHALLENGE, EXPORTER, MODE_DELIVERING, MODE_LOGGED_IN, MODE_PEER, MODE_TIGHT, NOW,
};
use self::fixture::{Snapshot, fixture, limits, snapshot};
pub use self::seeds::{Seed, seed_corpus};
use crate::clock::{Clock, ManualClock};
use crate::cmd;
use crate::delivery::{self, DELIVERY_BATCH};
use crate::session::{OUTBOX_CAPACITY, Session};
use crate::shared::Shared;
use crate::store::memory::MemoryStore;
use crate::store::{MailboxStatus, Store};

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

thread_local! {
    // A current-thread runtime per fuzzing thread: the handlers only await the in-memory store,
    // so no I/O or timer driver is needed.
    #[allow(clippy::expect_used)]
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime without drivers needs no OS resources");
}

/// Most requests run per input, so one input stays fast.
pub const MAX_REQUESTS: usize = 64;

/// Runs one input: the mode byte, then a stream of client frames (see the module docs).
pub fn request_handler(data: &[u8]) {
    let [mode, stream @ ..] = data else {
        return;
    };
    RUNTIME.with(|runtime| runtime.block_on(run(*mode, stream)));
}

async fn run(mode: u8, stream: &[u8]) {
    let shared = Shared::new(
        MemoryStore::new(),
        limits(mode),
        Clock::Manual(ManualClock::new(NOW)),
        None,
    );
    let (outbox, outbox_rx) = mpsc::channel(OUTBOX_CAPACITY);
    let mut harness = Harness {
        session: Session::new(shared.connection_id(), CHALLENGE, EXPORTER, outbox),
        shared,
        outbox_rx,
        delivering: mode & MODE_DELIVERING != 0,
        enqueued: 0,
        last_delivered: 0,
        ephemeral_pushed: 0,
    };
    harness.enqueued = fixture::setup(&harness.shared, &mut harness.session, mode).await;
    harness.check_store(&snapshot(harness.store()).await);
    harness.deliver().await;
    let mut decoder = FrameDecoder::new(harness.shared.limits.max_frame_len);
    // A stream that breaks the framing closes the connection: nothing more runs.
    if decoder.push(stream).is_err() {
        return;
    }
    for _ in 0..MAX_REQUESTS {
        let Ok(Some(frame)) = decoder.next_frame::<ClientFrame>() else {
            return;
        };
        harness.apply(frame).await;
        if harness.session.close_after {
            return;
        }
    }
}

struct Harness {
    shared: Shared<MemoryStore>,
    session: Session,
    outbox_rx: mpsc::Receiver<ServerFrame>,
    delivering: bool,
    /// Messages ever stored (setup and accepted sends).
    enqueued: u64,
    /// Highest seq the simulated delivery task pushed.
    last_delivered: u64,
    /// Ephemeral sends answered `EphemeralPushed` whose push was not taken from the outbox yet.
    ephemeral_pushed: u64,
}

impl Harness {
    fn store(&self) -> &MemoryStore {
        &self.shared.store
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
        let cap = self.shared.limits.max_one_time_prekeys;
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
        let before = snapshot(self.store()).await;
        let logged_in = self.session.mailbox;
        let pushed = self.session.pushed_through();
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        let respond = move |outcome| drop(reply.send(outcome));
        cmd::run(&self.shared, &mut self.session, request.clone(), respond).await;
        // The memory store commits at once: every request, sends too, is answered by now.
        let answer = answer.try_recv();
        assert!(answer.is_ok(), "{request:?} went unanswered");
        let Ok(result) = answer else { return };
        let after = snapshot(self.store()).await;
        assert_eq!(
            self.session.mailbox.is_some(),
            self.session.online.is_some(),
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
                    self.session.mailbox, logged_in,
                    "a refused request changed the login"
                );
                assert!(
                    !self.session.close_after,
                    "a refused request closes the connection"
                );
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
            encode_frame(&frame, self.shared.limits.max_frame_len).is_ok(),
            "the response does not encode under the frame limit"
        );
        self.drain_pushes();
        assert_eq!(
            self.ephemeral_pushed, 0,
            "an ephemeral send answered pushed was not pushed"
        );
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
        let cap = self.shared.limits.max_one_time_prekeys;
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
                    | (Request::PublishDeviceList { .. }, Response::DeviceListStored)
                    | (Request::FetchDeviceList { .. }, Response::DeviceList { .. })
                    | (Request::SendShared { .. }, Response::Stored)
                    | (
                        Request::UploadKemPreKeys { .. },
                        Response::KemPreKeysStored { .. }
                    )
                    | (
                        Request::SendEphemeral { .. },
                        Response::EphemeralPushed | Response::EphemeralDropped
                    )
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
                assert_eq!(self.session.mailbox, Some(*mailbox));
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
            (Request::SendShared { deliveries, .. }, Response::Stored) => {
                let recipients: Vec<MailboxId> = deliveries
                    .as_slice()
                    .iter()
                    .map(|addressed| addressed.to)
                    .collect();
                let mut distinct = recipients.clone();
                distinct.sort_unstable();
                distinct.dedup();
                assert_eq!(
                    distinct.len(),
                    recipients.len(),
                    "a shared send to a mailbox twice stored"
                );
                self.check_stored(request, &recipients, before, after);
            }
            (Request::SendEphemeral { to, access, .. }, _) => {
                assert_eq!(after, before, "an ephemeral send changed the store");
                assert!(
                    access.is_some(),
                    "an ephemeral send without an access key went through"
                );
                let pushed = *response == Response::EphemeralPushed;
                assert_eq!(
                    pushed,
                    Some(*to) == logged_in,
                    "an ephemeral send pushed to a mailbox not online, or dropped for one online"
                );
                self.ephemeral_pushed += u64::from(pushed);
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
                assert!(
                    self.session.close_after,
                    "the connection stays open after deleting"
                );
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
            (Request::PublishDeviceList { .. } | Request::FetchDeviceList { .. }, _) => {
                device_lists::check_success(request, response, logged_in, before, after);
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
        let max = self.shared.limits.max_frame_len;
        let threshold = self.shared.limits.prekey_low_threshold;
        while let Ok(frame) = self.outbox_rx.try_recv() {
            assert!(
                encode_frame(&frame, max).is_ok(),
                "a push does not encode under the frame limit"
            );
            // Responses go out through the request loop, deliveries through the delivery task:
            // a handler queues nothing but notices and the ephemeral pushes it answered for.
            if let ServerFrame::Push(Push::Ephemeral { .. }) = frame {
                assert!(self.ephemeral_pushed > 0, "an ephemeral push nobody was told of");
                self.ephemeral_pushed -= 1;
                continue;
            }
            assert!(
                matches!(
                    frame,
                    ServerFrame::Push(Push::PreKeysLow { .. } | Push::KemPreKeysLow { .. })
                ),
                "unexpected frame in the outbox: {frame:?}"
            );
            if let ServerFrame::Push(Push::PreKeysLow { remaining } | Push::KemPreKeysLow { remaining }) =
                frame
            {
                assert!(remaining < threshold, "prekeys low at {remaining}");
            }
        }
    }

    /// What the delivery task does: pushes the mailbox's messages after the last pushed one, in
    /// batches, recording each push before it can be acknowledged.
    async fn deliver(&mut self) {
        let (true, Some(mailbox)) = (self.delivering, self.session.mailbox) else {
            return;
        };
        let max = self.shared.limits.max_frame_len;
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
                let seq = message.seq;
                let frame = delivery::deliver_frame(message);
                assert!(
                    encode_frame(&frame, max).is_ok(),
                    "a delivery does not encode under the frame limit"
                );
                if let Some(online) = &self.session.online {
                    online.record_push(seq);
                }
            }
            if !full_batch {
                return;
            }
        }
    }
}
