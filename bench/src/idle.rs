//! The idle mode: N authenticated, idle connections to a relay child process, and what they
//! cost it in resident memory.

use hush_relay::config::StorageBackend;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use hush_crypto::Account;
use hush_proto::{MailboxId, Response};
use hush_relay::client::{RelayClient, client_endpoint};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::procfs::{self, Pid};
use crate::relay::{Placement, RelaySettings, RelayUnderTest};

/// Headroom over the requested connections in the relay's connection limit.
const CONNECTION_HEADROOM: usize = 64;

/// What the idle mode does.
#[derive(Debug, Clone)]
pub struct IdleRun {
    /// Connections to open and log in.
    pub connections: usize,
    /// Connections sharing one client endpoint (one UDP socket).
    pub per_endpoint: usize,
    /// Connections being set up at once.
    pub concurrency: usize,
    /// Wait after the last login before reading the relay's memory.
    pub settle: Duration,
    /// The relay binary.
    pub relay_binary: std::path::PathBuf,
}

/// Runs the idle mode and prints its report, ending with the `IDLE` line.
pub async fn run(idle: &IdleRun) -> anyhow::Result<()> {
    let settings = RelaySettings {
        store: StorageBackend::Sqlite,
        synchronous: "full".into(),
        commit_delay_us: None,
        max_connections: idle.connections.saturating_add(CONNECTION_HEADROOM),
    };
    let relay = RelayUnderTest::start(&Placement::Child(idle.relay_binary.clone()), &settings).await?;
    let Some(pid) = relay.pid() else {
        bail!("the idle mode needs a relay process on this machine");
    };
    println!("idle: {}", relay.description);
    let before_kib = procfs::rss_kib(pid)?;

    let started = Instant::now();
    let opening = Opening {
        connections: idle.connections,
        per_endpoint: idle.per_endpoint,
        concurrency: idle.concurrency,
    };
    let (clients, failures) = opening.open(relay.addr, relay.fingerprint).await?;
    let clients: Vec<RelayClient> = clients.into_iter().map(|opened| opened.client).collect();
    let setup = started.elapsed();
    println!(
        "idle: {} of {} connections logged in in {:.1} s ({:.0}/s), {} failed{}",
        clients.len(),
        idle.connections,
        setup.as_secs_f64(),
        clients.len() as f64 / setup.as_secs_f64().max(1e-9),
        failures.count,
        failures
            .first
            .as_ref()
            .map(|error| format!(" (first failure: {error:#})"))
            .unwrap_or_default()
    );

    // Not a test: the relay's allocator gets a moment to settle before the reading.
    tokio::time::sleep(idle.settle).await;
    let after_kib = procfs::rss_kib(pid)?;
    let open_now = clients
        .iter()
        .filter(|client| client.connection().close_reason().is_none())
        .count();
    let bench_kib = procfs::rss_kib(Pid::Current).unwrap_or(0);
    let per_connection_kib = after_kib.saturating_sub(before_kib) as f64 / clients.len().max(1) as f64;
    println!(
        "idle: relay RSS before {:.1} MiB, after {:.1} MiB; {open_now} connections still open; \
         bench (client side) RSS {:.1} MiB",
        mib(before_kib),
        mib(after_kib),
        mib(bench_kib)
    );
    for client in &clients {
        client.close();
    }
    relay.stop().await;
    println!(
        "IDLE connections={} relay_rss_mib={:.1} per_connection_kib={:.1}",
        clients.len(),
        mib(after_kib),
        per_connection_kib
    );
    Ok(())
}

/// Failed connection attempts.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    pub(crate) count: usize,
    pub(crate) first: Option<anyhow::Error>,
}

/// One logged-in connection: its account, mailbox and client.
pub(crate) struct Opened {
    pub(crate) account: Account,
    pub(crate) mailbox: MailboxId,
    pub(crate) client: RelayClient,
}

/// How many connections to open, how many share a client endpoint (one UDP socket), how many are
/// set up at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opening {
    pub(crate) connections: usize,
    pub(crate) per_endpoint: usize,
    pub(crate) concurrency: usize,
}

impl Opening {
    /// Opens and logs in the connections, each as a new account.
    pub(crate) async fn open(
        self,
        addr: SocketAddr,
        fingerprint: [u8; 32],
    ) -> anyhow::Result<(Vec<Opened>, Failures)> {
        let idle = self;
        let endpoints = (0..idle.connections.div_ceil(idle.per_endpoint.max(1)))
            .map(|_| client_endpoint(fingerprint))
            .collect::<Result<Vec<_>, _>>()?;
        let permits = Arc::new(Semaphore::new(idle.concurrency.max(1)));
        let mut setups = JoinSet::new();
        for (index, endpoint) in (0..idle.connections).zip(
            endpoints
                .iter()
                .flat_map(|endpoint| std::iter::repeat_n(endpoint, idle.per_endpoint.max(1))),
        ) {
            let endpoint = endpoint.clone();
            let permits = permits.clone();
            setups.spawn(async move {
                let _permit = permits.acquire_owned().await?;
                let account = Account::new(0, &mut rand::rng());
                let mut client = RelayClient::connect_on(&endpoint, addr)
                    .await
                    .with_context(|| format!("connecting {index}"))?;
                match client.login(&account, None).await {
                    Ok(Response::Authenticated { mailbox, .. }) => anyhow::Ok(Opened {
                        account,
                        mailbox,
                        client,
                    }),
                    Ok(other) => bail!("login of connection {index} answered {other:?}"),
                    Err(error) => bail!(
                        "login of connection {index}: {error} (close reason: {:?})",
                        client.connection().close_reason()
                    ),
                }
            });
        }
        let mut clients = Vec::with_capacity(idle.connections);
        let mut failures = Failures::default();
        while let Some(joined) = setups.join_next().await {
            match joined.context("setup task failed")? {
                Ok(client) => {
                    clients.push(client);
                    if clients.len() % 1000 == 0 {
                        eprintln!("idle: {} logged in", clients.len());
                    }
                }
                Err(error) => {
                    failures.count += 1;
                    failures.first.get_or_insert(error);
                }
            }
        }
        Ok((clients, failures))
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
