//! Cross-node notices: [`super::ops::enqueue`] sends `NOTIFY` on [`CHANNEL`] in its transaction
//! (so it goes out on commit), a login sends one on [`LOGIN_CHANNEL`], and one connection per
//! store `LISTEN`s to both and feeds the receiver that [`crate::store::Store::notices`] hands
//! out.

use std::future::poll_fn;
use std::time::Duration;

use hush_proto::MailboxId;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{AsyncMessage, NoTls};
use tracing::{debug, warn};

use crate::store::{BackendError, NodeNotice, StoreError};

/// The channel of messages stored.
pub(super) const CHANNEL: &str = "hush_relay_stored";
/// The channel of logins. Its own channel, so a node of an earlier version (which listens only
/// to [`CHANNEL`]) never mistakes a login for a message.
pub(super) const LOGIN_CHANNEL: &str = "hush_relay_login";

/// Notices buffered for the relay before newer ones are dropped. The relay's wake-up task only
/// flags a connection per notice, so it keeps up with thousands a second; the buffer covers a
/// burst while that task is not scheduled. A dropped notice delays a push, it loses nothing
/// (see `Store::notices`).
const NOTICE_CAPACITY: usize = 1024;

/// First wait before reconnecting a lost listening connection; doubled per failure up to
/// [`RECONNECT_MAX`], so a database that is down is not hammered.
const RECONNECT_MIN: Duration = Duration::from_millis(100);
/// Longest wait between reconnection attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// Tells one store's notices from the others': random per store, so a node skips its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NodeId(u64);

impl NodeId {
    pub(super) fn random() -> Self {
        Self(rand::random())
    }
}

/// A notice's text: the sending node and the mailbox, in hex. Nothing else of the message.
pub(super) fn payload(node: NodeId, mailbox: &MailboxId) -> String {
    format!("{:016x}:{}", node.0, hush_net::to_hex(&mailbox.0))
}

/// The mailbox a notice names, unless it is malformed or `own` sent it.
fn parse(payload: &str, own: NodeId) -> Option<MailboxId> {
    let (node, mailbox) = payload.split_once(':')?;
    let node = u64::from_str_radix(node, 16).ok()?;
    if node == own.0 {
        return None;
    }
    hush_net::from_hex::<32>(mailbox).map(MailboxId)
}

/// Opens the listening connection (failing if it cannot `LISTEN`), then keeps it open in a task
/// that reconnects when it breaks. The task ends once the returned receiver is dropped.
pub(super) async fn start(
    config: tokio_postgres::Config,
    own: NodeId,
) -> Result<mpsc::Receiver<NodeNotice>, StoreError> {
    let (notices, receiver) = mpsc::channel(NOTICE_CAPACITY);
    let (ready, listening) = oneshot::channel();
    tokio::spawn(listen(config, own, notices, ready));
    listening.await.map_err(|_| BackendError::ListenerStopped)??;
    Ok(receiver)
}

/// Why one listening session ended.
enum Ended {
    /// The receiver is gone: stop.
    Unwanted,
    /// The connection failed or could not be opened.
    Failed(StoreError),
}

async fn listen(
    config: tokio_postgres::Config,
    own: NodeId,
    notices: mpsc::Sender<NodeNotice>,
    ready: oneshot::Sender<Result<(), StoreError>>,
) {
    let mut ready = Some(ready);
    let mut backoff = RECONNECT_MIN;
    loop {
        match session(&config, own, &notices, &mut ready).await {
            Ended::Unwanted => return,
            Ended::Failed(error) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(error));
                    return;
                }
                // Notices sent until the new connection listens are lost: pushes for them wait
                // for the recipient's next login or next message.
                warn!(%error, "the database notice listener failed; reconnecting");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = notices.closed() => return,
        }
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}

/// One connection: `LISTEN`, then forward notices until it fails or nobody wants them.
async fn session(
    config: &tokio_postgres::Config,
    own: NodeId,
    notices: &mpsc::Sender<NodeNotice>,
    ready: &mut Option<oneshot::Sender<Result<(), StoreError>>>,
) -> Ended {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(error) => return Ended::Failed(StoreError::from(error)),
    };
    // The `LISTEN` runs while the connection is polled below (which is what sends it).
    let listen = format!("LISTEN {CHANNEL}; LISTEN {LOGIN_CHANNEL}");
    let listening = client.batch_execute(&listen);
    tokio::pin!(listening);
    let mut listened = false;
    loop {
        let message = tokio::select! {
            result = &mut listening, if !listened => {
                if let Err(error) = result {
                    return Ended::Failed(StoreError::from(error));
                }
                listened = true;
                debug!("listening for other relay nodes' notices");
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Ok(()));
                }
                continue;
            }
            message = poll_fn(|cx| connection.poll_message(cx)) => message,
            () = notices.closed() => return Ended::Unwanted,
        };
        match message {
            Some(Ok(AsyncMessage::Notification(notice))) => {
                let kind = match notice.channel() {
                    CHANNEL => NodeNotice::Stored,
                    LOGIN_CHANNEL => NodeNotice::LoggedIn,
                    _ => continue,
                };
                let Some(mailbox) = parse(notice.payload(), own) else {
                    continue;
                };
                // Full: dropped (see NOTICE_CAPACITY). Closed: the next turn returns.
                let _ = notices.try_send(kind(mailbox));
            }
            // Server notices (warnings) need nothing from us.
            Some(Ok(_)) => {}
            Some(Err(error)) => return Ended::Failed(StoreError::from(error)),
            None => {
                return Ended::Failed(BackendError::ListenerStopped.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_own_notices_are_skipped() {
        let mailbox = MailboxId([0xab; 32]);
        let (a, b) = (NodeId(1), NodeId(u64::MAX));
        let text = payload(a, &mailbox);
        assert_eq!(parse(&text, b), Some(mailbox));
        assert_eq!(parse(&text, a), None);
        for malformed in ["", "1", "zz:00", "2:abcd", &format!("2:{}", "g".repeat(64))] {
            assert_eq!(parse(malformed, b), None, "{malformed:?}");
        }
    }
}
