//! Stored messages: the first insert of an id wins, every field round-trips, and status only
//! moves forward.

use super::helpers::{address, apply, message, ok, status_of};
use crate::content::{Content, MessageId};
use crate::records::{Direction, MessageStatus, StoreOp, StoredMessage};
use crate::store::Store;

/// The first insert of an id wins; later ones (a redelivered copy) change nothing and take no
/// history position.
pub fn insert_message_ignores_a_second_insert_of_an_id<S: Store>(mut store: S) {
    let bob = address();
    let original = message(1, bob, Direction::Incoming, "first");
    let copy = StoredMessage {
        content: Content::text("a copy"),
        status: MessageStatus::Seen,
        ..original.clone()
    };
    apply(&mut store, vec![StoreOp::InsertMessage(original.clone())]);
    apply(
        &mut store,
        vec![StoreOp::InsertMessage(copy.clone()), StoreOp::InsertMessage(copy)],
    );
    assert_eq!(ok(store.message(&original.id), "message"), Some(original.clone()));
    let history = ok(store.history(&bob, None, 10), "history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].message, original);
}

/// Every field survives storage exactly, including extreme numbers and content kinds this
/// build does not know.
pub fn messages_round_trip_every_field<S: Store>(mut store: S) {
    let bob = address();
    let extreme = StoredMessage {
        id: MessageId([0xff; 16]),
        peer: bob,
        direction: Direction::Outgoing,
        conv_seq: u64::MAX,
        sent_at: u64::MAX,
        stored_at: i64::MAX as u64 + 1,
        content: Content::Unsupported {
            kind: u16::MAX,
            data: vec![0, 1, 2, 0xff],
        },
        status: MessageStatus::Failed,
    };
    let unicode = StoredMessage {
        id: MessageId([0; 16]),
        conv_seq: 0,
        sent_at: 0,
        stored_at: 0,
        content: Content::text("héllo 👋\0 end"),
        ..message(2, bob, Direction::Incoming, "")
    };
    let empty = message(3, bob, Direction::Incoming, "");
    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(extreme.clone()),
            StoreOp::InsertMessage(unicode.clone()),
            StoreOp::InsertMessage(empty.clone()),
        ],
    );
    for expected in [&extreme, &unicode, &empty] {
        assert_eq!(
            ok(store.message(&expected.id), "message").as_ref(),
            Some(expected)
        );
    }
    let history = ok(store.history(&bob, None, 10), "history");
    let messages: Vec<StoredMessage> = history.into_iter().map(|entry| entry.message).collect();
    assert_eq!(messages, vec![extreme, unicode, empty]);
}

/// `SetStatus` applies only moves that [`MessageStatus::advances_to`] allows.
pub fn status_moves_only_forward<S: Store>(mut store: S) {
    let bob = address();
    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(message(1, bob, Direction::Outgoing, "sent")),
            StoreOp::InsertMessage(message(2, bob, Direction::Outgoing, "fails")),
            StoreOp::InsertMessage(message(3, bob, Direction::Incoming, "received")),
        ],
    );
    let set = |id: u8, status| StoreOp::SetStatus {
        id: MessageId([id; 16]),
        peer: bob,
        status,
    };
    apply(&mut store, vec![set(1, MessageStatus::Sent)]);
    assert_eq!(status_of(&store, 1), MessageStatus::Sent);
    apply(&mut store, vec![set(1, MessageStatus::Read)]);
    assert_eq!(status_of(&store, 1), MessageStatus::Read);
    apply(
        &mut store,
        vec![set(1, MessageStatus::Delivered), set(1, MessageStatus::Queued)],
    );
    assert_eq!(
        status_of(&store, 1),
        MessageStatus::Read,
        "a receipt arriving late moves nothing back"
    );
    apply(&mut store, vec![set(1, MessageStatus::Failed)]);
    assert_eq!(
        status_of(&store, 1),
        MessageStatus::Read,
        "a sent message cannot fail"
    );

    apply(&mut store, vec![set(2, MessageStatus::Failed)]);
    assert_eq!(status_of(&store, 2), MessageStatus::Failed);
    apply(
        &mut store,
        vec![set(2, MessageStatus::Sent), set(2, MessageStatus::Read)],
    );
    assert_eq!(status_of(&store, 2), MessageStatus::Failed, "failed is final");

    apply(&mut store, vec![set(3, MessageStatus::Seen)]);
    assert_eq!(status_of(&store, 3), MessageStatus::Seen);
    apply(&mut store, vec![set(3, MessageStatus::Received)]);
    assert_eq!(status_of(&store, 3), MessageStatus::Seen);
}

/// `SetStatus` for an unknown id is a no-op (not an error), and one naming another peer than
/// the message's changes nothing.
pub fn status_ignores_unknown_ids_and_other_peers<S: Store>(mut store: S) {
    let (bob, mallory) = (address(), address());
    apply(
        &mut store,
        vec![StoreOp::InsertMessage(message(1, bob, Direction::Outgoing, "hi"))],
    );
    apply(
        &mut store,
        vec![
            StoreOp::SetStatus {
                id: MessageId([1; 16]),
                peer: mallory,
                status: MessageStatus::Read,
            },
            StoreOp::SetStatus {
                id: MessageId([42; 16]),
                peer: bob,
                status: MessageStatus::Read,
            },
        ],
    );
    assert_eq!(status_of(&store, 1), MessageStatus::Queued);
    assert!(ok(store.message(&MessageId([42; 16])), "message").is_none());
    apply(
        &mut store,
        vec![StoreOp::SetStatus {
            id: MessageId([1; 16]),
            peer: bob,
            status: MessageStatus::Delivered,
        }],
    );
    assert_eq!(status_of(&store, 1), MessageStatus::Delivered);
}
