#![cfg(feature = "fuzzing")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through every hush-client-core
//! fuzz target's entry function, so each seed (and each crash input added there after a fix) is
//! a regression test in the ordinary test run.

use std::path::PathBuf;

use hush_client_core::fuzzing::{Answer, MAX_OPS, Op, TARGETS, decode_ops, encode_ops, seed_corpus};

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
fn empty_and_short_inputs_pass_every_target() {
    replay::replay_short_inputs(TARGETS);
    // Every operation kind on its own, fields zero.
    for kind in 0..=u8::MAX {
        hush_client_core::fuzzing::client_receive(&[kind]);
    }
}

#[test]
fn operations_round_trip_through_their_encoding() {
    let ops = vec![
        Op::Deliver(vec![1, 2, 3]),
        Op::Genuine {
            which: 2,
            position: 300,
            mask: 1,
        },
        Op::Twice { which: 1 },
        Op::Answer {
            which: 0,
            answer: Answer::Stored,
        },
        Op::Answer {
            which: 1,
            answer: Answer::Error(3),
        },
        Op::Answer {
            which: 2,
            answer: Answer::Bundle {
                which: 0,
                position: 7,
                mask: 0x80,
            },
        },
        Op::Answer {
            which: 3,
            answer: Answer::PreKeysStored(9),
        },
        Op::Answer {
            which: 4,
            answer: Answer::Acked(1),
        },
        Op::Answer {
            which: 5,
            answer: Answer::Wire(vec![0; 5]),
        },
        Op::Timeout { step: 255 },
        Op::Reconnect { prekeys: 3 },
        Op::PreKeysLow { remaining: 1 },
        Op::Send { to: 1 },
        Op::MarkRead,
    ];
    assert_eq!(decode_ops(&encode_ops(&ops)), ops);
    // Inputs are cut at the operation limit.
    assert_eq!(decode_ops(&[8; 1000]).len(), MAX_OPS);
}
