//! Scenario 4: the relay (a child process) SIGKILLed mid-conversation and restarted on the same
//! SQLite files and port while the link drops 5% both ways: everything the clients queued,
//! which includes everything the relay acknowledged, arrives once and in order.

use std::time::Duration;

use hush_lossy::Impairment;

use crate::traffic::{Conversation, DRAIN_BOUND};
use crate::world::{ChildRelay, Pair};

/// Messages each way, one every 10 ms.
const MESSAGES: usize = 500;
const PACE: Duration = Duration::from_millis(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_and_restarted_under_loss_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = ChildRelay::start("127.0.0.1:0".parse().unwrap(), dir.path()).await;
    let pair = Pair::through_proxy(relay.addr, relay.fingerprint, 4).await;
    pair.handle.set_both(Impairment {
        loss: 0.05,
        ..Impairment::none()
    });
    let mut conversation = Conversation::new();
    let sending = conversation.send(&pair, MESSAGES, PACE);
    conversation.wait_received(&pair, MESSAGES / 5, DRAIN_BOUND).await;
    relay.kill_and_restart().await;
    conversation
        .wait_received(&pair, 2 * MESSAGES / 5, DRAIN_BOUND)
        .await;
    relay.kill_and_restart().await;
    sending.await.unwrap();
    let figures = conversation.finish(&pair, "relay_restart", DRAIN_BOUND).await;
    figures.print();
    assert!(
        figures.reconnects >= 2,
        "the clients reconnected to the restarted relay"
    );
}
