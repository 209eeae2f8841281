//! Traffic both ways between the pair, the exactly-once-in-order check at the application, and
//! the figures each scenario prints.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hush_client::Content;
use hush_lossy::Impairment;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::world::{Pair, Party};

/// One message each way every this often: 50 a second, more than a 10%-lossy link carries,
/// so a backlog builds and drains.
pub const PACE: Duration = Duration::from_millis(20);
/// Bound on draining what was sent once the link is usable again: a safety net.
pub const DRAIN_BOUND: Duration = Duration::from_secs(120);

/// A good mobile link: 50 ms ± 10 ms each way, losing `loss` of the datagrams.
pub fn mild_link(loss: f64) -> Impairment {
    Impairment {
        loss,
        delay: Duration::from_millis(50),
        jitter: Duration::from_millis(10),
        ..Impairment::none()
    }
}

/// One direction: what was sent, and when each send started.
#[derive(Clone, Default)]
struct Stream {
    sent_at: Arc<Mutex<Vec<Instant>>>,
    /// Messages handed to a sending task so far (numbering continues across bursts).
    planned: usize,
}

/// The conversation of a scenario: alice sends `a0, a1, …`, bob `b0, b1, …`.
pub struct Conversation {
    started: Instant,
    to_bob: Stream,
    to_alice: Stream,
}

impl Conversation {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            to_bob: Stream::default(),
            to_alice: Stream::default(),
        }
    }

    /// Messages sent each way so far (planned).
    pub fn planned(&self) -> usize {
        self.to_bob.planned
    }

    /// Starts sending `count` more each way, one every `pace`; the task ends once all are
    /// queued (durable in the outbox), not delivered.
    pub fn send(&mut self, pair: &Pair, count: usize, pace: Duration) -> JoinHandle<()> {
        let to_bob = send_paced(&pair.alice, &pair.bob, "a", &mut self.to_bob, count, pace);
        let to_alice = send_paced(&pair.bob, &pair.alice, "b", &mut self.to_alice, count, pace);
        tokio::spawn(async move {
            to_bob.await.unwrap();
            to_alice.await.unwrap();
        })
    }

    /// Waits until each side received everything planned so far (or `at_least`, if less).
    pub async fn wait_received(&self, pair: &Pair, at_least: usize, bound: Duration) {
        let target = at_least.min(self.planned());
        for (name, party) in [("bob", &pair.bob), ("alice", &pair.alice)] {
            party
                .wait(&format!("{name} receives {target}"), bound, |progress| {
                    progress.received.len() >= target
                })
                .await;
        }
    }

    /// Ends the conversation: each side sends `end` once everything planned has arrived, so
    /// a late copy of anything before it would show up before `end`; checks each side got
    /// every message exactly once, in order, then `end`; returns the figures.
    pub async fn finish(self, pair: &Pair, scenario: &str, bound: Duration) -> Figures {
        self.wait_received(pair, usize::MAX, bound).await;
        let duration = self.started.elapsed();
        pair.alice
            .client
            .send(pair.bob.client.address(), Content::text("end"))
            .await
            .unwrap();
        pair.bob
            .client
            .send(pair.alice.client.address(), Content::text("end"))
            .await
            .unwrap();
        let mut latencies = Vec::new();
        for (name, party, tag, stream) in [
            ("bob", &pair.bob, "a", &self.to_bob),
            ("alice", &pair.alice, "b", &self.to_alice),
        ] {
            party
                .wait(&format!("{name} receives end"), bound, |progress| {
                    progress.received.iter().any(|(text, _)| text == "end")
                })
                .await;
            let progress = party.progress.borrow();
            let got: Vec<&str> = progress.received.iter().map(|(text, _)| text.as_str()).collect();
            let expected: Vec<String> = (0..stream.planned)
                .map(|i| format!("{tag}{i}"))
                .chain(["end".to_owned()])
                .collect();
            assert_same_sequence(&got, &expected, name);
            assert!(
                progress.dropped.is_empty(),
                "{name} dropped {:?}",
                progress.dropped
            );
            assert_eq!(progress.stopped, None, "{name} stopped");
            let sent_at = stream.sent_at.lock().unwrap();
            for ((_, arrived), sent) in progress.received.iter().zip(sent_at.iter()) {
                latencies.push(arrived.saturating_duration_since(*sent));
            }
        }
        let stats = pair.handle.stats();
        Figures {
            scenario: scenario.to_owned(),
            messages: 2 * self.to_bob.planned,
            duration,
            reconnects: reconnects(&pair.alice) + reconnects(&pair.bob),
            latencies,
            extra: format!(
                "seed={} up_dropped={}/{} down_dropped={}/{} up_kib={} down_kib={}",
                pair.seed,
                stats.up.dropped,
                stats.up.received,
                stats.down.dropped,
                stats.down.received,
                stats.up.bytes_sent / 1024,
                stats.down.bytes_sent / 1024
            ),
        }
    }
}

