//! Reactions, edits, deletes for everyone and threads: the guarded ops and their queries.

use super::helpers::{account, address, apply, ids, load, message, ok};
use crate::content::{Content, MessageId};
use crate::records::{Direction, StoreOp, StoredMessage};
use crate::store::Store;
use crate::surface::StoredReaction;

fn with(id: u8, base: &StoredMessage, content: Content) -> StoredMessage {
    StoredMessage {
        id: MessageId([id; 16]),
        conv_seq: u64::from(id),
        content,
        ..base.clone()
    }
}

/// An edit replaces the shown text and keeps the old one in the history; only an edit naming
/// the message's peer and direction applies, and a reply keeps its quote.
pub fn edits_replace_text_and_keep_a_history<S: Store>(mut store: S) {
    let (bob, carol) = (address(), address());
    let original = message(1, bob, Direction::Incoming, "first");
    let reply = with(2, &original, Content::reply(MessageId([1; 16]), "re"));
    apply(
        &mut store,
        vec![
            StoreOp::PutAccount(account().pickle()),
            StoreOp::InsertMessage(original.clone()),
            StoreOp::InsertMessage(reply),
        ],
    );
    let edit = |id: u8, peer, direction, text: &str| StoreOp::EditMessage {
        id: MessageId([id; 16]),
        peer,
        direction,
        text: text.to_string(),
        edited_at: 5,
    };
    apply(
        &mut store,
        vec![
            edit(1, bob, Direction::Incoming, "second"),
            // Not the author: another peer, or the other direction.
            edit(1, carol, Direction::Incoming, "carol's"),
            edit(1, bob, Direction::Outgoing, "ours"),
            edit(1, bob, Direction::Incoming, "third"),
            edit(2, bob, Direction::Incoming, "re, edited"),
            edit(9, bob, Direction::Incoming, "unknown id"),
        ],
    );
    let first = ok(store.message(&original.id), "message").unwrap();
    assert_eq!(first.content, Content::text("third"));
    assert_eq!(ok(store.edits(&original.id), "edits"), vec!["first", "second"]);
    let second = ok(store.message(&MessageId([2; 16])), "message").unwrap();
    assert_eq!(second.content, Content::reply(MessageId([1; 16]), "re, edited"));
    assert!(ok(store.edits(&MessageId([9; 16])), "edits").is_empty());
    assert_eq!(
        load(&store).recent.last().map(|m| m.content.clone()),
        Some(second.content)
    );
}

/// A delete leaves a tombstone: the text, the edit history, the reactions and the text of the
/// stored edits are gone; effects are not listed in the history, the tombstone is; a tombstone
/// takes no more edits or reactions.
pub fn deletes_leave_a_tombstone_only<S: Store>(mut store: S) {
    let bob = address();
    let target = message(1, bob, Direction::Outgoing, "secret words");
    let id = target.id;
    let edit_row = with(2, &target, Content::edit(id, "more secret words"));
    let delete_row = with(3, &target, Content::Delete(id));
    let react = |added| StoreOp::PutReaction {
        target: id,
        peer: bob,
        by: bob,
        emoji: "👍".into(),
        added,
    };
    apply(
        &mut store,
        vec![
            StoreOp::PutAccount(account().pickle()),
            StoreOp::InsertMessage(target.clone()),
            StoreOp::InsertMessage(edit_row.clone()),
            StoreOp::EditMessage {
                id,
                peer: bob,
                direction: Direction::Outgoing,
                text: "more secret words".into(),
                edited_at: 1,
            },
            react(true),
        ],
    );
    assert_eq!(ok(store.reactions(&id), "reactions").len(), 1);
    // The wrong direction does not delete.
    apply(
        &mut store,
        vec![StoreOp::DeleteMessage {
            id,
            peer: bob,
            direction: Direction::Incoming,
        }],
    );
    assert_eq!(ok(store.edits(&id), "edits"), vec!["secret words"]);
    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(delete_row),
            StoreOp::DeleteMessage {
                id,
                peer: bob,
                direction: Direction::Outgoing,
            },
            react(true),
            StoreOp::EditMessage {
                id,
                peer: bob,
                direction: Direction::Outgoing,
                text: "back".into(),
                edited_at: 2,
            },
        ],
    );
    let stored = ok(store.message(&id), "message").unwrap();
    assert_eq!(stored.content, Content::tombstone(id));
    assert!(ok(store.edits(&id), "edits").is_empty());
    assert!(ok(store.reactions(&id), "reactions").is_empty());
    let edit = ok(store.message(&edit_row.id), "message").unwrap();
    assert_eq!(edit.content, Content::edit(id, ""));
    assert_eq!(ids(&ok(store.history(&bob, None, 10), "history")), vec![id]);
    assert!(
        load(&store)
            .recent
            .iter()
            .all(|m| m.content.shown_text().is_none())
    );
}

/// Reactions are a set per message of (who, emoji): added once, removed by the same pair,
/// listed sorted; a reaction naming another peer's message is ignored.
pub fn reactions_are_a_set_per_message<S: Store>(mut store: S) {
    let (bob, carol) = (address(), address());
    let target = message(1, bob, Direction::Incoming, "hi");
    let react = |peer, by, emoji: &str, added| StoreOp::PutReaction {
        target: target.id,
        peer,
        by,
        emoji: emoji.into(),
        added,
    };
    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(target.clone()),
            react(bob, bob, "👍", true),
            react(bob, bob, "👍", true),
            react(bob, bob, "🎉", true),
            react(bob, carol, "❤", true),
            react(carol, carol, "😮", true),
            react(bob, bob, "🎉", false),
        ],
    );
    let mut expected = vec![
        StoredReaction {
            by: bob,
            emoji: "👍".into(),
        },
        StoredReaction {
            by: carol,
            emoji: "❤".into(),
        },
    ];
    expected.sort();
    assert_eq!(ok(store.reactions(&target.id), "reactions"), expected);
}

/// A thread lists the messages under its root, oldest first, in pages before a position.
pub fn threads_page_backwards<S: Store>(mut store: S) {
    let bob = address();
    let root = message(1, bob, Direction::Incoming, "root");
    let mut ops = vec![StoreOp::InsertMessage(root.clone())];
    for n in 2..=6u8 {
        let content = if n == 4 {
            Content::text("not in the thread")
        } else {
            Content::in_thread(root.id, format!("reply {n}"))
        };
        ops.push(StoreOp::InsertMessage(with(n, &root, content)));
    }
    apply(&mut store, ops);
    let all = ok(store.thread(&root.id, None, 10), "thread");
    let id = |n: u8| MessageId([n; 16]);
    assert_eq!(ids(&all), vec![id(2), id(3), id(5), id(6)]);
    let last_two = ok(store.thread(&root.id, None, 2), "thread");
    assert_eq!(ids(&last_two), vec![id(5), id(6)]);
    let before = ok(store.thread(&root.id, Some(last_two[0].position), 2), "thread");
    assert_eq!(ids(&before), vec![id(2), id(3)]);
    assert!(ok(store.thread(&id(4), None, 10), "thread").is_empty());
}
