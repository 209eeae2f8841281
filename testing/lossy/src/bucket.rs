//! A token-bucket rate limit with a bounded queue: the bottleneck of an impaired link.

use std::time::Duration;

/// A rate limit: `bytes_per_second` on average, bursts of up to `burst_bytes` at once, and a
/// queue that holds at most `max_queue` of waiting before it drops (tail drop, as a router does).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Long-run throughput, bytes per second (must be above zero to let anything through).
    pub bytes_per_second: u64,
    /// Bytes that may leave at once after a quiet spell.
    pub burst_bytes: u64,
    /// Longest a datagram may wait for tokens; one that would wait longer is dropped.
    pub max_queue: Duration,
}

impl Rate {
    /// `kbit_per_second` with a 16 KiB burst and a 1-second queue.
    pub fn kbit(kbit_per_second: u64) -> Self {
        Self {
            bytes_per_second: kbit_per_second.saturating_mul(1000) / 8,
            burst_bytes: 16 * 1024,
            max_queue: Duration::from_secs(1),
        }
    }
}

/// The bucket's state; times are offsets from the proxy's start.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    /// Tokens (bytes) at `at`.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Duration,
    /// When the last admitted datagram leaves: the queue is first in, first out.
    tail: Duration,
}

impl TokenBucket {
    /// A full bucket at time zero.
    pub(crate) fn new(rate: &Rate) -> Self {
        Self {
            tokens: rate.burst_bytes as f64,
            at: Duration::ZERO,
            tail: Duration::ZERO,
        }
    }

    /// When a datagram of `len` bytes arriving at `now` leaves the bottleneck, or `None` if the
    /// queue is full (it would wait longer than `rate.max_queue`).
    pub(crate) fn admit(&mut self, rate: &Rate, now: Duration, len: usize) -> Option<Duration> {
        if rate.bytes_per_second == 0 {
            return None;
        }
        let per_second = rate.bytes_per_second as f64;
        let start = now.max(self.tail);
        let refilled = (self.tokens + start.saturating_sub(self.at).as_secs_f64() * per_second)
            .min(rate.burst_bytes as f64);
        let missing = len as f64 - refilled;
        let departs = if missing <= 0.0 {
            start
        } else {
            start + Duration::from_secs_f64(missing / per_second)
        };
        if departs.saturating_sub(now) > rate.max_queue {
            return None;
        }
        // Waiting for the missing tokens spends exactly them: the bucket is empty on departure.
        self.tokens = refilled.max(len as f64) - len as f64;
        self.at = departs;
        self.tail = departs;
        Some(departs)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    const RATE: Rate = Rate {
        bytes_per_second: 32_000,
        burst_bytes: 4_000,
        max_queue: Duration::from_secs(1),
    };

    /// Offered at twice the rate for ten seconds, the bytes that left by any time never exceed
    /// the rate times that time plus the burst, and the queue drops the excess.
    #[test]
    fn rate_limit_holds_under_twice_the_offered_load() {
        let mut bucket = TokenBucket::new(&RATE);
        let len = 1_000;
        // 64 datagrams a second of 1,000 bytes: 64,000 B/s offered against 32,000.
        let gap = Duration::from_micros(1_000_000 / 64);
        let mut departures = Vec::new();
        let mut dropped = 0;
        for i in 0..640u32 {
            match bucket.admit(&RATE, gap * i, len) {
                Some(at) => departures.push(at),
                None => dropped += 1,
            }
        }
        assert!(
            departures.windows(2).all(|pair| pair[0] <= pair[1]),
            "first in, first out"
        );
        for (count, at) in departures.iter().enumerate() {
            let sent = (count + 1) * len;
            let allowed = at.as_secs_f64() * RATE.bytes_per_second as f64 + RATE.burst_bytes as f64;
            assert!(
                sent as f64 <= allowed + 1.0,
                "{sent} bytes by {at:?}, allowed {allowed}"
            );
        }
        // About half is dropped: ten seconds at the rate plus the burst and a full queue pass.
        let passed = departures.len() * len;
        let most = 11.0 * RATE.bytes_per_second as f64 + RATE.burst_bytes as f64;
        assert!((passed as f64) <= most, "{passed} bytes passed");
        assert!(
            passed as f64 >= 9.0 * RATE.bytes_per_second as f64,
            "{passed} bytes passed"
        );
        assert!(dropped > 200, "{dropped} dropped");
        // No datagram waited longer than the queue allows.
        for (i, at) in departures.iter().enumerate() {
            assert!(
                at.as_secs_f64() <= 10.0 + RATE.max_queue.as_secs_f64(),
                "{i}: {at:?}"
            );
        }
    }

    #[test]
    fn a_quiet_link_lets_a_burst_through_at_once() {
        let mut bucket = TokenBucket::new(&RATE);
        let now = Duration::from_secs(5);
        for _ in 0..4 {
            assert_eq!(bucket.admit(&RATE, now, 1_000), Some(now));
        }
        // The fifth waits for its 1,000 tokens: 1/32 s.
        let fifth = bucket.admit(&RATE, now, 1_000).unwrap();
        assert!((fifth - now).as_secs_f64() > 0.03 && (fifth - now).as_secs_f64() < 0.032);
    }

    #[test]
    fn zero_rate_lets_nothing_through() {
        let rate = Rate {
            bytes_per_second: 0,
            ..RATE
        };
        let mut bucket = TokenBucket::new(&rate);
        assert_eq!(bucket.admit(&rate, Duration::ZERO, 1), None);
    }
}
