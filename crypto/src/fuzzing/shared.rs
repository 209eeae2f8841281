//! Fuzz entry point of shared seals (SPEC.md §15.1): `Account::open_shared` on a part and a body,
//! with its seeds.
//!
//! The input is `[n] || part (n bytes, fewer if the input ends) || body`, the shape a genuine
//! pair is seeded in; inputs of at most [`super::MUTATION_MAX_LEN`] bytes flip one byte of a
//! genuine pair in that shape, so the fuzzer reaches the tag, the ephemeral check and the AEAD
//! from the first run.

use std::sync::OnceLock;

use super::fixture::{NOW, rng};
use super::{Seed, input_or_mutation};
use crate::Account;
use crate::sealed::{MAX_SHARED_PART_LEN, seal_shared};

/// Bob's account, the pairs addressed to him and the pairs that are not.
struct SharedFixture {
    bob: Account,
    /// Bob's genuine pairs, encoded as inputs, with their plaintexts.
    genuine: Vec<(Vec<u8>, Vec<u8>)>,
    /// Every pair (mutation sources): Bob's, Carol's part of the first seal, and Bob's first
    /// part with the second seal's body.
    all: Vec<Vec<u8>>,
}

/// A pair as a fuzz input: `[len part] || part || body`.
fn encode(part: &[u8], body: &[u8]) -> Vec<u8> {
    let length = u8::try_from(part.len()).unwrap_or(u8::MAX);
    [&[length], part, body].concat()
}

/// The part and the body an input stands for.
fn decode(input: &[u8]) -> (&[u8], &[u8]) {
    let Some((length, rest)) = input.split_first() else {
        return (&[], &[]);
    };
    rest.split_at(usize::from(*length).min(rest.len()))
}

// Honest seals for valid identity keys: every step succeeds.
#[allow(clippy::expect_used)]
fn fixture() -> &'static SharedFixture {
    static FIXTURE: OnceLock<SharedFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rng(40);
        let [bob, carol, dave] = [(); 3].map(|()| Account::new(NOW, &mut rng));
        let (bob_key, carol_key, dave_key) = (bob.identity_key(), carol.identity_key(), dave.identity_key());
        let plaintexts: [&[u8]; 3] = [b"a group message", b"", &[0x5a; 300]];
        let lists = [vec![bob_key, carol_key], vec![dave_key, bob_key], vec![bob_key]];
        let seals: Vec<_> = lists
            .iter()
            .zip(plaintexts)
            .map(|(list, plaintext)| seal_shared(list, plaintext, &mut rng).expect("valid keys seal"))
            .collect();
        let pair = |seal: usize, part: usize| {
            let seal = seals.get(seal).expect("three seals");
            encode(seal.parts.get(part).expect("a part per recipient"), &seal.body)
        };
        // Bob's part is the first of seals 0 and 2 and the second of seal 1.
        let genuine: Vec<(Vec<u8>, Vec<u8>)> = [(0, 0), (1, 1), (2, 0)]
            .into_iter()
            .zip(plaintexts)
            .map(|((seal, part), plaintext)| (pair(seal, part), plaintext.to_vec()))
            .collect();
        let mut all: Vec<Vec<u8>> = genuine.iter().map(|(input, _)| input.clone()).collect();
        all.push(pair(0, 1));
        let first = seals.first().expect("three seals");
        let second = seals.get(1).expect("three seals");
        all.push(encode(first.parts.first().expect("two parts"), &second.body));
        SharedFixture { bob, genuine, all }
    })
}

/// Opens the input (or a mutation of a pair) as Bob: nobody but a sealer can make a pair open
/// for him, so a success must be a genuine pair, byte for byte, opening to its plaintext; and
/// every genuine pair opens.
pub fn open_shared(data: &[u8]) {
    let fixture = fixture();
    let input = input_or_mutation(data, &fixture.all);
    let (part, body) = decode(&input);
    let genuine = fixture
        .genuine
        .iter()
        .find(|(pair, _)| decode(pair) == (part, body));
    let opened = fixture.bob.open_shared(part, body);
    assert!(
        opened.is_ok() == genuine.is_some(),
        "only and every genuine pair opens for Bob: {opened:?} (genuine: {})",
        genuine.is_some()
    );
    if let (Ok(plaintext), Some((_, sealed))) = (&opened, genuine) {
        assert!(plaintext == sealed, "a genuine pair opened to another plaintext");
    }
}

/// The pairs themselves and flips of the part's version, wrap and tag, and of the body's
/// version, ephemeral key, ciphertext and tag.
pub(super) fn seeds() -> Vec<Seed> {
    let fixture = fixture();
    let mut seeds = Vec::new();
    for (index, input) in fixture.all.iter().enumerate() {
        seeds.push(Seed {
            target: "open_shared",
            name: format!("pair_{index}"),
            bytes: input.clone(),
        });
        let which = u8::try_from(index).unwrap_or(0);
        let part = u8::try_from(MAX_SHARED_PART_LEN).unwrap_or(u8::MAX);
        for position in [0, 1, 2, 40, part, part + 1, part + 2, part + 40, 255] {
            seeds.push(Seed {
                target: "open_shared",
                name: format!("flip_{index}_{position}"),
                bytes: vec![position, 0x01, which],
            });
        }
    }
    seeds
}
