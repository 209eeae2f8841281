//! Delivery of stored messages to a logged-in connection: its delivery state ([`Online`]), the
//! one place that builds and pushes a `Deliver`, and the task that catches the connection up
//! from the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hush_proto::{Delivery as ProtoDelivery, MailboxId, Push, Seq, ServerFrame};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::warn;

use crate::metrics::Metrics;
use crate::store::{Store, StoredMessage};

/// Messages read from the store per delivery round.
pub(crate) const DELIVERY_BATCH: usize = 64;

/// Where a connection's deliveries come from right now.
#[derive(Debug)]
struct Delivery {
    /// The delivery task is reading the store (at login, after a gap, or while the connection's
    /// outbox is full); senders leave their messages to it. Otherwise senders push their
    /// just-committed message themselves when it is the next in sequence.
    catching_up: bool,
    /// Something was stored while catching up: the task must read again before it goes live.
    more: bool,
    /// When the oldest message not yet pushed was stored (for the latency histogram).
    pending_since: Option<Instant>,
}

/// A logged-in connection's handles.
#[derive(Debug)]
pub(crate) struct Online {
    /// Unique per connection.
    pub(crate) connection_id: u64,
    /// Wakes the delivery task: read the store.
    pub(crate) wake: Notify,
    /// Fired when a newer login of the same mailbox replaces this connection.
    pub(crate) replaced: Notify,
    /// Frames to write to this connection.
    pub(crate) outbox: mpsc::Sender<ServerFrame>,
    /// Highest sequence number pushed on this connection (acks may not go past it).
    pushed: AtomicU64,
    delivery: Mutex<Delivery>,
}

/// What an [`Online::offer`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// Pushed to the connection now.
    Pushed,
    /// Left to the delivery task (or already pushed by it).
    Deferred,
}

/// The `Deliver` push of a stored message.
pub(crate) fn deliver_frame(message: StoredMessage) -> ServerFrame {
    ServerFrame::Push(Push::Deliver(ProtoDelivery {
        seq: Seq(message.seq),
        received_at: message.received_at,
        envelope: message.envelope,
    }))
}

impl Online {
    /// A new connection's handles; it starts catching up (its delivery task reads the store).
    pub(crate) fn new(connection_id: u64, outbox: mpsc::Sender<ServerFrame>) -> Self {
        Self {
            connection_id,
            wake: Notify::new(),
            replaced: Notify::new(),
            outbox,
            pushed: AtomicU64::new(0),
            delivery: Mutex::new(Delivery {
                catching_up: true,
                more: false,
                pending_since: None,
            }),
        }
    }

    /// Highest sequence number pushed so far.
    pub(crate) fn pushed_through(&self) -> u64 {
        self.pushed.load(Ordering::Acquire)
    }

    /// Records a push before it can be acknowledged.
    pub(crate) fn record_push(&self, seq: u64) {
        self.pushed.fetch_max(seq, Ordering::AcqRel);
    }

    fn delivery(&self) -> std::sync::MutexGuard<'_, Delivery> {
        // Plain flags and a time: a panic while holding the lock leaves them usable.
        self.delivery.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A just-committed message for this connection. Pushed now if the connection is live and
    /// it is the next in sequence and the outbox has room; otherwise the delivery task is told
    /// to read the store (where the message already is).
    pub(crate) fn offer(&self, message: StoredMessage) -> Offered {
        let mut delivery = self.delivery();
        if message.seq <= self.pushed_through() {
            return Offered::Deferred;
        }
        if !delivery.catching_up && message.seq == self.pushed_through() + 1 {
            let seq = message.seq;
            let frame = deliver_frame(message);
            // Recorded first: the client may ack it as soon as it is written.
            let before = self.pushed.swap(seq, Ordering::AcqRel);
            if self.outbox.try_send(frame).is_ok() {
                return Offered::Pushed;
            }
            self.pushed.store(before, Ordering::Release);
        }
        self.defer(&mut delivery);
        Offered::Deferred
    }

    /// Pushes one message read from the store, waiting for room in the outbox; `false` once the
    /// connection's writer is gone.
    async fn push(&self, message: StoredMessage) -> bool {
        let seq = message.seq;
        let frame = deliver_frame(message);
        // Recorded before the push can be acknowledged.
        self.record_push(seq);
        self.outbox.send(frame).await.is_ok()
    }

    /// Something for this mailbox is in the store that was not offered: read it.
    pub(crate) fn stored(&self) {
        let mut delivery = self.delivery();
        self.defer(&mut delivery);
    }

    fn defer(&self, delivery: &mut Delivery) {
        delivery.catching_up = true;
        delivery.more = true;
        delivery.pending_since.get_or_insert_with(Instant::now);
        self.wake.notify_one();
    }

    /// For the delivery task before it reads the store: clears `more`, returns when the oldest
    /// waiting message was stored.
    pub(crate) fn start_reading(&self) -> Option<Instant> {
        let mut delivery = self.delivery();
        delivery.more = false;
        delivery.pending_since.take()
    }

