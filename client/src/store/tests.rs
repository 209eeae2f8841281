//! The shared store suite on [`SqlStore`], and what only an encrypted file can show: the key
//! is checked, nothing readable reaches the disk, and a damaged file gives typed errors.

use std::fs;
use std::path::{Path, PathBuf};

use hush_client_core::{
    Address, Commit, Contact, Content, Direction, HeldMessage, MessageId, MessageStatus, OutboxItem, Store,
    StoreOp, StoredMessage,
};
use tempfile::TempDir;

use super::codec::direction_code;
use super::schema::SCHEMA_VERSION;
use super::*;

const RAW_KEY: [u8; 32] = [7; 32];

fn key() -> DatabaseKey {
    DatabaseKey::from_bytes(RAW_KEY)
}

fn cheap() -> KdfParams {
    KdfParams::new(64, 1, 1).unwrap()
}

fn fresh() -> (SqlStore, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(dir.path().join("profile.db"), &key()).unwrap();
    (store, dir)
}

mod suite {
    use super::*;

    hush_client_core::store_suite!(super::fresh());

    #[test]
    fn reopen_keeps_everything() {
        let (store, _dir) = fresh();
        hush_client_core::store_suite::reopen_keeps_everything(store, |store| {
            let path = store.path().to_owned();
            drop(store);
            SqlStore::open(path, &key()).unwrap()
        });
    }
}

fn address() -> Address {
    Address::from_identity(&hush_crypto::Account::new(1_700_000_000, &mut rand::rng()).identity_key())
}

pub(super) fn text_message(id: u8, peer: Address, text: &str) -> StoredMessage {
    StoredMessage {
        id: MessageId([id; 16]),
        peer,
        direction: Direction::Incoming,
        conv_seq: u64::from(id),
        sent_at: 1,
        stored_at: 2,
        content: Content::text(text),
        status: MessageStatus::Received,
    }
}

fn apply(store: &mut SqlStore, ops: Vec<StoreOp>) {
    store.apply(&Commit { ops }).unwrap();
}

/// A store with an account and one message from `peer`.
fn populated(path: &Path, key: &DatabaseKey, peer: Address) -> SqlStore {
    let mut store = SqlStore::open(path, key).unwrap();
    let account = hush_crypto::Account::new(1_700_000_000, &mut rand::rng());
    apply(
        &mut store,
        vec![
            StoreOp::PutAccount(account.pickle()),
            StoreOp::InsertMessage(text_message(1, peer, "hello")),
        ],
    );
    store
}

/// Every file in `dir` with its bytes, sorted by path.
pub(super) fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[test]
fn sql_codes_match_the_record_types() {
    // `messages_unread` and `queries::unread` spell these numbers out.
    assert_eq!(MessageStatus::Received.to_code(), 10);
    assert_eq!(direction_code(Direction::Incoming), 0);
}

#[test]
fn wrong_key_is_refused_and_leaves_the_database_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    let peer = address();
    drop(populated(&path, &key(), peer));

    let wrong = DatabaseKey::from_bytes([8; 32]);
    assert!(matches!(SqlStore::open(&path, &wrong), Err(StoreError::WrongKey)));
    let store = SqlStore::open(&path, &key()).unwrap();
    assert!(store.load().unwrap().is_some());
    assert_eq!(store.history(&peer, None, 10).unwrap().len(), 1);
}

#[test]
fn wrong_passphrase_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    let peer = address();
    let right = DatabaseKey::from_passphrase_with_params("correct horse", &path, cheap()).unwrap();
    drop(populated(&path, &right, peer));

    // The salt file's key check refuses it before the database is read.
    let wrong = DatabaseKey::from_passphrase_with_params("correct horsf", &path, cheap());
    assert!(matches!(wrong, Err(StoreError::WrongKey)));
    let again = DatabaseKey::from_passphrase_with_params("correct horse", &path, cheap()).unwrap();
    let store = SqlStore::open(&path, &again).unwrap();
    assert_eq!(
        store.history(&peer, None, 10).unwrap()[0].message.content,
        Content::text("hello")
    );

    // Without its salt file the passphrase cannot be turned into the key again.
    drop(store);
    fs::remove_file(DatabaseKey::salt_path(&path)).unwrap();
    assert!(matches!(
        DatabaseKey::from_passphrase_with_params("correct horse", &path, cheap()),
        Err(StoreError::SaltMissing(_))
    ));
}

