//! The relay over real QUIC on 127.0.0.1:0 with a real SQLite file: authentication, the prekey
//! directory, store-and-forward, limits, abuse and shutdown. Test names start with the line of
//! ../shared/SECURITY-TESTS.md they cover, where they cover one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;
// The KEM prekey directory's tests, in this binary to save CI a link.
mod kem_prekeys;

use std::collections::HashSet;

use helpers::{
    T0, all_bytes, assert_nothing_more_delivered, close_code_of, contains, mailbox, next_delivery,
    prekey_upload, refused, spawn_relay, spawn_relay_in,
};
use hush_crypto::Account;
use hush_proto::{
    ClientFrame, Envelope, ErrorCode, MAX_FRAME_LEN, MailboxId, Push, Request, RequestId, Response, Seq,
    Signature, encode_frame,
};
use hush_relay::client::{ClientError, RelayClient};
use hush_relay::connection::close_code;
use hush_relay::store::Store;

fn envelope(bytes: &[u8]) -> Envelope {
    Envelope::new(bytes.to_vec()).unwrap()
}

async fn send(client: &mut RelayClient, to: MailboxId, bytes: &[u8]) -> Result<Response, ClientError> {
    client
        .request(Request::Send {
            to,
            access: None,
            envelope: envelope(bytes),
        })
        .await
}

