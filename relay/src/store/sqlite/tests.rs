use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::batch::Batch;
use super::journal::{CAPACITY, Journal, peek};
use super::recent::Recent;
use super::writer::{
    Before, CHECKPOINT_COMMITS, CommitDelay, Committer, FLUSH_MESSAGES, FLUSH_TICK, Guard, Pace, WriteJob,
    job,
};
use super::{SqliteOptions, SqliteStore, Synchronous, Ticks, journal_path, ops, schema};
use crate::store::suite::{QUOTA, envelope, filled, mailbox, one_time_prekeys, registered, signed_prekey};
use crate::store::{BackendError, JournalAction, MailboxStatus, Store, StoreError};

crate::store::suite::store_suite!(temp_store());

fn temp_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("relay.db"), SqliteOptions::default()).unwrap();
    (store, dir)
}

/// The integer id `messages` rows name `mailbox` by.
fn id_of(path: &Path, mailbox: hush_proto::MailboxId) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row(
        "SELECT id FROM mailboxes WHERE mailbox = ?1",
        [mailbox.0],
        |row| row.get(0),
    )
    .unwrap()
}

/// Rows that mention `mailbox` (whose integer id is `id`), per table, read straight from the
/// file (and its WAL) by a connection of its own.
fn rows_for(path: &Path, mailbox: hush_proto::MailboxId, id: i64) -> Vec<(&'static str, i64)> {
    let conn = Connection::open(path).unwrap();
    let by_key = ["mailboxes", "signed_prekeys", "one_time_prekeys"]
        .into_iter()
        .map(|table| {
            let count = conn
                .query_row(
                    &format!("SELECT count(*) FROM {table} WHERE mailbox = ?1"),
                    [mailbox.0],
                    |row| row.get(0),
                )
                .unwrap();
            (table, count)
        });
    let messages = conn
        .query_row("SELECT count(*) FROM messages WHERE mailbox = ?1", [id], |row| {
            row.get(0)
        })
        .unwrap();
    by_key.chain([("messages", messages)]).collect()
}

