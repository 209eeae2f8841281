//! Every [`Store`] runs these, so all backends mean the same thing by each [`StoreOp`] and query.
//!
//! A backend's tests invoke [`store_suite!`](crate::store_suite!) with an expression that makes
//! a fresh, empty store as a `(store, guard)` pair; the guard (a temp dir, or `()`) lives as long
//! as the test. One `#[test]` is generated per suite function:
//!
//! ```ignore
//! hush_client_core::store_suite!((hush_client_core::MemoryStore::new(), ()));
//! ```
//!
//! A durable backend also calls
//! [`reopen_keeps_everything`](crate::store_suite::reopen_keeps_everything) with a function that
//! closes the store and opens it again.
// Test support: a failed step is a failed test, and its message says which step.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use core::fmt::Debug;

use hush_crypto::peer::{PeerSessions, PeerSessionsPickle};
use hush_crypto::{Account, AccountPickle};

use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::records::{
    Commit, Contact, Conversation, Direction, HeldMessage, HistoryEntry, MessageStatus, OutboxItem, Snapshot,
    StoreOp, StoredMessage,
};
use crate::store::Store;

/// Generates one `#[test]` per suite function, each on a fresh store from `$make`, an
/// expression giving `(store, guard)`.
#[macro_export]
macro_rules! store_suite {
    ($make:expr) => {
        $crate::store_suite!(@tests $make;
            empty_store_loads_nothing,
            account_round_trips_and_is_replaced,
            put_peer_replaces_per_remote_identity,
            conversations_are_replaced_per_peer,
            outbox_items_are_put_replaced_and_removed,
            held_messages_are_put_replaced_and_removed,
            insert_message_ignores_a_second_insert_of_an_id,
            messages_round_trip_every_field,
            status_moves_only_forward,
            status_ignores_unknown_ids_and_other_peers,
            history_pages_backwards_oldest_first,
            unread_lists_incoming_messages_not_yet_seen,
            snapshot_lists_unconfirmed_and_recent_incoming,
            contacts_are_put_replaced_and_removed_by_name,
            peers_are_listed_most_recent_first,
            ops_in_a_commit_apply_in_order,
            empty_commit_changes_nothing,
            failed_commit_leaves_nothing,
            access_keys_and_standings_are_put_and_replaced,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (store, _guard) = $make;
                $crate::store_suite::$name(store);
            }
        )*
    };
}

const NOW: u64 = 1_700_000_000;

/// A fresh account (its identity is a valid address).
fn account() -> Account {
    Account::new(NOW, &mut rand::rng())
}

/// A fresh, valid address.
fn address() -> Address {
    Address::from_identity(&account().identity_key())
}

/// Sessions with `peer` holding one real outbound session started by `local`.
fn sessions_with(local: &Account, peer: &mut Account) -> PeerSessions {
    let mut rng = rand::rng();
    let otk = peer.generate_one_time_prekeys(1, &mut rng)[0];
    let bundle = peer
        .prekey_bundle(Some(otk.id))
        .expect("a new account has a signed prekey")
        .verify(None)
        .expect("an account's own bundle verifies");
    let session = local
        .create_outbound_session(b"local", b"peer", &bundle, NOW, &mut rng)
        .expect("the session starts");
    let mut sessions = PeerSessions::new(peer.identity_key());
    sessions
        .add_outbound(session)
        .expect("the session is with this peer");
    sessions
}

/// Identity of a stored peer pickle.
fn identity_of(pickle: &PeerSessionsPickle) -> Address {
    let sessions = PeerSessions::from_pickle(pickle).expect("a stored peer pickle restores");
    Address::from_identity(&sessions.remote_identity())
}

fn apply<S: Store>(store: &mut S, ops: Vec<StoreOp>) {
    store.apply(&Commit { ops }).expect("the commit applies");
}

fn load<S: Store>(store: &S) -> Snapshot {
    store.load().expect("load works").expect("an account was written")
}

fn message(id: u8, peer: Address, direction: Direction, text: &str) -> StoredMessage {
    StoredMessage {
        id: MessageId([id; 16]),
        peer,
        direction,
        conv_seq: u64::from(id),
        sent_at: NOW * 1000 + u64::from(id),
        stored_at: NOW * 1000 + 10 + u64::from(id),
        content: Content::text(text),
        status: match direction {
            Direction::Incoming => MessageStatus::Received,
            Direction::Outgoing => MessageStatus::Queued,
        },
    }
}

fn outbox_item(id: u8, peer: Address) -> OutboxItem {
    OutboxItem {
        id: MessageId([id; 16]),
        peer,
        conv_seq: u64::from(id),
        payload: vec![id; 40],
        envelope: None,
        created_at: NOW * 1000 + u64::from(id),
        not_before: NOW * 1000,
    }
}

