//! Protocol version 4 over real QUIC on 127.0.0.1:0 with a real SQLite file: the shared send (one
//! body for many mailboxes, each with its own part) and the ephemeral send (pushed to an online
//! contact, dropped otherwise, never stored). One test binary for both, to link once in CI.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use hush_crypto::Account;
use hush_proto::{
    AccessKey, EphemeralEnvelope, ErrorCode, MailboxId, Push, Request, Response, SharedAddressed, SharedBody,
    SharedDeliveries, SharedPart, split_shared_envelope,
};
use hush_relay::client::RelayClient;
use hush_relay::connection::close_code;

use helpers::{
    DELIVERY_TIMEOUT, all_bytes, assert_nothing_more_delivered, close_code_of, contains, keyed_user, mailbox,
    next_delivery, refused, spawn_relay, spawn_relay_in,
};

fn part_for(index: usize) -> Vec<u8> {
    format!("part for recipient {index}").into_bytes()
}

fn shared(body: &[u8], recipients: &[(MailboxId, Option<AccessKey>)]) -> Request {
    Request::SendShared {
        body: SharedBody::new(body.to_vec()).unwrap(),
        deliveries: SharedDeliveries::new(
            recipients
                .iter()
                .enumerate()
                .map(|(index, (to, access))| SharedAddressed {
                    to: *to,
                    access: *access,
                    part: SharedPart::new(part_for(index)).unwrap(),
                })
                .collect(),
        )
        .unwrap(),
    }
}

