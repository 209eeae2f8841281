//! [`DatabaseKey`]: the 32-byte key that opens a profile's database, given raw or derived from a
//! passphrase with Argon2id.
//!
//! A passphrase key needs a salt and the Argon2 parameters it was derived with. Both live in a
//! small plaintext sidecar next to the database, `<database>.salt`, with a key check value that
//! tells a wrong passphrase from a damaged database (format: `salt_file`). Keeping the
//! parameters with the salt means a later build can raise [`KdfParams::default`] without locking
//! anyone out of an existing profile.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use hush_crypto::PickleKey;
use hush_crypto::primitives::hkdf_sha256;
use rand::Rng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::StoreError;
use super::kdf::{KdfParams, SALT_LEN};
use super::salt_file::{self, SaltFile};

/// HKDF label of the key that additionally encrypts pickles inside the database.
const PICKLE_KEY_INFO: &[u8] = b"Hush_v1_ClientStore_PickleKey";

/// The key of a profile's database. Wiped on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DatabaseKey {
    bytes: Box<[u8; 32]>,
    /// What vouches for the key before SQLCipher reads a page (not secret).
    #[zeroize(skip)]
    origin: Origin,
}

/// Where a key came from, which decides what a database that does not open with it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Origin {
    /// Given raw: nothing to check it against, so a wrong key and a damaged first page look
    /// the same.
    Raw,
    /// Derived from a passphrase that matched the key check in `<database>.salt`.
    Checked,
    /// Derived with a salt file from before key checks; opening the database with it proves it
    /// and adds the check.
    Unchecked(SaltFile),
    /// Derived from a passphrase that matched the staged `<database>.salt.new` of an interrupted
    /// passphrase change: the new passphrase.
    Pending,
}

