//! `frames.json`: the client–relay frames protocol versions 4 and 5 added (proto/PROTOCOL.md,
//! "Shared sends", "Ephemeral sends" and "Prekeys": the KEM prekey upload and the bundle with its
//! KEM prekey) and the shared envelope a recipient of a shared send gets.
//!
//! No randomness: every field is fixed, so the file pins the encodings alone.

use hush_proto::{
    AccessKey, Bundle, ClientFrame, EphemeralEnvelope, FrameError, KEM_PUBLIC_KEY_LEN, KemPreKey,
    KemPreKeyKind, KemPreKeyUpload, KemPublicKeyBytes, MailboxId, OneTimePreKey, Push, Request, RequestId,
    Response, ServerFrame, SharedAddressed, SharedBody, SharedDeliveries, SharedEnvelopeError, SharedPart,
    Signature, SignedPreKey, decode_body, shared_envelope, split_shared_envelope,
};
use serde_json::{Value, json};

use crate::rng::Recorder;
use crate::util::{Refused, hex, variant};

pub const DESCRIPTION: &str = "Client-relay frames of protocol versions 4 and 5 (proto/PROTOCOL.md, \
    Frames in detail, Shared sends, Ephemeral sends, Prekeys), postcard bodies without the u32 \
    length prefix. `frames`: each decodes to its fields and encodes to its bytes; `client` frames \
    are ClientFrame { id varint, Request: 12 SendShared { body bytes, deliveries Vec<{ to [32], \
    access Option<[32]>, part bytes }> }, 13 SendEphemeral { to [32], access Option<[32]>, \
    envelope bytes }, 14 UploadKemPreKeys { last_resort Option<KemPreKey>, one_time \
    Vec<KemPreKey> (<= 100) } }, `server` frames ServerFrame: 0 Response { id, 0 Ok: 2 Bundle { \
    identity_key [32], signed_prekey { id u32, created_at u64, key [32], signature [64 as bytes] }, \
    one_time_prekey Option<{ id u32, key [32] }>, kem_prekey Option<KemPreKey> }, 11 \
    EphemeralPushed, 12 EphemeralDropped, 13 KemPreKeysStored { one_time_kem_prekeys u32 } } or 1 \
    Push: 3 Ephemeral { envelope bytes }, 4 KemPreKeysLow { remaining u32 }. KemPreKey is { kind \
    varint (0 OneTime, 1 LastResort), id u32, key bytes of exactly 1568, signature [64 as bytes] \
    }. `shared_envelopes`: the envelope \
    0xF4 || varint(len part) || part || body a recipient gets, and its split. `refused_frames` do \
    not decode (FrameError); `refused_envelopes` do not split (SharedEnvelopeError). A refused \
    input is `bytes` followed by `fill_count` copies of `fill_byte`.";

fn part(bytes: &[u8]) -> SharedPart {
    SharedPart::new(bytes.to_vec()).expect("the vectors' parts are within the limit")
}

fn body(bytes: &[u8]) -> SharedBody {
    SharedBody::new(bytes.to_vec()).expect("the vectors' bodies are within the limit")
}

fn ephemeral_envelope(bytes: &[u8]) -> EphemeralEnvelope {
    EphemeralEnvelope::new(bytes.to_vec()).expect("the vectors' envelopes are within the limit")
}

/// A KEM prekey whose key bytes are `fill`, `fill + 1`, … (the frame layer parses no key).
fn kem_prekey(kind: KemPreKeyKind, id: u32, fill: u8) -> KemPreKey {
    let mut key = [0u8; KEM_PUBLIC_KEY_LEN];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = fill.wrapping_add(i as u8);
    }
    KemPreKey {
        kind,
        id,
        key: KemPublicKeyBytes(Box::new(key)),
        signature: Signature([fill ^ 0xA5; 64]),
    }
}

