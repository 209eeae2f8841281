//! Security properties of X3DH and session set-up, one file per property: the "X3DH / sessions"
//! lines of `SECURITY-TESTS.md`, mapped to their tests in test-vectors/README.md.
//!
//! This file: the byte layouts of bundles and pre-key messages, and helpers the files share.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../common/mod.rs"]
mod common;

mod bundle_verification;
mod initial_message_replay;
mod prekey_rotation;
mod refused_initial_messages;
mod several_initial_messages;
mod simultaneous_initiation;
mod stale_sessions;
mod unsupported_versions;
mod weak_keys;
mod wrong_recipient;

use hush_crypto::{DecodeError, PreKeyMessage, SessionMessage};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

// Byte layout of an encoded `PreKeyBundle` (test-vectors/SPEC.md): version, type, identity key,
// u32 signed prekey id, u64 created_at, signed prekey, signature, flag, u32 one-time prekey id,
// one-time prekey.
const BUNDLE_IDENTITY: core::ops::Range<usize> = 2..34;
const BUNDLE_SIGNED_PREKEY: core::ops::Range<usize> = 46..78;
const BUNDLE_ONE_TIME_PREKEY: core::ops::Range<usize> = 147..179;

// Byte layout of an encoded `PreKeyMessage`: version, type, identity key, base key, u32 signed
// prekey id, flag, [u32 one-time prekey id], u16 len || sender address, u32 len || message.
const PREKEY_IDENTITY: core::ops::Range<usize> = 2..34;
const PREKEY_BASE_KEY: core::ops::Range<usize> = 34..66;
const PREKEY_SIGNED_PREKEY_ID: core::ops::Range<usize> = 66..70;
const PREKEY_ONE_TIME_PREKEY_ID: core::ops::Range<usize> = 71..75;

// Byte layout of an encoded `Message`: version, type, ratchet key, ...
const MESSAGE_RATCHET_KEY: core::ops::Range<usize> = 2..34;

/// Where the sender address sits in an encoded pre-key message.
fn address_range(message: &PreKeyMessage) -> core::ops::Range<usize> {
    let start = if message.one_time_prekey_id().is_some() {
        75
    } else {
        71
    } + 2;
    start..start + message.sender_address().len()
}

/// Where the inner ratchet message starts in an encoded pre-key message.
fn inner_start(message: &PreKeyMessage) -> usize {
    address_range(message).end + 4
}

fn decode_prekey(bytes: &[u8]) -> Result<PreKeyMessage, DecodeError> {
    match SessionMessage::from_bytes(bytes)? {
        SessionMessage::PreKey(message) => Ok(message),
        SessionMessage::Normal(_) => panic!("a pre-key message decoded as a normal one"),
    }
}

fn with_bytes(bytes: &[u8], range: core::ops::Range<usize>, replacement: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[range].copy_from_slice(replacement);
    out
}
