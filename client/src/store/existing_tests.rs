//! Opening an existing profile never creates one: a missing, empty, foreign or account-less
//! database is [`StoreError::NotAProfile`], a truncated or damaged one a typed error of its
//! own, and every file of the profile is left byte for byte as it was.

use std::fs;
use std::path::{Path, PathBuf};

use hush_client_core::{Commit, Store, StoreOp};
use tempfile::TempDir;

use super::error::NotAProfile;
use super::tests::files_in;
use super::*;

fn key() -> DatabaseKey {
    DatabaseKey::from_bytes([9; 32])
}

/// Opens `path` as an existing profile and checks that it fails as `expected` without
/// changing any file in its directory.
fn refused_untouched(path: &Path, expected: impl Fn(&StoreError) -> bool) {
    refused_untouched_with(path, || Ok(key()), expected);
}

/// [`refused_untouched`] with the key from `key` (a passphrase key is derived in the check, so
/// its salt files are watched too).
fn refused_untouched_with(
    path: &Path,
    key: impl FnOnce() -> Result<DatabaseKey, StoreError>,
    expected: impl Fn(&StoreError) -> bool,
) {
    let dir = path.parent().unwrap();
    let before = files_in(dir);
    let result = key().and_then(|key| SqlStore::open_existing(path, &key));
    let error = result.expect_err("an existing profile's open must fail here");
    assert!(expected(&error), "unexpected error: {error:?}");
    assert_eq!(
        files_in(dir),
        before,
        "a refused open changed the profile's files"
    );
}

fn not_a_profile(reason: NotAProfile) -> impl Fn(&StoreError) -> bool {
    move |error| matches!(error, StoreError::NotAProfile { reason: found, .. } if *found == reason)
}

/// A profile database with an account.
fn real_profile(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("profile.db");
    let mut store = SqlStore::open(&path, &key()).unwrap();
    let account = hush_crypto::Account::new(1_700_000_000, &mut rand::rng());
    let ops = vec![StoreOp::PutAccount(account.pickle())];
    store.apply(&Commit { ops }).unwrap();
    drop(store);
    path
}

#[test]
fn a_missing_file_is_not_a_profile_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    refused_untouched(&path, not_a_profile(NotAProfile::Missing));
    assert!(!path.exists());
}

#[test]
fn an_empty_file_is_not_a_profile_and_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    fs::write(&path, b"").unwrap();
    refused_untouched(&path, not_a_profile(NotAProfile::Empty));
    // The same file is a new database to `open`, which is what lost identities before.
    assert!(SqlStore::open(&path, &key()).is_ok());
}

#[test]
fn a_foreign_database_under_the_same_key_is_not_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    let conn = schema::open_keyed(&path, &key()).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x');")
        .unwrap();
    drop(conn);
    refused_untouched(&path, not_a_profile(NotAProfile::Foreign));
}

#[test]
fn a_truncated_profile_is_a_typed_error_and_stays_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = real_profile(&dir);
    let bytes = fs::read(&path).unwrap();
    // Cut inside the first page, and at a page boundary after it.
    fs::write(&path, &bytes[..1000]).unwrap();
    refused_untouched(&path, |error| matches!(error, StoreError::NotADatabase(_)));
    fs::write(&path, &bytes[..4096]).unwrap();
    refused_untouched(&path, |error| {
        matches!(error, StoreError::Corrupt(_) | StoreError::NotADatabase(_))
    });
}

#[test]
fn a_real_profile_opens_as_an_existing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = real_profile(&dir);
    let store = SqlStore::open_existing(&path, &key()).unwrap();
    assert!(store.load().unwrap().is_some());
}

const PASSPHRASE: &str = "correct horse";

fn cheap() -> KdfParams {
    KdfParams::new(64, 1, 1).unwrap()
}

fn passphrase_key(path: &Path, passphrase: &str) -> Result<DatabaseKey, StoreError> {
    DatabaseKey::from_passphrase_with_params(passphrase, path, cheap())
}

fn is_wrong_key(error: &StoreError) -> bool {
    matches!(error, StoreError::WrongKey)
}

