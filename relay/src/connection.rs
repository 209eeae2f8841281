//! One connection: the login challenge, the request loop, the writer task and, once logged in,
//! the delivery task that pushes the mailbox's messages in order.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hush_proto::{
    ClientFrame, Delivery, ErrorCode, ErrorResponse, FrameError, MailboxId, Push, Request, ServerFrame,
    decode_body, encode_frame_into, parse_length,
};
use quinn::{RecvStream, SendStream, VarInt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{debug, warn};

pub use hush_net::EXPORTER_LABEL;

use crate::admission::{PRE_LOGIN_MAX_FRAME_LEN, Slot};
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
    /// Too many connections: from this source address, or every logged-in slot is taken.
    pub const TOO_MANY_CONNECTIONS: u32 = 6;
}

/// Frames queued to one connection's writer before senders wait.
pub(crate) const OUTBOX_CAPACITY: usize = 256;
/// Requests of one connection being served at once: sends are answered when their commit
/// lands, so a client may pipeline this many before the relay stops reading its stream.
pub(crate) const MAX_IN_FLIGHT: usize = 64;
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
    pub(crate) outbox: mpsc::Sender<ServerFrame>,
    /// Set by a handler to close the connection after its response (mailbox deleted).
    pub(crate) close_after: bool,
    /// The delivery task, once logged in; joined when the connection ends.
    delivery: Option<tokio::task::JoinHandle<()>>,
}

enum Ending {
    Done,
    Protocol(u32, &'static str),
    LoginTimeout,
    Full,
    Shutdown,
    Replaced,
}

/// Serves one accepted connection to its end; it holds `slot` until then and must log in by
/// `login_deadline`.
pub(crate) async fn serve<S: Store>(
    connection: quinn::Connection,
    shared: Arc<Shared<S>>,
    mut shutdown: watch::Receiver<bool>,
    mut slot: Slot,
    login_deadline: Instant,
) {
    let limits = &shared.config.limits;
    let streams = tokio::select! {
        streams = tokio::time::timeout_at(login_deadline, connection.accept_bi()) => streams,
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
            Metrics::add(&shared.metrics.login_timeouts, 1);
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
    // Unbounded, but each response holds one of `MAX_IN_FLIGHT` permits until it is written.
    let (responses, responses_rx) = mpsc::unbounded_channel();
    let challenge: [u8; 32] = rand::random();
    // The challenge is the first frame the client reads.
    let first = ServerFrame::Push(Push::Challenge { nonce: challenge });
    let (closing, closing_rx) = oneshot::channel();
    let mut writer = tokio::spawn(write_frames(
        send,
        first,
        Queues {
            responses: responses_rx,
            frames: outbox_rx,
            closing: closing_rx,
        },
        limits.max_frame_len,
    ));
    let mut state = ConnState {
        id: shared.next_connection_id.fetch_add(1, Ordering::Relaxed),
        challenge,
        exporter,
        mailbox: None,
        online: None,
        outbox: outbox.clone(),
        close_after: false,
        delivery: None,
    };
    let ending = request_loop(
        &shared,
        &mut state,
        Stream {
            connection: &connection,
            recv: &mut recv,
            responses: &responses,
        },
        &mut shutdown,
        Login {
            slot: &mut slot,
            deadline: login_deadline,
        },
    )
    .await;

    if let (Some(mailbox), Some(online)) = (state.mailbox, &state.online) {
        shared.hub.unregister(mailbox, online.connection_id);
    }
    let online = state.online.take();
    let delivery = state.delivery.take();
    drop(state);
    drop(outbox);
    drop(responses);
    // The writer flushes what is queued and the last answers (sends still committing answer
    // when they land), then ends; pushes are not waited for.
    let _ = closing.send(());
    if tokio::time::timeout(Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
        let _ = writer.await;
    }
    if let Some(online) = online {
        // The writer is gone, so the outbox is closed: the delivery task sees it and ends.
        online.wake.notify_one();
    }
    if let Some(delivery) = delivery {
        // Ends at once unless it waits on a store read; a failed task has nothing to report.
        let _ = delivery.await;
    }
    let (code, reason): (u32, &[u8]) = match ending {
        Ending::Done => (close_code::DONE, b"done"),
        Ending::Protocol(code, reason) => {
            Metrics::add(&shared.metrics.protocol_errors, 1);
            (code, reason.as_bytes())
        }
        Ending::LoginTimeout => {
            Metrics::add(&shared.metrics.login_timeouts, 1);
            (close_code::LOGIN_TIMEOUT, b"no login in time")
        }
        Ending::Full => (close_code::TOO_MANY_CONNECTIONS, b"relay full"),
        Ending::Shutdown => (close_code::SHUTTING_DOWN, b"shutting down"),
        Ending::Replaced => (close_code::REPLACED, b"replaced by a newer login"),
    };
    connection.close(VarInt::from_u32(code), reason);
}

/// A response on its way to the connection's writer, holding its in-flight permit until
/// written.
pub(crate) struct Reply {
    frame: ServerFrame,
    _permit: OwnedSemaphorePermit,
}

/// The connection's request stream and where its answers go.
struct Stream<'a> {
    connection: &'a quinn::Connection,
    recv: &'a mut RecvStream,
    responses: &'a mpsc::UnboundedSender<Reply>,
}

/// What login changes: the connection's slot moves to the logged-in pool, by the deadline.
struct Login<'a> {
    slot: &'a mut Slot,
    deadline: Instant,
}

