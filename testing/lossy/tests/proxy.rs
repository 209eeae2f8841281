//! The proxy on real sockets: forwarding both ways, one upstream address per client,
//! partitions, rebinding and delay, against a UDP echo server on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hush_lossy::{Direction, Impairment, Proxy};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// Bound on every wait.
const PATIENCE: Duration = Duration::from_secs(10);

/// An echo server that also reports each datagram's source address.
async fn echo() -> (SocketAddr, mpsc::UnboundedReceiver<(SocketAddr, Vec<u8>)>) {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    let (seen, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 2048];
        while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
            let _ = seen.send((from, buffer[..len].to_vec()));
            let _ = socket.send_to(&buffer[..len], from).await;
        }
    });
    (addr, seen_rx)
}

async fn client(proxy: &Proxy) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(proxy.local_addr()).await.unwrap();
    socket
}

async fn round_trip(socket: &UdpSocket, payload: &[u8]) -> Vec<u8> {
    socket.send(payload).await.unwrap();
    let mut buffer = vec![0u8; 2048];
    let len = timeout(PATIENCE, socket.recv(&mut buffer))
        .await
        .expect("no echo through the proxy")
        .unwrap();
    buffer[..len].to_vec()
}

#[tokio::test]
async fn each_client_gets_its_own_upstream_address_and_its_answers() {
    let (server, mut seen) = echo().await;
    let proxy = Proxy::start(server, 1).await.unwrap();
    let (a, b) = (client(&proxy).await, client(&proxy).await);
    assert_eq!(round_trip(&a, b"from a").await, b"from a");
    assert_eq!(round_trip(&b, b"from b").await, b"from b");
    let (from_a, _) = seen.recv().await.unwrap();
    let (from_b, _) = seen.recv().await.unwrap();
    assert_ne!(from_a, from_b, "the server sees two clients");
    assert_ne!(
        from_a,
        a.local_addr().unwrap(),
        "the proxy's socket, not the client's"
    );
    let stats = proxy.handle().stats();
    assert_eq!(stats.flows, 2);
    assert_eq!((stats.up.sent, stats.down.sent), (2, 2));
}

#[tokio::test]
async fn a_partition_drops_everything_until_it_heals() {
    let (server, mut seen) = echo().await;
    let proxy = Proxy::start(server, 2).await.unwrap();
    let handle = proxy.handle();
    let socket = client(&proxy).await;
    assert_eq!(round_trip(&socket, b"before").await, b"before");
    seen.recv().await.unwrap();

    handle.set_partition(true);
    for i in 0..200u32 {
        socket.send(&i.to_be_bytes()).await.unwrap();
    }
    // Every one of them was decided (and dropped) once the proxy counted 201 arrivals.
    timeout(PATIENCE, async {
        while handle.stats().up.received < 201 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the proxy did not read the datagrams");
    assert_eq!(handle.stats().up.dropped, 200);
    assert!(seen.try_recv().is_err(), "nothing crossed the partition");

    handle.set_partition(false);
    assert_eq!(round_trip(&socket, b"after").await, b"after");
    assert_eq!(seen.recv().await.unwrap().1, b"after");
}

#[tokio::test]
async fn rebinding_moves_the_flow_to_a_new_source_port() {
    let (server, mut seen) = echo().await;
    let proxy = Proxy::start(server, 3).await.unwrap();
    let socket = client(&proxy).await;
    assert_eq!(round_trip(&socket, b"one").await, b"one");
    let (before, _) = seen.recv().await.unwrap();
    let fresh = proxy.handle().rebind_upstream().await.unwrap();
    assert_eq!(
        round_trip(&socket, b"two").await,
        b"two",
        "answers reach the new port"
    );
    let (after, _) = seen.recv().await.unwrap();
    assert_ne!(before, after);
    assert_eq!(fresh, [after]);
    assert_eq!(proxy.handle().stats().rebinds, 1);
}

#[tokio::test]
async fn delay_holds_a_datagram_back_in_one_direction_only() {
    let (server, mut seen) = echo().await;
    let proxy = Proxy::start(server, 4).await.unwrap();
    proxy.handle().set(
        Direction::Down,
        Impairment {
            delay: Duration::from_millis(300),
            ..Impairment::none()
        },
    );
    let socket = client(&proxy).await;
    let sent = Instant::now();
    socket.send(b"slow").await.unwrap();
    timeout(PATIENCE, seen.recv()).await.unwrap().unwrap();
    let up = sent.elapsed();
    let mut buffer = [0u8; 16];
    timeout(PATIENCE, socket.recv(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    let round = sent.elapsed();
    assert!(up < Duration::from_millis(300), "up is not delayed: {up:?}");
    assert!(round >= Duration::from_millis(300), "down is: {round:?}");
}

#[tokio::test]
async fn loss_drops_about_its_share_of_real_datagrams() {
    let (server, mut seen) = echo().await;
    let proxy = Proxy::start(server, 5).await.unwrap();
    let handle = proxy.handle();
    handle.set(
        Direction::Up,
        Impairment {
            loss: 0.25,
            ..Impairment::none()
        },
    );
    let socket = client(&proxy).await;
    for i in 0..2_000u32 {
        socket.send(&i.to_be_bytes()).await.unwrap();
        // Paced so the loopback socket buffers never drop anything themselves.
        if i % 100 == 99 {
            timeout(PATIENCE, async {
                while handle.stats().up.received < u64::from(i + 1) {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .unwrap();
        }
    }
    let stats = handle.stats();
    // 25% of 2,000: the standard deviation is about 19, so 400..600 is beyond 5 of them.
    assert!((400..=600).contains(&stats.up.dropped), "{stats:?}");
    // Every datagram not dropped reaches the server.
    let expected = 2_000 - stats.up.dropped;
    let mut arrived = 0;
    timeout(PATIENCE, async {
        while arrived < expected {
            seen.recv().await.unwrap();
            arrived += 1;
        }
    })
    .await
    .expect("datagrams the proxy let through went missing");
}
