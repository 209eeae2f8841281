//! Token buckets for request rates.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use tokio::time::Instant;

/// A token bucket: `rate` tokens per second up to `capacity`.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(rate_per_second: f64, capacity: f64) -> Self {
        Self {
            capacity,
            rate: rate_per_second,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn try_take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Most keys a [`KeyedLimiter`] tracks; when full, buckets that have refilled are forgotten
/// (a forgotten bucket is a full one, so this loses nothing), so memory stays bounded.
const MAX_TRACKED_KEYS: usize = 100_000;

/// One token bucket per key (per requester, per target).
#[derive(Debug)]
pub(crate) struct KeyedLimiter<K> {
    per_minute: u32,
    buckets: Mutex<HashMap<K, TokenBucket>>,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    pub(crate) fn per_minute(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn try_take(&self, key: &K) -> bool {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED_KEYS && !buckets.contains_key(key) {
            let capacity = f64::from(self.per_minute);
            buckets.retain(|_, bucket| {
                let mut probe = bucket.clone();
                probe.try_take();
                probe.tokens + 1.0 < capacity
            });
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let capacity = f64::from(self.per_minute);
        buckets
            .entry(key.clone())
            .or_insert_with(|| TokenBucket::new(rate, capacity))
            .try_take()
    }
}
