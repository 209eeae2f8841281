//! Peer sessions and contacts: one record per remote identity or name, and the list of peers
//! by their latest message.

use hush_crypto::peer::PeerSessions;

use super::helpers::{account, address, apply, contact, identity_of, load, message, ok, sessions_with};
use crate::address::Address;
use crate::records::{Contact, Conversation, Direction, StoreOp};
use crate::store::Store;

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
