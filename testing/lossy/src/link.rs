//! One direction of one flow: what happens to each datagram, decided from a seeded random
//! stream and the time it arrived. No I/O and no clock, so a seed replays exactly.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};

use crate::bucket::{Rate, TokenBucket};

/// What a link does to the datagrams crossing it in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Impairment {
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Base one-way delay.
    pub delay: Duration,
    /// Each datagram's delay is `delay` plus a uniform offset in `-jitter..=jitter`. Jitter alone
    /// keeps the order (a datagram never leaves before the one ahead of it, as on one path).
    pub jitter: Duration,
    /// Probability that a datagram skips the delay queue: it leaves at once, ahead of the ones
    /// still delayed (netem's `reorder`).
    pub reorder: f64,
    /// Probability that a datagram is sent twice.
    pub duplicate: f64,
    /// A bottleneck in front of the delay, if any.
    pub rate: Option<Rate>,
}

impl Impairment {
    /// A perfect link.
    pub fn none() -> Self {
        Self::default()
    }
}

/// The fate of one datagram: the times (offsets from the proxy's start) at which its copies
/// leave, none if it is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fate {
    /// Departure times of the copies sent, in order.
    pub departures: Vec<Duration>,
}

/// The random draws for one datagram: always all of them, whatever the impairment, so a seed
/// gives the same stream of decisions however the settings change during a run.
struct Draws {
    loss: f64,
    jitter: f64,
    reorder: f64,
    duplicate: f64,
}

/// One direction of one flow.
#[derive(Debug)]
pub struct Link {
    rng: StdRng,
    bucket: Option<TokenBucket>,
    /// When the latest in-order datagram leaves: jitter never makes one overtake it.
    last_departure: Duration,
}

impl Link {
    /// A link whose decisions come from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            bucket: None,
            last_departure: Duration::ZERO,
        }
    }

    /// Decides what happens to a datagram of `len` bytes that arrived at `now`.
    /// `partitioned` drops it whatever else is set.
    pub fn decide(&mut self, impairment: &Impairment, partitioned: bool, now: Duration, len: usize) -> Fate {
        let draws = Draws {
            loss: self.rng.random(),
            jitter: self.rng.random(),
            reorder: self.rng.random(),
            duplicate: self.rng.random(),
        };
        let dropped = Fate {
            departures: Vec::new(),
        };
        if partitioned || draws.loss < impairment.loss {
            return dropped;
        }
        let leaves_bottleneck = match &impairment.rate {
            Some(rate) => {
                let bucket = self.bucket.get_or_insert_with(|| TokenBucket::new(rate));
                match bucket.admit(rate, now, len) {
                    Some(at) => at,
                    None => return dropped,
                }
            }
            None => {
                self.bucket = None;
                now
            }
        };
        let departs = if draws.reorder < impairment.reorder {
            leaves_bottleneck
        } else {
            // Uniform in delay - jitter ..= delay + jitter.
            let spread = impairment.jitter.as_secs_f64() * (2.0 * draws.jitter - 1.0);
            let delay = (impairment.delay.as_secs_f64() + spread).max(0.0);
            let departs = (leaves_bottleneck + Duration::from_secs_f64(delay)).max(self.last_departure);
            self.last_departure = departs;
            departs
        };
        let copies = if draws.duplicate < impairment.duplicate {
            2
        } else {
            1
        };
        Fate {
            departures: vec![departs; copies],
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Scenario 1's impairment.
    fn lossy() -> Impairment {
        Impairment {
            loss: 0.10,
            delay: 200 * MS,
            jitter: 50 * MS,
            reorder: 0.01,
            duplicate: 0.01,
            rate: None,
        }
    }

    /// `count` datagrams of 1,200 bytes, one a millisecond.
    fn run(link: &mut Link, impairment: &Impairment, count: u32) -> Vec<Fate> {
        (0..count)
            .map(|i| link.decide(impairment, false, MS * i, 1_200))
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_decisions() {
        let first = run(&mut Link::new(7), &lossy(), 5_000);
        let again = run(&mut Link::new(7), &lossy(), 5_000);
        assert_eq!(first, again);
        let other = run(&mut Link::new(8), &lossy(), 5_000);
        assert_ne!(first, other, "another seed decides otherwise");
    }

    #[test]
    fn loss_rate_stays_within_bounds() {
        let fates = run(&mut Link::new(42), &lossy(), 20_000);
        let lost = fates.iter().filter(|fate| fate.departures.is_empty()).count();
        // 10% of 20,000: the standard deviation is about 42, so 1,800..2,200 is beyond 4 of them.
        assert!((1_800..=2_200).contains(&lost), "{lost} of 20,000 lost");
        let doubled = fates.iter().filter(|fate| fate.departures.len() == 2).count();
        assert!((100..=260).contains(&doubled), "{doubled} duplicated");
    }

    #[test]
    fn delay_stays_within_the_jitter_around_the_base() {
        let impairment = Impairment {
            reorder: 0.0,
            ..lossy()
        };
        // Ten milliseconds apart: wider than the jitter's spread, so order holds by itself.
        let mut link = Link::new(3);
        for i in 0..2_000u32 {
            let now = 10 * MS * i;
            for departs in link.decide(&impairment, false, now, 100).departures {
                let delay = departs - now;
                assert!(delay >= 150 * MS && delay <= 250 * MS, "{delay:?}");
            }
        }
    }

    /// The first copy's departure of each of `count` datagrams on a lossless link with
    /// scenario 1's delay and jitter and `reorder`.
    fn departures(seed: u64, reorder: f64, count: u32) -> Vec<Duration> {
        let impairment = Impairment {
            loss: 0.0,
            reorder,
            ..lossy()
        };
        let fates = run(&mut Link::new(seed), &impairment, count);
        fates.iter().map(|fate| fate.departures[0]).collect()
    }

    #[test]
    fn jitter_without_reordering_keeps_the_order() {
        let departures = departures(5, 0.0, 5_000);
        assert!(departures.windows(2).all(|pair| pair[0] <= pair[1]));
    }

    #[test]
    fn reordering_lets_about_its_share_overtake() {
        let departures = departures(9, 0.05, 10_000);
        // A datagram overtook if it leaves before the one that arrived just before it.
        let overtaking = departures.windows(2).filter(|pair| pair[1] < pair[0]).count();
        assert!(
            (350..=650).contains(&overtaking),
            "{overtaking} of 10,000 overtook"
        );
    }

    #[test]
    fn a_partition_drops_everything() {
        let mut link = Link::new(1);
        let perfect = Impairment::none();
        for i in 0..1_000u32 {
            assert!(link.decide(&perfect, true, MS * i, 100).departures.is_empty());
        }
        // And healing lets everything through again.
        assert_eq!(
            link.decide(&perfect, false, 1000 * MS, 100).departures,
            [1000 * MS]
        );
    }

    #[test]
    fn the_rate_limit_spaces_datagrams_before_the_delay() {
        let impairment = Impairment {
            delay: 100 * MS,
            rate: Some(Rate {
                bytes_per_second: 100_000,
                burst_bytes: 1_000,
                max_queue: Duration::from_secs(1),
            }),
            ..Impairment::none()
        };
        let mut link = Link::new(2);
        let first = link.decide(&impairment, false, Duration::ZERO, 1_000).departures;
        let second = link.decide(&impairment, false, Duration::ZERO, 1_000).departures;
        assert_eq!(first, [100 * MS]);
        // 1,000 bytes at 100,000 B/s: 10 ms behind.
        assert_eq!(second, [110 * MS]);
    }
}
