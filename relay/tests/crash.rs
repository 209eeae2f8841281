//! Line 41 of ../shared/SECURITY-TESTS.md: the `hush-relay` binary SIGKILLed under load loses no
//! message it had acknowledged. Runs the real binary as a child process on a temporary data
//! directory, kills it mid-stream, restarts it on the same directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use helpers::{T0, mailbox};
use hush_crypto::Account;
use hush_proto::{Envelope, Request, Response};
use hush_relay::client::RelayClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// Limits for a load test: the per-connection request rate would otherwise refuse the senders
/// (`RateLimited`) long before thousands of messages are acknowledged.
/// The senders hold no access key: the stranger budgets are lifted too.
const UNTHROTTLED: &str = "[limits]\nrequests_per_second = 1000000\nrequest_burst = 1000000\n\
    stranger_messages_per_mailbox = 4294967295\nstranger_bytes_per_mailbox = 4611686018427387904\n";

/// A bound on every wait, so that a stalled relay or a lost message fails the test instead of
/// hanging it.
const PATIENCE: Duration = Duration::from_secs(120);

/// Starts the binary on port 0 and reads its address and fingerprint from its first lines.
async fn start(data_dir: &Path, config: &Path) -> (Child, SocketAddr, [u8; 32]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hush-relay"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "off",
            "--log",
            "warn",
        ])
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first_lines = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(address) = line.strip_prefix("relay address for clients: ") {
                let (addr, fingerprint) = address.split_once('#').unwrap();
                let fingerprint = hush_relay::tls::from_hex::<32>(fingerprint).unwrap();
                return Some((addr.parse().unwrap(), fingerprint));
            }
        }
        None
    };
    let Ok(Some((addr, fingerprint))) = timeout(PATIENCE, first_lines).await else {
        panic!("hush-relay did not print its address");
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr, fingerprint)
}

/// Killed within the first second: every acknowledged message is only in the message journal
/// (and memory), none flushed into the database yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_message() {
    sigkill_under_load_then_restart(400).await;
}

/// Killed after a flush: more unacknowledged messages than the SQLite store keeps in memory
/// (4,096) were acknowledged, so part of them is in the database and the rest in the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_a_flush_loses_no_acknowledged_message() {
    sigkill_under_load_then_restart(6_000).await;
}

/// Why a sender stopped.
enum Stop {
    /// `kill_after` messages are acknowledged in all: time to kill the relay.
    Enough,
    /// A sender got something other than `Stored` before the kill.
    Failed(String),
}

/// Four senders push to one offline mailbox; once `kill_after` messages are acknowledged the
/// relay is SIGKILLed and restarted on the same data directory, and every acknowledged message
/// must arrive, once, in order.
async fn sigkill_under_load_then_restart(kill_after: usize) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let config = dir.path().join("relay.toml");
    std::fs::write(&config, UNTHROTTLED).unwrap();
    let (mut relay, addr, fingerprint) = start(&data_dir, &config).await;
    let bob = Account::new(T0, &mut rand::rng());
    let mut bob_client = RelayClient::connect(addr, fingerprint).await.unwrap();
    bob_client.login(&bob, None).await.unwrap();
    bob_client.close();
    let target = mailbox(&bob);

    // Every message the relay answered `Stored`, recorded the moment the answer arrives.
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let killed = Arc::new(AtomicBool::new(false));
    let (stops, mut stopped) = mpsc::unbounded_channel();
    let mut senders = Vec::new();
    for sender in 0..4u8 {
        let account = Account::new(T0, &mut rand::rng());
        let mut client = RelayClient::connect(addr, fingerprint).await.unwrap();
        client.login(&account, None).await.unwrap();
        let acknowledged = acknowledged.clone();
        let killed = killed.clone();
        let stops = stops.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..1_000_000u32 {
                let mut body = vec![sender];
                body.extend_from_slice(&i.to_be_bytes());
                let envelope = Envelope::new(body.clone()).unwrap();
                let answer = client
                    .request(Request::Send {
                        to: target,
                        access: None,
                        envelope,
                    })
                    .await;
                if let Ok(Response::Stored) = answer {
                    let mut acknowledged = acknowledged.lock().unwrap();
                    acknowledged.insert(body);
                    if acknowledged.len() == kill_after {
                        let _ = stops.send(Stop::Enough);
                    }
                } else {
                    if !killed.load(Ordering::SeqCst) {
                        let _ = stops.send(Stop::Failed(format!("{answer:?}")));
                    }
                    return;
                }
            }
        }));
    }
    // Kill mid-stream once enough messages are acknowledged.
    match timeout(PATIENCE, stopped.recv()).await {
        Ok(Some(Stop::Enough)) => {}
        Ok(Some(Stop::Failed(answer))) => panic!("a sender was refused before the kill: {answer}"),
        Ok(None) | Err(_) => panic!("fewer than {kill_after} messages acknowledged in time"),
    }
    killed.store(true, Ordering::SeqCst);
    relay.start_kill().unwrap();
    relay.wait().await.unwrap();
    // The senders' requests in flight can never be answered now; stop them rather than wait for
    // their idle timeout. What they were told is in `acknowledged`.
    for sender in &senders {
        sender.abort();
    }
    for sender in senders {
        let _ = sender.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= kill_after);

    let (_relay, addr, restarted_fingerprint) = start(&data_dir, &config).await;
    assert_eq!(
        restarted_fingerprint, fingerprint,
        "the certificate is kept in the data directory"
    );
    let mut bob_client = RelayClient::connect(addr, fingerprint).await.unwrap();
    bob_client.login(&bob, None).await.unwrap();
    // The application layer: each body delivered once (by relay sequence number), none lost.
    let mut missing = acknowledged.clone();
    let mut received = HashSet::new();
    let mut last = hush_proto::Seq(0);
    while !missing.is_empty() {
        let Ok(delivery) = timeout(PATIENCE, bob_client.next_delivery()).await else {
            panic!(
                "{} of {} acknowledged messages never delivered",
                missing.len(),
                acknowledged.len()
            );
        };
        let delivery = delivery.unwrap();
        assert!(delivery.seq > last, "in order, no sequence delivered twice");
        last = delivery.seq;
        let body = delivery.envelope.as_bytes().to_vec();
        missing.remove(&body);
        assert!(received.insert(body), "no message stored twice");
    }
    bob_client.request(Request::Ack { through: last }).await.unwrap();
}
