//! Commits as a whole: ops apply in order, an empty one changes nothing, a failed one leaves
//! nothing, and a reopened store keeps everything.

use hush_crypto::peer::{PeerSessions, PeerSessionsPickle};

use super::helpers::{
    account, address, apply, contact, held, load, message, ok, outbox_item, same_account, sessions_with,
    status_of,
};
use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::records::{Commit, Conversation, Direction, MessageStatus, OutboxItem, StoreOp};
use crate::store::Store;

/// Later ops in a commit see earlier ones.
pub fn ops_in_a_commit_apply_in_order<S: Store>(mut store: S) {
    let bob = address();
    let item = outbox_item(1, bob);
    apply(
        &mut store,
        vec![
            StoreOp::PutAccount(account().pickle()),
            StoreOp::InsertMessage(message(1, bob, Direction::Outgoing, "x")),
            StoreOp::SetStatus {
                id: MessageId([1; 16]),
                peer: bob,
                status: MessageStatus::Sent,
            },
            StoreOp::PutContact(contact("bob", bob)),
            StoreOp::RemoveContact("bob".to_owned()),
            StoreOp::PutOutbox(item.clone()),
            StoreOp::RemoveOutbox(item.id),
            StoreOp::RemoveHeld {
                peer: bob,
                conv_seq: 2,
            },
            StoreOp::PutHeld(held(bob, 2, 1)),
        ],
    );
    assert_eq!(status_of(&store, 1), MessageStatus::Sent);
    assert!(ok(store.contacts(), "contacts").is_empty());
    let snapshot = load(&store);
    assert!(snapshot.outbox.is_empty());
    assert_eq!(snapshot.held, vec![held(bob, 2, 1)]);
}

/// An empty commit succeeds and changes nothing.
pub fn empty_commit_changes_nothing<S: Store>(mut store: S) {
    apply(&mut store, Vec::new());
    assert!(ok(store.load(), "load").is_none());
    let bob = address();
    apply(
        &mut store,
        vec![StoreOp::InsertMessage(message(1, bob, Direction::Incoming, "x"))],
    );
    apply(&mut store, Vec::new());
    assert_eq!(ok(store.history(&bob, None, 10), "history").len(), 1);
}

/// A peer pickle that does not restore (it names an active session it does not hold).
fn broken_peer_pickle() -> PeerSessionsPickle {
    let mut bytes = PeerSessions::new(account().identity_key())
        .pickle()
        .to_plaintext_bytes();
    // The encoding ends with the active index, `None` (0); make it `Some(5)` with no sessions.
    assert_eq!(bytes.pop(), Some(0));
    bytes.extend_from_slice(&[1, 5]);
    let pickle: PeerSessionsPickle =
        hush_crypto::pickle::decode_plaintext(&bytes).expect("the altered encoding still decodes");
    assert!(PeerSessions::from_pickle(&pickle).is_err());
    pickle
}

/// A commit with an op the backend refuses (a peer pickle that does not restore) leaves none of
/// its ops behind. A backend that accepts the op must then have applied all of them.
pub fn failed_commit_leaves_nothing<S: Store>(mut store: S) {
    let bob = address();
    let first = account().pickle();
    apply(&mut store, vec![StoreOp::PutAccount(first.clone())]);
    let commit = Commit {
        ops: vec![
            StoreOp::PutAccount(account().pickle()),
            StoreOp::InsertMessage(message(1, bob, Direction::Incoming, "x")),
            StoreOp::PutContact(contact("bob", bob)),
            StoreOp::PutOutbox(outbox_item(2, bob)),
            StoreOp::PutConversation(Conversation::new(bob)),
            StoreOp::PutPeer(broken_peer_pickle()),
            StoreOp::PutHeld(held(bob, 9, 9)),
        ],
    };
    match store.apply(&commit) {
        Err(_) => {
            let snapshot = load(&store);
            assert!(
                same_account(&snapshot.account, &first),
                "the account was not replaced"
            );
            assert!(snapshot.peers.is_empty() && snapshot.conversations.is_empty());
            assert!(snapshot.outbox.is_empty() && snapshot.held.is_empty());
            assert!(ok(store.message(&MessageId([1; 16])), "message").is_none());
            assert!(ok(store.history(&bob, None, 10), "history").is_empty());
            assert!(ok(store.contacts(), "contacts").is_empty());
            assert!(ok(store.peers(), "peers").is_empty());
        }
        Ok(()) => {
            let snapshot = load(&store);
            assert!(!same_account(&snapshot.account, &first));
            assert_eq!(snapshot.held.len(), 1, "ops after the odd one applied too");
            assert!(ok(store.message(&MessageId([1; 16])), "message").is_some());
        }
    }
    // The store still works afterwards.
    apply(&mut store, vec![StoreOp::PutContact(contact("bob", bob))]);
    assert_eq!(ok(store.contacts(), "contacts").len(), 1);
}

