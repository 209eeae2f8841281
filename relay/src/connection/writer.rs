//! A connection's writer task: the challenge first, then answers and pushes, answers first,
//! coalesced into few stream writes.

use hush_proto::{ServerFrame, encode_frame_into};
use quinn::SendStream;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tracing::warn;

/// Most bytes coalesced into one stream write.
const WRITE_COALESCE: usize = 64 * 1024;

/// A response on its way to the connection's writer, holding its in-flight permit until
/// written.
pub(super) struct Reply {
    frame: ServerFrame,
    _permit: OwnedSemaphorePermit,
}

impl Reply {
    pub(super) fn new(frame: ServerFrame, permit: OwnedSemaphorePermit) -> Self {
        Self {
            frame,
            _permit: permit,
        }
    }
}

/// What a connection's writer reads from.
pub(super) struct Queues {
    /// Answers, each holding its in-flight permit.
    pub(super) responses: mpsc::UnboundedReceiver<Reply>,
    /// Pushes.
    pub(super) frames: mpsc::Receiver<ServerFrame>,
    /// Fired when the request loop has ended: write what is queued and the answers still to
    /// come, then finish.
    pub(super) closing: oneshot::Receiver<()>,
}

/// Writes `first`, then encodes and writes frames, answers first, coalescing what is queued into
/// one write. Ends when the connection is closing and every answer is written and acknowledged
/// by the peer, or the stream fails.
pub(super) async fn write_frames(mut send: SendStream, first: ServerFrame, mut queues: Queues, max: u32) {
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

fn encode_into(buffer: &mut Vec<u8>, frame: &ServerFrame, max: u32) {
    if let Err(error) = encode_frame_into(frame, max, buffer) {
        warn!(%error, "dropping an unencodable frame");
    }
}