/// A store on a new database file in a temporary directory (kept alive by the returned guard).
fn new_store() -> (tempfile::TempDir, std::path::PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    (dir, path, store)
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let (_dir, path, store) = new_store();
    let a = registered(&store, 1).await;
    store
        .upload_prekeys(a, signed_prekey(3), one_time_prekeys(0..4), 10)
        .await
        .unwrap();
    store
        .enqueue(
            vec![(a, envelope(b"1")), (a, envelope(b"2")), (a, envelope(b"3"))],
            50,
            QUOTA,
        )
        .await
        .unwrap();
    store.ack(a, 1).await.unwrap();
    store.close().await.unwrap();

    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert!(matches!(
        store.mailbox_status(a).await.unwrap(),
        MailboxStatus::Active { .. }
    ));
    let messages = store.fetch(a, 0, 10).await.unwrap();
    assert_eq!(messages.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(
        messages.first().map(|m| (m.received_at, m.envelope.clone())),
        Some((50, envelope(b"2")))
    );
    assert_eq!(store.one_time_prekey_count(a).await.unwrap(), 4);
    let bundle = store.claim_bundle(a).await.unwrap();
    assert_eq!(bundle.signed_prekey, signed_prekey(3));
    // The counter survived too: the next seq follows the last one ever assigned.
    assert_eq!(
        store.enqueue(vec![(a, envelope(b"4"))], 60, QUOTA).await.unwrap(),
        vec![4]
    );
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_enqueues_commit_together_with_distinct_seqs() {
    let (store, _dir) = temp_store();
    let store = Arc::new(store);
    let mut recipients = Vec::new();
    for n in 1..=4 {
        recipients.push(registered(&*store, n).await);
    }
    let sends: Vec<_> = (0..200u32)
        .map(|i| {
            let store = Arc::clone(&store);
            let to = recipients[i as usize % recipients.len()];
            tokio::spawn(async move {
                store
                    .enqueue(vec![(to, envelope(&i.to_be_bytes()))], 1, QUOTA)
                    .await
                    .map(|seqs| (to, seqs))
            })
        })
        .collect();
    let mut seqs_by_recipient = std::collections::HashMap::<_, Vec<u64>>::new();
    for send in sends {
        let (to, seqs) = send.await.unwrap().unwrap();
        seqs_by_recipient.entry(to).or_default().extend(seqs);
    }
    for to in &recipients {
        let mut seqs = seqs_by_recipient.remove(to).unwrap();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=50).collect::<Vec<u64>>());
        assert_eq!(store.fetch(*to, 0, 100).await.unwrap().len(), 50);
    }
    assert_eq!(store.queue_depth().await.unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_failures_do_not_fail_neighbours() {
    let (store, _dir) = temp_store();
    let store = Arc::new(store);
    let a = registered(&*store, 1).await;
    let sends: Vec<_> = (0..100u32)
        .map(|i| {
            let store = Arc::clone(&store);
            let to = if i % 2 == 0 { a } else { mailbox(9) };
            tokio::spawn(async move { (i, store.enqueue(vec![(to, filled(1, 1))], 1, QUOTA).await) })
        })
        .collect();
    let mut stored = Vec::new();
    for send in sends {
        match send.await.unwrap() {
            (i, Ok(seqs)) if i % 2 == 0 => stored.extend(seqs),
            (i, Err(StoreError::UnknownMailbox)) if i % 2 == 1 => {}
            (i, other) => panic!("send {i}: {other:?}"),
        }
    }
    stored.sort_unstable();
    assert_eq!(stored, (1..=50).collect::<Vec<u64>>());
}

/// A pace the test controls: the writer reports each wait, then holds its next batch until the
/// test lets it go.
struct Gate {
    waiting: tokio::sync::mpsc::UnboundedSender<()>,
    open: std::sync::mpsc::Receiver<()>,
}

impl Pace for Gate {
    fn wait(&mut self, _previous: Instant) {
        let _ = self.waiting.send(());
        // Once the test has dropped its end, nothing is held back.
        let _ = self.open.recv();
    }
}

/// Longest the gate test waits for the writer; a limit, never reached when the test passes.
const PATIENCE: Duration = Duration::from_secs(30);

/// The commit delay: the writer waits before every batch but the first (the relay's pace waits
/// out `SqliteOptions::commit_delay`), and every write queued meanwhile shares the next batch
/// and its one journal fsync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_queued_during_the_commit_delay_share_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let (waiting, mut waits) = tokio::sync::mpsc::unbounded_channel();
    let (open, held) = std::sync::mpsc::channel();
    let gate = Box::new(Gate { waiting, open: held });
    // No flush ticks join the batches counted here.
    let store = SqliteStore::open_with(&path, &SqliteOptions::default(), gate, Ticks::ByHand).unwrap();
    // The first batch is not held back.
    let a = registered(&store, 1).await;
    let batches = store.stats().unwrap().batches();
    tokio::time::timeout(PATIENCE, waits.recv())
        .await
        .expect("the writer waits before its second batch")
        .unwrap();

    let (done, mut results) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..20u8 {
        let done = done.clone();
        // Returns once the write is queued.
        store
            .enqueue_then(vec![(a, filled(i, 1))], 1, QUOTA, move |result| {
                drop(done.send(result))
            })
            .await;
    }
    drop(done);
    assert_eq!(
        store.stats().unwrap().batches(),
        batches,
        "no batch ran while the writer waited"
    );
    open.send(()).unwrap();
    let mut seqs = Vec::new();
    while let Some(result) = tokio::time::timeout(PATIENCE, results.recv())
        .await
        .expect("the queued sends are answered")
    {
        seqs.extend(result.unwrap());
    }
    assert_eq!(
        store.stats().unwrap().batches(),
        batches + 1,
        "the twenty sends queued during the wait shared one batch"
    );
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
}

/// The writer's core on a fresh database in `dir`, driven without its thread.
fn core_in(dir: &Path) -> Committer {
    let path = dir.join("relay.db");
    let mut conn = Connection::open(&path).unwrap();
    schema::configure_writer(&conn, Synchronous::Full).unwrap();
    schema::migrate(&mut conn).unwrap();
    let (journal, _, _) = Journal::open(&journal_path(&path)).unwrap();
    Committer::new(conn, journal, Synchronous::Full, Arc::new(Recent::default()))
}

/// Runs `batch` on `core` and answers its jobs.
fn run_batch(core: &mut Committer, batch: Vec<Box<dyn WriteJob>>) {
    core.run_batch(batch).reply();
}

/// A job without a savepoint that fails after writing takes its whole batch down with it: nothing
/// of the batch is stored and every job hears of it.
#[tokio::test]
async fn a_broken_job_without_a_savepoint_rolls_back_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = core_in(dir.path());
    let a = mailbox(1);
    ops::register(core.conn(), a, [1; 32], 0).unwrap();

    let mut batch: Vec<Box<dyn WriteJob>> = Vec::new();
    let (queued, first) = job(Guard::None, Before::Nothing, move |batch: &mut Batch<'_>| {
        batch.enqueue(vec![(a, envelope(b"1"))], 1, QUOTA)
    });
    batch.push(queued);
    let (queued, broken) = job(Guard::None, Before::Nothing, move |batch: &mut Batch<'_>| {
        batch.enqueue(vec![(a, envelope(b"2"))], 1, QUOTA)?;
        Err::<(), _>(StoreError::from(rusqlite::Error::ExecuteReturnedResults))
    });
    batch.push(queued);
    let (queued, later) = job(Guard::None, Before::Nothing, move |batch: &mut Batch<'_>| {
        batch.enqueue(vec![(a, envelope(b"3"))], 1, QUOTA)
    });
    batch.push(queued);
    run_batch(&mut core, batch);

    for result in [first.await.unwrap(), later.await.unwrap()] {
        assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    }
    assert!(matches!(broken.await.unwrap(), Err(StoreError::Backend(_))));
    // Nothing of the batch reached the journal, memory or (after a flush) the database, and its
    // seqs are handed out again.
    core.flush().unwrap();
    assert!(ops::fetch(core.conn(), a, 0, 10).unwrap().is_empty());
    let (queued, again) = job(Guard::None, Before::Nothing, move |batch: &mut Batch<'_>| {
        batch.enqueue(vec![(a, envelope(b"4"))], 1, QUOTA)
    });
    run_batch(&mut core, vec![queued]);
    assert_eq!(again.await.unwrap().unwrap(), vec![1]);
}

