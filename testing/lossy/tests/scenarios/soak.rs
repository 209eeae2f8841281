//! Soak: `HUSH_SOAK_MINUTES=N` runs scenario 1's traffic for N minutes while the link's
//! impairment changes at random (seeded) every 10 to 30 s, with partitions and upstream address
//! changes among the changes, against a relay child process; once a minute it prints a
//! `LOSSY soak minute=…` line (messages delivered, reconnects, p99 latency over that minute,
//! relay RSS), and at the end checks every message arrived once and in order. Without the
//! variable it prints why it does nothing and returns.

use std::time::Duration;

use hush_lossy::{Impairment, ProxyHandle};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use tokio::time::Instant;

use crate::traffic::{Conversation, PACE, percentile, reconnects};
use crate::world::{ChildRelay, Pair};

/// Messages each way per round; a round waits for its delivery before the next, so a bad spell
/// of the link cannot build an unbounded backlog.
const ROUND: usize = 200;
/// Bound on one round's delivery (a partition of up to 15 s and reconnects fit easily).
const BOUND: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_changing_impairment() {
    let Some(minutes) = std::env::var("HUSH_SOAK_MINUTES")
        .ok()
        .and_then(|value| value.parse::<u64>().ok())
    else {
        eprintln!("soak: skipped (set HUSH_SOAK_MINUTES=N to run it for N minutes)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let relay = ChildRelay::start("127.0.0.1:0".parse().unwrap(), dir.path()).await;
    let pair = Pair::through_proxy(relay.addr, relay.fingerprint, 23).await;
    pair.handle.set_both(crate::loss::lossy_link());
    let changes = tokio::spawn(change_impairments(pair.handle.clone(), 23));
    let start = Instant::now();
    let end = start + Duration::from_secs(60 * minutes);
    let mut conversation = Conversation::new();
    let mut minute_started = start;
    let mut minute = 0;
    line(&format!(
        "soak start relay_rss_kib={}",
        relay.rss_kib().unwrap_or(0)
    ));
    while Instant::now() < end {
        conversation.send(&pair, ROUND, PACE).await.unwrap();
        conversation.wait_received(&pair, usize::MAX, BOUND).await;
        if minute_started.elapsed() >= Duration::from_secs(60) {
            minute += 1;
            let latencies = conversation.latencies_since(&pair, minute_started);
            line(&format!(
                "soak minute={minute} messages={} reconnects={} p99_ms={} relay_rss_kib={}",
                2 * conversation.planned(),
                reconnects(&pair.alice) + reconnects(&pair.bob),
                percentile(&latencies, 0.99).as_millis(),
                relay.rss_kib().unwrap_or(0)
            ));
            minute_started = Instant::now();
        }
    }
    changes.abort();
    pair.handle.set_partition(false);
    let mut figures = conversation.finish(&pair, "soak", BOUND).await;
    figures.extra = format!("relay_rss_kib={} {}", relay.rss_kib().unwrap_or(0), figures.extra);
    figures.print();
}

fn line(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "LOSSY {text}");
}

/// Every 10 to 30 s: a new random impairment; one change in eight is a partition of 3 to 15 s,
/// one in eight an upstream address change.
async fn change_impairments(handle: ProxyHandle, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    loop {
        tokio::time::sleep(Duration::from_secs(rng.random_range(10..=30))).await;
        match rng.random_range(0..8) {
            0 => {
                let length = Duration::from_secs(rng.random_range(3..=15));
                line(&format!("soak change=partition seconds={}", length.as_secs()));
                handle.set_partition(true);
                tokio::time::sleep(length).await;
                handle.set_partition(false);
            }
            1 => {
                line("soak change=rebind");
                let _ = handle.rebind_upstream().await;
            }
            _ => {
                let impairment = Impairment {
                    loss: rng.random_range(0.0..0.15),
                    delay: Duration::from_millis(rng.random_range(0..300)),
                    jitter: Duration::from_millis(rng.random_range(0..60)),
                    reorder: rng.random_range(0.0..0.02),
                    duplicate: rng.random_range(0.0..0.01),
                    rate: None,
                };
                line(&format!(
                    "soak change=impairment loss={:.3} delay_ms={} jitter_ms={} reorder={:.3} duplicate={:.3}",
                    impairment.loss,
                    impairment.delay.as_millis(),
                    impairment.jitter.as_millis(),
                    impairment.reorder,
                    impairment.duplicate
                ));
                handle.set_both(impairment);
            }
        }
    }
}
