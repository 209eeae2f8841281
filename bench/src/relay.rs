//! The relay under test: started in this process, started as a child process from the
//! `hush-relay` binary, or already running somewhere (`--target`).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use hush_relay::config::StorageBackend;
use hush_relay::{Config, Relay};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::child::ChildServer;
use crate::procfs::Pid;

/// Prefix of the line `hush-relay` prints with its address.
const RELAY_ADDRESS_LINE: &str = "relay address for clients: ";
/// Prefix of the line `hush-relay` prints with its metrics URL, right after the address line.
const METRICS_LINE: &str = "metrics: http://";

/// The per-connection request rate limit the bench sets. The relay's default (500/s) guards
/// against abusive clients; one pair alone on an idle relay can exceed it, and the check costs
/// the same at any setting, so the bench lifts it to measure the relay rather than the limiter.
const BENCH_REQUESTS_PER_SECOND: u32 = 1_000_000;

/// Where the relay runs.
#[derive(Debug, Clone)]
pub enum Placement {
    /// A task in this process (its CPU figure then includes the bench's own clients).
    InProcess,
    /// A child process running this `hush-relay` binary.
    Child(PathBuf),
    /// A relay already running at this address with this certificate fingerprint.
    Remote(SocketAddr, [u8; 32]),
}

impl Placement {
    /// `hush-relay` next to this executable (same target directory), if it was built.
    pub fn sibling_binary() -> Option<PathBuf> {
        let exe = std::env::current_exe().ok()?;
        let candidate = exe.parent()?.join("hush-relay");
        candidate.is_file().then_some(candidate)
    }
}

/// Settings for a relay the bench starts.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// The relay's store: `sqlite` (its default) or `memory` (nothing durable: shows what
    /// durable storage costs).
    pub store: StorageBackend,
    /// SQLite `synchronous`: `full` (the relay's default) or `normal`.
    pub synchronous: String,
    /// SQLite commit delay, microseconds; `None` keeps the relay's default.
    pub commit_delay_us: Option<u64>,
    /// Most concurrent connections.
    pub max_connections: usize,
}

impl RelaySettings {
    /// The store, as the run's description line says it.
    fn describe_store(&self) -> String {
        match self.store {
            StorageBackend::Memory => "memory store: nothing durable".to_owned(),
            _ => {
                let delay = self
                    .commit_delay_us
                    .unwrap_or(Config::default().storage.commit_delay_micros);
                format!(
                    "SQLite store, synchronous={}, commit delay {delay} µs",
                    self.synchronous
                )
            }
        }
    }
}

/// A relay clients can connect to.
#[derive(Debug)]
pub struct RelayUnderTest {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// The certificate fingerprint clients pin.
    pub fingerprint: [u8; 32],
    /// One line saying where and how it runs.
    pub description: String,
    /// Its metrics endpoint, if the bench started it (the store's group-commit figures).
    pub metrics: Option<SocketAddr>,
    running: Running,
}

#[derive(Debug)]
enum Running {
    InProcess {
        stop: oneshot::Sender<()>,
        task: JoinHandle<()>,
        _dir: tempfile::TempDir,
    },
    Child {
        server: ChildServer,
        _dir: tempfile::TempDir,
    },
    Remote,
}

impl RelayUnderTest {
    /// Starts (or names) the relay.
    pub async fn start(placement: &Placement, settings: &RelaySettings) -> anyhow::Result<Self> {
        match placement {
            Placement::InProcess => {
                let dir = tempfile::tempdir().context("creating a temporary data directory")?;
                let config = config(dir.path(), settings);
                let relay = Relay::bind(config)
                    .await
                    .context("starting the in-process relay")?;
                let addr = relay.local_addr()?;
                let fingerprint = relay.fingerprint();
                let metrics = relay.metrics_addr();
                let (stop, stopped) = oneshot::channel::<()>();
                let task = tokio::spawn(relay.run(async move {
                    let _ = stopped.await;
                }));
                Ok(Self {
                    addr,
                    fingerprint,
                    description: format!(
                        "in-process relay ({}; CPU and RSS include the bench's clients)",
                        settings.describe_store()
                    ),
                    metrics,
                    running: Running::InProcess {
                        stop,
                        task,
                        _dir: dir,
                    },
                })
            }
            Placement::Child(binary) => {
                let dir = tempfile::tempdir().context("creating a temporary data directory")?;
                let config_path = dir.path().join("relay.toml");
                std::fs::write(&config_path, config_toml(&dir.path().join("data"), settings))
                    .context("writing the relay configuration")?;
                let mut command = Command::new(binary);
                command.arg("--config").arg(&config_path).args([
                    "--metrics-listen",
                    "127.0.0.1:0",
                    "--log",
                    "warn",
                ]);
                let mut server = ChildServer::start(command, RELAY_ADDRESS_LINE).await?;
                let metrics = server
                    .line_after(METRICS_LINE)
                    .await
                    .and_then(|url| url.strip_suffix("/metrics")?.parse().ok());
                Ok(Self {
                    addr: server.addr,
                    fingerprint: server.fingerprint,
                    description: format!(
                        "relay child process {} (pid {}, {})",
                        binary.display(),
                        server.process_id(),
                        settings.describe_store()
                    ),
                    metrics,
                    running: Running::Child { server, _dir: dir },
                })
            }
            Placement::Remote(addr, fingerprint) => Ok(Self {
                addr: *addr,
                fingerprint: *fingerprint,
                description: format!("remote relay at {addr} (its CPU and RSS are not measured)"),
                metrics: None,
                running: Running::Remote,
            }),
        }
    }

