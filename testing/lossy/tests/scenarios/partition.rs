//! Scenario 2: a 15-second partition in the middle of a burst, then healing: both clients see
//! the connection go, reconnect within their backoff once the link heals, and drain; nothing is
//! lost or duplicated.

use std::time::Duration;

use tokio::time::Instant;

use crate::traffic::{Conversation, DRAIN_BOUND, PACE, mild_link, reconnects};
use crate::world::relay_and_pair;

/// Messages each way in the burst: it lasts 8 s, so it is still going when the link breaks.
const MESSAGES: usize = 400;
/// How long the link is cut.
const PARTITION: Duration = Duration::from_secs(15);
/// A client notices a silent relay within its keep-alive (2 s) plus idle timeout (6 s):
/// `hush_client`'s `KEEP_ALIVE + IDLE_TIMEOUT`, with a second to spare.
const NOTICE: Duration = Duration::from_secs(9);
/// After healing, a client is back within its longest reconnect delay (5 s) plus one connect
/// attempt (5 s; one under way when the link heals may have to time out first), plus slack for
/// a loaded machine.
const BACK_WITHIN: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_mid_burst_heals_and_every_message_arrives_once_in_order() {
    let (relay, pair) = relay_and_pair(2).await;
    pair.handle.set_both(mild_link(0.0));
    let mut conversation = Conversation::new();
    let burst = conversation.send(&pair, MESSAGES, PACE);
    conversation.wait_received(&pair, MESSAGES / 4, DRAIN_BOUND).await;

    let before = pair.counts();
    pair.handle.set_partition(true);
    let cut = Instant::now();
    pair.wait_offline_again("the client notices the partition", NOTICE, before)
        .await;
    // Datagrams already on the wire when the link broke may still have landed; from here on
    // nothing can.
    let received_before = [pair.alice.received(), pair.bob.received()];
    // No connection to move: no handshake can finish across the partition.
    assert!(
        !pair.alice.client.rebind().await.unwrap(),
        "alice has no connection"
    );
    // The partition lasts its full length: the clients keep retrying meanwhile.
    tokio::time::sleep_until(cut + PARTITION).await;
    assert_eq!(
        [pair.alice.received(), pair.bob.received()],
        received_before,
        "nothing crossed the partition"
    );
    pair.handle.set_partition(false);
    let healed = Instant::now();
    pair.wait_online_again("the client reconnects after healing", BACK_WITHIN, before)
        .await;
    let back_after = healed.elapsed();
    burst.await.unwrap();
    let mut figures = conversation.finish(&pair, "partition_15s", DRAIN_BOUND).await;
    figures.extra = format!("back_after_ms={} {}", back_after.as_millis(), figures.extra);
    figures.print();
    assert!(reconnects(&pair.alice) >= 1 && reconnects(&pair.bob) >= 1);
    drop(pair);
    relay.stop().await;
}
