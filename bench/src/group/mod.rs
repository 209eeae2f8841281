//! The group mode: one sender and N member connections to a relay child process. Each message
//! is encrypted once on the sender's group chain and then goes once as one `SendShared` (the
//! body sealed once for every member's identity key, a part per member) and once as N separate
//! `Send`s (pipelined, each member's envelope sealed for it alone), in the same run, alternating.
//! `--filler` sends opaque bytes of those sizes instead (no client crypto: the relay alone).

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use hush_proto::{
    AccessKey, ClientFrame, Envelope, MAX_FRAME_LEN, MailboxId, Request, RequestId, Response, Seq,
    SharedAddressed, SharedBody, SharedDeliveries, SharedPart, encode_frame, split_shared_envelope,
};
use hush_relay::client::RelayClient;
use hush_relay::config::StorageBackend;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::idle::Opening;
use crate::load::Measured;
use crate::relay::{Placement, RelaySettings, RelayUnderTest};

mod content;

use content::{Content, Got, Kind, Message};

/// Requests a sender keeps unanswered at once in the naive fan-out: the relay's per-connection
/// bound on unanswered requests (64), so the naive sends are pipelined as far as they can be.
const NAIVE_WINDOW: usize = 64;
/// Member connections sharing one client UDP socket.
const MEMBERS_PER_SOCKET: usize = 50;
/// Rounds of opening connections before the run gives up.
const OPEN_ATTEMPTS: usize = 3;
/// Deliveries a member takes between acks.
const ACK_EVERY: u64 = 32;
/// Longest wait for one message to reach every member.
const DELIVERY_BOUND: Duration = Duration::from_secs(60);

/// What the group mode does.
#[derive(Debug, Clone)]
pub struct GroupRun {
    /// Member connections (one mailbox each: a member device).
    pub members: usize,
    /// Measured messages of each kind.
    pub messages: usize,
    /// Messages of each kind before the measured ones.
    pub warmup: usize,
    /// Bytes of each message's plaintext (with `filler`: of the shared body).
    pub message_len: usize,
    /// With `filler`: bytes of each member's part.
    pub part_len: usize,
    /// Opaque filler instead of the client's group crypto (the relay alone).
    pub filler: bool,
    /// Every this many members open and decrypt every message (real content only).
    pub open_every: usize,
    /// Whether the sender presents each member's access key (as a contact does).
    pub access_keys: bool,
    /// Where the relay runs.
    pub placement: Placement,
}

/// One kind's figures.
#[derive(Debug, Default)]
struct Figures {
    /// From starting the message (its encryption) to the last `Stored`, microseconds.
    send_us: Vec<u32>,
    /// From starting the message to the last member's delivery, microseconds.
    delivered_all_us: Vec<u32>,
    /// Of `send_us`, the encryption and sealing (shared kind only: the naive kind seals while
    /// it sends), microseconds.
    seal_us: Vec<u32>,
    /// Frame bytes the sender wrote for one message.
    upload_bytes: usize,
    /// Envelopes the opening members opened and decrypted.
    opened: usize,
}

impl Figures {
    fn quantile(values: &[u32], q: f64) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        Measured {
            delivered: sorted.len() as u64,
            latencies_us: sorted,
        }
        .latency_ms(q)
    }
}

