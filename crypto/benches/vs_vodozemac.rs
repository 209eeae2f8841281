#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Hush vs vodozemac (Olm / Megolm) on the same machine, in the same run.
//!
//! A small custom harness (no criterion). For each scenario, timed runs of the two libraries
//! alternate (hush first in odd rounds, vodozemac first in even ones), so a change in machine load
//! hits both alike, and the median ops/s of each library is reported. The last lines are
//! `RATIO <scenario> hush=<ops/s> vodozemac=<ops/s> ratio=<hush/vodozemac>`.
//!
//! Both libraries get in-memory message values (no wire encoding or base64 on either side).
//! Long-term accounts are made outside the timed part; one-time keys are generated inside it, one
//! per setup, for both. Burst is 100,000 messages per run for both libraries. `HUSH_BENCH_ROUNDS`
//! (default 15; burst gets half) and `HUSH_BENCH_SCALE` (a divisor of the per-run counts, for
//! quick checks) override the defaults.
//!
//! `setup-pq` (PQXDH, no vodozemac counterpart) alternates with hush's classical setup in the same
//! way and ends with `PQ setup-pq pq=<ops/s> classical=<ops/s> cost=<classical/pq>`.

use std::hint::black_box;
use std::time::Instant;

use hush_crypto::group::{GroupReceiver, GroupSender, SenderKeyMessage};
use hush_crypto::pq::SetupPolicy;
use hush_crypto::{Account, Session, SessionMessage};
use vodozemac::megolm::{GroupSession, InboundGroupSession, MegolmMessage};
use vodozemac::olm::{self, OlmMessage};

const NOW: u64 = 1_700_000_000;
const MESSAGE_LEN: usize = 100;

struct Config {
    /// Rounds per library for every scenario but burst.
    rounds: usize,
    /// Rounds per library for burst (each is a full stream of `burst` messages).
    burst_rounds: usize,
    setups: usize,
    burst: usize,
    pingpong: usize,
    group: usize,
}

impl Config {
    fn from_env() -> Self {
        let var = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|value| value.parse().ok())
                .unwrap_or(default)
        };
        let rounds = var("HUSH_BENCH_ROUNDS", 15).max(1);
        let scale = var("HUSH_BENCH_SCALE", 1).max(1);
        Self {
            rounds,
            burst_rounds: (rounds / 2).max(1),
            setups: (200 / scale).max(1),
            burst: (100_000 / scale).max(1),
            pingpong: (2_000 / scale).max(2),
            group: (5_000 / scale).max(1),
        }
    }
}

