//! Both sides start a session at once, with loss and reordering: they converge on one session,
//! through pickling, refusing other identities and keeping at most `MAX_PEER_SESSIONS`.

use hush_crypto::peer::{PeerDecryptError, PeerEncryptError, PeerSessions};
use hush_crypto::{Account, DecryptError, SessionMessage};
use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::common::{NOW, account_state, accounts, bundle, first_prekey_message, pair};
use crate::rng;

struct Party {
    account: Account,
    address: &'static [u8],
    peer: PeerSessions,
}

impl Party {
    fn send(&mut self, text: String, rng: &mut StdRng) -> (Vec<u8>, String) {
        let wire = self.peer.encrypt(NOW, text.as_bytes(), rng).unwrap().to_bytes();
        (wire, text)
    }

    fn receive(&mut self, (wire, text): &(Vec<u8>, String), rng: &mut StdRng) {
        let message = SessionMessage::from_bytes(wire).unwrap();
        let plaintext = self
            .peer
            .decrypt(&mut self.account, self.address, &message, NOW, rng)
            .unwrap_or_else(|error| panic!("{text:?} did not decrypt: {error:?}"));
        assert_eq!(plaintext, text.as_bytes());
    }
}

/// How messages of the lossy phase fare.
#[derive(Clone, Copy, Debug)]
enum Loss {
    /// Nothing lost (the two initial messages cross).
    None,
    /// Everything Alice sends in the first round is lost.
    AliceFirstRound,
    /// Everything Bob sends in the first round is lost.
    BobFirstRound,
    /// Everything either sends in the first round is lost.
    BothFirstRound,
    /// Each message independently lost with this percentage, and the rest delayed at random.
    Random(u32),
}

fn lost(loss: Loss, round: usize, from_alice: bool, rng: &mut StdRng) -> bool {
    match loss {
        Loss::None => false,
        Loss::AliceFirstRound => round == 0 && from_alice,
        Loss::BobFirstRound => round == 0 && !from_alice,
        Loss::BothFirstRound => round == 0,
        Loss::Random(percent) => rng.random_range(0..100) < percent,
    }
}

