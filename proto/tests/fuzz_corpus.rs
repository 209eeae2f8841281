#![cfg(feature = "fuzzing")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through every hush-proto fuzz
//! target's entry function, so each seed (and each crash input added there after a fix) is a
//! regression test in the ordinary test run.

use std::path::PathBuf;

use hush_proto::fuzzing::{TARGETS, seed_corpus};

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn every_corpus_file_passes_its_target() {
    for (target, run) in TARGETS {
        let dir = corpus_dir(target);
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_file())
            .collect();
        entries.sort();
        assert!(!entries.is_empty(), "{} holds no corpus file", dir.display());
        for path in entries {
            let data = std::fs::read(&path).unwrap();
            run(&data);
        }
    }
}

#[test]
fn generated_seeds_pass_their_targets() {
    // The seeds as the current code generates them, in case the checked-in ones are stale.
    let seeds = seed_corpus();
    for (target, _) in TARGETS {
        assert!(
            seeds.iter().any(|seed| seed.target == *target),
            "{target} has no seed"
        );
    }
    for seed in seeds {
        let (_, run) = TARGETS.iter().find(|(name, _)| *name == seed.target).unwrap();
        run(&seed.bytes);
    }
}

#[test]
fn empty_short_and_every_split_inputs() {
    for (_, run) in TARGETS {
        for len in 0..8 {
            run(&vec![0u8; len]);
            run(&vec![0xff; len]);
        }
    }
    // Every split point of every seed.
    for seed in seed_corpus() {
        let (_, run) = TARGETS.iter().find(|(name, _)| *name == seed.target).unwrap();
        let mut input = seed.bytes.clone();
        for split in 0..=255u8 {
            input[0] = split;
            run(&input);
        }
    }
}
