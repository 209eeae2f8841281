#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Encoding and decoding a relay push (`Deliver` of a 256-byte envelope), the relay's per-message
//! framing work, against a baseline in the same run: the same frame shape with the envelope as
//! a plain `Vec<u8>` field converted on the way in and out, and encoded into its own buffer and
//! then copied, as hush-proto did before byte strings and `encode_frame_into`.
//!
//! A small custom harness (no criterion): timed runs of the two alternate, the median ns per frame
//! of each is reported, and the last line is
//! `RATIO frames current=<ns> baseline=<ns> speedup=<baseline/current>`.
//! `HUSH_BENCH_ROUNDS` (default 15) overrides the rounds.

use std::hint::black_box;
use std::time::Instant;

use hush_proto::{Delivery, Envelope, MAX_FRAME_LEN, Push, Seq, ServerFrame, decode_body, encode_frame_into};
use serde::{Deserialize, Serialize};

const FRAMES_PER_RUN: usize = 200_000;
const ENVELOPE_LEN: usize = 256;

/// The envelope as hush-proto had it: a `Vec<u8>` seen through `try_from` / `into`, that is a
/// sequence of `u8` and a clone per encode.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<u8>", into = "Vec<u8>")]
struct OldEnvelope(Vec<u8>);

impl TryFrom<Vec<u8>> for OldEnvelope {
    type Error = &'static str;
    fn try_from(bytes: Vec<u8>) -> Result<Self, Self::Error> {
        (bytes.len() <= hush_proto::MAX_ENVELOPE_LEN)
            .then_some(Self(bytes))
            .ok_or("over the limit")
    }
}

impl From<OldEnvelope> for Vec<u8> {
    fn from(envelope: OldEnvelope) -> Self {
        envelope.0
    }
}

/// `ServerFrame::Push(Push::Deliver(..))` with the old envelope: the same enum indexes, so the
/// same bytes on the wire.
#[derive(PartialEq, Eq, Serialize, Deserialize)]
enum OldServerFrame {
    Response,
    Push(OldPush),
}

#[derive(PartialEq, Eq, Serialize, Deserialize)]
enum OldPush {
    Challenge,
    Deliver {
        seq: u64,
        received_at: u64,
        envelope: OldEnvelope,
    },
}

fn current(frame: &ServerFrame, buffer: &mut Vec<u8>) -> usize {
    buffer.clear();
    encode_frame_into(frame, MAX_FRAME_LEN, buffer).unwrap();
    let body = buffer.get(4..).unwrap();
    let decoded: ServerFrame = decode_body(body).unwrap();
    black_box(&decoded);
    buffer.len()
}

fn baseline(frame: &OldServerFrame, buffer: &mut Vec<u8>) -> usize {
    buffer.clear();
    // `encode_frame` as it was: the body in its own vector, copied into the frame, then into the
    // writer's buffer.
    let body = postcard::to_allocvec(frame).unwrap();
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&body);
    buffer.extend_from_slice(&out);
    let decoded: OldServerFrame = decode_body(buffer.get(4..).unwrap()).unwrap();
    black_box(&decoded);
    buffer.len()
}

fn time(mut run: impl FnMut() -> usize) -> f64 {
    let started = Instant::now();
    let mut bytes = 0;
    for _ in 0..FRAMES_PER_RUN {
        bytes += run();
    }
    black_box(bytes);
    started.elapsed().as_nanos() as f64 / FRAMES_PER_RUN as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let rounds = std::env::var("HUSH_BENCH_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(15usize);
    let payload: Vec<u8> = (0..ENVELOPE_LEN).map(|i| (i * 7) as u8).collect();
    let new_frame = ServerFrame::Push(Push::Deliver(Delivery {
        seq: Seq(1_000_000),
        received_at: 1_764_000_000,
        envelope: Envelope::new(payload.clone()).unwrap(),
    }));
    let old_frame = OldServerFrame::Push(OldPush::Deliver {
        seq: 1_000_000,
        received_at: 1_764_000_000,
        envelope: OldEnvelope(payload),
    });
    let mut new_bytes = Vec::new();
    let mut old_bytes = Vec::new();
    current(&new_frame, &mut new_bytes);
    baseline(&old_frame, &mut old_bytes);
    assert_eq!(new_bytes, old_bytes, "both encode the same frame");
    let (mut new_ns, mut old_ns) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so drift in machine load hits both alike.
        if round % 2 == 0 {
            new_ns.push(time(|| current(&new_frame, &mut new_bytes)));
            old_ns.push(time(|| baseline(&old_frame, &mut old_bytes)));
        } else {
            old_ns.push(time(|| baseline(&old_frame, &mut old_bytes)));
            new_ns.push(time(|| current(&new_frame, &mut new_bytes)));
        }
    }
    let (new, old) = (median(new_ns), median(old_ns));
    println!(
        "encode+decode of a Deliver push with a {ENVELOPE_LEN}-byte envelope, median of {rounds} rounds of {FRAMES_PER_RUN}:"
    );
    println!("  current  (byte string, encoded in place): {new:.0} ns/frame");
    println!("  baseline (sequence of u8, copied twice):  {old:.0} ns/frame");
    println!(
        "RATIO frames current={new:.0} baseline={old:.0} speedup={:.2}",
        old / new
    );
}
