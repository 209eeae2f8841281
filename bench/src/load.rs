//! The pairs workload: P sender→receiver pairs of real QUIC clients, one message in flight per
//! pair, each message's one-way latency measured from just before `Send` to its delivery.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use hush_crypto::Account;
use hush_proto::{Envelope, MailboxId, Request, Response, Seq};
use hush_relay::client::{RelayClient, client_endpoint};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Longest wait for one message before the run is declared broken.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Clients connecting and logging in at once during setup, so setup does not trip the relay's
/// login timeout on a small machine.
const SETUP_CONCURRENCY: usize = 64;

/// The workload's shape.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Sender→receiver pairs.
    pub pairs: usize,
    /// Measured window.
    pub duration: Duration,
    /// Load before the window, excluded from the figures.
    pub warmup: Duration,
    /// Bytes of each opaque envelope.
    pub envelope_len: usize,
    /// The receiver acknowledges after this many deliveries.
    pub ack_every: u64,
}

/// The measured window, known to every pair before it starts.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Start of the measured window (after the warm-up).
    pub start: Instant,
    /// End of the measured window; pairs stop sending here.
    pub end: Instant,
}

/// What a run measured.
#[derive(Debug)]
pub struct Measured {
    /// Messages delivered inside the window.
    pub delivered: u64,
    /// One-way latencies of those messages, microseconds, sorted.
    pub latencies_us: Vec<u32>,
}

impl Measured {
    /// The `q` quantile (0..=1) of the latencies, milliseconds (nearest rank).
    pub fn latency_ms(&self, q: f64) -> f64 {
        let n = self.latencies_us.len();
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.latencies_us
            .get(rank - 1)
            .map_or(f64::NAN, |&us| f64::from(us) / 1000.0)
    }
}

/// One pair's two logged-in clients.
struct Pair {
    sender: RelayClient,
    receiver: RelayClient,
    receiver_mailbox: MailboxId,
}

/// Connected pairs, ready to run.
pub struct Pairs {
    pairs: Vec<Pair>,
}

impl std::fmt::Debug for Pairs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pairs({})", self.pairs.len())
    }
}

impl Pairs {
    /// Connects and logs in `count` pairs, each on its own client endpoint (its own UDP
    /// socket, as separate devices would be).
    pub async fn connect(addr: SocketAddr, fingerprint: [u8; 32], count: usize) -> anyhow::Result<Self> {
        let permits = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
        let mut setups = JoinSet::new();
        for _ in 0..count {
            let permits = permits.clone();
            setups.spawn(async move {
                let _permit = permits.acquire_owned().await?;
                let endpoint = client_endpoint(fingerprint)?;
                let (sender, _) = logged_in(&endpoint, addr).await?;
                let (receiver, receiver_mailbox) = logged_in(&endpoint, addr).await?;
                anyhow::Ok(Pair {
                    sender,
                    receiver,
                    receiver_mailbox,
                })
            });
        }
        let mut pairs = Vec::with_capacity(count);
        while let Some(joined) = setups.join_next().await {
            pairs.push(joined.context("setup task failed")??);
        }
        Ok(Self { pairs })
    }

    /// Runs every pair until `window.end`; figures count deliveries inside the window.
    pub async fn run(self, workload: Workload, window: Window) -> anyhow::Result<Measured> {
        let mut runs = JoinSet::new();
        for pair in self.pairs {
            let workload = workload.clone();
            runs.spawn(async move { pair.run(&workload, window).await });
        }
        let mut measured = Measured {
            delivered: 0,
            latencies_us: Vec::new(),
        };
        while let Some(joined) = runs.join_next().await {
            let latencies = joined.context("pair task failed")??;
            measured.delivered += latencies.len() as u64;
            measured.latencies_us.extend(latencies);
        }
        measured.latencies_us.sort_unstable();
        Ok(measured)
    }
}

async fn logged_in(endpoint: &quinn::Endpoint, addr: SocketAddr) -> anyhow::Result<(RelayClient, MailboxId)> {
    let account = Account::new(unix_now(), &mut rand::rng());
    let mut client = RelayClient::connect_on(endpoint, addr).await?;
    match client.login(&account, None).await? {
        Response::Authenticated { mailbox, .. } => Ok((client, mailbox)),
        other => bail!("login answered {other:?}"),
    }
}

impl Pair {
    /// Sends one message at a time until the window ends; returns the latencies (µs) of the
    /// messages delivered inside the window.
    async fn run(mut self, workload: &Workload, window: Window) -> anyhow::Result<Vec<u32>> {
        let mut payload = vec![0u8; workload.envelope_len];
        rand::fill(payload.as_mut_slice());
        let mut latencies = Vec::new();
        let mut unacked = 0u64;
        while Instant::now() < window.end {
            let envelope = Envelope::new(payload.clone()).context("envelope over the protocol limit")?;
            let (sent, delivered, seq) = tokio::time::timeout(EXCHANGE_TIMEOUT, self.exchange(envelope))
                .await
                .context("a message was not delivered in time")??;
            if delivered >= window.start && delivered < window.end {
                let micros = delivered.saturating_duration_since(sent).as_micros();
                latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
            unacked += 1;
            if unacked >= workload.ack_every {
                self.ack(seq).await?;
                unacked = 0;
            }
        }
        self.sender.close();
        self.receiver.close();
        Ok(latencies)
    }

    /// One message: `Send` on the sender while the receiver waits for the push. Returns when it
    /// was sent, when it arrived, and its sequence number.
    async fn exchange(&mut self, envelope: Envelope) -> anyhow::Result<(Instant, Instant, Seq)> {
        let Self {
            sender,
            receiver,
            receiver_mailbox,
        } = self;
        let request = Request::Send {
            to: *receiver_mailbox,
            access: None,
            envelope,
        };
        let sent = Instant::now();
        let store = sender.request(request);
        let receive = async {
            let delivery = receiver.next_delivery().await?;
            anyhow::Ok((Instant::now(), delivery.seq))
        };
        let (stored, (delivered, seq)) = tokio::try_join!(async { Ok(store.await?) }, receive)?;
        if stored != Response::Stored {
            bail!("Send answered {stored:?}");
        }
        Ok((sent, delivered, seq))
    }

    async fn ack(&mut self, through: Seq) -> anyhow::Result<()> {
        match self.receiver.request(Request::Ack { through }).await? {
            Response::Acked { .. } => Ok(()),
            other => bail!("Ack answered {other:?}"),
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let measured = Measured {
            delivered: 100,
            latencies_us: (1..=100).map(|ms| ms * 1000).collect(),
        };
        assert_eq!(measured.latency_ms(0.5), 50.0);
        assert_eq!(measured.latency_ms(0.99), 99.0);
        assert_eq!(measured.latency_ms(1.0), 100.0);
        let empty = Measured {
            delivered: 0,
            latencies_us: Vec::new(),
        };
        assert!(empty.latency_ms(0.5).is_nan());
    }
}
