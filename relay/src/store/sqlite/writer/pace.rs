//! How the writer thread spaces its batches out. Under load the writes that arrive while it
//! waits queue up and share the next batch and its one fsync, which costs each of them up to the
//! delay in latency and saves the CPU of the fsyncs, wake-ups and context switches that many
//! small batches take; a write that finds the writer idle for longer than that starts at once.

use std::time::{Duration, Instant};

/// How the writer thread spaces its batches out.
pub(in crate::store::sqlite) trait Pace: Send + 'static {
    /// Called before each batch but the first, with when the one before it started; returns
    /// once the next batch may start. Writes that arrive meanwhile join it.
    fn wait(&mut self, previous: Instant);
}

/// The relay's pace: a batch starts at most once per commit delay
/// (`SqliteOptions::commit_delay`).
#[derive(Debug, Clone, Copy)]
pub(in crate::store::sqlite) struct CommitDelay(pub(in crate::store::sqlite) Duration);

impl Pace for CommitDelay {
    fn wait(&mut self, previous: Instant) {
        if let Some(rest) = remaining(previous.elapsed(), self.0) {
            std::thread::sleep(rest);
        }
    }
}

/// What is left of `delay` once `since` has passed, if anything.
fn remaining(since: Duration, delay: Duration) -> Option<Duration> {
    delay.checked_sub(since).filter(|rest| !rest.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_delay_waits_only_for_what_is_left_of_it() {
        let delay = Duration::from_micros(500);
        assert_eq!(
            remaining(Duration::from_micros(200), delay),
            Some(Duration::from_micros(300))
        );
        assert_eq!(remaining(delay, delay), None, "exactly the delay has passed");
        assert_eq!(
            remaining(Duration::from_millis(3), delay),
            None,
            "idle longer than the delay"
        );
        assert_eq!(
            remaining(Duration::ZERO, Duration::ZERO),
            None,
            "no delay configured"
        );
    }
}
