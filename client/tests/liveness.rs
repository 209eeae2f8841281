//! A relay that goes silent (killed, or its network gone: no CONNECTION_CLOSE ever comes) is
//! noticed within seconds, and a relay that comes back is found again within seconds. Before,
//! an open chat showed "(online)" for 45-60 s after the relay died.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hush_client::{ClientEvent, ConnectionState, Content, RelayAddress};
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout};

use helpers::*;

/// How soon a running client must show a dead relay offline.
const NOTICE_WITHIN: Duration = Duration::from_secs(10);

/// A UDP forwarder between one client and the relay that can drop everything, the way a
/// killed relay or a cut network does.
struct Blackhole {
    address: RelayAddress,
    dropping: Arc<AtomicBool>,
}

impl Blackhole {
    async fn start(relay: &RelayAddress) -> Self {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let upstream: SocketAddr = format!("{}:{}", relay.host, relay.port).parse().unwrap();
        back.connect(upstream).await.unwrap();
        let dropping = Arc::new(AtomicBool::new(false));
        let client: Arc<std::sync::Mutex<Option<SocketAddr>>> = Arc::default();
        let address = RelayAddress {
            port: front.local_addr().unwrap().port(),
            ..relay.clone()
        };
        {
            let (front, back, dropping, client) =
                (front.clone(), back.clone(), dropping.clone(), client.clone());
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 65536];
                while let Ok((len, from)) = front.recv_from(&mut buffer).await {
                    *client.lock().unwrap() = Some(from);
                    if !dropping.load(Ordering::SeqCst) {
                        let _ = back.send(&buffer[..len]).await;
                    }
                }
            });
        }
        {
            let dropping = dropping.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 65536];
                while let Ok(len) = back.recv(&mut buffer).await {
                    let to = *client.lock().unwrap();
                    if let Some(to) = to
                        && !dropping.load(Ordering::SeqCst)
                    {
                        let _ = front.send_to(&buffer[..len], to).await;
                    }
                }
            });
        }
        Self { address, dropping }
    }

    fn cut(&self) {
        self.dropping.store(true, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.dropping.store(false, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_silent_relay_is_shown_offline_within_seconds_and_found_again_when_it_returns() {
    let relay = spawn_relay().await;
    let path = Blackhole::start(&relay.address).await;
    let dir = tempfile::tempdir().unwrap();
    let (client, mut events) = online_client(&dir.path().join("a.db"), &test_key(1), &path.address).await;

    path.cut();
    let cut_at = Instant::now();
    let offline = timeout(NOTICE_WITHIN, async {
        loop {
            match events.next().await {
                Some(ClientEvent::Connection(ConnectionState::Offline { .. })) => return,
                Some(_) => {}
                None => panic!("event stream ended"),
            }
        }
    })
    .await;
    assert!(
        offline.is_ok(),
        "the client still showed the silent relay online after {:?}",
        cut_at.elapsed()
    );

    path.restore();
    let back = timeout(NOTICE_WITHIN, async {
        loop {
            match events.next().await {
                Some(ClientEvent::Connection(ConnectionState::Online)) => return,
                Some(_) => {}
                None => panic!("event stream ended"),
            }
        }
    })
    .await;
    assert!(
        back.is_ok(),
        "the client did not find the relay again within {NOTICE_WITHIN:?}"
    );
    client.shutdown().await.unwrap();
    relay.stop().await;
}

/// Waits until `events` report a received message with text `text`.
async fn received(events: &mut hush_client::Events, text: &str) {
    collect_until(events, |_, got| texts(got).iter().any(|got| got == text)).await;
}

#[tokio::test]
async fn a_message_written_while_the_relay_is_silent_is_sent_once_it_returns() {
    let relay = spawn_relay().await;
    let path = Blackhole::start(&relay.address).await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut alice_events) =
        online_client(&dir.path().join("a.db"), &test_key(1), &path.address).await;
    let (bob, mut bob_events) = online_client(&dir.path().join("b.db"), &test_key(2), &relay.address).await;
    // Each writes first, so neither is a stranger's message request to the other.
    bob.send(alice.address(), Content::text("hi Alice"))
        .await
        .unwrap();
    alice.send(bob.address(), Content::text("hi Bob")).await.unwrap();
    received(&mut alice_events, "hi Alice").await;
    received(&mut bob_events, "hi Bob").await;

    path.cut();
    collect_until(&mut alice_events, |event, _| {
        matches!(event, ClientEvent::Connection(ConnectionState::Offline { .. }))
    })
    .await;
    alice
        .send(bob.address(), Content::text("written while the relay was silent"))
        .await
        .unwrap();
    path.restore();
    received(&mut bob_events, "written while the relay was silent").await;
    let history = bob.history(alice.address(), None, 100).await.unwrap();
    let stored: Vec<_> = history.into_iter().map(|entry| entry.message).collect();
    let copies = texts(&stored)
        .iter()
        .filter(|text| *text == "written while the relay was silent")
        .count();
    assert_eq!(copies, 1, "the message was stored {copies} times");
    alice.shutdown().await.unwrap();
    bob.shutdown().await.unwrap();
    relay.stop().await;
}
