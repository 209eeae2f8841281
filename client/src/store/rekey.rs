//! Changing the passphrase of a profile, so that a crash at any point leaves a profile that
//! opens with the old passphrase or with the new one, never with neither.
//!
//! The pickles inside are encrypted under a key derived from the database key, so the change
//! re-encrypts them too; SQLCipher's `PRAGMA rekey` (pages only, in its own transaction) cannot
//! take that along atomically. Instead, holding the database's lock throughout:
//! 1. the new passphrase's salt file (salt, parameters, key check) is staged as
//!    `<db>.salt.new` ([`RekeyStep::Staged`]);
//! 2. a copy under the new key, its pickles encrypted again, is written and synced as
//!    `<db>.rekey` ([`RekeyStep::Copied`]);
//! 3. the write-ahead log is emptied into the database and removed, and the copy is moved over
//!    the database ([`RekeyStep::Replaced`]): the change has taken effect;
//! 4. the database is opened under the new key, which moves the staged salt file over
//!    `<db>.salt` (a process that opens it first with the new passphrase does the same).
//!
//! Before step 3 the old passphrase opens the database (and that open removes the staged files);
//! after it the new one does, and opening with it finishes step 4 (see `unlock::settle`). The
//! key check tells each passphrase which side it is on, so the other gets
//! [`StoreError::PassphraseChangeUnfinished`] or [`StoreError::PassphraseChanged`].

use std::fs::File;
use std::path::Path;

use hush_crypto::peer::PeerSessionsPickle;
use hush_crypto::{AccountPickle, PickleKey};
use rusqlite::{Connection, params};

use super::kdf::KdfParams;
use super::key::{DatabaseKey, Origin};
use super::{SqlStore, StoreError, salt_file, unlock};

/// A step of a passphrase change that has just been made durable; a test hook may stop the
/// change after any of them, as a crash would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RekeyStep {
    /// `<db>.salt.new` is written.
    Staged,
    /// `<db>.rekey` is written and synced.
    Copied,
    /// `<db>.rekey` replaced the database.
    Replaced,
}

/// What to do after each step: carry on (`Ok`) or stop there with an error.
pub(super) type StepHook<'a> = &'a mut dyn FnMut(RekeyStep) -> Result<(), StoreError>;

impl SqlStore {
    /// Changes the passphrase of this profile to `new_passphrase`, with a fresh salt and
    /// `params` (`None`: the Argon2 parameters the profile has now), and returns the store open
    /// under the new key. The profile must have been opened with a passphrase key
    /// ([`StoreError::NotPassphraseKeyed`] otherwise).
    ///
    /// Crash-safe: whenever it stops, the profile opens with the old passphrase or the new one.
    /// An error before the database is replaced leaves the old passphrase in force; one after
    /// it (reopening the database, moving the salt file) leaves the new one.
    pub fn change_passphrase(
        self,
        new_passphrase: &str,
        params: Option<KdfParams>,
    ) -> Result<Self, StoreError> {
        let salt_path = DatabaseKey::salt_path(&self.path);
        let params = match params {
            Some(params) => params,
            None => match salt_file::read(&salt_path)? {
                Some(file) => file.params,
                None => return Err(StoreError::NotPassphraseKeyed),
            },
        };
        self.change_passphrase_with(new_passphrase, params, &mut |_| Ok(()))
    }

