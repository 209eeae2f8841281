#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! What keeping a recipient's sealing keys saves the sender (`sealed::SealKeys`).
//!
//! A small custom harness (no criterion, to keep the dependency tree lean). Alice seals a
//! 300-byte inner message (about a short text's session message) for Bob, alternating rounds of
//! `seal` (the recipient's X25519 form and the static-static DH computed each time) and
//! `seal_with` on warm keys, so a change in machine load hits both alike. Each line gives the
//! median time per seal over the rounds; the last is
//! `RATIO seal_keys fresh=<us> held=<us> speedup=<fresh/held>`.
//! `HUSH_BENCH_ROUNDS` (default 15) overrides the number of rounds.

use std::hint::black_box;

use hush_crypto::Account;
use hush_crypto::sealed::{SealKeys, seal, seal_with};

mod timing;
use timing::{env_or, median, per_op};

const NOW: u64 = 1_700_000_000;
const INNER_LEN: usize = 300;
const SEALS_PER_ROUND: usize = 400;

fn main() {
    let rounds = env_or("HUSH_BENCH_ROUNDS", 15);
    let mut rng = rand::rng();
    let (alice, bob) = (Account::new(NOW, &mut rng), Account::new(NOW, &mut rng));
    let recipient = bob.identity_key();
    let inner = vec![0x5a; INNER_LEN];
    let mut keys = SealKeys::new();
    // Both paths give envelopes Bob opens as Alice's.
    for sealed in [
        seal(&alice, &recipient, &inner, &mut rng).unwrap(),
        seal_with(&alice, &mut keys, &recipient, &inner, &mut rng).unwrap(),
    ] {
        assert_eq!(bob.open_sealed(&sealed).unwrap().inner, inner);
    }
    let (mut fresh, mut held) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        fresh.push(per_op(SEALS_PER_ROUND, || {
            black_box(seal(&alice, &recipient, black_box(&inner), &mut rng).unwrap());
        }));
        held.push(per_op(SEALS_PER_ROUND, || {
            black_box(seal_with(&alice, &mut keys, &recipient, black_box(&inner), &mut rng).unwrap());
        }));
    }
    let (fresh, held) = (median(&mut fresh), median(&mut held));
    println!("seal fresh: {fresh:.1} us per seal (median of {rounds} rounds)");
    println!("seal held:  {held:.1} us per seal");
    println!(
        "RATIO seal_keys fresh={fresh:.1}us held={held:.1}us speedup={:.2}",
        fresh / held
    );
}
