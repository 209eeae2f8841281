//! Per-peer conversation counters and the outbox and held-message queues: put, replaced,
//! removed by their key.

use super::helpers::{account, address, apply, held, load, outbox_item, sorted};
use crate::content::MessageId;
use crate::records::{Conversation, HeldMessage, OutboxItem, StoreOp};
use crate::store::Store;

/// Counters are keyed by peer and replaced whole.
pub fn conversations_are_replaced_per_peer<S: Store>(mut store: S) {
    let (bob, carol) = (address(), address());
    apply(
        &mut store,
        vec![
            StoreOp::PutAccount(account().pickle()),
            StoreOp::PutConversation(Conversation::new(bob)),
            StoreOp::PutConversation(Conversation {
                peer: carol,
                next_out_seq: 7,
                next_in_seq: 3,
            }),
        ],
    );
    let updated = Conversation {
        peer: bob,
        next_out_seq: 2,
        next_in_seq: u64::MAX,
    };
    apply(&mut store, vec![StoreOp::PutConversation(updated)]);
    let conversations = sorted(&load(&store).conversations, |c| c.peer);
    let expected = sorted(
        &[
            updated,
            Conversation {
                peer: carol,
                next_out_seq: 7,
                next_in_seq: 3,
            },
        ],
        |c| c.peer,
    );
    assert_eq!(conversations, expected);
}

/// `PutOutbox` inserts or replaces by id (setting the envelope), `RemoveOutbox` removes and is
/// a no-op for an absent id.
pub fn outbox_items_are_put_replaced_and_removed<S: Store>(mut store: S) {
    let bob = address();
    let (first, second, third) = (outbox_item(1, bob), outbox_item(2, bob), outbox_item(3, bob));
    apply(
        &mut store,
        vec![
            StoreOp::PutAccount(account().pickle()),
            StoreOp::PutOutbox(first.clone()),
            StoreOp::PutOutbox(second.clone()),
            StoreOp::PutOutbox(third.clone()),
        ],
    );
    assert_eq!(
        sorted(&load(&store).outbox, |item| item.id),
        vec![first.clone(), second.clone(), third.clone()]
    );

    let sealed = OutboxItem {
        envelope: Some(vec![0xee; 300]),
        not_before: u64::MAX,
        ..second.clone()
    };
    apply(
        &mut store,
        vec![
            StoreOp::PutOutbox(sealed.clone()),
            StoreOp::RemoveOutbox(first.id),
            StoreOp::RemoveOutbox(MessageId([99; 16])),
        ],
    );
    assert_eq!(
        sorted(&load(&store).outbox, |item| item.id),
        vec![sealed, third.clone()]
    );

    apply(&mut store, vec![StoreOp::RemoveOutbox(first.id)]);
    apply(
        &mut store,
        vec![StoreOp::RemoveOutbox(second.id), StoreOp::RemoveOutbox(third.id)],
    );
    assert!(load(&store).outbox.is_empty());
}

/// Held messages are keyed by `(peer, conv_seq)`.
pub fn held_messages_are_put_replaced_and_removed<S: Store>(mut store: S) {
    let (bob, carol) = (address(), address());
    apply(
        &mut store,
        vec![
            StoreOp::PutAccount(account().pickle()),
            StoreOp::PutHeld(held(bob, 3, 1)),
            StoreOp::PutHeld(held(bob, 4, 2)),
            StoreOp::PutHeld(held(carol, 3, 3)),
        ],
    );
    let key = |held: &HeldMessage| (held.peer, held.conv_seq);
    assert_eq!(load(&store).held.len(), 3);

    apply(
        &mut store,
        vec![
            StoreOp::RemoveHeld {
                peer: bob,
                conv_seq: 3,
            },
            StoreOp::RemoveHeld {
                peer: bob,
                conv_seq: 99,
            },
            StoreOp::PutHeld(held(bob, 4, 9)),
        ],
    );
    assert_eq!(
        sorted(&load(&store).held, key),
        sorted(&[held(bob, 4, 9), held(carol, 3, 3)], key)
    );

    apply(
        &mut store,
        vec![
            StoreOp::RemoveHeld {
                peer: bob,
                conv_seq: 4,
            },
            StoreOp::RemoveHeld {
                peer: carol,
                conv_seq: 3,
            },
        ],
    );
    assert!(load(&store).held.is_empty());
}
