//! Frames' types for accounts with several devices (protocol version 3): an account's signed
//! device list, published by one of its devices and fetched by anyone who knows the account
//! key. The list itself is hush-crypto's encoding (test-vectors/SPEC.md §16.2), opaque here but
//! bounded, so a frame carrying one stays small.

use serde::{Deserialize, Serialize};

use crate::bytes::BoundedBytes;
use crate::types::{BoundedVec, Signature};

/// Most devices an account has (test-vectors/SPEC.md §16, `MAX_DEVICES`).
pub const MAX_DEVICES: usize = 6;

/// Longest encoded device list (test-vectors/SPEC.md §16.2, `MAX_DEVICE_LIST_LEN`).
pub const MAX_DEVICE_LIST_LEN: usize = 545;

/// An account's long-term Ed25519 key (its address names it); device lists are stored under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccountId(pub [u8; 32]);

/// A signed device list as hush-crypto encodes it, at most [`MAX_DEVICE_LIST_LEN`] bytes. On the
/// wire a byte string, as [`crate::Envelope`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceListBytes(Vec<u8>);

impl DeviceListBytes {
    /// Wraps an encoded list; `None` if it is longer than [`MAX_DEVICE_LIST_LEN`].
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() <= MAX_DEVICE_LIST_LEN).then_some(Self(bytes))
    }

    /// The encoded list.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for DeviceListBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for DeviceListBytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_byte_buf(BoundedBytes {
                max: MAX_DEVICE_LIST_LEN,
                what: "a device list",
            })
            .map(Self)
    }
}

/// A device's consent to belong to an account: its identity key and its membership signature
/// over the account key (test-vectors/SPEC.md §16.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The device's Ed25519 identity key.
    pub identity_key: [u8; 32],
    /// `Ed25519(identity, "Hush_v1_IdentitySignature" || 4 || account key)`.
    pub signature: Signature,
}

/// The membership signatures served with a list, one per device at most.
pub type Memberships = BoundedVec<Membership, MAX_DEVICES>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::{ClientFrame, Request, RequestId, Response, ServerFrame, decode_body};

    #[test]
    fn limits_match_hush_crypto() {
        assert_eq!(MAX_DEVICES, hush_crypto::devices::MAX_DEVICES);
        assert_eq!(MAX_DEVICE_LIST_LEN, hush_crypto::devices::MAX_DEVICE_LIST_LEN);
    }

    /// The bytes PROTOCOL.md spells out for the version-3 frames.
    #[test]
    fn device_list_frames_encode_as_documented() {
        let publish = ClientFrame {
            id: RequestId(5),
            request: Request::PublishDeviceList {
                list: DeviceListBytes::new(vec![0xAB; 3]).unwrap(),
                membership: Signature([0xCD; 64]),
            },
        };
        let bytes = postcard::to_allocvec(&publish).unwrap();
        let mut expected = vec![5, 10, 3, 0xAB, 0xAB, 0xAB, 64];
        expected.extend_from_slice(&[0xCD; 64]);
        assert_eq!(bytes, expected);
        assert_eq!(decode_body::<ClientFrame>(&bytes).unwrap(), publish);

        let fetch = ClientFrame {
            id: RequestId(6),
            request: Request::FetchDeviceList {
                account: AccountId([0x11; 32]),
            },
        };
        let mut expected = vec![6, 11];
        expected.extend_from_slice(&[0x11; 32]);
        assert_eq!(postcard::to_allocvec(&fetch).unwrap(), expected);

        let answer = ServerFrame::Response {
            id: RequestId(6),
            result: Ok(Response::DeviceList {
                list: DeviceListBytes::new(vec![0xEE]).unwrap(),
                memberships: Memberships::new(vec![Membership {
                    identity_key: [0x22; 32],
                    signature: Signature([0x33; 64]),
                }])
                .unwrap(),
            }),
        };
        let mut expected = vec![0, 6, 0, 10, 1, 0xEE, 1];
        expected.extend_from_slice(&[0x22; 32]);
        expected.push(64);
        expected.extend_from_slice(&[0x33; 64]);
        assert_eq!(postcard::to_allocvec(&answer).unwrap(), expected);
        let stored = ServerFrame::Response {
            id: RequestId(5),
            result: Ok(Response::DeviceListStored),
        };
        assert_eq!(postcard::to_allocvec(&stored).unwrap(), vec![0, 5, 0, 9]);
    }

    #[test]
    fn oversize_lists_and_too_many_memberships_do_not_decode() {
        assert!(DeviceListBytes::new(vec![0; MAX_DEVICE_LIST_LEN]).is_some());
        assert!(DeviceListBytes::new(vec![0; MAX_DEVICE_LIST_LEN + 1]).is_none());
        // A publish whose list length says 546 (varint a2 04) is refused without reading on.
        let mut frame = vec![5, 10, 0xA2, 0x04];
        frame.extend_from_slice(&[0; MAX_DEVICE_LIST_LEN + 1 + 65]);
        frame.push(64);
        assert!(decode_body::<ClientFrame>(&frame).is_err());
        // Seven memberships.
        let mut frame = vec![0, 6, 0, 10, 0, 7];
        for _ in 0..7 {
            frame.extend_from_slice(&[0x22; 32]);
            frame.push(64);
            frame.extend_from_slice(&[0x33; 64]);
        }
        assert!(decode_body::<ServerFrame>(&frame).is_err());
        frame[5] = 6;
        frame.truncate(frame.len() - 97);
        assert!(decode_body::<ServerFrame>(&frame).is_ok());
    }
}
