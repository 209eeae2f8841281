//! Scenario 3: the clients' addresses change mid-conversation, twice as a NAT rebinding (the
//! proxy's source port toward the relay changes) and once as the client moving its own socket
//! (`Client::rebind`): the QUIC connections migrate (or the clients reconnect), and nothing is
//! lost or duplicated.

use std::time::Duration;

use hush_lossy::Impairment;

use crate::traffic::Conversation;
use crate::world::{InProcessRelay, Pair};

/// Messages each way.
const MESSAGES: usize = 600;
/// One each way every 20 ms: 12 s of conversation.
const PACE: Duration = Duration::from_millis(20);
const BOUND: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_changes_mid_conversation_lose_and_duplicate_nothing() {
    let relay = InProcessRelay::start().await;
    let pair = Pair::through_proxy(relay.addr, relay.fingerprint, 3).await;
    pair.handle.set_both(Impairment {
        loss: 0.01,
        delay: Duration::from_millis(50),
        jitter: Duration::from_millis(10),
        ..Impairment::none()
    });
    let flows_before = pair.handle.stats().flows;
    let mut conversation = Conversation::new();
    let sending = conversation.send(&pair, MESSAGES, PACE);

    conversation.wait_received(&pair, MESSAGES / 4, BOUND).await;
    let moved = pair.handle.rebind_upstream().await.unwrap();
    assert!(!moved.is_empty());

    conversation.wait_received(&pair, MESSAGES / 2, BOUND).await;
    // Each client moves its own socket: the proxy sees it come from a new source port.
    assert!(
        pair.alice.client.rebind().await.unwrap(),
        "alice had a connection to move"
    );
    assert!(
        pair.bob.client.rebind().await.unwrap(),
        "bob had a connection to move"
    );

    conversation.wait_received(&pair, 3 * MESSAGES / 4, BOUND).await;
    pair.handle.rebind_upstream().await.unwrap();

    sending.await.unwrap();
    let mut figures = conversation.finish(&pair, "address_change", BOUND).await;
    let stats = pair.handle.stats();
    figures.extra = format!(
        "upstream_rebinds={} flows={} {}",
        stats.rebinds, stats.flows, figures.extra
    );
    figures.print();
    assert_eq!(stats.rebinds, 2);
    assert!(
        stats.flows >= flows_before + 2,
        "the clients' new sockets reached the proxy: {stats:?}"
    );
    drop(pair);
    relay.stop().await;
}
