//! One connection, from its QUIC handshake to its close: the login challenge it opens with, the
//! request loop (`reader`) and the writer task (`writer`) it runs, and how it ends.

mod reader;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use hush_proto::{Push, ServerFrame};
use quinn::VarInt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::debug;

pub use hush_net::EXPORTER_LABEL;

use self::reader::{Ending, Login, Stream};
use self::writer::Queues;
use crate::admission::Slot;
use crate::metrics::Metrics;
use crate::session::{OUTBOX_CAPACITY, Session};
use crate::shared::Shared;
use crate::store::Store;

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

/// Completes an admitted connection's handshake within the login deadline, charges it to its
/// (now proven) address, and serves it to its end, holding `slot` until then.
pub(crate) async fn handshake_and_serve<S: Store>(
    shared: Arc<Shared<S>>,
    incoming: quinn::Incoming,
    mut slot: Slot,
    stop: watch::Receiver<bool>,
) {
    let login_deadline = Instant::now() + Duration::from_secs(shared.limits.login_timeout_secs);
    let connection = match tokio::time::timeout_at(login_deadline, incoming).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => {
            debug!(%error, "handshake failed");
            return;
        }
        Err(_) => {
            // Dropping the handshake abandons it.
            Metrics::add(&shared.metrics.login_timeouts, 1);
            return;
        }
    };
    if !shared
        .admission
        .claim_address(&mut slot, connection.remote_address())
    {
        Metrics::add(&shared.metrics.connections_refused_per_address, 1);
        connection.close(
            VarInt::from_u32(close_code::TOO_MANY_CONNECTIONS),
            b"too many connections from this address",
        );
        return;
    }
    Metrics::add(&shared.metrics.connections_total, 1);
    Metrics::add(&shared.metrics.connections_active, 1);
    serve(connection, &shared, stop, slot, login_deadline).await;
    shared
        .metrics
        .connections_active
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// Serves one connection to its end; it holds `slot` until then and must log in by
/// `login_deadline`.
async fn serve<S: Store>(
    connection: quinn::Connection,
    shared: &Shared<S>,
    mut shutdown: watch::Receiver<bool>,
    mut slot: Slot,
    login_deadline: Instant,
) {
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
    // Unbounded, but each response holds one of the request loop's in-flight permits until it
    // is written.
    let (responses, responses_rx) = mpsc::unbounded_channel();
    let challenge: [u8; 32] = rand::random();
    // The challenge is the first frame the client reads.
    let first = ServerFrame::Push(Push::Challenge { nonce: challenge });
    let (closing, closing_rx) = oneshot::channel();
    let mut writer = tokio::spawn(writer::write_frames(
        send,
        first,
        Queues {
            responses: responses_rx,
            frames: outbox_rx,
            closing: closing_rx,
        },
        shared.limits.max_frame_len,
    ));
    let mut session = Session::new(shared.connection_id(), challenge, exporter, outbox.clone());
    let mut delivery = None;
    let ending = reader::request_loop(
        shared,
        &mut session,
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
        &mut delivery,
    )
    .await;

    if let (Some(mailbox), Some(online)) = (session.mailbox, &session.online) {
        shared.hub.unregister(mailbox, online.connection_id);
    }
    let online = session.online.take();
    drop(session);
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
        Ending::FrameTooLarge => {
            Metrics::add(&shared.metrics.protocol_errors, 1);
            (close_code::FRAME_TOO_LARGE, b"frame too large")
        }
        Ending::Malformed => {
            Metrics::add(&shared.metrics.protocol_errors, 1);
            (close_code::PROTOCOL_ERROR, b"malformed frame")
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