async fn request_loop<S: Store>(
    shared: &Arc<Shared<S>>,
    state: &mut ConnState,
    stream: Stream<'_>,
    shutdown: &mut watch::Receiver<bool>,
    login: Login<'_>,
) -> Ending {
    let Stream {
        connection,
        recv,
        responses,
    } = stream;
    let limits = &shared.config.limits;
    let mut bucket = TokenBucket::new(
        f64::from(limits.requests_per_second),
        f64::from(limits.request_burst),
    );
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let replaced = async {
            match &state.online {
                Some(online) => online.replaced.notified().await,
                None => std::future::pending().await,
            }
        };
        let logged_in = state.mailbox.is_some();
        let max_frame_len = if logged_in {
            limits.max_frame_len
        } else {
            PRE_LOGIN_MAX_FRAME_LEN.min(limits.max_frame_len)
        };
        let frame = tokio::select! {
            frame = read_frame(recv, max_frame_len) => frame,
            _ = shutdown.changed() => return Ending::Shutdown,
            () = replaced => return Ending::Replaced,
            () = tokio::time::sleep_until(login.deadline), if !logged_in => return Ending::LoginTimeout,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ending::Done,
            Err(ReadError::Frame(FrameError::TooLarge { .. })) => {
                if !logged_in {
                    Metrics::add(&shared.metrics.pre_login_frames_refused, 1);
                }
                return Ending::Protocol(close_code::FRAME_TOO_LARGE, "frame too large");
            }
            Err(ReadError::Frame(_)) => {
                return Ending::Protocol(close_code::PROTOCOL_ERROR, "malformed frame");
            }
            Err(ReadError::Stream) => return Ending::Done,
        };
        // Waits while `MAX_IN_FLIGHT` answers are unwritten (a client that does not read).
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return Ending::Done;
        };
        let id = frame.id;
        let metrics = shared.metrics.clone();
        let respond = {
            let responses = responses.clone();
            move |result: Result<hush_proto::Response, ErrorResponse>| {
                if result.is_err() {
                    Metrics::add(&metrics.requests_rejected, 1);
                }
                let frame = ServerFrame::Response { id, result };
                // The writer is gone only once the connection is closing: nobody to answer.
                let _ = responses.send(Reply {
                    frame,
                    _permit: permit,
                });
            }
        };
        if !bucket.try_take() {
            respond(Err(ErrorResponse {
                code: ErrorCode::RateLimited,
                detail: "slow down".into(),
            }));
            continue;
        }
        // A login needs a logged-in slot, taken before it is tried (and given back if it fails).
        let seat = if !logged_in && matches!(frame.request, Request::Authenticate { .. }) {
            let Some(seat) = shared.admission.seat() else {
                Metrics::add(&shared.metrics.connections_refused, 1);
                respond(Err(ErrorResponse {
                    code: ErrorCode::RateLimited,
                    detail: "relay full".into(),
                }));
                return Ending::Full;
            };
            Some(seat)
        } else {
            None
        };
        match cmd::route(state, frame.request) {
            cmd::Route::Sends(deliveries) => cmd::submit_sends(shared, deliveries, respond).await,
            cmd::Route::Apply(request) => respond(cmd::apply(shared, state, request).await),
        }
        if let Some(seat) = seat
            && state.mailbox.is_some()
        {
            login.slot.logged_in(seat);
            // The login's receive window grows to the logged-in one: two largest frames.
            connection.set_receive_window(VarInt::from_u32(limits.max_frame_len.saturating_mul(2)));
        }
        if responses.is_closed() {
            return Ending::Done;
        }
        if state.close_after {
            return Ending::Done;
        }
        if let (Some(mailbox), Some(online)) = (state.mailbox, &state.online)
            && state.delivery.is_none()
        {
            state.delivery = Some(spawn_delivery(shared.clone(), mailbox, online.clone()));
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
            outbox,
            close_after: false,
            delivery: None,
        }
    }

    /// Highest sequence number pushed so far on this connection.
    pub(crate) fn pushed_through(&self) -> u64 {
        self.online.as_ref().map_or(0, |online| online.pushed_through())
    }
}

