//! The text form of a [`RegistrationToken`], as an operator hands it to a user:
//! `hush-registration:<expires_at>:<signature>`, the expiry in decimal Unix seconds and the
//! 64-byte signature in lowercase hex. One canonical spelling: no sign, no leading zeros, no
//! upper-case hex, nothing around it but surrounding whitespace, which parsing trims.

use core::fmt;
use core::str::FromStr;

use thiserror::Error;

use crate::{RegistrationToken, Signature};

/// What a registration token's text form starts with.
pub const REGISTRATION_TOKEN_PREFIX: &str = "hush-registration:";

/// Why text is not a registration token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RegistrationTokenError {
    /// The text does not start with [`REGISTRATION_TOKEN_PREFIX`].
    #[error("expected a token starting with {REGISTRATION_TOKEN_PREFIX:?}")]
    Prefix,
    /// No `:` between the expiry and the signature.
    #[error("expected <expires_at>:<signature> after the prefix")]
    Shape,
    /// The expiry is not a canonical decimal `u64`.
    #[error("expected the expiry in decimal Unix seconds, found {0:?}")]
    Expiry(String),
    /// The signature is not 128 lowercase hex digits.
    #[error("expected a 128-digit lowercase hex signature, found {found} characters")]
    Signature {
        /// How many characters were there.
        found: usize,
    },
}

impl fmt::Display for RegistrationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{REGISTRATION_TOKEN_PREFIX}{}:", self.expires_at)?;
        for byte in self.signature.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for RegistrationToken {
    type Err = RegistrationTokenError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rest = text
            .trim()
            .strip_prefix(REGISTRATION_TOKEN_PREFIX)
            .ok_or(RegistrationTokenError::Prefix)?;
        let (expiry, signature) = rest.split_once(':').ok_or(RegistrationTokenError::Shape)?;
        let canonical = !expiry.is_empty()
            && expiry.bytes().all(|byte| byte.is_ascii_digit())
            && (expiry == "0" || !expiry.starts_with('0'));
        let expires_at = canonical
            .then(|| expiry.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| RegistrationTokenError::Expiry(expiry.chars().take(24).collect()))?;
        let bad_signature = || RegistrationTokenError::Signature {
            found: signature.chars().count(),
        };
        if signature.len() != 128 {
            return Err(bad_signature());
        }
        let mut bytes = [0u8; 64];
        for (byte, pair) in bytes.iter_mut().zip(signature.as_bytes().chunks_exact(2)) {
            let [high, low] = pair else {
                return Err(bad_signature());
            };
            *byte =
                (nibble(*high).ok_or_else(bad_signature)? << 4) | nibble(*low).ok_or_else(bad_signature)?;
        }
        Ok(Self {
            expires_at,
            signature: Signature(bytes),
        })
    }
}

/// A lowercase hex digit's value.
fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn token() -> RegistrationToken {
        let mut signature = [0u8; 64];
        for (index, byte) in signature.iter_mut().enumerate() {
            *byte = u8::try_from(index * 7 % 256).unwrap();
        }
        RegistrationToken {
            expires_at: 1_700_000_000,
            signature: Signature(signature),
        }
    }

    #[test]
    fn text_form_round_trips_and_is_trimmed() {
        let text = token().to_string();
        assert!(text.starts_with("hush-registration:1700000000:00070e15"));
        assert_eq!(text.len(), REGISTRATION_TOKEN_PREFIX.len() + 10 + 1 + 128);
        assert_eq!(text.parse::<RegistrationToken>().unwrap(), token());
        assert_eq!(
            format!("  {text}\n").parse::<RegistrationToken>().unwrap(),
            token()
        );
    }

    #[test]
    fn malformed_text_is_a_typed_error() {
        let text = token().to_string();
        let signature = &text[text.len() - 128..];
        let cases: [(String, RegistrationTokenError); 9] = [
            ("".into(), RegistrationTokenError::Prefix),
            (text.replacen("hush-", "hash-", 1), RegistrationTokenError::Prefix),
            (
                "hush-registration:1700000000".into(),
                RegistrationTokenError::Shape,
            ),
            (
                format!("hush-registration::{signature}"),
                RegistrationTokenError::Expiry(String::new()),
            ),
            (
                format!("hush-registration:01:{signature}"),
                RegistrationTokenError::Expiry("01".into()),
            ),
            (
                format!("hush-registration:+1:{signature}"),
                RegistrationTokenError::Expiry("+1".into()),
            ),
            (
                format!("hush-registration:18446744073709551616:{signature}"),
                RegistrationTokenError::Expiry("18446744073709551616".into()),
            ),
            (
                format!("{}0", &text),
                RegistrationTokenError::Signature { found: 129 },
            ),
            (
                text.to_uppercase()
                    .replacen("HUSH-REGISTRATION:", "hush-registration:", 1),
                RegistrationTokenError::Signature { found: 128 },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<RegistrationToken>(), Err(expected), "{input:?}");
        }
        let non_ascii = format!("hush-registration:1:{}é", "0".repeat(126));
        assert!(matches!(
            non_ascii.parse::<RegistrationToken>(),
            Err(RegistrationTokenError::Signature { .. })
        ));
        assert_eq!(
            format!("hush-registration:0:{signature}")
                .parse::<RegistrationToken>()
                .unwrap()
                .expires_at,
            0
        );
    }
}
