//! Lost, reordered and duplicated messages: the spec's example across DH steps, and a property
//! test where both parties send while a network drops, duplicates and shuffles; every delivered
//! message decrypts exactly once.

use std::collections::{HashMap, HashSet, VecDeque};

use hush_crypto::ratchet::{MAX_RECEIVING_CHAINS, MAX_SKIPPED_KEYS};
use hush_crypto::{Curve25519PublicKey, DecryptError, Session, SessionMessage};
use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::common::pair;
use crate::{foreign_ratchet_key, plain, refused, rng, send, send_many};

#[test]
fn lost_and_reordered_messages_across_dh_steps_all_decrypt() {
    let mut rng = rng(12);
    let (mut alice, mut bob) = pair(&mut rng);
    let check = |session: &mut Session, message: &SessionMessage, text: &[u8], rng: &mut StdRng| {
        assert_eq!(session.decrypt(message, rng).unwrap(), text);
    };
    // Alice's chain 1: A1 arrives, A2 is delayed.
    let a1 = send(&mut alice, b"A1", &mut rng);
    let a2 = send(&mut alice, b"A2", &mut rng);
    check(&mut bob, &a1, b"A1", &mut rng);
    // Bob's chain 1: B1 arrives, B2..B4 are delayed.
    let b = send_many(&mut bob, "B", 5, &mut rng);
    check(&mut alice, &b[1], b"B 1", &mut rng);
    // Alice's chain 2 (a DH step, PN = 2): A3 delayed, A4 arrives, so Bob keeps A2's and A3's keys.
    let a3 = send(&mut alice, b"A3", &mut rng);
    let a4 = send(&mut alice, b"A4", &mut rng);
    check(&mut bob, &a4, b"A4", &mut rng);
    assert_eq!(bob.skipped_key_count(), 2);
    // Bob's chain 2 (PN = 5): B5 arrives, so Alice keeps B0, B2, B3, B4.
    let b5 = send(&mut bob, b"B5", &mut rng);
    assert_eq!(plain(&b5).previous_counter(), 5);
    check(&mut alice, &b5, b"B5", &mut rng);
    assert_eq!(alice.skipped_key_count(), 4);
    // The late ones arrive in a scrambled order, across both steps.
    check(&mut alice, &b[3], b"B 3", &mut rng);
    check(&mut bob, &a2, b"A2", &mut rng);
    check(&mut alice, &b[2], b"B 2", &mut rng);
    check(&mut bob, &a3, b"A3", &mut rng);
    check(&mut alice, &b[4], b"B 4", &mut rng);
    check(&mut alice, &b[0], b"B 0", &mut rng);
    assert_eq!(alice.skipped_key_count(), 0);
    assert_eq!(bob.skipped_key_count(), 0);
    // And the conversation carries on.
    let a5 = send(&mut alice, b"A5", &mut rng);
    check(&mut bob, &a5, b"A5", &mut rng);
    let b6 = send(&mut bob, b"B6", &mut rng);
    check(&mut alice, &b6, b"B6", &mut rng);
}

#[derive(Clone)]
struct InFlight {
    id: usize,
    to: usize,
    ratchet_key: Curve25519PublicKey,
    bytes: Vec<u8>,
    plaintext: Vec<u8>,
}

/// What the harness knows of a receiver: the ratchet keys of its receiving chains (newest last,
/// at most MAX_RECEIVING_CHAINS) and every ratchet key it has ever stepped to.
#[derive(Default)]
struct ChainModel {
    window: VecDeque<Curve25519PublicKey>,
    seen: HashSet<Curve25519PublicKey>,
}

impl ChainModel {
    fn push(&mut self, key: Curve25519PublicKey) {
        self.seen.insert(key);
        self.window.push_back(key);
        if self.window.len() > MAX_RECEIVING_CHAINS {
            self.window.pop_front();
        }
    }

    /// Whether a message under `key` is within the bounds: on a kept chain, or on a new one.
    fn in_bounds(&self, key: &Curve25519PublicKey) -> bool {
        self.window.contains(key) || !self.seen.contains(key)
    }
}

#[derive(Debug, Default)]
struct Stats {
    sent: usize,
    decrypted: usize,
    duplicates: usize,
    dropped: usize,
    late: usize,
    dh_steps: usize,
}

/// Two parties and a lossy, reordering, duplicating network between them.
struct Conversation {
    seed: u64,
    rng: StdRng,
    parties: [Session; 2],
    models: [ChainModel; 2],
    in_flight: Vec<InFlight>,
    history: Vec<InFlight>,
    delivered: HashSet<usize>,
    stats: Stats,
}

impl Conversation {
    fn new(seed: u64) -> Self {
        let mut rng = rng(seed);
        let (alice, bob) = pair(&mut rng);
        let mut models = [ChainModel::default(), ChainModel::default()];
        // Alice receives on Bob's current key; Bob on Alice's first key, which the fixture does
        // not expose: a placeholder stands in for it, so the window length is right.
        models[0].push(bob.own_ratchet_key());
        models[1].push(foreign_ratchet_key(&mut rng));
        Self {
            seed,
            rng,
            parties: [alice, bob],
            models,
            in_flight: Vec::new(),
            history: Vec::new(),
            delivered: HashSet::new(),
            stats: Stats::default(),
        }
    }

    fn send(&mut self, from: usize) {
        let id = self.history.len();
        let plaintext = format!("seed {} message {id} from {from}", self.seed).into_bytes();
        let message = send(&mut self.parties[from], &plaintext, &mut self.rng);
        let sent = InFlight {
            id,
            to: 1 - from,
            ratchet_key: message.message().ratchet_key(),
            bytes: message.to_bytes(),
            plaintext,
        };
        self.history.push(sent.clone());
        self.in_flight.push(sent);
        self.stats.sent += 1;
    }

