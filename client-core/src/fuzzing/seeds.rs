//! The seed corpus of the client-core fuzz targets.

use hush_proto::{Bundle, ErrorCode, ErrorResponse, Response, decode_body};

use super::fixture::receive_fixture;
use super::ops::{Answer, Op, encode_ops};
use super::{ERROR_CODES, NOW};
use crate::content::{Content, MessageId, Payload};

#[path = "../../../fuzz/seed.rs"]
mod seed;
pub use seed::Seed;

/// The seed corpus: valid and near-valid payloads and addresses, and operation sequences on the
/// receive fixture (genuine envelopes in order, reordered and twice, flipped bytes, junk, relay
/// answers to every pending request, timers, reconnects). Deterministic.
// The payloads are built from valid values: they encode.
#[allow(clippy::expect_used)]
pub fn seed_corpus() -> Vec<Seed> {
    use crate::content::{Body, MAX_RECEIPT_IDS, MAX_TEXT_LEN, ReceiptKind};

    let fixture = receive_fixture();
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        seeds.push(Seed {
            target,
            name: name.to_string(),
            bytes,
        });
    };

    // Payloads.
    let payload = |conv_seq: u64, body: Body| {
        Payload {
            id: MessageId([7; 16]),
            conv_seq,
            sent_at: NOW,
            body,
        }
        .encode()
        .expect("payloads within the limits encode")
    };
    let text = payload(3, Body::Content(Content::text("hello")));
    let receipt = |kind, count: usize| {
        let ids = (0..count).map(|n| MessageId([(n % 251) as u8; 16])).collect();
        payload(0, Body::Receipt { kind, ids })
    };
    let unsupported =
        |kind: u16, data: Vec<u8>| payload(1, Body::Content(Content::Unsupported { kind, data }));
    let (text_kind, _) = Content::text("").to_parts();
    add("client_payload", "text", text.clone());
    add(
        "client_payload",
        "empty_text",
        payload(1, Body::Content(Content::text(""))),
    );
    add(
        "client_payload",
        "receipt_delivered",
        receipt(ReceiptKind::Delivered, 2),
    );
    add("client_payload", "receipt_read", receipt(ReceiptKind::Read, 1));
    add(
        "client_payload",
        "reset",
        payload(
            0,
            Body::Reset {
                next_seq: NOW << 20,
                answer: false,
                reuse_seen: true,
            },
        ),
    );
    add(
        "client_payload",
        "reset_answer",
        payload(
            0,
            Body::Reset {
                next_seq: 1,
                answer: true,
                reuse_seen: false,
            },
        ),
    );
    add(
        "client_payload",
        "receipt_full",
        receipt(ReceiptKind::Read, MAX_RECEIPT_IDS),
    );
    add(
        "client_payload",
        "unsupported_kind",
        unsupported(77, vec![1, 2, 3]),
    );
    let mut trailing = text.clone();
    trailing.push(0);
    add("client_payload", "trailing_byte", trailing);
    add(
        "client_payload",
        "truncated",
        text.get(..text.len() - 1).unwrap_or_default().to_vec(),
    );
    add(
        "client_payload",
        "text_not_utf8",
        unsupported(text_kind, vec![0xff, 0xfe]),
    );
    add(
        "client_payload",
        "text_too_long",
        unsupported(text_kind, vec![b'x'; MAX_TEXT_LEN + 1]),
    );
    // The conversation-surface kinds, valid and just off their layouts.
    let target = MessageId([5; 16]);
    let content = |content: Content| payload(4, Body::Content(content));
    add(
        "client_payload",
        "reaction",
        content(Content::reaction(target, "👍", true)),
    );
    add(
        "client_payload",
        "unreaction",
        content(Content::reaction(target, "👍", false)),
    );
    add(
        "client_payload",
        "edit",
        content(Content::edit(target, "new text")),
    );
    add("client_payload", "delete", content(Content::Delete(target)));
    add(
        "client_payload",
        "reply",
        content(Content::reply(target, "quoting")),
    );
    add(
        "client_payload",
        "thread",
        content(Content::in_thread(target, "in a thread")),
    );
    add("client_payload", "timer", content(Content::timer(3600)));
    let (timer_kind, _) = Content::timer(0).to_parts();
    add(
        "client_payload",
        "timer_short",
        unsupported(timer_kind, vec![0, 1]),
    );
    let (reaction_kind, _) = Content::reaction(target, "x", true).to_parts();
    let (delete_kind, _) = Content::Delete(target).to_parts();
    add(
        "client_payload",
        "reaction_bad_action",
        unsupported(reaction_kind, [&target.0[..], &[2, b'x']].concat()),
    );
    add(
        "client_payload",
        "reaction_empty_emoji",
        unsupported(reaction_kind, [&target.0[..], &[1]].concat()),
    );
    add(
        "client_payload",
        "delete_short",
        unsupported(delete_kind, target.0[..15].to_vec()),
    );
    // One id over the limit: the count varint (512 = 80 04) becomes 513 and one id more follows.
    let mut too_many = receipt(ReceiptKind::Delivered, MAX_RECEIPT_IDS);
    let count_at = too_many.len() - MAX_RECEIPT_IDS * 16 - 2;
    if let Some(low) = too_many.get_mut(count_at) {
        *low = 0x81;
    }
    too_many.extend_from_slice(&[9; 16]);
    add("client_payload", "receipt_too_many", too_many);
    // The bodies of accounts with several devices.
    add(
        "client_payload",
        "sent_copy",
        payload(
            2,
            Body::Sent {
                to: fixture.carol,
                seq: 9,
                content: Content::text("hi"),
            },
        ),
    );
    add(
        "client_payload",
        "read_sync",
        payload(
            0,
            Body::ReadSync {
                peer: fixture.alice,
                ids: vec![MessageId([1; 16]), MessageId([2; 16])],
            },
        ),
    );
    add(
        "client_payload",
        "list_changed",
        payload(
            0,
            Body::ListChanged {
                account: fixture.carol,
                counter: 3,
            },
        ),
    );

    // Addresses.
    let address = fixture.alice.to_string();
    add("parse_address", "address", address.clone().into_bytes());
    add(
        "parse_address",
        "upper_case",
        address.to_uppercase().replace("HUSH:", "hush:").into_bytes(),
    );
    add("parse_address", "padded", format!("  {address}\n").into_bytes());
    add(
        "parse_address",
        "no_prefix",
        address.replace("hush:", "").into_bytes(),
    );
    add(
        "parse_address",
        "short",
        address.get(..40).unwrap_or_default().as_bytes().to_vec(),
    );
    add("parse_address", "not_hex", address.replace('a', "g").into_bytes());
    add(
        "parse_address",
        "weak_key",
        format!("hush:{}", "00".repeat(32)).into_bytes(),
    );
    add(
        "parse_address",
        "multibyte",
        format!("hush:{}é", "0".repeat(62)).into_bytes(),
    );

    // Receive operations. Envelope indexes: a1, Alice's receipt, a2…a6. Bob's pending requests
    // after login: the fetch of Carol's bundle, then the resend of b2 to Alice.
    let a = |n: u8| Op::Genuine {
        which: u8::try_from(fixture.first_text).unwrap_or(0) + n - 2,
        position: 0,
        mask: 0,
    };
    let flip = |which: u8, position: u16, mask: u8| Op::Genuine {
        which,
        position,
        mask,
    };
    let a2 = fixture
        .envelopes
        .get(fixture.first_text)
        .cloned()
        .unwrap_or_default();
    let carol_bundle = Answer::Bundle {
        which: 0,
        position: 0,
        mask: 0,
    };
    let wire =
        |result: Result<Response, ErrorResponse>| postcard::to_allocvec(&result).expect("responses encode");
    let not_found = u8::try_from(
        ERROR_CODES
            .iter()
            .position(|code| *code == ErrorCode::NotFound)
            .unwrap_or(0),
    )
    .unwrap_or(0);
    let sequences: Vec<(&str, Vec<Op>)> = vec![
        ("nothing", vec![]),
        ("in_order", (2..=6).map(a).collect()),
        ("reordered", vec![a(4), a(2), a(6), a(3), a(5)]),
        (
            "twice",
            vec![
                Op::Twice { which: 0 },
                Op::Twice { which: 1 },
                Op::Twice { which: 2 },
            ],
        ),
        (
            "receipt_then_text",
            vec![
                Op::Genuine {
                    which: 1,
                    position: 0,
                    mask: 0,
                },
                a(2),
                a(3),
            ],
        ),
        (
            "flips",
            vec![
                flip(2, 0, 1),
                flip(2, 1, 1),
                flip(3, 40, 0x80),
                flip(1, 70, 1),
                flip(0, 200, 1),
                flip(4, 9999, 1),
            ],
        ),
        (
            "junk",
            vec![
                Op::Deliver(Vec::new()),
                Op::Deliver(vec![1; 81]),
                Op::Deliver(a2.get(..a2.len() / 2).unwrap_or_default().to_vec()),
                Op::Deliver([a2.as_slice(), &[0]].concat()),
                a(2),
            ],
        ),
        (
            "carol_bundle",
            vec![
                Op::Answer {
                    which: 0,
                    answer: carol_bundle.clone(),
                },
                Op::Timeout { step: 0 },
                Op::Answer {
                    which: 1,
                    answer: Answer::Stored,
                },
                Op::Answer {
                    which: 1,
                    answer: Answer::Stored,
                },
                a(2),
            ],
        ),
        (
            "bad_bundles",
            vec![
                Op::Answer {
                    which: 0,
                    answer: Answer::Bundle {
                        which: 1,
                        position: 0,
                        mask: 0,
                    },
                },
                Op::Timeout { step: 100 },
                Op::Answer {
                    which: 1,
                    answer: Answer::Bundle {
                        which: 0,
                        position: 40,
                        mask: 1,
                    },
                },
                Op::Timeout { step: 120 },
                Op::Answer {
                    which: 1,
                    answer: Answer::Bundle {
                        which: 0,
                        position: 100,
                        mask: 4,
                    },
                },
                a(3),
            ],
        ),
        (
            "errors",
            vec![
                Op::Answer {
                    which: 1,
                    answer: Answer::Error(0),
                },
                Op::Answer {
                    which: 0,
                    answer: Answer::Error(not_found),
                },
                Op::Timeout { step: 90 },
                Op::Answer {
                    which: 0,
                    answer: Answer::Error(2),
                },
                Op::Answer {
                    which: 200,
                    answer: Answer::Stored,
                },
                a(2),
            ],
        ),
        (
            "wire",
            vec![
                Op::Answer {
                    which: 0,
                    answer: Answer::Wire(wire(Ok(Response::Bundle(
                        decode_body::<Bundle>(fixture.bundles.first().map_or(&[][..], Vec::as_slice))
                            .expect("the fixture's bundles decode"),
                    )))),
                },
                Op::Answer {
                    which: 0,
                    answer: Answer::Wire(wire(Ok(Response::Stored))),
                },
                Op::Answer {
                    which: 0,
                    answer: Answer::Wire(vec![1, 2, 3]),
                },
            ],
        ),
        (
            "time",
            vec![
                a(3),
                Op::Timeout { step: 40 },
                a(2),
                Op::MarkRead,
                Op::Timeout { step: 200 },
                Op::Send { to: 0 },
                Op::Timeout { step: 255 },
                Op::Send { to: 1 },
                Op::Timeout { step: 250 },
            ],
        ),
        (
            "reconnect",
            vec![
                a(2),
                Op::Reconnect { prekeys: 100 },
                Op::Twice { which: 3 },
                Op::Reconnect { prekeys: 3 },
                Op::Answer {
                    which: 2,
                    answer: Answer::PreKeysStored(10),
                },
                Op::PreKeysLow { remaining: 20 },
                Op::Answer {
                    which: 3,
                    answer: Answer::Acked(1),
                },
            ],
        ),
        (
            "sends",
            vec![
                Op::Send { to: 0 },
                Op::Send { to: 1 },
                Op::Answer {
                    which: 2,
                    answer: Answer::Stored,
                },
                a(2),
                Op::MarkRead,
                Op::Timeout { step: 60 },
            ],
        ),
    ];
    for (name, ops) in sequences {
        add("client_receive", name, encode_ops(&ops));
    }
    seeds.extend(super::groups::seeds().into_iter().map(|(name, bytes)| Seed {
        target: "decode_group_update",
        name,
        bytes,
    }));
    seeds.extend(
        super::groups::control_seeds()
            .into_iter()
            .map(|(name, bytes)| Seed {
                target: "decode_group_control",
                name,
                bytes,
            }),
    );
    seeds.extend(super::ephemeral::seeds().into_iter().map(|(name, bytes)| Seed {
        target: "decode_ephemeral",
        name,
        bytes,
    }));
    seeds
}
