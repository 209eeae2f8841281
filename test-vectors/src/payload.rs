//! `payload.json`: the payload inside every pairwise message (proto/PROTOCOL.md, "End to end").
//!
//! No randomness: the message ids are fixed, so the file pins the encoding alone.

use hush_client_core::groups::{GroupControl, GroupId, Predecessor};
use hush_client_core::{Address, Body, Content, MessageId, Payload, PayloadError, ReceiptKind};
use hush_crypto::group::SenderKeyDistribution;
use serde_json::{Value, json};

use crate::rng::Recorder;
use crate::util::{Refused, hex, variant};

pub const DESCRIPTION: &str = "End-to-end payloads (proto/PROTOCOL.md, End to end). `framed`: the \
    plaintext of a session message is `02 || sender account key [32] || payload`; its cases split \
    into account and payload, its refused give the error (another version byte: \
    UnsupportedVersion). The payload is postcard \
    Payload { id [16], conv_seq varint, sent_at varint, body: varint index (0 Content { kind \
    varint, data bytes }, 1 Receipt { kind varint, ids Vec<[16]> }, 2 Reset { next_seq varint, \
    answer bool, reuse_seen bool }, 3 AccessKey { key [32] }, 4 Sent { to [32], seq varint, kind \
    varint, data bytes }, 5 ReadSync { peer [32], ids Vec<[16]> }, 6 ListChanged { account [32], \
    counter varint }, 7 Group { data bytes }: a group control message, proto/PROTOCOL.md \
    \"Group control messages\", whose key request `03 || group id [16]` and sender key after \
    `04 || previous distribution id [16] || u32 count || distribution (SPEC 10.5)` the `control` \
    field of a case decodes) }; the 32-byte keys must be valid Ed25519 keys (SPEC 3.2). `cases` decode to \
    their fields and encode to their bytes; `refused` are decoded to the named error. A refused input is \
    `bytes` followed by `fill_count` copies of `fill_byte`.";

const ID_A: [u8; 16] = *b"hush-payload-id1";
const ID_B: [u8; 16] = [0xff; 16];

fn text_payload(conv_seq: u64, sent_at: u64, text: &str) -> Payload {
    Payload {
        id: MessageId(ID_A),
        conv_seq,
        sent_at,
        body: Body::Content(Content::text(text)),
    }
}

