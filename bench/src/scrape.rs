//! The relay's own view of a run: its metrics endpoint read at both edges of the measured
//! window, for the SQLite store's group commit (how many batches, how large, how long each
//! journal write and fsync took). Shows whether the disk sets the relay's pace.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The store's cumulative group-commit counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreFigures {
    /// Batches made durable.
    pub batches: u64,
    /// Write operations in them.
    pub writes: u64,
    /// Journal syncs timed, and their total seconds.
    pub syncs: u64,
    pub sync_seconds: f64,
    /// `(upper bound in seconds, syncs at or under it)`, cumulative, in the relay's order; the
    /// `+Inf` bucket is `syncs`.
    pub sync_buckets: Vec<(f64, u64)>,
}

/// Reads the metrics endpoint; `None` if the relay serves no store figures (memory store).
pub async fn store_figures(metrics: SocketAddr) -> anyhow::Result<Option<StoreFigures>> {
    let mut socket = tokio::net::TcpStream::connect(metrics)
        .await
        .with_context(|| format!("connecting to the relay's metrics at {metrics}"))?;
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
        .await?;
    let mut text = String::new();
    socket.read_to_string(&mut text).await?;
    Ok(parse(&text))
}

/// The store figures in a Prometheus text exposition, if it has them.
pub fn parse(text: &str) -> Option<StoreFigures> {
    let mut figures = StoreFigures::default();
    let mut found = false;
    for line in text.lines() {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let number = || value.parse::<f64>().ok();
        match name {
            "hush_store_batches_total" => {
                figures.batches = value.parse().ok()?;
                found = true;
            }
            "hush_store_batched_writes_total" => figures.writes = value.parse().ok()?,
            "hush_store_sync_seconds_count" => figures.syncs = value.parse().ok()?,
            "hush_store_sync_seconds_sum" => figures.sync_seconds = number()?,
            _ => {
                if let Some(bound) = name
                    .strip_prefix("hush_store_sync_seconds_bucket{le=\"")
                    .and_then(|rest| rest.strip_suffix("\"}"))
                    && let Ok(bound) = bound.parse::<f64>()
                    && bound.is_finite()
                {
                    figures.sync_buckets.push((bound, value.parse().ok()?));
                }
            }
        }
    }
    found.then_some(figures)
}

/// One report line on what happened between `start` and `end`, `seconds` apart.
pub fn describe(start: &StoreFigures, end: &StoreFigures, seconds: f64) -> String {
    let batches = end.batches.saturating_sub(start.batches);
    let writes = end.writes.saturating_sub(start.writes);
    let syncs = end.syncs.saturating_sub(start.syncs);
    if batches == 0 || syncs == 0 || seconds <= 0.0 {
        return "relay store: no journal writes in the window".to_owned();
    }
    let sync_seconds = (end.sync_seconds - start.sync_seconds).max(0.0);
    let under = |bound: f64| -> f64 {
        let count = |figures: &StoreFigures| {
            figures
                .sync_buckets
                .iter()
                .find(|(le, _)| (*le - bound).abs() < 1e-12)
                .map_or(0, |(_, count)| *count)
        };
        100.0 * count(end).saturating_sub(count(start)) as f64 / syncs as f64
    };
    format!(
        "relay store: {:.0} batches/s, {:.1} writes per batch, journal write+sync mean {:.3} ms \
         ({:.0} % <= 0.5 ms, {:.0} % <= 2 ms), writer syncing {:.0} % of the window",
        batches as f64 / seconds,
        writes as f64 / batches as f64,
        1000.0 * sync_seconds / syncs as f64,
        under(0.0005),
        under(0.002),
        100.0 * sync_seconds / seconds
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP hush_store_batches_total x\n# TYPE hush_store_batches_total counter\n\
        hush_store_batches_total 100\nhush_store_batched_writes_total 900\n\
        hush_store_sync_seconds_bucket{le=\"0.0005\"} 80\nhush_store_sync_seconds_bucket{le=\"0.002\"} 95\n\
        hush_store_sync_seconds_bucket{le=\"+Inf\"} 100\nhush_store_sync_seconds_sum 0.05\n\
        hush_store_sync_seconds_count 100\nhush_delivery_latency_seconds_count 7\n";

    #[test]
    fn store_figures_parse_and_a_store_without_them_gives_none() {
        let figures = parse(TEXT).unwrap();
        assert_eq!(figures.batches, 100);
        assert_eq!(figures.writes, 900);
        assert_eq!(figures.syncs, 100);
        assert!((figures.sync_seconds - 0.05).abs() < 1e-12);
        assert_eq!(figures.sync_buckets, vec![(0.0005, 80), (0.002, 95)]);
        assert_eq!(parse("hush_delivery_latency_seconds_count 7\n"), None);
    }

    #[test]
    fn the_report_covers_only_the_window() {
        let start = parse(TEXT).unwrap();
        let end = StoreFigures {
            batches: 300,
            writes: 2_900,
            syncs: 300,
            sync_seconds: 0.25,
            sync_buckets: vec![(0.0005, 230), (0.002, 290)],
        };
        // 200 batches of 2,000 writes in 2 s; 0.2 s syncing; 150 of 200 under 0.5 ms.
        assert_eq!(
            describe(&start, &end, 2.0),
            "relay store: 100 batches/s, 10.0 writes per batch, journal write+sync mean 1.000 ms \
             (75 % <= 0.5 ms, 98 % <= 2 ms), writer syncing 10 % of the window"
        );
        assert_eq!(
            describe(&start, &start, 2.0),
            "relay store: no journal writes in the window"
        );
    }
}
