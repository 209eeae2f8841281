//! Entry points of the cargo-fuzz targets `client_payload`, `parse_address` and `client_receive`
//! in `fuzz/`, shared with the corpus replay test (`tests/fuzz_corpus.rs`), and the seed corpus
//! they start from.
//!
//! Every entry function takes arbitrary bytes and returns normally for every input; it panics
//! only through an `assert!` on an invariant, which is the bug the fuzzer reports:
//!
//! - `client_payload`: whatever [`Payload::decode`] accepts encodes, no longer than the input,
//!   and decodes again to the same payload;
//! - `parse_address`: whatever text parses as an [`Address`] is its display form up to ASCII case
//!   and surrounding whitespace, and the display form parses back to the same address;
//! - `client_receive`: Bob's core, restored from a fixed snapshot in which he holds a session
//!   with Alice (and waits on a bundle of Carol's and the relay's answer to a send), runs a
//!   sequence of [`Op`]s decoded from the input: hostile or mutated envelopes, genuine ones
//!   (in any order, twice), arbitrary relay answers to his pending requests, timers, reconnects,
//!   prekey pushes, sends and read marks. See [`client_receive`] for what must hold.
//!
//! The fixture is built once per process by driving three cores (Alice, Bob, Carol) by hand
//! from seeded RNGs and a fixed clock, so the seed corpus in `fuzz/corpus/<target>/` keeps
//! matching it.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use hush_proto::{
    Bundle, ClientFrame, Delivery, Envelope, ErrorCode, ErrorResponse, MAX_FRAME_LEN, Push, Request,
    RequestId, Response, Seq, Signature, SignedPreKey, decode_body, encode_frame,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::address::Address;
use crate::content::{Content, MessageId, Payload};
use crate::core::{Core, Output, PREKEY_LOW_WATER, RECEIPT_DELAY_MS};
use crate::event::Event;
use crate::memory::MemoryStore;
use crate::records::{Direction, Snapshot, StoreOp};
use crate::store::Store;

/// The fixed clock the fixture starts at (Unix milliseconds).
pub const NOW: u64 = 1_700_000_000_000;

/// Most operations one `client_receive` input runs, so one input stays fast.
pub const MAX_OPS: usize = 64;

/// An entry function: runs one input through one fuzz target.
pub type Target = fn(&[u8]);

/// Every fuzz target of this crate by name (the name of its `fuzz/fuzz_targets/<name>.rs` and
/// of its `fuzz/corpus/<name>/` seed directory).
pub const TARGETS: &[(&str, Target)] = &[
    ("client_payload", client_payload),
    ("parse_address", parse_address),
    ("client_receive", client_receive),
];

/// The error codes [`Answer::Error`] picks from.
pub const ERROR_CODES: [ErrorCode; 11] = [
    ErrorCode::Unauthorized,
    ErrorCode::RegistrationRequired,
    ErrorCode::Invalid,
    ErrorCode::NotFound,
    ErrorCode::TooManyPreKeys,
    ErrorCode::QuotaExceeded,
    ErrorCode::RateLimited,
    ErrorCode::UnknownSequence,
    ErrorCode::ShuttingDown,
    ErrorCode::Internal,
    ErrorCode::AccessDenied,
];

fn rng(seed: u64) -> Box<StdRng> {
    Box::new(StdRng::seed_from_u64(seed))
}

// ---------------------------------------------------------------------------------------------
// Payloads and addresses.

/// Decodes a [`Payload`]; if it decodes, it must encode (the limits decode enforces are the ones
/// encode does), no longer than the input (overlong varints shrink), and decode back to itself.
pub fn client_payload(data: &[u8]) {
    let Ok(payload) = Payload::decode(data) else {
        return;
    };
    let encoded = payload.encode();
    assert!(encoded.is_ok(), "a decoded payload does not encode: {encoded:?}");
    if let Ok(encoded) = encoded {
        assert!(
            encoded.len() <= data.len(),
            "a payload re-encodes longer than it came"
        );
        assert_eq!(
            Payload::decode(&encoded).as_ref(),
            Ok(&payload),
            "a payload does not survive a round trip"
        );
    }
}

/// Parses UTF-8 input as an [`Address`]; if it parses, the text is the display form up to ASCII
/// case and surrounding whitespace, and the display form parses to the same address.
pub fn parse_address(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(address) = text.parse::<Address>() else {
        return;
    };
    let shown = address.to_string();
    assert!(
        shown.eq_ignore_ascii_case(text.trim()),
        "{text:?} parsed as {shown}, which is not its text form"
    );
    assert_eq!(
        shown.parse::<Address>().as_ref(),
        Ok(&address),
        "an address's text form does not parse back"
    );
}

// ---------------------------------------------------------------------------------------------
// The receive path: operations.

