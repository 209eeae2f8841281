//! The account record and our access key with each peer's standing: written, read back,
//! replaced.

use hush_crypto::Account;

use super::helpers::{account, address, apply, contact, load, ok, same_account, sorted};
use crate::address::Address;
use crate::content::MessageId;
use crate::records::StoreOp;
use crate::store::Store;

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
            StoreOp::PutPeerAccess(peer(carol, Standing::ReportPending, None)),
        ],
    );
    assert_eq!(load(&store).own_access_key, Some(own(2, true)));
    assert_eq!(
        sorted(&load(&store).peer_access, by_peer),
        sorted(
            &[
                peer(bob, Standing::Blocked, None),
                peer(carol, Standing::ReportPending, None)
            ],
            by_peer
        )
    );
}