/// Both sides start a session at once and keep sending at the same time (so messages always
/// cross) through a lossy, reordering network, then through a reliable one. Returns the number of
/// reliable rounds it took to agree on one session.
fn simultaneous_initiation(loss: Loss, seed: u64) -> usize {
    let mut rng = rng(seed);
    let (alice_account, mut bob_account) = accounts(&mut rng);
    let mut alice_account = alice_account;
    let to_bob = bundle(&mut bob_account, true, &mut rng);
    let to_alice = bundle(&mut alice_account, seed.is_multiple_of(2), &mut rng);
    let session_a = alice_account
        .create_outbound_session(b"alice", b"bob", &to_bob, NOW, &mut rng)
        .unwrap();
    let session_b = bob_account
        .create_outbound_session(b"bob", b"alice", &to_alice, NOW, &mut rng)
        .unwrap();
    let mut alice = Party {
        peer: PeerSessions::new(bob_account.identity_key()),
        account: alice_account,
        address: b"alice",
    };
    let mut bob = Party {
        peer: PeerSessions::new(alice.account.identity_key()),
        account: bob_account,
        address: b"bob",
    };
    alice.peer.add_outbound(session_a).unwrap();
    bob.peer.add_outbound(session_b).unwrap();

    let mut to_bob_in_flight = Vec::new();
    let mut to_alice_in_flight = Vec::new();
    let step = |round: usize,
                lossy: bool,
                alice: &mut Party,
                bob: &mut Party,
                to_bob_in_flight: &mut Vec<(Vec<u8>, String)>,
                to_alice_in_flight: &mut Vec<(Vec<u8>, String)>,
                rng: &mut StdRng| {
        for i in 0..rng.random_range(1..=3) {
            let message = alice.send(format!("a{round}.{i}"), rng);
            if !(lossy && lost(loss, round, true, rng)) {
                to_bob_in_flight.push(message);
            }
        }
        for i in 0..rng.random_range(1..=3) {
            let message = bob.send(format!("b{round}.{i}"), rng);
            if !(lossy && lost(loss, round, false, rng)) {
                to_alice_in_flight.push(message);
            }
        }
        for (in_flight, receiver) in [
            (&mut *to_bob_in_flight, &mut *bob),
            (&mut *to_alice_in_flight, &mut *alice),
        ] {
            in_flight.shuffle(rng);
            // On the lossy network some messages are held back to a later round.
            let held = if lossy && matches!(loss, Loss::Random(_)) {
                rng.random_range(0..=in_flight.len())
            } else {
                0
            };
            for message in in_flight.split_off(held) {
                receiver.receive(&message, rng);
            }
        }
    };

    for round in 0..6 {
        step(
            round,
            true,
            &mut alice,
            &mut bob,
            &mut to_bob_in_flight,
            &mut to_alice_in_flight,
            &mut rng,
        );
    }
    let agreed = |alice: &Party, bob: &Party| {
        alice.peer.active().unwrap().session_id() == bob.peer.active().unwrap().session_id()
    };
    // Agreement only counts once nothing is in flight: each reliable round delivers everything,
    // including messages the lossy network held back.
    let mut rounds = 0;
    loop {
        rounds += 1;
        step(
            100 + rounds,
            false,
            &mut alice,
            &mut bob,
            &mut to_bob_in_flight,
            &mut to_alice_in_flight,
            &mut rng,
        );
        assert!(to_bob_in_flight.is_empty() && to_alice_in_flight.is_empty());
        if agreed(&alice, &bob) {
            break;
        }
        assert!(
            rounds < 4,
            "{loss:?}, seed {seed}: no agreement after {rounds} reliable rounds"
        );
    }
    // Agreement is stable: more crossing rounds keep both on the same session.
    let agreed_id = alice.peer.active().unwrap().session_id();
    for round in 200..205 {
        step(
            round,
            false,
            &mut alice,
            &mut bob,
            &mut to_bob_in_flight,
            &mut to_alice_in_flight,
            &mut rng,
        );
        assert_eq!(alice.peer.active().unwrap().session_id(), agreed_id);
        assert_eq!(bob.peer.active().unwrap().session_id(), agreed_id);
    }
    assert!(alice.peer.len() <= 2 && bob.peer.len() <= 2);
    if matches!(loss, Loss::None) {
        // Both sessions reached both sides; the smaller id wins.
        assert_eq!((alice.peer.len(), bob.peer.len()), (2, 2));
        let smallest = alice.peer.sessions().iter().map(|s| s.session_id()).min();
        assert_eq!(Some(agreed_id), smallest);
    }
    // The agreed session is answered on both sides: plain ratchet messages both ways.
    for alice_sends in [true, false] {
        let (sender, receiver) = if alice_sends {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        let (wire, text) = sender.send("after".to_owned(), &mut rng);
        assert!(matches!(
            SessionMessage::from_bytes(&wire).unwrap(),
            SessionMessage::Normal(_)
        ));
        receiver.receive(&(wire, text), &mut rng);
    }
    assert_eq!(alice.peer.active().unwrap().session_id(), agreed_id);
    assert_eq!(bob.peer.active().unwrap().session_id(), agreed_id);
    rounds
}

#[test]
fn simultaneous_initiation_converges_without_loss() {
    for seed in 0..6 {
        simultaneous_initiation(Loss::None, 2100 + seed);
    }
}

#[test]
fn simultaneous_initiation_converges_when_one_sides_first_messages_are_lost() {
    for seed in 0..6 {
        simultaneous_initiation(Loss::AliceFirstRound, 2110 + seed);
        simultaneous_initiation(Loss::BobFirstRound, 2120 + seed);
        simultaneous_initiation(Loss::BothFirstRound, 2130 + seed);
    }
}

#[test]
fn simultaneous_initiation_converges_under_random_loss_and_reordering() {
    for seed in 0..24 {
        let percent = [20, 50, 80][seed as usize % 3];
        simultaneous_initiation(Loss::Random(percent), 2140 + seed);
    }
}

#[test]
fn peer_sessions_survive_a_pickle_round_trip_mid_convergence() {
    let mut rng = rng(2199);
    let (mut alice, mut bob) = accounts(&mut rng);
    let to_bob = bundle(&mut bob, true, &mut rng);
    let to_alice = bundle(&mut alice, true, &mut rng);
    let mut alice_peer = PeerSessions::new(bob.identity_key());
    let mut bob_peer = PeerSessions::new(alice.identity_key());
    alice_peer
        .add_outbound(
            alice
                .create_outbound_session(b"alice", b"bob", &to_bob, NOW, &mut rng)
                .unwrap(),
        )
        .unwrap();
    bob_peer
        .add_outbound(
            bob.create_outbound_session(b"bob", b"alice", &to_alice, NOW, &mut rng)
                .unwrap(),
        )
        .unwrap();
    let from_alice = alice_peer.encrypt(NOW, b"a", &mut rng).unwrap();
    let from_bob = bob_peer.encrypt(NOW, b"b", &mut rng).unwrap();
    assert_eq!(
        alice_peer
            .decrypt(&mut alice, b"alice", &from_bob, NOW, &mut rng)
            .unwrap(),
        b"b"
    );
    assert_eq!(
        bob_peer
            .decrypt(&mut bob, b"bob", &from_alice, NOW, &mut rng)
            .unwrap(),
        b"a"
    );
    assert_eq!(alice_peer.len(), 2);

    let key = hush_crypto::PickleKey::new([7; 32]);
    let sealed = alice_peer.pickle().encrypt(&key, &mut rng);
    let restored = PeerSessions::from_pickle(
        &hush_crypto::peer::PeerSessionsPickle::from_encrypted(&key, &sealed).unwrap(),
    )
    .unwrap();
    assert_eq!(
        restored.pickle().to_plaintext_bytes(),
        alice_peer.pickle().to_plaintext_bytes()
    );
    let mut alice_peer = restored;

    // Crossing again, then both agree on the smaller session id.
    let from_alice = alice_peer.encrypt(NOW, b"a2", &mut rng).unwrap();
    let from_bob = bob_peer.encrypt(NOW, b"b2", &mut rng).unwrap();
    assert_eq!(
        alice_peer
            .decrypt(&mut alice, b"alice", &from_bob, NOW, &mut rng)
            .unwrap(),
        b"b2"
    );
    assert_eq!(
        bob_peer
            .decrypt(&mut bob, b"bob", &from_alice, NOW, &mut rng)
            .unwrap(),
        b"a2"
    );
    let smaller = alice_peer
        .sessions()
        .iter()
        .map(|session| session.session_id())
        .min()
        .unwrap();
    assert_eq!(alice_peer.active().unwrap().session_id(), smaller);
    assert_eq!(bob_peer.active().unwrap().session_id(), smaller);
}

#[test]
fn peer_sessions_refuse_other_identities_and_change_nothing_on_failure() {
    let mut rng = rng(2198);
    let (alice, mut bob) = accounts(&mut rng);
    let mallory = Account::new(NOW, &mut rng);
    let mut peer = PeerSessions::new(alice.identity_key());
    assert_eq!(
        peer.encrypt(NOW, b"x", &mut rng).unwrap_err(),
        PeerEncryptError::NoSession
    );

    // A pre-key message from Mallory is refused before the account is touched.
    let (_, from_mallory) = first_prekey_message(&mallory, b"alice", &mut bob, b"bob", true, b"x", &mut rng);
    let before = account_state(&bob);
    assert_eq!(
        peer.decrypt(
            &mut bob,
            b"bob",
            &SessionMessage::PreKey(from_mallory),
            NOW,
            &mut rng
        ),
        Err(PeerDecryptError::WrongPeer)
    );
    assert_eq!(account_state(&bob), before);
    assert!(peer.is_empty());
    // And so is an outbound session with Mallory.
    let to_mallory = {
        let mut mallory = mallory;
        bundle(&mut mallory, false, &mut rng)
    };
    let session = bob
        .create_outbound_session(b"bob", b"mallory", &to_mallory, NOW, &mut rng)
        .unwrap();
    assert_eq!(peer.add_outbound(session), Err(PeerEncryptError::WrongPeer));

    // A message no session decrypts leaves everything as it was.
    let (mut outbound, first) =
        first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    peer.decrypt(&mut bob, b"bob", &SessionMessage::PreKey(first), NOW, &mut rng)
        .unwrap();
    let reply = peer.encrypt(NOW, b"reply", &mut rng).unwrap();
    outbound.decrypt(&reply, &mut rng).unwrap();
    let (_, stranger) = pair(&mut rng);
    let mut stranger = stranger;
    let foreign = stranger.encrypt(NOW, b"?", &mut rng).unwrap();
    let before = peer.pickle().to_plaintext_bytes();
    assert_eq!(
        peer.decrypt(&mut bob, b"bob", &foreign, NOW, &mut rng),
        Err(PeerDecryptError::Decrypt(DecryptError::Unauthenticated))
    );
    assert_eq!(peer.pickle().to_plaintext_bytes(), before);
    let genuine = outbound.encrypt(NOW, b"ok", &mut rng).unwrap();
    assert_eq!(
        peer.decrypt(&mut bob, b"bob", &genuine, NOW, &mut rng).unwrap(),
        b"ok"
    );
}

#[test]
fn peer_sessions_keep_at_most_max_sessions_and_the_active_one() {
    let mut rng = rng(2197);
    let (alice, mut bob) = accounts(&mut rng);
    let mut peer = PeerSessions::new(alice.identity_key());
    let mut last = None;
    for i in 0..hush_crypto::peer::MAX_PEER_SESSIONS + 3 {
        let (outbound, first) = first_prekey_message(
            &alice,
            b"alice",
            &mut bob,
            b"bob",
            i.is_multiple_of(2),
            b"new",
            &mut rng,
        );
        assert_eq!(
            peer.decrypt(&mut bob, b"bob", &SessionMessage::PreKey(first), NOW, &mut rng)
                .unwrap(),
            b"new"
        );
        // The session the peer just started is the one we answer on.
        assert_eq!(peer.active().unwrap().session_id(), outbound.session_id());
        assert!(peer.len() <= hush_crypto::peer::MAX_PEER_SESSIONS);
        last = Some(outbound);
    }
    assert_eq!(peer.len(), hush_crypto::peer::MAX_PEER_SESSIONS);
    let mut last = last.unwrap();
    let reply = peer.encrypt(NOW, b"to the newest", &mut rng).unwrap();
    assert_eq!(last.decrypt(&reply, &mut rng).unwrap(), b"to the newest");
}
