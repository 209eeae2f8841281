#![cfg(feature = "fuzzing")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through every hush-relay fuzz
//! target's entry function, so each seed (and each crash input added there after a fix) is a
//! regression test in the ordinary test run.

use std::path::PathBuf;

use hush_relay::fuzzing::{MODE_DELIVERING, MODE_LOGGED_IN, MODE_PEER, MODE_TIGHT, TARGETS, seed_corpus};

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
fn every_mode_sets_up_and_survives_short_inputs() {
    replay::replay_short_inputs(TARGETS);
    for (_, run) in TARGETS {
        for mode in 0..=u8::MAX {
            run(&[mode]);
            run(&[mode, 0, 0, 0, 2, 0, 7]); // one Ping
            run(&[mode, 0xff, 0xff, 0xff, 0xff]); // an oversize prefix
        }
        run(&[]);
    }
    // The mode bits the seeds rely on are distinct.
    assert_eq!(
        MODE_LOGGED_IN | MODE_DELIVERING | MODE_PEER | MODE_TIGHT,
        MODE_LOGGED_IN ^ MODE_DELIVERING ^ MODE_PEER ^ MODE_TIGHT
    );
}
