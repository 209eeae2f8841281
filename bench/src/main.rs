//! `hush-bench`: load the relay with real QUIC clients and report delivered messages per second,
//! one-way latency, and the relay's CPU and memory; optionally against a plain QUIC forwarder as
//! a baseline, and the memory cost of many idle connections. See `README.md`.

mod baseline;
mod child;
mod e2e;
mod e2e_devices;
mod group;
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
use crate::throughput::{Outcome, Server};

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
    /// One sender's group message to N member devices: the client's group crypto and one
    /// `SendShared`, against N sealed envelopes and N separate `Send`s in the same run.
    Group(GroupArgs),
}

#[derive(Debug, Args)]
struct GroupArgs {
    /// Member connections (mailboxes).
    #[arg(long, default_value_t = 1000)]
    members: usize,
    /// Measured messages of each kind.
    #[arg(long, default_value_t = 20)]
    messages: usize,
    /// Messages of each kind sent first and not measured.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Bytes of each message's plaintext (with `--filler`: of the shared body).
    #[arg(long, default_value_t = 256)]
    message_len: usize,
    /// Opaque filler instead of the client's group crypto (the relay alone).
    #[arg(long)]
    filler: bool,
    /// With `--filler`: bytes of each member's part (a shared seal's is 49).
    #[arg(long, default_value_t = 49)]
    part_len: usize,
    /// Every this many members open and decrypt every message with their keys (after it is
    /// timed; 1: all of them).
    #[arg(long, default_value_t = 10)]
    open_every: usize,
    /// Send without the members' access keys (as strangers; the bench relay lifts the budgets).
    #[arg(long)]
    no_access_keys: bool,
    /// The `hush-relay` binary to run as a child process (default: the one next to `hush-bench`,
    /// else in process).
    #[arg(long)]
    spawn_relay: Option<PathBuf>,
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
    /// With `--baseline`: measure relay and baseline this many times each, alternating which
    /// goes first, and report medians (a noisy machine drifts between two long windows).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
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
    /// Devices of the receiving account (above 1: the sending account has 2 devices, and every
    /// message goes to each receiving device and, as a synced copy, to the sender's other one).
    #[arg(long, default_value_t = 1)]
    devices: usize,
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
            Some(Mode::Group(args)) => group::run(&group_run(args)).await,
            Some(Mode::BaselineServer) | None => throughput_mode(cli.load).await,
        }
    })
}

fn group_run(args: GroupArgs) -> group::GroupRun {
    group::GroupRun {
        members: args.members,
        messages: args.messages,
        warmup: args.warmup,
        message_len: args.message_len,
        part_len: args.part_len,
        filler: args.filler,
        open_every: args.open_every,
        access_keys: !args.no_access_keys,
        placement: match args.spawn_relay {
            Some(binary) => Placement::Child(binary),
            None => Placement::sibling_binary().map_or(Placement::InProcess, Placement::Child),
        },
    }
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

/// Starts the relay, measures it and stops it.
async fn measure_relay(
    placement: &Placement,
    settings: &RelaySettings,
    workload: &Workload,
) -> anyhow::Result<Outcome> {
    let relay = RelayUnderTest::start(placement, settings).await?;
    let hush = Server {
        name: "hush",
        description: relay.description.clone(),
        addr: relay.addr,
        fingerprint: relay.fingerprint,
        pid: relay.pid(),
        metrics: relay.metrics,
    };
    let outcome = throughput::measure(&hush, workload).await;
    relay.stop().await;
    outcome
}

/// Starts the plain forwarder as a child process, measures it and stops it.
async fn measure_baseline(workload: &Workload) -> anyhow::Result<Outcome> {
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
    let outcome = throughput::measure(&base, workload).await;
    forwarder.stop();
    outcome
}

/// The median (the mean of the middle two for an even count); 0 for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    let upper = values.get(middle).copied().unwrap_or(0.0);
    if values.len() % 2 == 1 {
        return upper;
    }
    let lower = middle
        .checked_sub(1)
        .and_then(|i| values.get(i))
        .copied()
        .unwrap_or(0.0);
    (lower + upper) / 2.0
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

    if !args.baseline {
        let hush = measure_relay(&placement, &settings, &workload).await?;
        println!(
            "RELAY hush={:.0} p50_ms={:.2} p99_ms={:.2}",
            hush.rate, hush.p50_ms, hush.p99_ms
        );
        return Ok(());
    }
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let mut rounds = Vec::with_capacity(args.rounds);
    for round in 0..args.rounds {
        // Alternate the order, so a machine that drifts faster or slower favours neither.
        let (hush, base) = if round % 2 == 0 {
            let hush = measure_relay(&placement, &settings, &workload).await?;
            (hush, measure_baseline(&workload).await?)
        } else {
            let base = measure_baseline(&workload).await?;
            (measure_relay(&placement, &settings, &workload).await?, base)
        };
        let ratio = hush.rate / base.rate.max(f64::MIN_POSITIVE);
        if args.rounds > 1 {
            println!(
                "ROUND {} hush={:.0} baseline={:.0} ratio={ratio:.2} p50_ms={:.2} p99_ms={:.2}",
                round + 1,
                hush.rate,
                base.rate,
                hush.p50_ms,
                hush.p99_ms
            );
        }
        rounds.push((hush, base, ratio));
    }
    let median_of =
        |value: &dyn Fn(&(Outcome, Outcome, f64)) -> f64| median(rounds.iter().map(value).collect());
    let ratios: Vec<f64> = rounds.iter().map(|round| round.2).collect();
    if args.rounds > 1 {
        println!(
            "ROUNDS n={} ratio min={:.2} median={:.2} max={:.2} (the RATIO line holds medians)",
            args.rounds,
            ratios.iter().copied().fold(f64::INFINITY, f64::min),
            median(ratios.clone()),
            ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
    }
    println!(
        "RATIO relay hush={:.0} baseline={:.0} ratio={:.2} p50_ms={:.2} p99_ms={:.2}",
        median_of(&|round| round.0.rate),
        median_of(&|round| round.1.rate),
        median(ratios),
        median_of(&|round| round.0.p50_ms),
        median_of(&|round| round.0.p99_ms)
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
    let outcome = if args.devices > 1 {
        e2e_devices::measure(&address, &run, args.devices).await
    } else {
        e2e::measure(&address, &run).await
    };
    relay.stop().await;
    let outcome = outcome?;
    println!(
        "E2E client={:.0} relay_only={:.0} ratio={:.2} devices={} messages={} window={} envelope_bytes={} copies={}",
        outcome.client_rate,
        outcome.relay_rate,
        outcome.client_rate / outcome.relay_rate.max(f64::MIN_POSITIVE),
        args.devices,
        args.messages,
        args.window,
        outcome.envelope_len,
        outcome.copies
    );
    Ok(())
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a non-negative number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_no_values() {
        assert_eq!(median(vec![0.9, 0.5, 0.7]), 0.7);
        assert_eq!(median(vec![0.8, 0.5, 0.6, 0.9]), 0.7);
        assert_eq!(median(vec![0.4]), 0.4);
        assert_eq!(median(Vec::new()), 0.0);
    }
}