/// Runs `f` (which returns the number of operations it did) and gives ops/s.
fn measure(f: impl FnOnce() -> usize) -> f64 {
    let start = Instant::now();
    let ops = f();
    let elapsed = start.elapsed().as_secs_f64();
    ops as f64 / elapsed
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn human(ops: f64) -> String {
    if ops >= 1_000_000.0 {
        format!("{:.2}M", ops / 1_000_000.0)
    } else if ops >= 1_000.0 {
        format!("{:.1}k", ops / 1_000.0)
    } else {
        format!("{ops:.0}")
    }
}

// ---------------------------------------------------------------------------------------------
// hush

/// Bob publishes a bundle with a fresh one-time prekey, Alice verifies it, starts a session and
/// sends; Bob starts his side from that pre-key message.
fn hush_setup(alice: &Account, bob: &mut Account, count: usize) -> usize {
    let mut rng = rand::rng();
    let payload = [0x42u8; MESSAGE_LEN];
    for _ in 0..count {
        let otk = bob.generate_one_time_prekeys(1, &mut rng)[0];
        let bundle = bob.prekey_bundle(Some(otk.id)).unwrap().verify(None).unwrap();
        let mut alice_session = alice
            .create_outbound_session(b"alice", b"bob", &bundle, NOW, &mut rng)
            .unwrap();
        let SessionMessage::PreKey(first) = alice_session.encrypt(NOW, &payload, &mut rng).unwrap() else {
            panic!("first message must be a pre-key message");
        };
        let inbound = bob.create_inbound_session(b"bob", &first, NOW, &mut rng).unwrap();
        assert_eq!(inbound.plaintext.len(), MESSAGE_LEN);
        black_box((alice_session, inbound.session));
    }
    count
}

/// [`hush_setup`] with PQXDH: Bob also makes a one-time KEM prekey per session (inside the timed
/// part, as the EC one), Alice encapsulates to it under the default policy, Bob decapsulates.
fn hush_setup_pq(alice: &Account, bob: &mut Account, count: usize) -> usize {
    let mut rng = rand::rng();
    let payload = [0x42u8; MESSAGE_LEN];
    for _ in 0..count {
        let otk = bob.generate_one_time_prekeys(1, &mut rng)[0];
        let kem = bob.generate_kem_one_time_prekeys(1, &mut rng).remove(0);
        let bundle = bob
            .pq_prekey_bundle(Some(otk.id), Some(kem.id))
            .unwrap()
            .verify(None)
            .unwrap();
        let mut alice_session = alice
            .create_session(b"alice", b"bob", &bundle, SetupPolicy::default(), NOW, &mut rng)
            .unwrap();
        let SessionMessage::PreKey(first) = alice_session.encrypt(NOW, &payload, &mut rng).unwrap() else {
            panic!("first message must be a pre-key message");
        };
        let inbound = bob
            .create_inbound_session_with_policy(b"bob", &first, SetupPolicy::default(), NOW, &mut rng)
            .unwrap();
        assert_eq!(inbound.plaintext.len(), MESSAGE_LEN);
        black_box((alice_session, inbound.session));
    }
    count
}

fn hush_setup_pq_run(config: &Config) -> f64 {
    let mut rng = rand::rng();
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    measure(|| hush_setup_pq(&alice, &mut bob, config.setups))
}

/// `setup-pq` against hush's classical setup, alternating as the other scenarios do.
fn setup_pq_against_classical(config: &Config) -> (f64, f64) {
    let (mut pq, mut classical) = (Vec::new(), Vec::new());
    let mut line = format!("{:<14}", "setup-pq");
    for round in 0..config.rounds {
        let (p, c) = if round % 2 == 0 {
            let p = hush_setup_pq_run(config);
            (p, hush_setup_run(config))
        } else {
            let c = hush_setup_run(config);
            (hush_setup_pq_run(config), c)
        };
        line.push_str(&format!(" {}/{}", human(p), human(c)));
        pq.push(p);
        classical.push(c);
    }
    let ratios: Vec<f64> = pq.iter().zip(&classical).map(|(p, c)| p / c).collect();
    println!(
        "{line}  (hush PQXDH/hush classical per round; median of per-round ratios {:.3})",
        median(&ratios)
    );
    (median(&pq), median(&classical))
}

/// A pair of hush sessions that have exchanged one message each way (both send normal messages).
fn hush_pair() -> (Session, Session) {
    let mut rng = rand::rng();
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    let otk = bob.generate_one_time_prekeys(1, &mut rng)[0];
    let bundle = bob.prekey_bundle(Some(otk.id)).unwrap().verify(None).unwrap();
    let mut alice_session = alice
        .create_outbound_session(b"alice", b"bob", &bundle, NOW, &mut rng)
        .unwrap();
    let SessionMessage::PreKey(first) = alice_session.encrypt(NOW, b"hi", &mut rng).unwrap() else {
        panic!("first message must be a pre-key message");
    };
    let mut bob_session = bob
        .create_inbound_session(b"bob", &first, NOW, &mut rng)
        .unwrap()
        .session;
    let reply = bob_session.encrypt(NOW, b"hi", &mut rng).unwrap();
    alice_session.decrypt(&reply, &mut rng).unwrap();
    (alice_session, bob_session)
}

fn hush_burst(alice: &mut Session, bob: &mut Session, count: usize) -> usize {
    let mut rng = rand::rng();
    let payload = [0x42u8; MESSAGE_LEN];
    for _ in 0..count {
        let message = alice.encrypt(NOW, &payload, &mut rng).unwrap();
        let plaintext = bob.decrypt(&message, &mut rng).unwrap();
        black_box(plaintext);
    }
    count
}

fn hush_pingpong(alice: &mut Session, bob: &mut Session, count: usize) -> usize {
    let mut rng = rand::rng();
    let payload = [0x42u8; MESSAGE_LEN];
    for i in 0..count {
        let (from, to) = if i % 2 == 0 {
            (&mut *alice, &mut *bob)
        } else {
            (&mut *bob, &mut *alice)
        };
        let message = from.encrypt(NOW, &payload, &mut rng).unwrap();
        black_box(to.decrypt(&message, &mut rng).unwrap());
    }
    count
}

fn hush_group_pair() -> (GroupSender, GroupReceiver) {
    let mut rng = rand::rng();
    let identity = hush_crypto::Account::new(0, &mut rng).identity_key();
    let sender = GroupSender::new([7; 16], identity, 1, &mut rng);
    let receiver =
        GroupReceiver::from_distribution(&sender.distribution(), &identity).expect("its own sender");
    (sender, receiver)
}

fn hush_group_messages(sender: &mut GroupSender, count: usize) -> Vec<SenderKeyMessage> {
    let mut rng = rand::rng();
    let payload = [0x42u8; MESSAGE_LEN];
    (0..count)
        .map(|_| sender.encrypt(&payload, &mut rng).unwrap())
        .collect()
}

fn hush_group_decrypt(receiver: &mut GroupReceiver, messages: &[SenderKeyMessage]) -> usize {
    for message in messages {
        black_box(receiver.decrypt(message).unwrap());
    }
    messages.len()
}

// ---------------------------------------------------------------------------------------------
// vodozemac

/// Olm equivalent of [`hush_setup`]: Bob makes a one-time key, Alice creates the outbound
/// session and encrypts, Bob creates the inbound session from the pre-key message.
fn vodozemac_setup(alice: &olm::Account, bob: &mut olm::Account, count: usize) -> usize {
    let config = olm::SessionConfig::version_1();
    let bob_identity = bob.curve25519_key();
    let alice_identity = alice.curve25519_key();
    let payload = [0x42u8; MESSAGE_LEN];
    for _ in 0..count {
        let otk = bob.generate_one_time_keys(1).created[0];
        bob.mark_keys_as_published();
        let mut alice_session = alice.create_outbound_session(config, bob_identity, otk).unwrap();
        let OlmMessage::PreKey(first) = alice_session.encrypt(payload).unwrap() else {
            panic!("first message must be a pre-key message");
        };
        let inbound = bob
            .create_inbound_session(config, alice_identity, &first)
            .unwrap();
        assert_eq!(inbound.plaintext.len(), MESSAGE_LEN);
        black_box((alice_session, inbound.session));
    }
    count
}

fn vodozemac_pair() -> (olm::Session, olm::Session) {
    let config = olm::SessionConfig::version_1();
    let alice = olm::Account::new();
    let mut bob = olm::Account::new();
    let otk = bob.generate_one_time_keys(1).created[0];
    bob.mark_keys_as_published();
    let mut alice_session = alice
        .create_outbound_session(config, bob.curve25519_key(), otk)
        .unwrap();
    let OlmMessage::PreKey(first) = alice_session.encrypt(b"hi").unwrap() else {
        panic!("first message must be a pre-key message");
    };
    let mut bob_session = bob
        .create_inbound_session(config, alice.curve25519_key(), &first)
        .unwrap()
        .session;
    let reply = bob_session.encrypt(b"hi").unwrap();
    alice_session.decrypt(&reply).unwrap();
    (alice_session, bob_session)
}

fn vodozemac_burst(alice: &mut olm::Session, bob: &mut olm::Session, count: usize) -> usize {
    let payload = [0x42u8; MESSAGE_LEN];
    for _ in 0..count {
        let message = alice.encrypt(payload).unwrap();
        black_box(bob.decrypt(&message).unwrap());
    }
    count
}

fn vodozemac_pingpong(alice: &mut olm::Session, bob: &mut olm::Session, count: usize) -> usize {
    let payload = [0x42u8; MESSAGE_LEN];
    for i in 0..count {
        let (from, to) = if i % 2 == 0 {
            (&mut *alice, &mut *bob)
        } else {
            (&mut *bob, &mut *alice)
        };
        let message = from.encrypt(payload).unwrap();
        black_box(to.decrypt(&message).unwrap());
    }
    count
}

fn vodozemac_group_pair() -> (GroupSession, InboundGroupSession) {
    let config = vodozemac::megolm::SessionConfig::version_1();
    let sender = GroupSession::new(config);
    let receiver = InboundGroupSession::new(&sender.session_key(), config);
    (sender, receiver)
}

fn vodozemac_group_messages(sender: &mut GroupSession, count: usize) -> Vec<MegolmMessage> {
    let payload = [0x42u8; MESSAGE_LEN];
    (0..count).map(|_| sender.encrypt(payload)).collect()
}

fn vodozemac_group_decrypt(receiver: &mut InboundGroupSession, messages: &[MegolmMessage]) -> usize {
    for message in messages {
        black_box(receiver.decrypt(message).unwrap());
    }
    messages.len()
}

// ---------------------------------------------------------------------------------------------

/// One timed run of one scenario for one library, with its untimed preparation; gives ops/s.
type Run = fn(&Config) -> f64;

struct Scenario {
    name: &'static str,
    /// What one run does, for the header.
    what: String,
    rounds: usize,
    hush: Run,
    vodozemac: Run,
}

fn hush_setup_run(config: &Config) -> f64 {
    let mut rng = rand::rng();
    // Long-term accounts (fresh each run, so Bob's replay list starts empty): untimed.
    let alice = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    measure(|| hush_setup(&alice, &mut bob, config.setups))
}

fn vodozemac_setup_run(config: &Config) -> f64 {
    let alice = olm::Account::new();
    let mut bob = olm::Account::new();
    measure(|| vodozemac_setup(&alice, &mut bob, config.setups))
}

fn hush_burst_run(config: &Config) -> f64 {
    let (mut a, mut b) = hush_pair();
    measure(|| hush_burst(&mut a, &mut b, config.burst))
}

fn vodozemac_burst_run(config: &Config) -> f64 {
    let (mut a, mut b) = vodozemac_pair();
    measure(|| vodozemac_burst(&mut a, &mut b, config.burst))
}

fn hush_pingpong_run(config: &Config) -> f64 {
    let (mut a, mut b) = hush_pair();
    measure(|| hush_pingpong(&mut a, &mut b, config.pingpong))
}

fn vodozemac_pingpong_run(config: &Config) -> f64 {
    let (mut a, mut b) = vodozemac_pair();
    measure(|| vodozemac_pingpong(&mut a, &mut b, config.pingpong))
}

fn hush_group_encrypt_run(config: &Config) -> f64 {
    let (mut sender, _) = hush_group_pair();
    measure(|| {
        black_box(hush_group_messages(&mut sender, config.group));
        config.group
    })
}

fn vodozemac_group_encrypt_run(config: &Config) -> f64 {
    let (mut sender, _) = vodozemac_group_pair();
    measure(|| {
        black_box(vodozemac_group_messages(&mut sender, config.group));
        config.group
    })
}

fn hush_group_decrypt_run(config: &Config) -> f64 {
    let (mut sender, mut receiver) = hush_group_pair();
    let messages = hush_group_messages(&mut sender, config.group);
    measure(|| hush_group_decrypt(&mut receiver, &messages))
}

fn vodozemac_group_decrypt_run(config: &Config) -> f64 {
    let (mut sender, mut receiver) = vodozemac_group_pair();
    let messages = vodozemac_group_messages(&mut sender, config.group);
    measure(|| vodozemac_group_decrypt(&mut receiver, &messages))
}

fn main() {
    // `cargo bench` passes `--bench`; without it (as under `cargo test --benches`) this is a quick
    // smoke run.
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let config = if smoke {
        Config {
            rounds: 1,
            burst_rounds: 1,
            setups: 2,
            burst: 10,
            pingpong: 4,
            group: 10,
        }
    } else {
        Config::from_env()
    };
    let scenarios = [
        Scenario {
            name: "setup",
            what: format!("{} sessions", config.setups),
            rounds: config.rounds,
            hush: hush_setup_run,
            vodozemac: vodozemac_setup_run,
        },
        Scenario {
            name: "burst",
            what: format!("{} msgs one way", config.burst),
            rounds: config.burst_rounds,
            hush: hush_burst_run,
            vodozemac: vodozemac_burst_run,
        },
        Scenario {
            name: "pingpong",
            what: format!("{} msgs, direction alternating", config.pingpong),
            rounds: config.rounds,
            hush: hush_pingpong_run,
            vodozemac: vodozemac_pingpong_run,
        },
        Scenario {
            name: "group-encrypt",
            what: format!("{} msgs", config.group),
            rounds: config.rounds,
            hush: hush_group_encrypt_run,
            vodozemac: vodozemac_group_encrypt_run,
        },
        Scenario {
            name: "group-decrypt",
            what: format!("{} msgs in order", config.group),
            rounds: config.rounds,
            hush: hush_group_decrypt_run,
            vodozemac: vodozemac_group_decrypt_run,
        },
    ];

    println!(
        "hush {} vs vodozemac 0.11 (Olm/Megolm SessionConfig::version_1)",
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "config: {MESSAGE_LEN}-byte messages; per scenario, runs of hush and vodozemac alternate \
         (hush first in odd rounds, vodozemac first in even ones) and each library's median \
         ops/s (wall clock) is taken"
    );
    for scenario in &scenarios {
        println!(
            "  {:<14} {} rounds x {} per library",
            scenario.name, scenario.rounds, scenario.what
        );
    }
    println!(
        "  ops: setup = sessions; burst/pingpong = messages, each encrypted and decrypted; \
         group = messages"
    );
    println!(
        "  setup: long-term accounts made outside the timed part; one-time key generation INSIDE it \
         for both (one per session); hush also verifies the bundle signature (Olm has no signed \
         prekey); messages passed in memory (no wire encoding) for both libraries"
    );
    println!();

    let total = Instant::now();
    let mut summary = Vec::new();
    for scenario in &scenarios {
        let mut hush = Vec::with_capacity(scenario.rounds);
        let mut vodozemac = Vec::with_capacity(scenario.rounds);
        let mut line = format!("{:<14}", scenario.name);
        for round in 0..scenario.rounds {
            let (h, v) = if round % 2 == 0 {
                let h = (scenario.hush)(&config);
                (h, (scenario.vodozemac)(&config))
            } else {
                let v = (scenario.vodozemac)(&config);
                ((scenario.hush)(&config), v)
            };
            hush.push(h);
            vodozemac.push(v);
            line.push_str(&format!(" {}/{}", human(h), human(v)));
        }
        let pair_ratios: Vec<f64> = hush.iter().zip(&vodozemac).map(|(h, v)| h / v).collect();
        println!(
            "{line}  (hush/vodozemac per round; median of per-round ratios {:.3})",
            median(&pair_ratios)
        );
        summary.push((scenario.name, median(&hush), median(&vodozemac)));
    }
    let (pq, classical) = setup_pq_against_classical(&config);
    println!("total {:.1} s", total.elapsed().as_secs_f64());
    println!();
    for (name, hush, vodozemac) in summary {
        println!(
            "RATIO {name} hush={hush:.0} vodozemac={vodozemac:.0} ratio={:.3}",
            hush / vodozemac
        );
    }
    println!(
        "PQ setup-pq pq={pq:.0} classical={classical:.0} cost={:.2}x",
        classical / pq
    );
}
