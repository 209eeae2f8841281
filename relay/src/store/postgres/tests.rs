//! The shared suite on a real PostgreSQL, plus what only a shared database has: two stores on one
//! database acting as two relay nodes, the notices between them, and the schema version.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::test_cluster::fresh_database;
use super::{PostgresOptions, PostgresStore, schema};
use crate::store::suite::{
    ACCOUNT, QUOTA, envelope, fifty_claims_hand_out_each_prekey_once, filled, identity, mailbox, membership,
    one_time_prekeys, registered, signed_prekey, update,
};
use crate::store::{BackendError, MailboxStatus, NodeNotice, Store, StoreError, StoredDeviceList};

/// How long a notice may take to arrive before a test fails (it takes milliseconds).
const NOTICE_TIMEOUT: Duration = Duration::from_secs(10);

crate::store::suite::store_suite!((fresh_store().await, ()));

async fn fresh_store() -> PostgresStore {
    connect(&fresh_database().await).await
}

pub(super) async fn connect(url: &str) -> PostgresStore {
    PostgresStore::connect(url, PostgresOptions { pool_size: 4 })
        .await
        .unwrap()
}

/// Two stores on one new database: two relay nodes sharing it.
/// A fresh database migrated to `version` only, with mailbox 1 registered, and a connection to
/// it that keeps reading the schema version.
pub(super) async fn database_at_version(version: usize) -> (String, tokio_postgres::Client) {
    let url = fresh_database().await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .unwrap();
    for (to, sql) in schema::MIGRATIONS.after(0).unwrap().take(version) {
        client.batch_execute(sql).await.unwrap();
        client
            .execute("INSERT INTO schema_version (version) VALUES ($1)", &[&to])
            .await
            .unwrap();
    }
    client
        .execute(
            "INSERT INTO mailboxes (mailbox, identity_key, next_seq, created_at) VALUES ($1, $2, 1, 0)",
            &[&&mailbox(1).0[..], &&identity(1)[..]],
        )
        .await
        .unwrap();
    (url, client)
}

