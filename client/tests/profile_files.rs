//! An existing profile whose database file is empty (a crash or a full disk while it was
//! written) is refused, by the API and by every `hush` command, and never becomes a new
//! identity: before, `hush address` exited 0 with a different address. A damaged database is
//! reported as such, by every command that meets the damage: before, a damaged first page read as
//! a wrong passphrase, and `hush inbox` printed raw addresses when the contacts could not be read.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use std::path::Path;
use std::process::Command;

use hush_client::{
    Address, Client, ClientError, Content, DatabaseKey, KdfParams, NotAProfile, RelayAddress, StoreError,
};

const PASSPHRASE: &str = "correct horse battery staple";

/// A relay address nothing answers at: these opens fail (or are checked) before connecting.
fn nowhere() -> RelayAddress {
    RelayAddress {
        host: "127.0.0.1".to_owned(),
        port: 9,
        fingerprint: [0x11; 32],
    }
}

/// `result` is the typed refusal of a database that is not a profile, for `reason`.
fn assert_not_a_profile<T>(result: Result<T, ClientError>, reason: NotAProfile) {
    match result {
        Err(ClientError::Store(StoreError::NotAProfile { reason: found, .. })) => assert_eq!(found, reason),
        Err(other) => panic!("expected NotAProfile ({reason:?}), got {other:?}"),
        Ok(_) => panic!("expected NotAProfile ({reason:?}), the profile opened"),
    }
}

/// A profile directory as `hush init` leaves it, but with a 0-byte `profile.db`.
fn profile_with_empty_database(dir: &Path) -> RelayAddress {
    let relay = nowhere();
    std::fs::write(dir.join("relay"), relay.to_string()).unwrap();
    let database = dir.join("profile.db");
    // Writes the salt file (cheap parameters: the CLI reads them from it).
    DatabaseKey::from_passphrase_with_params(PASSPHRASE, &database, KdfParams::new(64, 1, 1).unwrap())
        .unwrap();
    std::fs::write(&database, b"").unwrap();
    relay
}

#[tokio::test]
async fn open_existing_refuses_an_empty_database_and_leaves_it_empty() {
    let dir = tempfile::tempdir().unwrap();
    let relay = profile_with_empty_database(dir.path());
    let database = dir.path().join("profile.db");
    let key = DatabaseKey::from_passphrase(PASSPHRASE, &database).unwrap();
    let result = Client::open_existing(&database, &key, relay).await;
    assert_not_a_profile(result, NotAProfile::Empty);
    assert_eq!(std::fs::metadata(&database).unwrap().len(), 0);
}

#[tokio::test]
async fn open_existing_refuses_a_database_without_an_account() {
    let dir = tempfile::tempdir().unwrap();
    let relay = profile_with_empty_database(dir.path());
    let database = dir.path().join("profile.db");
    std::fs::remove_file(&database).unwrap();
    let key = DatabaseKey::from_passphrase(PASSPHRASE, &database).unwrap();
    // The schema without an account: what a crash between creating the file and saving the
    // new identity leaves.
    drop(hush_client::SqlStore::open(&database, &key).unwrap());
    let before = std::fs::read(&database).unwrap();
    let result = Client::open_existing(&database, &key, relay).await;
    assert_not_a_profile(result, NotAProfile::NoAccount);
    assert_eq!(std::fs::read(&database).unwrap(), before);
}

#[test]
fn hush_address_on_an_empty_database_fails_and_creates_no_identity() {
    let dir = tempfile::tempdir().unwrap();
    profile_with_empty_database(dir.path());
    let output = Command::new(env!("CARGO_BIN_EXE_hush"))
        .arg("address")
        .env("HUSH_PROFILE", dir.path())
        .env("HUSH_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "hush address succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(stderr.contains("not a Hush profile"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("hush:"),
        "an address was printed"
    );
    assert_eq!(std::fs::metadata(dir.path().join("profile.db")).unwrap().len(), 0);
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_profile_s_files_are_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("profile.db");
    let key =
        DatabaseKey::from_passphrase_with_params(PASSPHRASE, &database, KdfParams::new(64, 1, 1).unwrap())
            .unwrap();
    let relay = nowhere();
    let (client, _events) = Client::open(&database, &key, relay).await.unwrap();
    client.shutdown().await.unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
    }
}

#[cfg(unix)]
#[tokio::test]
async fn hush_init_makes_a_profile_directory_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let relay = helpers::spawn_relay().await;
    let home = tempfile::tempdir().unwrap();
    let profile = home.path().join("alice");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["init", "--relay", &relay.address.to_string()])
        .env("HUSH_PROFILE", &profile)
        .env("HUSH_PASSPHRASE", PASSPHRASE)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&profile), 0o700);
    for entry in std::fs::read_dir(&profile).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    relay.stop().await;
}

