//! The link code (SPEC.md §16.4): what a new device shows so that an existing device of the
//! account can reach it and authenticate it without trusting the relay, as bytes (for a QR code)
//! and as base32 text (to type or paste).

use core::fmt;

use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::LinkCodeError;
use super::{ACCOUNT_VERSION, TYPE_LINK_CODE};
use crate::keys::{Curve25519KeyPair, Curve25519PublicKey, IdentityKey};
use crate::wire::{Reader, Writer};

/// Length of a link code: version, type, identity key 32, ephemeral key 32, secret 16,
/// created_at 8.
pub const LINK_CODE_LEN: usize = 2 + 32 + 32 + LINK_SECRET_LEN + 8;

/// Length of the code's one-time secret: 128 bits, so guessing it online is hopeless and the
/// code stays short enough for a QR code.
pub(crate) const LINK_SECRET_LEN: usize = 16;

/// How long a link code can be answered (seconds): long enough to walk from the laptop to the
/// phone, short enough that a photographed code is soon worthless.
pub const LINK_CODE_LIFETIME: u64 = 10 * 60;

/// How far ahead of the existing device's clock a code may be dated (seconds): two devices of
/// one person may disagree by a few minutes.
pub const MAX_LINK_CLOCK_SKEW: u64 = 5 * 60;

/// The RFC 4648 base32 alphabet (the text form writes it lowercase).
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The code's one-time secret; wiped on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct LinkSecret(Box<[u8; LINK_SECRET_LEN]>);

impl LinkSecret {
    pub(crate) fn bytes(&self) -> &[u8; LINK_SECRET_LEN] {
        &self.0
    }
}

/// What the new device shows: its identity key, a one-time X25519 link key, a one-time secret
/// and when it was made. It holds a secret: show it on the device's screen, send it nowhere.
#[derive(Clone)]
pub struct LinkCode {
    identity_key: IdentityKey,
    ephemeral: Curve25519PublicKey,
    secret: LinkSecret,
    created_at: u64,
}

impl fmt::Debug for LinkCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkCode")
            .field("identity_key", &self.identity_key)
            .field("ephemeral", &self.ephemeral)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl PartialEq for LinkCode {
    fn eq(&self, other: &Self) -> bool {
        crate::primitives::ct_eq(&self.to_bytes(), &other.to_bytes())
    }
}

impl Eq for LinkCode {}

impl LinkCode {
    /// Decodes a link code strictly (SPEC.md §16.4).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LinkCodeError> {
        let mut reader = Reader::new(bytes);
        reader.versioned_header(ACCOUNT_VERSION, TYPE_LINK_CODE)?;
        let identity_key = reader.identity_key("identity_key")?;
        let ephemeral = reader.curve_key("link_ephemeral")?;
        let secret = LinkSecret(Box::new(reader.array("link_secret")?));
        let created_at = reader.u64("created_at")?;
        reader.finish()?;
        Ok(Self {
            identity_key,
            ephemeral,
            secret,
            created_at,
        })
    }

    /// The bytes (what a QR code carries).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::with_versioned_header(ACCOUNT_VERSION, TYPE_LINK_CODE, LINK_CODE_LEN);
        writer
            .put(self.identity_key.as_bytes())
            .put(self.ephemeral.as_bytes())
            .put(self.secret.bytes())
            .u64(self.created_at);
        writer.bytes
    }

    /// The text form: the bytes in lowercase RFC 4648 base32 without padding (144 characters).
    pub fn to_text(&self) -> String {
        base32_encode(&self.to_bytes())
    }

    /// Parses the text form. Case is ignored, and so are ASCII whitespace and `-` (people copy
    /// codes in groups).
    pub fn from_text(text: &str) -> Result<Self, LinkCodeError> {
        Self::from_bytes(&base32_decode(text)?)
    }

    /// The new device's identity key. The linking device puts it in the device list, and pins it:
    /// a bundle the relay serves for the new device must carry exactly this key.
    pub fn identity_key(&self) -> IdentityKey {
        self.identity_key
    }

    /// The new device's one-time X25519 link key.
    pub fn ephemeral(&self) -> Curve25519PublicKey {
        self.ephemeral
    }

    /// When the new device made the code (its clock, Unix seconds).
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    pub(crate) fn secret(&self) -> &LinkSecret {
        &self.secret
    }

    /// Wipes the one-time secret (after the code's request accepted its link message).
    pub(crate) fn wipe_secret(&mut self) {
        self.secret.zeroize();
    }
}

/// The new device's side of a link: the secrets behind the code it shows. One request accepts
/// one link message; after that its secrets are wiped. Its saved form
/// ([`LinkRequest::pickle`], sealed like every pickle) lets a device that restarts while waiting
/// still open the answer to the code it showed.
pub struct LinkRequest {
    /// The code shown (it holds the one-time secret and the link key's public half).
    pub(crate) code: LinkCode,
    /// The link key pair, whose public half is in the code.
    pub(crate) ephemeral: Curve25519KeyPair,
    pub(crate) used: bool,
}

impl fmt::Debug for LinkRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The code's Debug hides the secret; the ephemeral secret is not printed at all.
        f.debug_tuple("LinkRequest")
            .field(&self.code)
            .field(&self.used)
            .finish()
    }
}

