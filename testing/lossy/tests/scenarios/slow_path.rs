//! A slow path: 1 s each way, a 2 s round trip (a congested mobile uplink). Logging in takes
//! three round trips (the QUIC handshake, the ping and challenge, the signed login); when
//! connecting and logging in shared one 5-second budget, no attempt on this path could finish
//! and the client stayed offline for good. Regression test for that.

use std::time::Duration;

use hush_lossy::Impairment;

use crate::traffic::{Conversation, DRAIN_BOUND};
use crate::world::relay_and_pair;

/// One way.
const DELAY: Duration = Duration::from_millis(1_000);
/// The first attempt after the reconnect logs in: its backoff (under 1 s) plus three round
/// trips, with slack.
const BACK_WITHIN: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_second_round_trip_still_logs_in_and_delivers() {
    let (relay, pair) = relay_and_pair(6).await;
    pair.handle.set_both(Impairment {
        delay: DELAY,
        ..Impairment::none()
    });
    let before = pair.counts();
    pair.alice.client.reconnect().await.unwrap();
    pair.bob.client.reconnect().await.unwrap();
    pair.wait_online_again("logged in again over the slow path", BACK_WITHIN, before)
        .await;
    for ((_, offlines), now) in before.into_iter().zip(pair.counts()) {
        // One offline: the reconnect's own; any more is an attempt that failed.
        assert_eq!(now.1 - offlines, 1, "attempts that failed before one logged in");
    }
    let mut conversation = Conversation::new();
    conversation
        .send(&pair, 20, Duration::from_millis(50))
        .await
        .unwrap();
    let figures = conversation.finish(&pair, "slow_path_2s_rtt", DRAIN_BOUND).await;
    figures.print();
    drop(pair);
    relay.stop().await;
}
