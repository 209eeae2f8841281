//! The end-to-end mode with accounts of several devices (`hush-bench e2e --devices N`): Alice's
//! account has two devices, Bob's has `N`; Alice's first device sends to Bob's account address,
//! and the run ends when every one of Bob's devices stored every message and Alice's other device
//! stored every synced copy. The baseline, in the same run against the same relay, is bare relay
//! connections carrying as many opaque envelopes of the same size (one per copy), given as
//! messages per second (envelopes per second divided by the copies of a message).

use std::sync::Arc;

use anyhow::Context;
use hush_client::{Client, ClientEvent, Content, DatabaseKey, Event, Events, RelayAddress};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::e2e::{E2eOutcome, E2eRun, RUN_TIMEOUT, bare_relay, open_client, sealed_len, send_all, wait_for};

/// A device that joins the account of `holder`.
async fn linked(
    dir: &std::path::Path,
    name: &str,
    key: u8,
    relay: &RelayAddress,
    holder: &Client,
) -> anyhow::Result<(Client, Events)> {
    let (device, mut events) =
        Client::open_joining(dir.join(name), &DatabaseKey::from_bytes([key; 32]), relay.clone())
            .await
            .with_context(|| format!("opening profile {name}"))?;
    device.register().await?;
    let code = device.link_code().await?.to_text();
    holder.link_device(&code, false).await?;
    device.join_account().await?;
    wait_event(&mut events, |event| {
        matches!(event, ClientEvent::Core(Event::OwnListPublished { .. }))
    })
    .await
    .context("the linked device's membership was not published")?;
    Ok((device, events))
}

async fn wait_event(events: &mut Events, mut done: impl FnMut(&ClientEvent) -> bool) -> anyhow::Result<()> {
    tokio::time::timeout(RUN_TIMEOUT, async {
        while let Some(event) = events.next().await {
            if done(&event) {
                return Ok(());
            }
        }
        anyhow::bail!("event stream ended")
    })
    .await
    .context("timed out")?
}

/// Counts `count` synced copies.
async fn wait_synced(events: &mut Events, count: usize) -> anyhow::Result<()> {
    let mut seen = 0;
    wait_event(events, |event| {
        seen += usize::from(matches!(event, ClientEvent::Core(Event::MessageSynced(_))));
        seen >= count
    })
    .await
}

/// Runs both halves against the relay at `relay`, Bob with `devices` devices.
pub async fn measure(relay: &RelayAddress, run: &E2eRun, devices: usize) -> anyhow::Result<E2eOutcome> {
    anyhow::ensure!(
        run.messages > 0 && run.window > 0,
        "--messages and --window must be at least 1"
    );
    anyhow::ensure!(
        (2..=6).contains(&devices),
        "--devices is 1 to 6 (an account has at most 6)"
    );
    let dir = tempfile::tempdir()?;
    let (alice, _alice_events) = open_client(dir.path(), "alice.db", 1, relay).await?;
    let (alice_laptop, mut laptop_events) = linked(dir.path(), "alice-laptop.db", 2, relay, &alice).await?;
    let (bob, bob_events) = open_client(dir.path(), "bob.db", 3, relay).await?;
    let mut others = Vec::new();
    for n in 1..devices {
        let key = u8::try_from(3 + n).context("few devices")?;
        others.push(linked(dir.path(), &format!("bob-{n}.db"), key, relay, &bob).await?);
    }
    let (alice_account, bob_account) = (alice.account_address().await?, bob.account_address().await?);
    let mut bobs = vec![(bob, bob_events)];
    bobs.extend(others);
    alice.add_contact("bob", bob_account).await?;
    alice_laptop.add_contact("bob", bob_account).await?;
    for (bob, _) in &bobs {
        bob.add_contact("alice", alice_account).await?;
    }
    let alice = Arc::new(alice);
    let text = "x".repeat(run.text_len);

    // Warm-up: sessions with every device (bundle fetches, X3DH).
    alice.send(bob_account, Content::text("warm-up")).await?;
    for (_, events) in &mut bobs {
        wait_for(events, 1).await?;
    }
    wait_synced(&mut laptop_events, 1).await?;

    let start = Instant::now();
    let sender = send_all(&alice, bob_account, run, text);
    let mut receivers = JoinSet::new();
    let messages = run.messages;
    let mut clients = Vec::new();
    for (bob, mut events) in bobs {
        clients.push(bob);
        receivers.spawn(async move { wait_for(&mut events, messages).await });
    }
    receivers.spawn(async move { wait_synced(&mut laptop_events, messages).await });
    tokio::time::timeout(RUN_TIMEOUT, async {
        while let Some(done) = receivers.join_next().await {
            done??;
        }
        anyhow::Ok(())
    })
    .await
    .context("not every device received every message in time")??;
    let client_elapsed = start.elapsed();
    sender.await??;

    let copies = devices + 1;
    let envelope_len = sealed_len(run.text_len)?;
    let envelopes = bare_relay(relay, run.messages * copies, run.window * copies, envelope_len).await?;
    if let Ok(alice) = Arc::try_unwrap(alice) {
        alice.shutdown().await?;
    }
    alice_laptop.shutdown().await?;
    for bob in clients {
        bob.shutdown().await?;
    }
    Ok(E2eOutcome {
        client_rate: run.messages as f64 / client_elapsed.as_secs_f64(),
        relay_rate: envelopes / copies as f64,
        envelope_len,
        copies,
    })
}