    fn deliver(&mut self, message: InFlight) {
        let seed = self.seed;
        let model = &self.models[message.to];
        if !model.seen.contains(&message.ratchet_key) && model.window.len() == MAX_RECEIVING_CHAINS {
            // This DH step drops the receiver's oldest chain. The harness keeps every message within
            // the bounds: whatever is still in flight on that chain arrives first, shuffled.
            let oldest = model.window[0];
            let (mut due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.in_flight)
                .into_iter()
                .partition(|m| m.to == message.to && m.ratchet_key == oldest);
            self.in_flight = rest;
            due.shuffle(&mut self.rng);
            for earlier in due {
                self.deliver(earlier);
            }
        }
        let session = &mut self.parties[message.to];
        let model = &mut self.models[message.to];
        let decoded = SessionMessage::from_bytes(&message.bytes).unwrap();
        if !model.in_bounds(&message.ratchet_key) {
            // Its chain was dropped more than MAX_RECEIVING_CHAINS steps ago.
            refused(session, &decoded, &mut self.rng);
            self.stats.late += 1;
            return;
        }
        if self.delivered.contains(&message.id) {
            assert_eq!(
                refused(session, &decoded, &mut self.rng),
                DecryptError::Duplicate {
                    counter: plain(&decoded).counter()
                },
                "seed {seed}: replay of message {}",
                message.id
            );
            self.stats.duplicates += 1;
            return;
        }
        let plaintext = session
            .decrypt(&decoded, &mut self.rng)
            .unwrap_or_else(|error| panic!("seed {seed}: message {} refused: {error}", message.id));
        assert_eq!(plaintext, message.plaintext, "seed {seed}");
        self.delivered.insert(message.id);
        self.stats.decrypted += 1;
        if !model.seen.contains(&message.ratchet_key) {
            model.push(message.ratchet_key);
            self.stats.dh_steps += 1;
        }
        // Gaps stay far inside the bounds, so no key is ever evicted.
        assert!(session.skipped_key_count() < MAX_SKIPPED_KEYS / 2, "seed {seed}");
        assert!(session.receiving_chain_count() <= MAX_RECEIVING_CHAINS);
        assert_eq!(session.receiving_chain_count(), model.window.len(), "seed {seed}");
    }

    fn step(&mut self) {
        let roll = self.rng.random_range(0..100u32);
        let flying = self.in_flight.len();
        match roll {
            // Either side sends.
            0..30 => {
                let from = self.rng.random_range(0..2usize);
                self.send(from);
            }
            // Shuffled delivery: any message in flight.
            30..65 if flying > 0 => {
                let index = self.rng.random_range(0..flying);
                let message = self.in_flight.swap_remove(index);
                self.deliver(message);
            }
            // In-order delivery: the oldest in flight.
            65..80 if flying > 0 => {
                let message = self.in_flight.remove(0);
                self.deliver(message);
            }
            // Loss.
            80..88 if flying > 0 => {
                let index = self.rng.random_range(0..flying);
                self.in_flight.swap_remove(index);
                self.stats.dropped += 1;
            }
            // The network duplicates a message (already delivered, lost or still in flight),
            // among those still within the bounds.
            88..100 if !self.history.is_empty() => {
                // Mostly recent ones: older chains are soon out of the bounds.
                let recent = self.history.len().saturating_sub(30);
                let index = self.rng.random_range(recent..self.history.len());
                let copy = self.history[index].clone();
                if self.models[copy.to].in_bounds(&copy.ratchet_key) {
                    self.in_flight.push(copy);
                }
            }
            _ => {}
        }
    }

    /// Everything still in flight arrives, shuffled.
    fn drain(&mut self) {
        self.in_flight.shuffle(&mut self.rng);
        // One at a time, so a DH step can still flush the chain it is about to drop.
        while let Some(message) = self.in_flight.pop() {
            self.deliver(message);
        }
    }
}

#[test]
fn random_send_drop_duplicate_shuffle_every_delivered_message_decrypts_once() {
    for seed in [1, 2, 3, 4] {
        let mut conversation = Conversation::new(seed);
        for _ in 0..3000 {
            conversation.step();
        }
        conversation.drain();
        let stats = &conversation.stats;
        // Every delivered message decrypted exactly once (replays were Duplicate), none fell out
        // of the bounds, and the run exercised what it claims to.
        assert_eq!(stats.late, 0, "seed {seed}: {stats:?}");
        assert_eq!(conversation.delivered.len(), stats.decrypted);
        assert!(stats.sent > 700, "seed {seed}: {stats:?}");
        assert!(
            stats.decrypted + stats.dropped >= stats.sent,
            "seed {seed}: {stats:?}"
        );
        assert!(stats.duplicates > 100, "seed {seed}: {stats:?}");
        assert!(stats.dropped > 50, "seed {seed}: {stats:?}");
        assert!(stats.dh_steps > 50, "seed {seed}: {stats:?}");
    }
}

#[test]
fn property_model_window_keeps_the_newest_chains() {
    // The property-test model's window matches the session's real chain count.
    let mut model = ChainModel::default();
    let mut rng = rng(28);
    let mut keys = HashMap::new();
    for i in 0..(MAX_RECEIVING_CHAINS + 3) {
        let key = foreign_ratchet_key(&mut rng);
        keys.insert(i, key);
        model.push(key);
    }
    assert_eq!(model.window.len(), MAX_RECEIVING_CHAINS);
    assert!(!model.window.contains(&keys[&0]));
    assert!(model.window.contains(&keys[&(MAX_RECEIVING_CHAINS + 2)]));
}
