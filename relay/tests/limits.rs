//! Limits over real QUIC on 127.0.0.1:0: what a connection may do before login (frame size,
//! receive window, login deadline), the pools of unauthenticated and logged-in connections,
//! per-address shares, QUIC Retry under load, and the per-connection request rate. Clients come
//! from several loopback addresses (127.0.0.x) to stand for several hosts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::net::SocketAddr;
use std::time::Duration;

use helpers::{T0, TestRelay, mailbox, metric, next_delivery, prekey_upload, spawn_relay};
use hush_crypto::Account;
use hush_proto::{Envelope, ErrorCode, MailboxId, Request, Response};
use hush_relay::admission::{PRE_LOGIN_MAX_FRAME_LEN, PRE_LOGIN_RECEIVE_WINDOW};
use hush_relay::client::{ClientError, RelayClient};
use hush_relay::connection::close_code;

/// A bound on waiting for the relay to act, so a relay that does not fails the test.
const WAIT: Duration = Duration::from_secs(30);

/// A client endpoint sending from `ip` (a loopback address: another "host").
fn endpoint_from(relay: &TestRelay, ip: [u8; 4]) -> quinn::Endpoint {
    let mut endpoint = quinn::Endpoint::client(SocketAddr::from((ip, 0))).unwrap();
    endpoint.set_default_client_config(hush_net::client_config(relay.fingerprint).unwrap());
    endpoint
}

/// A new account logged in over `endpoint`.
async fn user_on(relay: &TestRelay, endpoint: &quinn::Endpoint) -> (Account, RelayClient) {
    let account = Account::new(T0, &mut rand::rng());
    let mut client = RelayClient::connect_on(endpoint, relay.addr).await.unwrap();
    client.login(&account, None).await.unwrap();
    (account, client)
}

/// Waits (bounded) for the relay to close the connection; its application close code.
async fn close_code_of(connection: &quinn::Connection) -> u64 {
    match tokio::time::timeout(WAIT, connection.closed()).await {
        Ok(quinn::ConnectionError::ApplicationClosed(close)) => close.error_code.into_inner(),
        Ok(other) => panic!("closed otherwise: {other:?}"),
        Err(_) => panic!("the relay did not close the connection"),
    }
}

async fn send(client: &mut RelayClient, to: MailboxId, bytes: &[u8]) -> Response {
    client
        .request(Request::Send {
            to,
            access: None,
            envelope: Envelope::new(bytes.to_vec()).unwrap(),
        })
        .await
        .unwrap()
}

