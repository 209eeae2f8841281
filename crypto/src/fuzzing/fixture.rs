//! The live states the decryption targets attack, built once per process from the honest
//! protocol with a seeded RNG and the fixed clock, so the checked-in corpus keeps matching them:
//! each step runs on valid inputs and succeeds, so each `expect` states a fact about the library,
//! not about the fuzz input.

use std::sync::OnceLock;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::group::{
    GroupChains, GroupReceiver, GroupReceiverPickle, GroupSender, GroupSenderPickle, SenderKeyDistribution,
    SenderKeyMessage,
};
use crate::pickle::decode_plaintext;
use crate::sealed::seal;
use crate::{
    Account, AccountPickle, IdentityKey, PreKeyBundle, PreKeyMessage, Session, SessionMessage, SessionPickle,
};

/// The fixed clock of every fixture (Unix seconds).
pub const NOW: u64 = 1_700_000_000;

const DAY: u64 = 24 * 60 * 60;

/// The seeded RNG of the fixtures, the targets and the seed corpus.
pub(super) fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A genuine message the attacked state has not decrypted yet, with its plaintext.
pub(super) struct Pending<M> {
    pub(super) bytes: Vec<u8>,
    pub(super) message: M,
    pub(super) plaintext: Vec<u8>,
}

/// Every genuine message, pending then delivered: what short inputs mutate.
fn mutation_sources<M>(pending: &[Pending<M>], delivered: &[Vec<u8>]) -> Vec<Vec<u8>> {
    pending
        .iter()
        .map(|p| p.bytes.clone())
        .chain(delivered.iter().cloned())
        .collect()
}

/// Bob's side of a live Alice/Bob session and Alice's messages for him.
pub(super) struct SessionFixture {
    /// Bob's session (responder), after a few exchanges.
    pub(super) bob: SessionPickle,
    /// `bob.to_plaintext_bytes()`.
    pub(super) bob_bytes: Vec<u8>,
    /// Alice's messages Bob has not read: a skipped one, the next in the current chain, and one
    /// after a new DH ratchet step (all of them decrypt, in any order).
    pub(super) pending: Vec<Pending<SessionMessage>>,
    /// Alice's messages Bob already read (replays).
    pub(super) delivered: Vec<Vec<u8>>,
    /// Every genuine message, pending and delivered (the mutation sources).
    pub(super) all: Vec<Vec<u8>>,
    /// Bob's bundle, with and without a one-time prekey (seeds).
    pub(super) bundles: Vec<Vec<u8>>,
    /// Alice's session, answered and (before Bob's reply) unanswered: pickle seeds.
    pub(super) alice: SessionPickle,
    pub(super) alice_unanswered: SessionPickle,
}

// The fixture runs the honest protocol on fixed, valid inputs with a seeded RNG: every step
// succeeds, so each `expect` states a fact about the library, not about the fuzz input.
#[allow(clippy::expect_used)]
pub(super) fn session_fixture() -> &'static SessionFixture {
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
        let all = mutation_sources(&pending, &delivered);
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
pub(super) fn restore_session(bytes: &[u8]) -> Session {
    let pickle = decode_plaintext::<SessionPickle>(bytes).expect("a genuine session pickle decodes");
    Session::from_pickle(&pickle).expect("a genuine session pickle restores")
}

/// A group receiver following a live sender, and the sender's messages.
pub(super) struct GroupFixture {
    pub(super) receiver: GroupReceiverPickle,
    pub(super) receiver_bytes: Vec<u8>,
    /// The identity key of the live sender's device.
    pub(super) sender_identity: IdentityKey,
    /// The chains of the group held by the attacked member: the live sender's (as
    /// `receiver_bytes`) and another member's, whose distribution reused the live sender's
    /// distribution id. Receiver pickles in the chain set's order.
    pub(super) chains: Vec<Vec<u8>>,
    /// Messages not read yet: a skipped one, the next one, and one further ahead.
    pub(super) pending: Vec<Pending<SenderKeyMessage>>,
    /// Messages already read, one of another chain of the same sender, and one of the other
    /// member's.
    pub(super) delivered: Vec<Vec<u8>>,
    pub(super) all: Vec<Vec<u8>>,
    pub(super) distribution: Vec<u8>,
    pub(super) sender: GroupSenderPickle,
}

/// The group id of the group fixture.
pub(super) const GROUP_ID: [u8; 16] = [7; 16];

