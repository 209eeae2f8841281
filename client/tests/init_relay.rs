//! `hush init` tries the relay before it creates anything: a malformed address, a relay that
//! does not answer and one whose certificate does not match the pinned fingerprint each leave
//! no file behind and say what to do; `--offline` creates the profile anyway and says how to
//! register it later.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

use std::path::Path;

use hush_client::RelayAddress;

const PASSPHRASE: &str = "correct horse battery staple";

/// `hush init --relay relay` (plus `extra`) for the profile `dir`.
async fn init(dir: &Path, relay: &str, extra: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["init", "--relay", relay])
        .args(extra)
        .env("HUSH_PROFILE", dir)
        .env("HUSH_PASSPHRASE", PASSPHRASE)
        .output()
        .await
        .unwrap()
}

/// `output` is a failed init whose error contains each of `says`, and `dir` was not created.
fn refused_leaving_nothing(output: &std::process::Output, dir: &Path, says: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "init succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    for text in says {
        assert!(stderr.contains(text), "{text:?} not in: {stderr}");
    }
    assert!(!dir.exists(), "init left {} behind", dir.display());
}

/// A home directory and the (not yet existing) profile directory `alice` in it.
fn home() -> (tempfile::TempDir, std::path::PathBuf) {
    let home = tempfile::tempdir().unwrap();
    let profile = home.path().join("alice");
    (home, profile)
}

/// A UDP port on the loopback that nothing listens on (bound, then freed).
fn dead_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_malformed_relay_address_writes_nothing() {
    let (_home, profile) = home();
    let fingerprint = "ab".repeat(32);
    let cases = [
        ("127.0.0.1:7443".to_owned(), "no '#' found"),
        (format!("0.0.0.0:7443#{fingerprint}"), "where a relay listens"),
        ("127.0.0.1:7443#abc".to_owned(), "64 hex digits"),
    ];
    for (address, says) in cases {
        let output = init(&profile, &address, &[]).await;
        refused_leaving_nothing(&output, &profile, &[says, "nothing was created"]);
    }
}

#[tokio::test]
async fn an_unreachable_relay_writes_nothing_and_says_what_to_do() {
    let (_home, profile) = home();
    let relay = RelayAddress {
        host: "127.0.0.1".to_owned(),
        port: dead_port(),
        fingerprint: [0x11; 32],
    };
    let output = init(&profile, &relay.to_string(), &[]).await;
    refused_leaving_nothing(
        &output,
        &profile,
        &["unreachable", "Nothing was created", "--offline"],
    );
}

#[tokio::test]
async fn a_certificate_mismatch_writes_nothing_and_says_so() {
    let relay = helpers::spawn_relay().await;
    let (_home, profile) = home();
    let wrong = RelayAddress {
        fingerprint: [0x22; 32],
        ..relay.address.clone()
    };
    let output = init(&profile, &wrong.to_string(), &[]).await;
    refused_leaving_nothing(
        &output,
        &profile,
        &[
            "presented a certificate",
            "may be an attack",
            "Nothing was created",
        ],
    );
    // The right address then works.
    let output = init(&profile, &relay.address.to_string(), &[]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("registered with relay"));
    relay.stop().await;
}

#[tokio::test]
async fn offline_creates_the_profile_and_says_how_to_register_later() {
    let relay = helpers::spawn_relay().await;
    let (_home, profile) = home();
    let dead = RelayAddress {
        port: dead_port(),
        ..relay.address.clone()
    };
    let output = init(&profile, &dead.to_string(), &["--offline"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("hush register"), "{stdout}");
    assert!(profile.join("profile.db").exists());

    // What it says to do works: point it at the relay, register.
    let hush = |args: &'static [&'static str]| {
        let profile = profile.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_hush"))
                .args(args)
                .env("HUSH_PROFILE", &profile)
                .env("HUSH_PASSPHRASE", PASSPHRASE)
                .output()
                .await
                .unwrap()
        }
    };
    let address = relay.address.to_string();
    let set = tokio::process::Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["relay", "set", &address])
        .env("HUSH_PROFILE", &profile)
        .output()
        .await
        .unwrap();
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let registered = hush(&["register"]).await;
    assert!(
        registered.status.success(),
        "{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    relay.stop().await;
}