fn bundle(one_time_prekey: Option<OneTimePreKey>, kem_prekey: Option<KemPreKey>) -> Bundle {
    let kem_prekey = kem_prekey.map(Box::new);
    Bundle {
        identity_key: [0x31; 32],
        signed_prekey: SignedPreKey {
            id: 300,
            created_at: 1_800_000_000,
            key: [0x32; 32],
            signature: Signature([0x33; 64]),
        },
        one_time_prekey,
        kem_prekey,
    }
}

fn client_frames() -> Vec<(&'static str, ClientFrame)> {
    let frame = |id, request| ClientFrame {
        id: RequestId(id),
        request,
    };
    vec![
        (
            "send_shared_one_recipient",
            frame(
                7,
                Request::SendShared {
                    body: body(&[1, 2, 3]),
                    deliveries: SharedDeliveries::new(vec![SharedAddressed {
                        to: MailboxId([0x11; 32]),
                        access: None,
                        part: part(&[0xaa, 0xbb]),
                    }])
                    .expect("one recipient"),
                },
            ),
        ),
        (
            "send_shared_three_recipients",
            frame(
                300,
                Request::SendShared {
                    body: body(&[0x5c; 130]),
                    deliveries: SharedDeliveries::new(vec![
                        SharedAddressed {
                            to: MailboxId([0x21; 32]),
                            access: Some(AccessKey([0x31; 32])),
                            part: part(&[]),
                        },
                        SharedAddressed {
                            to: MailboxId([0x22; 32]),
                            access: None,
                            part: part(&[0x41; 128]),
                        },
                        SharedAddressed {
                            to: MailboxId([0x23; 32]),
                            access: Some(AccessKey([0x33; 32])),
                            part: part(&[0x42; 200]),
                        },
                    ])
                    .expect("three recipients"),
                },
            ),
        ),
        (
            "send_shared_no_recipients",
            frame(
                0,
                Request::SendShared {
                    body: body(&[]),
                    deliveries: SharedDeliveries::new(Vec::new()).expect("none"),
                },
            ),
        ),
        (
            "send_ephemeral_with_access_key",
            frame(
                8,
                Request::SendEphemeral {
                    to: MailboxId([0x22; 32]),
                    access: Some(AccessKey([0x33; 32])),
                    envelope: ephemeral_envelope(b"ty"),
                },
            ),
        ),
        (
            "send_ephemeral_without_access_key",
            frame(
                128,
                Request::SendEphemeral {
                    to: MailboxId([0x24; 32]),
                    access: None,
                    envelope: ephemeral_envelope(&[0x77; 4096]),
                },
            ),
        ),
        (
            "upload_kem_prekeys_last_resort_and_one_time",
            frame(
                9,
                Request::UploadKemPreKeys {
                    last_resort: Some(kem_prekey(KemPreKeyKind::LastResort, 300, 0x10)),
                    one_time: KemPreKeyUpload::new(vec![
                        kem_prekey(KemPreKeyKind::OneTime, 1, 0x20),
                        kem_prekey(KemPreKeyKind::OneTime, 128, 0x30),
                    ])
                    .expect("two keys"),
                },
            ),
        ),
        (
            "upload_kem_prekeys_nothing",
            frame(
                10,
                Request::UploadKemPreKeys {
                    last_resort: None,
                    one_time: KemPreKeyUpload::new(Vec::new()).expect("none"),
                },
            ),
        ),
    ]
}

fn server_frames() -> Vec<(&'static str, ServerFrame)> {
    let answer = |id, response| ServerFrame::Response {
        id: RequestId(id),
        result: Ok(response),
    };
    vec![
        (
            "bundle_with_one_time_kem_prekey",
            answer(
                3,
                Response::Bundle(bundle(
                    Some(OneTimePreKey {
                        id: 5,
                        key: [0x34; 32],
                    }),
                    Some(kem_prekey(KemPreKeyKind::OneTime, 7, 0x40)),
                )),
            ),
        ),
        (
            "bundle_with_last_resort_kem_prekey",
            answer(
                4,
                Response::Bundle(bundle(
                    None,
                    Some(kem_prekey(KemPreKeyKind::LastResort, 300, 0x50)),
                )),
            ),
        ),
        (
            "bundle_without_kem_prekey",
            answer(5, Response::Bundle(bundle(None, None))),
        ),
        (
            "kem_prekeys_stored",
            answer(
                9,
                Response::KemPreKeysStored {
                    one_time_kem_prekeys: 200,
                },
            ),
        ),
        (
            "kem_prekeys_low",
            ServerFrame::Push(Push::KemPreKeysLow { remaining: 24 }),
        ),
        ("ephemeral_pushed", answer(8, Response::EphemeralPushed)),
        ("ephemeral_dropped", answer(128, Response::EphemeralDropped)),
        (
            "ephemeral_push",
            ServerFrame::Push(Push::Ephemeral {
                envelope: ephemeral_envelope(b"ty"),
            }),
        ),
    ]
}