/// One step of a `client_receive` input. Inputs decode into operations with [`decode_ops`]
/// (every byte string is some sequence; missing fields read as zero); [`encode_ops`] writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Deliver these bytes as an envelope.
    Deliver(Vec<u8>),
    /// Deliver genuine envelope `which` (modulo their number) with its byte `position` (modulo
    /// its length) XORed with `mask` (0: unchanged).
    Genuine {
        /// Which envelope of Alice's.
        which: u8,
        /// Byte to alter.
        position: u16,
        /// XOR mask.
        mask: u8,
    },
    /// Deliver genuine envelope `which` twice in a row (a relay redelivering it).
    Twice {
        /// Which envelope of Alice's.
        which: u8,
    },
    /// Answer pending request number `which` (in the order they were made), or the raw request
    /// id `which` when fewer are pending.
    Answer {
        /// Which request.
        which: u8,
        /// With what.
        answer: Answer,
    },
    /// Advance the clock by `((step & 7) + 1) << (step >> 3)` milliseconds (up to about 200
    /// days) and fire the timer.
    Timeout {
        /// Encoded delay.
        step: u8,
    },
    /// Drop the connection and log in again; the relay says it holds `prekeys` one-time prekeys.
    Reconnect {
        /// One-time prekeys the relay holds.
        prekeys: u8,
    },
    /// The relay pushes that our one-time prekeys run low.
    PreKeysLow {
        /// How many are left.
        remaining: u8,
    },
    /// Bob sends a text to Alice (`to` even) or Carol (odd).
    Send {
        /// Recipient selector.
        to: u8,
    },
    /// Bob marks everything he has received read.
    MarkRead,
}

/// What the relay answers a pending request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `Ok(Stored)`.
    Stored,
    /// A refusal with code `ERROR_CODES[code % len]`.
    Error(u8),
    /// `Ok(Bundle)`: the genuine bundle of Carol, Alice or Bob (`which % 3`) with byte
    /// `position` of its encoding XORed with `mask` (0, or an alteration that does not decode:
    /// unchanged).
    Bundle {
        /// Whose bundle.
        which: u8,
        /// Byte to alter.
        position: u16,
        /// XOR mask.
        mask: u8,
    },
    /// `Ok(PreKeysStored)` with this count.
    PreKeysStored(u8),
    /// `Ok(Acked)` with this count.
    Acked(u8),
    /// Any `Result<Response, ErrorResponse>` in its wire encoding (`Ok(Pong)` if it does not
    /// decode).
    Wire(Vec<u8>),
}

const OP_DELIVER: u8 = 0;
const OP_GENUINE: u8 = 1;
const OP_TWICE: u8 = 2;
const OP_ANSWER: u8 = 3;
const OP_TIMEOUT: u8 = 4;
const OP_RECONNECT: u8 = 5;
const OP_PREKEYS_LOW: u8 = 6;
const OP_SEND: u8 = 7;
const OP_MARK_READ: u8 = 8;
const OP_KINDS: u8 = 9;

const ANSWER_STORED: u8 = 0;
const ANSWER_ERROR: u8 = 1;
const ANSWER_BUNDLE: u8 = 2;
const ANSWER_PREKEYS_STORED: u8 = 3;
const ANSWER_ACKED: u8 = 4;
const ANSWER_WIRE: u8 = 5;
const ANSWER_KINDS: u8 = 6;

/// Reads fields off an input; past the end every field is zero and byte strings are empty.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((first, rest)) => {
                self.0 = rest;
                *first
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// A `u16` length, then that many bytes (fewer if the input ends first).
    fn bytes(&mut self) -> Vec<u8> {
        let length = usize::from(self.u16()).min(self.0.len());
        let (bytes, rest) = self.0.split_at(length);
        self.0 = rest;
        bytes.to_vec()
    }
}

/// The operations an input stands for (at most [`MAX_OPS`]).
pub fn decode_ops(data: &[u8]) -> Vec<Op> {
    let mut reader = Reader(data);
    let mut ops = Vec::new();
    while !reader.0.is_empty() && ops.len() < MAX_OPS {
        let op = match reader.byte() % OP_KINDS {
            OP_DELIVER => Op::Deliver(reader.bytes()),
            OP_GENUINE => Op::Genuine {
                which: reader.byte(),
                position: reader.u16(),
                mask: reader.byte(),
            },
            OP_TWICE => Op::Twice { which: reader.byte() },
            OP_ANSWER => {
                let which = reader.byte();
                let answer = match reader.byte() % ANSWER_KINDS {
                    ANSWER_STORED => Answer::Stored,
                    ANSWER_ERROR => Answer::Error(reader.byte()),
                    ANSWER_BUNDLE => Answer::Bundle {
                        which: reader.byte(),
                        position: reader.u16(),
                        mask: reader.byte(),
                    },
                    ANSWER_PREKEYS_STORED => Answer::PreKeysStored(reader.byte()),
                    ANSWER_ACKED => Answer::Acked(reader.byte()),
                    _ => Answer::Wire(reader.bytes()),
                };
                Op::Answer { which, answer }
            }
            OP_TIMEOUT => Op::Timeout { step: reader.byte() },
            OP_RECONNECT => Op::Reconnect {
                prekeys: reader.byte(),
            },
            OP_PREKEYS_LOW => Op::PreKeysLow {
                remaining: reader.byte(),
            },
            OP_SEND => Op::Send { to: reader.byte() },
            _ => Op::MarkRead,
        };
        ops.push(op);
    }
    ops
}