/// [`refused_untouched`] with the key from `passphrase`, derived in the check.
fn refused_with_passphrase(path: &Path, passphrase: &str, expected: impl Fn(&StoreError) -> bool) {
    refused_untouched_with(path, || passphrase_key(path, passphrase), expected);
}

/// A profile database with an account, under [`PASSPHRASE`].
fn passphrase_profile(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("profile.db");
    let key = passphrase_key(&path, PASSPHRASE).unwrap();
    assert!(key.is_checked());
    let mut store = SqlStore::open(&path, &key).unwrap();
    let account = hush_crypto::Account::new(1_700_000_000, &mut rand::rng());
    store
        .apply(&Commit {
            ops: vec![StoreOp::PutAccount(account.pickle())],
        })
        .unwrap();
    drop(store);
    path
}

/// Flips bytes in the middle of the first page, which SQLCipher then fails to authenticate.
fn damage_first_page(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    for byte in &mut bytes[2000..2016] {
        *byte ^= 0x5a;
    }
    fs::write(path, bytes).unwrap();
}

#[test]
fn a_damaged_first_page_is_corrupt_with_the_right_passphrase_and_wrong_key_with_another() {
    let dir = tempfile::tempdir().unwrap();
    let path = passphrase_profile(&dir);
    damage_first_page(&path);
    refused_with_passphrase(
        &path,
        PASSPHRASE,
        |error| matches!(error, StoreError::Corrupt(reason) if reason.contains("damaged")),
    );
    refused_with_passphrase(&path, "wrong horse", is_wrong_key);
}

#[test]
fn a_wrong_passphrase_is_refused_by_its_check_before_the_database_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = passphrase_profile(&dir);
    // Whatever the database holds, a passphrase that misses the key check is wrong.
    fs::write(&path, vec![0u8; 8192]).unwrap();
    refused_with_passphrase(&path, "wrong horse", is_wrong_key);
}

#[test]
fn a_truncated_passphrase_profile_is_a_typed_error_and_stays_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = passphrase_profile(&dir);
    let bytes = fs::read(&path).unwrap();
    assert!(bytes.len() > 4096, "the profile has more than one page");
    fs::write(&path, &bytes[..1000]).unwrap();
    refused_with_passphrase(&path, PASSPHRASE, |error| {
        matches!(error, StoreError::NotADatabase(_))
    });
    fs::write(&path, &bytes[..4096]).unwrap();
    refused_with_passphrase(&path, PASSPHRASE, |error| matches!(error, StoreError::Corrupt(_)));
}

/// Rewrites the salt file of `path` in format 1, as builds before key checks wrote it.
fn drop_key_check(path: &Path) {
    let salt_path = DatabaseKey::salt_path(path);
    let mut bytes = fs::read(&salt_path).unwrap();
    bytes.truncate(salt_file::V1_LEN);
    bytes[..8].copy_from_slice(b"HUSHKDF1");
    fs::write(&salt_path, bytes).unwrap();
}

#[test]
fn a_profile_without_a_key_check_opens_and_gets_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = passphrase_profile(&dir);
    drop_key_check(&path);
    let salt_path = DatabaseKey::salt_path(&path);
    // Unchecked, a wrong passphrase reaches SQLCipher, which refuses it; nothing changes.
    refused_with_passphrase(&path, "wrong horse", is_wrong_key);
    let key = passphrase_key(&path, PASSPHRASE).unwrap();
    assert!(!key.is_checked());
    let store = SqlStore::open_existing(&path, &key).unwrap();
    assert!(store.load().unwrap().is_some());
    drop(store);
    assert_eq!(fs::read(&salt_path).unwrap().len(), salt_file::V2_LEN);
    // Now the check decides, and damage is told from a wrong passphrase.
    assert!(passphrase_key(&path, PASSPHRASE).unwrap().is_checked());
    assert!(matches!(
        passphrase_key(&path, "wrong horse"),
        Err(StoreError::WrongKey)
    ));
}

#[test]
fn damage_in_a_profile_without_a_key_check_still_reads_as_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = passphrase_profile(&dir);
    drop_key_check(&path);
    damage_first_page(&path);
    refused_with_passphrase(&path, PASSPHRASE, is_wrong_key);
}