fn held(peer: Address, conv_seq: u64, byte: u8) -> HeldMessage {
    HeldMessage {
        peer,
        conv_seq,
        payload: vec![byte; 20],
        received_at: NOW * 1000 + conv_seq,
    }
}

fn contact(name: &str, address: Address) -> Contact {
    Contact {
        name: name.to_owned(),
        address,
        verified: false,
        added_at: NOW * 1000,
    }
}

fn status_of<S: Store>(store: &S, id: u8) -> MessageStatus {
    store
        .message(&MessageId([id; 16]))
        .expect("message works")
        .expect("the message is stored")
        .status
}

fn ids(entries: &[HistoryEntry]) -> Vec<MessageId> {
    entries.iter().map(|entry| entry.message.id).collect()
}

fn sorted<T: Clone, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut items = items.to_vec();
    items.sort_by_key(key);
    items
}

fn same_account(a: &AccountPickle, b: &AccountPickle) -> bool {
    a.to_plaintext_bytes() == b.to_plaintext_bytes()
}

/// `Store` errors are only printed.
fn ok<T, E: Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{what} failed: {error:?}"),
    }
}

/// Nothing is there before an account is written, and writing other things first does not make
/// one appear.
pub fn empty_store_loads_nothing<S: Store>(mut store: S) {
    assert!(ok(store.load(), "load").is_none());
    let peer = address();
    assert!(ok(store.history(&peer, None, 10), "history").is_empty());
    assert!(ok(store.message(&MessageId([1; 16])), "message").is_none());
    assert!(ok(store.unread(&peer), "unread").is_empty());
    assert!(ok(store.contacts(), "contacts").is_empty());
    assert!(ok(store.peers(), "peers").is_empty());

    apply(&mut store, vec![StoreOp::PutContact(contact("ann", peer))]);
    assert!(ok(store.load(), "load").is_none(), "no account was written");
}

/// The account comes back as written, with empty collections; a second `PutAccount` replaces it.
pub fn account_round_trips_and_is_replaced<S: Store>(mut store: S) {
    let mut account = account();
    let first = account.pickle();
    apply(&mut store, vec![StoreOp::PutAccount(first.clone())]);
    let snapshot = load(&store);
    assert!(same_account(&snapshot.account, &first));
    let restored = Account::from_pickle(&snapshot.account).expect("the stored account restores");
    assert_eq!(restored.identity_key(), account.identity_key());
    assert!(snapshot.peers.is_empty() && snapshot.conversations.is_empty());
    assert!(snapshot.outbox.is_empty() && snapshot.held.is_empty());

    account.generate_one_time_prekeys(5, &mut rand::rng());
    let second = account.pickle();
    assert!(!same_account(&first, &second));
    apply(&mut store, vec![StoreOp::PutAccount(second.clone())]);
    let snapshot = load(&store);
    assert!(
        same_account(&snapshot.account, &second),
        "the newer account replaced the first"
    );
    assert_eq!(
        Account::from_pickle(&snapshot.account)
            .expect("restores")
            .one_time_prekey_count(),
        5
    );
}

/// One entry per remote identity: a second `PutPeer` for the same identity replaces the first.
pub fn put_peer_replaces_per_remote_identity<S: Store>(mut store: S) {
    let local = account();
    let mut bob = account();
    let carol = account();
    apply(&mut store, vec![StoreOp::PutAccount(local.pickle())]);
    let bob_empty = PeerSessions::new(bob.identity_key()).pickle();
    let carol_empty = PeerSessions::new(carol.identity_key()).pickle();
    apply(
        &mut store,
        vec![StoreOp::PutPeer(bob_empty), StoreOp::PutPeer(carol_empty.clone())],
    );
    assert_eq!(load(&store).peers.len(), 2);

    let bob_sessions = sessions_with(&local, &mut bob).pickle();
    apply(&mut store, vec![StoreOp::PutPeer(bob_sessions.clone())]);
    let peers = load(&store).peers;
    assert_eq!(peers.len(), 2, "the second PutPeer for bob replaced the first");
    let bob_address = Address::from_identity(&bob.identity_key());
    let stored_bob = peers
        .iter()
        .find(|pickle| identity_of(pickle) == bob_address)
        .expect("bob is stored");
    assert_eq!(stored_bob.to_plaintext_bytes(), bob_sessions.to_plaintext_bytes());
    assert_eq!(PeerSessions::from_pickle(stored_bob).expect("restores").len(), 1);
    let carol_address = Address::from_identity(&carol.identity_key());
    let stored_carol = peers
        .iter()
        .find(|pickle| identity_of(pickle) == carol_address)
        .expect("carol is stored");
    assert_eq!(
        stored_carol.to_plaintext_bytes(),
        carol_empty.to_plaintext_bytes()
    );
}

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