// As for the session fixture: honest protocol steps on valid inputs.
#[allow(clippy::expect_used)]
pub(super) fn group_fixture() -> &'static GroupFixture {
    static FIXTURE: OnceLock<GroupFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rng(3);
        let alice = Account::new(NOW, &mut rng).identity_key();
        let mallory = Account::new(NOW, &mut rng).identity_key();
        let mut sender = GroupSender::new(GROUP_ID, alice, 1, &mut rng);
        let distribution = sender.distribution();
        let mut receiver =
            GroupReceiver::from_distribution(&distribution, &alice).expect("it came from alice");
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
        let mut other_sender = GroupSender::new(GROUP_ID, alice, 1, &mut rng);
        let other = other_sender
            .encrypt(b"other chain", &mut rng)
            .expect("short plaintexts encrypt");
        // Mallory's chain under alice's distribution id: a distinct chain of the set.
        let mut mallory_sender = GroupSender::new(GROUP_ID, mallory, 1, &mut rng);
        let mut mallory_distribution = mallory_sender.distribution().to_bytes();
        let id_at = 2 + 16 + 32 + 8;
        mallory_distribution
            .get_mut(id_at..id_at + 16)
            .expect("a distribution holds a distribution id")
            .copy_from_slice(&distribution.label().distribution_id);
        let mallory_distribution =
            SenderKeyDistribution::from_bytes(&mallory_distribution).expect("still a distribution");
        let mut chains = GroupChains::new(GROUP_ID);
        chains.restore(receiver.clone()).expect("same group");
        chains
            .add_distribution(&mallory_distribution, &mallory)
            .expect("mallory's own distribution");
        let mallory_message = mallory_sender
            .encrypt(b"mallory", &mut rng)
            .expect("short plaintexts encrypt");
        let chains = chains
            .receivers()
            .map(|r| r.pickle().to_plaintext_bytes())
            .collect();

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
        delivered.push(mallory_message.to_bytes());
        let all = mutation_sources(&pending, &delivered);
        GroupFixture {
            receiver_bytes: receiver_pickle.to_plaintext_bytes(),
            sender_identity: alice,
            chains,
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
pub(super) fn restore_receiver(bytes: &[u8]) -> GroupReceiver {
    let pickle = decode_plaintext::<GroupReceiverPickle>(bytes).expect("a genuine receiver pickle decodes");
    GroupReceiver::from_pickle(&pickle).expect("a genuine receiver pickle restores")
}

// The fixture's chains are genuine receivers of its group.
#[allow(clippy::expect_used)]
pub(super) fn restore_chains(fixture: &GroupFixture) -> GroupChains {
    let mut chains = GroupChains::new(GROUP_ID);
    for bytes in &fixture.chains {
        chains
            .restore(restore_receiver(bytes))
            .expect("a chain of the fixture's group");
    }
    chains
}

/// The state of a chain set: its receivers' pickles, in order.
pub(super) fn chains_state(chains: &GroupChains) -> Vec<u8> {
    chains
        .receivers()
        .flat_map(|r| r.pickle().to_plaintext_bytes())
        .collect()
}

/// Bob's account and pre-key messages from Alice to it.
pub(super) struct InboundFixture {
    pub(super) account: AccountPickle,
    pub(super) account_bytes: Vec<u8>,
    /// The clock the messages arrive at (after a signed-prekey rotation, within the grace).
    pub(super) now: u64,
    /// Messages that start a session: to the old signed prekey with a one-time prekey, to the
    /// new one with a one-time prekey, to the new one without.
    pub(super) pending: Vec<Pending<PreKeyMessage>>,
    /// A message whose session was already started (its replay is refused).
    pub(super) delivered: Vec<Vec<u8>>,
    pub(super) all: Vec<Vec<u8>>,
}

// As for the session fixture: honest protocol steps on valid inputs.
#[allow(clippy::expect_used)]
pub(super) fn inbound_fixture() -> &'static InboundFixture {
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
        let all = mutation_sources(&pending, &delivered);
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
pub(super) fn restore_account(bytes: &[u8]) -> Account {
    let pickle = decode_plaintext::<AccountPickle>(bytes).expect("a genuine account pickle decodes");
    Account::from_pickle(&pickle).expect("a genuine account pickle restores")
}

/// Bob's account and envelopes sealed for it.
pub(super) struct SealedFixture {
    /// The recipient (opening takes `&self`: nothing to restore per input).
    pub(super) bob: Account,
    /// Genuine envelopes for Bob, each with the sender and inner message sealed in it.
    pub(super) genuine: Vec<(Vec<u8>, IdentityKey, Vec<u8>)>,
    /// Every envelope: the genuine ones and one sealed for someone else (mutation sources).
    pub(super) all: Vec<Vec<u8>>,
}

// Honest sealing of short inner messages to a valid identity: every step succeeds.
#[allow(clippy::expect_used)]
pub(super) fn sealed_fixture() -> &'static SealedFixture {
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
