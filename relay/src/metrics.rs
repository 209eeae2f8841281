//! Prometheus metrics, served as text on a plain HTTP endpoint. Counters are atomics updated on
//! the hot path; nothing here ever sees a payload or a mailbox id.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the delivery-latency histogram buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The relay's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) connections_active: AtomicU64,
    pub(crate) connections_total: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) connections_refused_unauthenticated: AtomicU64,
    pub(crate) connections_refused_per_address: AtomicU64,
    pub(crate) connections_retried: AtomicU64,
    pub(crate) login_timeouts: AtomicU64,
    pub(crate) pre_login_frames_refused: AtomicU64,
    pub(crate) messages_stored: AtomicU64,
    pub(crate) messages_delivered: AtomicU64,
    pub(crate) messages_acked: AtomicU64,
    pub(crate) messages_expired: AtomicU64,
    pub(crate) requests_rejected: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) stranger_fetches_refused: AtomicU64,
    pub(crate) stranger_sends_refused: AtomicU64,
    pub(crate) access_denied: AtomicU64,
    pub(crate) reports: AtomicU64,
    pub(crate) device_lists_stored: AtomicU64,
    pub(crate) device_lists_stale: AtomicU64,
    pub(crate) device_lists_served: AtomicU64,
    delivery_latency: Histogram,
}

/// One counter in the text exposition.
fn render_counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
        value.load(Ordering::Relaxed)
    );
}

/// A latency histogram in Prometheus' cumulative form, over [`LATENCY_BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, latency: Duration) {
        let seconds = latency.as_secs_f64();
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Observations so far.
    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count();
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}"
        );
    }
}

/// What a store with group commit reports of its durable writes (the SQLite store does; a
/// store without such a writer reports nothing). Tells an operator whether the disk's sync time
/// is what bounds the relay.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Batches made durable.
    pub(crate) batches: AtomicU64,
    /// Write operations in those batches: divided by `batches`, the mean group-commit size.
    pub(crate) writes: AtomicU64,
    /// Time to write and sync each batch's part of the message journal.
    pub(crate) sync: Histogram,
}

impl StoreStats {
    /// Batches made durable so far.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String) {
        let counters = [
            (
                "hush_store_batches_total",
                "Store write batches made durable (group commits).",
                &self.batches,
            ),
            (
                "hush_store_batched_writes_total",
                "Store write operations in those batches; divided by the batches, the mean group-commit size.",
                &self.writes,
            ),
        ];
        for (name, help, value) in counters {
            render_counter(out, name, help, value);
        }
        self.sync.render(
            out,
            "hush_store_sync_seconds",
            "Time to write and fsync one batch of enqueues and acks to the message journal.",
        );
    }
}

/// Gauges read at render time from outside the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Logged-in connections.
    pub online: usize,
    /// Connections not yet logged in, handshakes included.
    pub unauthenticated: usize,
}