fn kem_field(prekey: Option<&KemPreKey>) -> Value {
    prekey.map_or(Value::Null, |prekey| {
        json!({
            "kind": variant(&prekey.kind),
            "id": prekey.id,
            "key": hex(prekey.key.0.as_slice()),
            "signature": hex(&prekey.signature.0),
        })
    })
}

fn bundle_field(bundle: &Bundle) -> Value {
    json!({
        "identity_key": hex(&bundle.identity_key),
        "signed_prekey": {
            "id": bundle.signed_prekey.id,
            "created_at": bundle.signed_prekey.created_at,
            "key": hex(&bundle.signed_prekey.key),
            "signature": hex(&bundle.signed_prekey.signature.0),
        },
        "one_time_prekey": bundle.one_time_prekey.map_or(Value::Null, |otk| json!({
            "id": otk.id,
            "key": hex(&otk.key),
        })),
        "kem_prekey": kem_field(bundle.kem_prekey.as_deref()),
    })
}

fn access_field(access: Option<&AccessKey>) -> Value {
    access.map_or(Value::Null, |key| json!(hex(&key.0)))
}

/// The fields of a client frame as the file writes them.
pub fn client_fields(frame: &ClientFrame) -> Value {
    let request = match &frame.request {
        Request::SendShared { body, deliveries } => json!({
            "type": "SendShared",
            "body": hex(body.as_bytes()),
            "deliveries": deliveries.as_slice().iter().map(|addressed| json!({
                "to": hex(&addressed.to.0),
                "access": access_field(addressed.access.as_ref()),
                "part": hex(addressed.part.as_bytes()),
            })).collect::<Vec<_>>(),
        }),
        Request::SendEphemeral { to, access, envelope } => json!({
            "type": "SendEphemeral",
            "to": hex(&to.0),
            "access": access_field(access.as_ref()),
            "envelope": hex(envelope.as_bytes()),
        }),
        Request::UploadKemPreKeys {
            last_resort,
            one_time,
        } => json!({
            "type": "UploadKemPreKeys",
            "last_resort": kem_field(last_resort.as_ref()),
            "one_time": one_time.as_slice().iter().map(|prekey| kem_field(Some(prekey))).collect::<Vec<_>>(),
        }),
        other => json!({ "type": variant(other) }),
    };
    json!({ "id": frame.id.0, "request": request })
}

/// The fields of a server frame as the file writes them.
pub fn server_fields(frame: &ServerFrame) -> Value {
    match frame {
        ServerFrame::Response {
            id,
            result: Ok(Response::Bundle(bundle)),
        } => json!({
            "response": { "id": id.0, "ok": "Bundle", "bundle": bundle_field(bundle) },
        }),
        ServerFrame::Response {
            id,
            result: Ok(Response::KemPreKeysStored { one_time_kem_prekeys }),
        } => json!({
            "response": { "id": id.0, "ok": "KemPreKeysStored", "one_time_kem_prekeys": one_time_kem_prekeys },
        }),
        ServerFrame::Response { id, result } => json!({
            "response": { "id": id.0, "ok": result.as_ref().map(variant).unwrap_or_default() },
        }),
        ServerFrame::Push(Push::KemPreKeysLow { remaining }) => json!({
            "push": { "type": "KemPreKeysLow", "remaining": remaining },
        }),
        ServerFrame::Push(Push::Ephemeral { envelope }) => json!({
            "push": { "type": "Ephemeral", "envelope": hex(envelope.as_bytes()) },
        }),
        ServerFrame::Push(other) => json!({ "push": { "type": variant(other) } }),
    }
}