impl DatabaseKey {
    /// A raw 32-byte key (for example from the platform keystore); used as is, with no KDF.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let key = Self {
            bytes: Box::new(bytes),
            origin: Origin::Raw,
        };
        // `bytes` is a copy on our stack: wipe it so only the boxed key remains.
        let mut bytes = bytes;
        bytes.zeroize();
        key
    }

    /// The key for the database at `database` from a passphrase, with the salt and parameters
    /// in `<database>.salt`. If that file does not exist yet (a new profile) it is created with
    /// a fresh salt, [`KdfParams::default`] and the key's check value.
    ///
    /// Fails with [`StoreError::WrongKey`] if the salt file holds a key check the passphrase does
    /// not match (nor that of an interrupted passphrase change's staged file): the passphrase is
    /// wrong, whatever state the database is in. A salt file from before key checks has none;
    /// then SQLCipher decides, as before, and the check is added once the key opens the database.
    /// Fails with [`StoreError::SaltMissing`] if the database exists without its salt file:
    /// a new salt would give a different key.
    pub fn from_passphrase(passphrase: &str, database: &Path) -> Result<Self, StoreError> {
        Self::from_passphrase_with_params(passphrase, database, KdfParams::default())
    }

    /// [`DatabaseKey::from_passphrase`] with the parameters a *new* salt file gets; an existing
    /// salt file's own parameters always win. Tests use cheap ones.
    pub fn from_passphrase_with_params(
        passphrase: &str,
        database: &Path,
        params: KdfParams,
    ) -> Result<Self, StoreError> {
        let salt_path = Self::salt_path(database);
        let Some(file) = salt_file::read(&salt_path)? else {
            let database_written = fs::metadata(database).is_ok_and(|meta| meta.len() > 0);
            if database_written {
                return Err(StoreError::SaltMissing(salt_path));
            }
            let (key, file) = Self::fresh(passphrase, params)?;
            salt_file::write(&salt_path, &file)?;
            return Ok(key);
        };
        let key = Self::derive(passphrase.as_bytes(), &file.salt, file.params)?;
        if let Some(check) = &file.check
            && salt_file::matches(&key.bytes, check)?
        {
            return Ok(key.with_origin(Origin::Checked));
        }
        // Not the salt file's passphrase (or no check to tell): perhaps the new one of an
        // interrupted passphrase change.
        if let Some(pending) = salt_file::read(&salt_file::pending_path(database))?
            && let Some(check) = &pending.check
        {
            let new = Self::derive(passphrase.as_bytes(), &pending.salt, pending.params)?;
            if salt_file::matches(&new.bytes, check)? {
                return Ok(new.with_origin(Origin::Pending));
            }
        }
        match file.check {
            Some(_) => Err(StoreError::WrongKey),
            None => Ok(key.with_origin(Origin::Unchecked(file))),
        }
    }

    /// A key from `passphrase` under a fresh random salt, and the salt file (with check) for it.
    pub(super) fn fresh(passphrase: &str, params: KdfParams) -> Result<(Self, SaltFile), StoreError> {
        let mut salt = [0u8; SALT_LEN];
        rand::rng().fill_bytes(&mut salt);
        let key = Self::derive(passphrase.as_bytes(), &salt, params)?.with_origin(Origin::Checked);
        let check = Some(salt_file::check_value(&key.bytes)?);
        Ok((key, SaltFile { params, salt, check }))
    }

    /// Whether the key matched a stored key check, so that a database it does not open is
    /// damaged rather than under another key. A raw key, or one from a salt file written before
    /// key checks, has nothing to be checked against.
    pub fn is_checked(&self) -> bool {
        matches!(self.origin, Origin::Checked | Origin::Pending)
    }

    pub(super) fn origin(&self) -> &Origin {
        &self.origin
    }

    pub(super) fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    pub(super) fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// Argon2id of `passphrase` with `salt` and `params`; the pure step of
    /// [`DatabaseKey::from_passphrase`].
    pub fn derive(passphrase: &[u8], salt: &[u8; SALT_LEN], params: KdfParams) -> Result<Self, StoreError> {
        let mut key = Box::new([0u8; 32]);
        params
            .argon2()?
            .hash_password_into(passphrase, salt, key.as_mut_slice())
            .map_err(|error| StoreError::KdfParams(error.to_string()))?;
        Ok(Self {
            bytes: key,
            origin: Origin::Raw,
        })
    }

    /// Where the passphrase salt of the database at `database` lives: `<database>.salt`.
    pub fn salt_path(database: &Path) -> PathBuf {
        salt_file::suffixed(database, ".salt")
    }

    /// The statement that keys a SQLCipher connection with this raw key (no SQLCipher KDF).
    pub(super) fn key_statement(&self) -> Zeroizing<String> {
        let mut statement = Zeroizing::new(String::with_capacity(32 + 64));
        statement.push_str("PRAGMA key = \"x'");
        statement.push_str(&self.hex());
        statement.push_str("'\";");
        statement
    }

    /// The key in lowercase hex, as SQLCipher's raw key syntax `x'...'` takes it.
    pub(super) fn hex(&self) -> Zeroizing<String> {
        let mut hex = Zeroizing::new(String::with_capacity(64));
        for byte in self.bytes.iter() {
            for nibble in [byte >> 4, byte & 0x0f] {
                // A nibble is below 16, so it is always a hex digit.
                hex.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
            }
        }
        hex
    }

    /// The key that encrypts pickles inside the database, independent of the page key.
    pub(super) fn pickle_key(&self) -> Result<PickleKey, StoreError> {
        let mut okm = [0u8; 32];
        hkdf_sha256(None, self.bytes.as_slice(), PICKLE_KEY_INFO, &mut okm)
            .map_err(|error| StoreError::Backend(format!("pickle key derivation: {error}")))?;
        let key = PickleKey::new(okm);
        okm.zeroize();
        Ok(key)
    }
}