/// The batch path itself, deterministically: several jobs in one batch, database and journal
/// ones mixed, two failing.
#[tokio::test]
async fn a_failing_op_in_a_batch_does_not_fail_its_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = core_in(dir.path());
    let a = mailbox(1);
    let quota = crate::store::Quota {
        max_messages: 2,
        max_bytes: 1 << 20,
    };

    let mut batch: Vec<Box<dyn WriteJob>> = Vec::new();
    let (queued, registered) = job(Guard::Savepoint, Before::Nothing, move |batch: &mut Batch<'_>| {
        ops::register(batch.sql()?, a, [1; 32], 0)
    });
    batch.push(queued);
    let (queued, first) = job(Guard::None, Before::Nothing, move |batch: &mut Batch<'_>| {
        batch.enqueue(vec![(a, envelope(b"1"))], 1, quota)
    });
    batch.push(queued);
    let (queued, unknown) = job(Guard::None, Before::Nothing, move |batch: &mut Batch<'_>| {
        batch.enqueue(vec![(a, envelope(b"x")), (mailbox(9), envelope(b"y"))], 1, quota)
    });
    batch.push(queued);
    let (queued, over_cap) = job(Guard::Savepoint, Before::Nothing, move |batch: &mut Batch<'_>| {
        ops::upload_prekeys(batch.sql()?, a, signed_prekey(1), one_time_prekeys(0..5), 2)
    });
    batch.push(queued);
    let (queued, second) = job(Guard::None, Before::Nothing, move |batch: &mut Batch<'_>| {
        batch.enqueue(vec![(a, envelope(b"2"))], 1, quota)
    });
    batch.push(queued);
    let (queued, over_quota) = job(Guard::None, Before::Nothing, move |batch: &mut Batch<'_>| {
        batch.enqueue(vec![(a, envelope(b"3"))], 1, quota)
    });
    batch.push(queued);
    run_batch(&mut core, batch);

    registered.await.unwrap().unwrap();
    assert_eq!(first.await.unwrap().unwrap(), vec![1]);
    assert!(matches!(unknown.await.unwrap(), Err(StoreError::UnknownMailbox)));
    assert!(matches!(
        over_cap.await.unwrap(),
        Err(StoreError::TooManyPreKeys { .. })
    ));
    // The failed enqueue before it took no seq.
    assert_eq!(second.await.unwrap().unwrap(), vec![2]);
    assert!(matches!(
        over_quota.await.unwrap(),
        Err(StoreError::QuotaExceeded { .. })
    ));

    core.flush().unwrap();
    let stored = ops::fetch(core.conn(), a, 0, 10).unwrap();
    assert_eq!(
        stored.iter().map(|m| m.envelope.clone()).collect::<Vec<_>>(),
        vec![envelope(b"1"), envelope(b"2")]
    );
    assert_eq!(ops::one_time_prekey_count(core.conn(), a).unwrap(), 0);
    assert!(matches!(
        ops::claim_bundle(core.conn(), a),
        Err(StoreError::NoBundle)
    ));
}

