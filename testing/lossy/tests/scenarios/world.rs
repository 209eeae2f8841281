//! The world of a scenario: a real relay (in this process, or a child process that can be
//! SIGKILLed), the proxy in front of it, and two real clients that reach the relay only through
//! the proxy.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hush_client::{Client, ClientEvent, ConnectionState, DatabaseKey, Event, Events, RelayAddress};
use hush_lossy::{Proxy, ProxyHandle};
use hush_relay::{Config, Relay};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

/// Bound on a wait for the network to settle (registration, a reconnect): a safety net.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// What a client has done so far, as its event stream told.
#[derive(Debug, Default)]
pub struct Progress {
    /// Texts received, in order, with when each arrived.
    pub received: Vec<(String, Instant)>,
    /// Logins (the first one included).
    pub onlines: u32,
    /// Connections lost or attempts failed.
    pub offlines: u32,
    /// Envelopes the core dropped, and why.
    pub dropped: Vec<String>,
    /// Set if the client stopped working.
    pub stopped: Option<String>,
}

/// A client and the task that records its events.
pub struct Party {
    pub client: Arc<Client>,
    pub progress: watch::Receiver<Progress>,
    pump: JoinHandle<()>,
}

impl Drop for Party {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

impl Party {
    /// Opens a fresh profile at `path` against `relay` and waits until it is registered.
    pub async fn register(path: &Path, key: u8, relay: &RelayAddress) -> Self {
        let (client, events) = Client::open(path, &DatabaseKey::from_bytes([key; 32]), relay.clone())
            .await
            .unwrap();
        let (record, progress) = watch::channel(Progress::default());
        let pump = tokio::spawn(pump(events, record));
        let party = Self {
            client: Arc::new(client),
            progress,
            pump,
        };
        timeout(PATIENCE, party.client.register())
            .await
            .expect("registration timed out")
            .expect("registration failed");
        party
    }

    /// Waits until `done` holds of the progress, at most `bound`; fails the test with `what`
    /// and the progress so far otherwise.
    pub async fn wait(&self, what: &str, bound: Duration, done: impl FnMut(&Progress) -> bool) {
        let mut progress = self.progress.clone();
        match timeout(bound, progress.wait_for(done)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => panic!("{what}: the client's event stream ended"),
            Err(_) => {
                let now = self.progress.borrow();
                panic!(
                    "{what}: not within {bound:?}; received {}, logins {}, offline {} times, \
                     dropped {:?}, stopped {:?}",
                    now.received.len(),
                    now.onlines,
                    now.offlines,
                    now.dropped,
                    now.stopped
                );
            }
        }
    }

    pub fn received(&self) -> usize {
        self.progress.borrow().received.len()
    }

    pub fn onlines(&self) -> u32 {
        self.progress.borrow().onlines
    }
}

async fn pump(mut events: Events, record: watch::Sender<Progress>) {
    while let Some(event) = events.next().await {
        let arrived = Instant::now();
        record.send_modify(|progress| match event {
            ClientEvent::Core(Event::MessageReceived(message)) => {
                let text = match &message.content {
                    hush_client::Content::Text(text) => text.clone(),
                    other => format!("{other:?}"),
                };
                progress.received.push((text, arrived));
            }
            ClientEvent::Core(Event::Dropped { reason, .. }) => {
                progress.dropped.push(format!("{reason:?}"));
            }
            ClientEvent::Connection(ConnectionState::Online) => progress.onlines += 1,
            ClientEvent::Connection(ConnectionState::Offline { .. }) => progress.offlines += 1,
            ClientEvent::Stopped(reason) => progress.stopped = Some(reason),
            _ => {}
        });
    }
}

/// Two registered clients that accept each other, talking through `proxy` (still a perfect
/// link: the scenario sets its impairment once they are set up).
pub struct Pair {
    pub alice: Party,
    pub bob: Party,
    /// The proxy's seed, printed with the figures.
    pub seed: u64,
    /// Kept alive for the pair: dropping it stops the proxy.
    _proxy: Proxy,
    pub handle: ProxyHandle,
    _dir: tempfile::TempDir,
}

/// Replaces every scenario's proxy seed, to replay a failing run or try others.
pub const SEED_VAR: &str = "HUSH_LOSSY_SEED";

impl Pair {
    /// Alice's and bob's progress counters now, to wait for a change from.
    pub fn counts(&self) -> [(u32, u32); 2] {
        [&self.alice, &self.bob].map(|party| {
            let progress = party.progress.borrow();
            (progress.onlines, progress.offlines)
        })
    }