/// The input [`decode_ops`] reads as `ops` (byte strings longer than `u16::MAX` are cut).
pub fn encode_ops(ops: &[Op]) -> Vec<u8> {
    fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
        let length = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend(bytes.iter().take(usize::from(length)));
    }
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Deliver(bytes) => {
                out.push(OP_DELIVER);
                put_bytes(&mut out, bytes);
            }
            Op::Genuine {
                which,
                position,
                mask,
            } => {
                out.push(OP_GENUINE);
                out.push(*which);
                out.extend_from_slice(&position.to_le_bytes());
                out.push(*mask);
            }
            Op::Twice { which } => out.extend_from_slice(&[OP_TWICE, *which]),
            Op::Answer { which, answer } => {
                out.extend_from_slice(&[OP_ANSWER, *which]);
                match answer {
                    Answer::Stored => out.push(ANSWER_STORED),
                    Answer::Error(code) => out.extend_from_slice(&[ANSWER_ERROR, *code]),
                    Answer::Bundle {
                        which,
                        position,
                        mask,
                    } => {
                        out.extend_from_slice(&[ANSWER_BUNDLE, *which]);
                        out.extend_from_slice(&position.to_le_bytes());
                        out.push(*mask);
                    }
                    Answer::PreKeysStored(count) => out.extend_from_slice(&[ANSWER_PREKEYS_STORED, *count]),
                    Answer::Acked(count) => out.extend_from_slice(&[ANSWER_ACKED, *count]),
                    Answer::Wire(bytes) => {
                        out.push(ANSWER_WIRE);
                        put_bytes(&mut out, bytes);
                    }
                }
            }
            Op::Timeout { step } => out.extend_from_slice(&[OP_TIMEOUT, *step]),
            Op::Reconnect { prekeys } => out.extend_from_slice(&[OP_RECONNECT, *prekeys]),
            Op::PreKeysLow { remaining } => out.extend_from_slice(&[OP_PREKEYS_LOW, *remaining]),
            Op::Send { to } => out.extend_from_slice(&[OP_SEND, *to]),
            Op::MarkRead => out.push(OP_MARK_READ),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The receive path: the fixture.

/// Bob's saved state, Alice's envelopes for him, and the bundles a relay could serve.
struct ReceiveFixture {
    /// Bob's store after he read Alice's first message and answered it; he waits on Carol's
    /// bundle and on the relay's answer to a send to Alice.
    bob: Snapshot,
    alice: Address,
    carol: Address,
    /// Where Bob's clock starts.
    start: u64,
    /// Relay sequence numbers Bob has seen (the next delivery gets the one after).
    last_seq: u64,
    /// Alice's envelopes the operations can deliver: `a1` (already read: a duplicate), a
    /// delivered-receipt, then `a2`…`a6`.
    envelopes: Vec<Vec<u8>>,
    /// Index in `envelopes` of `a2` (the envelope of `a(n)` is at `first_text + n - 2`).
    first_text: usize,
    /// Alice's `a7`, which no operation delivers: the last one of every run, it shows the
    /// session still works.
    fresh: Vec<u8>,
    /// Alice's messages Bob has not received, by `conv_seq` (2 to 7): id and content.
    unread: BTreeMap<u64, (MessageId, Content)>,
    /// The genuine bundles of Carol, Alice and Bob, in their wire encoding.
    bundles: [Vec<u8>; 3],
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