/// One connection of a flood: it completes the handshake and the challenge and never logs in;
/// held open if the relay admits it.
async fn flood(
    relay: &TestRelay,
    endpoint: &quinn::Endpoint,
    held: &mut Vec<RelayClient>,
    refused: &mut usize,
) {
    match RelayClient::connect_on(endpoint, relay.addr).await {
        Ok(client) => held.push(client),
        Err(_) => *refused += 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_flood_fills_its_own_pool_while_logged_in_users_are_served() {
    let relay = spawn_relay(|config| {
        let limits = &mut config.limits;
        limits.max_connections = 3;
        limits.max_unauthenticated_connections = 8;
        // Only the hard cap here; Retry has its own test.
        limits.retry_unauthenticated_above = 8;
        limits.max_unauthenticated_per_address = 4;
        // The held flood must not time out while the test runs on a loaded machine.
        limits.login_timeout_secs = 120;
    })
    .await;
    let home = endpoint_from(&relay, [127, 0, 0, 1]);
    let flooders = [[127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 4]].map(|ip| endpoint_from(&relay, ip));
    let (alice, mut alice_client) = user_on(&relay, &home).await;

    // Connections that complete the handshake and never log in, held open.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..12 {
        flood(&relay, &flooders[0], &mut held, &mut refused).await;
    }
    assert_eq!(
        held.len(),
        4,
        "one address holds its share of the unauthenticated pool"
    );
    assert_eq!(alice_client.request(Request::Ping).await.unwrap(), Response::Pong);

    // Bob logs in during the flood: the flood has not taken every unauthenticated slot (per
    // address) and takes no logged-in slot at all.
    let (mut bob, mut bob_client) = user_on(&relay, &home).await;
    bob_client.request(prekey_upload(&mut bob, 10)).await.unwrap();

    for round in 0..36 {
        flood(&relay, &flooders[1 + round % 2], &mut held, &mut refused).await;
        if round % 6 == 5 {
            // Served during the flood: sends both ways, deliveries and bundle fetches.
            let text = format!("during the flood {round}");
            assert!(matches!(
                send(&mut alice_client, mailbox(&bob), text.as_bytes()).await,
                Response::Stored
            ));
            assert_eq!(
                next_delivery(&mut bob_client).await.envelope.as_bytes(),
                text.as_bytes()
            );
            assert!(matches!(
                send(&mut bob_client, mailbox(&alice), text.as_bytes()).await,
                Response::Stored
            ));
            assert_eq!(
                next_delivery(&mut alice_client).await.envelope.as_bytes(),
                text.as_bytes()
            );
            let fetched = alice_client
                .request(Request::FetchBundle {
                    mailbox: mailbox(&bob),
                    access: None,
                })
                .await
                .unwrap();
            assert!(matches!(fetched, Response::Bundle(_)));
        }
    }
    // Well over the pool: 48 attempts, 8 held, the rest refused.
    assert_eq!(held.len(), 8);
    assert_eq!(refused, 40);
    assert_eq!(metric(&relay, "hush_connections_unauthenticated").await, 8);
    assert_eq!(metric(&relay, "hush_mailboxes_online").await, 2);
    let per_address = metric(&relay, "hush_connections_refused_per_address_total").await;
    let pool_full = metric(&relay, "hush_connections_refused_unauthenticated_total").await;
    assert!(per_address >= 8 && pool_full >= 1, "{per_address} {pool_full}");
    assert_eq!(per_address + pool_full, 40);
    assert_eq!(metric(&relay, "hush_connections_refused_total").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_login_frame_larger_than_a_login_is_refused_from_its_prefix_and_never_buffered() {
    let relay = spawn_relay(|_| {}).await;
    let (_, mut bystander) = relay.user().await;

    // A length one byte over what a login needs: closed at once, no body waited for.
    let mut abuser = relay.connect().await;
    abuser
        .write_raw(&(PRE_LOGIN_MAX_FRAME_LEN + 1).to_be_bytes())
        .await
        .unwrap();
    assert_eq!(
        close_code_of(abuser.connection()).await,
        u64::from(close_code::FRAME_TOO_LARGE)
    );

    // A 1 MiB frame written at once: the relay's flow control lets in no more than the
    // pre-login window, so the QUIC stack holds no more than that for it either.
    let connection = endpoint_from(&relay, [127, 0, 0, 1])
        .connect(relay.addr, hush_net::SERVER_NAME)
        .unwrap()
        .await
        .unwrap();
    let (mut send, _recv) = connection.open_bi().await.unwrap();
    let mut frame = (1u32 << 20).to_be_bytes().to_vec();
    frame.resize(4 + (1 << 20), 0);
    let accepted = send.write(&frame).await.unwrap();
    assert!(
        accepted <= PRE_LOGIN_RECEIVE_WINDOW as usize,
        "the relay let {accepted} bytes in before login"
    );
    assert_eq!(
        close_code_of(&connection).await,
        u64::from(close_code::FRAME_TOO_LARGE)
    );
    assert_eq!(metric(&relay, "hush_pre_login_frames_refused_total").await, 2);
    assert_eq!(bystander.request(Request::Ping).await.unwrap(), Response::Pong);

    // After login the full frame size is back: a 100 KiB envelope goes through.
    let (receiver, _receiver_client) = relay.user().await;
    assert!(matches!(
        send_big(&mut bystander, mailbox(&receiver), 100 * 1024).await,
        Response::Stored
    ));
}

async fn send_big(client: &mut RelayClient, to: MailboxId, len: usize) -> Response {
    send(client, to, &vec![7; len]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_over_its_share_is_refused_and_others_are_not() {
    let relay = spawn_relay(|config| {
        config.limits.max_connections_per_address = 2;
    })
    .await;
    let crowded = endpoint_from(&relay, [127, 0, 0, 2]);
    let (_, mut first) = user_on(&relay, &crowded).await;
    let (_, _second) = user_on(&relay, &crowded).await;
    let third = RelayClient::connect_on(&crowded, relay.addr).await;
    assert!(third.is_err(), "a third connection from one address");
    assert_eq!(
        metric(&relay, "hush_connections_refused_per_address_total").await,
        1
    );
    // Another address is not affected, nor are the address's own logged-in connections.
    let (_, mut elsewhere) = user_on(&relay, &endpoint_from(&relay, [127, 0, 0, 3])).await;
    assert_eq!(elsewhere.request(Request::Ping).await.unwrap(), Response::Pong);
    assert_eq!(first.request(Request::Ping).await.unwrap(), Response::Pong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn above_the_threshold_new_connections_get_a_retry_and_past_the_cap_a_refusal() {
    let relay = spawn_relay(|config| {
        let limits = &mut config.limits;
        limits.max_unauthenticated_connections = 3;
        limits.retry_unauthenticated_above = 1;
        limits.login_timeout_secs = 120;
    })
    .await;
    let first = relay.connect().await;
    assert_eq!(metric(&relay, "hush_connections_retried_total").await, 0);
    // Past the threshold: a Retry, which the client answers; it is then admitted.
    let second = relay.connect().await;
    assert_eq!(metric(&relay, "hush_connections_retried_total").await, 1);
    let third = relay.connect().await;
    assert_eq!(metric(&relay, "hush_connections_retried_total").await, 2);
    // Past the cap: refused outright.
    assert!(RelayClient::connect(relay.addr, relay.fingerprint).await.is_err());
    assert_eq!(
        metric(&relay, "hush_connections_refused_unauthenticated_total").await,
        1
    );
    // A retried connection logs in like any other, and so leaves the pool.
    let mut second = second;
    second
        .login(&Account::new(T0, &mut rand::rng()), None)
        .await
        .unwrap();
    assert_eq!(metric(&relay, "hush_connections_unauthenticated").await, 2);
    drop((first, third));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_its_request_rate_is_refused_while_another_is_served() {
    // No refill: exactly the burst is allowed, so the test needs no clock.
    let relay = spawn_relay(|config| {
        config.limits.requests_per_second = 0;
        config.limits.request_burst = 5;
    })
    .await;
    // Connecting pings once and logging in is a second request.
    let (_, mut greedy) = relay.user().await;
    for _ in 0..3 {
        assert_eq!(greedy.request(Request::Ping).await.unwrap(), Response::Pong);
    }
    for _ in 0..2 {
        match greedy.request(Request::Ping).await {
            Err(ClientError::Refused(error)) => assert_eq!(error.code, ErrorCode::RateLimited),
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }
    // Another connection has its own budget.
    let (_, mut other) = relay.user().await;
    for _ in 0..3 {
        assert_eq!(other.request(Request::Ping).await.unwrap(), Response::Pong);
    }
    assert!(
        greedy.connection().close_reason().is_none(),
        "refused, not closed"
    );
}
