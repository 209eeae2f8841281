//! Scenario 1: 10% loss, 200 ms ± 50 ms delay and 1% reordering both ways, while two clients
//! exchange 2,000 messages each way.

use std::time::Duration;

use hush_lossy::Impairment;

use crate::traffic::{Conversation, PACE};
use crate::world::relay_and_pair;

/// Messages each way.
const MESSAGES: usize = 2_000;
/// Bound on the whole exchange.
const BOUND: Duration = Duration::from_secs(600);

/// Scenario 1's link, both ways.
pub fn lossy_link() -> Impairment {
    Impairment {
        loss: 0.10,
        delay: Duration::from_millis(200),
        jitter: Duration::from_millis(50),
        reorder: 0.01,
        ..Impairment::none()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_delay_and_reordering_deliver_every_message_once_in_order() {
    let (relay, pair) = relay_and_pair(1).await;
    pair.handle.set_both(lossy_link());
    let mut conversation = Conversation::new();
    conversation.send(&pair, MESSAGES, PACE).await.unwrap();
    let figures = conversation.finish(&pair, "loss_delay_reorder", BOUND).await;
    figures.print();
    assert_eq!(figures.messages, 2 * MESSAGES);
    let stats = pair.handle.stats();
    assert!(
        stats.up.dropped > 0 && stats.down.dropped > 0,
        "the link was lossy: {stats:?}"
    );
    drop(pair);
    relay.stop().await;
}
