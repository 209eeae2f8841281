//! Entry points of the cargo-fuzz targets `client_payload`, `parse_address`, `client_receive`,
//! `decode_group_update` and `decode_ephemeral`
//! in `fuzz/`, shared with the corpus replay test (`tests/fuzz_corpus.rs`), and the seed corpus
//! they start from.
//!
//! Every entry function takes arbitrary bytes and returns normally for every input; it panics
//! only through an `assert!` on an invariant, which is the bug the fuzzer reports:
//!
//! - `client_payload`: whatever [`Payload::decode`] accepts encodes, no longer than the input,
//!   and decodes again to the same payload;
//! - `parse_address`: whatever text parses as an [`Address`] is its display form up to ASCII case
//!   and surrounding whitespace, and the display form parses back to the same address;
//! - `client_receive`: Bob's core, restored from a fixed snapshot in which he holds a session
//!   with Alice (and waits on a bundle of Carol's and the relay's answer to a send), runs a
//!   sequence of [`Op`]s decoded from the input: hostile or mutated envelopes, genuine ones
//!   (in any order, twice), arbitrary relay answers to his pending requests, timers, reconnects,
//!   prekey pushes, sends and read marks. See [`client_receive`] for what must hold;
//! - `decode_group_update`: whatever [`crate::groups::GroupUpdate::from_bytes`] accepts
//!   re-encodes to the input, and a group log takes or refuses it without a panic, changing
//!   nothing on refusal and never lowering the version;
//! - `decode_group_control`: whatever [`crate::groups::GroupControl::decode`] accepts encodes
//!   back to the input.
//! - `decode_ephemeral`: whatever [`crate::Ephemeral::decode`] accepts re-encodes to the input.
//!
//! The fixture is built once per process by driving three cores (Alice, Bob, Carol) by hand
//! from seeded RNGs and a fixed clock, so the seed corpus in `fuzz/corpus/<target>/` keeps
//! matching it.

mod ephemeral;
mod fixture;
mod groups;
mod ops;
mod receive;
mod seeds;

use hush_proto::ErrorCode;
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use self::ephemeral::decode_ephemeral;
use crate::address::Address;
use crate::content::Payload;

pub use groups::{decode_group_control, decode_group_update};
pub use ops::{Answer, Op, decode_ops, encode_ops};
pub use receive::client_receive;
pub use seeds::{Seed, seed_corpus};

/// The fixed clock the fixture starts at (Unix milliseconds).
pub const NOW: u64 = 1_700_000_000_000;

/// Most operations one `client_receive` input runs, so one input stays fast.
pub const MAX_OPS: usize = 64;

/// An entry function: runs one input through one fuzz target.
pub type Target = fn(&[u8]);

/// Every fuzz target of this crate by name (the name of its `fuzz/fuzz_targets/<name>.rs` and
/// of its `fuzz/corpus/<name>/` seed directory).
pub const TARGETS: &[(&str, Target)] = &[
    ("client_payload", client_payload),
    ("parse_address", parse_address),
    ("client_receive", client_receive),
    ("decode_group_update", decode_group_update),
    ("decode_group_control", decode_group_control),
    ("decode_ephemeral", decode_ephemeral),
];

/// The error codes [`Answer::Error`] picks from.
pub const ERROR_CODES: [ErrorCode; 11] = [
    ErrorCode::Unauthorized,
    ErrorCode::RegistrationRequired,
    ErrorCode::Invalid,
    ErrorCode::NotFound,
    ErrorCode::TooManyPreKeys,
    ErrorCode::QuotaExceeded,
    ErrorCode::RateLimited,
    ErrorCode::UnknownSequence,
    ErrorCode::ShuttingDown,
    ErrorCode::Internal,
    ErrorCode::AccessDenied,
];

fn rng(seed: u64) -> Box<StdRng> {
    Box::new(StdRng::seed_from_u64(seed))
}

// ---------------------------------------------------------------------------------------------
// Payloads and addresses.

/// Decodes a [`Payload`]; if it decodes, it must encode (the limits decode enforces are the ones
/// encode does), no longer than the input (overlong varints shrink), and decode back to itself.
pub fn client_payload(data: &[u8]) {
    let Ok(payload) = Payload::decode(data) else {
        return;
    };
    let encoded = payload.encode();
    assert!(encoded.is_ok(), "a decoded payload does not encode: {encoded:?}");
    if let Ok(encoded) = encoded {
        assert!(
            encoded.len() <= data.len(),
            "a payload re-encodes longer than it came"
        );
        assert_eq!(
            Payload::decode(&encoded).as_ref(),
            Ok(&payload),
            "a payload does not survive a round trip"
        );
    }
}

/// Parses UTF-8 input as an [`Address`]; if it parses, the text is the display form up to ASCII
/// case and surrounding whitespace, and the display form parses to the same address.
pub fn parse_address(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(address) = text.parse::<Address>() else {
        return;
    };
    let shown = address.to_string();
    assert!(
        shown.eq_ignore_ascii_case(text.trim()),
        "{text:?} parsed as {shown}, which is not its text form"
    );
    assert_eq!(
        shown.parse::<Address>().as_ref(),
        Ok(&address),
        "an address's text form does not parse back"
    );
}
