//! What a key's origin means when it meets the database: why a database that does not open
//! with it failed, and what the salt files need once it did open.

use std::path::Path;

use super::StoreError;
use super::key::{DatabaseKey, Origin};
use super::salt_file::{self, SaltFile};

/// Where a `passphrase change` writes the re-keyed copy of `database` before moving it into
/// place: `<database>.rekey`.
pub(super) fn rekeyed_path(database: &Path) -> std::path::PathBuf {
    salt_file::suffixed(database, ".rekey")
}

/// The error for a database whose first page does not decrypt under `key` (SQLCipher's "not a
/// database" for a file of whole pages).
pub(super) fn explain_unopened(key: &DatabaseKey, database: &Path) -> StoreError {
    let pending = salt_file::pending_path(database).exists();
    match key.origin() {
        // Nothing vouches for the key: it may be wrong, or page 1 damaged.
        Origin::Raw | Origin::Unchecked(_) => StoreError::WrongKey,
        Origin::Checked if pending => StoreError::PassphraseChanged,
        Origin::Checked => StoreError::Corrupt(format!(
            "the passphrase is right (it matches the key check in {}) but the first page of {} does \
             not decrypt: the file is damaged",
            DatabaseKey::salt_path(database).display(),
            database.display()
        )),
        Origin::Pending => StoreError::PassphraseChangeUnfinished,
    }
}

/// Brings the salt files in line with a key that has just opened `database` (and holds its
/// lock, so no passphrase change is under way in another process):
/// - a salt file from before key checks gets one;
/// - the new passphrase of an interrupted change opened the re-keyed database: the change is
///   finished by moving the staged salt file into place;
/// - the old passphrase still opens it: the change never reached the database, and its staged
///   files are removed.
///
/// None of this is needed to use the database, and each state it leaves opens as before (a
/// staged file that stays is tried again next time), so a failure (a read-only directory, say)
/// is logged, not returned.
pub(super) fn settle(key: &DatabaseKey, database: &Path) {
    if let Err(error) = try_settle(key, database) {
        tracing::warn!(%error, "could not tidy the salt files of {}", database.display());
    }
}

fn try_settle(key: &DatabaseKey, database: &Path) -> Result<(), StoreError> {
    let salt_path = DatabaseKey::salt_path(database);
    let pending = salt_file::pending_path(database);
    match key.origin() {
        Origin::Raw => Ok(()),
        Origin::Checked => discard_staged(database),
        Origin::Unchecked(file) => {
            let checked = SaltFile {
                check: Some(salt_file::check_value(key.bytes())?),
                ..file.clone()
            };
            salt_file::write(&salt_path, &checked)?;
            discard_staged(database)
        }
        Origin::Pending => {
            salt_file::rename_durably(&pending, &salt_path)?;
            salt_file::remove_if_present(&rekeyed_path(database))
        }
    }
}

/// Removes what an interrupted passphrase change staged, if anything.
fn discard_staged(database: &Path) -> Result<(), StoreError> {
    salt_file::remove_if_present(&salt_file::pending_path(database))?;
    salt_file::remove_if_present(&rekeyed_path(database))
}