fn valid_cases() -> Vec<(&'static str, Payload)> {
    let long_text = "0123456789".repeat(20);
    vec![
        ("text", text_payload(1, 1_700_000_000_000, "hello")),
        ("empty_text_seq_127", text_payload(127, 0, "")),
        ("utf8_text_seq_128", text_payload(128, 1, "h\u{e9}llo \u{2713}")),
        ("text_of_200_bytes", text_payload(16_384, u64::MAX, &long_text)),
        (
            "unsupported_kind_77",
            Payload {
                body: Body::Content(Content::Unsupported {
                    kind: 77,
                    data: vec![1, 2, 3],
                }),
                ..text_payload(2, 5, "")
            },
        ),
        (
            "unsupported_kind_0_empty",
            Payload {
                body: Body::Content(Content::Unsupported {
                    kind: 0,
                    data: Vec::new(),
                }),
                ..text_payload(3, 5, "")
            },
        ),
        (
            "unsupported_kind_65535",
            Payload {
                body: Body::Content(Content::Unsupported {
                    kind: u16::MAX,
                    data: vec![0],
                }),
                ..text_payload(4, 5, "")
            },
        ),
        (
            "receipt_delivered_one",
            Payload {
                id: MessageId(ID_B),
                conv_seq: 0,
                sent_at: 1_700_000_000_001,
                body: Body::Receipt {
                    kind: ReceiptKind::Delivered,
                    ids: vec![MessageId(ID_A)],
                },
            },
        ),
        (
            "receipt_read_three",
            Payload {
                id: MessageId(ID_B),
                conv_seq: 0,
                sent_at: 9,
                body: Body::Receipt {
                    kind: ReceiptKind::Read,
                    ids: vec![MessageId([1; 16]), MessageId([2; 16]), MessageId(ID_A)],
                },
            },
        ),
        (
            "receipt_empty",
            Payload {
                id: MessageId(ID_B),
                conv_seq: 0,
                sent_at: 9,
                body: Body::Receipt {
                    kind: ReceiptKind::Read,
                    ids: Vec::new(),
                },
            },
        ),
        (
            "reset_answer",
            Payload {
                id: MessageId(ID_A),
                conv_seq: 0,
                sent_at: 10,
                body: Body::Reset {
                    next_seq: u64::MAX,
                    answer: true,
                    reuse_seen: false,
                },
            },
        ),
        (
            "reset_reuse_seen",
            Payload {
                id: MessageId(ID_A),
                conv_seq: 0,
                sent_at: 10,
                body: Body::Reset {
                    next_seq: 1,
                    answer: false,
                    reuse_seen: true,
                },
            },
        ),
        (
            "access_key",
            Payload {
                id: MessageId(ID_B),
                conv_seq: 0,
                sent_at: 11,
                body: Body::AccessKey(*b"an access key of thirty-two b..."),
            },
        ),
        (
            "sent_copy",
            Payload {
                id: MessageId(ID_A),
                conv_seq: 2,
                sent_at: 1_700_000_000_002,
                body: Body::Sent {
                    to: address(),
                    seq: 300,
                    content: Content::text("hi bob"),
                },
            },
        ),
        (
            "read_sync_two",
            Payload {
                id: MessageId(ID_B),
                conv_seq: 0,
                sent_at: 12,
                body: Body::ReadSync {
                    peer: address(),
                    ids: vec![MessageId(ID_A), MessageId([3; 16])],
                },
            },
        ),
        (
            "list_changed",
            Payload {
                id: MessageId(ID_B),
                conv_seq: 0,
                sent_at: 13,
                body: Body::ListChanged {
                    account: address(),
                    counter: 129,
                },
            },
        ),
        (
            "group_key_request",
            Payload {
                id: MessageId(ID_A),
                conv_seq: 0,
                sent_at: 14,
                body: Body::Group(GroupControl::KeyRequest(GroupId(*b"hush-group-id-01")).encode()),
            },
        ),
        (
            "group_sender_key_after",
            Payload {
                id: MessageId(ID_B),
                conv_seq: 0,
                sent_at: 15,
                body: Body::Group(
                    GroupControl::SenderKey {
                        distribution: Box::new(distribution()),
                        after: Some(Predecessor {
                            distribution_id: [5; 16],
                            count: 258,
                        }),
                    }
                    .encode(),
                ),
            },
        ),
    ]
}

/// A sender-key distribution built from fixed bytes (SPEC §10.5): group `hush-group-id-01`,
/// sender and signing key the base point, epoch 3, distribution id `07…`, iteration 0, chain
/// key `09…`.
fn distribution() -> SenderKeyDistribution {
    let mut bytes = vec![2, 4];
    bytes.extend_from_slice(b"hush-group-id-01");
    bytes.extend_from_slice(&BASE_POINT);
    bytes.extend_from_slice(&3u64.to_be_bytes());
    bytes.extend_from_slice(&[7; 16]);
    bytes.extend_from_slice(&0u32.to_be_bytes());
    bytes.extend_from_slice(&[9; 32]);
    bytes.extend_from_slice(&BASE_POINT);
    SenderKeyDistribution::from_bytes(&bytes).expect("a valid distribution")
}

/// The Ed25519 base point, a valid key for an address.
const BASE_POINT: [u8; 32] = {
    let mut key = [0x66; 32];
    key[0] = 0x58;
    key
};

fn address() -> Address {
    Address::from_bytes(BASE_POINT).expect("the base point is a valid key")
}

