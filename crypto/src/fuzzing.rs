//! Entry points of the cargo-fuzz targets in `fuzz/`, shared with the corpus replay test
//! (`tests/fuzz_corpus.rs`), and the seed corpus they start from.
//!
//! Every entry function takes arbitrary bytes and returns normally for every input; it panics
//! only through an `assert!` on a library invariant, which is the bug the fuzzer reports:
//!
//! - decoders: whatever decodes re-encodes to exactly the input (one encoding per value);
//! - decryption: an error leaves the session, group receiver or account byte-identical (compared
//!   through the plaintext pickle), anything that decrypts is a message the honest peer sent, and
//!   afterwards the genuine messages still decrypt;
//! - pickles: arbitrary (encrypted or plaintext) pickle bytes are refused or restore a state that
//!   pickles stably and behaves (no panic, unchanged on error) under encrypt and decrypt;
//! - sealed sender: only the exact bytes of a genuine envelope open, and they name the sender and
//!   inner message that were sealed.
//!
//! The live states the decryption targets attack are built once per process, deterministically
//! (seeded RNG, fixed clock), so the checked-in corpus keeps matching them.

use std::sync::OnceLock;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::group::{
    GroupReceiver, GroupReceiverPickle, GroupSender, GroupSenderPickle, SenderKeyDistribution,
    SenderKeyMessage,
};
use crate::pickle::{PickleKey, decode_plaintext};
use crate::sealed::seal;
use crate::{
    Account, AccountPickle, IdentityKey, Message, PreKeyBundle, PreKeyMessage, Session, SessionMessage,
    SessionPickle,
};

/// The fixed clock of every fixture (Unix seconds).
pub const NOW: u64 = 1_700_000_000;

/// The key the encrypted pickles of the `unpickle` seed corpus are sealed under.
pub const PICKLE_KEY: [u8; 32] = [0x42; 32];

/// Inputs at most this long are not decoded as they are but taken as a mutation of a genuine
/// message: `[position, xor mask, which message]` (mask and message optional), so the fuzzer
/// reaches the AEAD and signature checks behind the decoders from the first run.
pub const MUTATION_MAX_LEN: usize = 3;

const DAY: u64 = 24 * 60 * 60;

/// An entry function: runs one input through one fuzz target.
pub type Target = fn(&[u8]);

/// Every fuzz target by name (the name of its `fuzz/fuzz_targets/<name>.rs` and of its
/// `fuzz/corpus/<name>/` seed directory).
pub const TARGETS: &[(&str, Target)] = &[
    ("decode_message", decode_message),
    ("decode_prekey_message", decode_prekey_message),
    ("decode_session_message", decode_session_message),
    ("decode_prekey_bundle", decode_prekey_bundle),
    ("decode_sender_key_message", decode_sender_key_message),
    ("decode_sender_key_distribution", decode_sender_key_distribution),
    ("session_decrypt", session_decrypt),
    ("group_decrypt", group_decrypt),
    ("inbound_session", inbound_session),
    ("unpickle", unpickle),
    ("open_sealed", open_sealed),
];

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

// ---------------------------------------------------------------------------------------------
// Decoders: canonical encoding round trips.

/// Decodes a ratchet [`Message`]; if it decodes, it must re-encode to the input.
pub fn decode_message(data: &[u8]) {
    if let Ok(message) = Message::from_bytes(data) {
        assert_eq!(message.to_bytes(), data, "Message encoding is not canonical");
    }
}

/// Decodes a [`PreKeyMessage`]; if it decodes, it must re-encode to the input.
pub fn decode_prekey_message(data: &[u8]) {
    if let Ok(message) = PreKeyMessage::from_bytes(data) {
        assert_eq!(
            message.to_bytes(),
            data,
            "PreKeyMessage encoding is not canonical"
        );
    }
}

/// Decodes a [`SessionMessage`] (either kind); if it decodes, it must re-encode to the input.
pub fn decode_session_message(data: &[u8]) {
    if let Ok(message) = SessionMessage::from_bytes(data) {
        assert_eq!(
            message.to_bytes(),
            data,
            "SessionMessage encoding is not canonical"
        );
    }
}

/// Decodes a [`PreKeyBundle`]; if it decodes, it must re-encode to the input, and verifying its
/// signature must not panic.
pub fn decode_prekey_bundle(data: &[u8]) {
    if let Ok(bundle) = PreKeyBundle::from_bytes(data) {
        assert_eq!(bundle.to_bytes(), data, "PreKeyBundle encoding is not canonical");
        if let Ok(verified) = bundle.verify(Some(&bundle.identity_key)) {
            assert_eq!(verified.bundle(), &bundle);
        }
    }
}

