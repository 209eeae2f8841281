//! The `client_receive` run: Bob's restored core driven by the input's operations, and the
//! checks on every output.

use std::collections::HashSet;

use hush_proto::{
    Bundle, ErrorCode, ErrorResponse, MAX_FRAME_LEN, Push, Request, RequestId, Response, Seq, decode_body,
    encode_frame,
};

use super::fixture::{ReceiveFixture, deliver, receive_fixture};
use super::ops::{Answer, Op, decode_ops};
use super::{ERROR_CODES, rng};
use crate::content::{Content, MessageId};
use crate::core::{Core, Output, PREKEY_LOW_WATER};
use crate::event::Event;
use crate::records::{Direction, StoreOp};

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
    /// Device-list fetches Bob wrote and no operation answered.
    list_fetches: Vec<RequestId>,
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
        let core =
            Core::restore(fixture.start, fixture.bob.clone(), rng(21)).expect("Bob's own snapshot restores");
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
            list_fetches: Vec::new(),
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
                self.list_fetches.retain(|pending| *pending != id);
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
                self.list_fetches.clear();
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
                        Request::FetchDeviceList { .. } => self.list_fetches.push(frame.id),
                        other => assert!(
                            matches!(
                                other,
                                Request::UploadPreKeys { .. }
                                    | Request::UploadKemPreKeys { .. }
                                    | Request::SetAccessKey { .. }
                                    | Request::PublishDeviceList { .. }
                                    | Request::FetchDeviceList { .. }
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
    /// or failed fetch is written again after its backoff.
    // The fixture's bundle for Alice is her own and valid.
    #[allow(clippy::expect_used)]
    fn finish_reset(&mut self) {
        let alice_bundle = self
            .fixture
            .bundles
            .get(1)
            .expect("the fixture holds Alice's bundle");
        let bundle: Bundle = decode_body(alice_bundle).expect("Alice's bundle decodes");
        // A failed fetch is written again when its backoff ends: run the timers until it is.
        for _ in 0..64 {
            if !self.alice_fetches.is_empty() {
                break;
            }
            // The lists asked for (Alice's, before anything to her is sealed): none at the relay,
            // so she is the single device her address names.
            for id in std::mem::take(&mut self.list_fetches) {
                self.pending.retain(|pending| *pending != id);
                let none = hush_proto::ErrorResponse {
                    code: hush_proto::ErrorCode::NotFound,
                    detail: String::new(),
                };
                self.core.handle_response(self.now, id, Err(none));
                self.observe(None);
            }
            if !self.alice_fetches.is_empty() {
                break;
            }
            let Some(due) = self.core.poll_timeout() else {
                break;
            };
            self.now = self.now.max(due);
            self.core.handle_timeout(self.now);
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
