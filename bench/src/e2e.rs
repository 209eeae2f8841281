//! The end-to-end mode: two `hush-client` profiles (encrypted SQLCipher databases) exchange
//! messages through the relay — encrypt, seal, relay, decrypt, store on both sides, receipts —
//! and, in the same run against the same relay, the same number of opaque envelopes of the same
//! size between two bare relay connections (no crypto, no client database) as the baseline.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use hush_client::{Client, ClientEvent, Content, DatabaseKey, Event, Events, RelayAddress};
use hush_client_core::{Body, MessageId, Payload};
use hush_crypto::{Account, SessionMessage};
use hush_proto::{Envelope, MailboxId, Request, Seq};
use hush_relay::client::RelayClient;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Longest the whole exchange may take before the run is declared broken.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The e2e workload.
#[derive(Debug, Clone)]
pub struct E2eRun {
    /// Messages from Alice to Bob.
    pub messages: usize,
    /// Sends Alice's app keeps outstanding at once (each returns once durably queued).
    pub window: usize,
    /// Text bytes per message.
    pub text_len: usize,
}

/// Both figures.
#[derive(Debug)]
pub struct E2eOutcome {
    /// Messages per second, first send to last message stored by Bob.
    pub client_rate: f64,
    /// Envelopes per second between bare relay connections.
    pub relay_rate: f64,
    /// Bytes of one sealed envelope (what the baseline sends).
    pub envelope_len: usize,
    /// Sealed copies of each message (one per receiving device, plus the sender's other
    /// devices); the baseline carries that many envelopes per message.
    pub copies: usize,
}

pub(crate) async fn open_client(
    dir: &std::path::Path,
    name: &str,
    key: u8,
    relay: &RelayAddress,
) -> anyhow::Result<(Client, Events)> {
    let (client, events) = Client::open(dir.join(name), &DatabaseKey::from_bytes([key; 32]), relay.clone())
        .await
        .with_context(|| format!("opening profile {name}"))?;
    tokio::time::timeout(Duration::from_secs(30), client.register())
        .await
        .context("registration timed out")??;
    Ok((client, events))
}