impl fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatabaseKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> KdfParams {
        KdfParams::new(64, 1, 1).unwrap()
    }

    #[test]
    fn raw_key_statement_is_hex() {
        let key = DatabaseKey::from_bytes([0xab; 32]);
        let statement = key.key_statement();
        assert_eq!(
            statement.as_str(),
            format!("PRAGMA key = \"x'{}'\";", "ab".repeat(32))
        );
        assert_eq!(format!("{key:?}"), "DatabaseKey(..)");
    }

    #[test]
    fn passphrase_keys_depend_on_passphrase_salt_and_params() {
        let salt = [1; SALT_LEN];
        let key = |passphrase: &[u8], salt: &[u8; SALT_LEN], params| {
            *DatabaseKey::derive(passphrase, salt, params).unwrap().bytes
        };
        let base = key(b"correct horse", &salt, cheap());
        assert_eq!(base, key(b"correct horse", &salt, cheap()));
        assert_ne!(base, key(b"correct horsf", &salt, cheap()));
        assert_ne!(base, key(b"correct horse", &[2; SALT_LEN], cheap()));
        assert_ne!(
            base,
            key(b"correct horse", &salt, KdfParams::new(64, 2, 1).unwrap())
        );
    }

    #[test]
    fn salt_file_is_created_once_and_its_params_win() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("profile.db");
        let first = DatabaseKey::from_passphrase_with_params("pass", &database, cheap()).unwrap();
        let salt_path = DatabaseKey::salt_path(&database);
        assert_eq!(salt_path, dir.path().join("profile.db.salt"));
        let bytes = fs::read(&salt_path).unwrap();
        assert_eq!(bytes.len(), salt_file::V2_LEN);
        assert_eq!(salt_file::parse(&salt_path, &bytes).unwrap().params, cheap());
        // Asking for other (here: the expensive default) parameters later changes nothing.
        let again = DatabaseKey::from_passphrase("pass", &database).unwrap();
        assert_eq!(first.bytes, again.bytes);
        assert_eq!(fs::read(&salt_path).unwrap(), bytes);

        // Another profile gets another salt, so the same passphrase gives another key.
        let other =
            DatabaseKey::from_passphrase_with_params("pass", &dir.path().join("other.db"), cheap()).unwrap();
        assert_ne!(first.bytes, other.bytes);
    }

    #[test]
    fn a_written_database_without_salt_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("profile.db");
        fs::write(&database, b"pages").unwrap();
        assert!(matches!(
            DatabaseKey::from_passphrase_with_params("pass", &database, cheap()),
            Err(StoreError::SaltMissing(path)) if path == DatabaseKey::salt_path(&database)
        ));
        assert!(!DatabaseKey::salt_path(&database).exists());
    }

    #[test]
    fn malformed_salt_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("profile.db");
        let salt_path = DatabaseKey::salt_path(&database);
        let mut valid = b"HUSHKDF1".to_vec();
        for number in [64u32, 1, 1] {
            valid.extend_from_slice(&number.to_le_bytes());
        }
        valid.extend_from_slice(&[9; SALT_LEN]);
        let huge_memory = {
            let mut bytes = valid.clone();
            bytes[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
            bytes
        };
        let zero_iterations = {
            let mut bytes = valid.clone();
            bytes[12..16].copy_from_slice(&0u32.to_le_bytes());
            bytes
        };
        let bad_magic = {
            let mut bytes = valid.clone();
            bytes[0] = b'X';
            bytes
        };
        for bad in [
            &valid[..10],
            &bad_magic[..],
            &huge_memory[..],
            &zero_iterations[..],
            &[valid.clone(), vec![0]].concat(),
        ] {
            fs::write(&salt_path, bad).unwrap();
            assert!(
                matches!(
                    DatabaseKey::from_passphrase_with_params("pass", &database, cheap()),
                    Err(StoreError::SaltMalformed { .. })
                ),
                "{bad:?}"
            );
        }
        fs::write(&salt_path, &valid).unwrap();
        assert!(DatabaseKey::from_passphrase_with_params("pass", &database, cheap()).is_ok());
    }

    #[test]
    fn pickle_key_differs_per_database_key() {
        let pickle = hush_crypto::Account::new(1, &mut rand::rng()).pickle();
        let sealed = pickle.encrypt(
            &DatabaseKey::from_bytes([1; 32]).pickle_key().unwrap(),
            &mut rand::rng(),
        );
        let same = DatabaseKey::from_bytes([1; 32]).pickle_key().unwrap();
        let other = DatabaseKey::from_bytes([2; 32]).pickle_key().unwrap();
        assert!(hush_crypto::AccountPickle::from_encrypted(&same, &sealed).is_ok());
        assert!(hush_crypto::AccountPickle::from_encrypted(&other, &sealed).is_err());
    }
}
