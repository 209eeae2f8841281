//! Changing the passphrase: afterwards only the new one opens the profile, with everything in
//! it; stopped after any step (as a crash would stop it), the profile opens with exactly one
//! of the two, and that open tidies up.

use std::path::{Path, PathBuf};

use hush_client_core::{Commit, Contact, MessageId, Store, StoreOp, StoredMessage};
use hush_crypto::Account;
use tempfile::TempDir;

use super::rekey::RekeyStep;
use super::*;

const OLD: &str = "old horse";
const NEW: &str = "new horse";

fn cheap() -> KdfParams {
    KdfParams::new(64, 1, 1).unwrap()
}

fn passphrase_key(path: &Path, passphrase: &str) -> Result<DatabaseKey, StoreError> {
    DatabaseKey::from_passphrase_with_params(passphrase, path, cheap())
}

fn open(path: &Path, passphrase: &str) -> Result<SqlStore, StoreError> {
    SqlStore::open_existing(path, &passphrase_key(path, passphrase)?)
}

/// What the test compares before and after: the account, the sessions, a message, a contact.
#[derive(Debug, PartialEq)]
struct Contents {
    account: Vec<u8>,
    peers: Vec<Vec<u8>>,
    history: usize,
    contacts: Vec<String>,
}

fn contents(store: &SqlStore) -> Contents {
    let snapshot = store.load().unwrap().unwrap();
    let peer = Address::from_identity(&snapshot.peers[0].remote_identity());
    Contents {
        account: snapshot.account.to_plaintext_bytes(),
        peers: snapshot
            .peers
            .iter()
            .map(|peer| peer.to_plaintext_bytes())
            .collect(),
        history: store.history(&peer, None, 10).unwrap().len(),
        contacts: store
            .contacts()
            .unwrap()
            .into_iter()
            .map(|contact| contact.name)
            .collect(),
    }
}

fn message_from(peer: Address, id: u8) -> StoredMessage {
    super::tests::text_message(id, peer, "hello")
}

/// A profile under [`OLD`] with an account, sessions with Bob, a message from him and his
/// contact entry; what it holds.
fn profile(dir: &TempDir) -> (PathBuf, Contents) {
    let path = dir.path().join("profile.db");
    let mut store = SqlStore::open(&path, &passphrase_key(&path, OLD).unwrap()).unwrap();
    let local = Account::new(1_700_000_000, &mut rand::rng());
    let mut bob = Account::new(1_700_000_000, &mut rand::rng());
    let sessions = super::wal::tests::sessions_with(&local, &mut bob);
    let bob_address = Address::from_identity(&bob.identity_key());
    let message = message_from(bob_address, 1);
    let contact = Contact {
        name: "bob".to_owned(),
        address: bob_address,
        verified: false,
        added_at: 3,
    };
    let ops = vec![
        StoreOp::PutAccount(local.pickle()),
        StoreOp::PutPeer(sessions.pickle()),
        StoreOp::InsertMessage(message),
        StoreOp::PutContact(contact),
    ];
    store.apply(&Commit { ops }).unwrap();
    let before = contents(&store);
    (path, before)
}

fn staged_files(path: &Path) -> [bool; 2] {
    [
        salt_file::pending_path(path).exists(),
        unlock::rekeyed_path(path).exists(),
    ]
}

#[test]
fn after_a_change_only_the_new_passphrase_opens_the_profile_with_everything_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, before) = profile(&dir);
    let store = open(&path, OLD).unwrap();
    let store = store.change_passphrase(NEW, None).unwrap();
    assert_eq!(
        contents(&store),
        before,
        "the store handed back is the changed one"
    );
    drop(store);
    assert_eq!(staged_files(&path), [false, false]);
    // The new salt file keeps the profile's Argon2 parameters (here the cheap ones).
    let salt = salt_file::read(&DatabaseKey::salt_path(&path)).unwrap().unwrap();
    assert_eq!(salt.params, cheap());

    assert!(matches!(open(&path, OLD), Err(StoreError::WrongKey)));
    let store = open(&path, NEW).unwrap();
    assert_eq!(contents(&store), before);
    // And it goes on working: a write after the change is read back, and a new message comes
    // after the copied one.
    let mut store = store;
    let bob = store.contacts().unwrap()[0].address;
    let ops = vec![
        StoreOp::RemoveContact("bob".to_owned()),
        StoreOp::InsertMessage(message_from(bob, 2)),
    ];
    store.apply(&Commit { ops }).unwrap();
    assert!(store.contacts().unwrap().is_empty());
    let history = store.history(&bob, None, 10).unwrap();
    assert_eq!(history.len(), 2);
    assert!(history[0].position < history[1].position);
    assert_eq!(history[1].message.id, MessageId([2; 16]));
}

#[test]
fn a_change_stopped_after_any_step_leaves_a_profile_that_exactly_one_passphrase_opens() {
    for (stop_after, new_in_force) in [
        (RekeyStep::Staged, false),
        (RekeyStep::Copied, false),
        (RekeyStep::Replaced, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (path, before) = profile(&dir);
        let store = open(&path, OLD).unwrap();
        let stopped = store.change_passphrase_with(NEW, cheap(), &mut |step| {
            if step == stop_after {
                Err(StoreError::Backend(format!("crash after {step:?}")))
            } else {
                Ok(())
            }
        });
        assert!(stopped.is_err(), "{stop_after:?}");
        let (works, refused) = if new_in_force { (NEW, OLD) } else { (OLD, NEW) };

        // The passphrase on the other side is told which one to use, and changes nothing.
        let files = super::tests::files_in(dir.path());
        match open(&path, refused) {
            Err(StoreError::PassphraseChanged) => assert!(new_in_force, "{stop_after:?}"),
            Err(StoreError::PassphraseChangeUnfinished) => assert!(!new_in_force, "{stop_after:?}"),
            other => panic!("{stop_after:?}: {refused} gave {other:?}"),
        }
        assert_eq!(super::tests::files_in(dir.path()), files, "{stop_after:?}");

        let store = open(&path, works).unwrap();
        assert_eq!(contents(&store), before, "{stop_after:?}");
        drop(store);
        // That open settled it: nothing staged is left, and the other one is now simply wrong.
        assert_eq!(staged_files(&path), [false, false], "{stop_after:?}");
        assert!(
            matches!(open(&path, refused), Err(StoreError::WrongKey)),
            "{stop_after:?}"
        );
        assert_eq!(contents(&open(&path, works).unwrap()), before, "{stop_after:?}");
    }
}

#[test]
fn a_change_can_be_made_again_after_one_was_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (path, before) = profile(&dir);
    let store = open(&path, OLD).unwrap();
    let stopped = store.change_passphrase_with(NEW, cheap(), &mut |step| match step {
        RekeyStep::Copied => Err(StoreError::Backend("disk full".to_owned())),
        _ => Ok(()),
    });
    assert!(stopped.is_err());
    let store = open(&path, OLD)
        .unwrap()
        .change_passphrase("third horse", Some(cheap()))
        .unwrap();
    drop(store);
    assert!(matches!(open(&path, NEW), Err(StoreError::WrongKey)));
    assert_eq!(contents(&open(&path, "third horse").unwrap()), before);
}

#[test]
fn a_raw_keyed_store_has_no_passphrase_to_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    let store = SqlStore::open(&path, &DatabaseKey::from_bytes([3; 32])).unwrap();
    assert!(matches!(
        store.change_passphrase(NEW, Some(cheap())),
        Err(StoreError::NotPassphraseKeyed)
    ));
    assert!(SqlStore::open(&path, &DatabaseKey::from_bytes([3; 32])).is_ok());
}
