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
use std::sync::{Arc, Mutex};

use helpers::{T0, mailbox};
use hush_crypto::Account;
use hush_proto::{Envelope, Request, Response};
use hush_relay::client::RelayClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// Starts the binary on port 0 and reads its address and fingerprint from its first lines.
async fn start(data_dir: &Path) -> (Child, SocketAddr, [u8; 32]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hush-relay"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "off",
            "--log",
            "warn",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(address) = line.strip_prefix("relay address for clients: ") {
            let (addr, fingerprint) = address.split_once('#').unwrap();
            let fingerprint = hush_relay::tls::from_hex::<32>(fingerprint).unwrap();
            // Keep draining stdout so the child never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return (child, addr.parse().unwrap(), fingerprint);
        }
    }
    panic!("hush-relay exited before printing its address");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line41_sigkill_under_load_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let (mut relay, addr, fingerprint) = start(dir.path()).await;
    let bob = Account::new(T0, &mut rand::rng());
    let mut bob_client = RelayClient::connect(addr, fingerprint).await.unwrap();
    bob_client.login(&bob, None).await.unwrap();
    bob_client.close();
    let target = mailbox(&bob);

    // Every message the relay answered `Stored`, recorded the moment the answer arrives.
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let enough = Arc::new(Notify::new());
    let mut senders = Vec::new();
    for sender in 0..4u8 {
        let account = Account::new(T0, &mut rand::rng());
        let mut client = RelayClient::connect(addr, fingerprint).await.unwrap();
        client.login(&account, None).await.unwrap();
        let acknowledged = acknowledged.clone();
        let enough = enough.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..1_000_000u32 {
                let mut body = vec![sender];
                body.extend_from_slice(&i.to_be_bytes());
                let envelope = Envelope::new(body.clone()).unwrap();
                match client.request(Request::Send { to: target, envelope }).await {
                    Ok(Response::Stored) => {
                        let mut acknowledged = acknowledged.lock().unwrap();
                        acknowledged.insert(body);
                        if acknowledged.len() == 400 {
                            enough.notify_one();
                        }
                    }
                    _ => break,
                }
            }
        }));
    }
    // Kill mid-stream once a few hundred messages are acknowledged.
    enough.notified().await;
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
    assert!(acknowledged.len() >= 400);

    let (_relay, addr, restarted_fingerprint) = start(dir.path()).await;
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
        let delivery = bob_client.next_delivery().await.unwrap();
        assert!(delivery.seq > last, "in order, no sequence delivered twice");
        last = delivery.seq;
        let body = delivery.envelope.as_bytes().to_vec();
        missing.remove(&body);
        assert!(received.insert(body), "no message stored twice");
    }
    bob_client.request(Request::Ack { through: last }).await.unwrap();
}