/// Runs the group mode and prints its report, ending with the `GROUP` line.
pub async fn run(group: &GroupRun) -> anyhow::Result<()> {
    if group.members == 0 || group.members > hush_proto::MAX_RECIPIENTS_PER_SEND {
        bail!(
            "--members must be between 1 and {}",
            hush_proto::MAX_RECIPIENTS_PER_SEND
        );
    }
    if group.messages == 0 || group.message_len < 4 {
        bail!("--messages must be at least 1 and --message-len at least 4");
    }
    let settings = RelaySettings {
        store: StorageBackend::Sqlite,
        synchronous: "full".into(),
        commit_delay_us: None,
        max_connections: group.members + 64,
    };
    let relay = RelayUnderTest::start(&group.placement, &settings).await?;
    println!("group: {}", relay.description);
    let outcome = measure(group, &relay).await;
    relay.stop().await;
    let (described, shared, naive) = outcome?;
    println!(
        "group: {} members, {} messages of each kind after {} warm-up, access keys {}; {described}; \
         naive = one Send per member, {NAIVE_WINDOW} in flight",
        group.members, group.messages, group.warmup, group.access_keys
    );
    for (name, figures) in [("shared", &shared), ("naive", &naive)] {
        println!(
            "group: {name}: send p50 {:.2} ms p99 {:.2} ms{}, all delivered p50 {:.2} ms p99 {:.2} ms, \
             upload {} bytes per message, {} envelopes opened and decrypted by members",
            Figures::quantile(&figures.send_us, 0.5),
            Figures::quantile(&figures.send_us, 0.99),
            if figures.seal_us.is_empty() {
                String::new()
            } else {
                format!(
                    " (encrypting and sealing p50 {:.2} ms)",
                    Figures::quantile(&figures.seal_us, 0.5)
                )
            },
            Figures::quantile(&figures.delivered_all_us, 0.5),
            Figures::quantile(&figures.delivered_all_us, 0.99),
            figures.upload_bytes,
            figures.opened
        );
    }
    // The line, exactly; a filler run says so, so its line is not taken for the real one.
    println!(
        "GROUP members={} send_ms_p50={:.2} send_ms_p99={:.2} upload_bytes_per_msg={} \
         delivered_all_ms_p50={:.2} naive_ms_p50={:.2}{}",
        group.members,
        Figures::quantile(&shared.send_us, 0.5),
        Figures::quantile(&shared.send_us, 0.99),
        shared.upload_bytes,
        Figures::quantile(&shared.delivered_all_us, 0.5),
        Figures::quantile(&naive.send_us, 0.5),
        if group.filler { " level=relay-filler" } else { "" },
    );
    Ok(())
}

/// A member: its mailbox and the access key it set.
struct Member {
    mailbox: MailboxId,
    access: Option<AccessKey>,
}

/// What one member connection reported: its index, the envelope, when it arrived.
type Arrival = (usize, Vec<u8>, Instant);

async fn measure(group: &GroupRun, relay: &RelayUnderTest) -> anyhow::Result<(String, Figures, Figures)> {
    // Members on their own machines have their own sockets; 50 connections to a UDP socket keeps
    // a burst of 1,000 pushes from overflowing one socket's receive buffer (lost datagrams would
    // time QUIC's loss recovery, not the relay).
    let opening = Opening {
        connections: group.members + 1,
        per_endpoint: MEMBERS_PER_SOCKET,
        concurrency: 128,
    };
    // On a loaded machine a login can miss the relay's login deadline: open the missing ones
    // again, a bounded number of times.
    let mut clients = Vec::with_capacity(opening.connections);
    for _ in 0..OPEN_ATTEMPTS {
        let missing = Opening {
            connections: opening.connections - clients.len(),
            ..opening
        };
        let (opened, failures) = missing.open(relay.addr, relay.fingerprint).await?;
        clients.extend(opened);
        if let Some(error) = failures.first {
            eprintln!(
                "group: {} connections failed, opening them again: {error:#}",
                failures.count
            );
        }
        if clients.len() == opening.connections {
            break;
        }
    }
    if clients.len() < opening.connections {
        bail!(
            "only {} of {} connections logged in",
            clients.len(),
            opening.connections
        );
    }
    let sender = clients.pop().context("the sender's connection")?;
    let (arrivals, mut arrived) = mpsc::unbounded_channel();
    let mut members = Vec::with_capacity(clients.len());
    let mut accounts = Vec::with_capacity(clients.len());
    for (index, mut opened) in clients.into_iter().enumerate() {
        let access = group.access_keys.then(|| {
            let mut key = [0; 32];
            key[..8].copy_from_slice(&(index as u64).to_be_bytes());
            key[8] = 0xAC;
            AccessKey(key)
        });
        if access.is_some() {
            match opened.client.request(Request::SetAccessKey { key: access }).await {
                Ok(Response::AccessKeySet) => {}
                other => bail!("member {index} setting its access key: {other:?}"),
            }
        }
        members.push(Member {
            mailbox: opened.mailbox,
            access,
        });
        accounts.push(opened.account);
        tokio::spawn(receive(index, opened.client, arrivals.clone()));
    }
    drop(arrivals);
    let mut content = if group.filler {
        Content::Filler {
            message_len: group.message_len,
            part_len: group.part_len,
        }
    } else {
        Content::real(sender.account, accounts, group.message_len, group.open_every)?
    };
    let mut sender = sender.client;
    let mut shared = Figures::default();
    let mut naive = Figures::default();
    for message in 0..(group.warmup + group.messages) {
        let measured = message >= group.warmup;
        for (kind, figures) in [(Kind::Shared, &mut shared), (Kind::Naive, &mut naive)] {
            let id = u32::try_from(message * 2 + kind as usize).context("message ids fit a u32")?;
            let started = Instant::now();
            let made = content.begin(id)?;
            let (sent, sealed) = match kind {
                Kind::Shared => send_shared(&mut sender, &mut content, &made, &members, started).await?,
                Kind::Naive => (
                    send_naive(&mut sender, &mut content, &made, &members).await?,
                    None,
                ),
            };
            let stored = started.elapsed();
            let (last, got) = wait_for_all(&mut arrived, &sent, &content).await?;
            let opened = content.check(&made, kind, &got)?;
            if measured {
                figures.send_us.push(micros(stored));
                figures.seal_us.extend(sealed.map(micros));
                figures
                    .delivered_all_us
                    .push(micros(last.saturating_duration_since(started)));
                figures.upload_bytes = sent.upload_bytes(&members)?;
                figures.opened += opened;
            }
        }
    }
    Ok((content.describe(), shared, naive))
}