/// Waits for the connection to be closed by the relay and returns the application close code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_need_login_and_wrong_key_unknown_and_deleted_mailbox_get_one_error() {
    let relay = spawn_relay(|config| {
        // Registration by token: an unknown mailbox cannot just sign up.
        let authority = Account::new(T0, &mut rand::rng());
        config.registration_key = Some(hush_relay::tls::to_hex(&authority.identity_key().to_bytes()));
    })
    .await;
    let mut anonymous = relay.connect().await;
    for request in [
        Request::FetchBundle {
            mailbox: MailboxId([1; 32]),
            access: None,
        },
        Request::Ack { through: Seq(1) },
        Request::DeleteMailbox,
        Request::Send {
            to: MailboxId([1; 32]),
            access: None,
            envelope: envelope(b"x"),
        },
    ] {
        assert_eq!(refused(anonymous.request(request).await), ErrorCode::Unauthorized);
    }
    // Wrong key: a signature by another identity than the one claimed.
    let claimed = Account::new(T0, &mut rand::rng());
    let signer = Account::new(T0, &mut rand::rng());
    let mut wrong_key = relay.connect().await;
    let wrong = wrong_key
        .request(Request::Authenticate {
            identity_key: claimed.identity_key().to_bytes(),
            signature: Signature(signer.sign(hush_crypto::SignaturePurpose::RelayLogin, b"anything")),
            registration: None,
        })
        .await;
    // Unknown mailbox: a valid signature, but not registered and no token.
    let mut unknown = relay.connect().await;
    let unknown_result = unknown.login(&claimed, None).await;
    let (wrong, unknown_result) = match (wrong, unknown_result) {
        (Err(ClientError::Refused(a)), Err(ClientError::Refused(b))) => (a, b),
        other => panic!("expected two refusals, got {other:?}"),
    };
    assert_eq!(wrong, unknown_result, "same code and the same detail text");
    assert_eq!(wrong.code, ErrorCode::Unauthorized);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_mailbox_is_indistinguishable_from_unknown_and_leaves_nothing() {
    let relay = spawn_relay(|_| {}).await;
    let (mut bob, mut bob_client) = relay.user().await;
    let (_, mut alice_client) = relay.user().await;
    bob_client.request(prekey_upload(&mut bob, 5)).await.unwrap();
    send(&mut alice_client, mailbox(&bob), b"queued for bob")
        .await
        .unwrap();
    assert!(
        contains(&all_bytes(&relay.data_dir), b"queued for bob"),
        "the envelope is stored (sanity check of the grep)"
    );
    assert_eq!(
        bob_client.request(Request::DeleteMailbox).await.unwrap(),
        Response::MailboxDeleted
    );
    // Gone from every file of the data directory: database, WAL and message journal.
    assert!(!contains(&all_bytes(&relay.data_dir), b"queued for bob"));
    assert_eq!(close_code_of(&bob_client).await, u64::from(close_code::DONE));
    // Sending to or fetching the deleted mailbox: the same answer as for one that never existed.
    let deleted = refused(send(&mut alice_client, mailbox(&bob), b"after").await);
    let never = refused(send(&mut alice_client, MailboxId([9; 32]), b"after").await);
    assert_eq!(deleted, never);
    let deleted = refused(
        alice_client
            .request(Request::FetchBundle {
                mailbox: mailbox(&bob),
                access: None,
            })
            .await,
    );
    let never = refused(
        alice_client
            .request(Request::FetchBundle {
                mailbox: MailboxId([9; 32]),
                access: None,
            })
            .await,
    );
    assert_eq!(deleted, never);
    assert_eq!(relay.handle.store().queue_depth().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_prekey_claimed_at_most_once_under_50_concurrent_fetches() {
    let relay = spawn_relay(|_| {}).await;
    let (mut owner, mut owner_client) = relay.user().await;
    owner_client.request(prekey_upload(&mut owner, 20)).await.unwrap();
    let target = mailbox(&owner);
    let mut fetchers = Vec::new();
    for _ in 0..50 {
        fetchers.push(relay.user().await.1);
    }
    let tasks: Vec<_> = fetchers
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                client
                    .request(Request::FetchBundle {
                        mailbox: target,
                        access: None,
                    })
                    .await
            })
        })
        .collect();
    let mut claimed = Vec::new();
    let mut without = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Response::Bundle(bundle) => match bundle.one_time_prekey {
                Some(otk) => claimed.push(otk.id),
                None => without += 1,
            },
            other => panic!("unexpected {other:?}"),
        }
    }
    let distinct: HashSet<u32> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 20, "each of the 20 prekeys served");
    assert_eq!(distinct.len(), 20, "no prekey served twice");
    assert_eq!(without, 30, "the rest get the last-resort bundle");
    // The owner learns its count is low.
    let mut low = None;
    while low.is_none() {
        if let Push::PreKeysLow { remaining } = owner_client.next_push().await.unwrap() {
            low = Some(remaining);
        }
    }
    assert!(low.unwrap() < 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_fetches_beyond_the_per_requester_limit_are_refused() {
    let relay = spawn_relay(|config| config.limits.bundle_fetches_per_minute = 3).await;
    let (mut owner, mut owner_client) = relay.user().await;
    owner_client.request(prekey_upload(&mut owner, 10)).await.unwrap();
    let (_, mut drainer) = relay.user().await;
    for _ in 0..3 {
        assert!(matches!(
            drainer
                .request(Request::FetchBundle {
                    mailbox: mailbox(&owner),
                    access: None,
                })
                .await
                .unwrap(),
            Response::Bundle(_)
        ));
    }
    assert_eq!(
        refused(
            drainer
                .request(Request::FetchBundle {
                    mailbox: mailbox(&owner),
                    access: None,
                })
                .await
        ),
        ErrorCode::RateLimited
    );
    // Another requester is not affected.
    let (_, mut other) = relay.user().await;
    assert!(
        other
            .request(Request::FetchBundle {
                mailbox: mailbox(&owner),
                access: None,
            })
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_with_bad_signature_or_too_many_prekeys_is_rejected() {
    let relay = spawn_relay(|config| config.limits.max_one_time_prekeys = 10).await;
    let (mut owner, mut client) = relay.user().await;
    let Request::UploadPreKeys {
        mut signed_prekey,
        one_time_prekeys,
    } = prekey_upload(&mut owner, 5)
    else {
        unreachable!()
    };
    signed_prekey.signature.0[10] ^= 1;
    assert_eq!(
        refused(
            client
                .request(Request::UploadPreKeys {
                    signed_prekey,
                    one_time_prekeys
                })
                .await
        ),
        ErrorCode::Invalid
    );
    // A signed prekey signed by someone else.
    let mut other = Account::new(T0, &mut rand::rng());
    assert_eq!(
        refused(client.request(prekey_upload(&mut other, 1)).await),
        ErrorCode::Invalid
    );
    // Within the cap, then over it: the whole upload is refused.
    assert_eq!(
        client.request(prekey_upload(&mut owner, 8)).await.unwrap(),
        Response::PreKeysStored { one_time_prekeys: 8 }
    );
    assert_eq!(
        refused(client.request(prekey_upload(&mut owner, 3)).await),
        ErrorCode::TooManyPreKeys
    );
    let (_, mut fetcher) = relay.user().await;
    let mut served = 0;
    while let Ok(Response::Bundle(bundle)) = fetcher
        .request(Request::FetchBundle {
            mailbox: mailbox(&owner),
            access: None,
        })
        .await
    {
        if bundle.one_time_prekey.is_none() {
            break;
        }
        served += 1;
    }
    assert_eq!(served, 8, "nothing of the refused upload was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_and_forward_to_offline_device_and_live_push_to_online_one() {
    let relay = spawn_relay(|_| {}).await;
    let bob = relay.offline_user().await;
    let (_, mut alice) = relay.user().await;
    // Bob is offline: stored.
    assert_eq!(
        send(&mut alice, mailbox(&bob), b"while offline").await.unwrap(),
        Response::Stored
    );
    let mut bob_client = relay.connect().await;
    bob_client.login(&bob, None).await.unwrap();
    let first = next_delivery(&mut bob_client).await;
    assert_eq!(first.envelope.as_bytes(), b"while offline");
    assert_eq!(first.received_at, T0);
    // Bob is online: pushed as soon as it is stored.
    send(&mut alice, mailbox(&bob), b"while online").await.unwrap();
    let second = next_delivery(&mut bob_client).await;
    assert_eq!(second.envelope.as_bytes(), b"while online");
    assert!(second.seq > first.seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordering_ack_semantics_and_at_least_once_redelivery() {
    let relay = spawn_relay(|_| {}).await;
    let bob = Account::new(T0, &mut rand::rng());
    let (_, mut alice) = relay.user().await;
    let mut bob_client = relay.connect().await;
    bob_client.login(&bob, None).await.unwrap();
    for i in 0..10u8 {
        send(&mut alice, mailbox(&bob), &[i]).await.unwrap();
    }
    let mut seqs = Vec::new();
    for i in 0..10u8 {
        let delivery = next_delivery(&mut bob_client).await;
        assert_eq!(delivery.envelope.as_bytes(), &[i], "in order");
        seqs.push(delivery.seq);
    }
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]));
    // An ack past what was delivered deletes nothing.
    assert_eq!(
        refused(
            bob_client
                .request(Request::Ack {
                    through: Seq(seqs[9].0 + 1)
                })
                .await
        ),
        ErrorCode::UnknownSequence
    );
    assert_eq!(
        bob_client
            .request(Request::Ack { through: seqs[4] })
            .await
            .unwrap(),
        Response::Acked { deleted: 5 }
    );
    bob_client.close();
    // Unacknowledged messages come again, in order, and only those.
    let mut bob_client = relay.connect().await;
    bob_client.login(&bob, None).await.unwrap();
    for i in 5..10u8 {
        let delivery = next_delivery(&mut bob_client).await;
        assert_eq!(delivery.envelope.as_bytes(), &[i]);
    }
    assert_nothing_more_delivered(&mut bob_client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_messages_are_purged_with_a_controllable_clock() {
    let relay = spawn_relay(|config| config.limits.message_ttl_secs = 3600).await;
    let bob = relay.offline_user().await;
    let (_, mut alice) = relay.user().await;
    send(&mut alice, mailbox(&bob), b"old").await.unwrap();
    relay.clock.advance(1800);
    send(&mut alice, mailbox(&bob), b"young").await.unwrap();
    relay.clock.advance(1801);
    assert_eq!(relay.handle.purge_expired().await.unwrap(), 1);
    let mut bob_client = relay.connect().await;
    bob_client.login(&bob, None).await.unwrap();
    assert_eq!(next_delivery(&mut bob_client).await.envelope.as_bytes(), b"young");
    assert!(
        relay
            .handle
            .render_metrics()
            .await
            .contains("hush_messages_expired_total 1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_quota_refused_until_drained() {
    let relay = spawn_relay(|config| config.limits.mailbox_max_messages = 3).await;
    let bob = Account::new(T0, &mut rand::rng());
    let mut bob_client = relay.connect().await;
    bob_client.login(&bob, None).await.unwrap();
    let (_, mut alice) = relay.user().await;
    for i in 0..3u8 {
        send(&mut alice, mailbox(&bob), &[i]).await.unwrap();
    }
    assert_eq!(
        refused(send(&mut alice, mailbox(&bob), b"one too many").await),
        ErrorCode::QuotaExceeded
    );
    let mut last = Seq(0);
    for _ in 0..3 {
        last = next_delivery(&mut bob_client).await.seq;
    }
    bob_client.request(Request::Ack { through: last }).await.unwrap();
    assert_eq!(
        send(&mut alice, mailbox(&bob), b"room again").await.unwrap(),
        Response::Stored
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_frame_closes_that_connection_only() {
    let relay = spawn_relay(|config| config.limits.max_frame_len = 4096).await;
    let (_, mut bystander) = relay.user().await;
    let mut abuser = relay.connect().await;
    // A prefix announcing a body over the limit: refused before any body is read.
    abuser.write_raw(&(1u32 << 30).to_be_bytes()).await.unwrap();
    assert_eq!(
        close_code_of(&abuser).await,
        u64::from(close_code::FRAME_TOO_LARGE)
    );
    assert_eq!(bystander.request(Request::Ping).await.unwrap(), Response::Pong);
    // A frame just over the configured limit, complete, is refused the same way once logged in
    // (before login the cap is what a login needs: see the pre-login tests).
    let (_, mut abuser) = relay.user().await;
    let big = encode_frame(
        &ClientFrame {
            id: RequestId(1),
            request: Request::Send {
                to: MailboxId([0; 32]),
                access: None,
                envelope: envelope(&[7; 5000]),
            },
        },
        MAX_FRAME_LEN,
    )
    .unwrap();
    abuser.write_raw(&big).await.unwrap();
    assert_eq!(
        close_code_of(&abuser).await,
        u64::from(close_code::FRAME_TOO_LARGE)
    );
    assert_eq!(bystander.request(Request::Ping).await.unwrap(), Response::Pong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frames_close_that_connection_only() {
    let relay = spawn_relay(|_| {}).await;
    let (_, mut bystander) = relay.user().await;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..20 {
        let mut abuser = relay.connect().await;
        let mut garbage = vec![0u8; 4 + 64];
        garbage[..4].copy_from_slice(&64u32.to_be_bytes());
        for byte in &mut garbage[4..] {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        // Make sure the body cannot be a valid request: an unknown enum tag after the id.
        garbage[4] = 0x01;
        garbage[5] = 0x7f;
        abuser.write_raw(&garbage).await.unwrap();
        assert_eq!(
            close_code_of(&abuser).await,
            u64::from(close_code::PROTOCOL_ERROR),
            "round {round}"
        );
    }
    assert_eq!(bystander.request(Request::Ping).await.unwrap(), Response::Pong);
    assert!(
        relay
            .handle
            .render_metrics()
            .await
            .contains("hush_protocol_errors_total 20")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_refused_and_silent_ones_time_out() {
    let relay = spawn_relay(|config| {
        config.limits.max_connections = 4;
        config.limits.login_timeout_secs = 1;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(relay.user().await.1);
    }
    // The fifth is refused at the handshake.
    let refused_connection = RelayClient::connect(relay.addr, relay.fingerprint).await;
    assert!(refused_connection.is_err());
    assert!(
        relay
            .handle
            .render_metrics()
            .await
            .contains("hush_connections_refused_total 1")
    );
    drop(held);
    // A connection that never logs in is closed by the relay (event-driven wait, no sleep).
    let relay = spawn_relay(|config| config.limits.login_timeout_secs = 1).await;
    let silent = relay.connect().await;
    assert_eq!(close_code_of(&silent).await, u64::from(close_code::LOGIN_TIMEOUT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_holds_no_plaintext_and_no_sender() {
    let relay = spawn_relay(|_| {}).await;
    let mut rng = rand::rng();
    let (mut bob, mut bob_client) = relay.user().await;
    bob_client.request(prekey_upload(&mut bob, 2)).await.unwrap();
    bob_client.close();
    let (alice, mut alice_client) = relay.user().await;
    // A real hush-crypto message carrying a unique marker.
    let marker = format!("marker-{:016x}", rand::random::<u64>());
    let bundle = bob.prekey_bundle(Some(1)).unwrap().verify(None).unwrap();
    let mut session = alice
        .create_outbound_session(b"alice", b"bob", &bundle, T0, &mut rng)
        .unwrap();
    let ciphertext = session
        .encrypt(T0, marker.as_bytes(), &mut rng)
        .unwrap()
        .to_bytes();
    send(&mut alice_client, mailbox(&bob), &ciphertext).await.unwrap();
    let files = all_bytes(&relay.data_dir);
    assert!(
        contains(&files, &ciphertext[..40]),
        "the envelope is stored (sanity check of the grep)"
    );
    assert!(
        !contains(&files, marker.as_bytes()),
        "no plaintext in the relay's files"
    );
    let db = rusqlite::Connection::open(relay.data_dir.join("relay.sqlite3")).unwrap();
    let mut statement = db
        .prepare("SELECT name FROM pragma_table_info('messages') ORDER BY cid")
        .unwrap();
    let columns: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        columns,
        ["mailbox", "seq", "received_at", "size", "envelope"],
        "no sender column"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_loses_no_acknowledged_message() {
    let mut relay = spawn_relay(|_| {}).await;
    let dir = relay.take_dir().unwrap();
    let bob = relay.offline_user().await;
    let target = mailbox(&bob);
    // Four senders push until the relay goes away; count what was acknowledged.
    let mut senders = Vec::new();
    for sender in 0..4u8 {
        let (_, mut client) = relay.user().await;
        senders.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..10_000u32 {
                let mut body = vec![sender];
                body.extend_from_slice(&i.to_be_bytes());
                match send(&mut client, target, &body).await {
                    Ok(Response::Stored) => acknowledged.push(body),
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    // Shut down while they send (after the first sender has some messages through).
    while relay.handle.render_metrics().await.lines().all(|line| {
        !line.starts_with("hush_messages_stored_total ")
            || line.split(' ').nth(1).unwrap().parse::<u64>().unwrap() < 50
    }) {
        tokio::task::yield_now().await;
    }
    relay.shutdown().await;
    let mut acknowledged = HashSet::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    assert!(acknowledged.len() >= 50);
    drop(relay);
    let relay = spawn_relay_in(dir.path().to_path_buf(), |_| {}).await;
    let mut bob_client = relay.connect().await;
    bob_client.login(&bob, None).await.unwrap();
    let mut received = HashSet::new();
    let mut last = Seq(0);
    while received.len() < acknowledged.len() {
        let delivery = next_delivery(&mut bob_client).await;
        last = delivery.seq;
        received.insert(delivery.envelope.as_bytes().to_vec());
    }
    assert!(
        acknowledged.is_subset(&received),
        "every acknowledged message survived the shutdown"
    );
    bob_client.request(Request::Ack { through: last }).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_serves_prometheus_text() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let relay = spawn_relay(|_| {}).await;
    let (_, mut alice) = relay.user().await;
    let bob = Account::new(T0, &mut rand::rng());
    let mut bob_client = relay.connect().await;
    bob_client.login(&bob, None).await.unwrap();
    send(&mut alice, mailbox(&bob), b"counted").await.unwrap();
    next_delivery(&mut bob_client).await;
    let addr = relay.metrics_addr.unwrap();
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    socket.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK"));
    assert!(text.contains("hush_messages_stored_total 1"));
    assert!(text.contains("hush_connections_active"));
    assert!(text.contains("hush_delivery_latency_seconds_count"));
    // The SQLite store's group commit: the send went through at least one journal sync.
    let value = |name: &str| -> u64 {
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} is served"));
        line[name.len() + 1..].parse().unwrap()
    };
    assert!(value("hush_store_sync_seconds_count") >= 1);
    assert!(value("hush_store_batches_total") >= 1);
    assert!(value("hush_store_batched_writes_total") >= value("hush_store_batches_total"));
    assert!(!text.contains("counted"), "no payload in metrics");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_token_signed_by_the_operator_admits_a_new_mailbox() {
    let authority = Account::new(T0, &mut rand::rng());
    let relay = spawn_relay(|config| {
        config.registration_key = Some(hush_relay::tls::to_hex(&authority.identity_key().to_bytes()));
    })
    .await;
    let user = Account::new(T0, &mut rand::rng());
    let identity = user.identity_key().to_bytes();
    let token = |expires_at: u64, signer: &Account| hush_proto::RegistrationToken {
        expires_at,
        signature: Signature(signer.sign(
            hush_crypto::SignaturePurpose::RegistrationToken,
            &hush_proto::registration_message(&identity, expires_at),
        )),
    };
    // Expired, or signed by someone else: the uniform refusal.
    let mut client = relay.connect().await;
    assert_eq!(
        refused(client.login(&user, Some(token(T0 - 1, &authority))).await),
        ErrorCode::Unauthorized
    );
    let mut client = relay.connect().await;
    assert_eq!(
        refused(client.login(&user, Some(token(T0 + 60, &user))).await),
        ErrorCode::Unauthorized
    );
    // A valid token registers; later logins need none.
    let mut client = relay.connect().await;
    assert!(matches!(
        client
            .login(&user, Some(token(T0 + 60, &authority)))
            .await
            .unwrap(),
        Response::Authenticated { .. }
    ));
    client.close();
    let mut client = relay.connect().await;
    assert!(client.login(&user, None).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_many_fans_out_atomically() {
    let relay = spawn_relay(|config| config.limits.mailbox_max_messages = 2).await;
    let (_, mut alice) = relay.user().await;
    let mut receivers = Vec::new();
    for _ in 0..3 {
        receivers.push(relay.user().await);
    }
    let mailboxes: Vec<MailboxId> = receivers.iter().map(|(account, _)| mailbox(account)).collect();
    let deliveries = |body: &[u8]| {
        hush_proto::Deliveries::new(
            mailboxes
                .iter()
                .map(|to| hush_proto::Addressed {
                    to: *to,
                    access: None,
                    envelope: envelope(body),
                })
                .collect(),
        )
        .unwrap()
    };
    assert_eq!(
        alice
            .request(Request::SendMany {
                deliveries: deliveries(b"group 1")
            })
            .await
            .unwrap(),
        Response::Stored
    );
    for (_, client) in &mut receivers {
        assert_eq!(next_delivery(client).await.envelope.as_bytes(), b"group 1");
    }
    // Fill one recipient's mailbox: the next fan-out is refused for everyone, nothing stored.
    send(&mut alice, mailboxes[0], b"extra").await.unwrap();
    assert_eq!(
        refused(
            alice
                .request(Request::SendMany {
                    deliveries: deliveries(b"group 2")
                })
                .await
        ),
        ErrorCode::QuotaExceeded
    );
    assert_eq!(
        next_delivery(&mut receivers[0].1).await.envelope.as_bytes(),
        b"extra"
    );
    for (_, client) in &mut receivers {
        assert_nothing_more_delivered(client).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_certificate_replaces_the_self_signed_one() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["relay.example".to_string()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    let expected = hush_relay::tls::fingerprint(certified.cert.der());
    let relay = spawn_relay(|config| {
        config.tls_cert = Some(cert_path.clone());
        config.tls_key = Some(key_path.clone());
    })
    .await;
    assert_eq!(relay.fingerprint, expected);
    assert!(
        !relay.data_dir.join("relay-cert.der").exists(),
        "no self-signed certificate was made"
    );
    let mut client = relay.connect().await;
    assert_eq!(client.request(Request::Ping).await.unwrap(), Response::Pong);
    // A client pinning another fingerprint refuses the relay.
    assert!(RelayClient::connect(relay.addr, [0; 32]).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_to_one_online_receiver_arrive_in_sequence_order_exactly_once() {
    let relay = spawn_relay(|config| config.storage.batch_max = 8).await;
    let bob = Account::new(T0, &mut rand::rng());
    let mut bob_client = relay.connect().await;
    bob_client.login(&bob, None).await.unwrap();
    let target = mailbox(&bob);
    let mut senders = Vec::new();
    for sender in 0..8u8 {
        let (_, mut client) = relay.user().await;
        senders.push(tokio::spawn(async move {
            for i in 0..50u8 {
                send(&mut client, target, &[sender, i]).await.unwrap();
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut last = Seq(0);
    let mut per_sender = [0u8; 8];
    while seen.len() < 400 {
        let delivery = next_delivery(&mut bob_client).await;
        assert_eq!(
            delivery.seq.0,
            last.0 + 1,
            "contiguous sequence numbers, in order"
        );
        last = delivery.seq;
        let body = delivery.envelope.as_bytes().to_vec();
        assert_eq!(
            body[1],
            per_sender[usize::from(body[0])],
            "each sender's messages in its order"
        );
        per_sender[usize::from(body[0])] += 1;
        assert!(seen.insert(body), "no duplicate");
    }
    for sender in senders {
        sender.await.unwrap();
    }
    assert_nothing_more_delivered(&mut bob_client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_sends_are_all_answered_and_a_stalled_reader_still_gets_everything_in_order() {
    let relay = spawn_relay(|_| {}).await;
    let bob = Account::new(T0, &mut rand::rng());
    let mut bob_client = relay.connect().await;
    bob_client.login(&bob, None).await.unwrap();
    let target = mailbox(&bob);
    // Bob does not read while Alice writes 400 requests without waiting for answers: 48 KiB
    // each, 19 MiB in all, far past what Bob's QUIC receive window and his connection's outbox
    // hold, so the relay must stop pushing live and later read the rest back from the store.
    let (_, mut alice) = relay.user().await;
    const COUNT: usize = 400;
    let mut ids = HashSet::new();
    for i in 0..COUNT {
        let mut bytes = vec![0u8; 48 * 1024];
        bytes[..2].copy_from_slice(&u16::try_from(i).unwrap().to_be_bytes());
        let id = alice
            .write_request(Request::Send {
                to: target,
                access: None,
                envelope: envelope(&bytes),
            })
            .await
            .unwrap();
        assert!(ids.insert(id));
    }
    for _ in 0..COUNT {
        let (id, response) = alice.next_response().await.unwrap();
        assert_eq!(response, Response::Stored);
        assert!(ids.remove(&id), "one answer per request");
    }
    for i in 0..COUNT {
        let delivery = next_delivery(&mut bob_client).await;
        assert_eq!(
            delivery.seq,
            Seq(u64::try_from(i).unwrap() + 1),
            "in order, none skipped"
        );
        let index = u16::from_be_bytes(delivery.envelope.as_bytes()[..2].try_into().unwrap());
        assert_eq!(usize::from(index), i, "Alice's order");
    }
    // And live pushes resume afterwards.
    send(&mut alice, target, b"after").await.unwrap();
    let delivery = next_delivery(&mut bob_client).await;
    assert_eq!(delivery.seq, Seq(u64::try_from(COUNT).unwrap() + 1));
    assert_eq!(delivery.envelope.as_bytes(), b"after");
    assert_nothing_more_delivered(&mut bob_client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_connection_leaves_no_task_behind() {
    let relay = spawn_relay(|_| {}).await;
    let runtime = tokio::runtime::Handle::current().metrics();
    // One user first, so the relay's own background tasks all exist before counting.
    let (_, first) = relay.user().await;
    first.close();
    let (_, mut probe) = relay.user().await;
    send(&mut probe, mailbox(&Account::new(T0, &mut rand::rng())), b"x")
        .await
        .ok();
    let before = runtime.num_alive_tasks();
    for _ in 0..20 {
        let (account, mut client) = relay.user().await;
        // A delivery task is running for this login: give it something to push.
        send(&mut probe, mailbox(&account), b"hello").await.unwrap();
        next_delivery(&mut client).await;
        client.close();
    }
    // Each connection's tasks (request loop, writer, delivery) end once it is closed.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(50));
    loop {
        let alive = runtime.num_alive_tasks();
        if alive <= before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{alive} tasks alive, {before} before 20 connections came and went"
        );
        ticks.tick().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_backend_serves_without_a_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = helpers::test_config(dir.path().to_path_buf());
    config.storage.backend = hush_relay::config::StorageBackend::Memory;
    let relay = hush_relay::Relay::bind(config).await.unwrap();
    let (addr, fingerprint) = (relay.local_addr().unwrap(), relay.fingerprint());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(relay.run(async move {
        let _ = stopped.await;
    }));
    let bob = Account::new(T0, &mut rand::rng());
    let mut bob_client = RelayClient::connect(addr, fingerprint).await.unwrap();
    bob_client.login(&bob, None).await.unwrap();
    let alice = Account::new(T0, &mut rand::rng());
    let mut alice_client = RelayClient::connect(addr, fingerprint).await.unwrap();
    alice_client.login(&alice, None).await.unwrap();
    send(&mut alice_client, mailbox(&bob), b"in memory")
        .await
        .unwrap();
    assert_eq!(
        next_delivery(&mut bob_client).await.envelope.as_bytes(),
        b"in memory"
    );
    stop.send(()).unwrap();
    running.await.unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|name| !name.contains("sqlite")),
        "a database file appeared: {names:?}"
    );
}
