//! The scheduler: datagrams wait in a heap until their departure time, then go out through
//! the flow's upstream socket (toward the relay) or the listening socket (toward the client).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Direction, ProxyHandle, Scheduled};

/// Sends each scheduled datagram at its time, in (time, arrival) order.
pub(super) async fn send_loop(handle: ProxyHandle, mut scheduled: mpsc::UnboundedReceiver<Scheduled>) {
    let mut queue: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    loop {
        let next = queue.peek().map(|Reverse(due)| due.0.at);
        tokio::select! {
            datagram = scheduled.recv() => match datagram {
                Some(datagram) => queue.push(Reverse(Due(datagram))),
                None => return,
            },
            () = sleep_until_opt(next), if next.is_some() => {
                let now = Instant::now();
                while queue.peek().is_some_and(|Reverse(due)| due.0.at <= now) {
                    if let Some(Reverse(Due(datagram))) = queue.pop() {
                        handle.send(datagram).await;
                    }
                }
            }
        }
    }
}

impl ProxyHandle {
    async fn send(&self, datagram: Scheduled) {
        let sent = match datagram.direction {
            Direction::Up => {
                let socket = self
                    .lock()
                    .flows
                    .get(&datagram.client)
                    .map(|flow| Arc::clone(&flow.upstream));
                match socket {
                    Some(socket) => socket.send(&datagram.bytes).await.is_ok(),
                    None => false,
                }
            }
            Direction::Down => self
                .context
                .listen
                .send_to(&datagram.bytes, datagram.client)
                .await
                .is_ok(),
        };
        let mut shared = self.lock();
        let counts = match datagram.direction {
            Direction::Up => &mut shared.stats.up,
            Direction::Down => &mut shared.stats.down,
        };
        if sent {
            counts.sent += 1;
            counts.bytes_sent += datagram.bytes.len() as u64;
        } else {
            counts.dropped += 1;
        }
    }
}

/// Heap order: earliest time first, then arrival.
struct Due(Scheduled);

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.0.at, self.0.order) == (other.0.at, other.0.order)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.at, self.0.order).cmp(&(other.0.at, other.0.order))
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