/// Contacts are keyed by name, listed by name.
pub fn contacts_are_put_replaced_and_removed_by_name<S: Store>(mut store: S) {
    let (ann, bea, cat) = (address(), address(), address());
    apply(
        &mut store,
        vec![
            StoreOp::PutContact(contact("cat", cat)),
            StoreOp::PutContact(contact("Ann ✓", ann)),
            StoreOp::PutContact(contact("bea", bea)),
        ],
    );
    let names = |store: &S| -> Vec<String> {
        ok(store.contacts(), "contacts")
            .into_iter()
            .map(|contact| contact.name)
            .collect()
    };
    assert_eq!(names(&store), vec!["Ann ✓", "bea", "cat"]);

    let replaced = Contact {
        name: "bea".to_owned(),
        address: ann,
        verified: true,
        added_at: u64::MAX,
    };
    apply(
        &mut store,
        vec![
            StoreOp::PutContact(replaced.clone()),
            StoreOp::RemoveContact("cat".to_owned()),
            StoreOp::RemoveContact("nobody".to_owned()),
        ],
    );
    assert_eq!(
        ok(store.contacts(), "contacts"),
        vec![contact("Ann ✓", ann), replaced]
    );
    apply(&mut store, vec![StoreOp::RemoveContact("cat".to_owned())]);
    assert_eq!(names(&store), vec!["Ann ✓", "bea"]);
}

/// Peers with messages, the one with the latest stored message first.
pub fn peers_are_listed_most_recent_first<S: Store>(mut store: S) {
    let (ann, bea, cat, dan) = (address(), address(), address(), address());
    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(message(1, ann, Direction::Outgoing, "1")),
            StoreOp::InsertMessage(message(2, bea, Direction::Incoming, "2")),
            StoreOp::InsertMessage(message(3, cat, Direction::Incoming, "3")),
            // A conversation or contact alone is not activity.
            StoreOp::PutConversation(Conversation::new(dan)),
            StoreOp::PutContact(contact("dan", dan)),
        ],
    );
    assert_eq!(ok(store.peers(), "peers"), vec![cat, bea, ann]);
    apply(
        &mut store,
        vec![StoreOp::InsertMessage(message(4, ann, Direction::Incoming, "4"))],
    );
    assert_eq!(ok(store.peers(), "peers"), vec![ann, cat, bea]);
    apply(
        &mut store,
        vec![StoreOp::InsertMessage(message(5, bea, Direction::Outgoing, "5"))],
    );
    assert_eq!(ok(store.peers(), "peers"), vec![bea, ann, cat]);
}

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

/// Our access key is one record; each peer's standing and key one record per peer.
pub fn access_keys_and_standings_are_put_and_replaced<S: Store>(mut store: S) {
    use crate::{OwnAccessKey, PeerAccess, Standing};
    let (bob, carol) = (address(), address());
    apply(&mut store, vec![StoreOp::PutAccount(account().pickle())]);
    assert_eq!(load(&store).own_access_key, None);
    assert!(load(&store).peer_access.is_empty());
    let own = |byte: u8, uploaded: bool| OwnAccessKey {
        key: [byte; 32],
        uploaded,
    };
    let peer = |peer: Address, standing: Standing, key: Option<u8>| PeerAccess {
        peer,
        standing,
        access_key: key.map(|byte| [byte; 32]),
    };
    apply(
        &mut store,
        vec![
            StoreOp::PutOwnAccessKey(own(1, false)),
            StoreOp::PutPeerAccess(peer(bob, Standing::Requested, Some(7))),
            StoreOp::PutPeerAccess(peer(carol, Standing::Accepted, None)),
        ],
    );
    let by_peer = |access: &PeerAccess| *access.peer.as_bytes();
    assert_eq!(load(&store).own_access_key, Some(own(1, false)));
    assert_eq!(
        sorted(&load(&store).peer_access, by_peer),
        sorted(
            &[
                peer(bob, Standing::Requested, Some(7)),
                peer(carol, Standing::Accepted, None)
            ],
            by_peer
        )
    );
    apply(
        &mut store,
        vec![
            StoreOp::PutOwnAccessKey(own(2, true)),
            StoreOp::PutPeerAccess(peer(bob, Standing::Blocked, None)),
        ],
    );
    assert_eq!(load(&store).own_access_key, Some(own(2, true)));
    assert_eq!(
        sorted(&load(&store).peer_access, by_peer),
        sorted(
            &[
                peer(bob, Standing::Blocked, None),
                peer(carol, Standing::Accepted, None)
            ],
            by_peer
        )
    );
}