#[test]
fn nothing_readable_reaches_the_disk() {
    const MESSAGE_MARKER: &str = "hush-plaintext-marker-5d1c0e7a";
    const CONTACT_MARKER: &str = "hush-contact-marker-93b2f4";
    const PAYLOAD_MARKER: &[u8] = b"hush-payload-marker-0af3";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    let peer = address();
    let account = hush_crypto::Account::new(1_700_000_000, &mut rand::rng());
    let mut store = SqlStore::open(&path, &key()).unwrap();
    // The account first: a commit replacing it truncates the log, and the markers' commit
    // should be found in the log below.
    apply(&mut store, vec![StoreOp::PutAccount(account.pickle())]);
    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(text_message(1, peer, MESSAGE_MARKER)),
            StoreOp::PutContact(Contact {
                name: CONTACT_MARKER.to_owned(),
                address: peer,
                verified: true,
                added_at: 3,
            }),
            StoreOp::PutOutbox(OutboxItem {
                id: MessageId([2; 16]),
                peer,
                conv_seq: 1,
                payload: PAYLOAD_MARKER.to_vec(),
                envelope: None,
                created_at: 4,
                not_before: 4,
            }),
            StoreOp::PutHeld(HeldMessage {
                peer,
                conv_seq: 9,
                payload: PAYLOAD_MARKER.to_vec(),
                received_at: 5,
            }),
        ],
    );

    // Through the store, everything reads back.
    let history = store.history(&peer, None, 10).unwrap();
    assert_eq!(history[0].message.content, Content::text(MESSAGE_MARKER));
    assert_eq!(store.contacts().unwrap()[0].name, CONTACT_MARKER);
    assert_eq!(store.load().unwrap().unwrap().outbox[0].payload, PAYLOAD_MARKER);

    let secrets: [&[u8]; 4] = [
        MESSAGE_MARKER.as_bytes(),
        CONTACT_MARKER.as_bytes(),
        PAYLOAD_MARKER,
        peer.as_bytes(),
    ];
    let check = |when: &str| {
        let files = files_in(dir.path());
        for (file, bytes) in &files {
            for secret in secrets {
                assert!(
                    !contains(bytes, secret),
                    "{when}: {} holds plaintext",
                    file.display()
                );
            }
        }
        files
    };
    // While open, the commit sits in the write-ahead log.
    let files = check("while open");
    let wal = files
        .iter()
        .find(|(file, _)| file.extension().is_some_and(|ext| ext == "db-wal"))
        .expect("an open database in WAL mode has a -wal file");
    assert!(!wal.1.is_empty(), "the commit is in the WAL");
    drop(store);
    let files = check("after close");
    assert!(
        files
            .iter()
            .any(|(file, bytes)| *file == path && !bytes.is_empty())
    );

    // The check can fail: the same rows in a database without a key show the marker.
    let plain_path = dir.path().join("plain.db");
    let plain = rusqlite::Connection::open(&plain_path).unwrap();
    plain
        .execute_batch("CREATE TABLE t (body BLOB); PRAGMA journal_mode = DELETE;")
        .unwrap();
    plain
        .execute("INSERT INTO t (body) VALUES (?1)", [MESSAGE_MARKER.as_bytes()])
        .unwrap();
    drop(plain);
    assert!(contains(
        &fs::read(&plain_path).unwrap(),
        MESSAGE_MARKER.as_bytes()
    ));
}

#[test]
fn pickles_are_encrypted_again_inside_the_database() {
    let (mut store, _dir) = fresh();
    let account = hush_crypto::Account::new(1_700_000_000, &mut rand::rng());
    let pickle = account.pickle();
    apply(&mut store, vec![StoreOp::PutAccount(pickle.clone())]);
    let stored: Vec<u8> = store
        .conn
        .query_row("SELECT pickle FROM account", [], |row| row.get(0))
        .unwrap();
    assert!(!contains(&stored, &pickle.to_plaintext_bytes()[..32]));
    let opened = hush_crypto::AccountPickle::from_encrypted(&key().pickle_key().unwrap(), &stored).unwrap();
    assert_eq!(opened.to_plaintext_bytes(), pickle.to_plaintext_bytes());
    // The page key is not the pickle key.
    let page_key = hush_crypto::PickleKey::new(RAW_KEY);
    assert!(hush_crypto::AccountPickle::from_encrypted(&page_key, &stored).is_err());
}

#[test]
fn files_that_are_not_encrypted_databases_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();

    let plain = dir.path().join("plain.db");
    let conn = rusqlite::Connection::open(&plain).unwrap();
    conn.execute_batch("CREATE TABLE t (x INTEGER);").unwrap();
    drop(conn);
    assert!(matches!(
        SqlStore::open(&plain, &key()),
        Err(StoreError::NotADatabase(_))
    ));

    let short = dir.path().join("short.db");
    fs::write(&short, b"this is a text file, not a database").unwrap();
    assert!(matches!(
        SqlStore::open(&short, &key()),
        Err(StoreError::NotADatabase(_))
    ));

    // Whole pages of noise look like an encrypted database under another key.
    let noise = dir.path().join("noise.db");
    fs::write(&noise, vec![0x5a; 2 * 4096]).unwrap();
    assert!(matches!(
        SqlStore::open(&noise, &key()),
        Err(StoreError::WrongKey)
    ));
}