impl Metrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records one store-to-push delivery latency.
    pub(crate) fn observe_delivery(&self, latency: Duration) {
        self.delivery_latency.observe(latency);
    }

    /// The Prometheus text exposition of every metric; `queue_depth` and `store` are read from
    /// the store by the caller, `gauges` from the hub and the admission pools.
    pub fn render(&self, queue_depth: Option<u64>, gauges: Gauges, store: Option<&StoreStats>) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 20] = [
            (
                "hush_connections_total",
                "Connections accepted.",
                &self.connections_total,
            ),
            (
                "hush_connections_refused_total",
                "Connections refused because every logged-in slot was taken.",
                &self.connections_refused,
            ),
            (
                "hush_connections_refused_unauthenticated_total",
                "Connections refused because every slot for connections not yet logged in was taken.",
                &self.connections_refused_unauthenticated,
            ),
            (
                "hush_connections_refused_per_address_total",
                "Connections refused because their source address held its share.",
                &self.connections_refused_per_address,
            ),
            (
                "hush_connections_retried_total",
                "Connection attempts answered with a QUIC Retry (address validation under load).",
                &self.connections_retried,
            ),
            (
                "hush_login_timeouts_total",
                "Connections closed for not logging in before the login deadline.",
                &self.login_timeouts,
            ),
            (
                "hush_pre_login_frames_refused_total",
                "Connections closed for announcing a frame larger than a login before logging in.",
                &self.pre_login_frames_refused,
            ),
            (
                "hush_messages_stored_total",
                "Envelopes made durable.",
                &self.messages_stored,
            ),
            (
                "hush_messages_delivered_total",
                "Envelopes pushed to recipients.",
                &self.messages_delivered,
            ),
            (
                "hush_messages_acked_total",
                "Envelopes deleted by acknowledgement.",
                &self.messages_acked,
            ),
            (
                "hush_messages_expired_total",
                "Envelopes deleted by TTL.",
                &self.messages_expired,
            ),
            (
                "hush_requests_rejected_total",
                "Requests answered with an error.",
                &self.requests_rejected,
            ),
            (
                "hush_protocol_errors_total",
                "Connections closed for protocol errors.",
                &self.protocol_errors,
            ),
            (
                "hush_stranger_fetches_refused_total",
                "Bundle fetches without an access key refused by the target's stranger budget.",
                &self.stranger_fetches_refused,
            ),
            (
                "hush_stranger_sends_refused_total",
                "Sends without an access key refused by the recipient's stranger budget.",
                &self.stranger_sends_refused,
            ),
            (
                "hush_access_denied_total",
                "Requests refused for an access key that does not match the target's.",
                &self.access_denied,
            ),
            ("hush_reports_total", "Abuse reports received.", &self.reports),
            (
                "hush_device_lists_stored_total",
                "Device lists stored (a newer list, or a device's membership for the stored one).",
                &self.device_lists_stored,
            ),
            (
                "hush_device_lists_stale_total",
                "Device lists refused because a list with a counter at least as high is stored.",
                &self.device_lists_stale,
            ),
            (
                "hush_device_lists_served_total",
                "Device lists served to fetches.",
                &self.device_lists_served,
            ),
        ];
        for (name, help, value) in counters {
            render_counter(&mut out, name, help, value);
        }
        let active = self.connections_active.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP hush_connections_active Open connections.\n# TYPE hush_connections_active gauge\nhush_connections_active {active}"
        );
        let Gauges {
            online,
            unauthenticated,
        } = gauges;
        let _ = writeln!(
            out,
            "# HELP hush_mailboxes_online Logged-in connections.\n# TYPE hush_mailboxes_online gauge\nhush_mailboxes_online {online}"
        );
        let _ = writeln!(
            out,
            "# HELP hush_connections_unauthenticated Connections not yet logged in, handshakes included.\n# TYPE hush_connections_unauthenticated gauge\nhush_connections_unauthenticated {unauthenticated}"
        );
        if let Some(depth) = queue_depth {
            let _ = writeln!(
                out,
                "# HELP hush_queue_depth Envelopes waiting for delivery or acknowledgement.\n# TYPE hush_queue_depth gauge\nhush_queue_depth {depth}"
            );
        }
        self.delivery_latency.render(
            &mut out,
            "hush_delivery_latency_seconds",
            "Store-to-push latency of live deliveries.",
        );
        if let Some(store) = store {
            store.render(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_count_every_observation() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(300));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(60));
        let mut out = String::new();
        histogram.render(&mut out, "h", "help");
        assert!(out.starts_with("# HELP h help\n# TYPE h histogram\n"));
        assert!(out.contains("h_bucket{le=\"0.0005\"} 1\n"));
        assert!(out.contains("h_bucket{le=\"0.002\"} 1\n"));
        assert!(out.contains("h_bucket{le=\"0.005\"} 2\n"));
        assert!(out.contains("h_bucket{le=\"5\"} 2\n"));
        assert!(out.contains("h_bucket{le=\"+Inf\"} 3\nh_sum 60.0033\nh_count 3\n"));
    }

    #[test]
    fn store_figures_are_served_only_when_the_store_has_them() {
        let metrics = Metrics::default();
        assert!(
            !metrics
                .render(None, Gauges::default(), None)
                .contains("hush_store_")
        );
        let stats = StoreStats::default();
        Metrics::add(&stats.batches, 2);
        Metrics::add(&stats.writes, 7);
        stats.sync.observe(Duration::from_micros(150));
        let text = metrics.render(None, Gauges::default(), Some(&stats));
        assert!(text.contains("\nhush_store_batches_total 2\n"));
        assert!(text.contains("\nhush_store_batched_writes_total 7\n"));
        assert!(text.contains("\nhush_store_sync_seconds_count 1\n"));
    }
}
