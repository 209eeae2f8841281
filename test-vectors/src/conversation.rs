//! Two accounts talking, every operation recorded as an event (shared by `ratchet.json` and
//! `negative.json`).

use hush_crypto::{Account, PreKeyBundle, Session, SessionMessage};
use serde_json::{Value, json};

use crate::rng::Recorder;
use crate::util::{NOW, hex, new_account, one_time_prekeys, session_state, variant};

pub const ALICE_ADDRESS: &[u8] = b"alice@hush.example/device-1";
pub const BOB_ADDRESS: &[u8] = b"bob@hush.example/device-7";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Alice,
    Bob,
}

impl Party {
    pub fn name(self) -> &'static str {
        match self {
            Party::Alice => "alice",
            Party::Bob => "bob",
        }
    }
}

pub struct Sent {
    pub sender: Party,
    pub bytes: Vec<u8>,
}

pub struct Conversation {
    pub bob: Account,
    pub alice_session: Session,
    pub bob_session: Option<Session>,
    pub messages: Vec<Sent>,
    pub message_json: Vec<Value>,
    pub events: Vec<Value>,
}

impl Conversation {
    /// Both accounts, Bob's one-time prekeys and Alice's outbound session (to Bob's prekey 1).
    pub fn start(rng: &mut Recorder) -> (Self, Value) {
        let (alice, alice_json) = new_account(rng);
        let (mut bob, bob_json) = new_account(rng);
        let otks = one_time_prekeys(&mut bob, 1, rng);
        let bundle_bytes = bob.prekey_bundle(Some(1)).expect("held").to_bytes();
        let bundle = PreKeyBundle::from_bytes(&bundle_bytes)
            .expect("decodes")
            .verify(None)
            .expect("verifies");
        let alice_session = alice
            .create_outbound_session(ALICE_ADDRESS, BOB_ADDRESS, &bundle, NOW, rng)
            .expect("session");
        let random = rng.take_hex();
        let setup = json!({
            "now": NOW,
            "alice_address": hex(ALICE_ADDRESS),
            "bob_address": hex(BOB_ADDRESS),
            "alice": alice_json,
            "bob": bob_json,
            "bob_one_time_prekeys": otks,
            "bundle_one_time_prekey_id": 1,
            "bundle": hex(&bundle_bytes),
            "create_outbound_session": {
                "random": random,
                "associated_data": hex(alice_session.hazmat_associated_data()),
                "state": session_state(&alice_session),
            },
        });
        let conversation = Self {
            bob,
            alice_session,
            bob_session: None,
            messages: Vec::new(),
            message_json: Vec::new(),
            events: Vec::new(),
        };
        (conversation, setup)
    }

    fn session(&mut self, party: Party) -> &mut Session {
        match party {
            Party::Alice => &mut self.alice_session,
            Party::Bob => self
                .bob_session
                .as_mut()
                .expect("bob answers only after receiving"),
        }
    }

    /// Encrypts and records; returns the message index.
    pub fn send(&mut self, rng: &mut Recorder, sender: Party, plaintext: &[u8]) -> usize {
        let session = self.session(sender);
        let message = session.encrypt(NOW, plaintext, rng).expect("encrypt");
        let random = rng.take_hex();
        let state = session_state(session);
        let index = self.messages.len();
        let inner = message.message();
        let bytes = message.to_bytes();
        self.message_json.push(json!({
            "index": index,
            "sender": sender.name(),
            "plaintext": hex(plaintext),
            "salt": hex(&inner.hazmat_salt()),
            "type": match message { SessionMessage::PreKey(_) => "prekey", SessionMessage::Normal(_) => "normal" },
            "ratchet_key": hex(inner.ratchet_key().as_bytes()),
            "previous_counter": inner.previous_counter(),
            "counter": inner.counter(),
            "bytes": hex(&bytes),
        }));
        self.events.push(json!({
            "op": "encrypt",
            "party": sender.name(),
            "message": index,
            "random": random,
            "state_after": state,
        }));
        self.messages.push(Sent { sender, bytes });
        index
    }

    /// Delivers message `index` to the other party and records the outcome.
    pub fn deliver(&mut self, rng: &mut Recorder, index: usize) -> Result<Vec<u8>, String> {
        let receiver = match self.messages[index].sender {
            Party::Alice => Party::Bob,
            Party::Bob => Party::Alice,
        };
        let bytes = self.messages[index].bytes.clone();
        let result = self.receive(rng, receiver, &bytes);
        let random = rng.take_hex();
        let mut event = json!({
            "op": "decrypt",
            "party": receiver.name(),
            "message": index,
            "random": random,
            "result": outcome(&result),
            "state_after": session_state(self.session(receiver)),
        });
        if let Ok(plaintext) = &result {
            event["plaintext"] = json!(hex(plaintext));
        }
        self.events.push(event);
        result
    }

    /// Decrypts `bytes` as `receiver` (Bob's first message starts his inbound session).
    pub fn receive(&mut self, rng: &mut Recorder, receiver: Party, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let message = SessionMessage::from_bytes(bytes).map_err(|e| variant(&e))?;
        if receiver == Party::Bob && self.bob_session.is_none() {
            let SessionMessage::PreKey(first) = &message else {
                return Err("NoSession".into());
            };
            let inbound = self
                .bob
                .create_inbound_session(BOB_ADDRESS, first, NOW, rng)
                .map_err(|e| variant(&e))?;
            self.bob_session = Some(inbound.session);
            return Ok(inbound.plaintext);
        }
        self.session(receiver)
            .decrypt(&message, rng)
            .map_err(|e| variant(&e))
    }
}

pub fn outcome(result: &Result<Vec<u8>, String>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(name) => name.clone(),
    }
}