#[tokio::test]
async fn delete_mailbox_leaves_no_row_in_the_file() {
    let (dir, path, store) = new_store();
    let a = registered(&store, 1).await;
    let b = registered(&store, 2).await;
    store
        .upload_prekeys(a, signed_prekey(1), one_time_prekeys(0..5), 10)
        .await
        .unwrap();
    store
        .enqueue(
            vec![(a, envelope(b"first envelope for a")), (b, envelope(b"2"))],
            1,
            QUOTA,
        )
        .await
        .unwrap();
    let (a_id, b_id) = (id_of(&path, a), id_of(&path, b));
    store.flush_now().await.unwrap();
    assert_eq!(store.queue_depth().await.unwrap(), 2);
    assert!(rows_for(&path, a, a_id).iter().all(|(_, count)| *count > 0));
    // One more, only in the journal when the delete comes.
    store
        .enqueue(vec![(a, envelope(b"later envelope for a"))], 1, QUOTA)
        .await
        .unwrap();
    assert_eq!(peek(&journal_path(&path)).len(), 1);
    assert!(files_contain(dir.path(), b"first envelope for a"));

    store.delete_mailbox(a).await.unwrap();
    assert!(peek(&journal_path(&path)).is_empty());
    // Not in the database, its WAL or the journal, not even in their free space.
    for envelope in [&b"first envelope for a"[..], b"later envelope for a"] {
        assert!(!files_contain(dir.path(), envelope));
    }
    assert!(matches!(
        store.fetch(a, 0, 10).await,
        Err(StoreError::UnknownMailbox)
    ));
    // Read while the store is open (the rows would be in the WAL) and after it closed.
    for (table, count) in rows_for(&path, a, a_id) {
        assert_eq!(count, 0, "{table} still has a row for the deleted mailbox");
    }
    store.close().await.unwrap();
    for (table, count) in rows_for(&path, a, a_id) {
        assert_eq!(count, 0, "{table} still has a row for the deleted mailbox");
    }
    assert_eq!(
        rows_for(&path, b, b_id),
        vec![
            ("mailboxes", 1),
            ("signed_prekeys", 0),
            ("one_time_prekeys", 0),
            ("messages", 1)
        ]
    );
}

/// Whether any file in `dir` holds `needle`.
fn files_contain(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        bytes.windows(needle.len()).any(|window| window == needle)
    })
}

/// Results reach their callers whether the store was opened outside any runtime, or on a runtime
/// that has shut down since.
#[test]
fn writes_are_answered_without_the_opening_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let outside = SqliteStore::open(&dir.path().join("outside.db"), SqliteOptions::default()).unwrap();
    let opening = tokio::runtime::Runtime::new().unwrap();
    let gone = opening
        .block_on(async { SqliteStore::open(&dir.path().join("gone.db"), SqliteOptions::default()) })
        .unwrap();
    drop(opening);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for store in [outside, gone] {
        runtime.block_on(async {
            let a = registered(&store, 1).await;
            assert_eq!(
                store.enqueue(vec![(a, envelope(b"1"))], 1, QUOTA).await.unwrap(),
                vec![1]
            );
            store.close().await.unwrap();
        });
    }
}

#[tokio::test]
async fn normal_synchronous_and_tiny_batches_work() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        synchronous: Synchronous::Normal,
        batch_max: 0,
        commit_delay: Duration::ZERO,
    };
    let store = SqliteStore::open(&dir.path().join("relay.db"), options).unwrap();
    let a = registered(&store, 1).await;
    assert_eq!(
        store.enqueue(vec![(a, envelope(b"1"))], 1, QUOTA).await.unwrap(),
        vec![1]
    );
    store.close().await.unwrap();
}

#[test]
fn writer_connection_settings() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("relay.db")).unwrap();
    let pragma = |name: &str| -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| {
            row.get::<_, rusqlite::types::Value>(0)
        })
        .map(|value| format!("{value:?}"))
        .unwrap()
    };
    schema::configure_writer(&conn, Synchronous::Full).unwrap();
    assert_eq!(pragma("journal_mode"), r#"Text("wal")"#);
    assert_eq!(pragma("synchronous"), "Integer(2)");
    assert_eq!(pragma("foreign_keys"), "Integer(1)");
    assert_eq!(pragma("wal_autocheckpoint"), "Integer(0)");
    schema::configure_writer(&conn, Synchronous::Normal).unwrap();
    assert_eq!(pragma("synchronous"), "Integer(1)");
}

#[tokio::test]
async fn backend_errors_carry_no_stored_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = core_in(dir.path());
    let a = mailbox(1);
    ops::register(core.conn(), a, [1; 32], 0).unwrap();
    let secret = b"very secret envelope".to_vec();
    // A row the mailbox's counter does not know of: the flush's insert of seq 1 collides with
    // it, and the error names columns, never the bound values.
    core.conn()
        .execute(
            "INSERT INTO messages (mailbox, seq, received_at, size, envelope) \
             VALUES ((SELECT id FROM mailboxes WHERE mailbox = ?1), 1, 0, 0, ?2)",
            rusqlite::params![a.0, secret],
        )
        .unwrap();
    let (queued, stored) = job(Guard::None, Before::Nothing, move |batch: &mut Batch<'_>| {
        batch.enqueue(vec![(a, envelope(&secret))], 0, QUOTA)
    });
    run_batch(&mut core, vec![queued]);
    assert_eq!(stored.await.unwrap().unwrap(), vec![1]);
    let error = core.flush().unwrap_err();
    assert!(matches!(error, BackendError::Sqlite(_)), "{error:?}");
    let message = error.to_string();
    assert!(!message.contains("secret"), "{message}");
    assert!(message.contains("sqlite"), "{message}");
}

/// A store at `path` with mailbox 1 holding two messages (seqs 1 and 2).
async fn two_queued(path: &Path) -> (SqliteStore, hush_proto::MailboxId) {
    let store = SqliteStore::open(path, SqliteOptions::default()).unwrap();
    let a = registered(&store, 1).await;
    store
        .enqueue(vec![(a, envelope(b"x")), (a, envelope(b"y"))], 5, QUOTA)
        .await
        .unwrap();
    (store, a)
}

