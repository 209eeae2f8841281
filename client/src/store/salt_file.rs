//! The passphrase salt file `<database>.salt`: the Argon2id parameters and salt a passphrase key
//! is derived with, and (since format 2) a key check value that tells a wrong passphrase from a
//! damaged database before SQLCipher reads a page. None of it is secret.
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 8 | magic `HUSHKDF2` (Argon2id, version 0x13, with key check); `HUSHKDF1`: without |
//! | 8 | 4 | memory in KiB, u32 little-endian |
//! | 12 | 4 | iterations, u32 little-endian |
//! | 16 | 4 | parallelism, u32 little-endian |
//! | 20 | 16 | random salt |
//! | 36 | 32 | key check: HKDF-SHA256(derived key, info `Hush_v1_ClientStore_KeyCheck`) (format 2 only) |
//!
//! The check value costs a guesser exactly what the database itself does: to test a passphrase
//! against it, one Argon2id derivation with these parameters, then one HKDF (SQLCipher's page 1
//! check would take one HMAC-SHA512 instead).
//!
//! A `passphrase change` writes the new passphrase's file as `<database>.salt.new` first and
//! moves it over `<database>.salt` last (see `rekey`).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use hush_crypto::primitives::{ct_eq, hkdf_sha256};
use zeroize::Zeroize;

use super::StoreError;
use super::kdf::{KdfParams, SALT_LEN};

const MAGIC_V1: &[u8; 8] = b"HUSHKDF1";
const MAGIC_V2: &[u8; 8] = b"HUSHKDF2";
const HEADER_LEN: usize = 8 + 12 + SALT_LEN;
/// Length of a format 1 file (no key check).
pub(super) const V1_LEN: usize = HEADER_LEN;
/// Length of a format 2 file.
pub(super) const V2_LEN: usize = HEADER_LEN + CHECK_LEN;
const CHECK_LEN: usize = 32;

/// HKDF label of the key check value; distinct from the pickle key's, so neither reveals the other.
const CHECK_INFO: &[u8] = b"Hush_v1_ClientStore_KeyCheck";

/// The contents of a salt file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SaltFile {
    pub(super) params: KdfParams,
    pub(super) salt: [u8; SALT_LEN],
    /// `None` in a format 1 file, written before key checks existed.
    pub(super) check: Option<[u8; CHECK_LEN]>,
}

/// The key check value of a derived database key.
pub(super) fn check_value(key: &[u8; 32]) -> Result<[u8; CHECK_LEN], StoreError> {
    let mut check = [0u8; CHECK_LEN];
    hkdf_sha256(None, key, CHECK_INFO, &mut check)
        .map_err(|error| StoreError::Backend(format!("key check derivation: {error}")))?;
    Ok(check)
}

/// Whether `key` matches `check`, in constant time.
pub(super) fn matches(key: &[u8; 32], check: &[u8; CHECK_LEN]) -> Result<bool, StoreError> {
    let mut value = check_value(key)?;
    let equal = ct_eq(&value, check);
    value.zeroize();
    Ok(equal)
}

/// Where a `passphrase change` stages the new salt file of `database`: `<database>.salt.new`.
pub(super) fn pending_path(database: &Path) -> PathBuf {
    suffixed(database, ".salt.new")
}

/// `path` with `suffix` appended to its file name.
pub(super) fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Reads the salt file at `path`; `None` if there is none.
pub(super) fn read(path: &Path) -> Result<Option<SaltFile>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => parse(path, &bytes).map(Some),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io {
            what: format!("cannot read {}", path.display()),
            source,
        }),
    }
}

pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<SaltFile, StoreError> {
    let malformed = |reason: String| StoreError::SaltMalformed {
        path: path.to_owned(),
        reason,
    };
    let (magic, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or_else(|| malformed(format!("expected {V2_LEN} bytes, found {}", bytes.len())))?;
    let expected = match magic {
        magic if magic == MAGIC_V2 => V2_LEN,
        magic if magic == MAGIC_V1 => V1_LEN,
        _ => {
            return Err(malformed(
                "it does not start with HUSHKDF2 or HUSHKDF1".to_owned(),
            ));
        }
    };
    if bytes.len() != expected {
        return Err(malformed(format!(
            "expected {expected} bytes, found {}",
            bytes.len()
        )));
    }
    let word = |at: usize| {
        rest.get(at..at + 4)
            .and_then(|chunk| <[u8; 4]>::try_from(chunk).ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| malformed("truncated parameters".to_owned()))
    };
    let (memory_kib, iterations, parallelism) = (word(0)?, word(4)?, word(8)?);
    let params =
        KdfParams::new(memory_kib, iterations, parallelism).map_err(|error| malformed(error.to_string()))?;
    let salt = rest
        .get(12..12 + SALT_LEN)
        .and_then(|salt| <[u8; SALT_LEN]>::try_from(salt).ok())
        .ok_or_else(|| malformed("truncated salt".to_owned()))?;
    let check = match rest.get(12 + SALT_LEN..) {
        Some(check) if !check.is_empty() => Some(
            <[u8; CHECK_LEN]>::try_from(check).map_err(|_| malformed("truncated key check".to_owned()))?,
        ),
        _ => None,
    };
    Ok(SaltFile { params, salt, check })
}

fn encode(file: &SaltFile) -> Vec<u8> {
    let mut contents = Vec::with_capacity(V2_LEN);
    contents.extend_from_slice(if file.check.is_some() { MAGIC_V2 } else { MAGIC_V1 });
    for number in [
        file.params.memory_kib(),
        file.params.iterations(),
        file.params.parallelism(),
    ] {
        contents.extend_from_slice(&number.to_le_bytes());
    }
    contents.extend_from_slice(&file.salt);
    if let Some(check) = &file.check {
        contents.extend_from_slice(check);
    }
    contents
}

/// Writes the salt file durably: a temporary file, synced, renamed into place, directory synced.
/// A crash leaves the old file or the new one, never a part.
pub(super) fn write(path: &Path, file: &SaltFile) -> Result<(), StoreError> {
    let io = |what: &str| {
        let what = format!("{what} {}", path.display());
        move |source| StoreError::Io { what, source }
    };
    let temporary = suffixed(path, ".tmp");
    let mut handle = super::private_file(&temporary).map_err(io("cannot create"))?;
    handle.write_all(&encode(file)).map_err(io("cannot write"))?;
    handle.sync_all().map_err(io("cannot sync"))?;
    drop(handle);
    rename_durably(&temporary, path)
}

/// Moves `from` to `to` and syncs their directory, so the rename survives a power loss.
pub(super) fn rename_durably(from: &Path, to: &Path) -> Result<(), StoreError> {
    fs::rename(from, to).map_err(|source| StoreError::Io {
        what: format!("cannot move {} to {}", from.display(), to.display()),
        source,
    })?;
    sync_directory(to)
}

/// Syncs the directory holding `path`.
pub(super) fn sync_directory(path: &Path) -> Result<(), StoreError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| StoreError::Io {
            what: format!("cannot sync the directory of {}", path.display()),
            source,
        })
}

/// Removes `path` if it is there.
pub(super) fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io {
            what: format!("cannot remove {}", path.display()),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(check: Option<[u8; CHECK_LEN]>) -> SaltFile {
        SaltFile {
            params: KdfParams::new(64, 1, 1).unwrap(),
            salt: [9; SALT_LEN],
            check,
        }
    }

    #[test]
    fn both_formats_round_trip() {
        let path = Path::new("profile.db.salt");
        for file in [sample(None), sample(Some([7; CHECK_LEN]))] {
            let bytes = encode(&file);
            assert_eq!(bytes.len(), if file.check.is_some() { V2_LEN } else { V1_LEN });
            assert_eq!(parse(path, &bytes).unwrap(), file);
        }
    }

    #[test]
    fn a_version_2_file_without_its_check_is_malformed() {
        let mut bytes = encode(&sample(Some([7; CHECK_LEN])));
        bytes.truncate(V1_LEN);
        assert!(matches!(
            parse(Path::new("x"), &bytes),
            Err(StoreError::SaltMalformed { .. })
        ));
        // A format 1 file with a check appended is malformed too.
        let mut bytes = encode(&sample(None));
        bytes.extend_from_slice(&[7; CHECK_LEN]);
        assert!(parse(Path::new("x"), &bytes).is_err());
    }

    #[test]
    fn the_check_matches_its_key_only() {
        let check = check_value(&[1; 32]).unwrap();
        assert!(matches(&[1; 32], &check).unwrap());
        assert!(!matches(&[2; 32], &check).unwrap());
    }
}
