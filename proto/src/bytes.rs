//! A byte string with a decode-time length limit: an envelope, and the fields of protocol
//! version 4 (the shared and ephemeral sends) whose limits differ from an envelope's.

use serde::{Deserialize, Serialize};

/// Opaque bytes, at most `MAX` of them. On the wire a byte string (postcard: varint length, then
/// the bytes), as [`crate::Envelope`] is; a longer one does not decode. `Debug` shows the length
/// only: these carry ciphertext, which never reaches logs.
#[derive(Clone, PartialEq, Eq)]
pub struct LimitedBytes<const MAX: usize>(Vec<u8>);

impl<const MAX: usize> LimitedBytes<MAX> {
    /// Wraps bytes; `None` if there are more than `MAX`.
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() <= MAX).then_some(Self(bytes))
    }

    /// Wraps bytes whose builder's input limits already keep them within `MAX` (a shared
    /// envelope).
    pub(crate) fn within_limit(bytes: Vec<u8>) -> Self {
        debug_assert!(bytes.len() <= MAX);
        Self(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl<const MAX: usize> core::fmt::Debug for LimitedBytes<MAX> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Bytes({} of at most {MAX})", self.0.len())
    }
}

impl<const MAX: usize> Serialize for LimitedBytes<MAX> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for LimitedBytes<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_byte_buf(BoundedBytes {
                max: MAX,
                what: "a byte string",
            })
            .map(Self)
    }
}

/// Reads a byte string of at most `max` bytes: in one piece from a format with byte strings
/// (postcard), element by element from one without (a JSON array), never holding more than `max`.
pub(crate) struct BoundedBytes {
    pub(crate) max: usize,
    pub(crate) what: &'static str,
}

impl BoundedBytes {
    fn check<E: serde::de::Error>(&self, len: usize) -> Result<(), E> {
        if len > self.max {
            return Err(E::invalid_length(len, self));
        }
        Ok(())
    }
}

impl<'de> serde::de::Visitor<'de> for BoundedBytes {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} of at most {} bytes", self.what, self.max)
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
        self.check(bytes.len())?;
        Ok(bytes.to_vec())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
        self.check(bytes.len())?;
        Ok(bytes)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max));
        while let Some(byte) = seq.next_element::<u8>()? {
            self.check(bytes.len() + 1)?;
            bytes.push(byte);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_limit_holds_when_wrapping_and_when_decoding() {
        assert!(LimitedBytes::<3>::new(vec![1, 2, 3]).is_some());
        assert!(LimitedBytes::<3>::new(vec![1, 2, 3, 4]).is_none());
        let four = postcard::to_allocvec(&vec![9u8; 4]).unwrap();
        assert!(postcard::from_bytes::<LimitedBytes<3>>(&four).is_err());
        let three = LimitedBytes::<3>::new(vec![9; 3]).unwrap();
        let encoded = postcard::to_allocvec(&three).unwrap();
        assert_eq!(encoded, [3, 9, 9, 9]);
        assert_eq!(postcard::from_bytes::<LimitedBytes<3>>(&encoded).unwrap(), three);
        assert_eq!(format!("{three:?}"), "Bytes(3 of at most 3)");
    }
}