/// What one message sent to each member, for checking what arrives.
enum Sent {
    /// The shared body and each member's part.
    Shared {
        body: SharedBody,
        parts: Vec<SharedPart>,
    },
    /// Each member's envelope.
    Naive(Vec<Envelope>),
}

impl Sent {
    fn members(&self) -> usize {
        match self {
            Self::Shared { parts, .. } => parts.len(),
            Self::Naive(envelopes) => envelopes.len(),
        }
    }

    /// What member `index` is to get: its part (shared) and the body or its envelope. `None`
    /// if `envelope` is not that.
    fn matches(&self, index: usize, envelope: &[u8]) -> Option<Got> {
        match self {
            Self::Shared { body, parts } => {
                let split = split_shared_envelope(envelope).ok()?;
                (split.part == parts.get(index)?.as_bytes() && split.body == body.as_bytes()).then(|| Got {
                    index,
                    part: Some(split.part.to_vec()),
                    body: split.body.to_vec(),
                })
            }
            Self::Naive(envelopes) => (envelope == envelopes.get(index)?.as_bytes()).then(|| Got {
                index,
                part: None,
                body: envelope.to_vec(),
            }),
        }
    }

    /// The frame bytes the sender wrote (counted after the timing: encoding them again is no
    /// part of a send).
    fn upload_bytes(&self, members: &[Member]) -> anyhow::Result<usize> {
        match self {
            Self::Shared { body, parts } => frame_len(&shared_request(body.clone(), parts.clone(), members)?),
            Self::Naive(envelopes) => members
                .iter()
                .zip(envelopes)
                .map(|(member, envelope)| frame_len(&naive_request(member, envelope.clone())))
                .sum(),
        }
    }
}

fn shared_request(body: SharedBody, parts: Vec<SharedPart>, members: &[Member]) -> anyhow::Result<Request> {
    let deliveries = members
        .iter()
        .zip(parts)
        .map(|(member, part)| SharedAddressed {
            to: member.mailbox,
            access: member.access,
            part,
        })
        .collect();
    Ok(Request::SendShared {
        body,
        deliveries: SharedDeliveries::new(deliveries).context("too many members")?,
    })
}

fn naive_request(member: &Member, envelope: Envelope) -> Request {
    Request::Send {
        to: member.mailbox,
        access: member.access,
        envelope,
    }
}

/// Seals `message` once for every member and writes one `SendShared`; also returns how long
/// after `started` the seal was done.
async fn send_shared(
    sender: &mut RelayClient,
    content: &mut Content,
    message: &Message,
    members: &[Member],
    started: Instant,
) -> anyhow::Result<(Sent, Option<Duration>)> {
    let (body, parts) = content.seal_shared(message, members.len())?;
    let sealed = started.elapsed();
    let body = SharedBody::new(body).context("the body is over the shared body limit")?;
    let parts = parts
        .into_iter()
        .map(SharedPart::new)
        .collect::<Option<Vec<_>>>()
        .context("a part is over the part limit")?;
    let request = shared_request(body.clone(), parts.clone(), members)?;
    match sender.request(request).await {
        Ok(Response::Stored) => Ok((Sent::Shared { body, parts }, Some(sealed))),
        other => bail!("the shared send was answered {other:?}"),
    }
}

