//! The group mode, relay level: one sender and N member connections to a relay child process.
//! Each message goes once as one `SendShared` (the body uploaded once, a part per member) and
//! once as N separate `Send`s (pipelined, each member's own envelope of part + body), in the same
//! run, alternating. No client group crypto yet: parts and bodies are opaque filler of the sizes
//! a sealed layer and a group ciphertext would have.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, bail};
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
    /// Bytes of the shared body (the group ciphertext).
    pub message_len: usize,
    /// Bytes of each member's part (its sealed-sender layer).
    pub part_len: usize,
    /// Whether the sender presents each member's access key (as a contact does).
    pub access_keys: bool,
    /// Where the relay runs.
    pub placement: Placement,
}

/// One kind's figures.
#[derive(Debug, Default)]
struct Figures {
    /// From writing the request(s) to the last `Stored`, microseconds.
    send_us: Vec<u32>,
    /// From writing the request(s) to the last member's delivery, microseconds.
    delivered_all_us: Vec<u32>,
    /// Frame bytes the sender wrote for one message.
    upload_bytes: usize,
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
    if group.messages == 0 || group.message_len < 5 {
        bail!("--messages must be at least 1 and --message-len at least 5");
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
    let (shared, naive) = outcome?;
    println!(
        "group: {} members, {} messages of each kind after {} warm-up, body {} bytes, part {} bytes, \
         access keys {}; naive = one Send per member, {NAIVE_WINDOW} in flight",
        group.members, group.messages, group.warmup, group.message_len, group.part_len, group.access_keys
    );
    for (name, figures) in [("shared", &shared), ("naive", &naive)] {
        println!(
            "group: {name}: send p50 {:.2} ms p99 {:.2} ms, all delivered p50 {:.2} ms p99 {:.2} ms, \
             upload {} bytes per message",
            Figures::quantile(&figures.send_us, 0.5),
            Figures::quantile(&figures.send_us, 0.99),
            Figures::quantile(&figures.delivered_all_us, 0.5),
            Figures::quantile(&figures.delivered_all_us, 0.99),
            figures.upload_bytes
        );
    }
    println!(
        "GROUP members={} send_ms_p50={:.2} send_ms_p99={:.2} upload_bytes_per_msg={} \
         delivered_all_ms_p50={:.2} naive_ms_p50={:.2} naive_upload_bytes_per_msg={} \
         naive_delivered_all_ms_p50={:.2} level=relay (no client group crypto)",
        group.members,
        Figures::quantile(&shared.send_us, 0.5),
        Figures::quantile(&shared.send_us, 0.99),
        shared.upload_bytes,
        Figures::quantile(&shared.delivered_all_us, 0.5),
        Figures::quantile(&naive.send_us, 0.5),
        naive.upload_bytes,
        Figures::quantile(&naive.delivered_all_us, 0.5),
    );
    Ok(())
}

/// A member: its mailbox and the access key it set.
struct Member {
    mailbox: MailboxId,
    access: Option<AccessKey>,
}

async fn measure(group: &GroupRun, relay: &RelayUnderTest) -> anyhow::Result<(Figures, Figures)> {
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
    let (_, mut sender) = clients.pop().context("the sender's connection")?;
    let (arrivals, mut arrived) = mpsc::unbounded_channel();
    let mut members = Vec::with_capacity(clients.len());
    for (index, (mailbox, mut client)) in clients.into_iter().enumerate() {
        let access = group.access_keys.then(|| {
            let mut key = [0; 32];
            key[..8].copy_from_slice(&(index as u64).to_be_bytes());
            key[8] = 0xAC;
            AccessKey(key)
        });
        if access.is_some() {
            match client.request(Request::SetAccessKey { key: access }).await {
                Ok(Response::AccessKeySet) => {}
                other => bail!("member {index} setting its access key: {other:?}"),
            }
        }
        members.push(Member { mailbox, access });
        tokio::spawn(receive(client, arrivals.clone()));
    }
    drop(arrivals);
    let mut shared = Figures::default();
    let mut naive = Figures::default();
    for message in 0..(group.warmup + group.messages) {
        let measured = message >= group.warmup;
        for (kind, figures) in [(Kind::Shared, &mut shared), (Kind::Naive, &mut naive)] {
            let id = u32::try_from(message * 2 + kind as usize).context("message ids fit a u32")?;
            let body = message_body(id, group.message_len);
            let started = Instant::now();
            let upload = match kind {
                Kind::Shared => send_shared(&mut sender, &members, body, group.part_len).await?,
                Kind::Naive => send_naive(&mut sender, &members, &body, group.part_len).await?,
            };
            let stored = started.elapsed();
            let last = wait_for_all(&mut arrived, id, members.len()).await?;
            if measured {
                figures.send_us.push(micros(stored));
                figures
                    .delivered_all_us
                    .push(micros(last.saturating_duration_since(started)));
                figures.upload_bytes = upload;
            }
        }
    }
    Ok((shared, naive))
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Shared = 0,
    Naive = 1,
}

/// The message body: its id (big-endian), then filler. Ids are even for shared messages and odd
/// for naive ones; a shared envelope's first byte (0xF4) is never a naive id's (ids stay far
/// below 0xF4 << 24).
fn message_body(id: u32, len: usize) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    body.resize(len, 0x6D);
    body
}