fn frame_cases() -> Vec<Value> {
    let mut cases = Vec::new();
    for (name, frame) in client_frames() {
        let bytes = postcard::to_allocvec(&frame).expect("the frames encode");
        assert_eq!(decode_body::<ClientFrame>(&bytes).as_ref(), Ok(&frame));
        cases.push(
            json!({ "name": name, "kind": "client", "frame": client_fields(&frame), "bytes": hex(&bytes) }),
        );
    }
    for (name, frame) in server_frames() {
        let bytes = postcard::to_allocvec(&frame).expect("the frames encode");
        assert_eq!(decode_body::<ServerFrame>(&bytes).as_ref(), Ok(&frame));
        cases.push(
            json!({ "name": name, "kind": "server", "frame": server_fields(&frame), "bytes": hex(&bytes) }),
        );
    }
    cases
}

fn envelope_cases() -> Vec<Value> {
    [
        ("empty_part_and_body", &[][..], &[][..]),
        ("part_2_body_3", &[0xaa, 0xbb], &[1, 2, 3]),
        ("part_127", &[0x41; 127], b"body"),
        ("part_128", &[0x42; 128], b"body"),
        ("part_200", &[0x43; 200], &[0x5c; 130]),
    ]
    .into_iter()
    .map(|(name, part_bytes, body_bytes)| {
        let envelope = shared_envelope(&part(part_bytes), &body(body_bytes));
        let split = split_shared_envelope(envelope.as_bytes()).expect("a built envelope splits");
        assert_eq!((split.part, split.body), (part_bytes, body_bytes));
        json!({
            "name": name,
            "part": hex(part_bytes),
            "body": hex(body_bytes),
            "envelope": hex(envelope.as_bytes()),
        })
    })
    .collect()
}

fn plain(name: &'static str, prefix: Vec<u8>, note: &'static str) -> Refused {
    Refused::plain(name, prefix, note)
}

