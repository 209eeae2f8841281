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

/// The account layer's pickle seeds open as what they claim to be, so `unpickle` starts from
/// inputs that reach the restore code, not only the rejection paths.
#[test]
fn account_layer_pickle_seeds_open() {
    use hush_crypto::devices::{AccountKeyPickle, AccountSigningKey, LinkRequest, LinkRequestPickle};
    use hush_crypto::fuzzing::PICKLE_KEY;
    use hush_crypto::pickle::PickleKey;

    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/unpickle");
    let read = |name: &str| std::fs::read(corpus.join(name)).unwrap();
    let key = PickleKey::new(PICKLE_KEY);
    let account_key = AccountKeyPickle::from_encrypted(&key, &read("account_key")).unwrap();
    assert_eq!(account_key.to_plaintext_bytes(), read("account_key_plain"));
    let _ = AccountSigningKey::from_pickle(&account_key).public();
    let request = LinkRequestPickle::from_encrypted(&key, &read("link_request")).unwrap();
    assert_eq!(request.to_plaintext_bytes(), read("link_request_plain"));
    LinkRequest::from_pickle(&request).unwrap();
}