    /// The relay's bundle of this party: its signed prekey, no one-time prekey left.
    fn bundle(&self) -> Bundle {
        let signed = self
            .core
            .account()
            .signed_prekey()
            .expect("a new account has a signed prekey");
        Bundle {
            identity_key: *self.address().as_bytes(),
            signed_prekey: SignedPreKey {
                id: signed.id,
                created_at: signed.created_at,
                key: signed.key.to_bytes(),
                signature: Signature(signed.signature),
            },
            one_time_prekey: None,
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
                    Request::FetchBundle { mailbox, .. } => {
                        let (_, bundle) = bundles
                            .iter()
                            .find(|(address, _)| address.mailbox() == mailbox)
                            .expect("the fixture fetches known bundles only");
                        Response::Bundle(bundle.clone())
                    }
                    Request::SetAccessKey { .. } => Response::AccessKeySet,
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

fn deliver(now: u64, seq: u64, envelope: &[u8]) -> Option<Push> {
    Some(Push::Deliver(Delivery {
        seq: Seq(seq),
        received_at: now / 1000,
        envelope: Envelope::new(envelope.to_vec())?,
    }))
}

#[allow(clippy::expect_used)]
fn receive_fixture() -> &'static ReceiveFixture {
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

// ---------------------------------------------------------------------------------------------
// The receive path: the run.

/// Runs the input's operations ([`decode_ops`]) on Bob's core, restored from the fixture's
/// snapshot and logged in, then delivers Alice's messages he still lacks and one no operation
/// could deliver. It must never panic, and:
///
/// - each delivery is acknowledged exactly once, by an `Ack` of its own sequence number that
///   follows every commit storing what it brought (the ratchet state that decrypted it, the
///   message, the hold) and every event telling of it; nothing received is stored, held or
///   announced outside a delivery;
/// - a message event follows the commit that stores the message; only Alice's genuine messages
///   are delivered, each exactly once and in her order (early ones held until the gap fills);
/// - an unaltered genuine envelope is never dropped: the first time it decrypts and its ratchet
///   state is saved before the ack, later copies are ignored without saving anything;
/// - requests fit in a frame and go only to mailboxes Bob wrote to; the core writes nothing but
///   sends, fetches, uploads and acks;
/// - at the end every one of Alice's messages has arrived: the session survived the operations.
pub fn client_receive(data: &[u8]) {
    let mut run = Run::start(receive_fixture());
    for op in decode_ops(data) {
        run.apply(op);
    }
    run.finish();
}

/// One run of `client_receive`: Bob's restored core and what the checks need to remember.
struct Run {
    fixture: &'static ReceiveFixture,
    core: Core,
    now: u64,
    last_seq: u64,
    /// Requests written and not answered, in order (cleared on reconnect, as the core does).
    pending: Vec<RequestId>,
    /// The `conv_seq` of Alice's message Bob must deliver next.
    next_from_alice: u64,
    /// Ids of the messages Bob received (for read marks).
    received: Vec<MessageId>,
    /// Which of Alice's envelopes (`envelopes`, then `fresh`) Bob has decrypted.
    decrypted: Vec<bool>,
    /// Bob reset his sessions with Alice (a gap stayed open past `GAP_TIMEOUT_MS`): her
    /// envelopes on the dropped session no longer decrypt. The real Alice answers by resending
    /// them on the new session; the fixture's Alice cannot, so the run then checks that the
    /// reset gets under way instead (see [`Run::finish`]).
    reset: bool,
    /// Bundle fetches for Alice's mailbox Bob wrote and no operation answered.
    alice_fetches: Vec<RequestId>,
    /// Sends to Alice's mailbox Bob wrote in the last input.
    sent_to_alice: usize,
}

/// What a delivery carries, for the checks.
#[derive(Debug, Clone, Copy)]
struct Delivering {
    seq: Seq,
    /// For one of Alice's envelopes, unaltered: whether Bob decrypts it for the first time.
    genuine: Option<bool>,
}

impl Run {
    // The snapshot is one the core itself committed, so it restores.
    #[allow(clippy::expect_used)]
    fn start(fixture: &'static ReceiveFixture) -> Self {
        let core = Core::restore(fixture.bob.clone(), rng(21)).expect("Bob's own snapshot restores");
        let mut run = Self {
            fixture,
            core,
            now: fixture.start,
            last_seq: fixture.last_seq,
            pending: Vec::new(),
            next_from_alice: 2,
            received: Vec::new(),
            // Only a1 was read before the snapshot.
            decrypted: (0..=fixture.envelopes.len()).map(|index| index == 0).collect(),
            reset: false,
            alice_fetches: Vec::new(),
            sent_to_alice: 0,
        };
        run.core.handle_authenticated(run.now, PREKEY_LOW_WATER);
        run.observe(None);
        run
    }

    fn apply(&mut self, op: Op) {
        let fixture = self.fixture;
        match op {
            Op::Deliver(bytes) => self.deliver(&bytes, None),
            Op::Genuine {
                which,
                position,
                mask,
            } => {
                let index = usize::from(which) % fixture.envelopes.len().max(1);
                let mut bytes = fixture.envelopes.get(index).cloned().unwrap_or_default();
                let length = bytes.len().max(1);
                if let Some(byte) = bytes.get_mut(usize::from(position) % length) {
                    *byte ^= mask;
                }
                self.deliver(&bytes, (mask == 0).then_some(index));
            }
            Op::Twice { which } => {
                let index = usize::from(which) % fixture.envelopes.len().max(1);
                let bytes = fixture.envelopes.get(index).cloned().unwrap_or_default();
                self.deliver(&bytes, Some(index));
                self.deliver(&bytes, Some(index));
            }
            Op::Answer { which, answer } => {
                let id = match self.pending.get(usize::from(which)) {
                    Some(id) => *id,
                    None => RequestId(u32::from(which)),
                };
                self.pending.retain(|pending| *pending != id);
                self.alice_fetches.retain(|pending| *pending != id);
                let result = self.answer(answer);
                self.core.handle_response(self.now, id, result);
                self.observe(None);
            }
            Op::Timeout { step } => {
                self.now += (u64::from(step & 7) + 1) << (step >> 3);
                self.core.handle_timeout(self.now);
                self.observe(None);
            }
            Op::Reconnect { prekeys } => {
                self.core.handle_disconnected(self.now);
                self.observe(None);
                self.pending.clear();
                self.alice_fetches.clear();
                self.core.handle_authenticated(self.now, u32::from(prekeys));
                self.observe(None);
            }
            Op::PreKeysLow { remaining } => {
                let push = Push::PreKeysLow {
                    remaining: u32::from(remaining),
                };
                self.core.handle_push(self.now, push);
                self.observe(None);
            }
            Op::Send { to } => {
                let to = if to % 2 == 0 { fixture.alice } else { fixture.carol };
                let sent = self.core.handle_send(self.now, to, Content::text("b"));
                assert!(sent.is_ok(), "a short text to a peer was refused: {sent:?}");
                self.observe(None);
            }
            Op::MarkRead => {
                let ids = std::mem::take(&mut self.received);
                self.core.handle_mark_read(self.now, fixture.alice, &ids);
                self.observe(None);
            }
        }
    }

    fn answer(&self, answer: Answer) -> Result<Response, ErrorResponse> {
        match answer {
            Answer::Stored => Ok(Response::Stored),
            Answer::Error(code) => Err(ErrorResponse {
                code: pick(&ERROR_CODES, code).copied().unwrap_or(ErrorCode::Internal),
                detail: String::new(),
            }),
            Answer::Bundle {
                which,
                position,
                mask,
            } => {
                let mut bytes = pick(&self.fixture.bundles, which).cloned().unwrap_or_default();
                let genuine = decode_body::<Bundle>(&bytes);
                let length = bytes.len().max(1);
                if let Some(byte) = bytes.get_mut(usize::from(position) % length) {
                    *byte ^= mask;
                }
                let bundle = decode_body::<Bundle>(&bytes).or(genuine);
                Ok(bundle.map_or(Response::Pong, Response::Bundle))
            }
            Answer::PreKeysStored(count) => Ok(Response::PreKeysStored {
                one_time_prekeys: u32::from(count),
            }),
            Answer::Acked(count) => Ok(Response::Acked {
                deleted: u32::from(count),
            }),
            Answer::Wire(bytes) => {
                decode_body::<Result<Response, ErrorResponse>>(&bytes).unwrap_or(Ok(Response::Pong))
            }
        }
    }

    /// Delivers `envelope` under the next relay sequence number; `genuine`: it is Alice's
    /// envelope of that index (`envelopes`, then `fresh`), unaltered.
    fn deliver(&mut self, envelope: &[u8], genuine: Option<usize>) {
        self.last_seq += 1;
        let Some(push) = deliver(self.now, self.last_seq, envelope) else {
            return;
        };
        let first_time = genuine.map(|index| !self.decrypted.get(index).copied().unwrap_or(true));
        self.core.handle_push(self.now, push);
        self.observe(Some(Delivering {
            seq: Seq(self.last_seq),
            genuine: first_time,
        }));
        if let Some(decrypted) = genuine.and_then(|index| self.decrypted.get_mut(index)) {
            *decrypted = true;
        }
    }

    /// Takes the outputs of the last input and checks them. `delivery`: the input was that
    /// delivery, which must be acknowledged exactly once, after the commits holding what it
    /// brought (the ratchet state that decrypted it first of all) and the events telling of it.
    /// An unaltered envelope of Alice's is never dropped: the first time it decrypts (and the
    /// ratchet state is saved), afterwards it is a copy, ignored without touching any state.
    fn observe(&mut self, delivery: Option<Delivering>) {
        let fixture = self.fixture;
        let seq = delivery.map(|delivery| delivery.seq);
        let genuine = delivery.and_then(|delivery| delivery.genuine);
        let mut acked = false;
        let mut ratchet_saved = false;
        let mut stored = HashSet::new();
        self.sent_to_alice = 0;
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Commit(commit) => {
                    for op in &commit.ops {
                        let receiving = match op {
                            StoreOp::InsertMessage(message) => message.direction == Direction::Incoming,
                            StoreOp::PutHeld(_) | StoreOp::RemoveHeld { .. } => true,
                            _ => false,
                        };
                        assert!(
                            !receiving || (delivery.is_some() && !acked),
                            "a received message was stored outside its delivery, before its ack: {op:?}"
                        );
                        if let StoreOp::InsertMessage(message) = op {
                            stored.insert(message.id);
                        }
                        ratchet_saved |= matches!(op, StoreOp::PutPeer(_)) && !acked;
                    }
                }
                Output::Request(frame) => {
                    assert!(
                        encode_frame(&frame, MAX_FRAME_LEN).is_ok(),
                        "a request does not fit in a frame"
                    );
                    match &frame.request {
                        Request::Ack { through } => {
                            assert!(
                                seq == Some(*through) && !acked,
                                "ack of {through:?} for delivery {seq:?} (acked already: {acked})"
                            );
                            acked = true;
                        }
                        Request::Send { to, .. } | Request::FetchBundle { mailbox: to, .. } => {
                            assert!(
                                *to == fixture.alice.mailbox() || *to == fixture.carol.mailbox(),
                                "a request for a mailbox Bob never wrote to"
                            );
                            if *to == fixture.alice.mailbox() {
                                match frame.request {
                                    Request::Send { .. } => self.sent_to_alice += 1,
                                    _ => self.alice_fetches.push(frame.id),
                                }
                            }
                        }
                        other => assert!(
                            matches!(
                                other,
                                Request::UploadPreKeys { .. } | Request::SetAccessKey { .. }
                            ),
                            "the core wrote an unexpected request: {other:?}"
                        ),
                    }
                    self.pending.push(frame.id);
                }
                Output::Event(Event::MessageReceived(message)) => {
                    assert!(
                        delivery.is_some() && !acked,
                        "a message event outside its delivery, before its ack"
                    );
                    assert!(
                        stored.contains(&message.id),
                        "a message event before the commit that stores it"
                    );
                    let expected = fixture.unread.get(&message.conv_seq);
                    assert!(
                        message.peer == fixture.alice
                            && message.conv_seq == self.next_from_alice
                            && expected.is_some_and(|(id, content)| {
                                message.id == *id && message.content == *content
                            }),
                        "delivered {message:?}, expected Alice's message {} next",
                        self.next_from_alice
                    );
                    self.next_from_alice += 1;
                    self.received.push(message.id);
                }
                Output::Event(Event::SessionReset { peer, .. }) if peer == fixture.alice => {
                    self.reset = true;
                }
                Output::Event(Event::Dropped { claimed_from, reason }) => {
                    assert!(
                        genuine.is_none() || self.reset,
                        "a genuine envelope was dropped: {reason:?} (claimed from {claimed_from:?})"
                    );
                }
                Output::Event(_) | Output::LoggedIn | Output::LoginFailed(_) => {}
            }
        }
        assert!(seq.is_none() || acked, "delivery {seq:?} was not acknowledged");
        if let Some(first_time) = genuine.filter(|_| !self.reset) {
            assert!(
                ratchet_saved == first_time,
                "a genuine envelope, decrypted the first time: {first_time}, saved the ratchet \
                 before its ack: {ratchet_saved}"
            );
        }
    }

    /// Delivers Alice's messages Bob still lacks, in order, then `a7`: each must be delivered
    /// now, exactly once and in order (a corrupted session or a lost hold shows here).
    fn finish(&mut self) {
        let fixture = self.fixture;
        if self.reset {
            self.finish_reset();
            return;
        }
        let lacking: Vec<usize> = (self.next_from_alice..7)
            .filter_map(|conv_seq| Some(usize::try_from(conv_seq - 2).ok()? + fixture.first_text))
            .collect();
        for index in lacking {
            if let Some(envelope) = fixture.envelopes.get(index) {
                self.deliver(envelope, Some(index));
            }
        }
        self.deliver(&fixture.fresh, Some(fixture.envelopes.len()));
        assert_eq!(
            self.next_from_alice, 8,
            "Alice's messages were not all delivered after the fuzz operations"
        );
    }
}

impl Run {
    /// After Bob reset with Alice: her genuine bundle, once fetched, starts the new session,
    /// and Bob writes to her on it (the reset notice, then what she has not confirmed). A lost
    /// fetch is written again after its backoff, or at once on a reconnect.
    // The fixture's bundle for Alice is her own and valid.
    #[allow(clippy::expect_used)]
    fn finish_reset(&mut self) {
        let alice_bundle = self
            .fixture
            .bundles
            .get(1)
            .expect("the fixture holds Alice's bundle");
        let bundle: Bundle = decode_body(alice_bundle).expect("Alice's bundle decodes");
        if self.alice_fetches.is_empty() {
            self.core.handle_disconnected(self.now);
            self.observe(None);
            self.pending.clear();
            self.alice_fetches.clear();
            self.core.handle_authenticated(self.now, PREKEY_LOW_WATER);
            self.observe(None);
        }
        let fetch = self.alice_fetches.first().copied();
        assert!(
            fetch.is_some(),
            "Bob reset with Alice and never fetched her bundle"
        );
        // A bundle whose signed prekey Alice must have erased by now is refused (and fetched
        // again later): the fuzz clock may have run past it.
        let fresh = hush_crypto::SIGNED_PREKEY_ROTATION + hush_crypto::SIGNED_PREKEY_GRACE;
        let usable = (self.now / 1000).saturating_sub(bundle.signed_prekey.created_at) < fresh;
        if let Some(id) = fetch {
            self.alice_fetches.retain(|pending| *pending != id);
            self.core
                .handle_response(self.now, id, Ok(Response::Bundle(bundle)));
            self.observe(None);
            assert!(
                !usable || self.sent_to_alice > 0,
                "Bob fetched Alice's bundle after his reset and sent her nothing"
            );
        }
    }
}

/// Item `which` of `items`, modulo their number (`None` only if there are none).
fn pick<T>(items: &[T], which: u8) -> Option<&T> {
    items.get(usize::from(which) % items.len().max(1))
}

// ---------------------------------------------------------------------------------------------
// Seed corpus.

#[path = "../../fuzz/seed.rs"]
mod seed;
pub use seed::Seed;

/// The seed corpus: valid and near-valid payloads and addresses, and operation sequences on the
/// receive fixture (genuine envelopes in order, reordered and twice, flipped bytes, junk, relay
/// answers to every pending request, timers, reconnects). Deterministic.
// The payloads are built from valid values: they encode.
#[allow(clippy::expect_used)]
pub fn seed_corpus() -> Vec<Seed> {
    use crate::content::{Body, MAX_RECEIPT_IDS, MAX_TEXT_LEN, ReceiptKind};

    let fixture = receive_fixture();
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        seeds.push(Seed {
            target,
            name: name.to_string(),
            bytes,
        });
    };

