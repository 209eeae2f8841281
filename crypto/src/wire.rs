//! Byte-level reading and writing for every Hush encoding: big-endian integers, fixed arrays,
//! length-prefixed fields with limits checked before any allocation, and no trailing bytes.

use crate::error::DecodeError;
use crate::keys::{Curve25519PublicKey, IdentityKey};

/// The protocol version of every encoding that has no newer form.
pub const VERSION: u8 = 1;
/// The version of the PQXDH forms of the bundle and the pre-key message (SPEC.md §17).
pub const PQXDH_VERSION: u8 = 2;

/// Type byte of a ratchet [`crate::Message`].
pub const TYPE_MESSAGE: u8 = 0x01;
/// Type byte of a [`crate::PreKeyMessage`].
pub const TYPE_PREKEY_MESSAGE: u8 = 0x02;
/// Type byte of a [`crate::group::SenderKeyMessage`].
pub const TYPE_SENDER_KEY_MESSAGE: u8 = 0x03;
/// Type byte of a [`crate::group::SenderKeyDistribution`].
pub const TYPE_SENDER_KEY_DISTRIBUTION: u8 = 0x04;
/// Type byte of a [`crate::PreKeyBundle`].
pub const TYPE_PREKEY_BUNDLE: u8 = 0x05;

/// A cursor over untrusted bytes. Every read checks the remaining length first.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// Reads the version and type bytes and checks both.
    pub(crate) fn header(&mut self, expected_type: u8) -> Result<(), DecodeError> {
        self.versioned_header(VERSION, expected_type)
    }

    /// Reads the version and type bytes of an encoding with a classical (1) and a PQXDH (2)
    /// form, and returns which.
    pub(crate) fn header_classical_or_pq(&mut self, expected_type: u8) -> Result<u8, DecodeError> {
        self.header_of(&[VERSION, PQXDH_VERSION], expected_type)
    }

    /// Reads the version and type bytes of a format with its own version (the account layer,
    /// SPEC.md §16) and checks both.
    pub(crate) fn versioned_header(
        &mut self,
        expected_version: u8,
        expected_type: u8,
    ) -> Result<(), DecodeError> {
        self.header_of(&[expected_version], expected_type).map(drop)
    }

    /// Reads the version (one of `accepted`; a refusal names the last, the newest) and the type.
    fn header_of(&mut self, accepted: &[u8], expected_type: u8) -> Result<u8, DecodeError> {
        let version = self.u8("version")?;
        if !accepted.contains(&version) {
            return Err(DecodeError::UnsupportedVersion {
                expected: accepted.last().copied().unwrap_or(VERSION),
                found: version,
            });
        }
        let found = self.u8("type")?;
        if found != expected_type {
            return Err(DecodeError::UnexpectedType {
                expected: expected_type,
                found,
            });
        }
        Ok(version)
    }

    pub(crate) fn take(&mut self, field: &'static str, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < len {
            return Err(DecodeError::Truncated {
                field,
                needed: len,
                available: self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(u8::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn flag(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(DecodeError::InvalidFlag { field, value }),
        }
    }

    /// A `u16`-length-prefixed field of at most `max` bytes.
    pub(crate) fn bytes_u16(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let length = usize::from(self.u16(field)?);
        if length > max {
            return Err(DecodeError::TooLong { field, length, max });
        }
        self.take(field, length)
    }

    /// A `u32`-length-prefixed field of `min..=max` bytes.
    pub(crate) fn bytes_u32(
        &mut self,
        field: &'static str,
        min: usize,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        let length = usize::try_from(self.u32(field)?).unwrap_or(usize::MAX);
        if length > max {
            return Err(DecodeError::TooLong { field, length, max });
        }
        if length < min {
            return Err(DecodeError::TooShort { field, length, min });
        }
        self.take(field, length)
    }

    pub(crate) fn curve_key(&mut self, field: &'static str) -> Result<Curve25519PublicKey, DecodeError> {
        Curve25519PublicKey::from_bytes(&self.array(field)?)
            .map_err(|source| DecodeError::InvalidKey { field, source })
    }

    pub(crate) fn identity_key(&mut self, field: &'static str) -> Result<IdentityKey, DecodeError> {
        IdentityKey::from_bytes(&self.array(field)?)
            .map_err(|source| DecodeError::InvalidKey { field, source })
    }

    /// The bytes consumed so far are everything: anything left is an error.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                count: self.bytes.len(),
            })
        }
    }
}

/// Appends encodings to a buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) bytes: Vec<u8>,
}

impl Writer {
    pub(crate) fn with_header(message_type: u8, capacity: usize) -> Self {
        Self::with_versioned_header(VERSION, message_type, capacity)
    }

    pub(crate) fn with_versioned_header(version: u8, message_type: u8, capacity: usize) -> Self {
        let mut bytes = Vec::with_capacity(capacity);
        bytes.push(version);
        bytes.push(message_type);
        Self { bytes }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    pub(crate) fn u8(&mut self, value: u8) -> &mut Self {
        self.put(&[value])
    }

    pub(crate) fn u16(&mut self, value: u16) -> &mut Self {
        self.put(&value.to_be_bytes())
    }

    pub(crate) fn u32(&mut self, value: u32) -> &mut Self {
        self.put(&value.to_be_bytes())
    }

    pub(crate) fn u64(&mut self, value: u64) -> &mut Self {
        self.put(&value.to_be_bytes())
    }

    /// Callers check `bytes.len() <= u16::MAX` (every u16 field has a smaller limit).
    pub(crate) fn bytes_u16(&mut self, bytes: &[u8]) -> &mut Self {
        let length = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        self.u16(length).put(bytes)
    }

    /// Callers check `bytes.len() <= u32::MAX` (every u32 field has a smaller limit).
    pub(crate) fn bytes_u32(&mut self, bytes: &[u8]) -> &mut Self {
        let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.u32(length).put(bytes)
    }
}
