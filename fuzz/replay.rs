//! Shared by the crates' corpus replay tests (each includes this file with `#[path]`): every
//! file in `fuzz/corpus/<target>/` and every freshly generated seed goes through its target's
//! entry function, so each seed, and each crash input kept there after a fix, is a regression
//! test in the ordinary `cargo test` run.

use std::path::{Path, PathBuf};

/// A fuzz target: its corpus directory name and entry function.
pub type Target = (&'static str, fn(&[u8]));

/// Replays every file of every target's corpus directory under `corpus_root`; each directory
/// must hold at least one file.
pub fn replay_corpus(corpus_root: &Path, targets: &[Target]) {
    for (target, run) in targets {
        let dir = corpus_root.join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} holds no corpus file", dir.display());
        for path in files {
            run(&std::fs::read(&path).unwrap());
        }
    }
}

/// Runs freshly generated seeds `(target, bytes)` through their targets, in case the checked-in
/// ones are stale; every target must have at least one seed.
pub fn replay_seeds<'a>(targets: &[Target], seeds: impl IntoIterator<Item = (&'a str, &'a [u8])>) {
    let seeds: Vec<(&str, &[u8])> = seeds.into_iter().collect();
    for (target, run) in targets {
        let mine: Vec<&[u8]> = seeds
            .iter()
            .filter(|(name, _)| name == target)
            .map(|(_, bytes)| *bytes)
            .collect();
        assert!(!mine.is_empty(), "{target} has no seed");
        for bytes in mine {
            run(bytes);
        }
    }
}

/// Runs every target on empty and short inputs (all zeros, all ones), the edge a corpus of
/// realistic seeds misses.
pub fn replay_short_inputs(targets: &[Target]) {
    for (_, run) in targets {
        for len in 0..8 {
            run(&vec![0u8; len]);
            run(&vec![0xff; len]);
        }
    }
}