    // Payloads.
    let payload = |conv_seq: u64, body: Body| {
        Payload {
            id: MessageId([7; 16]),
            conv_seq,
            sent_at: NOW,
            body,
        }
        .encode()
        .expect("payloads within the limits encode")
    };
    let text = payload(3, Body::Content(Content::text("hello")));
    let receipt = |kind, count: usize| {
        let ids = (0..count).map(|n| MessageId([(n % 251) as u8; 16])).collect();
        payload(0, Body::Receipt { kind, ids })
    };
    let unsupported =
        |kind: u16, data: Vec<u8>| payload(1, Body::Content(Content::Unsupported { kind, data }));
    let (text_kind, _) = Content::text("").to_parts();
    add("client_payload", "text", text.clone());
    add(
        "client_payload",
        "empty_text",
        payload(1, Body::Content(Content::text(""))),
    );
    add(
        "client_payload",
        "receipt_delivered",
        receipt(ReceiptKind::Delivered, 2),
    );
    add("client_payload", "receipt_read", receipt(ReceiptKind::Read, 1));
    add(
        "client_payload",
        "reset",
        payload(
            0,
            Body::Reset {
                next_seq: NOW << 20,
                answer: false,
                reuse_seen: true,
            },
        ),
    );
    add(
        "client_payload",
        "reset_answer",
        payload(
            0,
            Body::Reset {
                next_seq: 1,
                answer: true,
                reuse_seen: false,
            },
        ),
    );
    add(
        "client_payload",
        "receipt_full",
        receipt(ReceiptKind::Read, MAX_RECEIPT_IDS),
    );
    add(
        "client_payload",
        "unsupported_kind",
        unsupported(77, vec![1, 2, 3]),
    );
    let mut trailing = text.clone();
    trailing.push(0);
    add("client_payload", "trailing_byte", trailing);
    add(
        "client_payload",
        "truncated",
        text.get(..text.len() - 1).unwrap_or_default().to_vec(),
    );
    add(
        "client_payload",
        "text_not_utf8",
        unsupported(text_kind, vec![0xff, 0xfe]),
    );
    add(
        "client_payload",
        "text_too_long",
        unsupported(text_kind, vec![b'x'; MAX_TEXT_LEN + 1]),
    );
    // One id over the limit: the count varint (512 = 80 04) becomes 513 and one id more follows.
    let mut too_many = receipt(ReceiptKind::Delivered, MAX_RECEIPT_IDS);
    let count_at = too_many.len() - MAX_RECEIPT_IDS * 16 - 2;
    if let Some(low) = too_many.get_mut(count_at) {
        *low = 0x81;
    }
    too_many.extend_from_slice(&[9; 16]);
    add("client_payload", "receipt_too_many", too_many);

