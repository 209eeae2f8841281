//! A connection's request loop: reads frames within the size limit of its login state, rate
//! limits them, holds the login to its deadline and the logged-in pool, runs each request and
//! queues its answer to the writer.

use std::sync::Arc;

use hush_net::StreamError;
use hush_proto::{ClientFrame, ErrorCode, ErrorResponse, FrameError, Request, ServerFrame};
use quinn::{RecvStream, VarInt};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::writer::Reply;
use crate::admission::{PRE_LOGIN_MAX_FRAME_LEN, Slot};
use crate::cmd;
use crate::delivery;
use crate::limits::TokenBucket;
use crate::metrics::Metrics;
use crate::session::Session;
use crate::shared::Shared;
use crate::store::Store;

/// Requests of one connection being served at once: sends are answered when their commit
/// lands, so a client may pipeline this many before the relay stops reading its stream.
const MAX_IN_FLIGHT: usize = 64;

/// Why the request loop ended.
pub(super) enum Ending {
    /// The client finished its stream, the stream failed, or the connection is closing.
    Done,
    /// A frame over the size limit.
    FrameTooLarge,
    /// A frame that does not decode.
    Malformed,
    /// No login by the deadline.
    LoginTimeout,
    /// Every logged-in slot is taken.
    Full,
    /// The relay is shutting down.
    Shutdown,
    /// A newer login of the same mailbox took over.
    Replaced,
}

/// The connection's request stream and where its answers go.
pub(super) struct Stream<'a> {
    pub(super) connection: &'a quinn::Connection,
    pub(super) recv: &'a mut RecvStream,
    pub(super) responses: &'a mpsc::UnboundedSender<Reply>,
}

/// What login changes: the connection's slot moves to the logged-in pool, by the deadline.
pub(super) struct Login<'a> {
    pub(super) slot: &'a mut Slot,
    pub(super) deadline: Instant,
}

/// Serves requests until the connection ends; starts the delivery task into `delivery_task` once
/// logged in.
pub(super) async fn request_loop<S: Store>(
    shared: &Shared<S>,
    session: &mut Session,
    stream: Stream<'_>,
    shutdown: &mut watch::Receiver<bool>,
    login: Login<'_>,
    delivery_task: &mut Option<JoinHandle<()>>,
) -> Ending {
    let Stream {
        connection,
        recv,
        responses,
    } = stream;
    let limits = &shared.limits;
    let mut bucket = TokenBucket::new(
        f64::from(limits.requests_per_second),
        f64::from(limits.request_burst),
    );
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let replaced = async {
            match &session.online {
                Some(online) => online.replaced.notified().await,
                None => std::future::pending().await,
            }
        };
        let logged_in = session.mailbox.is_some();
        let max_frame_len = if logged_in {
            limits.max_frame_len
        } else {
            PRE_LOGIN_MAX_FRAME_LEN.min(limits.max_frame_len)
        };
        let frame = tokio::select! {
            frame = hush_net::read_frame::<ClientFrame>(recv, max_frame_len) => frame,
            _ = shutdown.changed() => return Ending::Shutdown,
            () = replaced => return Ending::Replaced,
            () = tokio::time::sleep_until(login.deadline), if !logged_in => return Ending::LoginTimeout,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ending::Done,
            Err(StreamError::Frame(FrameError::TooLarge { .. })) => {
                if !logged_in {
                    Metrics::add(&shared.metrics.pre_login_frames_refused, 1);
                }
                return Ending::FrameTooLarge;
            }
            Err(StreamError::Frame(_)) => return Ending::Malformed,
            Err(_) => return Ending::Done,
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
                let _ = responses.send(Reply::new(frame, permit));
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
        cmd::run(shared, session, frame.request, respond).await;
        if let Some(seat) = seat
            && session.mailbox.is_some()
        {
            login.slot.logged_in(seat);
            // The login's receive window grows to the logged-in one: two largest frames.
            connection.set_receive_window(VarInt::from_u32(limits.max_frame_len.saturating_mul(2)));
        }
        if responses.is_closed() {
            return Ending::Done;
        }
        if session.close_after {
            return Ending::Done;
        }
        if let (Some(mailbox), Some(online)) = (session.mailbox, &session.online)
            && delivery_task.is_none()
        {
            let (store, metrics) = (shared.store.clone(), shared.metrics.clone());
            *delivery_task = Some(delivery::spawn(store, metrics, mailbox, online.clone()));
        }
    }
}
