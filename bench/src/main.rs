//! `hush-bench`: load the relay with real QUIC clients and report delivered messages per second,
//! one-way latency, and the relay's CPU and memory; optionally against a plain QUIC forwarder as
//! a baseline, and the memory cost of many idle connections. See `README.md`.

mod baseline;
mod child;
mod e2e;
mod idle;
mod load;
mod procfs;
mod relay;
mod scrape;
mod throughput;

use hush_relay::config::StorageBackend;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::child::ChildServer;
use crate::load::Workload;
use crate::relay::{Placement, RelaySettings, RelayUnderTest};
use crate::throughput::Server;

/// Benchmark the Hush relay over real QUIC.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Open many authenticated idle connections to a relay child process and report its memory.
    Idle(IdleArgs),
    /// Run the baseline forwarder and print its address (the bench starts this itself).
    BaselineServer,
    /// Two hush-client profiles exchange messages end to end through the relay (encrypt, relay,
    /// decrypt, store on both sides), against bare relay connections carrying the same envelopes.
    E2e(E2eArgs),
}

/// Throughput and latency (the default mode).
#[derive(Debug, Args)]
struct LoadArgs {
    /// Sender→receiver pairs, one message in flight per pair.
    #[arg(long, default_value_t = 100)]
    pairs: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before the measured window, excluded from the figures.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Bytes of each opaque envelope.
    #[arg(long, default_value_t = 256)]
    envelope_len: usize,
    /// Receivers acknowledge after this many deliveries.
    #[arg(long, default_value_t = 32)]
    ack_every: u64,
    /// Also measure a plain QUIC forwarder (no auth, no storage) under the same load.
    #[arg(long)]
    baseline: bool,
    /// A running relay, `HOST:PORT#FINGERPRINTHEX` (as `hush-relay` prints it).
    #[arg(long, conflicts_with_all = ["spawn_relay", "in_process"])]
    target: Option<String>,
    /// Run this `hush-relay` binary as a child process (default: the one next to `hush-bench`,
    /// if built).
    #[arg(long, conflicts_with = "in_process")]
    spawn_relay: Option<PathBuf>,
    /// Run the relay inside the bench process.
    #[arg(long)]
    in_process: bool,
    /// SQLite durability of a relay the bench starts: `full` (the relay's default) or `normal`.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    synchronous: String,
    /// Store of a relay the bench starts: `sqlite` (the relay's default) or `memory` (nothing
    /// durable; shows what durable storage costs against the same relay).
    #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "memory"])]
    store: String,
    /// SQLite commit delay of a relay the bench starts, microseconds (default: the relay's,
    /// 500); 0 for a batch as soon as the previous one is done. For A/B runs.
    #[arg(long)]
    commit_delay_us: Option<u64>,
}

#[derive(Debug, Args)]
struct IdleArgs {
    /// Authenticated idle connections to open.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Connections sharing one client endpoint (UDP socket).
    #[arg(long, default_value_t = 1000)]
    per_endpoint: usize,
    /// Connections set up at once.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// Seconds to wait after the last login before reading the relay's memory.
    #[arg(long, default_value_t = 3.0)]
    settle: f64,
    /// The `hush-relay` binary (default: the one next to `hush-bench`).
    #[arg(long)]
    spawn_relay: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct E2eArgs {
    /// Messages from one client to the other.
    #[arg(long, default_value_t = 5000)]
    messages: usize,
    /// Sends the sending app keeps outstanding at once.
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// Text bytes per message.
    #[arg(long, default_value_t = 200)]
    text_len: usize,
    /// The `hush-relay` binary to run as a child process (default: the one next to `hush-bench`,
    /// else in process).
    #[arg(long)]
    spawn_relay: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Mode::BaselineServer) = cli.mode {
        return baseline::serve_until_stdin_closes();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.mode {
            Some(Mode::Idle(args)) => idle::run(&idle_run(args)?).await,
            Some(Mode::E2e(args)) => e2e_mode(args).await,
            Some(Mode::BaselineServer) | None => throughput_mode(cli.load).await,
        }
    })
}

fn idle_run(args: IdleArgs) -> anyhow::Result<idle::IdleRun> {
    let relay_binary = match args.spawn_relay {
        Some(path) => path,
        None => Placement::sibling_binary().context(
            "the idle mode runs the relay as a child process: build it (cargo build --release -p \
             hush-relay) or name it with --spawn-relay",
        )?,
    };
    Ok(idle::IdleRun {
        connections: args.connections,
        per_endpoint: args.per_endpoint,
        concurrency: args.concurrency,
        settle: seconds(args.settle, "--settle")?,
        relay_binary,
    })
}

