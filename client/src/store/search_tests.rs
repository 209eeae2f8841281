//! Schema version 6 from a version-5 database; search kept in step with edits, deletes and
//! expiry; disappearing messages' texts gone from the file bytes.

use hush_client_core::{Content, Direction, MessageId, Store, StoreOp, StoredMessage};

use super::surface_tests::{commit_plain, plain_database};
use super::tests::{files_in, text_message};
use super::*;

fn key() -> DatabaseKey {
    DatabaseKey::from_bytes([7; 32])
}

fn address() -> Address {
    Address::from_identity(&hush_crypto::Account::new(1_700_000_000, &mut rand::rng()).identity_key())
}

fn apply(store: &mut SqlStore, ops: Vec<StoreOp>) {
    store.apply(&Commit { ops }).unwrap();
}

/// `text_message` stored at `stored_at` (Unix ms).
fn message_at(id: u8, peer: Address, text: &str, stored_at: u64) -> StoredMessage {
    StoredMessage {
        stored_at,
        ..text_message(id, peer, text)
    }
}

fn with_content(id: u8, peer: Address, content: Content, stored_at: u64) -> StoredMessage {
    StoredMessage {
        content,
        ..message_at(id, peer, "", stored_at)
    }
}

fn ids(store: &SqlStore, query: &str, scope: SearchScope) -> Vec<MessageId> {
    store
        .search(query, scope, SearchPage::first(50))
        .unwrap()
        .into_iter()
        .map(|hit| hit.entry.message.id)
        .collect()
}

fn edit(target: u8, peer: Address, text: &str) -> StoreOp {
    StoreOp::EditMessage {
        id: MessageId([target; 16]),
        peer,
        direction: Direction::Incoming,
        text: text.into(),
        edited_at: 3,
    }
}

#[test]
fn the_bundled_sqlcipher_has_fts5() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(dir.path().join("profile.db"), &key()).unwrap();
    store
        .conn
        .execute_batch("CREATE VIRTUAL TABLE probe USING fts5(text); DROP TABLE probe;")
        .unwrap();
}

#[test]
fn a_version_5_database_migrates_and_its_history_is_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    let peer = address();
    {
        let mut conn = schema::open_keyed(&path, &key()).unwrap();
        schema::configure(&conn).unwrap();
        schema::migrate_to(&mut conn, 5).unwrap();
        let tx = conn.transaction().unwrap();
        let pickle_key = key().pickle_key().unwrap();
        for op in [
            StoreOp::InsertMessage(text_message(1, peer, "Dinner at the harbour?")),
            StoreOp::InsertMessage(with_content(
                2,
                peer,
                Content::reply(MessageId([1; 16]), "harbour is fine"),
                2,
            )),
            StoreOp::InsertMessage(text_message(3, peer, "unrelated")),
        ] {
            ops::apply(&tx, &op, &pickle_key, &mut rand::rng()).unwrap();
        }
        tx.commit().unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, 5);
    }
    let mut store = SqlStore::open_existing(&path, &key()).unwrap();
    assert_eq!(
        ids(&store, "harbour", SearchScope::All),
        vec![MessageId([2; 16]), MessageId([1; 16])]
    );
    let hits = store
        .search("HARBOUR", SearchScope::With(peer), SearchPage::first(1))
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].snippet, "[harbour] is fine");
    // The next page goes on from the last hit.
    let next = store
        .search("harbour", SearchScope::All, SearchPage::after(&hits[0], 5))
        .unwrap();
    assert_eq!(next[0].entry.message.id, MessageId([1; 16]));
    assert_eq!(next.len(), 1);
    // New messages are indexed as they are stored.
    apply(
        &mut store,
        vec![StoreOp::InsertMessage(text_message(4, peer, "harbour again"))],
    );
    assert_eq!(
        ids(&store, "harbour again", SearchScope::All),
        vec![MessageId([4; 16])]
    );
    assert!(ids(&store, "harbour", SearchScope::With(address())).is_empty());
}

