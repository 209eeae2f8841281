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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::advance;

    use super::*;

    /// Takes until refused; how many were allowed (bounded, so a bucket that never refuses
    /// fails the test).
    fn drain(mut take: impl FnMut() -> bool) -> usize {
        (0..10_000).take_while(|_| take()).count()
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_allows_its_burst_then_refills_at_its_rate_up_to_its_capacity() {
        let mut bucket = TokenBucket::new(2.0, 3.0);
        assert_eq!(drain(|| bucket.try_take()), 3);
        // Two tokens a second: one after half a second, not before.
        advance(Duration::from_millis(499)).await;
        assert!(!bucket.try_take());
        advance(Duration::from_millis(1)).await;
        assert!(bucket.try_take());
        assert!(!bucket.try_take());
        // A long idle time refills to the capacity, no further.
        advance(Duration::from_secs(3600)).await;
        assert_eq!(drain(|| bucket.try_take()), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_with_no_rate_allows_its_burst_once() {
        let mut bucket = TokenBucket::new(0.0, 5.0);
        assert_eq!(drain(|| bucket.try_take()), 5);
        advance(Duration::from_secs(3600)).await;
        assert!(!bucket.try_take());
    }

    #[tokio::test(start_paused = true)]
    async fn each_key_has_its_own_bucket_refilled_per_minute() {
        let limiter = KeyedLimiter::per_minute(4);
        assert_eq!(drain(|| limiter.try_take(&"alice")), 4);
        assert_eq!(drain(|| limiter.try_take(&"bob")), 4, "alice's use is not bob's");
        // Four a minute: one every 15 s.
        advance(Duration::from_secs(14)).await;
        assert!(!limiter.try_take(&"alice"));
        advance(Duration::from_secs(1)).await;
        assert!(limiter.try_take(&"alice"));
        assert!(!limiter.try_take(&"alice"));
        advance(Duration::from_secs(60)).await;
        assert_eq!(drain(|| limiter.try_take(&"bob")), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_limiter_forgets_refilled_buckets_and_keeps_used_ones() {
        let limiter = KeyedLimiter::per_minute(2);
        assert_eq!(drain(|| limiter.try_take(&0u32)), 2);
        for key in 1..MAX_TRACKED_KEYS as u32 {
            assert!(limiter.try_take(&key));
        }
        // 30 s: key 0 is back to one token, every other key to full.
        advance(Duration::from_secs(30)).await;
        let tracked = || limiter.buckets.lock().unwrap().len();
        assert_eq!(tracked(), MAX_TRACKED_KEYS);
        assert!(limiter.try_take(&u32::MAX));
        // The full buckets were forgotten (forgetting a full bucket loses nothing); key 0's was
        // not: it has one token, not a fresh two.
        assert_eq!(tracked(), 2);
        assert_eq!(drain(|| limiter.try_take(&0u32)), 1);
    }
}