/// The fields of `payload` as the file writes them.
pub fn fields(payload: &Payload) -> Value {
    let body = match &payload.body {
        Body::Content(content) => {
            let (kind, data) = content.to_parts();
            let mut body = json!({ "type": "content", "kind": kind, "data": hex(&data) });
            if let Content::Text(text) = content {
                body["text"] = json!(text);
            }
            body
        }
        Body::Receipt { kind, ids } => json!({
            "type": "receipt",
            "kind": match kind {
                ReceiptKind::Delivered => "delivered",
                ReceiptKind::Read => "read",
            },
            "ids": ids.iter().map(|id| hex(&id.0)).collect::<Vec<_>>(),
        }),
        Body::Reset {
            next_seq,
            answer,
            reuse_seen,
        } => json!({
            "type": "reset",
            "next_seq": next_seq,
            "answer": answer,
            "reuse_seen": reuse_seen,
        }),
        Body::AccessKey(key) => json!({ "type": "access_key", "key": hex(key) }),
        Body::Sent { to, seq, content } => {
            let (kind, data) = content.to_parts();
            let mut body = json!({
                "type": "sent",
                "to": hex(to.as_bytes()),
                "seq": seq,
                "kind": kind,
                "data": hex(&data),
            });
            if let Content::Text(text) = content {
                body["text"] = json!(text);
            }
            body
        }
        Body::ReadSync { peer, ids } => json!({
            "type": "read_sync",
            "peer": hex(peer.as_bytes()),
            "ids": ids.iter().map(|id| hex(&id.0)).collect::<Vec<_>>(),
        }),
        Body::ListChanged { account, counter } => json!({
            "type": "list_changed",
            "account": hex(account.as_bytes()),
            "counter": counter,
        }),
        Body::Group(data) => {
            let mut body = json!({ "type": "group", "data": hex(data) });
            match GroupControl::decode(data) {
                Ok(GroupControl::KeyRequest(id)) => {
                    body["control"] = json!({ "kind": "key_request", "group_id": hex(&id.0) });
                }
                Ok(GroupControl::SenderKey {
                    distribution,
                    after: Some(after),
                }) => {
                    body["control"] = json!({
                        "kind": "sender_key_after",
                        "previous": hex(&after.distribution_id),
                        "count": after.count,
                        "distribution": hex(&distribution.to_bytes()),
                    });
                }
                _ => {}
            }
            body
        }
    };
    json!({
        "id": hex(&payload.id.0),
        "conv_seq": payload.conv_seq,
        "sent_at": payload.sent_at,
        "body": body,
    })
}

fn refused(name: &'static str, prefix: Vec<u8>, note: &'static str) -> Refused {
    Refused::plain(name, prefix, note)
}

fn encoded(payload: &Payload) -> Vec<u8> {
    payload.encode().expect("the valid cases encode")
}