/// Rows of `messages` in the file, acknowledged or not.
fn message_rows(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT count(*) FROM messages", [], |row| row.get(0))
        .unwrap()
}

fn seqs(messages: &[crate::store::StoredMessage]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

#[tokio::test]
async fn messages_acked_before_the_flush_never_reach_the_database() {
    let (_dir, path, store) = new_store();
    let a = registered(&store, 1).await;
    let deliveries = (0..10u8).map(|i| (a, filled(i, 20))).collect();
    store.enqueue(deliveries, 5, QUOTA).await.unwrap();
    // Durable in the journal, readable from memory, not in the database yet.
    assert_eq!(peek(&journal_path(&path)).len(), 10);
    assert_eq!(message_rows(&path), 0);
    assert_eq!(store.ack(a, 6).await.unwrap(), 6);
    assert_eq!(seqs(&store.fetch(a, 0, 100).await.unwrap()), vec![7, 8, 9, 10]);
    assert_eq!(seqs(&store.fetch(a, 8, 1).await.unwrap()), vec![9]);
    // Acking again, or below the mark, takes nothing more.
    assert_eq!(store.ack(a, 6).await.unwrap(), 0);
    assert_eq!(store.ack(a, 3).await.unwrap(), 0);
    // Counting the queue needs no flush.
    assert_eq!(store.queue_depth().await.unwrap(), 4);
    assert_eq!(message_rows(&path), 0);
    // After a flush the four unacknowledged ones are rows, the journal is empty, and reads find
    // them in the database.
    store.flush_now().await.unwrap();
    assert_eq!(store.queue_depth().await.unwrap(), 4);
    assert_eq!(message_rows(&path), 4);
    assert!(peek(&journal_path(&path)).is_empty());
    assert_eq!(seqs(&store.fetch(a, 0, 100).await.unwrap()), vec![7, 8, 9, 10]);
    // An ack of rows in the database, and new messages in memory beside them.
    store.enqueue(vec![(a, envelope(b"k"))], 6, QUOTA).await.unwrap();
    assert_eq!(store.ack(a, 8).await.unwrap(), 2);
    assert_eq!(seqs(&store.fetch(a, 0, 100).await.unwrap()), vec![9, 10, 11]);
    assert_eq!(seqs(&store.fetch(a, 0, 2).await.unwrap()), vec![9, 10]);
    assert_eq!(seqs(&store.fetch(a, 9, 100).await.unwrap()), vec![10, 11]);
    // Closing flushes, and deletes the acknowledged rows.
    store.close().await.unwrap();
    assert_eq!(message_rows(&path), 3);
}

/// A store whose flush ticks come only from [`SqliteStore::tick`].
fn store_ticked_by_hand(path: &Path) -> SqliteStore {
    let pace = Box::new(CommitDelay(SqliteOptions::default().commit_delay));
    SqliteStore::open_with(path, &SqliteOptions::default(), pace, Ticks::ByHand).unwrap()
}

/// A change is flushed at the second flush tick that finds it unflushed: it has waited at least
/// one period (the first tick may come right after it), at most two.
#[tokio::test]
async fn changes_are_flushed_at_the_second_tick_that_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let store = store_ticked_by_hand(&path);
    let a = registered(&store, 1).await;
    store
        .enqueue(vec![(a, envelope(b"x")), (a, envelope(b"y"))], 5, QUOTA)
        .await
        .unwrap();
    store.ack(a, 1).await.unwrap();
    store.tick().await.unwrap();
    assert_eq!(message_rows(&path), 0, "one tick: not flushed yet");
    assert!(!peek(&journal_path(&path)).is_empty());
    store.tick().await.unwrap();
    assert_eq!(
        message_rows(&path),
        1,
        "two ticks: the unacknowledged message is a row"
    );
    assert!(peek(&journal_path(&path)).is_empty());

    // Nothing waits now; a change made after the next tick waits two more.
    store.tick().await.unwrap();
    store.enqueue(vec![(a, envelope(b"z"))], 5, QUOTA).await.unwrap();
    store.tick().await.unwrap();
    assert_eq!(message_rows(&path), 1, "the change's first tick");
    store.tick().await.unwrap();
    assert_eq!(message_rows(&path), 2, "its second tick");
    store.close().await.unwrap();
}