#[test]
fn search_follows_edits_deletes_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqlStore::open(dir.path().join("profile.db"), &key()).unwrap();
    let peer = address();
    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(text_message(1, peer, "the blue boat")),
            StoreOp::InsertMessage(text_message(2, peer, "a red boat")),
            StoreOp::InsertMessage(with_content(3, peer, Content::timer(60), 1_000)),
            StoreOp::InsertMessage(message_at(4, peer, "a green boat", 1_000)),
        ],
    );
    assert_eq!(ids(&store, "boat", SearchScope::All).len(), 3);
    assert_eq!(ids(&store, "bo*", SearchScope::All).len(), 3);
    // An edit: found by its new text only.
    apply(&mut store, vec![edit(1, peer, "the yellow boat")]);
    assert!(ids(&store, "blue", SearchScope::All).is_empty());
    assert_eq!(ids(&store, "yellow", SearchScope::All), vec![MessageId([1; 16])]);
    // A delete for everyone: gone from the index.
    apply(
        &mut store,
        vec![StoreOp::DeleteMessage {
            id: MessageId([2; 16]),
            peer,
            direction: Direction::Incoming,
        }],
    );
    assert!(ids(&store, "red", SearchScope::All).is_empty());
    // Expiry, at the message's store time plus the timer and not a millisecond before.
    assert_eq!(store.next_expiry().unwrap(), Some(61_000));
    assert!(store.expire(60_999).unwrap().is_empty());
    assert_eq!(ids(&store, "green", SearchScope::All), vec![MessageId([4; 16])]);
    let expired = store.expire(61_000).unwrap();
    assert_eq!(
        expired,
        vec![Expired {
            peer,
            id: MessageId([4; 16])
        }]
    );
    assert!(ids(&store, "green", SearchScope::All).is_empty());
    assert_eq!(ids(&store, "boat", SearchScope::All), vec![MessageId([1; 16])]);
    assert_eq!(store.next_expiry().unwrap(), None);
}

#[test]
fn bad_queries_are_typed_errors_and_syntax_is_taken_literally() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqlStore::open(dir.path().join("profile.db"), &key()).unwrap();
    let peer = address();
    apply(
        &mut store,
        vec![StoreOp::InsertMessage(text_message(
            1,
            peer,
            "near the OR gate, \"quoted\" (x)",
        ))],
    );
    for query in ["", "   ", "\"", "***", "( )", "-"] {
        assert!(
            matches!(
                store.search(query, SearchScope::All, SearchPage::first(5)),
                Err(SearchError::EmptyQuery)
            ),
            "{query:?}"
        );
    }
    // FTS5 operators and quotes in the user's words are words, not syntax.
    for query in [
        "NEAR(", "OR", "\"quoted", "quoted\"", "gate,", "(x)", "AND NOT", "col:near", "^near",
    ] {
        let result = store.search(query, SearchScope::All, SearchPage::first(5));
        assert!(result.is_ok(), "{query:?}: {result:?}");
    }
    assert_eq!(ids(&store, "OR gate", SearchScope::All).len(), 1);
    assert_eq!(ids(&store, "\"quoted\"", SearchScope::All).len(), 1);
    // The expression FTS5 would refuse is a typed error when it gets that far.
    let raw = search::tests_raw_match(&store.conn, "\"unterminated");
    assert!(matches!(raw, Err(SearchError::Rejected(_))), "{raw:?}");
    assert!(matches!(
        store.search(
            &"word ".repeat(MAX_QUERY_WORDS + 1),
            SearchScope::All,
            SearchPage::first(5)
        ),
        Err(SearchError::QueryTooLong)
    ));
}

#[test]
fn a_timer_applies_to_later_messages_of_its_conversation_until_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqlStore::open(dir.path().join("profile.db"), &key()).unwrap();
    let (peer, other) = (address(), address());
    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(message_at(1, peer, "before the timer", 10)),
            StoreOp::InsertMessage(with_content(2, peer, Content::timer(5), 20)),
            StoreOp::InsertMessage(message_at(3, peer, "while set", 30)),
            StoreOp::InsertMessage(message_at(4, other, "another conversation", 30)),
            StoreOp::InsertMessage(with_content(
                5,
                peer,
                Content::reaction(MessageId([3; 16]), "👍", true),
                40,
            )),
            StoreOp::InsertMessage(with_content(6, peer, Content::timer(0), 50)),
            StoreOp::InsertMessage(message_at(7, peer, "after the timer", 60)),
        ],
    );
    apply(&mut store, vec![edit(3, peer, "while set, edited")]);
    assert_eq!(store.disappearing_timer(&peer).unwrap(), None);
    assert_eq!(store.disappearing_timer(&other).unwrap(), None);
    let expired = store.expire(u64::MAX / 2).unwrap();
    let expired: Vec<MessageId> = expired.into_iter().map(|expired| expired.id).collect();
    assert_eq!(expired, vec![MessageId([3; 16]), MessageId([5; 16])]);
    let listed: Vec<MessageId> = store
        .history(&peer, None, 10)
        .unwrap()
        .into_iter()
        .map(|entry| entry.message.id)
        .collect();
    // The timer events stay; the expired message is no longer listed.
    assert_eq!(listed, [1, 2, 6, 7].map(|id| MessageId([id; 16])).to_vec());
    assert!(store.edits(&MessageId([3; 16])).unwrap().is_empty());
    assert!(store.reactions(&MessageId([3; 16])).unwrap().is_empty());
    assert_eq!(store.history(&other, None, 10).unwrap().len(), 1);
    apply(
        &mut store,
        vec![StoreOp::InsertMessage(with_content(
            8,
            other,
            Content::timer(9),
            70,
        ))],
    );
    assert_eq!(store.disappearing_timer(&other).unwrap(), Some(9));
}

