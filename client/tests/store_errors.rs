//! A damaged database is reported by every `hush` command that meets the damage, with a nonzero
//! exit: before, `hush inbox` printed a conversation under its raw address when the contacts
//! could not be read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;

use hush_client::{Address, Client, Content, DatabaseKey, KdfParams, RelayAddress};

const PASSPHRASE: &str = "correct horse battery staple";

/// A relay address nothing answers at.
fn nowhere() -> RelayAddress {
    RelayAddress {
        host: "127.0.0.1".to_owned(),
        port: 9,
        fingerprint: [0x11; 32],
    }
}

/// A profile in `dir` with a contact "bob" and a message to him (queued: no relay); Bob's address.
async fn profile_with_a_conversation(dir: &Path) -> Address {
    std::fs::write(dir.join("relay"), nowhere().to_string()).unwrap();
    let database = dir.join("profile.db");
    let key =
        DatabaseKey::from_passphrase_with_params(PASSPHRASE, &database, KdfParams::new(64, 1, 1).unwrap())
            .unwrap();
    let (client, _events) = Client::open(&database, &key, nowhere()).await.unwrap();
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
    assert!(!stdout.contains(&bob.to_string()), "the raw address was printed: {stdout}");
}
