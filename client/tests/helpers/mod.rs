//! Shared helpers: a real relay in this process on 127.0.0.1:0 with a fresh SQLite store, and
//! clients on fresh encrypted databases.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod hush;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hush_client::{
    Address, Client, ClientEvent, ConnectionState, DatabaseKey, Event, Events, RelayAddress, StoredMessage,
};
use hush_relay::{Config, Relay};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Upper bound for any wait in these tests: a safety net, not a pacing device.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// A relay running in this process.
pub struct TestRelay {
    pub address: RelayAddress,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

pub async fn spawn_relay() -> TestRelay {
    spawn_relay_with(|_| {}).await
}

/// [`spawn_relay`] with `configure` applied to the relay's configuration first.
pub async fn spawn_relay_with(configure: impl FnOnce(&mut Config)) -> TestRelay {
    let (config, dir) = test_config(configure);
    serve(Relay::bind(config).await.unwrap(), dir)
}

/// A relay on `store` (a test wrapper around a real store, say).
pub async fn spawn_relay_on<S: hush_relay::store::Store>(store: S) -> TestRelay {
    let (config, dir) = test_config(|_| {});
    let relay = Relay::bind_with(config, store, hush_relay::clock::Clock::System)
        .await
        .unwrap();
    serve(relay, dir)
}

fn test_config(configure: impl FnOnce(&mut Config)) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: None,
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    configure(&mut config);
    (config, dir)
}

fn serve<S: hush_relay::store::Store>(relay: Relay<S>, dir: tempfile::TempDir) -> TestRelay {
    let addr = relay.local_addr().unwrap();
    let address = RelayAddress {
        host: addr.ip().to_string(),
        port: addr.port(),
        fingerprint: relay.fingerprint(),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(relay.run(async move {
        let _ = stopped.await;
    }));
    TestRelay {
        address,
        data_dir: dir.path().to_path_buf(),
        stop: Some(stop),
        task: Some(task),
        _dir: dir,
    }
}

impl TestRelay {
    /// An address with the right fingerprint but a port nothing listens on: a client opened with
    /// it is offline (it queues, and keeps retrying in the background).
    pub fn unreachable(&self) -> RelayAddress {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        drop(socket);
        RelayAddress {
            port,
            ..self.address.clone()
        }
    }

    /// Stops the relay gracefully; its data directory lives as long as the returned handle.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self._dir
    }
}

pub fn test_key(byte: u8) -> DatabaseKey {
    DatabaseKey::from_bytes([byte; 32])
}

/// Opens (or creates) the profile at `path` and waits until it is registered.
pub async fn online_client(path: &Path, key: &DatabaseKey, relay: &RelayAddress) -> (Client, Events) {
    let (client, events) = Client::open(path, key, relay.clone()).await.unwrap();
    tokio::time::timeout(PATIENCE, client.register())
        .await
        .expect("registration timed out")
        .expect("registration failed");
    (client, events)
}

/// Alice (`alice.db`, key 1) and Bob (`bob.db`, key 2) in `dir`, registered, each the other's
/// contact (named "alice" and "bob").
pub async fn alice_and_bob(dir: &Path, relay: &RelayAddress) -> ((Client, Events), (Client, Events)) {
    let alice = online_client(&dir.join("alice.db"), &test_key(1), relay).await;
    let bob = online_client(&dir.join("bob.db"), &test_key(2), relay).await;
    alice.0.add_contact("bob", bob.0.address()).await.unwrap();
    bob.0.add_contact("alice", alice.0.address()).await.unwrap();
    (alice, bob)
}

/// Waits for the relay to confirm our device list with that counter.
pub async fn published(events: &mut Events, counter: u64) {
    collect_until(events, |event, _| {
        matches!(event, ClientEvent::Core(Event::OwnListPublished { counter: stored }) if *stored == counter)
    })
    .await;
}

/// The first device of a new account (`phone.db` in `dir`), registered, its list published.
pub async fn first_device(dir: &Path, relay: &RelayAddress) -> (Client, Events) {
    let (phone, mut events) = online_client(&dir.join("phone.db"), &test_key(1), relay).await;
    published(&mut events, 1).await;
    (phone, events)
}

/// A new profile waiting to join, registered at the relay, and its code's text.
pub async fn joining(path: &Path, key: &DatabaseKey, relay: &RelayAddress) -> (Client, Events, String) {
    let (client, events) = Client::open_joining(path, key, relay.clone()).await.unwrap();
    client.register().await.unwrap();
    let code = client.link_code().await.unwrap().to_text();
    (client, events, code)
}

/// Takes events until `done` says so, returning the messages received meanwhile.
pub async fn collect_until(
    events: &mut Events,
    mut done: impl FnMut(&ClientEvent, &[StoredMessage]) -> bool,
) -> Vec<StoredMessage> {
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(event) = events.next().await {
            if let ClientEvent::Core(Event::MessageReceived(message)) = &event {
                received.push(message.clone());
            }
            if done(&event, &received) {
                return;
            }
        }
        panic!("event stream ended");
    })
    .await
    .expect("timed out waiting for events");
    received
}

/// Waits for the connection to come up.
pub async fn wait_online(events: &mut Events) {
    collect_until(events, |event, _| {
        matches!(event, ClientEvent::Connection(ConnectionState::Online))
    })
    .await;
}

/// The texts of `messages`.
pub fn texts(messages: &[StoredMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|message| match &message.content {
            hush_client::Content::Text(text) => text.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Every file under `dir`, read raw.
pub fn raw_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

pub fn address_of(client: &Client) -> Address {
    client.address()
}

/// Asserts two sequences are equal, reporting the first difference instead of both lists.
pub fn assert_same_sequence(got: &[String], expected: &[String], what: &str) {
    if let Some(index) = got.iter().zip(expected).position(|(a, b)| a != b) {
        panic!(
            "{what}: first difference at {index}: got {:?}, expected {:?}",
            got[index], expected[index]
        );
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "{what}: lengths differ (got {}, expected {})",
        got.len(),
        expected.len()
    );
}