    // Addresses.
    let address = fixture.alice.to_string();
    add("parse_address", "address", address.clone().into_bytes());
    add(
        "parse_address",
        "upper_case",
        address.to_uppercase().replace("HUSH:", "hush:").into_bytes(),
    );
    add("parse_address", "padded", format!("  {address}\n").into_bytes());
    add(
        "parse_address",
        "no_prefix",
        address.replace("hush:", "").into_bytes(),
    );
    add(
        "parse_address",
        "short",
        address.get(..40).unwrap_or_default().as_bytes().to_vec(),
    );
    add("parse_address", "not_hex", address.replace('a', "g").into_bytes());
    add(
        "parse_address",
        "weak_key",
        format!("hush:{}", "00".repeat(32)).into_bytes(),
    );
    add(
        "parse_address",
        "multibyte",
        format!("hush:{}é", "0".repeat(62)).into_bytes(),
    );

    // Receive operations. Envelope indexes: a1, Alice's receipt, a2…a6. Bob's pending requests
    // after login: the fetch of Carol's bundle, then the resend of b2 to Alice.
    let a = |n: u8| Op::Genuine {
        which: u8::try_from(fixture.first_text).unwrap_or(0) + n - 2,
        position: 0,
        mask: 0,
    };
    let flip = |which: u8, position: u16, mask: u8| Op::Genuine {
        which,
        position,
        mask,
    };
    let a2 = fixture
        .envelopes
        .get(fixture.first_text)
        .cloned()
        .unwrap_or_default();
    let carol_bundle = Answer::Bundle {
        which: 0,
        position: 0,
        mask: 0,
    };
    let wire =
        |result: Result<Response, ErrorResponse>| postcard::to_allocvec(&result).expect("responses encode");
    let not_found = u8::try_from(
        ERROR_CODES
            .iter()
            .position(|code| *code == ErrorCode::NotFound)
            .unwrap_or(0),
    )
    .unwrap_or(0);
    let sequences: Vec<(&str, Vec<Op>)> = vec![
        ("nothing", vec![]),
        ("in_order", (2..=6).map(a).collect()),
        ("reordered", vec![a(4), a(2), a(6), a(3), a(5)]),
        (
            "twice",
            vec![
                Op::Twice { which: 0 },
                Op::Twice { which: 1 },
                Op::Twice { which: 2 },
            ],
        ),
        (
            "receipt_then_text",
            vec![
                Op::Genuine {
                    which: 1,
                    position: 0,
                    mask: 0,
                },
                a(2),
                a(3),
            ],
        ),
        (
            "flips",
            vec![
                flip(2, 0, 1),
                flip(2, 1, 1),
                flip(3, 40, 0x80),
                flip(1, 70, 1),
                flip(0, 200, 1),
                flip(4, 9999, 1),
            ],
        ),
        (
            "junk",
            vec![
                Op::Deliver(Vec::new()),
                Op::Deliver(vec![1; 81]),
                Op::Deliver(a2.get(..a2.len() / 2).unwrap_or_default().to_vec()),
                Op::Deliver([a2.as_slice(), &[0]].concat()),
                a(2),
            ],
        ),
        (
            "carol_bundle",
            vec![
                Op::Answer {
                    which: 0,
                    answer: carol_bundle.clone(),
                },
                Op::Timeout { step: 0 },
                Op::Answer {
                    which: 1,
                    answer: Answer::Stored,
                },
                Op::Answer {
                    which: 1,
                    answer: Answer::Stored,
                },
                a(2),
            ],
        ),
        (
            "bad_bundles",
            vec![
                Op::Answer {
                    which: 0,
                    answer: Answer::Bundle {
                        which: 1,
                        position: 0,
                        mask: 0,
                    },
                },
                Op::Timeout { step: 100 },
                Op::Answer {
                    which: 1,
                    answer: Answer::Bundle {
                        which: 0,
                        position: 40,
                        mask: 1,
                    },
                },
                Op::Timeout { step: 120 },
                Op::Answer {
                    which: 1,
                    answer: Answer::Bundle {
                        which: 0,
                        position: 100,
                        mask: 4,
                    },
                },
                a(3),
            ],
        ),
        (
            "errors",
            vec![
                Op::Answer {
                    which: 1,
                    answer: Answer::Error(0),
                },
                Op::Answer {
                    which: 0,
                    answer: Answer::Error(not_found),
                },
                Op::Timeout { step: 90 },
                Op::Answer {
                    which: 0,
                    answer: Answer::Error(2),
                },
                Op::Answer {
                    which: 200,
                    answer: Answer::Stored,
                },
                a(2),
            ],
        ),
        (
            "wire",
            vec![
                Op::Answer {
                    which: 0,
                    answer: Answer::Wire(wire(Ok(Response::Bundle(
                        decode_body::<Bundle>(fixture.bundles.first().map_or(&[][..], Vec::as_slice))
                            .expect("the fixture's bundles decode"),
                    )))),
                },
                Op::Answer {
                    which: 0,
                    answer: Answer::Wire(wire(Ok(Response::Stored))),
                },
                Op::Answer {
                    which: 0,
                    answer: Answer::Wire(vec![1, 2, 3]),
                },
            ],
        ),
        (
            "time",
            vec![
                a(3),
                Op::Timeout { step: 40 },
                a(2),
                Op::MarkRead,
                Op::Timeout { step: 200 },
                Op::Send { to: 0 },
                Op::Timeout { step: 255 },
                Op::Send { to: 1 },
                Op::Timeout { step: 250 },
            ],
        ),
        (
            "reconnect",
            vec![
                a(2),
                Op::Reconnect { prekeys: 100 },
                Op::Twice { which: 3 },
                Op::Reconnect { prekeys: 3 },
                Op::Answer {
                    which: 2,
                    answer: Answer::PreKeysStored(10),
                },
                Op::PreKeysLow { remaining: 20 },
                Op::Answer {
                    which: 3,
                    answer: Answer::Acked(1),
                },
            ],
        ),
        (
            "sends",
            vec![
                Op::Send { to: 0 },
                Op::Send { to: 1 },
                Op::Answer {
                    which: 2,
                    answer: Answer::Stored,
                },
                a(2),
                Op::MarkRead,
                Op::Timeout { step: 60 },
            ],
        ),
    ];
    for (name, ops) in sequences {
        add("client_receive", name, encode_ops(&ops));
    }
    seeds
}