/// Runs `hush` on the profile `dir` with `args`.
async fn hush(dir: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(args)
        .env("HUSH_PROFILE", dir)
        .env("HUSH_PASSPHRASE", PASSPHRASE)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn hush_relay_set_changes_the_relay_and_keeps_the_identity() {
    let relay = helpers::spawn_relay().await;
    let home = tempfile::tempdir().unwrap();
    let profile = home.path().join("alice");
    let init = hush(&profile, &["init", "--relay", &relay.address.to_string()]).await;
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let address_before = hush(&profile, &["address"]).await.stdout;

    let moved = RelayAddress {
        port: 1,
        ..relay.address.clone()
    };
    let set = hush(&profile, &["relay", "set", &moved.to_string()]).await;
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let shown = hush(&profile, &["relay", "show"]).await;
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), moved.to_string());

    // A bad address is refused and the profile keeps the one it had.
    let bad = hush(&profile, &["relay", "set", "0.0.0.0:7443#not-a-fingerprint"]).await;
    assert!(!bad.status.success());
    let shown = hush(&profile, &["relay", "show"]).await;
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), moved.to_string());

    // Back to the right relay: same identity.
    let set = hush(&profile, &["relay", "set", &relay.address.to_string()]).await;
    assert!(set.status.success());
    assert_eq!(hush(&profile, &["address"]).await.stdout, address_before);
    relay.stop().await;
}

/// A profile directory with an identity (cheap key parameters), the relay pointing nowhere;
/// its client, still open.
async fn profile_with_account(dir: &Path) -> Client {
    std::fs::write(dir.join("relay"), nowhere().to_string()).unwrap();
    let database = dir.join("profile.db");
    let key =
        DatabaseKey::from_passphrase_with_params(PASSPHRASE, &database, KdfParams::new(64, 1, 1).unwrap())
            .unwrap();
    let (client, _events) = Client::open(&database, &key, nowhere()).await.unwrap();
    client
}

/// Every file in `dir` with its bytes, sorted.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

/// Runs `hush address` on `dir` with `passphrase`; its standard error.
async fn hush_address_fails(dir: &Path, passphrase: &str) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_hush"))
        .arg("address")
        .env("HUSH_PROFILE", dir)
        .env("HUSH_PASSPHRASE", passphrase)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "hush address succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn hush_tells_a_damaged_first_page_from_a_wrong_passphrase_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    profile_with_account(dir.path()).await.shutdown().await.unwrap();
    let database = dir.path().join("profile.db");
    let mut bytes = std::fs::read(&database).unwrap();
    for byte in &mut bytes[1000..1032] {
        *byte ^= 0xff;
    }
    std::fs::write(&database, bytes).unwrap();
    let before = snapshot(dir.path());

    let damaged = hush_address_fails(dir.path(), PASSPHRASE).await;
    assert!(damaged.contains("damaged"), "{damaged}");
    assert!(!damaged.contains("wrong passphrase"), "{damaged}");
    let wrong = hush_address_fails(dir.path(), "not the passphrase").await;
    assert!(wrong.contains("wrong passphrase for this profile"), "{wrong}");
    assert!(!wrong.contains("damaged"), "{wrong}");
    assert_eq!(snapshot(dir.path()), before);
}

#[tokio::test]
async fn hush_reports_a_truncated_database_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    profile_with_account(dir.path()).await.shutdown().await.unwrap();
    let database = dir.path().join("profile.db");
    let bytes = std::fs::read(&database).unwrap();
    // Inside a page, then at a page boundary (the first page intact, the rest gone).
    for (cut, says) in [(1000, "not a whole number of 4096-byte pages"), (4096, "damaged")] {
        std::fs::write(&database, &bytes[..cut]).unwrap();
        let before = snapshot(dir.path());
        let stderr = hush_address_fails(dir.path(), PASSPHRASE).await;
        assert!(stderr.contains(says), "cut at {cut}: {stderr}");
        assert!(!stderr.contains("wrong passphrase"), "cut at {cut}: {stderr}");
        assert_eq!(snapshot(dir.path()), before, "cut at {cut}");
    }
}

