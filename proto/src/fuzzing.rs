//! Entry points of the cargo-fuzz targets `decode_client_frame` and `decode_server_frame` in
//! `fuzz/`, shared with the corpus replay test (`tests/fuzz_corpus.rs`), and the seed corpus they
//! start from.
//!
//! An input is `[split, limit, stream...]`: `stream` is a byte stream of frames, `limit` picks the
//! decoder's body limit (`0` is [`MAX_FRAME_LEN`], `n` is `16 * n` bytes, so the oversize paths are
//! reachable with short inputs) and `split` picks where the stream is cut into two pushes. Every
//! entry function returns normally for every input; it panics only through an `assert!` on a
//! library invariant, which is the bug the fuzzer reports:
//!
//! - every frame that decodes re-encodes to exactly the bytes it came from (one encoding per
//!   frame: a prober cannot make two byte strings mean the same frame);
//! - [`decode_body`] on those bytes agrees with [`FrameDecoder`];
//! - the stream decodes to the same frames and the same error whether it arrives whole or in two
//!   pieces;
//! - once every complete frame is taken, a working decoder holds at most one prefix plus one body
//!   of at most the limit; a failed decoder stays failed and buffers nothing more (nothing at all
//!   after an oversize prefix);
//! - ([`decode_client_frame`]) every recipient of a decoded `SendShared` gets an envelope that
//!   splits back into its part and the body, and the stream's bytes taken as an envelope split
//!   only if [`shared_envelope`] rebuilds exactly them from the pieces.

use core::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::frame::LENGTH_PREFIX_LEN;
use crate::{
    AccessKey, AccountId, Addressed, Bundle, ClientFrame, Deliveries, Delivery, DeviceListBytes, Envelope,
    EphemeralEnvelope, ErrorCode, ErrorResponse, FrameDecoder, FrameError, KEM_PUBLIC_KEY_LEN, KemPreKey,
    KemPreKeyKind, KemPreKeyUpload, KemPublicKeyBytes, MAX_FRAME_LEN, MailboxId, Membership, Memberships,
    OneTimePreKey, PreKeyUpload, Push, RegistrationToken, Request, RequestId, Response, Seq, ServerFrame,
    SharedAddressed, SharedBody, SharedDeliveries, SharedPart, Signature, SignedPreKey, decode_body,
    encode_frame, shared_envelope, split_shared_envelope,
};

/// Bytes before the stream in every input: `[split, limit]`.
pub const HEADER_LEN: usize = 2;

/// An entry function: runs one input through one fuzz target.
pub type Target = fn(&[u8]);

/// Every fuzz target of this crate by name (the name of its `fuzz/fuzz_targets/<name>.rs` and of
/// its `fuzz/corpus/<name>/` seed directory).
pub const TARGETS: &[(&str, Target)] = &[
    ("decode_client_frame", decode_client_frame),
    ("decode_server_frame", decode_server_frame),
];

/// Decodes a stream of [`ClientFrame`]s (see the module docs for the input layout and checks).
pub fn decode_client_frame(data: &[u8]) {
    let frames = decode_stream::<ClientFrame>(data);
    for frame in &frames {
        if let Request::SendShared { body, deliveries } = &frame.request {
            for addressed in deliveries.as_slice() {
                let envelope = shared_envelope(&addressed.part, body);
                let split = split_shared_envelope(envelope.as_bytes());
                assert!(
                    split.as_ref().is_ok_and(
                        |split| split.part == addressed.part.as_bytes() && split.body == body.as_bytes()
                    ),
                    "a shared envelope does not split into its part and body: {split:?}"
                );
            }
        }
    }
    if let Some(stream) = data.get(HEADER_LEN..) {
        check_split(stream);
    }
}

/// Bytes that split as a shared envelope are exactly what its pieces build.
fn check_split(bytes: &[u8]) {
    let Ok(split) = split_shared_envelope(bytes) else {
        return;
    };
    let part = SharedPart::new(split.part.to_vec());
    let body = SharedBody::new(split.body.to_vec());
    assert!(part.is_some(), "a split part over the limit");
    if let (Some(part), Some(body)) = (part, body) {
        assert_eq!(
            shared_envelope(&part, &body).as_bytes(),
            bytes,
            "a split envelope does not rebuild to its bytes"
        );
    }
}

