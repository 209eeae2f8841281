//! One connection: the login challenge, the request loop, the writer task and, once logged in,
//! the delivery task that pushes the mailbox's messages in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hush_proto::{
    ClientFrame, Delivery, Envelope, ErrorCode, ErrorResponse, FrameError, MailboxId, Push, ServerFrame,
    decode_body, encode_frame, parse_length,
};
use quinn::{RecvStream, SendStream, VarInt};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

pub use hush_net::EXPORTER_LABEL;

use crate::cmd;
use crate::hub::Online;
use crate::limits::TokenBucket;
use crate::metrics::Metrics;
use crate::server::Shared;
use crate::store::{Store, StoredMessage};

/// QUIC application close codes.
pub mod close_code {
    /// Normal close.
    pub const DONE: u32 = 0;
    /// A frame that does not decode, or a second stream.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// A frame over the size limit.
    pub const FRAME_TOO_LARGE: u32 = 2;
    /// No login in time.
    pub const LOGIN_TIMEOUT: u32 = 3;
    /// The relay is shutting down.
    pub const SHUTTING_DOWN: u32 = 4;
    /// A newer login of the same mailbox took over.
    pub const REPLACED: u32 = 5;
}

/// Frames queued to one connection's writer before senders wait.
pub(crate) const OUTBOX_CAPACITY: usize = 256;
/// Messages read from the store per delivery round.
pub(crate) const DELIVERY_BATCH: usize = 64;

/// Per-connection state the request handlers read and change.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) id: u64,
    pub(crate) challenge: [u8; 32],
    pub(crate) exporter: [u8; 32],
    pub(crate) mailbox: Option<MailboxId>,
    pub(crate) online: Option<Arc<Online>>,
    /// Highest sequence number pushed on this connection (acks may not go past it).
    pub(crate) last_pushed: Arc<AtomicU64>,
    pub(crate) outbox: mpsc::Sender<ServerFrame>,
    /// Set by a handler to close the connection after its response (mailbox deleted).
    pub(crate) close_after: bool,
    /// Whether the delivery task runs.
    delivery_started: bool,
}

