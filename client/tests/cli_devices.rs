//! `hush init --link`, `hush device link|list|remove` against an in-process relay: a new device
//! prints a code and waits, an existing device types it, both then list the same devices; the
//! removed device is gone from the list.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use helpers::hush::{Hush, PASSPHRASE};
use helpers::*;

/// The device ids `hush device list` printed.
fn ids(listing: &str) -> Vec<String> {
    listing
        .lines()
        .skip(1)
        .filter_map(|line| line.split('\t').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_prints_a_code_the_existing_one_types_it_and_both_list_the_devices() {
    let relay = spawn_relay().await;
    let root = tempfile::tempdir().unwrap();
    let (phone, _) = Hush::init(root.path(), "phone", &relay.address).await;
    let laptop = Hush {
        dir: root.path().join("laptop"),
    };

    // The laptop: `init --link` prints the code, then waits for the link message.
    let mut waiting = tokio::process::Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["init", "--link", "--relay", &relay.address.to_string()])
        .env("HUSH_PROFILE", &laptop.dir)
        .env("HUSH_PASSPHRASE", PASSPHRASE)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(waiting.stdout.take().unwrap()).lines();
    let code = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(code) = line.strip_prefix("link code: ") {
                return code.to_owned();
            }
        }
        panic!("init --link ended without a code");
    })
    .await
    .unwrap();

    // The phone types it.
    let linked = phone.ok(&["device", "link", &code]).await;
    assert!(linked.stdout.starts_with("linked device "), "{}", linked.stdout);
    let joined = tokio::time::timeout(PATIENCE, async {
        let mut rest = String::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            rest.push_str(&line);
            rest.push('\n');
        }
        rest
    })
    .await
    .unwrap();
    let status = waiting.wait().await.unwrap();
    assert!(status.success(), "init --link failed:\n{joined}");
    assert!(
        joined.contains("joined account") && joined.contains("(2 devices)"),
        "{joined}"
    );

    let on_phone = phone.ok(&["device", "list"]).await.stdout;
    let on_laptop = laptop.ok(&["device", "list"]).await.stdout;
    assert_eq!(ids(&on_phone), ids(&on_laptop));
    assert_eq!(ids(&on_phone).len(), 2);
    assert_eq!(on_phone.matches("(this device)").count(), 1);

    // The laptop holds no account key; the phone removes it.
    let laptop_id = on_laptop
        .lines()
        .find(|line| line.ends_with("(this device)"))
        .and_then(|line| line.split('\t').next())
        .unwrap()
        .to_owned();
    laptop
        .fails(
            &[
                "device",
                "remove",
                &ids(&on_phone).into_iter().find(|id| *id != laptop_id).unwrap(),
            ],
            1,
            "does not hold the account key",
        )
        .await;
    let removed = phone.ok(&["device", "remove", &laptop_id[..12]]).await;
    assert_eq!(removed.stdout.trim(), format!("removed device {laptop_id}"));
    assert_eq!(ids(&phone.ok(&["device", "list"]).await.stdout).len(), 1);
    relay.stop().await;
}