/// Decodes a stream of [`ServerFrame`]s (see the module docs for the input layout and checks).
pub fn decode_server_frame(data: &[u8]) {
    let _ = decode_stream::<ServerFrame>(data);
}

/// The body limit an input's `limit` byte selects.
fn body_limit(selector: u8) -> u32 {
    match selector {
        0 => MAX_FRAME_LEN,
        n => u32::from(n) * 16,
    }
}

/// What a stream decoded to: its frames in order, then the error that stopped it, if any.
#[derive(Debug, PartialEq)]
struct Decoded<T> {
    frames: Vec<T>,
    error: Option<FrameError>,
}

/// Runs the stream checks; returns the frames the whole stream decoded to.
fn decode_stream<T>(data: &[u8]) -> Vec<T>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let [split, limit, stream @ ..] = data else {
        return Vec::new();
    };
    let max = body_limit(*limit);
    let (first, second) = stream.split_at(usize::from(*split) % (stream.len() + 1));
    let in_pieces = decode_pieces::<T>(&[first, second], stream, max);
    let whole = decode_pieces::<T>(&[stream], stream, max);
    assert_eq!(
        in_pieces,
        whole,
        "the stream decodes differently when split at {}",
        first.len()
    );
    whole.frames
}

/// Pushes `pieces` (which concatenate to `stream`) one at a time, taking every complete frame
/// after each, and checks each frame against the bytes of `stream` it came from.
fn decode_pieces<T>(pieces: &[&[u8]], stream: &[u8], max: u32) -> Decoded<T>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let mut decoder = FrameDecoder::new(max);
    let mut decoded = Decoded {
        frames: Vec::new(),
        error: None,
    };
    // Where the next frame starts in `stream`.
    let mut offset = 0;
    'pieces: for piece in pieces {
        if let Err(error) = decoder.push(piece) {
            decoded.error = Some(error);
            break;
        }
        loop {
            match decoder.next_frame::<T>() {
                Ok(Some(frame)) => {
                    offset = check_canonical(&frame, stream, offset, max);
                    decoded.frames.push(frame);
                }
                Ok(None) => break,
                Err(error) => {
                    decoded.error = Some(error);
                    break 'pieces;
                }
            }
        }
        // Only an incomplete frame is left.
        assert!(
            decoder.buffered() <= LENGTH_PREFIX_LEN + max as usize,
            "the decoder holds {} bytes with every complete frame taken (limit {max})",
            decoder.buffered()
        );
    }
    if let Some(error) = &decoded.error {
        let held = decoder.buffered();
        if matches!(error, FrameError::TooLarge { .. }) {
            assert_eq!(held, 0, "an oversize prefix left its bytes buffered");
        }
        assert_eq!(
            decoder.push(&[0; 8]).as_ref(),
            Err(error),
            "a failed decoder took bytes"
        );
        assert_eq!(
            decoder.next_frame::<T>().as_ref(),
            Err(error),
            "a failed decoder produced a frame"
        );
        assert_eq!(decoder.buffered(), held, "a failed decoder buffered more bytes");
    }
    decoded
}

/// Checks that `frame`, decoded from the frame starting at `offset` of `stream`, encodes to
/// exactly those bytes and that [`decode_body`] agrees; returns where the next frame starts.
fn check_canonical<T>(frame: &T, stream: &[u8], offset: usize, max: u32) -> usize
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let source = stream.get(offset..).and_then(|rest| {
        let prefix = rest.first_chunk::<LENGTH_PREFIX_LEN>()?;
        let length = usize::try_from(u32::from_be_bytes(*prefix)).ok()?;
        rest.get(..LENGTH_PREFIX_LEN.checked_add(length)?)
    });
    let encoded = encode_frame(frame, max).ok();
    assert_eq!(
        encoded.as_deref(),
        source,
        "a decoded frame does not re-encode to the bytes it came from: {frame:?}"
    );
    let body = source.and_then(|source| source.get(LENGTH_PREFIX_LEN..));
    let redecoded = body.map(decode_body::<T>);
    assert!(
        matches!(&redecoded, Some(Ok(again)) if again == frame),
        "decode_body disagrees with the decoder: {redecoded:?}"
    );
    offset + source.map_or(0, <[u8]>::len)
}

// ---------------------------------------------------------------------------------------------
// Seed corpus.

