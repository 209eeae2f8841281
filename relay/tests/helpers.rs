//! Shared test helpers: a real relay on 127.0.0.1:0 with a fresh temporary SQLite store and a
//! manual clock, and logged-in QUIC clients.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::path::PathBuf;

use hush_crypto::Account;
use hush_proto::{MailboxId, OneTimePreKey, PreKeyUpload, Request, Signature, SignedPreKey};
use hush_relay::client::RelayClient;
use hush_relay::clock::{Clock, ManualClock};
use hush_relay::store::sqlite::{SqliteOptions, SqliteStore};
use hush_relay::{Config, Relay, RelayHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The code of a refused request; panics on anything else.
pub fn refused(
    result: Result<hush_proto::Response, hush_relay::client::ClientError>,
) -> hush_proto::ErrorCode {
    match result {
        Err(hush_relay::client::ClientError::Refused(error)) => error.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The value of counter `name` in the relay's metrics.
pub async fn metric(relay: &TestRelay, name: &str) -> u64 {
    let text = relay.handle.render_metrics().await;
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} is served"));
    line[name.len() + 1..].parse().unwrap()
}

/// Start time of every manual clock.
pub const T0: u64 = 1_800_000_000;

/// A relay running in this process.
pub struct TestRelay {
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub fingerprint: [u8; 32],
    pub handle: RelayHandle<SqliteStore>,
    pub clock: ManualClock,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

/// The tests' configuration. Tests that are not about strangers send without access keys far
/// past the default stranger budgets, so those are lifted here; the tests of the budgets set them.
pub fn test_config(data_dir: PathBuf) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir,
        ..Config::default()
    };
    config.limits.stranger_fetches_per_target = u32::MAX;
    config.limits.stranger_messages_per_mailbox = u32::MAX;
    config.limits.stranger_bytes_per_mailbox = u64::MAX;
    config
}

/// A relay on a fresh temporary directory; `tweak` adjusts the config.
pub async fn spawn_relay(tweak: impl FnOnce(&mut Config)) -> TestRelay {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = spawn_relay_in(dir.path().to_path_buf(), tweak).await;
    relay._dir = Some(dir);
    relay
}

/// A relay on a given data directory (to restart on the same data).
pub async fn spawn_relay_in(data_dir: PathBuf, tweak: impl FnOnce(&mut Config)) -> TestRelay {
    let mut config = test_config(data_dir.clone());
    tweak(&mut config);
    let clock = ManualClock::new(T0);
    let store = SqliteStore::open(&data_dir.join("relay.sqlite3"), SqliteOptions::default()).unwrap();
    let relay = Relay::bind_with(config, store, Clock::Manual(clock.clone()))
        .await
        .unwrap();
    let addr = relay.local_addr().unwrap();
    let fingerprint = relay.fingerprint();
    let metrics_addr = relay.metrics_addr();
    let handle = relay.handle();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(relay.run(async move {
        let _ = stopped.await;
    }));
    TestRelay {
        addr,
        metrics_addr,
        fingerprint,
        handle,
        clock,
        data_dir,
        stop: Some(stop),
        task: Some(task),
        _dir: None,
    }
}

impl TestRelay {
    pub async fn connect(&self) -> RelayClient {
        RelayClient::connect(self.addr, self.fingerprint).await.unwrap()
    }

    /// A new account, logged in.
    pub async fn user(&self) -> (Account, RelayClient) {
        let account = Account::new(T0, &mut rand::rng());
        let mut client = self.connect().await;
        client.login(&account, None).await.unwrap();
        (account, client)
    }

    /// A new account that logged in once (so its mailbox exists) and went offline.
    pub async fn offline_user(&self) -> Account {
        let (account, client) = self.user().await;
        client.close();
        account
    }

    /// Graceful shutdown; waits for `run` to return.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    /// Keeps the temporary directory alive beyond this relay (for restarts).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }
}

pub fn mailbox(account: &Account) -> MailboxId {
    MailboxId::for_identity(&account.identity_key().to_bytes())
}

/// An upload of the account's signed prekey and `count` fresh one-time prekeys.
pub fn prekey_upload(account: &mut Account, count: usize) -> Request {
    let spk = account.signed_prekey().unwrap();
    let one_time: Vec<OneTimePreKey> = account
        .generate_one_time_prekeys(count, &mut rand::rng())
        .into_iter()
        .map(|otk| OneTimePreKey {
            id: otk.id,
            key: otk.key.to_bytes(),
        })
        .collect();
    Request::UploadPreKeys {
        signed_prekey: SignedPreKey {
            id: spk.id,
            created_at: spk.created_at,
            key: spk.key.to_bytes(),
            signature: Signature(spk.signature),
        },
        one_time_prekeys: PreKeyUpload::new(one_time).unwrap(),
    }
}

/// Every file under `dir`, concatenated (to grep the relay's storage).
pub fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            out.extend(std::fs::read(&path).unwrap());
        } else if path.is_dir() {
            out.extend(all_bytes(&path));
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// A round trip proves the relay has pushed everything it had; no delivery may be waiting.
pub async fn assert_nothing_more_delivered(client: &mut RelayClient) {
    assert_eq!(
        client.request(hush_proto::Request::Ping).await.unwrap(),
        hush_proto::Response::Pong
    );
    assert!(
        client
            .queued_pushes()
            .iter()
            .all(|push| !matches!(push, hush_proto::Push::Deliver(_))),
        "an unexpected delivery was waiting"
    );
}

/// A bound on waiting for a push, so that a message the relay lost fails its test instead of
/// hanging it.
pub const DELIVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The next delivery, failing the test if none arrives within [`DELIVERY_TIMEOUT`].
pub async fn next_delivery(client: &mut RelayClient) -> hush_proto::Delivery {
    tokio::time::timeout(DELIVERY_TIMEOUT, client.next_delivery())
        .await
        .expect("a delivery within the timeout")
        .unwrap()
}

/// The application close code a connection ended with; panics if it ended otherwise.
pub async fn close_code_of(client: &RelayClient) -> u64 {
    match client.connection().closed().await {
        quinn::ConnectionError::ApplicationClosed(close) => close.error_code.into_inner(),
        other => panic!("closed otherwise: {other:?}"),
    }
}

/// A new account, logged in, that set `key` as its access key; with its mailbox.
pub async fn keyed_user(relay: &TestRelay, key: hush_proto::AccessKey) -> (Account, RelayClient, MailboxId) {
    let (account, mut client) = relay.user().await;
    assert_eq!(
        client
            .request(Request::SetAccessKey { key: Some(key) })
            .await
            .unwrap(),
        hush_proto::Response::AccessKeySet
    );
    let target = mailbox(&account);
    (account, client, target)
}
