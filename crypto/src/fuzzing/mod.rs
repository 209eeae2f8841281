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
//!   inner message that were sealed; likewise for shared seals, a genuine part and body.
//!
//! The live states the decryption targets attack are built once per process, deterministically
//! (seeded RNG, fixed clock), so the checked-in corpus keeps matching them.

mod devices;
mod fixture;
mod pq;
mod seeds;
mod shared;

#[path = "../../../fuzz/seed.rs"]
mod seed;

pub use devices::{decode_device_list, decode_link_code, open_link_message};
pub use fixture::NOW;
pub use pq::{decode_kem_prekey, decode_pq_prekey_bundle, inbound_pq_session};
pub use seed::Seed;
pub use seeds::seed_corpus;
pub use shared::open_shared;

use self::fixture::{
    chains_state, group_fixture, inbound_fixture, restore_account, restore_chains, restore_session, rng,
    sealed_fixture, session_fixture,
};
use crate::group::{
    GroupChains, GroupReceiver, GroupReceiverPickle, GroupSender, GroupSenderPickle, SenderKeyDistribution,
    SenderKeyMessage,
};
use crate::pickle::{PickleKey, decode_plaintext};
use crate::{
    Account, AccountPickle, Message, PreKeyBundle, PreKeyMessage, Session, SessionMessage, SessionPickle,
};

/// The key the encrypted pickles of the `unpickle` seed corpus are sealed under.
pub const PICKLE_KEY: [u8; 32] = [0x42; 32];

/// Inputs at most this long are not decoded as they are but taken as a mutation of a genuine
/// message: `[position, xor mask, which message]` (mask and message optional), so the fuzzer
/// reaches the AEAD and signature checks behind the decoders from the first run.
pub const MUTATION_MAX_LEN: usize = 3;

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
    ("open_shared", open_shared),
    ("decode_device_list", decode_device_list),
    ("decode_link_code", decode_link_code),
    ("open_link_message", open_link_message),
    ("decode_kem_prekey", decode_kem_prekey),
    ("decode_pq_prekey_bundle", decode_pq_prekey_bundle),
    ("inbound_pq_session", inbound_pq_session),
];

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
        let sender = distribution.label().sender;
        let receiver = GroupReceiver::from_distribution(&distribution, &sender);
        assert!(
            receiver.is_ok(),
            "a distribution over its own sender's session was refused"
        );
        let Ok(receiver) = receiver else {
            return;
        };
        let mut chains = GroupChains::new(distribution.label().group_id);
        assert!(
            chains.add_distribution(&distribution, &sender).is_ok()
                && chains.add_distribution(&distribution, &sender).is_ok()
                && chains.chain_count() == 1,
            "a distribution is not taken once, then again as a re-delivery"
        );
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

/// Feeds the input (or a mutation of a genuine message) to a member's live chains of a group
/// (the live sender's and another member's that reused its distribution id): an error leaves them
/// byte-identical, a success is one of the live sender's messages attributed to it (whose replay
/// is then refused), and afterwards every genuine message not consumed still decrypts.
pub fn group_decrypt(data: &[u8]) {
    let fixture = group_fixture();
    let input = input_or_mutation(data, &fixture.all);
    let mut chains = restore_chains(fixture);
    let before = chains_state(&chains);
    let consumed = match SenderKeyMessage::from_bytes(&input) {
        Ok(message) => {
            let result = chains.decrypt(&message);
            if let Ok(opened) = &result {
                assert!(
                    opened.sender == fixture.sender_identity,
                    "a group message was attributed to another sender than its chain's"
                );
            }
            let after = chains_state(&chains);
            let consumed = check_outcome(
                "group",
                result.map(|opened| opened.plaintext),
                fixture.pending.iter().map(|p| p.plaintext.clone()),
                &before,
                &after,
            );
            if consumed.is_some() {
                assert!(
                    chains.decrypt(&message).is_err(),
                    "a replayed group message decrypted twice"
                );
                assert!(
                    chains_state(&chains) == after,
                    "a refused replay changed the chains"
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
        let result = chains.decrypt(&pending.message);
        assert!(
            result.as_ref().is_ok_and(|p| p.plaintext == pending.plaintext),
            "the chains no longer decrypt a genuine message: {result:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Inbound sessions (X3DH responder).

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
    if let Ok(pickle) = crate::devices::LinkRequestPickle::from_encrypted(&key, data) {
        exercise_link_request(&pickle);
    }
    if let Ok(pickle) = decode_plaintext::<crate::devices::LinkRequestPickle>(data) {
        exercise_link_request(&pickle);
    }
    for pickle in [
        crate::devices::AccountKeyPickle::from_encrypted(&key, data),
        decode_plaintext::<crate::devices::AccountKeyPickle>(data),
    ]
    .into_iter()
    .flatten()
    {
        let _ = crate::devices::AccountSigningKey::from_pickle(&pickle).public();
    }
}

/// A restored link request shows its code and refuses what cannot be a link message for it.
fn exercise_link_request(pickle: &crate::devices::LinkRequestPickle) {
    let Ok(mut request) = crate::devices::LinkRequest::from_pickle(pickle) else {
        return;
    };
    let code = request.code();
    assert_eq!(
        crate::devices::LinkCode::from_text(&code.to_text()).map(|parsed| parsed.to_bytes()),
        Ok(code.to_bytes()),
        "a restored request's code round-trips"
    );
    assert!(request.open(&[], code.created_at()).is_err());
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
    let identity = distribution.label().sender;
    if let Ok(message) = sender.encrypt(b"x", &mut rng) {
        assert!(
            SenderKeyMessage::from_bytes(&message.to_bytes()).is_ok_and(|decoded| decoded == message),
            "a restored sender sent a message that does not decode"
        );
        let plaintext = GroupReceiver::from_distribution(&distribution, &identity)
            .and_then(|mut receiver| receiver.decrypt(&message));
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