fn refused_frames() -> Vec<Refused> {
    // SendShared, id 1, a one-byte body, then the recipient count.
    let shared_head = |count: &[u8]| {
        let mut bytes = vec![0x01, 0x0c, 0x01, 0xb0];
        bytes.extend_from_slice(count);
        bytes
    };
    // One recipient (32 × 0x11, no key) whose part length is `length`.
    let one_recipient = |length: &[u8]| {
        let mut bytes = shared_head(&[0x01]);
        bytes.extend_from_slice(&[0x11; 32]);
        bytes.push(0x00);
        bytes.extend_from_slice(length);
        bytes
    };
    let ephemeral_head = |length: &[u8]| {
        let mut bytes = vec![0x01, 0x0d];
        bytes.extend_from_slice(&[0x22; 32]);
        bytes.push(0x00);
        bytes.extend_from_slice(length);
        bytes
    };
    vec![
        Refused {
            name: "send_shared_1001_recipients",
            // Each recipient: 32 bytes of mailbox 0x00, no key (0x00), an empty part (0x00).
            prefix: shared_head(&[0xe9, 0x07]),
            fill: 0x00,
            count: 1001 * 34,
            note: "1,001 recipients, one over the limit",
        },
        Refused {
            name: "send_shared_part_201",
            prefix: one_recipient(&[0xc9, 0x01]),
            fill: 0xa0,
            count: 201,
            note: "a part of 201 bytes",
        },
        Refused {
            name: "send_shared_body_over_the_limit",
            prefix: vec![0x01, 0x0c, 0xb6, 0x8e, 0x40],
            fill: 0xb0,
            count: hush_proto::MAX_SHARED_BODY_LEN + 1,
            note: "a body one byte over MAX_SHARED_BODY_LEN, no recipients after it",
        },
        plain(
            "send_shared_part_cut_off",
            one_recipient(&[0x02, 0xaa]),
            "part length 2, one byte present",
        ),
        plain(
            "send_shared_overlong_part_length",
            one_recipient(&[0x82, 0x00, 0xaa, 0xbb]),
            "part length 2 as 82 00",
        ),
        plain(
            "send_shared_trailing_byte",
            {
                let mut bytes = one_recipient(&[0x00]);
                bytes.push(0x00);
                bytes
            },
            "a valid SendShared and one byte more",
        ),
        Refused {
            name: "send_ephemeral_4097",
            prefix: ephemeral_head(&[0x81, 0x20]),
            fill: 0x77,
            count: 4097,
            note: "an ephemeral envelope of 4,097 bytes",
        },
        plain(
            "send_ephemeral_bad_option",
            {
                let mut bytes = vec![0x01, 0x0d];
                bytes.extend_from_slice(&[0x22; 32]);
                bytes.extend_from_slice(&[0x02, 0x00]);
                bytes
            },
            "access option byte 2",
        ),
        plain("request_15", vec![0x01, 0x0f], "request index 15, unknown"),
        Refused {
            name: "upload_kem_prekeys_key_of_1567_bytes",
            // No last-resort key, one one-time key (kind 0, id 1) whose key length is 1567.
            prefix: vec![0x01, 0x0e, 0x00, 0x01, 0x00, 0x01, 0x9f, 0x0c],
            fill: 0x42,
            count: 1567,
            note: "an ML-KEM-1024 key one byte short (the signature would follow)",
        },
        Refused {
            name: "upload_kem_prekeys_key_of_1569_bytes",
            prefix: vec![0x01, 0x0e, 0x00, 0x01, 0x00, 0x01, 0xa1, 0x0c],
            fill: 0x42,
            count: 1569,
            note: "an ML-KEM-1024 key one byte long",
        },
        plain(
            "upload_kem_prekeys_kind_2",
            vec![0x01, 0x0e, 0x01, 0x02, 0x01],
            "a last-resort key of kind 2, unknown",
        ),
    ]
}

fn refused_envelopes() -> Vec<Refused> {
    vec![
        plain("empty", Vec::new(), "no byte"),
        plain(
            "sealed_version_2",
            vec![0x02, 0x00],
            "first byte 2: a sealed envelope",
        ),
        plain("no_length", vec![0xf4], "the tag alone"),
        plain(
            "length_cut_off",
            vec![0xf4, 0x81],
            "a varint's first byte, no second",
        ),
        plain(
            "part_cut_off",
            vec![0xf4, 0x03, 0x01, 0x02],
            "part length 3, two bytes follow",
        ),
        plain("overlong_length", vec![0xf4, 0x80, 0x00], "length 0 as 80 00"),
        plain("part_201", vec![0xf4, 0xc9, 0x01], "part length 201"),
        plain(
            "three_byte_length",
            vec![0xf4, 0x80, 0x80, 0x01],
            "a length of three varint bytes",
        ),
    ]
}

/// The decode error's name as the file writes it.
pub fn frame_error_name(error: &FrameError) -> String {
    variant(error)
}

/// The split error's name as the file writes it.
pub fn envelope_error_name(error: &SharedEnvelopeError) -> String {
    variant(error)
}

pub fn generate(_rng: &mut Recorder) -> Value {
    let refused_frames: Vec<Value> = refused_frames()
        .iter()
        .map(|case| {
            let error = decode_body::<ClientFrame>(&case.bytes()).expect_err("refused frames are refused");
            case.to_json(&frame_error_name(&error))
        })
        .collect();
    let refused_envelopes: Vec<Value> = refused_envelopes()
        .iter()
        .map(|case| {
            let error = split_shared_envelope(&case.bytes()).expect_err("refused envelopes are refused");
            case.to_json(&envelope_error_name(&error))
        })
        .collect();
    json!({
        "frames": frame_cases(),
        "shared_envelopes": envelope_cases(),
        "refused_frames": refused_frames,
        "refused_envelopes": refused_envelopes,
    })
}