async fn throughput_mode(args: LoadArgs) -> anyhow::Result<()> {
    if args.pairs == 0 || args.ack_every == 0 {
        bail!("--pairs and --ack-every must be at least 1");
    }
    let workload = Workload {
        pairs: args.pairs,
        duration: seconds(args.duration, "--duration")?,
        warmup: seconds(args.warmup, "--warmup")?,
        envelope_len: args.envelope_len,
        ack_every: args.ack_every,
    };
    if workload.duration.is_zero() {
        bail!("--duration must be positive");
    }
    let placement = match (args.target, args.spawn_relay, args.in_process) {
        (Some(target), _, _) => {
            let (addr, fingerprint) = child::parse_target(&target)?;
            Placement::Remote(addr, fingerprint)
        }
        (None, Some(binary), _) => Placement::Child(binary),
        (None, None, true) => Placement::InProcess,
        (None, None, false) => Placement::sibling_binary().map_or(Placement::InProcess, Placement::Child),
    };
    let settings = RelaySettings {
        store: if args.store == "memory" {
            StorageBackend::Memory
        } else {
            StorageBackend::Sqlite
        },
        synchronous: args.synchronous,
        commit_delay_us: args.commit_delay_us,
        max_connections: hush_relay::Limits::default()
            .max_connections
            .max(args.pairs.saturating_mul(2) + 64),
    };

    let relay = RelayUnderTest::start(&placement, &settings).await?;
    let hush = Server {
        name: "hush",
        description: relay.description.clone(),
        addr: relay.addr,
        fingerprint: relay.fingerprint,
        pid: relay.pid(),
        metrics: relay.metrics,
    };
    let hush_outcome = throughput::measure(&hush, &workload).await;
    relay.stop().await;
    let hush_outcome = hush_outcome?;

    if !args.baseline {
        println!(
            "RELAY hush={:.0} p50_ms={:.2} p99_ms={:.2}",
            hush_outcome.rate, hush_outcome.p50_ms, hush_outcome.p99_ms
        );
        return Ok(());
    }
    let exe = std::env::current_exe().context("locating the hush-bench executable")?;
    let mut command = Command::new(&exe);
    command.arg("baseline-server");
    let forwarder = ChildServer::start(command, baseline::ADDRESS_LINE).await?;
    let base = Server {
        name: "baseline",
        description: format!(
            "plain QUIC forwarder, no auth, no storage (child process pid {})",
            forwarder.process_id()
        ),
        addr: forwarder.addr,
        fingerprint: forwarder.fingerprint,
        pid: Some(forwarder.pid()),
        metrics: None,
    };
    let base_outcome = throughput::measure(&base, &workload).await;
    forwarder.stop();
    let base_outcome = base_outcome?;
    println!(
        "RATIO relay hush={:.0} baseline={:.0} ratio={:.2} p50_ms={:.2} p99_ms={:.2}",
        hush_outcome.rate,
        base_outcome.rate,
        hush_outcome.rate / base_outcome.rate.max(f64::MIN_POSITIVE),
        hush_outcome.p50_ms,
        hush_outcome.p99_ms
    );
    Ok(())
}

async fn e2e_mode(args: E2eArgs) -> anyhow::Result<()> {
    let placement = match args.spawn_relay {
        Some(binary) => Placement::Child(binary),
        None => Placement::sibling_binary().map_or(Placement::InProcess, Placement::Child),
    };
    let settings = RelaySettings {
        store: StorageBackend::Sqlite,
        synchronous: "full".into(),
        commit_delay_us: None,
        max_connections: hush_relay::Limits::default().max_connections,
    };
    let relay = RelayUnderTest::start(&placement, &settings).await?;
    println!("relay: {}", relay.description);
    let address = hush_client::RelayAddress {
        host: relay.addr.ip().to_string(),
        port: relay.addr.port(),
        fingerprint: relay.fingerprint,
    };
    let run = e2e::E2eRun {
        messages: args.messages,
        window: args.window,
        text_len: args.text_len,
    };
    let outcome = e2e::measure(&address, &run).await;
    relay.stop().await;
    let outcome = outcome?;
    println!(
        "E2E client={:.0} relay_only={:.0} ratio={:.2} messages={} window={} envelope_bytes={}",
        outcome.client_rate,
        outcome.relay_rate,
        outcome.client_rate / outcome.relay_rate.max(f64::MIN_POSITIVE),
        args.messages,
        args.window,
        outcome.envelope_len
    );
    Ok(())
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a non-negative number of seconds"))
}
