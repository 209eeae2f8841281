//! The throughput mode: the pairs workload against one server, with the server's CPU and
//! memory read over the measured window, printed as one result block.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::time::Instant;

use crate::load::{Measured, Pairs, Window, Workload};
use crate::procfs::{self, CpuSample, Pid};
use crate::scrape;

/// A server under load: where it is and which process it is.
#[derive(Debug, Clone)]
pub struct Server {
    /// Name in the report (`hush`, `baseline`).
    pub name: &'static str,
    /// One line on where and how it runs.
    pub description: String,
    /// Where clients connect.
    pub addr: SocketAddr,
    /// The certificate fingerprint clients pin.
    pub fingerprint: [u8; 32],
    /// Its process, if on this machine.
    pub pid: Option<Pid>,
    /// Its metrics endpoint, if it has one the bench can read.
    pub metrics: Option<SocketAddr>,
}

/// One server's figures.
#[derive(Debug)]
pub struct Outcome {
    /// Messages delivered per second in the window.
    pub rate: f64,
    /// Median one-way latency, ms.
    pub p50_ms: f64,
    /// 99th percentile one-way latency, ms.
    pub p99_ms: f64,
}

/// Runs `workload` against `server` and prints a result block.
pub async fn measure(server: &Server, workload: &Workload) -> anyhow::Result<Outcome> {
    let ticks = procfs::ticks_per_second();
    let pairs = Pairs::connect(server.addr, server.fingerprint, workload.pairs)
        .await
        .with_context(|| format!("setting up {} pairs against {}", workload.pairs, server.name))?;
    let now = Instant::now();
    let window = Window {
        start: now + workload.warmup,
        end: now + workload.warmup + workload.duration,
    };
    let running = tokio::spawn(pairs.run(workload.clone(), window));

    // Not a test: the bench samples CPU time at the window's edges.
    tokio::time::sleep_until(window.start).await;
    let server_start = server.pid.map(CpuSample::take).transpose()?;
    let threads_start = server.pid.map(procfs::thread_ticks).transpose()?;
    let bench_start = CpuSample::take(Pid::Current)?;
    let store_start = store_figures(server.metrics).await;
    tokio::time::sleep_until(window.end).await;
    let server_end = server.pid.map(CpuSample::take).transpose()?;
    let threads_end = server.pid.map(procfs::thread_ticks).transpose()?;
    let bench_end = CpuSample::take(Pid::Current)?;
    let store_end = store_figures(server.metrics).await;
    let server_rss_kib = server.pid.map(procfs::rss_kib).transpose()?;

    let measured = running.await.context("the load task failed")??;
    let seconds = workload.duration.as_secs_f64();
    let outcome = Outcome {
        rate: measured.delivered as f64 / seconds,
        p50_ms: measured.latency_ms(0.50),
        p99_ms: measured.latency_ms(0.99),
    };
    print_block(server, workload, &measured, &outcome);
    match (server_start, server_end, server_rss_kib) {
        (Some(start), Some(end), Some(rss)) => println!(
            "  server process: CPU {:.0} % of one core, RSS {:.1} MiB{}",
            end.percent_since(&start, ticks),
            rss as f64 / 1024.0,
            if server.pid == Some(Pid::Current) {
                " (in-process: includes the bench's clients)"
            } else {
                ""
            }
        ),
        _ => println!("  server process: not on this machine, not measured"),
    }
    if let (Some(start), Some(end)) = (threads_start, threads_end) {
        let seconds = workload.duration.as_secs_f64() * ticks as f64;
        let breakdown: Vec<String> = end
            .iter()
            .map(|(name, group)| {
                let before = start.get(name).map_or(0, |group| group.ticks);
                let percent = 100.0 * group.ticks.saturating_sub(before) as f64 / seconds;
                format!("{name} x{} {percent:.0} %", group.threads)
            })
            .collect();
        println!("  server threads by name: {}", breakdown.join(", "));
    }
    println!(
        "  bench process (clients): CPU {:.0} % of one core",
        bench_end.percent_since(&bench_start, ticks)
    );
    if let (Some(start), Some(end)) = (store_start, store_end) {
        println!("  {}", scrape::describe(&start, &end, seconds));
    }
    Ok(outcome)
}

/// The store's figures, if the server has a metrics endpoint that serves them. A failed read
/// only leaves the report line out.
async fn store_figures(metrics: Option<SocketAddr>) -> Option<scrape::StoreFigures> {
    match scrape::store_figures(metrics?).await {
        Ok(figures) => figures,
        Err(error) => {
            eprintln!("reading the relay's metrics failed: {error:#}");
            None
        }
    }
}

fn print_block(server: &Server, workload: &Workload, measured: &Measured, outcome: &Outcome) {
    println!("== {}: {}", server.name, server.description);
    println!(
        "  {} pairs, one message in flight each, {} B envelopes, ack every {}; \
         window {:.1} s after {:.1} s warm-up",
        workload.pairs,
        workload.envelope_len,
        workload.ack_every,
        workload.duration.as_secs_f64(),
        workload.warmup.as_secs_f64()
    );
    println!(
        "  delivered {} messages: {:.0} msg/s",
        measured.delivered, outcome.rate
    );
    println!(
        "  one-way latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        outcome.p50_ms,
        measured.latency_ms(0.90),
        outcome.p99_ms,
        measured.latency_ms(1.0)
    );
}