#[path = "../../fuzz/seed.rs"]
mod seed;
pub use seed::Seed;

/// One genuine frame of every request kind.
#[allow(clippy::expect_used)]
fn sample_client_frames() -> Vec<(&'static str, ClientFrame)> {
    let envelope = |len: usize, fill: u8| Envelope::new(vec![fill; len]).expect("under the envelope limit");
    let signed_prekey = SignedPreKey {
        id: 7,
        created_at: 1_700_000_000,
        key: [0x11; 32],
        signature: Signature([0x22; 64]),
    };
    let requests = [
        (
            "authenticate",
            Request::Authenticate {
                identity_key: [0x33; 32],
                signature: Signature([0x44; 64]),
                registration: None,
            },
        ),
        (
            "authenticate_with_token",
            Request::Authenticate {
                identity_key: [0x33; 32],
                signature: Signature([0x44; 64]),
                registration: Some(RegistrationToken {
                    expires_at: 1_800_000_000,
                    signature: Signature([0x55; 64]),
                }),
            },
        ),
        (
            "upload_prekeys",
            Request::UploadPreKeys {
                signed_prekey,
                one_time_prekeys: PreKeyUpload::new(
                    (1..=3)
                        .map(|id| OneTimePreKey {
                            id,
                            key: [0x60 + id as u8; 32],
                        })
                        .collect(),
                )
                .expect("under the upload limit"),
            },
        ),
        (
            "fetch_bundle",
            Request::FetchBundle {
                mailbox: MailboxId([0x77; 32]),
                access: None,
            },
        ),
        (
            "fetch_bundle_with_access_key",
            Request::FetchBundle {
                mailbox: MailboxId([0x77; 32]),
                access: Some(AccessKey([0x7A; 32])),
            },
        ),
        (
            "send",
            Request::Send {
                to: MailboxId([0x88; 32]),
                access: None,
                envelope: envelope(40, 0x99),
            },
        ),
        (
            "send_with_access_key",
            Request::Send {
                to: MailboxId([0x88; 32]),
                access: Some(AccessKey([0x8A; 32])),
                envelope: envelope(40, 0x99),
            },
        ),
        (
            "send_many",
            Request::SendMany {
                deliveries: Deliveries::new(vec![
                    Addressed {
                        to: MailboxId([0x88; 32]),
                        access: None,
                        envelope: envelope(3, 1),
                    },
                    Addressed {
                        to: MailboxId([0x89; 32]),
                        access: Some(AccessKey([0x8B; 32])),
                        envelope: envelope(200, 2),
                    },
                ])
                .expect("under the recipient limit"),
            },
        ),
        ("ack", Request::Ack { through: Seq(300) }),
        ("delete_mailbox", Request::DeleteMailbox),
        ("ping", Request::Ping),
        (
            "set_access_key",
            Request::SetAccessKey {
                key: Some(AccessKey([0x9A; 32])),
            },
        ),
        ("clear_access_key", Request::SetAccessKey { key: None }),
        (
            "report",
            Request::Report {
                mailbox: MailboxId([0x9B; 32]),
            },
        ),
        (
            "publish_device_list",
            Request::PublishDeviceList {
                list: DeviceListBytes::new(vec![0x02; crate::MAX_DEVICE_LIST_LEN])
                    .expect("at the list limit"),
                membership: Signature([0x9C; 64]),
            },
        ),
        (
            "fetch_device_list",
            Request::FetchDeviceList {
                account: AccountId([0x9D; 32]),
            },
        ),
        (
            "send_shared",
            Request::SendShared {
                body: SharedBody::new(vec![0xC1; 300]).expect("under the body limit"),
                deliveries: SharedDeliveries::new(vec![
                    SharedAddressed {
                        to: MailboxId([0x88; 32]),
                        access: None,
                        part: SharedPart::new(vec![0xC2; 100]).expect("under the part limit"),
                    },
                    SharedAddressed {
                        to: MailboxId([0x89; 32]),
                        access: Some(AccessKey([0x8B; 32])),
                        part: SharedPart::new(vec![0xC3; crate::MAX_SHARED_PART_LEN])
                            .expect("at the part limit"),
                    },
                ])
                .expect("under the recipient limit"),
            },
        ),
        (
            "send_ephemeral",
            Request::SendEphemeral {
                to: MailboxId([0x88; 32]),
                access: Some(AccessKey([0x8A; 32])),
                envelope: EphemeralEnvelope::new(vec![0xC4; 40]).expect("under the ephemeral limit"),
            },
        ),
        (
            "upload_kem_prekeys",
            Request::UploadKemPreKeys {
                last_resort: Some(sample_kem_prekey(KemPreKeyKind::LastResort, 7, 0xD0)),
                one_time: KemPreKeyUpload::new(
                    (1..=2)
                        .map(|id| sample_kem_prekey(KemPreKeyKind::OneTime, id, 0xD0 + id as u8))
                        .collect(),
                )
                .expect("under the upload limit"),
            },
        ),
        (
            "upload_kem_prekeys_one_time_only",
            Request::UploadKemPreKeys {
                last_resort: None,
                one_time: KemPreKeyUpload::new(vec![sample_kem_prekey(KemPreKeyKind::OneTime, 300, 0xD5)])
                    .expect("under the upload limit"),
            },
        ),
    ];
    requests
        .into_iter()
        .zip(1..)
        .map(|((name, request), id)| {
            (
                name,
                ClientFrame {
                    id: RequestId(id),
                    request,
                },
            )
        })
        .collect()
}