impl LinkRequest {
    /// A request for the device whose identity key is `identity_key`, made at `now`. Draws 32
    /// bytes (the link key's secret), then 16 (the one-time secret).
    pub fn new(identity_key: IdentityKey, now: u64, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let ephemeral = Curve25519KeyPair::generate(rng);
        let mut secret = Box::new([0u8; LINK_SECRET_LEN]);
        rng.fill_bytes(secret.as_mut_slice());
        let code = LinkCode {
            identity_key,
            ephemeral: ephemeral.public(),
            secret: LinkSecret(secret),
            created_at: now,
        };
        Self {
            code,
            ephemeral,
            used: false,
        }
    }

    /// The code to show.
    pub fn code(&self) -> LinkCode {
        self.code.clone()
    }
}

/// The symbol of the low 5 bits of `value`.
fn base32_symbol(value: u32) -> char {
    let index = usize::try_from(value & 31).unwrap_or(0);
    BASE32.get(index).map_or('a', |symbol| char::from(*symbol))
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(base32_symbol(buffer >> bits));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(base32_symbol(buffer << (5 - bits)));
    }
    out
}

/// Decodes base32 without padding; refuses a length no byte string encodes to and leftover bits
/// that are not zero, so each byte string has one text form (up to case and separators).
fn base32_decode(text: &str) -> Result<Vec<u8>, LinkCodeError> {
    let symbols: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'-')
        .collect();
    let mut out = Vec::with_capacity(symbols.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for (position, symbol) in symbols.iter().enumerate() {
        let lower = symbol.to_ascii_lowercase();
        let value = BASE32
            .iter()
            .position(|c| *c == lower)
            .ok_or(LinkCodeError::NotBase32 { position })?;
        buffer = (buffer << 5) | u32::try_from(value).unwrap_or(0);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).unwrap_or(0));
            buffer &= (1 << bits) - 1;
        }
    }
    // Leftover bits: fewer than 5, all zero (a canonical encoding).
    if bits >= 5 || buffer != 0 {
        return Err(LinkCodeError::NotBase32 {
            position: symbols.len(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn base32_matches_rfc4648_test_vectors() {
        // RFC 4648 §10, lowercase and without padding.
        for (plain, encoded) in [
            (&b""[..], ""),
            (b"f", "my"),
            (b"fo", "mzxq"),
            (b"foo", "mzxw6"),
            (b"foob", "mzxw6yq"),
            (b"fooba", "mzxw6ytb"),
            (b"foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(base32_encode(plain), encoded);
            assert_eq!(base32_decode(encoded).unwrap(), plain);
            assert_eq!(base32_decode(&encoded.to_uppercase()).unwrap(), plain);
        }
    }

    #[test]
    fn base32_refuses_bad_symbols_lengths_and_leftover_bits() {
        assert_eq!(
            base32_decode("mzx1").unwrap_err(),
            LinkCodeError::NotBase32 { position: 3 }
        );
        // One symbol carries 5 bits: no byte.
        assert_eq!(
            base32_decode("m").unwrap_err(),
            LinkCodeError::NotBase32 { position: 1 }
        );
        // "mz" has 2 leftover bits that are not zero ("my" is the canonical "f").
        assert_eq!(
            base32_decode("mz").unwrap_err(),
            LinkCodeError::NotBase32 { position: 2 }
        );
        assert_eq!(base32_decode("m-y \n").unwrap(), b"f");
    }

    #[test]
    fn code_round_trips_through_bytes_and_text_and_hides_its_secret() {
        let mut rng = rand::rng();
        let identity = crate::Account::new(1, &mut rng).identity_key();
        let request = LinkRequest::new(identity, 1_700_000_000, &mut rng);
        let code = request.code();
        let bytes = code.to_bytes();
        assert_eq!(bytes.len(), LINK_CODE_LEN);
        assert_eq!(LinkCode::from_bytes(&bytes).unwrap(), code);
        let text = code.to_text();
        assert_eq!(text.len(), 144);
        assert_eq!(LinkCode::from_text(&text.to_uppercase()).unwrap(), code);
        let secret_hex = crate::keys::hex(code.secret().bytes());
        assert!(!format!("{code:?}{request:?}").contains(&secret_hex));
    }

    #[test]
    fn code_decoding_is_strict() {
        let mut rng = rand::rng();
        let identity = crate::Account::new(1, &mut rng).identity_key();
        let bytes = LinkRequest::new(identity, 5, &mut rng).code().to_bytes();
        let decode = |b: &[u8]| LinkCode::from_bytes(b).unwrap_err();
        assert!(matches!(
            decode(&bytes[..LINK_CODE_LEN - 1]),
            LinkCodeError::Decode(crate::DecodeError::Truncated {
                field: "created_at",
                ..
            })
        ));
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(matches!(
            decode(&extra),
            LinkCodeError::Decode(crate::DecodeError::TrailingBytes { count: 1 })
        ));
        let mut v1 = bytes.clone();
        v1[0] = 1;
        assert!(matches!(
            decode(&v1),
            LinkCodeError::Decode(crate::DecodeError::UnsupportedVersion {
                expected: 2,
                found: 1
            })
        ));
        let mut other_type = bytes.clone();
        other_type[1] = 0x06;
        assert!(matches!(
            decode(&other_type),
            LinkCodeError::Decode(crate::DecodeError::UnexpectedType { .. })
        ));
        let mut low_order = bytes.clone();
        low_order[34..66].copy_from_slice(&[0; 32]);
        assert!(matches!(
            decode(&low_order),
            LinkCodeError::Decode(crate::DecodeError::InvalidKey {
                field: "link_ephemeral",
                ..
            })
        ));
    }
}
