//! The baseline: a plain QUIC forwarder with no authentication and no storage, speaking the
//! same hush-proto frames on one bidirectional stream per connection, so the bench's clients run
//! the same code against it. A "login" only names the mailbox (the signature is not checked);
//! `Send` pushes the envelope to the recipient's connection at once as a `Deliver` (dropped if
//! the recipient is offline) and answers `Stored`; `Ack` deletes nothing. What the relay costs
//! beyond this is its authentication, durable storage and delivery machinery.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use hush_proto::{
    ClientFrame, Delivery, ErrorCode, ErrorResponse, MAX_FRAME_LEN, MailboxId, Push, Request, Response, Seq,
    ServerFrame, encode_frame_into,
};
use hush_relay::tls;
use quinn::crypto::rustls::QuicServerConfig;
use tokio::sync::mpsc;

/// Prefix of the line the baseline server prints with its address.
pub const ADDRESS_LINE: &str = "baseline address for clients: ";
/// Frames queued to one connection's writer before senders wait (as in the relay).
const OUTBOX_CAPACITY: usize = 256;
/// Most bytes coalesced into one stream write (as in the relay).
const WRITE_COALESCE: usize = 64 * 1024;

/// One logged-in connection.
#[derive(Debug)]
struct Mailbox {
    outbox: mpsc::Sender<ServerFrame>,
    next_seq: AtomicU64,
}

/// Logged-in connections by mailbox.
type Hub = Arc<Mutex<HashMap<MailboxId, Arc<Mailbox>>>>;

/// Runs the baseline server until its standard input closes (the bench holds the other end,
/// so the server ends with the bench even if the bench is killed).
pub fn serve_until_stdin_closes() -> anyhow::Result<()> {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a directory for the certificate")?;
    let identity = tls::load_or_create_self_signed(dir.path())?;
    let fingerprint = identity.fingerprint();
    let endpoint = quinn::Endpoint::server(server_config(identity)?, SocketAddr::from(([127, 0, 0, 1], 0)))
        .context("binding the baseline server")?;
    let addr = endpoint.local_addr()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{ADDRESS_LINE}{addr}#{}", tls::to_hex(&fingerprint))?;
    stdout.flush()?;
    let hub = Hub::default();
    while let Some(incoming) = endpoint.accept().await {
        let hub = hub.clone();
        // A failed connection concerns only its client (clients closing at the end of a run
        // land there too); the bench sees its own side of it.
        tokio::spawn(async move { serve_connection(incoming, hub).await });
    }
    Ok(())
}

/// The relay's transport settings, so both servers move the same bytes the same way.
fn server_config(identity: tls::Identity) -> anyhow::Result<quinn::ServerConfig> {
    let mut crypto = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)?;
    crypto.alpn_protocols = vec![hush_proto::ALPN.to_vec()];
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(crypto)?));
    let limits = hush_relay::Limits::default();
    let window = quinn::VarInt::from_u32(limits.max_frame_len.saturating_mul(2));
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_idle_timeout(Some(quinn::IdleTimeout::try_from(limits.idle_timeout())?))
        .max_concurrent_bidi_streams(1u32.into())
        .max_concurrent_uni_streams(0u32.into())
        .stream_receive_window(window)
        .receive_window(window);
    server.transport_config(Arc::new(transport));
    Ok(server)
}

async fn serve_connection(incoming: quinn::Incoming, hub: Hub) -> anyhow::Result<()> {
    let connection = incoming.await?;
    let (send, mut recv) = connection.accept_bi().await?;
    let (outbox, frames) = mpsc::channel(OUTBOX_CAPACITY);
    tokio::spawn(write_frames(send, frames));
    outbox
        .send(ServerFrame::Push(Push::Challenge {
            nonce: rand::random(),
        }))
        .await?;
    let mut mailbox = None;
    let ending = async {
        while let Some(frame) = hush_net::read_frame::<ClientFrame>(&mut recv, MAX_FRAME_LEN).await? {
            let result = apply(&hub, &outbox, &mut mailbox, frame.request).await;
            outbox
                .send(ServerFrame::Response { id: frame.id, result })
                .await?;
        }
        anyhow::Ok(())
    }
    .await;
    if let Some(mailbox) = mailbox {
        let mut online = hub.lock().unwrap_or_else(PoisonError::into_inner);
        if online
            .get(&mailbox)
            .is_some_and(|entry| entry.outbox.same_channel(&outbox))
        {
            online.remove(&mailbox);
        }
    }
    ending
}

async fn apply(
    hub: &Hub,
    outbox: &mpsc::Sender<ServerFrame>,
    mailbox: &mut Option<MailboxId>,
    request: Request,
) -> Result<Response, ErrorResponse> {
    match request {
        Request::Authenticate { identity_key, .. } => {
            let id = MailboxId::for_identity(&identity_key);
            let entry = Arc::new(Mailbox {
                outbox: outbox.clone(),
                next_seq: AtomicU64::new(1),
            });
            hub.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, entry);
            *mailbox = Some(id);
            Ok(Response::Authenticated {
                mailbox: id,
                one_time_prekeys: 0,
            })
        }
        Request::Send { to, envelope, .. } => {
            let target = hub
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&to)
                .cloned();
            if let Some(target) = target {
                let delivery = Delivery {
                    seq: Seq(target.next_seq.fetch_add(1, Ordering::Relaxed)),
                    received_at: 0,
                    envelope,
                };
                // A recipient that went away just misses it: there is no storage.
                let _ = target
                    .outbox
                    .send(ServerFrame::Push(Push::Deliver(delivery)))
                    .await;
            }
            Ok(Response::Stored)
        }
        Request::Ack { .. } => Ok(Response::Acked { deleted: 0 }),
        Request::Ping => Ok(Response::Pong),
        _ => Err(ErrorResponse {
            code: ErrorCode::Invalid,
            detail: "the baseline only forwards messages".into(),
        }),
    }
}

/// Encodes and writes frames, coalescing what is queued into one write (as the relay does).
async fn write_frames(mut send: quinn::SendStream, mut frames: mpsc::Receiver<ServerFrame>) {
    let mut buffer = Vec::new();
    while let Some(frame) = frames.recv().await {
        buffer.clear();
        let mut next = Some(frame);
        while let Some(frame) = next {
            // An unencodable frame is dropped, as the relay drops it.
            let _ = encode_frame_into(&frame, MAX_FRAME_LEN, &mut buffer);
            next = if buffer.len() < WRITE_COALESCE {
                frames.try_recv().ok()
            } else {
                None
            };
        }
        if send.write_all(&buffer).await.is_err() {
            return;
        }
    }
    let _ = send.finish();
}