/// One genuine frame of every response, error and push kind.
#[allow(clippy::expect_used)]
fn sample_server_frames() -> Vec<(&'static str, ServerFrame)> {
    let response = |id: u32, result: Result<Response, ErrorResponse>| ServerFrame::Response {
        id: RequestId(id),
        result,
    };
    let signed_prekey = SignedPreKey {
        id: 7,
        created_at: 1_700_000_000,
        key: [0x11; 32],
        signature: Signature([0x22; 64]),
    };
    let bundle = |one_time_prekey| Bundle {
        identity_key: [0x33; 32],
        signed_prekey: signed_prekey.clone(),
        one_time_prekey,
        kem_prekey: None,
    };
    vec![
        (
            "authenticated",
            response(
                1,
                Ok(Response::Authenticated {
                    mailbox: MailboxId([0x77; 32]),
                    one_time_prekeys: 12,
                }),
            ),
        ),
        (
            "prekeys_stored",
            response(
                2,
                Ok(Response::PreKeysStored {
                    one_time_prekeys: 500,
                }),
            ),
        ),
        (
            "bundle",
            response(
                3,
                Ok(Response::Bundle(bundle(Some(OneTimePreKey {
                    id: 9,
                    key: [0x66; 32],
                })))),
            ),
        ),
        (
            "bundle_without_one_time",
            response(4, Ok(Response::Bundle(bundle(None)))),
        ),
        ("stored", response(5, Ok(Response::Stored))),
        ("acked", response(6, Ok(Response::Acked { deleted: 130 }))),
        ("mailbox_deleted", response(7, Ok(Response::MailboxDeleted))),
        ("pong", response(u32::MAX, Ok(Response::Pong))),
        ("access_key_set", response(11, Ok(Response::AccessKeySet))),
        ("reported", response(12, Ok(Response::Reported))),
        (
            "error_access_denied",
            response(
                13,
                Err(ErrorResponse {
                    code: ErrorCode::AccessDenied,
                    detail: "access key does not match".into(),
                }),
            ),
        ),
        (
            "error",
            response(
                9,
                Err(ErrorResponse {
                    code: ErrorCode::UnknownSequence,
                    detail: "sequence number not delivered on this connection".into(),
                }),
            ),
        ),
        (
            "error_internal",
            response(
                10,
                Err(ErrorResponse {
                    code: ErrorCode::Internal,
                    detail: String::new(),
                }),
            ),
        ),
        (
            "challenge",
            ServerFrame::Push(Push::Challenge { nonce: [0xAA; 32] }),
        ),
        (
            "deliver",
            ServerFrame::Push(Push::Deliver(Delivery {
                seq: Seq(1 << 40),
                received_at: 1_700_000_000,
                envelope: Envelope::new(vec![0xBB; 300]).expect("under the envelope limit"),
            })),
        ),
        (
            "prekeys_low",
            ServerFrame::Push(Push::PreKeysLow { remaining: 3 }),
        ),
        ("device_list_stored", response(14, Ok(Response::DeviceListStored))),
        (
            "device_list",
            response(
                15,
                Ok(Response::DeviceList {
                    list: DeviceListBytes::new(vec![0x06; 148]).expect("under the list limit"),
                    memberships: Memberships::new(vec![
                        Membership {
                            identity_key: [0x9E; 32],
                            signature: Signature([0x9F; 64]),
                        };
                        crate::MAX_DEVICES
                    ])
                    .expect("at the membership limit"),
                }),
            ),
        ),
        (
            "error_stale_device_list",
            response(
                16,
                Err(ErrorResponse {
                    code: ErrorCode::StaleDeviceList,
                    detail: "device list counter does not grow".into(),
                }),
            ),
        ),
        ("ephemeral_pushed", response(17, Ok(Response::EphemeralPushed))),
        ("ephemeral_dropped", response(18, Ok(Response::EphemeralDropped))),
        (
            "ephemeral",
            ServerFrame::Push(Push::Ephemeral {
                envelope: EphemeralEnvelope::new(vec![0xC5; 24]).expect("under the ephemeral limit"),
            }),
        ),
        (
            "bundle_with_kem_prekey",
            response(
                19,
                Ok(Response::Bundle(Bundle {
                    kem_prekey: Some(Box::new(sample_kem_prekey(KemPreKeyKind::OneTime, 5, 0xD6))),
                    ..bundle(None)
                })),
            ),
        ),
        (
            "bundle_with_last_resort_kem_prekey",
            response(
                20,
                Ok(Response::Bundle(Bundle {
                    kem_prekey: Some(Box::new(sample_kem_prekey(KemPreKeyKind::LastResort, 7, 0xD7))),
                    ..bundle(Some(OneTimePreKey {
                        id: 9,
                        key: [0x66; 32],
                    }))
                })),
            ),
        ),
        (
            "kem_prekeys_stored",
            response(
                21,
                Ok(Response::KemPreKeysStored {
                    one_time_kem_prekeys: 200,
                }),
            ),
        ),
        (
            "kem_prekeys_low",
            ServerFrame::Push(Push::KemPreKeysLow { remaining: 4 }),
        ),
    ]
}

