//! The read side: history pages, unread lists and what the snapshot carries of messages.

use super::helpers::{account, address, apply, ids, load, message, ok};
use crate::content::MessageId;
use crate::records::{Direction, HistoryEntry, MessageStatus, StoreOp};
use crate::store::Store;

/// Positions increase with every stored message; `history` gives the latest `limit` before
/// `before`, oldest first, and paging backwards visits each of a peer's messages once.
pub fn history_pages_backwards_oldest_first<S: Store>(mut store: S) {
    let (bob, carol) = (address(), address());
    let mut bob_ids = Vec::new();
    for id in 1..=20u8 {
        let peer = if id % 3 == 0 { carol } else { bob };
        let direction = if id % 2 == 0 {
            Direction::Incoming
        } else {
            Direction::Outgoing
        };
        apply(
            &mut store,
            vec![StoreOp::InsertMessage(message(id, peer, direction, "m"))],
        );
        if peer == bob {
            bob_ids.push(MessageId([id; 16]));
        }
    }
    assert_eq!(bob_ids.len(), 14);

    let latest = ok(store.history(&bob, None, 4), "history");
    assert_eq!(
        ids(&latest),
        bob_ids[10..].to_vec(),
        "the latest four, oldest first"
    );
    assert!(latest.windows(2).all(|pair| pair[0].position < pair[1].position));

    let mut seen: Vec<HistoryEntry> = Vec::new();
    let mut before = None;
    loop {
        let page = ok(store.history(&bob, before, 4), "history");
        assert!(page.len() <= 4);
        let Some(first) = page.first() else { break };
        before = Some(first.position);
        let mut page = page;
        page.extend(seen);
        seen = page;
    }
    assert_eq!(ids(&seen), bob_ids, "paging visits every message once, in order");
    assert!(seen.windows(2).all(|pair| pair[0].position < pair[1].position));
    assert!(seen.iter().all(|entry| entry.message.peer == bob));

    // Positions are global: carol's interleave with bob's.
    let carol_history = ok(store.history(&carol, None, 100), "history");
    assert_eq!(carol_history.len(), 6);
    let third = MessageId([3; 16]);
    let carol_third = carol_history
        .iter()
        .find(|entry| entry.message.id == third)
        .unwrap();
    let bob_second = seen
        .iter()
        .find(|entry| entry.message.id == MessageId([2; 16]))
        .unwrap();
    let bob_fourth = seen
        .iter()
        .find(|entry| entry.message.id == MessageId([4; 16]))
        .unwrap();
    assert!(bob_second.position < carol_third.position && carol_third.position < bob_fourth.position);

    assert!(ok(store.history(&bob, None, 0), "history").is_empty());
    assert!(ok(store.history(&bob, Some(seen[0].position), 10), "history").is_empty());
    let just_before_last = ok(store.history(&bob, Some(seen[13].position), 1), "history");
    assert_eq!(ids(&just_before_last), vec![bob_ids[12]]);
    assert!(ok(store.history(&address(), None, 10), "history").is_empty());

    // A message stored later comes after everything before it.
    apply(
        &mut store,
        vec![StoreOp::InsertMessage(message(
            200,
            bob,
            Direction::Incoming,
            "late",
        ))],
    );
    let newest = ok(store.history(&bob, None, 1), "history");
    assert_eq!(ids(&newest), vec![MessageId([200; 16])]);
    assert!(newest[0].position > carol_history[5].position);
}

/// Incoming messages still `Received`, oldest first; outgoing ones and other peers' never.
pub fn unread_lists_incoming_messages_not_yet_seen<S: Store>(mut store: S) {
    let (bob, carol) = (address(), address());
    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(message(5, bob, Direction::Incoming, "a")),
            StoreOp::InsertMessage(message(2, bob, Direction::Outgoing, "b")),
            StoreOp::InsertMessage(message(3, carol, Direction::Incoming, "c")),
            StoreOp::InsertMessage(message(1, bob, Direction::Incoming, "d")),
            StoreOp::InsertMessage(message(4, bob, Direction::Incoming, "e")),
        ],
    );
    let id = |n: u8| MessageId([n; 16]);
    assert_eq!(
        ok(store.unread(&bob), "unread"),
        vec![id(5), id(1), id(4)],
        "stored order"
    );
    assert_eq!(ok(store.unread(&carol), "unread"), vec![id(3)]);

    apply(
        &mut store,
        vec![
            StoreOp::SetStatus {
                id: id(1),
                peer: bob,
                status: MessageStatus::Seen,
            },
            StoreOp::SetStatus {
                id: id(3),
                peer: bob,
                status: MessageStatus::Seen,
            },
        ],
    );
    assert_eq!(ok(store.unread(&bob), "unread"), vec![id(5), id(4)]);
    assert_eq!(
        ok(store.unread(&carol), "unread"),
        vec![id(3)],
        "bob cannot mark carol's message"
    );
}

/// The snapshot carries our messages the relay stored but the peer has not confirmed (`Sent`)
/// and the latest incoming ids, both oldest first (a session reset resends the first and
/// deduplicates with the second).
pub fn snapshot_lists_unconfirmed_and_recent_incoming<S: Store>(mut store: S) {
    let bob = address();
    let mut ops = vec![StoreOp::PutAccount(account().pickle())];
    for (n, direction) in [
        (1, Direction::Outgoing),
        (2, Direction::Incoming),
        (3, Direction::Outgoing),
        (4, Direction::Outgoing),
        (5, Direction::Incoming),
    ] {
        ops.push(StoreOp::InsertMessage(message(n, bob, direction, "x")));
    }
    for (n, status) in [
        (1, MessageStatus::Sent),
        (3, MessageStatus::Delivered),
        (4, MessageStatus::Sent),
    ] {
        ops.push(StoreOp::SetStatus {
            id: MessageId([n; 16]),
            peer: bob,
            status,
        });
    }
    apply(&mut store, ops);
    let snapshot = load(&store);
    let unconfirmed: Vec<MessageId> = snapshot.unconfirmed.iter().map(|m| m.id).collect();
    assert_eq!(unconfirmed, vec![MessageId([1; 16]), MessageId([4; 16])]);
    assert!(
        snapshot
            .unconfirmed
            .iter()
            .all(|m| m.status == MessageStatus::Sent)
    );
    assert_eq!(
        snapshot.recent_incoming,
        vec![MessageId([2; 16]), MessageId([5; 16])]
    );
}