/// Catches the connection up from the store: at login, and whenever a sender could not push
/// its message itself (a gap in the sequence, a full outbox, a message stored by another node).
/// Once a read finds nothing more it goes live, and senders push their committed messages
/// straight to the connection ([`Online::offer`]) until the next gap.
fn spawn_delivery<S: Store>(
    shared: Arc<Shared<S>>,
    mailbox: MailboxId,
    online: Arc<Online>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            loop {
                let since = online.start_reading();
                let after = online.pushed_through();
                let messages = match shared.store.fetch(mailbox, after, DELIVERY_BATCH).await {
                    Ok(messages) => messages,
                    Err(error) => {
                        warn!(%error, "delivery fetch failed");
                        return;
                    }
                };
                let full_batch = messages.len() == DELIVERY_BATCH;
                let delivered = messages.len() as u64;
                for message in messages {
                    if !push(&online, message).await {
                        return;
                    }
                }
                if delivered > 0 {
                    Metrics::add(&shared.metrics.messages_delivered, delivered);
                    if let Some(since) = since {
                        shared.metrics.observe_delivery(since.elapsed());
                    }
                }
                if !full_batch && online.try_go_live() {
                    break;
                }
            }
            // Live: wait until a sender hands the reading back (or the connection ends).
            loop {
                if online.outbox.is_closed() {
                    return;
                }
                online.wake.notified().await;
                if online.outbox.is_closed() {
                    return;
                }
                if online.catching_up() {
                    break;
                }
            }
        }
    })
}

/// Pushes one message; `false` once the connection's writer is gone.
async fn push(online: &Online, message: StoredMessage) -> bool {
    let frame = ServerFrame::Push(Push::Deliver(Delivery {
        seq: hush_proto::Seq(message.seq),
        received_at: message.received_at,
        envelope: message.envelope,
    }));
    // Recorded before the push can be acknowledged.
    online.record_push(message.seq);
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

/// What a connection's writer reads from.
struct Queues {
    /// Answers, each holding its in-flight permit.
    responses: mpsc::UnboundedReceiver<Reply>,
    /// Pushes.
    frames: mpsc::Receiver<ServerFrame>,
    /// Fired when the request loop has ended: write what is queued and the answers still to
    /// come, then finish.
    closing: oneshot::Receiver<()>,
}

/// Writes `first`, then encodes and writes frames, answers first, coalescing what is queued into
/// one write. Ends when the connection is closing and every answer is written and acknowledged
/// by the peer, or the stream fails.
async fn write_frames(mut send: SendStream, first: ServerFrame, mut queues: Queues, max: u32) {
    let mut buffer = Vec::new();
    encode_into(&mut buffer, &first, max);
    if send.write_all(&buffer).await.is_err() {
        return;
    }
    let mut responses_open = true;
    let mut frames_open = true;
    let mut closing = false;
    while responses_open {
        let first = tokio::select! {
            biased;
            reply = queues.responses.recv() => match reply {
                Some(reply) => reply.frame,
                None => {
                    responses_open = false;
                    continue;
                }
            },
            frame = queues.frames.recv(), if frames_open && !closing => match frame {
                Some(frame) => frame,
                None => {
                    frames_open = false;
                    continue;
                }
            },
            _ = &mut queues.closing, if !closing => {
                // Pushes already queued still go out; no new ones are waited for.
                closing = true;
                let mut queued = Vec::new();
                while let Ok(frame) = queues.frames.try_recv() {
                    encode_into(&mut queued, &frame, max);
                }
                if !queued.is_empty() && send.write_all(&queued).await.is_err() {
                    return;
                }
                continue;
            },
        };
        buffer.clear();
        encode_into(&mut buffer, &first, max);
        // One of each in turn, so a client that keeps pipelining does not hold back its own
        // deliveries.
        while buffer.len() < WRITE_COALESCE {
            let reply = queues.responses.try_recv().ok();
            let frame = (!closing).then(|| queues.frames.try_recv().ok()).flatten();
            if reply.is_none() && frame.is_none() {
                break;
            }
            for frame in reply.map(|reply| reply.frame).iter().chain(&frame) {
                encode_into(&mut buffer, frame, max);
            }
        }
        if send.write_all(&buffer).await.is_err() {
            return;
        }
    }
    // Closing the connection drops stream data the peer has not acknowledged: wait for it (the
    // caller bounds the wait).
    if send.finish().is_ok() {
        let _ = send.stopped().await;
    }
}

/// Most bytes coalesced into one stream write.
const WRITE_COALESCE: usize = 64 * 1024;

fn encode_into(buffer: &mut Vec<u8>, frame: &ServerFrame, max: u32) {
    if let Err(error) = encode_frame_into(frame, max, buffer) {
        warn!(%error, "dropping an unencodable frame");
    }
}