/// A KEM prekey sample: its key bytes all `fill` (the frame layer does not parse keys).
fn sample_kem_prekey(kind: KemPreKeyKind, id: u32, fill: u8) -> KemPreKey {
    KemPreKey {
        kind,
        id,
        key: KemPublicKeyBytes(Box::new([fill; KEM_PUBLIC_KEY_LEN])),
        signature: Signature([fill ^ 0xFF; 64]),
    }
}

/// The seed corpus: each sample frame alone (split inside it), all of them in one stream, and
/// the stream again under a limit some frames break. Deterministic.
#[allow(clippy::expect_used)]
pub fn seed_corpus() -> Vec<Seed> {
    fn add_target<T: Serialize>(seeds: &mut Vec<Seed>, target: &'static str, frames: &[(&'static str, T)]) {
        let mut all = Vec::new();
        for (index, (name, frame)) in frames.iter().enumerate() {
            let bytes = encode_frame(frame, MAX_FRAME_LEN).expect("sample frames are under the limit");
            all.extend_from_slice(&bytes);
            // Splits at different places: inside the prefix, inside the body, at the end.
            let split = (index * 5 % 64) as u8;
            let mut input = vec![split, 0];
            input.extend_from_slice(&bytes);
            seeds.push(Seed {
                target,
                name: (*name).to_owned(),
                bytes: input,
            });
        }
        for (name, header) in [("all", [100, 0]), ("all_limit_256", [37, 16])] {
            let mut input = header.to_vec();
            input.extend_from_slice(&all);
            seeds.push(Seed {
                target,
                name: name.to_owned(),
                bytes: input,
            });
        }
    }
    let mut seeds = Vec::new();
    add_target(&mut seeds, "decode_client_frame", &sample_client_frames());
    add_target(&mut seeds, "decode_server_frame", &sample_server_frames());
    // A shared envelope as the stream itself, for the split check.
    let envelope = shared_envelope(
        &SharedPart::new(vec![0xC6; 130]).expect("under the part limit"),
        &SharedBody::new(vec![0xC7; 20]).expect("under the body limit"),
    );
    let mut input = vec![0, 0];
    input.extend_from_slice(envelope.as_bytes());
    seeds.push(Seed {
        target: "decode_client_frame",
        name: "shared_envelope".to_owned(),
        bytes: input,
    });
    seeds
}
