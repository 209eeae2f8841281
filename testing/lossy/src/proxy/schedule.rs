//! The scheduler: items wait in a heap until their time, then go to `send`, in (time, arrival)
//! order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tokio::sync::mpsc;
use tokio::time::Instant;

/// An item due at `at`; `order` (arrival) breaks ties, so items due together keep it.
pub(super) struct Timed<T> {
    pub(super) at: Instant,
    pub(super) order: u64,
    pub(super) item: T,
}

/// Hands each item to `send` at its time.
pub(super) async fn send_loop<T, F, Fut>(mut scheduled: mpsc::UnboundedReceiver<Timed<T>>, mut send: F)
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut queue: BinaryHeap<Reverse<Timed<T>>> = BinaryHeap::new();
    loop {
        let next = queue.peek().map(|Reverse(due)| due.at);
        tokio::select! {
            timed = scheduled.recv() => match timed {
                Some(timed) => queue.push(Reverse(timed)),
                None => return,
            },
            () = sleep_until_opt(next), if next.is_some() => {
                let now = Instant::now();
                while queue.peek().is_some_and(|Reverse(due)| due.at <= now) {
                    if let Some(Reverse(due)) = queue.pop() {
                        send(due.item).await;
                    }
                }
            }
        }
    }
}

/// Heap order: earliest time first, then arrival.
impl<T> PartialEq for Timed<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl<T> Eq for Timed<T> {}
impl<T> PartialOrd for Timed<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Timed<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
