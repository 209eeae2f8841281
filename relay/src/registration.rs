//! The operator's registration authority: an Ed25519 key whose public half is the relay's
//! `registration_key`. A relay configured with it registers a new identity only with a token
//! the authority signed for that identity (PROTOCOL.md, "Login"). The relay itself never holds
//! the private half; the operator (or the app's backend) keeps it and issues tokens with
//! `hush-relay registration-token`.
//!
//! The key file is the 32-byte Ed25519 seed in hex on one line, created readable by its owner
//! only.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use hush_crypto::IdentityKey;
use hush_proto::{RegistrationToken, Signature, registration_message};
use zeroize::Zeroizing;

use crate::tls::{from_hex, to_hex};

/// What an address looks like to the CLI (the client's `hush:` followed by the identity key).
const ADDRESS_PREFIX: &str = "hush:";

/// Why the authority's key could not be loaded, made, or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorityError {
    /// Reading or writing the key file failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file does not hold 64 hex digits.
    #[error("{} does not hold a hex Ed25519 seed (64 hex digits)", .0.display())]
    KeyFile(PathBuf),
    /// The identity to issue a token for is not `hush:` + 64 hex digits of an Ed25519 key.
    #[error("expected an address (hush: and 64 hex digits) or a hex identity key, found {0:?}")]
    Identity(String),
}

/// The authority's signing key. Its seed is wiped on drop and never printed.
pub struct RegistrationAuthority {
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for RegistrationAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationAuthority")
            .field("public_key", &to_hex(&self.public_key()))
            .finish_non_exhaustive()
    }
}

impl RegistrationAuthority {
    /// A new random authority.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::Rng::fill_bytes(&mut rand::rng(), seed.as_mut_slice());
        Self::from_seed(&seed)
    }

    /// The authority of a 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// Loads the key file at `path`, creating it with a new key (mode 0600) if it does not exist.
    /// Returns the authority and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), AuthorityError> {
        match fs::read_to_string(path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                let seed = from_hex::<32>(text.trim())
                    .map(Zeroizing::new)
                    .ok_or_else(|| AuthorityError::KeyFile(path.to_owned()))?;
                Ok((Self::from_seed(&seed), false))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let authority = Self::generate();
                authority.write_new(path)?;
                Ok((authority, true))
            }
            Err(source) => Err(AuthorityError::Io {
                what: format!("reading {}", path.display()),
                source,
            }),
        }
    }

    fn write_new(&self, path: &Path) -> Result<(), AuthorityError> {
        let io = |source| AuthorityError::Io {
            what: format!("creating {}", path.display()),
            source,
        };
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        let mut line = Zeroizing::new(to_hex(self.key.as_bytes()));
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// The public key, for the relay's `registration_key`.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// A token that lets `identity_key` register until `expires_at` (Unix seconds).
    pub fn issue(&self, identity_key: &[u8; 32], expires_at: u64) -> RegistrationToken {
        // The relay verifies tokens as purpose signatures (PROTOCOL.md, "Login" step 5).
        let message = hush_crypto::purpose_signed_message(
            hush_crypto::SignaturePurpose::RegistrationToken,
            &registration_message(identity_key, expires_at),
        );
        RegistrationToken {
            expires_at,
            signature: Signature(hush_crypto::primitives::ed25519_sign(&self.key, &message)),
        }
    }
}

/// The identity key of `text`: a client address (`hush:` + 64 hex digits) or the bare hex key.
pub fn parse_identity(text: &str) -> Result<[u8; 32], AuthorityError> {
    let text = text.trim();
    let hex = text.strip_prefix(ADDRESS_PREFIX).unwrap_or(text);
    from_hex::<32>(hex)
        .filter(|bytes| IdentityKey::from_bytes(bytes).is_ok())
        .ok_or_else(|| AuthorityError::Identity(text.chars().take(80).collect()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn tokens_verify_under_the_public_key_and_the_key_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authority.key");
        let (authority, created) = RegistrationAuthority::load_or_create(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&path).unwrap().permissions()) & 0o777,
            0o600
        );
        let (again, created) = RegistrationAuthority::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.public_key(), authority.public_key());
        assert!(!format!("{authority:?}").contains(&to_hex(authority.key.as_bytes())));

        let user = hush_crypto::Account::new(0, &mut rand::rng())
            .identity_key()
            .to_bytes();
        let token = authority.issue(&user, 1_800_000_000);
        let public = IdentityKey::from_bytes(&authority.public_key()).unwrap();
        assert!(
            public
                .verify_for(
                    hush_crypto::SignaturePurpose::RegistrationToken,
                    &registration_message(&user, token.expires_at),
                    &token.signature.0
                )
                .is_ok()
        );
        assert!(
            public
                .verify_for(
                    hush_crypto::SignaturePurpose::RegistrationToken,
                    &registration_message(&user, token.expires_at + 1),
                    &token.signature.0
                )
                .is_err()
        );

        fs::write(&path, "not hex\n").unwrap();
        assert!(matches!(
            RegistrationAuthority::load_or_create(&path),
            Err(AuthorityError::KeyFile(_))
        ));
    }

    #[test]
    fn identities_parse_from_an_address_or_hex() {
        let user = hush_crypto::Account::new(0, &mut rand::rng())
            .identity_key()
            .to_bytes();
        let hex = to_hex(&user);
        assert_eq!(parse_identity(&format!("hush:{hex}\n")).unwrap(), user);
        assert_eq!(parse_identity(&hex).unwrap(), user);
        for bad in ["hush:", "hush:00", &format!("hush:{}", "g".repeat(64))] {
            assert!(
                matches!(parse_identity(bad), Err(AuthorityError::Identity(_))),
                "{bad}"
            );
        }
    }
}