/// Everything written is there after `reopen` (close and open again; for a memory store, a
/// clone of it), and writing continues where it left off: new messages get later positions
/// and a re-inserted id is still ignored.
pub fn reopen_keeps_everything<S: Store>(mut store: S, reopen: impl FnOnce(S) -> S) {
    let local = account();
    let mut bob_account = account();
    let bob = Address::from_identity(&bob_account.identity_key());
    let peer = sessions_with(&local, &mut bob_account).pickle();
    let conversation = Conversation {
        peer: bob,
        next_out_seq: 3,
        next_in_seq: 2,
    };
    let sealed = OutboxItem {
        envelope: Some(vec![7; 100]),
        ..outbox_item(2, bob)
    };
    apply(
        &mut store,
        vec![
            StoreOp::PutAccount(local.pickle()),
            StoreOp::PutPeer(peer.clone()),
            StoreOp::PutConversation(conversation),
            StoreOp::InsertMessage(message(1, bob, Direction::Outgoing, "one")),
            StoreOp::InsertMessage(message(2, bob, Direction::Outgoing, "two")),
            StoreOp::InsertMessage(message(3, bob, Direction::Incoming, "three")),
            StoreOp::PutOutbox(sealed.clone()),
            StoreOp::PutHeld(held(bob, 5, 5)),
            StoreOp::PutContact(contact("bob", bob)),
        ],
    );
    apply(
        &mut store,
        vec![StoreOp::SetStatus {
            id: MessageId([1; 16]),
            peer: bob,
            status: MessageStatus::Delivered,
        }],
    );
    let history = ok(store.history(&bob, None, 10), "history");

    let mut store = reopen(store);
    let snapshot = load(&store);
    assert!(same_account(&snapshot.account, &local.pickle()));
    assert_eq!(snapshot.peers.len(), 1);
    assert_eq!(snapshot.peers[0].to_plaintext_bytes(), peer.to_plaintext_bytes());
    assert_eq!(snapshot.conversations, vec![conversation]);
    assert_eq!(snapshot.outbox, vec![sealed]);
    assert_eq!(snapshot.held, vec![held(bob, 5, 5)]);
    assert_eq!(ok(store.history(&bob, None, 10), "history"), history);
    assert_eq!(status_of(&store, 1), MessageStatus::Delivered);
    assert_eq!(ok(store.unread(&bob), "unread"), vec![MessageId([3; 16])]);
    assert_eq!(ok(store.contacts(), "contacts"), vec![contact("bob", bob)]);
    assert_eq!(ok(store.peers(), "peers"), vec![bob]);

    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(message(1, bob, Direction::Outgoing, "again")),
            StoreOp::InsertMessage(message(4, bob, Direction::Incoming, "four")),
        ],
    );
    let after = ok(store.history(&bob, None, 10), "history");
    assert_eq!(after.len(), 4);
    assert_eq!(after[3].message.id, MessageId([4; 16]));
    assert!(after[3].position > history[2].position);
    assert_eq!(after[0].message.content, Content::text("one"));
}
