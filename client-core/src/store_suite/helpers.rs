//! Record builders and short readers the suite's checks share.

use core::fmt::Debug;

use hush_crypto::peer::{PeerSessions, PeerSessionsPickle};
use hush_crypto::{Account, AccountPickle};

use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::records::{
    Commit, Contact, Direction, HeldMessage, HistoryEntry, MessageStatus, OutboxItem, Snapshot, StoreOp,
    StoredMessage,
};
use crate::store::Store;

pub(super) const NOW: u64 = 1_700_000_000;

/// A fresh account (its identity is a valid address).
pub(super) fn account() -> Account {
    Account::new(NOW, &mut rand::rng())
}

/// A fresh, valid address.
pub(super) fn address() -> Address {
    Address::from_identity(&account().identity_key())
}

/// Sessions with `peer` holding one real outbound session started by `local`.
pub(super) fn sessions_with(local: &Account, peer: &mut Account) -> PeerSessions {
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
pub(super) fn identity_of(pickle: &PeerSessionsPickle) -> Address {
    let sessions = PeerSessions::from_pickle(pickle).expect("a stored peer pickle restores");
    Address::from_identity(&sessions.remote_identity())
}

pub(super) fn apply<S: Store>(store: &mut S, ops: Vec<StoreOp>) {
    store.apply(&Commit { ops }).expect("the commit applies");
}

pub(super) fn load<S: Store>(store: &S) -> Snapshot {
    store.load().expect("load works").expect("an account was written")
}

pub(super) fn message(id: u8, peer: Address, direction: Direction, text: &str) -> StoredMessage {
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

pub(super) fn outbox_item(id: u8, peer: Address) -> OutboxItem {
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

pub(super) fn held(peer: Address, conv_seq: u64, byte: u8) -> HeldMessage {
    HeldMessage {
        peer,
        conv_seq,
        payload: vec![byte; 20],
        received_at: NOW * 1000 + conv_seq,
    }
}

pub(super) fn contact(name: &str, address: Address) -> Contact {
    Contact {
        name: name.to_owned(),
        address,
        verified: false,
        added_at: NOW * 1000,
    }
}

pub(super) fn status_of<S: Store>(store: &S, id: u8) -> MessageStatus {
    store
        .message(&MessageId([id; 16]))
        .expect("message works")
        .expect("the message is stored")
        .status
}

pub(super) fn ids(entries: &[HistoryEntry]) -> Vec<MessageId> {
    entries.iter().map(|entry| entry.message.id).collect()
}

pub(super) fn sorted<T: Clone, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut items = items.to_vec();
    items.sort_by_key(key);
    items
}

pub(super) fn same_account(a: &AccountPickle, b: &AccountPickle) -> bool {
    a.to_plaintext_bytes() == b.to_plaintext_bytes()
}

/// `Store` errors are only printed.
pub(super) fn ok<T, E: Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{what} failed: {error:?}"),
    }
}