enum Ending {
    Done,
    Protocol(u32, &'static str),
    Shutdown,
    Replaced,
}

/// Serves one accepted connection to its end.
pub(crate) async fn serve<S: Store>(
    connection: quinn::Connection,
    shared: Arc<Shared<S>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = &shared.config.limits;
    let login_timeout = Duration::from_secs(limits.login_timeout_secs);
    let streams = tokio::select! {
        streams = tokio::time::timeout(login_timeout, connection.accept_bi()) => streams,
        _ = shutdown.changed() => {
            connection.close(VarInt::from_u32(close_code::SHUTTING_DOWN), b"shutting down");
            return;
        }
    };
    let (send, mut recv) = match streams {
        Ok(Ok(streams)) => streams,
        Ok(Err(error)) => {
            debug!(%error, "connection ended before opening a stream");
            return;
        }
        Err(_) => {
            connection.close(VarInt::from_u32(close_code::LOGIN_TIMEOUT), b"no stream");
            return;
        }
    };
    let mut exporter = [0u8; 32];
    if connection
        .export_keying_material(&mut exporter, EXPORTER_LABEL, b"")
        .is_err()
    {
        connection.close(VarInt::from_u32(close_code::PROTOCOL_ERROR), b"no exporter");
        return;
    }
    let (outbox, outbox_rx) = mpsc::channel(OUTBOX_CAPACITY);
    let writer = tokio::spawn(write_frames(send, outbox_rx, limits.max_frame_len));
    let mut state = ConnState {
        id: shared.next_connection_id.fetch_add(1, Ordering::Relaxed),
        challenge: rand::random(),
        exporter,
        mailbox: None,
        online: None,
        last_pushed: Arc::new(AtomicU64::new(0)),
        outbox: outbox.clone(),
        close_after: false,
        delivery_started: false,
    };
    let _ = outbox
        .send(ServerFrame::Push(Push::Challenge {
            nonce: state.challenge,
        }))
        .await;

    let ending = request_loop(&shared, &mut state, &mut recv, &mut shutdown, login_timeout).await;

    if let (Some(mailbox), Some(online)) = (state.mailbox, &state.online) {
        shared.hub.unregister(mailbox, online.connection_id);
    }
    if let Some(online) = state.online.take() {
        // Wakes the delivery task so it sees the closed outbox and ends.
        online.wake.notify_one();
    }
    drop(state);
    drop(outbox);
    // Let the writer flush the last responses before closing.
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    let (code, reason): (u32, &[u8]) = match ending {
        Ending::Done => (close_code::DONE, b"done"),
        Ending::Protocol(code, reason) => {
            Metrics::add(&shared.metrics.protocol_errors, 1);
            (code, reason.as_bytes())
        }
        Ending::Shutdown => (close_code::SHUTTING_DOWN, b"shutting down"),
        Ending::Replaced => (close_code::REPLACED, b"replaced by a newer login"),
    };
    connection.close(VarInt::from_u32(code), reason);
}

async fn request_loop<S: Store>(
    shared: &Arc<Shared<S>>,
    state: &mut ConnState,
    recv: &mut RecvStream,
    shutdown: &mut watch::Receiver<bool>,
    login_timeout: Duration,
) -> Ending {
    let limits = &shared.config.limits;
    let mut bucket = TokenBucket::new(
        f64::from(limits.requests_per_second),
        f64::from(limits.request_burst),
    );
    let login_deadline = tokio::time::Instant::now() + login_timeout;
    loop {
        let replaced = async {
            match &state.online {
                Some(online) => online.replaced.notified().await,
                None => std::future::pending().await,
            }
        };
        let logged_in = state.mailbox.is_some();
        let frame = tokio::select! {
            frame = read_frame(recv, limits.max_frame_len) => frame,
            _ = shutdown.changed() => return Ending::Shutdown,
            () = replaced => return Ending::Replaced,
            () = tokio::time::sleep_until(login_deadline), if !logged_in => {
                return Ending::Protocol(close_code::LOGIN_TIMEOUT, "no login in time");
            }
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ending::Done,
            Err(ReadError::Frame(FrameError::TooLarge { .. })) => {
                return Ending::Protocol(close_code::FRAME_TOO_LARGE, "frame too large");
            }
            Err(ReadError::Frame(_)) => {
                return Ending::Protocol(close_code::PROTOCOL_ERROR, "malformed frame");
            }
            Err(ReadError::Stream) => return Ending::Done,
        };
        let result = if bucket.try_take() {
            cmd::apply(shared, state, frame.request).await
        } else {
            Err(ErrorResponse {
                code: ErrorCode::RateLimited,
                detail: "slow down".into(),
            })
        };
        if result.is_err() {
            Metrics::add(&shared.metrics.requests_rejected, 1);
        }
        if state
            .outbox
            .send(ServerFrame::Response { id: frame.id, result })
            .await
            .is_err()
        {
            return Ending::Done;
        }
        if state.close_after {
            return Ending::Done;
        }
        if let (Some(mailbox), Some(online)) = (state.mailbox, &state.online)
            && !state.delivery_started
        {
            spawn_delivery(shared.clone(), mailbox, online.clone(), state.last_pushed.clone());
            state.delivery_started = true;
        }
    }
}

impl ConnState {
    /// A fresh, logged-out connection state for driving [`cmd::apply`] without a socket (the
    /// fuzz target), with a fixed challenge and exporter so a login signature can be made ahead.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn new_for_tests(
        id: u64,
        challenge: [u8; 32],
        exporter: [u8; 32],
        outbox: mpsc::Sender<ServerFrame>,
    ) -> Self {
        Self {
            id,
            challenge,
            exporter,
            mailbox: None,
            online: None,
            last_pushed: Arc::new(AtomicU64::new(0)),
            outbox,
            close_after: false,
            delivery_started: false,
        }
    }

    /// Highest sequence number pushed so far on this connection.
    pub(crate) fn pushed_through(&self) -> u64 {
        self.last_pushed.load(Ordering::Relaxed)
    }
}