/// With no writes at all, the store's own ticker brings the flush: a task of the runtime the
/// store was opened on sends a tick each `FLUSH_TICK` (the runtime's clock is paused here and
/// moved on by hand).
#[tokio::test(start_paused = true)]
async fn the_store_ticks_on_its_own_when_no_writes_come() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    let a = registered(&store, 1).await;
    store.enqueue(vec![(a, envelope(b"x"))], 5, QUOTA).await.unwrap();
    // No "still 0 rows" check here: while this task waits for the writer thread's answer the
    // paused runtime is idle, and tokio may auto-advance its clock to the ticker's next period,
    // so on a loaded machine the ticker can already have flushed. Nothing but the ticker sends
    // ticks in this test (`changes_are_flushed_at_the_second_tick_that_finds_them` shows an enqueue alone
    // writes no row), so a row below is the ticker's doing either way.
    // Two periods pass: the ticker sends two ticks after the enqueue, and the second flushes.
    tokio::time::advance(FLUSH_TICK * 2).await;
    tokio::task::yield_now().await;
    // Queued after those ticks, so answered after them.
    assert_eq!(store.ack(a, 0).await.unwrap(), 0);
    assert_eq!(message_rows(&path), 1, "no flush came from the ticker");
    assert!(peek(&journal_path(&path)).is_empty());
    store.close().await.unwrap();
}

/// Opened outside a tokio runtime, the store gets its ticks from a thread of its own (a short
/// period here, waited out in real time).
#[tokio::test]
async fn a_store_opened_outside_a_runtime_ticks_from_a_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let open = {
        let path = path.clone();
        move || {
            let pace = Box::new(CommitDelay(SqliteOptions::default().commit_delay));
            let ticks = Ticks::Every(Duration::from_millis(1));
            SqliteStore::open_with(&path, &SqliteOptions::default(), pace, ticks).unwrap()
        }
    };
    let store = std::thread::spawn(open).join().unwrap();
    let mut flushes = store.flushes.clone();
    let a = registered(&store, 1).await;
    store.enqueue(vec![(a, envelope(b"x"))], 5, QUOTA).await.unwrap();
    while message_rows(&path) == 0 {
        tokio::time::timeout(PATIENCE, flushes.changed())
            .await
            .expect("no flush came from the ticker thread")
            .unwrap();
    }
    assert!(peek(&journal_path(&path)).is_empty());
    store.close().await.unwrap();
}

/// What a crash leaves, made by hand: a journal the relay never flushed, beside a database that
/// already holds part of it (a crash between a flush's commit and emptying the journal).
#[tokio::test]
async fn the_journal_a_crash_left_is_replayed_at_open_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let (store, a) = two_queued(&path).await;
    let b = registered(&store, 2).await;
    store.close().await.unwrap();
    let gone = mailbox(7);
    let mut records = Vec::new();
    // Seqs 1 and 2 were flushed already; 3 to 5 were not; 4 and then 3 were acked; a record for
    // a mailbox that no longer exists is dropped.
    for (mailbox, seq) in [(a, 2), (a, 3), (a, 4), (b, 1), (a, 5), (gone, 1)] {
        super::journal::encode_stored(&mut records, &mailbox, seq, 9, &[seq as u8; 10]);
    }
    super::journal::encode_acked(&mut records, &a, 4);
    super::journal::encode_acked(&mut records, &a, 3);
    let (mut journal, _, _) = Journal::open(&journal_path(&path)).unwrap();
    journal.append(&records, true).unwrap();
    // One more frame, torn: its sender was never answered.
    let mut torn = Vec::new();
    super::journal::encode_stored(&mut torn, &a, 6, 9, b"torn");
    journal.append(&torn, true).unwrap();
    let end = super::journal::FILE_HEADER + journal.len();
    drop(journal);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(journal_path(&path))
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &[0; 3], end - 3).unwrap();
    assert_eq!(
        peek(&journal_path(&path)).len(),
        8,
        "the torn frame is not replayed"
    );

    for _ in 0..2 {
        let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        let fetched = store.fetch(a, 0, 10).await.unwrap();
        assert_eq!(seqs(&fetched), vec![5]);
        assert_eq!(fetched[0].envelope, filled(5, 10));
        assert_eq!(seqs(&store.fetch(b, 0, 10).await.unwrap()), vec![1]);
        assert_eq!(store.queue_depth().await.unwrap(), 2);
        store.close().await.unwrap();
        // Replayed into the database and gone from the journal: opening again finds the same.
        assert!(peek(&journal_path(&path)).is_empty());
        assert_eq!(message_rows(&path), 2);
    }
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(
        store.enqueue(vec![(a, envelope(b"n"))], 10, QUOTA).await.unwrap(),
        vec![6],
        "the counter follows the replayed seqs"
    );
    store.close().await.unwrap();
}