/// Runs `hush` on `dir` with `env` set and `stdin` as standard input.
async fn hush_with(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(args)
        .env("HUSH_PROFILE", dir)
        .env_remove("HUSH_PASSPHRASE")
        .env_remove("HUSH_NEW_PASSPHRASE")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.unwrap()
}

#[tokio::test]
async fn hush_passphrase_change_keeps_the_identity_under_the_new_passphrase_only() {
    let dir = tempfile::tempdir().unwrap();
    profile_with_account(dir.path()).await.shutdown().await.unwrap();
    let address = hush(dir.path(), &["address"]).await;
    assert!(address.status.success());

    // A wrong current passphrase changes nothing.
    let before = snapshot(dir.path());
    let env = [("HUSH_PASSPHRASE", "not it"), ("HUSH_NEW_PASSPHRASE", "new one")];
    let refused = hush_with(dir.path(), &["passphrase", "change"], &env, "").await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("wrong passphrase for this profile"), "{stderr}");
    assert_eq!(snapshot(dir.path()), before);

    // From the environment.
    let env = [
        ("HUSH_PASSPHRASE", PASSPHRASE),
        ("HUSH_NEW_PASSPHRASE", "new one"),
    ];
    let changed = hush_with(dir.path(), &["passphrase", "change"], &env, "").await;
    assert!(
        changed.status.success(),
        "{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    let old = hush_address_fails(dir.path(), PASSPHRASE).await;
    assert!(old.contains("wrong passphrase for this profile"), "{old}");
    let new = hush_with(dir.path(), &["address"], &[("HUSH_PASSPHRASE", "new one")], "").await;
    assert_eq!(new.stdout, address.stdout);

    // From standard input, a line each.
    let changed = hush_with(dir.path(), &["passphrase", "change"], &[], "new one\nthird one\n").await;
    assert!(
        changed.status.success(),
        "{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    let third = hush_with(dir.path(), &["address"], &[], "third one\n").await;
    assert_eq!(third.stdout, address.stdout);
    let names: Vec<_> = snapshot(dir.path()).into_iter().map(|(path, _)| path).collect();
    assert_eq!(
        names,
        ["profile.db", "profile.db.salt", "relay"].map(|name| dir.path().join(name)),
        "nothing staged is left"
    );
    #[cfg(unix)]
    for name in ["profile.db", "profile.db.salt"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name} has mode {mode:o} after the change");
    }
}

/// A profile in `dir` with a contact "bob" and a message to him (queued: no relay); Bob's address.
async fn profile_with_a_conversation(dir: &Path) -> Address {
    let client = profile_with_account(dir).await;
    let bob = Address::from_identity(&hush_crypto::Account::new(0, &mut rand::rng()).identity_key());
    client.add_contact("bob", bob).await.unwrap();
    client.send(bob, Content::text("hello")).await.unwrap();
    client.shutdown().await.unwrap();
    bob
}

/// The database's raw key, derived here from the salt file as the client does (format:
/// client/src/store/salt_file.rs), so the test can reach into the database with SQL.
fn raw_key_statement(dir: &Path) -> String {
    let salt = std::fs::read(dir.join("profile.db.salt")).unwrap();
    let word = |at: usize| u32::from_le_bytes(salt[at..at + 4].try_into().unwrap());
    let params = argon2::Params::new(word(8), word(12), word(16), Some(32)).unwrap();
    let mut key = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(PASSPHRASE.as_bytes(), &salt[20..36], &mut key)
        .unwrap();
    let hex: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("PRAGMA key = \"x'{hex}'\";")
}

#[tokio::test]
async fn hush_inbox_fails_when_the_contacts_cannot_be_read_instead_of_printing_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let bob = profile_with_a_conversation(dir.path()).await;
    // Damage what only the names need: Bob's contact row no longer holds an address.
    let conn = rusqlite::Connection::open(dir.path().join("profile.db")).unwrap();
    conn.execute_batch(&raw_key_statement(dir.path())).unwrap();
    assert_eq!(
        conn.execute("UPDATE contacts SET address = x'00'", []).unwrap(),
        1
    );
    drop(conn);

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_hush"))
        .arg("inbox")
        .env("HUSH_PROFILE", dir.path())
        .env("HUSH_PASSPHRASE", PASSPHRASE)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "hush inbox succeeded: {stdout}");
    assert!(
        stderr.contains("cannot read the contacts of this profile"),
        "{stderr}"
    );
    assert!(
        !stdout.contains(&bob.to_string()),
        "the raw address was printed: {stdout}"
    );
}