/// Delivers the mailbox's messages in `seq` order. The store is the source of truth: at login,
/// and whenever a handed-over message does not continue the sequence (a concurrent commit got in
/// between, or the hand-over queue overflowed), the task reads the store after its cursor.
/// Otherwise it pushes what the senders' handlers handed over, with no store read.
fn spawn_delivery<S: Store>(
    shared: Arc<Shared<S>>,
    mailbox: MailboxId,
    online: Arc<Online>,
    pushed: Arc<AtomicU64>,
) {
    tokio::spawn(async move {
        let mut after = 0u64;
        let mut read_store = true;
        loop {
            let since = online.take_pending_since();
            let mut delivered = 0u64;
            let mut full_batch = false;
            if read_store {
                // Whatever was handed over is in the store too; drop it and read.
                let _ = online.take_direct();
                let messages = match shared.store.fetch(mailbox, after, DELIVERY_BATCH).await {
                    Ok(messages) => messages,
                    Err(error) => {
                        warn!(%error, "delivery fetch failed");
                        return;
                    }
                };
                full_batch = messages.len() == DELIVERY_BATCH;
                for message in messages {
                    after = message.seq;
                    delivered += 1;
                    if !push(&online, &pushed, message).await {
                        return;
                    }
                }
                read_store = full_batch;
            } else {
                let direct = online.take_direct();
                read_store = direct.fetch;
                for message in direct.messages {
                    if message.seq <= after {
                        continue;
                    }
                    if message.seq != after + 1 {
                        // A gap: an earlier message's hand-over is late or was dropped.
                        read_store = true;
                        break;
                    }
                    after = message.seq;
                    delivered += 1;
                    if !push(&online, &pushed, message).await {
                        return;
                    }
                }
            }
            if delivered > 0 {
                Metrics::add(&shared.metrics.messages_delivered, delivered);
                if let Some(since) = since {
                    shared.metrics.observe_delivery(since.elapsed());
                }
            }
            if online.outbox.is_closed() {
                return;
            }
            if !read_store && !full_batch {
                online.wake.notified().await;
                if online.outbox.is_closed() {
                    return;
                }
            }
        }
    });
}

/// Pushes one message; `false` once the connection's writer is gone.
async fn push(online: &Online, pushed: &AtomicU64, message: StoredMessage) -> bool {
    let Some(envelope) = Envelope::new(message.envelope) else {
        return true;
    };
    let frame = ServerFrame::Push(Push::Deliver(Delivery {
        seq: hush_proto::Seq(message.seq),
        received_at: message.received_at,
        envelope,
    }));
    // Record the push before it can be acknowledged.
    pushed.fetch_max(message.seq, Ordering::Relaxed);
    online.outbox.send(frame).await.is_ok()
}

enum ReadError {
    Frame(FrameError),
    Stream,
}

/// Reads one frame: the length prefix (refused over `max` before the body is read), then exactly
/// that many bytes. `Ok(None)` at a clean end of stream between frames.
async fn read_frame(recv: &mut RecvStream, max: u32) -> Result<Option<ClientFrame>, ReadError> {
    let mut prefix = [0u8; 4];
    match recv.read_exact(&mut prefix).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(_) => return Err(ReadError::Stream),
    }
    let length = parse_length(prefix, max).map_err(ReadError::Frame)?;
    let mut body = vec![0u8; length];
    recv.read_exact(&mut body).await.map_err(|_| ReadError::Stream)?;
    decode_body(&body).map(Some).map_err(ReadError::Frame)
}

/// Encodes and writes frames, coalescing what is queued into one write.
async fn write_frames(mut send: SendStream, mut frames: mpsc::Receiver<ServerFrame>, max: u32) {
    let mut buffer = Vec::new();
    while let Some(frame) = frames.recv().await {
        buffer.clear();
        let mut next = Some(frame);
        while let Some(frame) = next {
            match encode_frame(&frame, max) {
                Ok(bytes) => buffer.extend_from_slice(&bytes),
                Err(error) => warn!(%error, "dropping an unencodable frame"),
            }
            next = if buffer.len() < 64 * 1024 {
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