    /// The process whose CPU and memory are the relay's, if it runs on this machine.
    pub fn pid(&self) -> Option<Pid> {
        match &self.running {
            Running::InProcess { .. } => Some(Pid::Current),
            Running::Child { server, .. } => Some(server.pid()),
            Running::Remote => None,
        }
    }

    /// Stops a relay the bench started.
    pub async fn stop(self) {
        match self.running {
            Running::InProcess { stop, task, _dir } => {
                let _ = stop.send(());
                let _ = task.await;
            }
            Running::Child { server, _dir } => server.stop(),
            Running::Remote => {}
        }
    }
}

fn config(data_dir: &Path, settings: &RelaySettings) -> Config {
    let mut config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    };
    config.storage.backend = settings.store;
    config.storage.synchronous.clone_from(&settings.synchronous);
    if let Some(delay) = settings.commit_delay_us {
        config.storage.commit_delay_micros = delay;
    }
    config.limits.max_connections = settings.max_connections;
    // Every client comes from 127.0.0.1.
    config.limits.max_connections_per_address = settings.max_connections;
    config.limits.max_unauthenticated_per_address = settings.max_connections;
    config.limits.requests_per_second = BENCH_REQUESTS_PER_SECOND;
    config.limits.request_burst = BENCH_REQUESTS_PER_SECOND;
    // The benchmark's senders hold no access keys: the stranger budgets would refuse them.
    config.limits.stranger_fetches_per_target = BENCH_STRANGER_ALLOWANCE;
    config.limits.stranger_messages_per_mailbox = BENCH_STRANGER_ALLOWANCE;
    config.limits.stranger_bytes_per_mailbox = BENCH_STRANGER_BYTES;
    config
}

/// Stranger budgets no benchmark reaches (TOML integers are signed 64-bit, hence not `u64::MAX`).
const BENCH_STRANGER_ALLOWANCE: u32 = u32::MAX;
const BENCH_STRANGER_BYTES: u64 = 1 << 62;

/// The same settings as [`config`], as the relay binary's TOML file.
fn config_toml(data_dir: &Path, settings: &RelaySettings) -> String {
    let mut text = String::new();
    // Debug formatting quotes and escapes like a TOML basic string for any ordinary path.
    let _ = writeln!(text, "listen = \"127.0.0.1:0\"");
    let _ = writeln!(text, "data_dir = {:?}", data_dir.display().to_string());
    let backend = match settings.store {
        StorageBackend::Memory => "memory",
        _ => "sqlite",
    };
    let _ = writeln!(
        text,
        "\n[storage]\nbackend = {backend:?}\nsynchronous = {:?}",
        settings.synchronous
    );
    if let Some(delay) = settings.commit_delay_us {
        let _ = writeln!(text, "commit_delay_micros = {delay}");
    }
    let _ = writeln!(
        text,
        "\n[limits]\nmax_connections = {0}\nmax_connections_per_address = {0}\n\
         max_unauthenticated_per_address = {0}\nrequests_per_second = {BENCH_REQUESTS_PER_SECOND}\n\
         request_burst = {BENCH_REQUESTS_PER_SECOND}\n\
         stranger_fetches_per_target = {BENCH_STRANGER_ALLOWANCE}\n\
         stranger_messages_per_mailbox = {BENCH_STRANGER_ALLOWANCE}\n\
         stranger_bytes_per_mailbox = {BENCH_STRANGER_BYTES}",
        settings.max_connections
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_configuration_parses_and_matches_the_in_process_one() {
        let settings = RelaySettings {
            store: StorageBackend::Memory,
            synchronous: "full".into(),
            commit_delay_us: Some(250),
            max_connections: 12_345,
        };
        let dir = Path::new("/tmp/some dir/data");
        let parsed = Config::from_toml(&config_toml(dir, &settings)).unwrap();
        let direct = config(dir, &settings);
        assert_eq!(parsed.listen, direct.listen);
        assert_eq!(parsed.data_dir, direct.data_dir);
        assert_eq!(parsed.storage.synchronous, "full");
        assert_eq!(parsed.storage.commit_delay_micros, 250);
        assert_eq!(direct.storage.commit_delay_micros, 250);
        assert_eq!(parsed.storage.backend, StorageBackend::Memory);
        assert_eq!(direct.storage.backend, StorageBackend::Memory);
        assert_eq!(parsed.limits.max_connections, 12_345);
        assert_eq!(parsed.limits.max_connections_per_address, 12_345);
        assert_eq!(
            direct.limits.max_unauthenticated_per_address,
            parsed.limits.max_unauthenticated_per_address
        );
        assert_eq!(
            parsed.limits.requests_per_second,
            direct.limits.requests_per_second
        );
        assert_eq!(parsed.limits.request_burst, direct.limits.request_burst);
    }
}