/// Seals `message` for each member in turn and writes its `Send`, `NAIVE_WINDOW` unanswered at
/// most.
async fn send_naive(
    sender: &mut RelayClient,
    content: &mut Content,
    message: &Message,
    members: &[Member],
) -> anyhow::Result<Sent> {
    let mut envelopes = Vec::with_capacity(members.len());
    let mut unanswered = 0;
    let mut pending = members.iter().enumerate();
    loop {
        while unanswered < NAIVE_WINDOW {
            let Some((index, member)) = pending.next() else {
                break;
            };
            let envelope =
                Envelope::new(content.seal_for(message, index)?).context("the envelope is over the limit")?;
            sender
                .write_request(naive_request(member, envelope.clone()))
                .await?;
            envelopes.push(envelope);
            unanswered += 1;
        }
        if unanswered == 0 {
            return Ok(Sent::Naive(envelopes));
        }
        match sender.next_response().await? {
            (_, Response::Stored) => unanswered -= 1,
            (_, other) => bail!("a naive send was answered {other:?}"),
        }
    }
}

fn frame_len(request: &Request) -> anyhow::Result<usize> {
    let frame = ClientFrame {
        id: RequestId(u32::MAX),
        request: request.clone(),
    };
    Ok(encode_frame(&frame, MAX_FRAME_LEN)?.len())
}

/// A member's loop: reports each delivery and its arrival, acks every few.
async fn receive(index: usize, mut client: RelayClient, arrivals: mpsc::UnboundedSender<Arrival>) {
    let mut unacked = 0;
    while let Ok(delivery) = client.next_delivery().await {
        let arrived = Instant::now();
        if arrivals
            .send((index, delivery.envelope.into_bytes(), arrived))
            .is_err()
        {
            return;
        }
        unacked += 1;
        if unacked >= ACK_EVERY {
            unacked = 0;
            if client
                .request(Request::Ack {
                    through: Seq(delivery.seq.0),
                })
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// Waits until every member got what `sent` sent it, once; returns the last arrival and what
/// the opening members got. Anything else arriving is an error: messages go one at a time.
async fn wait_for_all(
    arrived: &mut mpsc::UnboundedReceiver<Arrival>,
    sent: &Sent,
    content: &Content,
) -> anyhow::Result<(Instant, Vec<Got>)> {
    let members = sent.members();
    let mut seen = vec![false; members];
    let mut missing = members;
    let mut opening = Vec::new();
    let deadline = Instant::now() + DELIVERY_BOUND;
    loop {
        let Ok(next) = tokio::time::timeout_at(deadline, arrived.recv()).await else {
            bail!("{missing} of {members} members did not get the message within {DELIVERY_BOUND:?}");
        };
        let (index, envelope, at) = next.context("every member connection ended")?;
        let got = sent
            .matches(index, &envelope)
            .with_context(|| format!("member {index} got an envelope that is not the one sent to it"))?;
        let first = seen.get_mut(index).context("no such member")?;
        ensure!(!*first, "member {index} got the message twice");
        *first = true;
        if content.opens(index) {
            opening.push(got);
        }
        missing -= 1;
        if missing == 0 {
            return Ok((at, opening));
        }
    }
}

fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_arrival_matches_only_what_was_sent_to_that_member() {
        let body = SharedBody::new(vec![7; 40]).unwrap();
        let parts = vec![
            SharedPart::new(vec![1; 49]).unwrap(),
            SharedPart::new(vec![2; 49]).unwrap(),
        ];
        let sent = Sent::Shared {
            body: body.clone(),
            parts: parts.clone(),
        };
        let second = hush_proto::shared_envelope(&parts[1], &body);
        let got = sent.matches(1, second.as_bytes()).unwrap();
        assert_eq!(
            (got.index, got.part.as_deref(), got.body.as_slice()),
            (1, Some(&[2; 49][..]), &[7; 40][..])
        );
        assert!(sent.matches(0, second.as_bytes()).is_none());
        assert!(sent.matches(2, second.as_bytes()).is_none());
        let naive = Sent::Naive(vec![Envelope::new(vec![3; 10]).unwrap()]);
        assert!(naive.matches(0, &[3; 10]).is_some());
        assert!(naive.matches(0, &[3; 9]).is_none());
        assert!(naive.matches(0, second.as_bytes()).is_none());
    }
}