#[test]
fn a_damaged_page_is_a_corrupt_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    let peer = address();
    let mut store = populated(&path, &key(), peer);
    for id in 2..=60u8 {
        apply(
            &mut store,
            vec![StoreOp::InsertMessage(text_message(id, peer, &"x".repeat(400)))],
        );
    }
    drop(store);
    let mut bytes = fs::read(&path).unwrap();
    assert!(bytes.len() >= 6 * 4096);
    // Flip bytes in the middle of every page but the first (which holds the schema).
    for page in 1..bytes.len() / 4096 {
        bytes[page * 4096 + 2000] ^= 0xff;
    }
    fs::write(&path, &bytes).unwrap();

    let result = SqlStore::open(&path, &key()).and_then(|store| {
        store.history(&peer, None, 100)?;
        store.load().map(drop)
    });
    assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
}

#[test]
fn a_newer_schema_is_refused() {
    let (store, dir) = fresh();
    let path = store.path().to_owned();
    store
        .conn
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(store);
    let error = SqlStore::open(&path, &key()).unwrap_err();
    assert!(
        matches!(error, StoreError::SchemaTooNew { found, supported }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{error:?}"
    );
    drop(dir);
}

#[test]
fn bad_rows_are_decode_errors() {
    let dir = tempfile::tempdir().unwrap();
    let peer = address();
    let store = populated(&dir.path().join("profile.db"), &key(), peer);
    let id = MessageId([1; 16]);
    let conn = &store.conn;

    conn.execute("UPDATE messages SET status = 77", []).unwrap();
    assert!(matches!(
        store.message(&id),
        Err(StoreError::Decode {
            what: "message status",
            ..
        })
    ));
    conn.execute("UPDATE messages SET status = 10, kind = 1, body = x'ff00'", [])
        .unwrap();
    assert!(matches!(
        store.history(&peer, None, 10),
        Err(StoreError::Decode { what: "content", .. })
    ));
    conn.execute("UPDATE messages SET body = 'ok', conv_seq = 'text'", [])
        .unwrap();
    assert!(matches!(
        store.message(&id),
        Err(StoreError::Decode { what: "conv_seq", .. })
    ));
    conn.execute("UPDATE messages SET conv_seq = 1, peer = x'00'", [])
        .unwrap();
    assert!(matches!(
        store.message(&id),
        Err(StoreError::Decode { what: "address", .. })
    ));
    assert!(matches!(store.peers(), Ok(peers) if peers == vec![peer]));
    conn.execute("UPDATE activity SET peer = x'0102'", []).unwrap();
    assert!(matches!(store.peers(), Err(StoreError::Decode { .. })));

    conn.execute("UPDATE account SET pickle = x'0102030405'", [])
        .unwrap();
    assert!(matches!(
        store.load(),
        Err(StoreError::Decode {
            what: "account pickle",
            ..
        })
    ));
    conn.execute(
        "INSERT INTO contacts (name, address, verified, added_at) VALUES ('x', x'01', 0, 0)",
        [],
    )
    .unwrap();
    assert!(matches!(store.contacts(), Err(StoreError::Decode { .. })));
}

#[test]
fn a_second_open_of_the_same_database_is_locked_out() {
    let (store, _dir) = fresh();
    let path = store.path().to_owned();
    assert!(matches!(SqlStore::open(&path, &key()), Err(StoreError::Locked)));
    drop(store);
    SqlStore::open(&path, &key()).unwrap();
}

#[test]
fn a_refused_commit_writes_nothing_and_the_store_goes_on() {
    let (mut store, _dir) = fresh();
    let peer = address();
    let broken = {
        let mut bytes = hush_crypto::peer::PeerSessions::new(peer.identity())
            .pickle()
            .to_plaintext_bytes();
        bytes.pop();
        bytes.extend_from_slice(&[1, 3]);
        hush_crypto::pickle::decode_plaintext(&bytes).unwrap()
    };
    let result = store.apply(&Commit {
        ops: vec![
            StoreOp::InsertMessage(text_message(1, peer, "a")),
            StoreOp::PutPeer(broken),
        ],
    });
    assert!(matches!(result, Err(StoreError::InvalidCommit(_))), "{result:?}");
    assert!(store.message(&MessageId([1; 16])).unwrap().is_none());
    apply(
        &mut store,
        vec![StoreOp::InsertMessage(text_message(1, peer, "a"))],
    );
    assert_eq!(store.history(&peer, None, 10).unwrap()[0].position, 1);
}
