//! Two relays over real QUIC on 127.0.0.1:0 sharing one PostgreSQL database (feature
//! `postgres`), as two nodes of one deployment: what a sender stores through one, the other
//! delivers, pushed at once to a recipient logged in there and at login to one who was offline;
//! a login on one closes the mailbox's older connection on the other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../src/store/postgres/test_cluster.rs"]
mod cluster;
mod helpers;

use std::net::SocketAddr;
use std::time::Duration;

use helpers::{T0, assert_nothing_more_delivered, mailbox, next_delivery, test_config};
use hush_crypto::Account;
use hush_proto::{Envelope, MailboxId, Request, Response};
use hush_relay::Relay;
use hush_relay::client::RelayClient;
use hush_relay::config::StorageBackend;
use hush_relay::connection::close_code;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Longest wait for one node to act on another's notice; a limit, never reached when a test
/// passes.
const NOTICE_PATIENCE: Duration = Duration::from_secs(30);

/// A relay node on the shared database, with a data directory of its own (its certificate).
struct Node {
    addr: SocketAddr,
    fingerprint: [u8; 32],
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Node {
    /// Binds through `Relay::bind`, which picks the PostgreSQL store from the configuration.
    async fn start(database_url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path().to_path_buf());
        config.metrics_listen = None;
        config.storage.backend = StorageBackend::Postgres;
        config.storage.postgres_url = Some(database_url.into());
        config.storage.postgres_pool_size = 4;
        let relay = Relay::bind(config).await.unwrap();
        let addr = relay.local_addr().unwrap();
        let fingerprint = relay.fingerprint();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(relay.run(async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            fingerprint,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    async fn login(&self, account: &Account) -> RelayClient {
        let mut client = RelayClient::connect(self.addr, self.fingerprint).await.unwrap();
        client.login(account, None).await.unwrap();
        client
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

fn account() -> Account {
    Account::new(T0, &mut rand::rng())
}

async fn send(client: &mut RelayClient, to: MailboxId, bytes: &[u8]) {
    let response = client
        .request(Request::Send {
            to,
            access: None,
            envelope: Envelope::new(bytes.to_vec()).unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(response, Response::Stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_stored_through_one_node_is_pushed_at_once_by_the_other() {
    let url = cluster::fresh_database().await;
    let (a, b) = (Node::start(&url).await, Node::start(&url).await);
    let bob = account();
    let mut bob_on_b = b.login(&bob).await;
    let mut alice_on_a = a.login(&account()).await;

    // Node B learns of each message from node A's notice, and pushes it without a new login.
    let mut seqs = Vec::new();
    for body in [&b"first"[..], b"second", b"third"] {
        send(&mut alice_on_a, mailbox(&bob), body).await;
        let delivery = next_delivery(&mut bob_on_b).await;
        assert_eq!(delivery.envelope.as_bytes(), body);
        seqs.push(delivery.seq.0);
    }
    assert_eq!(seqs, vec![1, 2, 3]);
    // And the other way round.
    let carol = account();
    let mut carol_on_a = a.login(&carol).await;
    send(&mut bob_on_b, mailbox(&carol), b"from b").await;
    assert_eq!(
        next_delivery(&mut carol_on_a).await.envelope.as_bytes(),
        b"from b"
    );

    for client in [bob_on_b, alice_on_a, carol_on_a] {
        client.close();
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// A device that logs in on another node (it moved there before this node timed its old
/// connection out) has its old connection here closed, as a newer login on one node closes it;
/// its messages then go to the new connection only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_on_one_node_closes_the_mailboxs_older_connection_on_the_other() {
    let url = cluster::fresh_database().await;
    let (a, b) = (Node::start(&url).await, Node::start(&url).await);
    let bob = account();
    let bob_on_a = a.login(&bob).await;
    let mut bob_on_b = b.login(&bob).await;
    let closed = tokio::time::timeout(NOTICE_PATIENCE, bob_on_a.connection().closed())
        .await
        .expect("node A closed the older connection");
    match closed {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code.into_inner(), u64::from(close_code::REPLACED));
        }
        other => panic!("the older connection ended with {other:?}"),
    }

    let mut alice_on_a = a.login(&account()).await;
    send(&mut alice_on_a, mailbox(&bob), b"after the move").await;
    assert_eq!(
        next_delivery(&mut bob_on_b).await.envelope.as_bytes(),
        b"after the move"
    );
    for client in [bob_on_b, alice_on_a] {
        client.close();
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_recipient_gets_at_login_on_one_node_what_was_sent_through_the_other() {
    let url = cluster::fresh_database().await;
    let (a, b) = (Node::start(&url).await, Node::start(&url).await);
    let bob = account();
    // Bob's mailbox exists (his first login, on node A), and he is offline.
    a.login(&bob).await.close();
    let mut alice_on_a = a.login(&account()).await;
    send(&mut alice_on_a, mailbox(&bob), b"while offline").await;

    let mut bob_on_b = b.login(&bob).await;
    let delivery = next_delivery(&mut bob_on_b).await;
    assert_eq!(delivery.envelope.as_bytes(), b"while offline");
    assert_eq!(
        bob_on_b
            .request(Request::Ack {
                through: delivery.seq
            })
            .await
            .unwrap(),
        Response::Acked { deleted: 1 }
    );
    bob_on_b.close();
    // The ack through node B deleted it for node A too.
    let mut bob_on_a = a.login(&bob).await;
    assert_nothing_more_delivered(&mut bob_on_a).await;

    for client in [alice_on_a, bob_on_a] {
        client.close();
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn the_postgres_backend_without_a_url_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.storage.backend = StorageBackend::Postgres;
    let refused = Relay::bind(config).await;
    assert!(
        matches!(&refused, Err(hush_relay::StartError::Config(message)) if message.to_string().contains("postgres_url")),
        "{:?}",
        refused.err()
    );
}
