#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
//! What a shared seal (`sealed::seal_shared`) costs the sender of a group message, against the
//! baseline of sealing the same plaintext once per recipient with sealed sender v2.
//!
//! A small custom harness (no criterion, to keep the dependency tree lean). Alice seals a 1 KiB
//! plaintext (about a sender-key message with a short text) for `HUSH_BENCH_RECIPIENTS` devices
//! (default 1,000), alternating rounds of `seal_shared` (its parts on up to `MAX_SEAL_THREADS`
//! threads), of `seal_shared_on` one thread, and of the baseline (`seal_with` per recipient
//! with every recipient's keys already held, the cheapest per-recipient path), so a change in
//! machine load hits all alike. It also times one recipient's `open_shared` against
//! `open_sealed` of a baseline envelope. Each figure is the median over the rounds; the last line
//! is `RATIO seal_shared recipients=<n> shared_ms=<ms> per_recipient_ms=<ms> speedup=<x>
//! one_thread_ms=<ms> upload_shared=<bytes> upload_per_recipient=<bytes> open_shared_us=<us>
//! open_sealed_us=<us>`.
//! `HUSH_BENCH_ROUNDS` (default 9) overrides the number of rounds.

use std::hint::black_box;

use hush_crypto::sealed::{SealKeys, seal_shared, seal_shared_on, seal_with};
use hush_crypto::{Account, IdentityKey};

mod timing;
use timing::{env_or, median, per_op};

const NOW: u64 = 1_700_000_000;
const PLAINTEXT_LEN: usize = 1024;
const OPENS_PER_ROUND: usize = 200;

/// Milliseconds one call of `op` takes.
fn millis(mut op: impl FnMut()) -> f64 {
    per_op(1, &mut op) / 1e3
}

fn main() {
    let rounds = env_or("HUSH_BENCH_ROUNDS", 9);
    let count = env_or("HUSH_BENCH_RECIPIENTS", 1000);
    let mut rng = rand::rng();
    let alice = Account::new(NOW, &mut rng);
    let members: Vec<Account> = (0..count).map(|_| Account::new(NOW, &mut rng)).collect();
    let recipients: Vec<IdentityKey> = members.iter().map(Account::identity_key).collect();
    let plaintext = vec![0x5a; PLAINTEXT_LEN];
    let mut keys = SealKeys::new();

    // Both paths give what the recipients open, and warm the baseline's held keys.
    let shared = seal_shared(&recipients, &plaintext, &mut rng).unwrap();
    let envelopes: Vec<Vec<u8>> = recipients
        .iter()
        .map(|recipient| seal_with(&alice, &mut keys, recipient, &plaintext, &mut rng).unwrap())
        .collect();
    for ((member, part), envelope) in members.iter().zip(&shared.parts).zip(&envelopes) {
        assert_eq!(member.open_shared(part, &shared.body).unwrap(), plaintext);
        assert_eq!(member.open_sealed(envelope).unwrap().inner, plaintext);
    }
    let upload_shared = shared.body.len() + shared.parts.iter().map(Vec::len).sum::<usize>();
    let upload_baseline: usize = envelopes.iter().map(Vec::len).sum();

    let (mut shared_ms, mut one_thread_ms, mut baseline_ms, mut open_shared_us, mut open_sealed_us) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (bob, part, envelope) = (&members[0], &shared.parts[0], &envelopes[0]);
    for _ in 0..rounds {
        shared_ms.push(millis(|| {
            black_box(seal_shared(&recipients, black_box(&plaintext), &mut rng).unwrap());
        }));
        one_thread_ms.push(millis(|| {
            black_box(seal_shared_on(&recipients, black_box(&plaintext), &mut rng, 1).unwrap());
        }));
        baseline_ms.push(millis(|| {
            for recipient in &recipients {
                black_box(seal_with(&alice, &mut keys, recipient, black_box(&plaintext), &mut rng).unwrap());
            }
        }));
        open_shared_us.push(per_op(OPENS_PER_ROUND, || {
            black_box(bob.open_shared(black_box(part), &shared.body).unwrap());
        }));
        open_sealed_us.push(per_op(OPENS_PER_ROUND, || {
            black_box(bob.open_sealed(black_box(envelope)).unwrap());
        }));
    }
    let (shared_ms, baseline_ms) = (median(&mut shared_ms), median(&mut baseline_ms));
    let one_thread_ms = median(&mut one_thread_ms);
    let (open_shared_us, open_sealed_us) = (median(&mut open_shared_us), median(&mut open_sealed_us));
    println!(
        "seal_shared: {shared_ms:.2} ms for {count} recipients, {PLAINTEXT_LEN}-byte plaintext (median of {rounds} rounds); \
         {one_thread_ms:.2} ms on one thread"
    );
    println!("baseline:    {baseline_ms:.2} ms for {count} seal_with (keys held)");
    println!("open_shared: {open_shared_us:.1} us; open_sealed (baseline): {open_sealed_us:.1} us");
    println!("upload:      shared {upload_shared} bytes; baseline {upload_baseline} bytes");
    println!(
        "RATIO seal_shared recipients={count} shared_ms={shared_ms:.2} per_recipient_ms={baseline_ms:.2} \
         speedup={:.2} one_thread_ms={one_thread_ms:.2} upload_shared={upload_shared} upload_per_recipient={upload_baseline} \
         open_shared_us={open_shared_us:.1} open_sealed_us={open_sealed_us:.1}",
        baseline_ms / shared_ms
    );
}
