//! Addresses people share: `hush:` followed by the 64 hex digits of an Ed25519 identity key.
//!
//! The address is the identity (self-certifying, as in SimpleX or Tox): the relay mailbox is
//! derived from it, and a bundle the relay returns must carry exactly this key. A contact whose
//! key changes therefore has a new address; [`crate`] users see that as a contact-level event.

use core::fmt;
use core::str::FromStr;

use hush_crypto::IdentityKey;
use hush_proto::MailboxId;
use thiserror::Error;

/// Prefix of the text form.
pub const ADDRESS_PREFIX: &str = "hush:";

/// A peer's address: its identity key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Address(IdentityKey);

impl core::hash::Hash for Address {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.0.as_bytes().hash(state);
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.0.as_bytes().cmp(other.0.as_bytes())
    }
}

/// Why text is not an address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AddressError {
    /// It does not start with `hush:`.
    #[error("an address starts with \"{ADDRESS_PREFIX}\"")]
    MissingPrefix,
    /// Not 64 hex digits after the prefix.
    #[error("an address has 64 hex digits after \"{ADDRESS_PREFIX}\", found {found} characters")]
    BadLength {
        /// Characters found after the prefix.
        found: usize,
    },
    /// A character that is not a hex digit.
    #[error("an address holds only hex digits")]
    NotHex,
    /// The digits are not a valid Ed25519 public key.
    #[error("the address is not a valid identity key")]
    InvalidKey,
}

impl Address {
    /// The address of `identity`.
    pub fn from_identity(identity: &IdentityKey) -> Self {
        Self(*identity)
    }

    /// The address of an account (its key was validated when it was made).
    pub fn from_account(account: &hush_crypto::devices::AccountKey) -> Self {
        Self(*account.as_identity())
    }

    /// From raw key bytes, checking that they are a valid identity key.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, AddressError> {
        IdentityKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| AddressError::InvalidKey)
    }

    /// The identity key.
    pub fn identity(&self) -> IdentityKey {
        self.0
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The relay mailbox of this address.
    pub fn mailbox(&self) -> MailboxId {
        MailboxId::for_identity(self.0.as_bytes())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ADDRESS_PREFIX)?;
        for byte in self.0.as_bytes() {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text
            .trim()
            .strip_prefix(ADDRESS_PREFIX)
            .ok_or(AddressError::MissingPrefix)?;
        if digits.len() != 64 {
            return Err(AddressError::BadLength {
                found: digits.chars().count(),
            });
        }
        // Checked first: `from_str_radix` also takes a leading `+`, so "+a" would pass as "0a".
        if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(AddressError::NotHex);
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.as_bytes().chunks_exact(2)) {
            let text = core::str::from_utf8(pair).map_err(|_| AddressError::NotHex)?;
            *byte = u8::from_str_radix(text, 16).map_err(|_| AddressError::NotHex)?;
        }
        Self::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let account = hush_crypto::Account::new(1_700_000_000, &mut rand::rng());
        let address = Address::from_identity(&account.identity_key());
        let text = address.to_string();
        assert!(text.starts_with("hush:"));
        assert_eq!(text.len(), 5 + 64);
        assert_eq!(text.parse::<Address>().unwrap(), address);
        assert_eq!(address.identity(), account.identity_key());
    }

    #[test]
    fn bad_text_gets_a_typed_error() {
        assert_eq!("abc".parse::<Address>(), Err(AddressError::MissingPrefix));
        assert_eq!(
            "hush:abcd".parse::<Address>(),
            Err(AddressError::BadLength { found: 4 })
        );
        let not_hex = format!("hush:{}", "zz".repeat(32));
        assert_eq!(not_hex.parse::<Address>(), Err(AddressError::NotHex));
        // A sign is not a digit, though `u8::from_str_radix` takes "+0" as "00".
        let signed = format!("hush:+0{}", "00".repeat(31));
        assert_eq!(signed.parse::<Address>(), Err(AddressError::NotHex));
        // A small-order point is not an acceptable identity.
        let weak = format!("hush:{}", "00".repeat(32));
        assert_eq!(weak.parse::<Address>(), Err(AddressError::InvalidKey));
    }
}