/// A message acknowledged before the flush never reaches the database, but its frame stays in the
/// journal file (stale, after the reset) until a scrub: opening the store again is one.
#[tokio::test]
async fn frames_of_an_earlier_run_are_zeroed_when_the_store_opens() {
    let (dir, path, store) = new_store();
    let a = registered(&store, 1).await;
    store
        .enqueue(vec![(a, envelope(b"acknowledged before the restart"))], 1, QUOTA)
        .await
        .unwrap();
    assert_eq!(store.ack(a, 1).await.unwrap(), 1);
    store.close().await.unwrap();
    assert!(peek(&journal_path(&path)).is_empty());
    assert!(files_contain(dir.path(), b"acknowledged before the restart"));

    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert!(!files_contain(dir.path(), b"acknowledged before the restart"));
    // The file keeps its preallocated size, and the store works on.
    assert_eq!(std::fs::metadata(journal_path(&path)).unwrap().len(), CAPACITY);
    store
        .enqueue(vec![(a, envelope(b"next"))], 2, QUOTA)
        .await
        .unwrap();
    assert_eq!(seqs(&store.fetch(a, 0, 10).await.unwrap()), vec![2]);
    store.close().await.unwrap();
}

#[tokio::test]
async fn acks_a_crash_left_unswept_are_swept_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let (store, a) = two_queued(&path).await;
    store.close().await.unwrap();
    // What an ack leaves when the relay dies before its delete: the mark moved, the row stays.
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE mailboxes SET acked_through = 1, queued_count = 1", [])
        .unwrap();
    assert_eq!(message_rows(&path), 2);
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(message_rows(&path), 1);
    assert_eq!(seqs(&store.fetch(a, 0, 10).await.unwrap()), vec![2]);
    store.close().await.unwrap();
}

#[tokio::test]
async fn the_writer_checkpoints_the_wal_into_the_database_file_after_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let store = store_ticked_by_hand(&path);
    let a = registered(&store, 1).await;
    // SQLite's own checkpoint is off: so far the tables are in the WAL, the file holds its
    // header page only.
    let header_only = std::fs::metadata(&path).unwrap().len();
    assert_eq!(header_only, 4096);
    store.enqueue(vec![(a, envelope(b"m"))], 5, QUOTA).await.unwrap();
    store.tick().await.unwrap();
    store.tick().await.unwrap();
    assert_eq!(message_rows(&path), 1, "flushed");
    // The checkpoint follows the flush on the writer thread: a write queued after it is
    // answered after it.
    store.enqueue(vec![(a, envelope(b"n"))], 5, QUOTA).await.unwrap();
    assert!(
        std::fs::metadata(&path).unwrap().len() > header_only,
        "no checkpoint after a flush"
    );
    assert_eq!(seqs(&store.fetch(a, 0, 10).await.unwrap()), vec![1, 2]);
    store.close().await.unwrap();
}

/// Many unacknowledged messages (offline recipients) bring a flush before its time, which bounds
/// the stall of inserting them all at once.
#[tokio::test]
async fn a_flush_comes_early_once_memory_holds_enough_unacknowledged_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = core_in(dir.path());
    let recipients: Vec<_> = (1..=8u8).map(mailbox).collect();
    for (n, recipient) in recipients.iter().enumerate() {
        ops::register(core.conn(), *recipient, [n as u8; 32], 0).unwrap();
    }
    let rows = |core: &Committer| -> i64 {
        core.conn()
            .query_row("SELECT count(*) FROM messages", [], |row| row.get(0))
            .unwrap()
    };
    let per_recipient = FLUSH_MESSAGES / recipients.len();
    for round in 0..per_recipient {
        let deliveries: Vec<_> = recipients
            .iter()
            .map(|to| (*to, filled(round as u8, 8)))
            .collect();
        let (queued, stored) = job(Guard::None, Before::Nothing, move |batch: &mut Batch<'_>| {
            batch.enqueue(deliveries, 1, QUOTA)
        });
        run_batch(&mut core, vec![queued]);
        stored.await.unwrap().unwrap();
        core.housekeeping(false);
        let expected = if round + 1 == per_recipient {
            FLUSH_MESSAGES
        } else {
            0
        };
        assert_eq!(rows(&core), expected as i64, "after round {round}");
    }
}

#[tokio::test]
async fn a_second_store_on_the_same_files_is_refused_until_the_first_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let first = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    let a = registered(&first, 1).await;
    first.enqueue(vec![(a, envelope(b"m"))], 1, QUOTA).await.unwrap();
    match SqliteStore::open(&path, SqliteOptions::default()) {
        Err(StoreError::Backend(
            error @ BackendError::Journal {
                action: JournalAction::Open,
                ..
            },
        )) => assert!(error.to_string().contains("in use"), "{error}"),
        other => panic!("a second store opened: {other:?}"),
    }
    // Graceful shutdown through a shared reference (as the relay does): later writes fail, and
    // the files are free for the next store, which finds the message.
    first.shutdown().await;
    assert!(matches!(
        first.enqueue(vec![(a, envelope(b"n"))], 1, QUOTA).await,
        Err(StoreError::Backend(_))
    ));
    let second = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(seqs(&second.fetch(a, 0, 10).await.unwrap()), vec![1]);
    second.close().await.unwrap();
}