/// The store's schema, settings and ops on an unencrypted database (SQLCipher with no key), so
/// the file's bytes can be searched: after expiry neither the text, its edit nor its search
/// terms (which FTS5 keeps lowercased) are anywhere in the database or its log.
#[test]
fn an_expired_text_is_overwritten_in_the_file_and_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = plain_database(dir.path());
    let peer = address();
    let commit = commit_plain;
    // Many other messages, so the index has several leaves and merges.
    let filler: Vec<StoreOp> = (100..=250u8)
        .map(|id| StoreOp::InsertMessage(message_at(id, peer, &format!("filler text number {id}"), 5)))
        .collect();
    commit(&mut conn, filler);
    commit(
        &mut conn,
        vec![
            StoreOp::InsertMessage(with_content(1, peer, Content::timer(30), 10)),
            StoreOp::InsertMessage(message_at(2, peer, "meet at Zanzibarquay tonight", 10)),
            StoreOp::InsertMessage(message_at(3, peer, "Zanzibarquay is far", 11)),
        ],
    );
    commit(&mut conn, vec![edit(2, peer, "meet at Quixotelagoon tonight")]);
    let found = |needle: &[u8]| {
        files_in(dir.path())
            .iter()
            .any(|(_, bytes)| bytes.windows(needle.len()).any(|window| window == needle))
    };
    // The search of the bytes sees the texts and terms while they are stored.
    for needle in [
        &b"Zanzibarquay"[..],
        b"zanzibarquay",
        b"Quixotelagoon",
        b"quixotelagoon",
    ] {
        assert!(found(needle), "{}", String::from_utf8_lossy(needle));
    }
    let tx = conn.transaction().unwrap();
    assert_eq!(expiry::expire(&tx, 41_000).unwrap().len(), 2);
    tx.commit().unwrap();
    wal::truncate(&conn).unwrap();
    for needle in [
        &b"Zanzibarquay"[..],
        b"zanzibarquay",
        b"Quixotelagoon",
        b"quixotelagoon",
        b"zanzibar",
        b"quixote",
    ] {
        assert!(
            !found(needle),
            "{} is still in the files",
            String::from_utf8_lossy(needle)
        );
    }
    // The filler is still found.
    let filler: i64 = conn
        .query_row(
            "SELECT count(*) FROM message_search WHERE message_search MATCH 'filler'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(filler, 151);
}

/// The rows acting on an expired message stay as hidden tombstones: a conversation whose
/// latest row is a reaction to it is still listed.
#[test]
fn a_conversation_ending_in_a_reaction_to_an_expired_message_is_still_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqlStore::open(dir.path().join("profile.db"), &key()).unwrap();
    let peer = address();
    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(with_content(1, peer, Content::timer(5), 10)),
            StoreOp::InsertMessage(message_at(2, peer, "soon gone", 10)),
        ],
    );
    apply(&mut store, vec![edit(2, peer, "soon gone, edited")]);
    // The timer goes off, then a reaction: it has no expiry of its own, and is the latest row.
    apply(
        &mut store,
        vec![
            StoreOp::InsertMessage(with_content(4, peer, Content::timer(0), 15)),
            StoreOp::InsertMessage(with_content(
                3,
                peer,
                Content::reaction(MessageId([2; 16]), "👍", true),
                20,
            )),
        ],
    );
    assert_eq!(store.expire(100_000).unwrap().len(), 1);
    let summary = store.conversations_summary().unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].peer, peer);
    let listed = store.history(&peer, None, 10).unwrap();
    assert_eq!(listed.len(), 2, "only the timer events: {listed:?}");
    assert_eq!(
        store.message(&MessageId([3; 16])).unwrap().unwrap().content,
        Content::tombstone(MessageId([3; 16]))
    );
}
