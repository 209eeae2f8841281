//! Scenario 2: a 15-second partition in the middle of a burst, then healing: both clients see
//! the connection go, reconnect within their backoff once the link heals, and drain; nothing is
//! lost or duplicated.

use std::time::Duration;

use hush_lossy::Impairment;
use tokio::time::Instant;

use crate::traffic::{Conversation, reconnects};
use crate::world::{InProcessRelay, Pair};

/// Messages each way in the burst.
const MESSAGES: usize = 400;
/// One each way every 20 ms: the burst lasts 8 s, so it is still going when the link breaks.
const PACE: Duration = Duration::from_millis(20);
/// How long the link is cut.
const PARTITION: Duration = Duration::from_secs(15);
/// A client notices a silent relay within its keep-alive (2 s) plus idle timeout (6 s):
/// `hush_client`'s `KEEP_ALIVE + IDLE_TIMEOUT`, with a second to spare.
const NOTICE: Duration = Duration::from_secs(9);
/// After healing, a client is back within its longest reconnect delay (5 s) plus one connect
/// attempt (5 s; one under way when the link heals may have to time out first), plus slack for
/// a loaded machine.
const BACK_WITHIN: Duration = Duration::from_secs(15);
/// Bound on draining afterwards.
const BOUND: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_mid_burst_heals_and_every_message_arrives_once_in_order() {
    let relay = InProcessRelay::start().await;
    let pair = Pair::through_proxy(relay.addr, relay.fingerprint, 2).await;
    pair.handle.set_both(Impairment {
        delay: Duration::from_millis(50),
        jitter: Duration::from_millis(10),
        ..Impairment::none()
    });
    let mut conversation = Conversation::new();
    let burst = conversation.send(&pair, MESSAGES, PACE);
    conversation.wait_received(&pair, MESSAGES / 4, BOUND).await;

    let offline_before = [
        pair.alice.progress.borrow().offlines,
        pair.bob.progress.borrow().offlines,
    ];
    let online_before = [pair.alice.onlines(), pair.bob.onlines()];
    pair.handle.set_partition(true);
    let cut = Instant::now();
    for (party, before) in [(&pair.alice, offline_before[0]), (&pair.bob, offline_before[1])] {
        party
            .wait("the client notices the partition", NOTICE, |progress| {
                progress.offlines > before
            })
            .await;
    }
    // Datagrams already on the wire when the link broke may still have landed; from here on
    // nothing can.
    let received_before = [pair.alice.received(), pair.bob.received()];
    // The partition lasts its full length: the clients keep retrying meanwhile.
    tokio::time::sleep_until(cut + PARTITION).await;
    assert_eq!(
        [pair.alice.received(), pair.bob.received()],
        received_before,
        "nothing crossed the partition"
    );
    pair.handle.set_partition(false);
    let healed = Instant::now();
    for (party, before) in [(&pair.alice, online_before[0]), (&pair.bob, online_before[1])] {
        party
            .wait("the client reconnects after healing", BACK_WITHIN, |progress| {
                progress.onlines > before
            })
            .await;
    }
    let back_after = healed.elapsed();
    burst.await.unwrap();
    let mut figures = conversation.finish(&pair, "partition_15s", BOUND).await;
    figures.extra = format!("back_after_ms={} {}", back_after.as_millis(), figures.extra);
    figures.print();
    assert!(reconnects(&pair.alice) >= 1 && reconnects(&pair.bob) >= 1);
    drop(pair);
    relay.stop().await;
}
