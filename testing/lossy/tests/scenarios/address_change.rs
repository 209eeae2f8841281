//! Scenario 3: the clients' addresses change mid-conversation, twice as a NAT rebinding (the
//! proxy's source port toward the relay changes) and once as the client moving its own socket
//! (`Client::rebind`): the QUIC connections migrate (or the clients reconnect), and nothing is
//! lost or duplicated.

use crate::traffic::{Conversation, DRAIN_BOUND, PACE, mild_link};
use crate::world::relay_and_pair;

/// Messages each way: 12 s of conversation.
const MESSAGES: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_changes_mid_conversation_lose_and_duplicate_nothing() {
    let (relay, pair) = relay_and_pair(3).await;
    pair.handle.set_both(mild_link(0.01));
    let flows_before = pair.handle.stats().flows;
    let mut conversation = Conversation::new();
    let sending = conversation.send(&pair, MESSAGES, PACE);

    conversation.wait_received(&pair, MESSAGES / 4, DRAIN_BOUND).await;
    let moved = pair.handle.rebind_upstream().await.unwrap();
    assert!(!moved.is_empty());

    conversation.wait_received(&pair, MESSAGES / 2, DRAIN_BOUND).await;
    // Each client moves its own socket: the proxy sees it come from a new source port.
    assert!(
        pair.alice.client.rebind().await.unwrap(),
        "alice had a connection to move"
    );
    assert!(
        pair.bob.client.rebind().await.unwrap(),
        "bob had a connection to move"
    );

    conversation
        .wait_received(&pair, 3 * MESSAGES / 4, DRAIN_BOUND)
        .await;
    pair.handle.rebind_upstream().await.unwrap();

    sending.await.unwrap();
    let mut figures = conversation.finish(&pair, "address_change", DRAIN_BOUND).await;
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
