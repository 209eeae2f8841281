//! The receive fixture: Bob's saved state with a session with Alice, her envelopes for him and
//! the bundles a relay could serve, built once per process by driving three cores by hand.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use hush_proto::{Bundle, ClientFrame, Delivery, Envelope, Push, Request, Response, Seq};

use super::{NOW, rng};
use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::core::{Core, Output, PREKEY_LOW_WATER, RECEIPT_DELAY_MS};
use crate::memory::MemoryStore;
use crate::records::Snapshot;
use crate::store::Store;

/// Bob's saved state, Alice's envelopes for him, and the bundles a relay could serve.
pub(super) struct ReceiveFixture {
    /// Bob's store after he read Alice's first message and answered it; he waits on Carol's
    /// bundle and on the relay's answer to a send to Alice.
    pub(super) bob: Snapshot,
    pub(super) alice: Address,
    pub(super) carol: Address,
    /// Where Bob's clock starts.
    pub(super) start: u64,
    /// Relay sequence numbers Bob has seen (the next delivery gets the one after).
    pub(super) last_seq: u64,
    /// Alice's envelopes the operations can deliver: `a1` (already read: a duplicate), a
    /// delivered-receipt, then `a2`…`a6`.
    pub(super) envelopes: Vec<Vec<u8>>,
    /// Index in `envelopes` of `a2` (the envelope of `a(n)` is at `first_text + n - 2`).
    pub(super) first_text: usize,
    /// Alice's `a7`, which no operation delivers: the last one of every run, it shows the
    /// session still works.
    pub(super) fresh: Vec<u8>,
    /// Alice's messages Bob has not received, by `conv_seq` (2 to 7): id and content.
    pub(super) unread: BTreeMap<u64, (MessageId, Content)>,
    /// The genuine bundles of Carol, Alice and Bob, in their wire encoding.
    pub(super) bundles: [Vec<u8>; 3],
}

/// A core driven by hand, with the store it commits to and the requests it has written.
struct Party {
    core: Core,
    store: MemoryStore,
    requests: Vec<ClientFrame>,
}

// The fixture runs the honest protocol on fixed, valid inputs with seeded RNGs: every step
// succeeds, so each `expect` states a fact about the core, not about the fuzz input.
#[allow(clippy::expect_used)]
impl Party {
    fn new(seed: u64) -> Self {
        let mut party = Self {
            core: Core::create(NOW, rng(seed)),
            store: MemoryStore::new(),
            requests: Vec::new(),
        };
        // Log in; the relay holds enough one-time prekeys (the account's signed prekey is new).
        party.core.handle_authenticated(NOW, PREKEY_LOW_WATER);
        party.drain();
        party.answer(NOW, &[]);
        party
    }

    fn address(&self) -> Address {
        self.core.address()
    }

    /// Applies the commits and keeps the requests.
    fn drain(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Commit(commit) => self.store.apply(&commit).expect("the core's commits apply"),
                Output::Request(frame) => self.requests.push(frame),
                Output::Event(_) | Output::LoggedIn | Output::LoginFailed(_) => {}
            }
        }
    }

    fn take_requests(&mut self) -> Vec<ClientFrame> {
        std::mem::take(&mut self.requests)
    }

    /// The relay's bundle of this party: its signed prekey, no one-time prekey left, and the
    /// last-resort KEM prekey its first login's upkeep made.
    fn bundle(&self) -> Bundle {
        let account = self.core.account();
        let signed = account
            .signed_prekey()
            .expect("a new account has a signed prekey");
        Bundle {
            identity_key: *self.address().as_bytes(),
            signed_prekey: crate::prekey_wire::signed_prekey_to_wire(&signed),
            one_time_prekey: None,
            kem_prekey: account
                .pq_prekey_bundle(None, None)
                .and_then(|bundle| bundle.kem_prekey)
                .map(|kem| Box::new(crate::prekey_wire::kem_prekey_to_wire(&kem))),
        }
    }

    /// Answers every request written so far as a relay would (sends stored, acks acked, fetches
    /// from `bundles`), and returns the envelopes sent, in order.
    fn answer(&mut self, now: u64, bundles: &[(Address, Bundle)]) -> Vec<Vec<u8>> {
        let mut sent = Vec::new();
        while !self.requests.is_empty() {
            for frame in self.take_requests() {
                let answer = match frame.request {
                    Request::Send { envelope, .. } => {
                        sent.push(envelope.as_bytes().to_vec());
                        Response::Stored
                    }
                    Request::Ack { .. } => Response::Acked { deleted: 1 },
                    Request::UploadPreKeys { .. } => Response::PreKeysStored {
                        one_time_prekeys: PREKEY_LOW_WATER,
                    },
                    Request::UploadKemPreKeys { .. } => Response::KemPreKeysStored {
                        one_time_kem_prekeys: PREKEY_LOW_WATER,
                    },
                    Request::FetchBundle { mailbox, .. } => {
                        let (_, bundle) = bundles
                            .iter()
                            .find(|(address, _)| address.mailbox() == mailbox)
                            .expect("the fixture fetches known bundles only");
                        Response::Bundle(bundle.clone())
                    }
                    Request::SetAccessKey { .. } => Response::AccessKeySet,
                    Request::PublishDeviceList { .. } => Response::DeviceListStored,
                    _ => Response::Pong,
                };
                self.core.handle_response(now, frame.id, Ok(answer));
                self.drain();
            }
        }
        sent
    }

    /// Delivers `envelope` as the relay's number `seq` and acknowledges what that asks.
    fn receive(&mut self, now: u64, seq: u64, envelope: &[u8]) {
        self.core.handle_push(
            now,
            deliver(now, seq, envelope).expect("genuine envelopes are small"),
        );
        self.drain();
        self.answer(now, &[]);
    }
}

