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
    pub(crate) messages_stored: AtomicU64,
    pub(crate) messages_delivered: AtomicU64,
    pub(crate) messages_acked: AtomicU64,
    pub(crate) messages_expired: AtomicU64,
    pub(crate) requests_rejected: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records one store-to-push delivery latency.
    pub(crate) fn observe_delivery(&self, latency: Duration) {
        let seconds = latency.as_secs_f64();
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every metric; `queue_depth` is read from the store by
    /// the caller.
    pub fn render(&self, queue_depth: Option<u64>, online: usize) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 8] = [
            (
                "hush_connections_total",
                "Connections accepted.",
                &self.connections_total,
            ),
            (
                "hush_connections_refused_total",
                "Connections refused at the limit.",
                &self.connections_refused,
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
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let active = self.connections_active.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP hush_connections_active Open connections.\n# TYPE hush_connections_active gauge\nhush_connections_active {active}"
        );
        let _ = writeln!(
            out,
            "# HELP hush_mailboxes_online Logged-in connections.\n# TYPE hush_mailboxes_online gauge\nhush_mailboxes_online {online}"
        );
        if let Some(depth) = queue_depth {
            let _ = writeln!(
                out,
                "# HELP hush_queue_depth Envelopes waiting for delivery or acknowledgement.\n# TYPE hush_queue_depth gauge\nhush_queue_depth {depth}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP hush_delivery_latency_seconds Store-to-push latency of live deliveries.\n# TYPE hush_delivery_latency_seconds histogram"
        );
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(
                out,
                "hush_delivery_latency_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "hush_delivery_latency_seconds_bucket{{le=\"+Inf\"}} {count}\nhush_delivery_latency_seconds_sum {sum}\nhush_delivery_latency_seconds_count {count}"
        );
        out
    }
}
