//! `hush backup export` and `hush backup import`: the restored profile has the same address and
//! contacts; a backup with a changed byte, or a wrong backup passphrase, creates no profile.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

use std::path::Path;

use helpers::hush::{Hush, Run};
use helpers::*;

/// `hush` on `profile` with the backup passphrase `backup`.
async fn hush(profile: &Path, backup: &str, args: &[&str]) -> Run {
    let profile = Hush {
        dir: profile.to_path_buf(),
    };
    profile
        .run_with(args, &[("HUSH_BACKUP_PASSPHRASE", backup)])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_gives_the_same_profile_and_a_changed_file_gives_none() {
    let relay = spawn_relay().await;
    let root = tempfile::tempdir().unwrap();
    let (alice, _) = Hush::init(root.path(), "alice", &relay.address).await;
    let (_, bob_address) = Hush::init(root.path(), "bob", &relay.address).await;
    alice
        .ok(&["contact", "add", "bob", &bob_address.to_string()])
        .await;
    let file = root.path().join("alice.backup");
    let file_arg = file.to_str().unwrap();
    let run = hush(&alice.dir, "backup words", &["backup", "export", file_arg]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);

    let relay_arg = relay.address.to_string();
    let import = ["backup", "import", file_arg, "--relay", relay_arg.as_str()];
    let restored = root.path().join("restored");
    let wrong = hush(&restored, "other words", &import).await;
    assert_ne!(wrong.code, Some(0));
    assert!(wrong.stderr.contains("wrong passphrase"), "{}", wrong.stderr);
    assert!(!restored.join("profile.db").exists());
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let altered = root.path().join("altered.backup");
    std::fs::write(&altered, &bytes).unwrap();
    let flipped = hush(
        &restored,
        "backup words",
        &[
            "backup",
            "import",
            altered.to_str().unwrap(),
            "--relay",
            &relay_arg,
        ],
    )
    .await;
    assert_ne!(flipped.code, Some(0));
    assert!(flipped.stderr.contains("altered"), "{}", flipped.stderr);
    assert!(!restored.join("profile.db").exists());

    let run = hush(&restored, "backup words", &import).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let restored = Hush { dir: restored };
    assert_eq!(
        restored.ok(&["address"]).await.stdout,
        alice.ok(&["address"]).await.stdout
    );
    assert!(restored.ok(&["contact", "list"]).await.stdout.contains("bob"));
}