pub(super) fn deliver(now: u64, seq: u64, envelope: &[u8]) -> Option<Push> {
    Some(Push::Deliver(Delivery {
        seq: Seq(seq),
        received_at: now / 1000,
        envelope: Envelope::new(envelope.to_vec())?,
    }))
}

#[allow(clippy::expect_used)]
pub(super) fn receive_fixture() -> &'static ReceiveFixture {
    static FIXTURE: OnceLock<ReceiveFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut alice = Party::new(11);
        let mut bob = Party::new(12);
        let carol = Party::new(13);
        let bundles = [
            (carol.address(), carol.bundle()),
            (alice.address(), alice.bundle()),
            (bob.address(), bob.bundle()),
        ];
        let text = |text: &str| Content::text(text);

        // a1 sets up Alice's session from Bob's bundle; Bob reads it.
        let mut now = NOW + 1000;
        alice
            .core
            .handle_send(now, bob.address(), text("a1"))
            .expect("a short text to someone else queues");
        alice.drain();
        let a1 = alice.answer(now, &bundles).pop().expect("a1 was sent");
        bob.receive(now, 1, &a1);

        // Bob's delivered-receipt and his b1 answer Alice's session; she reads both.
        now += RECEIPT_DELAY_MS + 1000;
        bob.core
            .handle_send(now, alice.address(), text("b1"))
            .expect("a short text to someone else queues");
        bob.drain();
        for (seq, envelope) in (1..).zip(bob.answer(now, &[])) {
            alice.receive(now, seq, &envelope);
        }

        // Alice's delivered-receipt for b1, then a2…a7, each its own envelope.
        now += RECEIPT_DELAY_MS + 1000;
        alice.core.handle_timeout(now);
        alice.drain();
        let mut envelopes = vec![a1];
        envelopes.extend(alice.answer(now, &[]));
        let first_text = envelopes.len();
        let mut unread = BTreeMap::new();
        for conv_seq in 2..=7u64 {
            now += 1000;
            let content = text(&format!("a{conv_seq}"));
            let id = alice
                .core
                .handle_send(now, bob.address(), content.clone())
                .expect("a short text to someone else queues");
            alice.drain();
            envelopes.extend(alice.answer(now, &[]));
            unread.insert(conv_seq, (id, content));
        }
        let fresh = envelopes.pop().expect("a7 was sent");

        // Bob writes to Carol (a bundle fetch) and to Alice (a send); neither is answered.
        now += 1000;
        for (to, content) in [(carol.address(), "c1"), (alice.address(), "b2")] {
            bob.core
                .handle_send(now, to, text(content))
                .expect("a short text to someone else queues");
            bob.drain();
        }
        let bob_snapshot = bob
            .store
            .load()
            .expect("the memory store loads")
            .expect("Bob's account was committed");
        let encode = |bundle: &Bundle| postcard::to_allocvec(bundle).expect("bundles encode");
        let [(_, carol_bundle), (_, alice_bundle), (_, bob_bundle)] = &bundles;
        ReceiveFixture {
            bob: bob_snapshot,
            alice: alice.address(),
            carol: carol.address(),
            start: now + 1000,
            last_seq: 1,
            envelopes,
            first_text,
            fresh,
            unread,
            bundles: [encode(carol_bundle), encode(alice_bundle), encode(bob_bundle)],
        }
    })
}