    /// Waits until each party logged in again since [`Pair::counts`] said `before`.
    pub async fn wait_online_again(&self, what: &str, bound: Duration, before: [(u32, u32); 2]) {
        for (party, (onlines, _)) in [&self.alice, &self.bob].into_iter().zip(before) {
            party
                .wait(what, bound, |progress| progress.onlines > onlines)
                .await;
        }
    }

    /// Waits until each party went offline since [`Pair::counts`] said `before`.
    pub async fn wait_offline_again(&self, what: &str, bound: Duration, before: [(u32, u32); 2]) {
        for (party, (_, offlines)) in [&self.alice, &self.bob].into_iter().zip(before) {
            party
                .wait(what, bound, |progress| progress.offlines > offlines)
                .await;
        }
    }

    /// The pair behind a proxy seeded with `seed` (or `HUSH_LOSSY_SEED`).
    pub async fn through_proxy(relay: SocketAddr, fingerprint: [u8; 32], seed: u64) -> Self {
        let seed = std::env::var(SEED_VAR)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(seed);
        let proxy = Proxy::start(relay, seed).await.unwrap();
        let handle = proxy.handle();
        let address = RelayAddress {
            host: "127.0.0.1".into(),
            port: proxy.local_addr().port(),
            fingerprint,
        };
        let dir = tempfile::tempdir().unwrap();
        let alice = Party::register(&dir.path().join("alice.db"), 1, &address).await;
        let bob = Party::register(&dir.path().join("bob.db"), 2, &address).await;
        alice.client.accept(bob.client.address()).await.unwrap();
        bob.client.accept(alice.client.address()).await.unwrap();
        Self {
            alice,
            bob,
            seed,
            _proxy: proxy,
            handle,
            _dir: dir,
        }
    }
}

/// A relay in this process and the pair behind a proxy seeded with `seed`.
pub async fn relay_and_pair(seed: u64) -> (InProcessRelay, Pair) {
    let relay = InProcessRelay::start().await;
    let pair = Pair::through_proxy(relay.addr, relay.fingerprint, seed).await;
    (relay, pair)
}

/// A relay in this process on 127.0.0.1:0 with a fresh SQLite store.
pub struct InProcessRelay {
    pub addr: SocketAddr,
    pub fingerprint: [u8; 32],
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl InProcessRelay {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            metrics_listen: None,
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let relay = Relay::bind(config).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        Self {
            addr: relay.local_addr().unwrap(),
            fingerprint: relay.fingerprint(),
            stop: Some(stop),
            // Runs until `stop` sends or is dropped.
            task: tokio::spawn(relay.run(async move { stopped.await.unwrap_or(()) })),
            _dir: dir,
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        timeout(PATIENCE, &mut self.task)
            .await
            .expect("the relay did not stop")
            .unwrap();
    }
}

/// The relay as a child process (`lossy-relay`, the relay library on a port and data
/// directory), so it can be SIGKILLed and restarted on the same files and port.
pub struct ChildRelay {
    pub addr: SocketAddr,
    pub fingerprint: [u8; 32],
    child: Child,
    data_dir: PathBuf,
}

impl ChildRelay {
    /// Starts it on `listen` (port 0 for a fresh one) and reads its address.
    pub async fn start(listen: SocketAddr, data_dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lossy-relay"))
            .arg(listen.to_string())
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = timeout(PATIENCE, lines.next_line())
            .await
            .expect("lossy-relay did not print its address")
            .unwrap()
            .expect("lossy-relay exited before listening");
        let (addr, fingerprint) = first
            .strip_prefix("relay ")
            .and_then(|rest| rest.split_once('#'))
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"));
        let fingerprint = hush_relay::tls::from_hex::<32>(fingerprint).unwrap();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            addr: addr.parse().unwrap(),
            fingerprint,
            child,
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// SIGKILLs it and starts it again on the same port and data directory; the certificate
    /// (so the fingerprint the clients pin) comes back from the files.
    pub async fn kill_and_restart(&mut self) {
        self.child.start_kill().unwrap();
        let status = timeout(PATIENCE, self.child.wait()).await.unwrap().unwrap();
        assert!(!status.success(), "the relay exited by itself: {status}");
        let restarted = Self::start(self.addr, &self.data_dir).await;
        assert_eq!(restarted.addr, self.addr, "same port");
        assert_eq!(restarted.fingerprint, self.fingerprint, "same certificate");
        *self = restarted;
    }

    /// The relay's resident memory, KiB (from /proc).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }
}