/// Runs both halves against the relay at `relay`.
pub async fn measure(relay: &RelayAddress, run: &E2eRun) -> anyhow::Result<E2eOutcome> {
    if run.messages == 0 || run.window == 0 {
        bail!("--messages and --window must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let (alice, _alice_events) = open_client(dir.path(), "alice.db", 1, relay).await?;
    let (bob, mut bob_events) = open_client(dir.path(), "bob.db", 2, relay).await?;
    let alice = Arc::new(alice);
    let bob_address = bob.address();
    // Alice is Bob's contact: her messages are delivered, not held as a message request.
    bob.accept(alice.address()).await?;
    let text = "x".repeat(run.text_len);

    // Warm-up: the first message sets up the session (bundle fetch, X3DH).
    alice.send(bob_address, Content::text("warm-up")).await?;
    wait_for(&mut bob_events, 1).await?;

    let start = Instant::now();
    let sender = send_all(&alice, bob_address, run, text);
    tokio::time::timeout(RUN_TIMEOUT, wait_for(&mut bob_events, run.messages))
        .await
        .context("Bob did not receive every message in time")??;
    let client_elapsed = start.elapsed();
    sender.await??;

    // The size of what the relay carried per message: seal(session message(payload)).
    let envelope_len = sealed_len(run.text_len)?;
    let relay_rate = bare_relay(relay, run.messages, run.window, envelope_len).await?;
    if let Ok(alice) = Arc::try_unwrap(alice) {
        alice.shutdown().await?;
    }
    bob.shutdown().await?;
    Ok(E2eOutcome {
        client_rate: run.messages as f64 / client_elapsed.as_secs_f64(),
        relay_rate,
        envelope_len,
        copies: 1,
    })
}

/// Sends `run.messages` texts from `alice` to `to` in the background, `run.window` at once.
pub(crate) fn send_all(
    alice: &Arc<Client>,
    to: hush_client::Address,
    run: &E2eRun,
    text: String,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let alice = Arc::clone(alice);
    let window = Arc::new(Semaphore::new(run.window));
    let messages = run.messages;
    tokio::spawn(async move {
        let mut sends = JoinSet::new();
        for _ in 0..messages {
            let permit = Arc::clone(&window).acquire_owned().await?;
            let alice = Arc::clone(&alice);
            let text = text.clone();
            sends.spawn(async move {
                let result = alice.send(to, Content::text(text)).await;
                drop(permit);
                result
            });
        }
        while let Some(result) = sends.join_next().await {
            result??;
        }
        anyhow::Ok(())
    })
}

pub(crate) async fn wait_for(events: &mut Events, count: usize) -> anyhow::Result<()> {
    let mut received = 0;
    while received < count {
        match events.next().await {
            Some(ClientEvent::Core(Event::MessageReceived(_))) => received += 1,
            Some(ClientEvent::Stopped(reason)) => bail!("client stopped: {reason}"),
            Some(_) => {}
            None => bail!("event stream ended"),
        }
    }
    Ok(())
}

/// Bytes of the sealed envelope one of the run's messages becomes once the session is past its
/// first round trip: measured by building that envelope (payload, ratchet message, seal).
pub(crate) fn sealed_len(text_len: usize) -> anyhow::Result<usize> {
    let mut rng = rand::rng();
    let alice = Account::new(0, &mut rng);
    let mut bob = Account::new(0, &mut rng);
    let bundle = bob
        .prekey_bundle(None)
        .context("a new account has a signed prekey")?
        .verify(None)?;
    let mut alice_session = alice.create_outbound_session(b"a", b"b", &bundle, 0, &mut rng)?;
    let first = alice_session.encrypt(0, b"warm-up", &mut rng)?;
    let SessionMessage::PreKey(first) = first else {
        bail!("a session's first message carries the X3DH header");
    };
    let mut bob_session = bob.create_inbound_session(b"b", &first, 0, &mut rng)?.session;
    alice_session.decrypt(&bob_session.encrypt(0, b"receipt", &mut rng)?, &mut rng)?;
    let payload = Payload {
        id: MessageId([0; 16]),
        conv_seq: 1000,
        sent_at: 1_800_000_000_000,
        body: Body::Content(Content::text("x".repeat(text_len))),
    }
    .encode()?;
    let framed = hush_client_core::frame_payload(
        &hush_client_core::Address::from_identity(&alice.identity_key()),
        &payload,
    );
    let inner = alice_session.encrypt(0, &framed, &mut rng)?.to_bytes();
    Ok(hush_crypto::sealed::seal(&alice, &bob.identity_key(), &inner, &mut rng)?.len())
}

/// `count` opaque envelopes from one bare connection to another through the relay, `window`
/// outstanding; returns envelopes per second until the last is delivered.
pub(crate) async fn bare_relay(
    relay: &RelayAddress,
    count: usize,
    window: usize,
    envelope_len: usize,
) -> anyhow::Result<f64> {
    let addr = tokio::net::lookup_host((relay.host.as_str(), relay.port))
        .await?
        .next()
        .context("relay address does not resolve")?;
    let mut rng = rand::rng();
    let sender_account = Account::new(0, &mut rng);
    let receiver_account = Account::new(0, &mut rng);
    let mut sender = RelayClient::connect(addr, relay.fingerprint).await?;
    sender.login(&sender_account, None).await?;
    let mut receiver = RelayClient::connect(addr, relay.fingerprint).await?;
    receiver.login(&receiver_account, None).await?;
    let to = MailboxId::for_identity(&receiver_account.identity_key().to_bytes());
    let envelope = Envelope::new(vec![0x5a; envelope_len]).context("envelope too large")?;

    let start = Instant::now();
    let receiving = tokio::spawn(async move {
        let mut last = Seq(0);
        for index in 0..count {
            let delivery = receiver.next_delivery().await?;
            last = delivery.seq;
            if index % 32 == 31 {
                // Deliveries that arrive meanwhile are kept for next_delivery.
                receiver.request(Request::Ack { through: last }).await?;
            }
        }
        receiver.request(Request::Ack { through: last }).await?;
        anyhow::Ok(())
    });
    // A window of outstanding sends on one connection, like the client's pipelined outbox.
    let mut outstanding = 0usize;
    let mut sent = 0usize;
    while sent < count || outstanding > 0 {
        while sent < count && outstanding < window {
            sender
                .write_request(Request::Send {
                    to,
                    access: None,
                    envelope: envelope.clone(),
                })
                .await?;
            sent += 1;
            outstanding += 1;
        }
        sender.next_response().await?;
        outstanding -= 1;
    }
    tokio::time::timeout(RUN_TIMEOUT, receiving)
        .await
        .context("bare receiver did not get every envelope in time")???;
    Ok(count as f64 / start.elapsed().as_secs_f64())
}