pub(super) async fn two_nodes() -> (Arc<PostgresStore>, Arc<PostgresStore>) {
    let url = fresh_database().await;
    (Arc::new(connect(&url).await), Arc::new(connect(&url).await))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_enqueues_from_two_nodes_get_distinct_contiguous_seqs() {
    let (a, b) = two_nodes().await;
    let recipient = registered(&*a, 1).await;
    let other = registered(&*b, 2).await;
    let tasks: Vec<_> = (0..40u8)
        .map(|n| {
            let node = if n % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&b)
            };
            tokio::spawn(async move {
                // Every other call also stores for a second recipient: multi-mailbox
                // enqueues from both nodes lock the same rows without deadlocking.
                let mut deliveries = vec![(recipient, filled(n, 10))];
                if n % 4 < 2 {
                    deliveries.push((other, filled(n, 5)));
                }
                node.enqueue(deliveries, 1, QUOTA).await.unwrap()
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap()[0]);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<u64>>());
    // Both nodes read the same queue, and the counters agree with it.
    let fetched = b.fetch(recipient, 0, 100).await.unwrap();
    assert_eq!(
        fetched.iter().map(|message| message.seq).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<u64>>()
    );
    assert_eq!(a.queue_depth().await.unwrap(), 60);
    assert_eq!(a.ack(recipient, 40).await.unwrap(), 40);
    assert_eq!(
        b.enqueue(vec![(recipient, filled(0, 1))], 2, QUOTA)
            .await
            .unwrap(),
        vec![41]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quota_holds_across_two_nodes() {
    let (a, b) = two_nodes().await;
    let recipient = registered(&*a, 1).await;
    let quota = crate::store::Quota {
        max_messages: 10,
        max_bytes: 1 << 20,
    };
    let tasks: Vec<_> = (0..30)
        .map(|n| {
            let node = if n % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&b)
            };
            tokio::spawn(async move { node.enqueue(vec![(recipient, filled(1, 1))], 1, quota).await })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => stored += 1,
            Err(StoreError::QuotaExceeded { .. }) => {}
            Err(error) => panic!("{error}"),
        }
    }
    assert_eq!(stored, 10);
    assert_eq!(b.queue_depth().await.unwrap(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_claims_across_two_nodes_hand_out_each_prekey_once() {
    let (a, b) = two_nodes().await;
    let owner = registered(&*a, 1).await;
    b.upload_prekeys(owner, signed_prekey(1), one_time_prekeys(0..20), 100)
        .await
        .unwrap();
    fifty_claims_hand_out_each_prekey_once(&[a, b], owner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_from_one_node_reaches_the_other_and_not_itself() {
    let (a, b) = two_nodes().await;
    let mut a_notices = a.notices().unwrap();
    let mut b_notices = b.notices().unwrap();
    assert!(a.notices().is_none(), "the receiver is handed out once");
    let first = registered(&*a, 1).await;
    let second = registered(&*a, 2).await;

    a.enqueue(vec![(first, envelope(b"x")), (second, envelope(b"y"))], 1, QUOTA)
        .await
        .unwrap();
    let mut told = HashSet::new();
    for _ in 0..2 {
        let mailbox = tokio::time::timeout(NOTICE_TIMEOUT, b_notices.recv())
            .await
            .expect("node B was told in time")
            .unwrap();
        told.insert(mailbox);
    }
    assert_eq!(
        told,
        HashSet::from([NodeNotice::Stored(first), NodeNotice::Stored(second)])
    );

    // Node A skips its own notices: the first it gets is node B's, sent after A's own.
    b.enqueue(vec![(second, envelope(b"z"))], 2, QUOTA).await.unwrap();
    let mailbox = tokio::time::timeout(NOTICE_TIMEOUT, a_notices.recv())
        .await
        .expect("node A was told in time")
        .unwrap();
    assert_eq!(mailbox, NodeNotice::Stored(second));
    assert!(a_notices.try_recv().is_err());

    // A refused enqueue tells nobody: the next notice B gets is of the one after it.
    let refused = a
        .enqueue(
            vec![
                (first, envelope(b"1")),
                (crate::store::suite::mailbox(9), envelope(b"2")),
            ],
            3,
            QUOTA,
        )
        .await;
    assert!(matches!(refused, Err(StoreError::UnknownMailbox)));
    a.enqueue(vec![(second, envelope(b"3"))], 4, QUOTA).await.unwrap();
    let mailbox = tokio::time::timeout(NOTICE_TIMEOUT, b_notices.recv())
        .await
        .expect("node B was told in time")
        .unwrap();
    assert_eq!(mailbox, NodeNotice::Stored(second));

    // A login is a notice of its own kind, and again only for the other node.
    a.announce_login(first).await;
    let notice = tokio::time::timeout(NOTICE_TIMEOUT, b_notices.recv())
        .await
        .expect("node B was told of the login in time")
        .unwrap();
    assert_eq!(notice, NodeNotice::LoggedIn(first));
    b.announce_login(second).await;
    let notice = tokio::time::timeout(NOTICE_TIMEOUT, a_notices.recv())
        .await
        .expect("node A was told of the login in time")
        .unwrap();
    assert_eq!(notice, NodeNotice::LoggedIn(second));
    assert!(a_notices.try_recv().is_err() && b_notices.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_keeps_data_and_a_newer_schema_is_refused() {
    let url = fresh_database().await;
    let store = connect(&url).await;
    let a = registered(&store, 1).await;
    store
        .enqueue(vec![(a, envelope(b"kept"))], 5, QUOTA)
        .await
        .unwrap();
    drop(store);

    // Opening again migrates nothing and finds the data.
    let store = connect(&url).await;
    let messages = store.fetch(a, 0, 10).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].envelope, envelope(b"kept"));
    drop(store);

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let version: i32 = client
        .query_one("SELECT max(version) FROM schema_version", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version as usize, schema::SCHEMA_VERSION);
    client
        .execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&(version + 1)],
        )
        .await
        .unwrap();
    let refused = PostgresStore::connect(&url, PostgresOptions::default()).await;
    assert!(
        matches!(
            &refused,
            Err(StoreError::Backend(BackendError::SchemaTooNew { .. }))
        ),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_three_adds_device_lists_to_a_version_two_database() {
    let (url, client) = database_at_version(2).await;
    let store = connect(&url).await;
    assert_eq!(
        store.mailbox_status(mailbox(1)).await.unwrap(),
        MailboxStatus::Active {
            identity_key: identity(1)
        }
    );
    let list = update(1, &[1], 1, 0x11);
    store.publish_device_list(list.clone()).await.unwrap();
    assert_eq!(
        store.device_list(ACCOUNT).await.unwrap(),
        Some(StoredDeviceList {
            list: list.list,
            memberships: vec![membership(1, 0x11)],
        })
    );
    let version: i32 = client
        .query_one("SELECT max(version) FROM schema_version", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, schema::SCHEMA_VERSION as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_connection_is_replaced() {
    let url = fresh_database().await;
    let store = PostgresStore::connect(&url, PostgresOptions { pool_size: 1 })
        .await
        .unwrap();
    let a = registered(&store, 1).await;
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // Ends every other session on this database: the pool's one connection and the listener.
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    // The first use may still find the dead connection (and fail); the next opens a new one.
    let first = store.mailbox_status(a).await;
    let second = store.mailbox_status(a).await;
    assert!(second.is_ok(), "first {first:?}, second {second:?}");
    store
        .enqueue(vec![(a, envelope(b"after"))], 1, QUOTA)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_do_not_echo_the_connection_string() {
    let refused = PostgresStore::connect(
        "host=/nonexistent user=u password=hunter2 bogus=1",
        PostgresOptions::default(),
    )
    .await;
    let Err(StoreError::Backend(error)) = refused else {
        panic!("expected a backend error, got {refused:?}");
    };
    let message = format!("{error} {error:?}");
    assert!(!message.contains("hunter2"), "{message}");
}
