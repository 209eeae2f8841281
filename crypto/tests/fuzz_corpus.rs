#![cfg(feature = "fuzzing")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through every fuzz target's entry
//! function, so each seed (and each crash input added there after a fix) is a regression test in
//! the ordinary test run.

use std::path::PathBuf;

use hush_crypto::fuzzing::{TARGETS, seed_corpus};

#[path = "../../fuzz/replay.rs"]
mod replay;

#[test]
fn every_corpus_file_passes_its_target() {
    replay::replay_corpus(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus"),
        TARGETS,
    );
}

#[test]
fn generated_seeds_pass_their_targets() {
    let seeds = seed_corpus();
    replay::replay_seeds(
        TARGETS,
        seeds.iter().map(|seed| (seed.target, seed.bytes.as_slice())),
    );
}

#[test]
fn empty_and_short_inputs() {
    replay::replay_short_inputs(TARGETS);
}