/// Decodes a [`SenderKeyMessage`]; if it decodes, it must re-encode to the input.
pub fn decode_sender_key_message(data: &[u8]) {
    if let Ok(message) = SenderKeyMessage::from_bytes(data) {
        assert_eq!(
            message.to_bytes(),
            data,
            "SenderKeyMessage encoding is not canonical"
        );
    }
}

/// Decodes a [`SenderKeyDistribution`]; if it decodes, it must re-encode to the input, and a
/// receiver made from it must survive a pickle round trip.
pub fn decode_sender_key_distribution(data: &[u8]) {
    if let Ok(distribution) = SenderKeyDistribution::from_bytes(data) {
        assert_eq!(
            distribution.to_bytes(),
            data,
            "SenderKeyDistribution encoding is not canonical"
        );
        let receiver = GroupReceiver::from_distribution(&distribution);
        let pickle = receiver.pickle();
        let restored = GroupReceiver::from_pickle(&pickle);
        assert!(restored.is_ok(), "a fresh receiver's pickle does not restore");
        if let Ok(restored) = restored {
            assert_eq!(
                restored.pickle().to_plaintext_bytes(),
                pickle.to_plaintext_bytes()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations of genuine messages.

/// The bytes to decode: the input itself, or for a short input a genuine message with one byte
/// flipped (`[position, mask = 0x01, which = 0]`).
fn input_or_mutation(data: &[u8], genuine: &[Vec<u8>]) -> Vec<u8> {
    let [position, rest @ ..] = data else {
        return data.to_vec();
    };
    if data.len() > MUTATION_MAX_LEN || genuine.is_empty() {
        return data.to_vec();
    }
    let mask = rest.first().copied().unwrap_or(0x01);
    let which = usize::from(rest.get(1).copied().unwrap_or(0)) % genuine.len();
    let mut bytes = genuine.get(which).cloned().unwrap_or_default();
    if !bytes.is_empty() {
        let position = usize::from(*position) % bytes.len();
        if let Some(byte) = bytes.get_mut(position) {
            *byte ^= mask;
        }
    }
    bytes
}

/// A genuine message the attacked state has not decrypted yet, with its plaintext.
struct Pending<M> {
    bytes: Vec<u8>,
    message: M,
    plaintext: Vec<u8>,
}

/// Checks the outcome of decrypting attacker bytes: an error must leave the state as it was
/// (`before` vs `after`, plaintext pickles), a success must be one of the genuine plaintexts.
/// Returns the plaintext consumed, if any.
fn check_outcome<E>(
    what: &str,
    result: Result<Vec<u8>, E>,
    genuine: impl IntoIterator<Item = Vec<u8>>,
    before: &[u8],
    after: &[u8],
) -> Option<Vec<u8>> {
    match result {
        Ok(plaintext) => {
            assert!(
                genuine.into_iter().any(|p| p == plaintext),
                "{what}: decrypted something the honest sender never sent"
            );
            Some(plaintext)
        }
        Err(_) => {
            assert!(before == after, "{what}: a failed decrypt changed the state");
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pairwise session.

/// Bob's side of a live Alice/Bob session and Alice's messages for him.
struct SessionFixture {
    /// Bob's session (responder), after a few exchanges.
    bob: SessionPickle,
    /// `bob.to_plaintext_bytes()`.
    bob_bytes: Vec<u8>,
    /// Alice's messages Bob has not read: a skipped one, the next in the current chain, and one
    /// after a new DH ratchet step (all of them decrypt, in any order).
    pending: Vec<Pending<SessionMessage>>,
    /// Alice's messages Bob already read (replays).
    delivered: Vec<Vec<u8>>,
    /// Every genuine message, pending and delivered (the mutation sources).
    all: Vec<Vec<u8>>,
    /// Bob's bundle, with and without a one-time prekey (seeds).
    bundles: Vec<Vec<u8>>,
    /// Alice's session, answered and (before Bob's reply) unanswered: pickle seeds.
    alice: SessionPickle,
    alice_unanswered: SessionPickle,
}

// The fixture runs the honest protocol on fixed, valid inputs with a seeded RNG: every step
// succeeds, so each `expect` states a fact about the library, not about the fuzz input.
#[allow(clippy::expect_used)]
fn session_fixture() -> &'static SessionFixture {
    static FIXTURE: OnceLock<SessionFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rng(1);
        let alice_account = Account::new(NOW, &mut rng);
        let mut bob_account = Account::new(NOW, &mut rng);
        let otk = bob_account
            .generate_one_time_prekeys(1, &mut rng)
            .into_iter()
            .next()
            .expect("a new account has room for one-time prekeys");
        let bundle = bob_account
            .prekey_bundle(Some(otk.id))
            .expect("the one-time prekey was just made");
        let bundles = vec![
            bundle.to_bytes(),
            bob_account
                .prekey_bundle(None)
                .expect("a new account has a signed prekey")
                .to_bytes(),
        ];
        let bundle = bundle.verify(None).expect("an honest bundle verifies");
        let mut alice = alice_account
            .create_outbound_session(b"alice", b"bob", &bundle, NOW, &mut rng)
            .expect("an honest bundle starts a session");
        let send = |session: &mut Session, text: &[u8], rng: &mut StdRng| {
            session.encrypt(NOW, text, rng).expect("short plaintexts encrypt")
        };

        // a0 (pre-key) starts Bob's session; his reply b0 makes Alice step.
        let a0 = send(&mut alice, b"a0", &mut rng);
        let alice_unanswered = alice.pickle();
        let SessionMessage::PreKey(first) = &a0 else {
            unreachable!("an unanswered session sends pre-key messages");
        };
        let mut bob = bob_account
            .create_inbound_session(b"bob", first, NOW, &mut rng)
            .expect("Alice's first message starts Bob's session")
            .session;
        let b0 = send(&mut bob, b"b0", &mut rng);
        alice.decrypt(&b0, &mut rng).expect("Bob's reply decrypts");

        // a1, a2, a3 on Alice's new chain; Bob reads a1 and a3 (a2 is skipped).
        let a1 = send(&mut alice, b"a1", &mut rng);
        let a2 = send(&mut alice, b"a2", &mut rng);
        let a3 = send(&mut alice, b"a3", &mut rng);
        for message in [&a1, &a3] {
            bob.decrypt(message, &mut rng).expect("Alice's messages decrypt");
        }
        let b1 = send(&mut bob, b"b1", &mut rng);
        let bob_pickle = bob.pickle();

        // a4 continues the chain; a5 comes after Alice's step on b1.
        let a4 = send(&mut alice, b"a4", &mut rng);
        alice.decrypt(&b1, &mut rng).expect("Bob's second reply decrypts");
        let a5 = send(&mut alice, b"a5", &mut rng);

        let pending: Vec<Pending<SessionMessage>> = [(a2, b"a2"), (a4, b"a4"), (a5, b"a5")]
            .into_iter()
            .map(|(message, text)| Pending {
                bytes: message.to_bytes(),
                message,
                plaintext: text.to_vec(),
            })
            .collect();
        let delivered: Vec<Vec<u8>> = [&a0, &a1, &a3].iter().map(|m| m.to_bytes()).collect();
        let all = pending
            .iter()
            .map(|p| p.bytes.clone())
            .chain(delivered.iter().cloned())
            .collect();
        SessionFixture {
            bob_bytes: bob_pickle.to_plaintext_bytes(),
            bob: bob_pickle,
            pending,
            delivered,
            all,
            bundles,
            alice: alice.pickle(),
            alice_unanswered,
        }
    })
}

// The fixture's pickle bytes are a genuine session's: they decode and restore.
#[allow(clippy::expect_used)]
fn restore_session(bytes: &[u8]) -> Session {
    let pickle = decode_plaintext::<SessionPickle>(bytes).expect("a genuine session pickle decodes");
    Session::from_pickle(&pickle).expect("a genuine session pickle restores")
}

/// Feeds the input (or a mutation of a genuine message) to Bob's live session: an error leaves
/// it byte-identical, a success is one of Alice's messages (whose replay is then refused), and
/// afterwards every genuine message of Alice's not consumed still decrypts.
pub fn session_decrypt(data: &[u8]) {
    let fixture = session_fixture();
    let input = input_or_mutation(data, &fixture.all);
    let mut session = restore_session(&fixture.bob_bytes);
    let mut rng = rng(2);
    let consumed = match SessionMessage::from_bytes(&input) {
        Ok(message) => {
            let result = session.decrypt(&message, &mut rng);
            let after = session.pickle().to_plaintext_bytes();
            let consumed = check_outcome(
                "session",
                result,
                fixture.pending.iter().map(|p| p.plaintext.clone()),
                &fixture.bob_bytes,
                &after,
            );
            if consumed.is_some() {
                let replay = session.decrypt(&message, &mut rng);
                assert!(replay.is_err(), "a replayed message decrypted twice");
                assert!(
                    session.pickle().to_plaintext_bytes() == after,
                    "a refused replay changed the session"
                );
            }
            consumed
        }
        Err(_) => None,
    };
    for pending in &fixture.pending {
        if consumed.as_ref() == Some(&pending.plaintext) {
            continue;
        }
        let result = session.decrypt(&pending.message, &mut rng);
        assert!(
            result.as_ref().is_ok_and(|p| *p == pending.plaintext),
            "the session no longer decrypts a genuine message: {result:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Group (sender keys).

/// A group receiver following a live sender, and the sender's messages.
struct GroupFixture {
    receiver: GroupReceiverPickle,
    receiver_bytes: Vec<u8>,
    /// Messages not read yet: a skipped one, the next one, and one further ahead.
    pending: Vec<Pending<SenderKeyMessage>>,
    /// Messages already read, and one of another chain of the same group.
    delivered: Vec<Vec<u8>>,
    all: Vec<Vec<u8>>,
    distribution: Vec<u8>,
    sender: GroupSenderPickle,
}

// As for the session fixture: honest protocol steps on valid inputs.
#[allow(clippy::expect_used)]
fn group_fixture() -> &'static GroupFixture {
    static FIXTURE: OnceLock<GroupFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rng(3);
        let distribution_id = [7u8; 16];
        let mut sender = GroupSender::new(distribution_id, &mut rng);
        let distribution = sender.distribution();
        let mut receiver = GroupReceiver::from_distribution(&distribution);
        let mut messages: Vec<(SenderKeyMessage, Vec<u8>)> = (0..5u8)
            .map(|n| {
                let text = vec![b'g', b'0' + n];
                let message = sender.encrypt(&text, &mut rng).expect("short plaintexts encrypt");
                (message, text)
            })
            .collect();
        // Read g0 and g2; g1 stays skipped, g3 and g4 unread.
        for index in [0, 2] {
            let (message, text) = messages.get(index).expect("five messages were made");
            let plaintext = receiver.decrypt(message).expect("the sender's messages decrypt");
            assert_eq!(&plaintext, text);
        }
        let receiver_pickle = receiver.pickle();
        let mut other_sender = GroupSender::new(distribution_id, &mut rng);
        let other = other_sender
            .encrypt(b"other chain", &mut rng)
            .expect("short plaintexts encrypt");

        let mut delivered = Vec::new();
        let mut pending = Vec::new();
        for (index, (message, plaintext)) in messages.drain(..).enumerate() {
            if index == 0 || index == 2 {
                delivered.push(message.to_bytes());
            } else {
                pending.push(Pending {
                    bytes: message.to_bytes(),
                    message,
                    plaintext,
                });
            }
        }
        delivered.push(other.to_bytes());
        let all = pending
            .iter()
            .map(|p| p.bytes.clone())
            .chain(delivered.iter().cloned())
            .collect();
        GroupFixture {
            receiver_bytes: receiver_pickle.to_plaintext_bytes(),
            receiver: receiver_pickle,
            pending,
            delivered,
            all,
            distribution: distribution.to_bytes(),
            sender: sender.pickle(),
        }
    })
}

// The fixture's pickle bytes are a genuine receiver's: they decode and restore.
#[allow(clippy::expect_used)]
fn restore_receiver(bytes: &[u8]) -> GroupReceiver {
    let pickle = decode_plaintext::<GroupReceiverPickle>(bytes).expect("a genuine receiver pickle decodes");
    GroupReceiver::from_pickle(&pickle).expect("a genuine receiver pickle restores")
}

/// Feeds the input (or a mutation of a genuine message) to a live group receiver: an error leaves
/// it byte-identical, a success is one of the sender's messages (whose replay is then refused),
/// and afterwards every genuine message not consumed still decrypts.
pub fn group_decrypt(data: &[u8]) {
    let fixture = group_fixture();
    let input = input_or_mutation(data, &fixture.all);
    let mut receiver = restore_receiver(&fixture.receiver_bytes);
    let consumed = match SenderKeyMessage::from_bytes(&input) {
        Ok(message) => {
            let result = receiver.decrypt(&message);
            let after = receiver.pickle().to_plaintext_bytes();
            let consumed = check_outcome(
                "group",
                result,
                fixture.pending.iter().map(|p| p.plaintext.clone()),
                &fixture.receiver_bytes,
                &after,
            );
            if consumed.is_some() {
                assert!(
                    receiver.decrypt(&message).is_err(),
                    "a replayed group message decrypted twice"
                );
                assert!(
                    receiver.pickle().to_plaintext_bytes() == after,
                    "a refused replay changed the receiver"
                );
            }
            consumed
        }
        Err(_) => None,
    };
    for pending in &fixture.pending {
        if consumed.as_ref() == Some(&pending.plaintext) {
            continue;
        }
        let result = receiver.decrypt(&pending.message);
        assert!(
            result.as_ref().is_ok_and(|p| *p == pending.plaintext),
            "the receiver no longer decrypts a genuine message: {result:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Inbound sessions (X3DH responder).

/// Bob's account and pre-key messages from Alice to it.
struct InboundFixture {
    account: AccountPickle,
    account_bytes: Vec<u8>,
    /// The clock the messages arrive at (after a signed-prekey rotation, within the grace).
    now: u64,
    /// Messages that start a session: to the old signed prekey with a one-time prekey, to the
    /// new one with a one-time prekey, to the new one without.
    pending: Vec<Pending<PreKeyMessage>>,
    /// A message whose session was already started (its replay is refused).
    delivered: Vec<Vec<u8>>,
    all: Vec<Vec<u8>>,
}

// As for the session fixture: honest protocol steps on valid inputs.
#[allow(clippy::expect_used)]
fn inbound_fixture() -> &'static InboundFixture {
    static FIXTURE: OnceLock<InboundFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rng(4);
        let alice = Account::new(NOW, &mut rng);
        let mut bob = Account::new(NOW, &mut rng);
        let otks = bob.generate_one_time_prekeys(3, &mut rng);
        let otk = |index: usize| otks.get(index).map(|otk| otk.id).expect("three were made");
        let first_message = |bundle: PreKeyBundle, text: &[u8], now: u64, rng: &mut StdRng| {
            let bundle = bundle.verify(None).expect("an honest bundle verifies");
            let mut session = alice
                .create_outbound_session(b"alice", b"bob", &bundle, now, rng)
                .expect("an honest bundle starts a session");
            match session.encrypt(now, text, rng).expect("short plaintexts encrypt") {
                SessionMessage::PreKey(message) => message,
                SessionMessage::Normal(_) => unreachable!("an unanswered session sends pre-key messages"),
            }
        };
        let old = first_message(
            bob.prekey_bundle(Some(otk(0))).expect("held"),
            b"old spk",
            NOW,
            &mut rng,
        );
        let now = NOW + 8 * DAY;
        bob.rotate_signed_prekey(now, &mut rng);
        let with_otk = first_message(
            bob.prekey_bundle(Some(otk(1))).expect("held"),
            b"otk",
            now,
            &mut rng,
        );
        let without = first_message(bob.prekey_bundle(None).expect("held"), b"no otk", now, &mut rng);
        let used = first_message(bob.prekey_bundle(None).expect("held"), b"used", now, &mut rng);
        bob.create_inbound_session(b"bob", &used, now, &mut rng)
            .expect("Alice's message starts a session");
        let account = bob.pickle();

        let pending: Vec<Pending<PreKeyMessage>> = [
            (old, b"old spk".as_slice()),
            (with_otk, b"otk".as_slice()),
            (without, b"no otk".as_slice()),
        ]
        .into_iter()
        .map(|(message, text)| Pending {
            bytes: message.to_bytes(),
            message,
            plaintext: text.to_vec(),
        })
        .collect();
        let delivered = vec![used.to_bytes()];
        let all = pending
            .iter()
            .map(|p| p.bytes.clone())
            .chain(delivered.iter().cloned())
            .collect();
        InboundFixture {
            account_bytes: account.to_plaintext_bytes(),
            account,
            now,
            pending,
            delivered,
            all,
        }
    })
}

// The fixture's pickle bytes are a genuine account's: they decode and restore.
#[allow(clippy::expect_used)]
fn restore_account(bytes: &[u8]) -> Account {
    let pickle = decode_plaintext::<AccountPickle>(bytes).expect("a genuine account pickle decodes");
    Account::from_pickle(&pickle).expect("a genuine account pickle restores")
}

/// Feeds the input (or a mutation of a genuine message) as a pre-key message to Bob's account:
/// an error leaves the account byte-identical; a success is one of Alice's messages, and its
/// replay is then refused without changing the account.
pub fn inbound_session(data: &[u8]) {
    let fixture = inbound_fixture();
    let input = input_or_mutation(data, &fixture.all);
    let Ok(message) = PreKeyMessage::from_bytes(&input) else {
        return;
    };
    let mut account = restore_account(&fixture.account_bytes);
    let mut rng = rng(5);
    let result = account
        .create_inbound_session(b"bob", &message, fixture.now, &mut rng)
        .map(|inbound| inbound.plaintext);
    let after = account.pickle().to_plaintext_bytes();
    let consumed = check_outcome(
        "inbound",
        result,
        fixture.pending.iter().map(|p| p.plaintext.clone()),
        &fixture.account_bytes,
        &after,
    );
    if consumed.is_some() {
        let replay = account.create_inbound_session(b"bob", &message, fixture.now, &mut rng);
        assert!(
            replay.is_err(),
            "a replayed pre-key message started a second session"
        );
        assert!(
            account.pickle().to_plaintext_bytes() == after,
            "a refused replay changed the account"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Sealed sender.

/// Bob's account and envelopes sealed for it.
struct SealedFixture {
    /// The recipient (opening takes `&self`: nothing to restore per input).
    bob: Account,
    /// Genuine envelopes for Bob, each with the sender and inner message sealed in it.
    genuine: Vec<(Vec<u8>, IdentityKey, Vec<u8>)>,
    /// Every envelope: the genuine ones and one sealed for someone else (mutation sources).
    all: Vec<Vec<u8>>,
}

// Honest sealing of short inner messages to a valid identity: every step succeeds.
#[allow(clippy::expect_used)]
fn sealed_fixture() -> &'static SealedFixture {
    static FIXTURE: OnceLock<SealedFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rng(6);
        let alice = Account::new(NOW, &mut rng);
        let bob = Account::new(NOW, &mut rng);
        let eve = Account::new(NOW, &mut rng).identity_key();
        // Empty, short and a real session message (the inner layer a client seals).
        let session_message = session_fixture().all.first().cloned().unwrap_or_default();
        let inners: [Vec<u8>; 3] = [Vec::new(), b"inner".to_vec(), session_message];
        let genuine: Vec<(Vec<u8>, IdentityKey, Vec<u8>)> = inners
            .into_iter()
            .map(|inner| {
                let sealed = seal(&alice, &bob.identity_key(), &inner, &mut rng).expect("valid keys seal");
                (sealed, alice.identity_key(), inner)
            })
            .collect();
        let for_eve = seal(&alice, &eve, b"for eve", &mut rng).expect("valid keys seal");
        let all = genuine
            .iter()
            .map(|(sealed, _, _)| sealed.clone())
            .chain([for_eve])
            .collect();
        SealedFixture { bob, genuine, all }
    })
}

/// Opens the input (or a mutation of a genuine envelope) as Bob: nobody but the sealer can make
/// an envelope open, so a success must be a genuine envelope, byte for byte, naming the sender
/// and inner message sealed in it; and every genuine envelope opens.
pub fn open_sealed(data: &[u8]) {
    let fixture = sealed_fixture();
    let input = input_or_mutation(data, &fixture.all);
    if let Ok(unsealed) = fixture.bob.open_sealed(&input) {
        let genuine = fixture.genuine.iter().find(|(sealed, _, _)| *sealed == input);
        assert!(
            genuine.is_some(),
            "an envelope nobody sealed for Bob opened: {unsealed:?}"
        );
        if let Some((_, sender, inner)) = genuine {
            assert!(
                unsealed.sender == *sender && unsealed.inner == *inner,
                "a genuine envelope opened to something else"
            );
        }
    } else {
        assert!(
            fixture.genuine.iter().all(|(sealed, _, _)| *sealed != input),
            "a genuine envelope does not open"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Pickles.

/// Tries the input as every kind of pickle, encrypted under [`PICKLE_KEY`] and in plaintext.
/// Whatever decodes and restores must pickle stably, and the restored state must survive use:
/// encrypting, and decrypting the genuine messages of the fixtures (unchanged on error).
pub fn unpickle(data: &[u8]) {
    let key = PickleKey::new(PICKLE_KEY);
    if let Ok(pickle) = SessionPickle::from_encrypted(&key, data) {
        exercise_session(&pickle);
    }
    if let Ok(pickle) = decode_plaintext::<SessionPickle>(data) {
        exercise_session(&pickle);
    }
    if let Ok(pickle) = AccountPickle::from_encrypted(&key, data) {
        exercise_account(&pickle);
    }
    if let Ok(pickle) = decode_plaintext::<AccountPickle>(data) {
        exercise_account(&pickle);
    }
    if let Ok(pickle) = GroupSenderPickle::from_encrypted(&key, data) {
        exercise_group_sender(&pickle);
    }
    if let Ok(pickle) = decode_plaintext::<GroupSenderPickle>(data) {
        exercise_group_sender(&pickle);
    }
    if let Ok(pickle) = GroupReceiverPickle::from_encrypted(&key, data) {
        exercise_group_receiver(&pickle);
    }
    if let Ok(pickle) = decode_plaintext::<GroupReceiverPickle>(data) {
        exercise_group_receiver(&pickle);
    }
}

fn exercise_session(pickle: &SessionPickle) {
    let Ok(mut session) = Session::from_pickle(pickle) else {
        return;
    };
    let bytes = session.pickle().to_plaintext_bytes();
    let again = Session::from_pickle(&session.pickle()).map(|s| s.pickle().to_plaintext_bytes());
    assert!(
        again.is_ok_and(|again| again == bytes),
        "a restored session does not pickle stably"
    );
    let mut rng = rng(6);
    for pending in &session_fixture().pending {
        let before = session.pickle().to_plaintext_bytes();
        if session.decrypt(&pending.message, &mut rng).is_err() {
            assert!(
                session.pickle().to_plaintext_bytes() == before,
                "a failed decrypt changed a restored session"
            );
        }
    }
    let before = session.pickle().to_plaintext_bytes();
    match session.encrypt(NOW, b"x", &mut rng) {
        Ok(message) => assert!(
            SessionMessage::from_bytes(&message.to_bytes()).is_ok_and(|decoded| decoded == message),
            "a restored session sent a message that does not decode"
        ),
        Err(_) => assert!(
            session.pickle().to_plaintext_bytes() == before,
            "a failed encrypt changed a restored session"
        ),
    }
}

fn exercise_account(pickle: &AccountPickle) {
    let Ok(mut account) = Account::from_pickle(pickle) else {
        return;
    };
    let bytes = account.pickle().to_plaintext_bytes();
    let again = Account::from_pickle(&account.pickle()).map(|a| a.pickle().to_plaintext_bytes());
    assert!(
        again.is_ok_and(|again| again == bytes),
        "a restored account does not pickle stably"
    );
    let fixture = inbound_fixture();
    let mut rng = rng(7);
    for pending in &fixture.pending {
        let before = account.pickle().to_plaintext_bytes();
        if account
            .create_inbound_session(b"bob", &pending.message, fixture.now, &mut rng)
            .is_err()
        {
            assert!(
                account.pickle().to_plaintext_bytes() == before,
                "a failed inbound session changed a restored account"
            );
        }
    }
    if let Some(bundle) = account.prekey_bundle(None) {
        let bytes = bundle.to_bytes();
        assert!(
            PreKeyBundle::from_bytes(&bytes).is_ok_and(|decoded| decoded == bundle),
            "a restored account published a bundle that does not decode"
        );
    }
    let _ = account.needs_signed_prekey_rotation(fixture.now);
}

fn exercise_group_sender(pickle: &GroupSenderPickle) {
    let mut sender = GroupSender::from_pickle(pickle);
    let bytes = sender.pickle().to_plaintext_bytes();
    assert!(
        GroupSender::from_pickle(&sender.pickle())
            .pickle()
            .to_plaintext_bytes()
            == bytes,
        "a restored group sender does not pickle stably"
    );
    let mut rng = rng(8);
    let distribution = sender.distribution();
    if let Ok(message) = sender.encrypt(b"x", &mut rng) {
        assert!(
            SenderKeyMessage::from_bytes(&message.to_bytes()).is_ok_and(|decoded| decoded == message),
            "a restored sender sent a message that does not decode"
        );
        let mut receiver = GroupReceiver::from_distribution(&distribution);
        let plaintext = receiver.decrypt(&message);
        assert!(
            plaintext.is_ok_and(|p| p == b"x"),
            "a restored sender's message does not decrypt"
        );
    } else {
        assert!(
            sender.pickle().to_plaintext_bytes() == bytes,
            "a failed group encrypt changed the sender"
        );
    }
}

fn exercise_group_receiver(pickle: &GroupReceiverPickle) {
    let Ok(mut receiver) = GroupReceiver::from_pickle(pickle) else {
        return;
    };
    let bytes = receiver.pickle().to_plaintext_bytes();
    let again = GroupReceiver::from_pickle(&receiver.pickle()).map(|r| r.pickle().to_plaintext_bytes());
    assert!(
        again.is_ok_and(|again| again == bytes),
        "a restored receiver does not pickle stably"
    );
    for pending in &group_fixture().pending {
        let before = receiver.pickle().to_plaintext_bytes();
        if receiver.decrypt(&pending.message).is_err() {
            assert!(
                receiver.pickle().to_plaintext_bytes() == before,
                "a failed decrypt changed a restored receiver"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seed corpus.

#[path = "../../fuzz/seed.rs"]
mod seed;
pub use seed::Seed;

/// The seed corpus: genuine encodings of every message type, the messages of the live fixtures
/// (so they match what the targets attack), mutation seeds, and pickles. Deterministic.
pub fn seed_corpus() -> Vec<Seed> {
    let session = session_fixture();
    let group = group_fixture();
    let inbound = inbound_fixture();
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: String, bytes: Vec<u8>| {
        seeds.push(Seed { target, name, bytes });
    };

    let normal: Vec<&Vec<u8>> = session.all.iter().filter(|b| b.get(1) == Some(&0x01)).collect();
    let prekey: Vec<&Vec<u8>> = session
        .all
        .iter()
        .chain(inbound.all.iter())
        .filter(|b| b.get(1) == Some(&0x02))
        .collect();
    for (index, bytes) in normal.iter().enumerate() {
        add("decode_message", format!("message_{index}"), bytes.to_vec());
        add(
            "decode_session_message",
            format!("message_{index}"),
            bytes.to_vec(),
        );
    }
    for (index, bytes) in prekey.iter().enumerate() {
        add("decode_prekey_message", format!("prekey_{index}"), bytes.to_vec());
        add(
            "decode_session_message",
            format!("prekey_{index}"),
            bytes.to_vec(),
        );
    }
    for (index, bytes) in session.bundles.iter().enumerate() {
        add("decode_prekey_bundle", format!("bundle_{index}"), bytes.clone());
    }
    for (index, bytes) in group.all.iter().enumerate() {
        add(
            "decode_sender_key_message",
            format!("group_{index}"),
            bytes.clone(),
        );
    }
    add(
        "decode_sender_key_distribution",
        "distribution".into(),
        group.distribution.clone(),
    );

    // Decryption targets: pending, delivered, and byte-flip mutations of each genuine message
    // (header, middle and last byte of the tag or signature).
    let mutations = |all: &[Vec<u8>]| -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for (which, bytes) in all.iter().enumerate() {
            let which_byte = u8::try_from(which).unwrap_or(0);
            let len = u8::try_from(bytes.len().min(255)).unwrap_or(255);
            for position in [1u8, 10, len / 2, len.saturating_sub(1)] {
                out.push((
                    format!("flip_{which}_{position}"),
                    vec![position, 0x01, which_byte],
                ));
            }
        }
        out
    };
    for (index, pending) in session.pending.iter().enumerate() {
        add(
            "session_decrypt",
            format!("pending_{index}"),
            pending.bytes.clone(),
        );
    }
    for (index, bytes) in session.delivered.iter().enumerate() {
        add("session_decrypt", format!("delivered_{index}"), bytes.clone());
    }
    for (name, bytes) in mutations(&session.all) {
        add("session_decrypt", name, bytes);
    }
    for (index, pending) in group.pending.iter().enumerate() {
        add("group_decrypt", format!("pending_{index}"), pending.bytes.clone());
    }
    for (index, bytes) in group.delivered.iter().enumerate() {
        add("group_decrypt", format!("delivered_{index}"), bytes.clone());
    }
    for (name, bytes) in mutations(&group.all) {
        add("group_decrypt", name, bytes);
    }
    for (index, pending) in inbound.pending.iter().enumerate() {
        add(
            "inbound_session",
            format!("pending_{index}"),
            pending.bytes.clone(),
        );
    }
    for (index, bytes) in inbound.delivered.iter().enumerate() {
        add("inbound_session", format!("delivered_{index}"), bytes.clone());
    }
    for (name, bytes) in mutations(&inbound.all) {
        add("inbound_session", name, bytes);
    }

    // Pickles, encrypted (deterministic nonces from a seeded RNG) and in plaintext.
    let key = PickleKey::new(PICKLE_KEY);
    let mut rng = rng(9);
    let pickles: [(&str, Vec<u8>, Vec<u8>); 6] = [
        (
            "session_bob",
            session.bob.encrypt(&key, &mut rng),
            session.bob_bytes.clone(),
        ),
        (
            "session_alice",
            session.alice.encrypt(&key, &mut rng),
            session.alice.to_plaintext_bytes(),
        ),
        (
            "session_alice_unanswered",
            session.alice_unanswered.encrypt(&key, &mut rng),
            session.alice_unanswered.to_plaintext_bytes(),
        ),
        (
            "account",
            inbound.account.encrypt(&key, &mut rng),
            inbound.account_bytes.clone(),
        ),
        (
            "group_sender",
            group.sender.encrypt(&key, &mut rng),
            group.sender.to_plaintext_bytes(),
        ),
        (
            "group_receiver",
            group.receiver.encrypt(&key, &mut rng),
            group.receiver_bytes.clone(),
        ),
    ];
    for (name, encrypted, plain) in pickles {
        add("unpickle", name.to_string(), encrypted);
        add("unpickle", format!("{name}_plain"), plain);
    }

    // Sealed envelopes: the genuine ones, one for someone else, and flips of the version byte,
    // the ephemeral key, the sealed sender (layer 1), the inner box (layer 2) and the last tag.
    let sealed = sealed_fixture();
    for (index, bytes) in sealed.all.iter().enumerate() {
        add("open_sealed", format!("envelope_{index}"), bytes.clone());
    }
    for (which, bytes) in sealed.all.iter().enumerate() {
        let which_byte = u8::try_from(which).unwrap_or(0);
        let last = u8::try_from(bytes.len().min(256).saturating_sub(1)).unwrap_or(u8::MAX);
        for position in [0u8, 1, 40, 90, last] {
            add(
                "open_sealed",
                format!("flip_{which}_{position}"),
                vec![position, 0x01, which_byte],
            );
        }
    }
    seeds
}
