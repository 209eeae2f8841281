//! `content.json`: the content kinds a payload's `Content { kind, data }` body carries
//! (proto/PROTOCOL.md, "Content kinds"), as kind and data alone: the payload around them is
//! `payload.json`'s.
//!
//! No randomness: the ids are fixed.

use hush_client_core::{Content, MAX_EMOJI_LEN, MAX_TEXT_LEN, MessageId, PayloadError};
use serde_json::{Value, json};

use crate::rng::Recorder;
use crate::util::{hex, unhex, variant};

pub const DESCRIPTION: &str = "Content kinds (proto/PROTOCOL.md, Content kinds): `kind` and \
    `data` as a payload's Content body carries them. 1 text: UTF-8. 2 reaction: target [16] || \
    action u8 (1 add, 0 remove) || emoji UTF-8 (1 to 64 bytes). 3 edit, 5 reply, 6 thread: \
    target [16] || text UTF-8 (at most 32768 bytes). 4 delete: target [16]. 7 disappearing \
    timer: seconds u32 big-endian, exactly 4 bytes (0 off). Other kinds: \
    unsupported, kept as they are. `cases` decode to `content` and encode back to `data`; \
    `refused` decode to the named error. A refused input's data is `data` followed by \
    `fill_count` copies of `fill_byte`.";

const TARGET: MessageId = MessageId(*b"hush-target-id-1");

/// The fields of `content` as the file writes them.
pub fn fields(content: &Content) -> Value {
    match content {
        Content::Text(text) => json!({ "type": "text", "text": text }),
        Content::Reaction(reaction) => json!({
            "type": "reaction",
            "target": hex(&reaction.target.0),
            "emoji": reaction.emoji,
            "added": reaction.added,
        }),
        Content::Edit(edit) => json!({ "type": "edit", "target": hex(&edit.target.0), "text": edit.text }),
        Content::Delete(target) => json!({ "type": "delete", "target": hex(&target.0) }),
        Content::Reply(reply) => {
            json!({ "type": "reply", "target": hex(&reply.target.0), "text": reply.text })
        }
        Content::InThread(message) => {
            json!({ "type": "thread", "target": hex(&message.target.0), "text": message.text })
        }
        Content::Timer { seconds } => json!({ "type": "timer", "seconds": seconds }),
        _ => json!({ "type": "unsupported" }),
    }
}

fn valid_cases() -> Vec<(&'static str, Content)> {
    vec![
        ("text", Content::text("hello")),
        ("reaction_add", Content::reaction(TARGET, "\u{1f44d}", true)),
        (
            "reaction_remove",
            Content::reaction(TARGET, "\u{2764}\u{fe0f}", false),
        ),
        (
            "reaction_longest_emoji",
            Content::reaction(TARGET, "x".repeat(MAX_EMOJI_LEN), true),
        ),
        ("edit", Content::edit(TARGET, "new text")),
        ("edit_to_empty", Content::edit(TARGET, "")),
        ("delete", Content::Delete(TARGET)),
        ("reply", Content::reply(TARGET, "h\u{e9}llo \u{2713}")),
        ("thread", Content::in_thread(TARGET, "in the thread")),
        ("timer_one_hour", Content::timer(3600)),
        ("timer_off", Content::timer(0)),
        (
            "unsupported_kind_8",
            Content::Unsupported {
                kind: 8,
                data: vec![1, 2, 3],
            },
        ),
    ]
}

/// A refused input: kind, then `prefix` and `count` copies of `fill` as data.
struct Refused {
    name: &'static str,
    kind: u16,
    prefix: Vec<u8>,
    fill: u8,
    count: usize,
}

fn refused(name: &'static str, kind: u16, prefix: Vec<u8>) -> Refused {
    Refused {
        name,
        kind,
        prefix,
        fill: 0,
        count: 0,
    }
}

fn with_target(rest: &[u8]) -> Vec<u8> {
    [&TARGET.0[..], rest].concat()
}

fn refused_cases() -> Vec<Refused> {
    vec![
        refused("reaction_short_target", 2, vec![1; 15]),
        refused("reaction_no_action", 2, with_target(&[])),
        refused("reaction_action_2", 2, with_target(&[2, b'x'])),
        refused("reaction_empty_emoji", 2, with_target(&[1])),
        Refused {
            name: "reaction_emoji_too_long",
            kind: 2,
            prefix: with_target(&[1]),
            fill: b'x',
            count: MAX_EMOJI_LEN + 1,
        },
        refused("reaction_emoji_not_utf8", 2, with_target(&[1, 0xc3, 0x28])),
        refused("edit_short_target", 3, vec![1; 15]),
        refused("edit_text_not_utf8", 3, with_target(&[0xff])),
        Refused {
            name: "edit_text_too_long",
            kind: 3,
            prefix: with_target(&[]),
            fill: b'x',
            count: MAX_TEXT_LEN + 1,
        },
        refused("delete_short", 4, vec![1; 15]),
        refused("delete_long", 4, with_target(&[0])),
        refused("reply_empty", 5, Vec::new()),
        refused("thread_text_not_utf8", 6, with_target(&[0xc3, 0x28])),
        refused("timer_short", 7, vec![0, 0, 1]),
        refused("timer_long", 7, vec![0, 0, 0, 1, 0]),
    ]
}

pub fn error_name(error: &PayloadError) -> String {
    variant(error)
}

pub fn generate(_rng: &mut Recorder) -> Value {
    let cases: Vec<Value> = valid_cases()
        .iter()
        .map(|(name, content)| {
            let (kind, data) = content.to_parts();
            assert_eq!(Content::from_parts(kind, data.clone()).as_ref(), Ok(content));
            json!({ "name": name, "kind": kind, "data": hex(&data), "content": fields(content) })
        })
        .collect();
    let refused: Vec<Value> = refused_cases()
        .iter()
        .map(|case| {
            let mut data = case.prefix.clone();
            data.extend(std::iter::repeat_n(case.fill, case.count));
            let error = Content::from_parts(case.kind, data).expect_err("refused cases are refused");
            json!({
                "name": case.name,
                "kind": case.kind,
                "data": hex(&case.prefix),
                "fill_byte": hex(&[case.fill]),
                "fill_count": case.count,
                "error": error_name(&error),
            })
        })
        .collect();
    json!({ "cases": cases, "refused": refused })
}

/// A stored refused case's data, whole.
pub fn refused_data(case: &Value) -> Vec<u8> {
    let mut data = unhex(case["data"].as_str().unwrap_or_default());
    let fill = unhex(case["fill_byte"].as_str().unwrap_or_default());
    for _ in 0..case["fill_count"].as_u64().unwrap_or(0) {
        data.extend_from_slice(&fill);
    }
    data
}