    /// For the delivery task once a read found nothing more: goes live unless something was
    /// stored meanwhile (then `false`: read again).
    pub(crate) fn try_go_live(&self) -> bool {
        let mut delivery = self.delivery();
        if delivery.more {
            return false;
        }
        delivery.catching_up = false;
        true
    }

    /// Whether the delivery task has work (for its wait).
    pub(crate) fn catching_up(&self) -> bool {
        self.delivery().catching_up
    }
}

/// Starts the delivery task of a connection logged in to `mailbox`. It catches the connection up
/// from the store: at login, and whenever a sender could not push its message itself (a gap in
/// the sequence, a full outbox, a message stored by another node). Once a read finds nothing more
/// it goes live, and senders push their committed messages straight to the connection
/// ([`Online::offer`]) until the next gap.
pub(crate) fn spawn<S: Store>(
    store: Arc<S>,
    metrics: Arc<Metrics>,
    mailbox: MailboxId,
    online: Arc<Online>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            loop {
                let since = online.start_reading();
                let after = online.pushed_through();
                let messages = match store.fetch(mailbox, after, DELIVERY_BATCH).await {
                    Ok(messages) => messages,
                    Err(error) => {
                        warn!(%error, "delivery fetch failed");
                        return;
                    }
                };
                let full_batch = messages.len() == DELIVERY_BATCH;
                let delivered = messages.len() as u64;
                for message in messages {
                    if !online.push(message).await {
                        return;
                    }
                }
                if delivered > 0 {
                    Metrics::add(&metrics.messages_delivered, delivered);
                    if let Some(since) = since {
                        metrics.observe_delivery(since.elapsed());
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

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    pub(crate) fn message(seq: u64) -> StoredMessage {
        StoredMessage {
            seq,
            received_at: 7,
            envelope: hush_proto::Envelope::new(vec![u8::try_from(seq % 256).unwrap()]).unwrap(),
        }
    }

    fn delivered_seq(frame: ServerFrame) -> u64 {
        match frame {
            ServerFrame::Push(Push::Deliver(delivery)) => delivery.seq.0,
            other => panic!("expected a delivery, got {other:?}"),
        }
    }

    /// An online connection whose delivery task has caught up through `pushed`.
    pub(crate) fn live(capacity: usize, pushed: u64) -> (Online, mpsc::Receiver<ServerFrame>) {
        let (outbox, frames) = mpsc::channel(capacity);
        let online = Online::new(1, outbox);
        online.start_reading();
        online.record_push(pushed);
        assert!(online.try_go_live());
        (online, frames)
    }

    #[test]
    fn a_new_connection_leaves_messages_to_its_delivery_task_until_it_has_caught_up() {
        let (outbox, mut frames) = mpsc::channel(8);
        let online = Online::new(1, outbox);
        assert!(online.catching_up());
        assert_eq!(online.offer(message(1)), Offered::Deferred);
        assert!(frames.try_recv().is_err(), "nothing pushed while catching up");
        // The task read the store before that offer landed: it must read again.
        assert!(!online.try_go_live());
        online.start_reading();
        online.record_push(1);
        assert!(online.try_go_live());
        assert_eq!(online.offer(message(2)), Offered::Pushed);
        assert_eq!(delivered_seq(frames.try_recv().unwrap()), 2);
        assert_eq!(online.pushed_through(), 2);
    }

    #[test]
    fn live_pushes_only_the_next_message_and_a_gap_hands_reading_back() {
        let (online, mut frames) = live(8, 4);
        // Already pushed (the task read it from the store first): ignored.
        assert_eq!(online.offer(message(4)), Offered::Deferred);
        assert!(!online.catching_up());
        assert_eq!(online.offer(message(5)), Offered::Pushed);
        // 6 is missing (its hand-over is late, or another node stored it): read the store.
        assert_eq!(online.offer(message(7)), Offered::Deferred);
        assert!(online.catching_up());
        assert_eq!(online.pushed_through(), 5);
        assert_eq!(delivered_seq(frames.try_recv().unwrap()), 5);
        assert!(frames.try_recv().is_err());
        // While catching up, even the next message is left to the task.
        assert_eq!(online.offer(message(6)), Offered::Deferred);
        assert!(frames.try_recv().is_err());
    }

    #[test]
    fn a_full_outbox_leaves_the_message_to_the_store_and_does_not_count_it_pushed() {
        let (online, mut frames) = live(1, 0);
        assert_eq!(online.offer(message(1)), Offered::Pushed);
        assert_eq!(online.offer(message(2)), Offered::Deferred);
        assert_eq!(online.pushed_through(), 1, "an ack of 2 must still be refused");
        assert!(online.catching_up());
        assert_eq!(delivered_seq(frames.try_recv().unwrap()), 1);
        assert!(frames.try_recv().is_err());
    }
}