    pub(super) fn change_passphrase_with(
        self,
        new_passphrase: &str,
        params: KdfParams,
        after: StepHook<'_>,
    ) -> Result<Self, StoreError> {
        if !self.passphrase_keyed {
            return Err(StoreError::NotPassphraseKeyed);
        }
        let database = self.path.clone();
        let staged = salt_file::pending_path(&database);
        let copy = unlock::rekeyed_path(&database);
        // Leftovers of an earlier attempt (an open with the old passphrase removes them too) go;
        // the copy starts empty and readable by its owner only, as the database is (SQLite
        // would create it with the umask's mode, and its journal takes the file's).
        salt_file::remove_if_present(&copy)?;
        super::private_file(&copy).map_err(|source| StoreError::Io {
            what: format!("cannot create {}", copy.display()),
            source,
        })?;

        let (new_key, new_salt) = DatabaseKey::fresh(new_passphrase, params)?;
        // Opening with it below is what moves the staged salt file into place.
        let new_key = new_key.with_origin(Origin::Pending);
        salt_file::write(&staged, &new_salt)?;
        after(RekeyStep::Staged)?;

        write_copy(&self.conn, &copy, &new_key, &self.pickle_key)?;
        after(RekeyStep::Copied)?;

        // No log may be left for the new file to pick up: it holds the old database's pages.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("delete") {
            return Err(StoreError::Backend(format!(
                "expected journal mode delete before replacing the database, got {mode}"
            )));
        }
        salt_file::rename_durably(&copy, &database)?;
        after(RekeyStep::Replaced)?;

        // Still holding the old file's lock: open the new one before letting go of it.
        let reopened = SqlStore::open_existing(&database, &new_key)?;
        drop(self);
        Ok(reopened)
    }
}

/// Writes the database as it is now to `copy` under `key`, its pickles sealed again under the
/// new key's pickle key, and syncs it.
pub(super) fn write_copy(
    conn: &Connection,
    copy: &Path,
    key: &DatabaseKey,
    old_pickles: &PickleKey,
) -> Result<(), StoreError> {
    let attach = format!(
        "ATTACH DATABASE '{}' AS rekeyed KEY \"x'{}'\";",
        copy.display().to_string().replace('\'', "''"),
        key.hex().as_str()
    );
    conn.execute_batch(&zeroize::Zeroizing::new(attach))?;
    let copied = (|| {
        conn.query_row("SELECT sqlcipher_export('rekeyed')", [], |_| Ok(()))?;
        let version: i64 = conn.query_row("PRAGMA main.user_version", [], |row| row.get(0))?;
        conn.pragma_update(Some("rekeyed"), "user_version", version)?;
        reseal_pickles(conn, "rekeyed", old_pickles, &key.pickle_key()?)
    })();
    let detached = conn.execute_batch("DETACH DATABASE rekeyed");
    copied?;
    detached?;
    File::open(copy)
        .and_then(|file| file.sync_all())
        .map_err(|source| StoreError::Io {
            what: format!("cannot sync {}", copy.display()),
            source,
        })
}

/// Re-encrypts the account and session pickles of the database `schema` (`rekeyed`: the
/// attached copy; `main`: a restored backup), in one transaction.
pub(super) fn reseal_pickles(
    conn: &Connection,
    schema: &str,
    old: &PickleKey,
    new: &PickleKey,
) -> Result<(), StoreError> {
    let tx = conn.unchecked_transaction()?;
    let mut rng = rand::rng();
    let undecodable = |what: &'static str| {
        move |error: hush_crypto::PickleError| StoreError::Decode {
            what,
            reason: error.to_string(),
        }
    };
    let account: Option<Vec<u8>> = tx
        .query_row(
            &format!("SELECT pickle FROM {schema}.account WHERE id = 1"),
            [],
            |row| row.get(0),
        )
        .map(Some)
        .or_else(|error| match error {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            error => Err(error),
        })?;
    if let Some(sealed) = account {
        let pickle = AccountPickle::from_encrypted(old, &sealed).map_err(undecodable("account pickle"))?;
        tx.execute(
            &format!("UPDATE {schema}.account SET pickle = ?1 WHERE id = 1"),
            [pickle.encrypt(new, &mut rng)],
        )?;
    }
    let peers: Vec<(Vec<u8>, Vec<u8>)> = tx
        .prepare(&format!("SELECT identity, pickle FROM {schema}.peers"))?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (identity, sealed) in peers {
        let pickle = PeerSessionsPickle::from_encrypted(old, &sealed).map_err(undecodable("peer pickle"))?;
        tx.execute(
            &format!("UPDATE {schema}.peers SET pickle = ?1 WHERE identity = ?2"),
            params![pickle.encrypt(new, &mut rng), identity],
        )?;
    }
    super::devices::reseal(&tx, schema, old, new)?;
    tx.commit()?;
    Ok(())
}