/// The next delivery, taken apart as a shared envelope: (part, body).
async fn next_shared(client: &mut RelayClient) -> (Vec<u8>, Vec<u8>) {
    let delivery = next_delivery(client).await;
    let split = split_shared_envelope(delivery.envelope.as_bytes()).unwrap();
    (split.part.to_vec(), split.body.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_send_reaches_each_mailbox_exactly_once_with_its_own_part() {
    let relay = spawn_relay(|_| {}).await;
    let (_, mut alice) = relay.user().await;
    let mut online = Vec::new();
    for _ in 0..3 {
        online.push(relay.user().await);
    }
    let offline = [relay.offline_user().await, relay.offline_user().await];
    let recipients: Vec<(MailboxId, Option<AccessKey>)> = online
        .iter()
        .map(|(account, _)| account)
        .chain(&offline)
        .map(|account| (mailbox(account), None))
        .collect();
    assert_eq!(
        alice
            .request(shared(b"one group message", &recipients))
            .await
            .unwrap(),
        Response::Stored
    );
    for (index, (_, client)) in online.iter_mut().enumerate() {
        assert_eq!(
            next_shared(client).await,
            (part_for(index), b"one group message".to_vec())
        );
        assert_nothing_more_delivered(client).await;
    }
    for (index, account) in offline.iter().enumerate() {
        let mut client = relay.connect().await;
        client.login(account, None).await.unwrap();
        assert_eq!(
            next_shared(&mut client).await,
            (part_for(online.len() + index), b"one group message".to_vec())
        );
        assert_nothing_more_delivered(&mut client).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_shared_send_survives_a_relay_restart() {
    let mut relay = spawn_relay(|_| {}).await;
    let dir = relay.take_dir().unwrap();
    let (_, mut alice) = relay.user().await;
    let offline: Vec<Account> = [(); 3]
        .iter()
        .map(|()| Account::new(helpers::T0, &mut rand::rng()))
        .collect();
    for account in &offline {
        let mut client = relay.connect().await;
        client.login(account, None).await.unwrap();
        client.close();
    }
    let recipients: Vec<_> = offline.iter().map(|account| (mailbox(account), None)).collect();
    assert_eq!(
        alice
            .request(shared(b"kept across restarts", &recipients))
            .await
            .unwrap(),
        Response::Stored
    );
    relay.shutdown().await;
    drop(relay);
    let relay = spawn_relay_in(dir.path().to_path_buf(), |_| {}).await;
    for (index, account) in offline.iter().enumerate() {
        let mut client = relay.connect().await;
        client.login(account, None).await.unwrap();
        assert_eq!(
            next_shared(&mut client).await,
            (part_for(index), b"kept across restarts".to_vec())
        );
        assert_nothing_more_delivered(&mut client).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_sends_check_each_recipients_access_key_and_stranger_budget_all_or_nothing() {
    let relay = spawn_relay(|config| config.limits.stranger_messages_per_mailbox = 1).await;
    let (_, mut alice) = relay.user().await;
    let (keyed_account, mut keyed) = relay.user().await;
    let (open_account, mut open) = relay.user().await;
    let key = AccessKey([0x5A; 32]);
    assert_eq!(
        keyed
            .request(Request::SetAccessKey { key: Some(key) })
            .await
            .unwrap(),
        Response::AccessKeySet
    );
    let (keyed_box, open_box) = (mailbox(&keyed_account), mailbox(&open_account));
    // A wrong key for one recipient refuses the send for every recipient.
    assert_eq!(
        refused(
            alice
                .request(shared(
                    b"x",
                    &[(open_box, None), (keyed_box, Some(AccessKey([1; 32])))]
                ))
                .await
        ),
        ErrorCode::AccessDenied
    );
    // The right key: a contact for one, a stranger (within its budget of one) for the other.
    let both = [(open_box, None), (keyed_box, Some(key))];
    assert_eq!(
        alice.request(shared(b"first", &both)).await.unwrap(),
        Response::Stored
    );
    // The stranger budget of the open mailbox is spent: refused for both, the keyed one too.
    assert_eq!(
        refused(alice.request(shared(b"second", &both)).await),
        ErrorCode::RateLimited
    );
    assert_eq!(next_shared(&mut open).await.1, b"first");
    assert_eq!(next_shared(&mut keyed).await.1, b"first");
    assert_nothing_more_delivered(&mut open).await;
    assert_nothing_more_delivered(&mut keyed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_recipients_and_sends_over_the_limits_are_refused_with_typed_errors() {
    let relay = spawn_relay(|config| {
        config.limits.max_shared_fanout_bytes = 1000;
        config.limits.max_envelope_len = 600;
    })
    .await;
    let (_, mut alice) = relay.user().await;
    let (bob_account, mut bob) = relay.user().await;
    let (carol_account, _carol) = relay.user().await;
    let (bob_box, carol_box) = (mailbox(&bob_account), mailbox(&carol_account));
    assert_eq!(
        refused(
            alice
                .request(shared(
                    b"twice",
                    &[(bob_box, None), (carol_box, None), (bob_box, None)]
                ))
                .await
        ),
        ErrorCode::Invalid
    );
    // Each envelope within the 600 bytes, but two of them over the fan-out limit of 1,000.
    let body = vec![7; 500];
    assert_eq!(
        refused(
            alice
                .request(shared(&body, &[(bob_box, None), (carol_box, None)]))
                .await
        ),
        ErrorCode::Invalid
    );
    // One envelope over the envelope limit.
    assert_eq!(
        refused(alice.request(shared(&[7; 590], &[(bob_box, None)])).await),
        ErrorCode::Invalid
    );
    assert_eq!(
        alice.request(shared(&body, &[(bob_box, None)])).await.unwrap(),
        Response::Stored
    );
    assert_eq!(next_shared(&mut bob).await.1, body);
    assert_nothing_more_delivered(&mut bob).await;

    // Over the protocol's limits the frame does not decode: the connection is closed with a
    // protocol error. 1,001 recipients, then one part of 201 bytes.
    for (recipients, part_len) in [(1001usize, 0usize), (1, 201)] {
        let (_, mut sender) = relay.user().await;
        let mut body = vec![9, 12, 1, 0xB0];
        body.extend(postcard_varint(recipients));
        for index in 0..recipients {
            body.extend_from_slice(&[(index % 251) as u8; 32]);
            body.push(0);
            body.extend(postcard_varint(part_len));
            body.extend(std::iter::repeat_n(0xA0, part_len));
        }
        let mut frame = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
        frame.extend(body);
        sender.write_raw(&frame).await.unwrap();
        assert_eq!(
            close_code_of(&sender).await,
            u64::from(close_code::PROTOCOL_ERROR),
            "{recipients} recipients, a part of {part_len}"
        );
    }
    assert_eq!(alice.request(Request::Ping).await.unwrap(), Response::Pong);
}

fn postcard_varint(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}

fn ephemeral(to: MailboxId, access: Option<AccessKey>, bytes: &[u8]) -> Request {
    Request::SendEphemeral {
        to,
        access,
        envelope: EphemeralEnvelope::new(bytes.to_vec()).unwrap(),
    }
}

/// The next ephemeral push, failing the test if none comes in time; deliveries are set aside.
async fn next_ephemeral(client: &mut RelayClient) -> Vec<u8> {
    loop {
        let push = tokio::time::timeout(DELIVERY_TIMEOUT, client.next_push())
            .await
            .expect("a push within the timeout")
            .unwrap();
        if let Push::Ephemeral { envelope } = push {
            return envelope.into_bytes();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_sends_reach_an_online_contact_and_leave_nothing_in_the_data_directory() {
    const SENDS: usize = 1000;
    let relay = spawn_relay(|config| {
        config.limits.ephemeral_burst = 2 * SENDS as u32;
        config.limits.request_burst = 4 * SENDS as u32;
    })
    .await;
    let (_, mut alice) = relay.user().await;
    let key = AccessKey([0x42; 32]);
    let (_, mut bob, target) = keyed_user(&relay, key).await;
    let marker = |i: usize| format!("TYPING-MARKER-{i:05}-typing").into_bytes();
    let receiver = tokio::spawn(async move {
        let mut received = Vec::new();
        for _ in 0..SENDS {
            received.push(next_ephemeral(&mut bob).await);
        }
        (bob, received)
    });
    for i in 0..SENDS {
        assert_eq!(
            alice
                .request(ephemeral(target, Some(key), &marker(i)))
                .await
                .unwrap(),
            Response::EphemeralPushed,
            "send {i}"
        );
    }
    let (mut bob, received) = receiver.await.unwrap();
    assert_eq!(received, (0..SENDS).map(marker).collect::<Vec<_>>());
    assert_nothing_more_delivered(&mut bob).await;
    // A control message through the store shows the grep would find one that was written.
    alice
        .request(Request::Send {
            to: target,
            access: Some(key),
            envelope: hush_proto::Envelope::new(b"STORED-MARKER-control".to_vec()).unwrap(),
        })
        .await
        .unwrap();
    next_delivery(&mut bob).await;
    let files = all_bytes(&relay.data_dir);
    assert!(
        contains(&files, b"STORED-MARKER-control"),
        "the grep sees stored messages"
    );
    assert!(
        !contains(&files, b"TYPING-MARKER"),
        "an ephemeral envelope reached the disk"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_sends_are_refused_for_strangers_and_dropped_for_an_offline_contact() {
    let relay = spawn_relay(|_| {}).await;
    let (_, mut alice) = relay.user().await;
    let key = AccessKey([0x43; 32]);
    let (bob_account, mut bob, target) = keyed_user(&relay, key).await;
    // Without the key, or with a wrong one: refused, so a stranger cannot probe who is online.
    assert_eq!(
        refused(alice.request(ephemeral(target, None, b"hi")).await),
        ErrorCode::AccessDenied
    );
    assert_eq!(
        refused(
            alice
                .request(ephemeral(target, Some(AccessKey([1; 32])), b"hi"))
                .await
        ),
        ErrorCode::AccessDenied
    );
    assert_eq!(
        alice
            .request(ephemeral(target, Some(key), b"here"))
            .await
            .unwrap(),
        Response::EphemeralPushed
    );
    assert_eq!(next_ephemeral(&mut bob).await, b"here");
    bob.close();
    let _ = bob.connection().closed().await;
    // Offline: dropped. The relay ends the connection at its own pace; ask until it has (a bound
    // of 50 tries, within the default ephemeral burst).
    let mut answers = Vec::new();
    while answers.last() != Some(&Response::EphemeralDropped) && answers.len() < 50 {
        answers.push(
            alice
                .request(ephemeral(target, Some(key), b"gone"))
                .await
                .unwrap(),
        );
    }
    assert_eq!(answers.last(), Some(&Response::EphemeralDropped), "{answers:?}");
    // Nothing was kept for the next login.
    let mut bob = relay.connect().await;
    bob.login(&bob_account, None).await.unwrap();
    assert_nothing_more_delivered(&mut bob).await;
    assert!(
        bob.queued_pushes()
            .iter()
            .all(|push| !matches!(push, Push::Ephemeral { .. })),
        "an ephemeral send was kept for later"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_sends_have_their_own_per_connection_budget() {
    let relay = spawn_relay(|config| {
        config.limits.ephemeral_burst = 3;
        config.limits.ephemeral_per_second = 0;
    })
    .await;
    let (_, mut alice) = relay.user().await;
    let key = AccessKey([0x44; 32]);
    let (_, mut bob, target) = keyed_user(&relay, key).await;
    for _ in 0..3 {
        assert_eq!(
            alice.request(ephemeral(target, Some(key), b"t")).await.unwrap(),
            Response::EphemeralPushed
        );
    }
    assert_eq!(
        refused(alice.request(ephemeral(target, Some(key), b"t")).await),
        ErrorCode::RateLimited
    );
    // Other requests are not charged to it, and another connection has its own.
    assert_eq!(alice.request(Request::Ping).await.unwrap(), Response::Pong);
    let (_, mut carol) = relay.user().await;
    assert_eq!(
        carol.request(ephemeral(target, Some(key), b"t")).await.unwrap(),
        Response::EphemeralPushed
    );
    for _ in 0..4 {
        assert_eq!(next_ephemeral(&mut bob).await, b"t");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_offering_only_an_older_protocol_version_fails_the_handshake() {
    let relay = spawn_relay(|_| {}).await;
    let connect = |alpn: &'static [u8]| {
        let verifier = std::sync::Arc::new(hush_net::PinnedCertVerifier::new(relay.fingerprint));
        let mut crypto = rustls::ClientConfig::builder_with_provider(hush_net::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        crypto.alpn_protocols = vec![alpn.to_vec()];
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(crypto).unwrap();
        let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        endpoint.set_default_client_config(quinn::ClientConfig::new(std::sync::Arc::new(crypto)));
        let connecting = endpoint.connect(relay.addr, hush_net::SERVER_NAME).unwrap();
        async move { (connecting.await, endpoint) }
    };
    assert_eq!(hush_proto::ALPN, b"hush/6");
    for old in [&b"hush/5"[..], b"hush/4", b"hush/3", b"hush/2", b"hush/1"] {
        let (outcome, _endpoint) = connect(old).await;
        // TLS alert 120, no_application_protocol: QUIC crypto error 0x100 + 120.
        match outcome {
            Err(quinn::ConnectionError::ConnectionClosed(close)) => {
                assert_eq!(u64::from(close.error_code), 0x178, "{old:?}");
            }
            other => panic!("{old:?} connected or failed otherwise: {other:?}"),
        }
    }
    let (current, _endpoint) = connect(hush_proto::ALPN).await;
    assert!(current.is_ok(), "the current version connects");
}
