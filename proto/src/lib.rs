//! # hush-proto
//!
//! The client–relay wire format, with no I/O. A connection is QUIC with ALPN [`ALPN`]
//! (`hush/6`, which carries the version). The client opens one bidirectional stream; each side
//! writes [frames](frame): a big-endian `u32` body length, then the body, a
//! [postcard](https://docs.rs/postcard) encoding of [`ClientFrame`] (client to relay) or
//! [`ServerFrame`] (relay to client). The length is checked against [`MAX_FRAME_LEN`] (or a
//! lower configured limit) before anything is buffered. `PROTOCOL.md` in this crate's folder
//! describes every message.
//!
//! ```
//! use hush_proto::{ClientFrame, FrameDecoder, MailboxId, Request, RequestId, encode_frame, MAX_FRAME_LEN};
//!
//! let frame = ClientFrame { id: RequestId(7), request: Request::FetchBundle { mailbox: MailboxId([1; 32]), access: None } };
//! let bytes = encode_frame(&frame, MAX_FRAME_LEN).unwrap();
//!
//! let mut decoder = FrameDecoder::new(MAX_FRAME_LEN);
//! decoder.push(&bytes).unwrap();
//! let decoded: ClientFrame = decoder.next_frame().unwrap().unwrap();
//! assert_eq!(decoded, frame);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bytes;
mod devices;
mod error;
pub mod frame;
/// Entry points of the cargo-fuzz targets in `fuzz/` and their seed corpus.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod kem;
mod messages;
mod registration;
mod shared;
mod types;

pub use bytes::LimitedBytes;
pub use devices::{AccountId, DeviceListBytes, MAX_DEVICE_LIST_LEN, MAX_DEVICES, Membership, Memberships};
pub use error::FrameError;
pub use frame::{FrameDecoder, decode_body, encode_frame, encode_frame_into, parse_length};
pub use kem::{
    KEM_PUBLIC_KEY_LEN, KemPreKey, KemPreKeyKind, KemPreKeyUpload, KemPublicKeyBytes,
    MAX_KEM_PREKEYS_PER_UPLOAD,
};
pub use messages::{
    AUTH_LABEL, ClientFrame, Delivery, ErrorCode, ErrorResponse, Push, Request, Response, ServerFrame,
    auth_transcript,
};
pub use registration::{REGISTRATION_TOKEN_PREFIX, RegistrationTokenError};
pub use shared::{
    MAX_SHARED_BODY_LEN, MAX_SHARED_PART_LEN, SHARED_ENVELOPE_OVERHEAD, SHARED_ENVELOPE_TAG, SharedAddressed,
    SharedBody, SharedDeliveries, SharedEnvelope, SharedEnvelopeError, SharedPart, shared_envelope,
    split_shared_envelope,
};
pub use types::{
    ACCESS_KEY_LABEL, AccessKey, Addressed, BoundedVec, Bundle, Deliveries, Envelope, MAILBOX_LABEL,
    MailboxId, OneTimePreKey, PreKeyUpload, REGISTRATION_LABEL, RegistrationToken, RequestId, Seq, Signature,
    SignedPreKey, registration_message,
};

/// ALPN protocol id; a new incompatible version gets a new id. Version 2 added access keys
/// (`Send`, `SendMany` and `FetchBundle` carry one; `SetAccessKey`, `Report`, `AccessDenied`);
/// version 3 added device lists (`PublishDeviceList`, `FetchDeviceList`, `DeviceListStored`,
/// `DeviceList`, `StaleDeviceList`); version 4 added the shared and the ephemeral send
/// (`SendShared`, `SendEphemeral`, `EphemeralPushed`, `EphemeralDropped`, `Push::Ephemeral`);
/// version 5 added KEM prekeys for PQXDH (`UploadKemPreKeys`, `KemPreKeysStored`,
/// `Push::KemPreKeysLow`, and the bundle's KEM prekey).
pub const ALPN: &[u8] = b"hush/6";

/// Hard ceiling on a frame body. A hush-crypto message is at most 1 MiB of plaintext plus about
/// 1 KiB of headers; 64 KiB more leaves room for the frame's own fields. Relays may enforce less.
pub const MAX_FRAME_LEN: u32 = (1 << 20) + (64 << 10);

/// Largest envelope (opaque ciphertext) a frame may carry.
pub const MAX_ENVELOPE_LEN: usize = (1 << 20) + 2048;

/// Most one-time prekeys in one upload (Signal uploads 100 at a time).
pub const MAX_PREKEYS_PER_UPLOAD: usize = 100;

/// Below this many one-time prekeys on the relay, their owner uploads more: the relay pushes
/// `PreKeysLow` under it (its default `prekey_low_threshold`), and the client tops up when its
/// login answer or an upload answer reports fewer. One number for both, so the relay does not
/// push for counts the client would ignore, and the client's login check does not wait for a
/// push that comes later. At 25 of the 100 a client uploads, a quarter of its stock is left for
/// the claims made while its owner is offline before bundles come without one.
pub const PREKEY_LOW_THRESHOLD: u32 = 25;

/// Most recipients of one `SendMany` request (a large group's devices).
pub const MAX_RECIPIENTS_PER_SEND: usize = 1000;

/// Longest ephemeral envelope (typing, presence: a sealed payload of a few bytes). Small, so a
/// connection's ephemeral rate limit bounds the bytes it can push to others without storage.
pub const MAX_EPHEMERAL_LEN: usize = 4096;

/// The ciphertext of an ephemeral send.
pub type EphemeralEnvelope = LimitedBytes<MAX_EPHEMERAL_LEN>;

/// Longest human-readable error detail a relay sends.
pub const MAX_ERROR_DETAIL_LEN: usize = 256;