/// Database commits without any journal traffic (registrations, prekeys) still bring
/// checkpoints, so the WAL does not grow without end.
#[tokio::test]
async fn database_commits_alone_bring_a_checkpoint() {
    let (_dir, path, store) = new_store();
    let header_only = std::fs::metadata(&path).unwrap().len();
    for n in 0..CHECKPOINT_COMMITS {
        registered(&store, n as u8).await;
    }
    // The checkpoint follows the last commit's answer on the writer thread: a write queued
    // after that answer is answered after the checkpoint.
    registered(&store, 0).await;
    assert!(
        std::fs::metadata(&path).unwrap().len() > header_only,
        "no checkpoint after {CHECKPOINT_COMMITS} commits"
    );
    store.close().await.unwrap();
}

/// Runs one job on `core` by itself and returns its result.
fn run_one<T, F>(core: &mut Committer, operation: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
{
    let (queued, mut result) = job(Guard::None, Before::Nothing, operation);
    run_batch(core, vec![queued]);
    result
        .try_recv()
        .expect("a batch answers its jobs before it returns")
}

/// The queue depth (a metrics gauge) counts what only the journal and the writer hold, mixed
/// with what the database holds, and reading it flushes nothing.
#[test]
fn queue_depth_counts_unflushed_messages_without_flushing() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = core_in(dir.path());
    let flushes = core.flushes();
    let (a, b) = (mailbox(1), mailbox(2));
    ops::register(core.conn(), a, [1; 32], 0).unwrap();
    ops::register(core.conn(), b, [2; 32], 0).unwrap();
    let enqueue = |core: &mut Committer, to, count: u8| {
        let deliveries = (0..count).map(|i| (to, filled(i, 1))).collect();
        run_one(core, move |batch| batch.enqueue(deliveries, 1, QUOTA)).unwrap()
    };

    enqueue(&mut core, a, 3);
    enqueue(&mut core, b, 2);
    assert_eq!(
        run_one(&mut core, |batch: &mut Batch<'_>| batch.queue_depth()).unwrap(),
        5
    );
    run_one(&mut core, move |batch| batch.ack(a, 1)).unwrap();
    assert_eq!(
        run_one(&mut core, |batch: &mut Batch<'_>| batch.queue_depth()).unwrap(),
        4
    );
    assert_eq!(*flushes.borrow(), 0, "counting flushed nothing");

    // Now the database holds a's 2 and b's 2; b gets one more, held only by the writer.
    core.flush().unwrap();
    assert_eq!(
        run_one(&mut core, |batch: &mut Batch<'_>| batch.queue_depth()).unwrap(),
        4
    );
    enqueue(&mut core, b, 1);
    assert_eq!(
        run_one(&mut core, |batch: &mut Batch<'_>| batch.queue_depth()).unwrap(),
        5
    );
    run_one(&mut core, move |batch| batch.ack(b, 3)).unwrap();
    assert_eq!(
        run_one(&mut core, |batch: &mut Batch<'_>| batch.queue_depth()).unwrap(),
        2
    );
    assert_eq!(*flushes.borrow(), 1);
}

/// The queue depth against a model over random enqueues, acks (some past the end, some below the
/// mark) and flushes on three mailboxes: it always equals the messages enqueued and not yet
/// acknowledged, whichever of database, journal and writer holds them.
#[test]
fn queue_depth_matches_a_model_over_random_writes_and_flushes() {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    let dir = tempfile::tempdir().unwrap();
    let mut core = core_in(dir.path());
    let mailboxes: Vec<_> = (1..=3u8).map(mailbox).collect();
    for (n, mailbox) in mailboxes.iter().enumerate() {
        ops::register(core.conn(), *mailbox, [n as u8; 32], 0).unwrap();
    }
    // Per mailbox: the last seq handed out and the acknowledgement.
    let mut model = vec![(0u64, 0u64); mailboxes.len()];
    let mut rng = StdRng::seed_from_u64(0x4855_5348);
    for step in 0..400 {
        let which = rng.random_range(0..mailboxes.len());
        let to = mailboxes[which];
        match rng.random_range(0..10) {
            0..=4 => {
                let count = rng.random_range(1..=4u8);
                let deliveries = (0..count).map(|i| (to, filled(i, 1))).collect();
                run_one(&mut core, move |batch| batch.enqueue(deliveries, 1, QUOTA)).unwrap();
                model[which].0 += u64::from(count);
            }
            5..=8 => {
                let (last, acked) = model[which];
                let through = rng.random_range(0..=last + 2);
                run_one(&mut core, move |batch| batch.ack(to, through)).unwrap();
                model[which].1 = acked.max(through.min(last));
            }
            _ => core.flush().unwrap(),
        }
        let expected: u64 = model.iter().map(|(last, acked)| last - acked).sum();
        assert_eq!(
            run_one(&mut core, |batch: &mut Batch<'_>| batch.queue_depth()).unwrap(),
            expected,
            "after step {step}"
        );
    }
}