impl Conversation {
    /// Delivery latencies of the messages that arrived (either way) at or after `since`.
    pub fn latencies_since(&self, pair: &Pair, since: Instant) -> Vec<Duration> {
        let mut latencies = Vec::new();
        for (party, stream) in [(&pair.bob, &self.to_bob), (&pair.alice, &self.to_alice)] {
            let progress = party.progress.borrow();
            let sent_at = stream.sent_at.lock().unwrap();
            for ((_, arrived), sent) in progress.received.iter().zip(sent_at.iter()) {
                if *arrived >= since {
                    latencies.push(arrived.saturating_duration_since(*sent));
                }
            }
        }
        latencies
    }
}

/// Logins after the first.
pub fn reconnects(party: &Party) -> u32 {
    party.onlines().saturating_sub(1)
}

fn send_paced(
    from: &Party,
    to: &Party,
    tag: &'static str,
    stream: &mut Stream,
    count: usize,
    pace: Duration,
) -> JoinHandle<()> {
    let client = Arc::clone(&from.client);
    let peer = to.client.address();
    let sent_at = Arc::clone(&stream.sent_at);
    let first = stream.planned;
    stream.planned += count;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(pace);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        for i in first..first + count {
            ticks.tick().await;
            sent_at.lock().unwrap().push(Instant::now());
            client
                .send(peer, Content::text(format!("{tag}{i}")))
                .await
                .unwrap();
        }
    })
}

/// Asserts two sequences are equal, reporting the first difference instead of both lists.
fn assert_same_sequence(got: &[&str], expected: &[String], who: &str) {
    if let Some(index) = got.iter().zip(expected).position(|(a, b)| a != b) {
        panic!(
            "{who}: first difference at {index}: got {:?}, expected {:?}",
            got[index], expected[index]
        );
    }
    assert_eq!(got.len(), expected.len(), "{who}: received count");
}

/// What a scenario prints.
pub struct Figures {
    pub scenario: String,
    pub messages: usize,
    pub duration: Duration,
    pub reconnects: u32,
    pub latencies: Vec<Duration>,
    /// More `key=value` pairs.
    pub extra: String,
}

impl Figures {
    pub fn percentile(&self, fraction: f64) -> Duration {
        percentile(&self.latencies, fraction)
    }

    /// One greppable line, written straight to stderr so the test harness's capture does not
    /// hide it (`grep '^LOSSY '` in a CI log).
    pub fn print(&self) {
        let line = format!(
            "LOSSY scenario={} messages={} duration_s={:.1} reconnects={} p50_ms={} p99_ms={} {}\n",
            self.scenario,
            self.messages,
            self.duration.as_secs_f64(),
            self.reconnects,
            self.percentile(0.50).as_millis(),
            self.percentile(0.99).as_millis(),
            self.extra
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// The `fraction` percentile of `values` (nearest rank); zero for none.
pub fn percentile(values: &[Duration], fraction: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