/// The id a delivered envelope carries: first in the body of a shared one, first in a naive one
/// (body, then the part).
fn message_id(envelope: &[u8]) -> Option<u32> {
    let body = split_shared_envelope(envelope).map_or(envelope, |split| split.body);
    Some(u32::from_be_bytes(*body.first_chunk::<4>()?))
}

async fn send_shared(
    sender: &mut RelayClient,
    members: &[Member],
    body: Vec<u8>,
    part_len: usize,
) -> anyhow::Result<usize> {
    let deliveries = members
        .iter()
        .map(|member| {
            Some(SharedAddressed {
                to: member.mailbox,
                access: member.access,
                part: SharedPart::new(vec![0x50; part_len])?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .context("--part-len is over the part limit")?;
    let request = Request::SendShared {
        body: SharedBody::new(body).context("the body is over the shared body limit")?,
        deliveries: SharedDeliveries::new(deliveries).context("too many members")?,
    };
    let upload = frame_len(&request)?;
    match sender.request(request).await {
        Ok(Response::Stored) => Ok(upload),
        other => bail!("the shared send was answered {other:?}"),
    }
}

async fn send_naive(
    sender: &mut RelayClient,
    members: &[Member],
    body: &[u8],
    part_len: usize,
) -> anyhow::Result<usize> {
    let mut envelope = body.to_vec();
    envelope.resize(body.len() + part_len, 0x50);
    let mut upload = 0;
    let mut unanswered = 0;
    let mut pending = members.iter();
    loop {
        while unanswered < NAIVE_WINDOW {
            let Some(member) = pending.next() else { break };
            let request = Request::Send {
                to: member.mailbox,
                access: member.access,
                envelope: Envelope::new(envelope.clone()).context("the envelope is over the limit")?,
            };
            upload += frame_len(&request)?;
            sender.write_request(request).await?;
            unanswered += 1;
        }
        if unanswered == 0 {
            return Ok(upload);
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

/// A member's loop: reports each delivery's message id and arrival, acks every few.
async fn receive(mut client: RelayClient, arrivals: mpsc::UnboundedSender<(u32, Instant)>) {
    let mut unacked = 0;
    while let Ok(delivery) = client.next_delivery().await {
        let arrived = Instant::now();
        // A delivery without an id is not the bench's: not counted, so its message times out.
        if let Some(id) = message_id(delivery.envelope.as_bytes())
            && arrivals.send((id, arrived)).is_err()
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

/// Waits until `members` deliveries of message `id` arrived; the last one's arrival.
async fn wait_for_all(
    arrived: &mut mpsc::UnboundedReceiver<(u32, Instant)>,
    id: u32,
    members: usize,
) -> anyhow::Result<Instant> {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    let deadline = Instant::now() + DELIVERY_BOUND;
    loop {
        let Ok(next) = tokio::time::timeout_at(deadline, arrived.recv()).await else {
            bail!("message {id} did not reach all {members} members within {DELIVERY_BOUND:?}");
        };
        let (got, at) = next.context("every member connection ended")?;
        let count = counts.entry(got).or_default();
        *count += 1;
        if got == id && *count == members {
            return Ok(at);
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
    fn both_kinds_of_envelope_name_their_message() {
        let body = message_body(7, 256);
        let part = SharedPart::new(vec![0x50; 48]).unwrap();
        let shared = hush_proto::shared_envelope(&part, &SharedBody::new(body.clone()).unwrap());
        assert_eq!(message_id(shared.as_bytes()), Some(7));
        let mut naive = body;
        naive.resize(256 + 48, 0x50);
        assert_eq!(message_id(&naive), Some(7));
        assert_eq!(message_id(&[1, 2]), None);
    }
}
