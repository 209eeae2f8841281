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
    let dir = path.parent().unwrap();
    let before = files_in(dir);
    let result = SqlStore::open_existing(path, &key());
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