fn refused_cases() -> Vec<Refused> {
    let text = encoded(&text_payload(3, 7, "hi"));
    // id 16, conv_seq 1 byte (3), sent_at 1 byte (7), body index, kind, length, text.
    let head = |end: usize| text[..end].to_vec();
    let with = |at: usize, replacement: &[u8]| {
        let mut bytes = head(at);
        bytes.extend_from_slice(replacement);
        bytes.extend_from_slice(&text[at + 1..]);
        bytes
    };
    let reset = encoded(&Payload {
        id: MessageId(ID_A),
        conv_seq: 0,
        sent_at: 1,
        body: Body::Reset {
            next_seq: 1,
            answer: false,
            reuse_seen: false,
        },
    });
    let mut bad_bool = reset.clone();
    let last = bad_bool.len() - 1;
    bad_bool[last] = 2;
    let mut trailing = text.clone();
    trailing.push(0);
    let mut past_end = head(text.len() - 2);
    past_end.push(b'h');
    let mut long_text = head(19);
    long_text.extend_from_slice(&[0x01, 0x81, 0x80, 0x02]);
    let mut receipt = head(16);
    receipt.extend_from_slice(&[0x00, 0x01, 0x01, 0x01, 0x81, 0x04]);
    let mut not_utf8 = head(21);
    not_utf8.extend_from_slice(&[0xc3, 0x28]);
    let list_changed = |key: &[u8; 32]| {
        let mut bytes = ID_B.to_vec();
        bytes.extend_from_slice(&[0x00, 0x01, 0x06]);
        bytes.extend_from_slice(key);
        bytes.push(0x05);
        bytes
    };
    // The identity point (y = 1): on the curve, of small order, so not a key (SPEC 3.2).
    let mut small_order = [0; 32];
    small_order[0] = 1;
    let mut read_sync = ID_B.to_vec();
    read_sync.extend_from_slice(&[0x00, 0x01, 0x05]);
    read_sync.extend_from_slice(&BASE_POINT);
    read_sync.extend_from_slice(&[0x81, 0x04]);
    let mut sent_long = ID_A.to_vec();
    sent_long.extend_from_slice(&[0x01, 0x01, 0x04]);
    sent_long.extend_from_slice(&small_order);
    sent_long.extend_from_slice(&[0x01, 0x01, 0x81, 0x80, 0x02]);
    vec![
        refused("empty", Vec::new(), "no id"),
        refused(
            "list_changed_small_order_key",
            list_changed(&small_order),
            "ListChanged naming the identity point",
        ),
        refused(
            "list_changed_key_not_canonical",
            list_changed(&[0xff; 32]),
            "ListChanged naming y >= p",
        ),
        Refused {
            name: "read_sync_too_many_ids",
            prefix: read_sync,
            fill: 0xcd,
            count: 513 * 16,
            note: "ReadSync naming 513 ids",
        },
        Refused {
            name: "sent_bad_key_before_long_text",
            prefix: sent_long,
            fill: b'x',
            count: 32_769,
            note: "Sent to the identity point with 32,769 text bytes: the key is checked first",
        },
        refused(
            "trailing_byte",
            trailing,
            "a valid text payload and one byte more",
        ),
        refused("length_past_the_end", past_end, "text length 2, one byte present"),
        refused("unknown_body_7", with(18, &[0x07]), "body index 7"),
        refused("bad_bool", bad_bool, "reuse_seen = 0x02"),
        refused(
            "overlong_conv_seq",
            with(16, &[0x83, 0x00]),
            "conv_seq 3 as 83 00",
        ),
        refused("overlong_kind", with(19, &[0x81, 0x00]), "kind 1 as 81 00"),
        refused("kind_over_u16", with(19, &[0x80, 0x80, 0x04]), "kind 65536"),
        refused(
            "conv_seq_over_u64",
            with(16, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
            "conv_seq 2^64",
        ),
        refused("text_not_utf8", not_utf8, "text bytes c3 28"),
        Refused {
            name: "text_too_long",
            prefix: long_text,
            fill: b'x',
            count: 32_769,
            note: "kind 1 with 32,769 bytes",
        },
        Refused {
            name: "too_many_receipt_ids",
            prefix: receipt,
            fill: 0xab,
            count: 513 * 16,
            note: "a read receipt naming 513 ids",
        },
        Refused {
            name: "too_long",
            prefix: Vec::new(),
            fill: 0,
            count: 65_537,
            note: "65,537 bytes",
        },
    ]
}

/// The decode error's name as the file writes it.
pub fn error_name(error: &PayloadError) -> String {
    variant(error)
}

pub fn generate(_rng: &mut Recorder) -> Value {
    let cases: Vec<Value> = valid_cases()
        .iter()
        .map(|(name, payload)| {
            let bytes = encoded(payload);
            assert_eq!(Payload::decode(&bytes).as_ref(), Ok(payload));
            json!({ "name": name, "payload": fields(payload), "bytes": hex(&bytes) })
        })
        .collect();
    let refused: Vec<Value> = refused_cases()
        .iter()
        .map(|case| {
            let error = Payload::decode(&case.bytes()).expect_err("refused cases are refused");
            case.to_json(&error_name(&error))
        })
        .collect();
    json!({ "cases": cases, "refused": refused, "framed": framed() })
}

/// Session plaintexts: `02 || sender account key || payload`, and the ones refused.
fn framed() -> Value {
    let payload = encoded(&text_payload(1, 1_700_000_000_000, "hello"));
    let good = hush_client_core::frame_payload(&address(), &payload);
    let cases = vec![json!({
        "name": "text_from_the_base_point_account",
        "account": hex(address().as_bytes()),
        "payload": hex(&payload),
        "framed": hex(&good),
    })];
    let mut version_1 = good.clone();
    version_1[0] = 1;
    let mut small_order = good.clone();
    small_order[1..33].copy_from_slice(&{
        let mut key = [0; 32];
        key[0] = 1;
        key
    });
    let refused_framed = [
        ("empty", Vec::new()),
        ("version_1", version_1),
        ("no_key", good[..20].to_vec()),
        ("small_order_key", small_order),
    ];
    let refused: Vec<Value> = refused_framed
        .iter()
        .map(|(name, bytes)| {
            let error = hush_client_core::unframe_payload(bytes).expect_err("refused");
            json!({ "name": name, "bytes": hex(bytes), "error": error_name(&error) })
        })
        .collect();
    json!({ "cases": cases, "refused": refused })
}
