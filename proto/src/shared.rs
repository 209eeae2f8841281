//! The shared send of protocol version 4: one ciphertext uploaded once for many mailboxes, with a
//! small part per recipient (its sealed-sender layer). The relay stores, for each recipient, the
//! shared envelope [`shared_envelope`] builds from that recipient's part and the body, and
//! delivers it as any other envelope; the recipient tells it apart by its first byte
//! ([`SHARED_ENVELOPE_TAG`]) and takes it apart with [`split_shared_envelope`].

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::bytes::LimitedBytes;
use crate::types::{AccessKey, BoundedVec, Envelope, MailboxId};
use crate::{MAX_ENVELOPE_LEN, MAX_RECIPIENTS_PER_SEND};

/// Longest per-recipient part. A sealed-sender layer for one device (an ephemeral key, a wrapped
/// message key, a tag and the sealed sender) fits in well under 200 bytes; a bound this small keeps
/// a 1,000-recipient upload near the body's size plus 1,000 × 265 bytes of addressing.
pub const MAX_SHARED_PART_LEN: usize = 200;

/// First byte of an envelope the relay built from a shared send. Sealed envelopes (SPEC §15) start
/// with their version, 2; no Hush envelope a client seals starts with this byte.
pub const SHARED_ENVELOPE_TAG: u8 = 0xF4;

/// Bytes a shared envelope adds to its part and body: the tag and the part's length (a varint of
/// at most two bytes, as the part is at most [`MAX_SHARED_PART_LEN`]).
pub const SHARED_ENVELOPE_OVERHEAD: usize = 3;

/// Longest shared body: what leaves room in an envelope ([`MAX_ENVELOPE_LEN`]) for the longest part
/// and the overhead, so every shared envelope is a valid envelope.
pub const MAX_SHARED_BODY_LEN: usize = MAX_ENVELOPE_LEN - MAX_SHARED_PART_LEN - SHARED_ENVELOPE_OVERHEAD;

/// One recipient's part of a shared send.
pub type SharedPart = LimitedBytes<MAX_SHARED_PART_LEN>;

/// The ciphertext of a shared send, uploaded once.
pub type SharedBody = LimitedBytes<MAX_SHARED_BODY_LEN>;

/// One recipient of a `SendShared`: its mailbox, its access key if we hold one, its part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedAddressed {
    /// Recipient mailbox.
    pub to: MailboxId,
    /// The recipient's access key, if it gave us one.
    pub access: Option<AccessKey>,
    /// The recipient's part (its sealed-sender layer).
    pub part: SharedPart,
}

/// Recipients of one `SendShared`: as many as a `SendMany` may have.
pub type SharedDeliveries = BoundedVec<SharedAddressed, MAX_RECIPIENTS_PER_SEND>;

/// The envelope a recipient of a shared send gets: `SHARED_ENVELOPE_TAG || varint(part length) ||
/// part || body`. Always within [`MAX_ENVELOPE_LEN`], by the limits of part and body.
pub fn shared_envelope(part: &SharedPart, body: &SharedBody) -> Envelope {
    let mut bytes = Vec::with_capacity(SHARED_ENVELOPE_OVERHEAD + part.len() + body.len());
    bytes.push(SHARED_ENVELOPE_TAG);
    // A postcard varint: 7 bits a byte, low first, the high bit set on all but the last.
    let mut length = part.len();
    while length >= 0x80 {
        bytes.push((length as u8) | 0x80);
        length >>= 7;
    }
    bytes.push(length as u8);
    bytes.extend_from_slice(part.as_bytes());
    bytes.extend_from_slice(body.as_bytes());
    // Within the limit by the consts above: part and body bounds leave room for the overhead.
    Envelope::within_limit(bytes)
}

/// A shared envelope taken apart: the recipient's part and the shared body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedEnvelope<'a> {
    /// This recipient's part.
    pub part: &'a [u8],
    /// The shared body.
    pub body: &'a [u8],
}

/// Why bytes are not a shared envelope.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SharedEnvelopeError {
    /// The first byte is not [`SHARED_ENVELOPE_TAG`] (or there is none): an ordinary envelope.
    #[error("not a shared envelope: first byte {found:?}, expected {SHARED_ENVELOPE_TAG:#04x}")]
    NotShared {
        /// The first byte, if any.
        found: Option<u8>,
    },
    /// The part's length is cut off, or announces more bytes than follow.
    #[error("shared envelope truncated: the part needs {needed} bytes, {available} follow")]
    Truncated {
        /// Bytes the length announces (0 when the length itself is cut off).
        needed: usize,
        /// Bytes that follow the length.
        available: usize,
    },
    /// The part's length is over [`MAX_SHARED_PART_LEN`].
    #[error("shared envelope part of {length} bytes is over the limit of {MAX_SHARED_PART_LEN}")]
    PartTooLong {
        /// The announced length (16,384 for a length of three or more varint bytes, which is not
        /// read further).
        length: usize,
    },
    /// The part's length is not in its shortest varint form (one envelope, one encoding).
    #[error("shared envelope part length is not a canonical varint")]
    NonCanonicalLength,
}

/// Takes a shared envelope apart; refuses anything [`shared_envelope`] would not have built.
pub fn split_shared_envelope(bytes: &[u8]) -> Result<SharedEnvelope<'_>, SharedEnvelopeError> {
    let rest = match bytes.split_first() {
        Some((&SHARED_ENVELOPE_TAG, rest)) => rest,
        other => {
            return Err(SharedEnvelopeError::NotShared {
                found: other.map(|(first, _)| *first),
            });
        }
    };
    // At most two varint bytes: the second must end the varint and not be zero (a zero high byte
    // is an overlong form), and the value must be within the part limit.
    let (length, rest) = match rest {
        [] | [0x80..=0xff] => {
            return Err(SharedEnvelopeError::Truncated {
                needed: 0,
                available: 0,
            });
        }
        [low @ ..0x80, rest @ ..] => (usize::from(*low), rest),
        [_, 0, ..] => return Err(SharedEnvelopeError::NonCanonicalLength),
        [low, high @ ..0x80, rest @ ..] => (usize::from(low & 0x7f) | (usize::from(*high) << 7), rest),
        _ => return Err(SharedEnvelopeError::PartTooLong { length: 1 << 14 }),
    };
    if length > MAX_SHARED_PART_LEN {
        return Err(SharedEnvelopeError::PartTooLong { length });
    }
    let Some((part, body)) = rest.split_at_checked(length) else {
        return Err(SharedEnvelopeError::Truncated {
            needed: length,
            available: rest.len(),
        });
    };
    Ok(SharedEnvelope { part, body })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn part(len: usize) -> SharedPart {
        SharedPart::new(vec![0x11; len]).unwrap()
    }

    #[test]
    fn a_shared_envelope_splits_into_its_part_and_body_at_every_part_length() {
        let body = SharedBody::new(b"group ciphertext".to_vec()).unwrap();
        for len in [0, 1, 127, 128, MAX_SHARED_PART_LEN] {
            let envelope = shared_envelope(&part(len), &body);
            assert_eq!(envelope.as_bytes()[0], SHARED_ENVELOPE_TAG);
            let split = split_shared_envelope(envelope.as_bytes()).unwrap();
            assert_eq!(split.part, part(len).as_bytes(), "part of {len}");
            assert_eq!(split.body, body.as_bytes());
            let length_bytes = if len < 128 { 1 } else { 2 };
            assert_eq!(envelope.len(), 1 + length_bytes + len + body.len());
        }
        // The longest part and body make the longest envelope, within the envelope limit.
        let longest = shared_envelope(
            &part(MAX_SHARED_PART_LEN),
            &SharedBody::new(vec![0; MAX_SHARED_BODY_LEN]).unwrap(),
        );
        assert_eq!(longest.len(), MAX_ENVELOPE_LEN);
    }

    #[test]
    fn what_shared_envelope_would_not_build_is_refused_with_its_reason() {
        use SharedEnvelopeError::*;
        let cases: [(&[u8], SharedEnvelopeError); 9] = [
            (&[], NotShared { found: None }),
            (&[2, 0], NotShared { found: Some(2) }),
            (
                &[0xF4],
                Truncated {
                    needed: 0,
                    available: 0,
                },
            ),
            (
                &[0xF4, 0x81],
                Truncated {
                    needed: 0,
                    available: 0,
                },
            ),
            (
                &[0xF4, 3, 1, 2],
                Truncated {
                    needed: 3,
                    available: 2,
                },
            ),
            (&[0xF4, 0x80, 0x00], NonCanonicalLength),
            (&[0xF4, 0xC9, 0x01], PartTooLong { length: 201 }),
            (&[0xF4, 0x80, 0x80, 0x01], PartTooLong { length: 1 << 14 }),
            (
                &[0xF4, 0xC8, 0x01],
                Truncated {
                    needed: 200,
                    available: 0,
                },
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(split_shared_envelope(bytes), Err(expected), "{bytes:02x?}");
        }
        // An empty part and an empty body are a valid shared envelope.
        assert_eq!(
            split_shared_envelope(&[0xF4, 0]).unwrap(),
            SharedEnvelope { part: &[], body: &[] }
        );
    }

    /// `SendShared` encoded by hand: request id 1, index 12, the body, then `count` recipients
    /// each with a part of `part_len` bytes.
    fn send_shared_body(body_len: usize, count: usize, part_len: usize) -> Vec<u8> {
        let mut bytes = vec![1, 12];
        bytes.extend(postcard::to_allocvec(&vec![0xB0u8; body_len]).unwrap());
        bytes.extend(postcard::to_allocvec(&(count as u32)).unwrap());
        for i in 0..count {
            bytes.extend_from_slice(&[(i % 251) as u8; 32]);
            bytes.push(0);
            bytes.extend(postcard::to_allocvec(&vec![0xA0u8; part_len]).unwrap());
        }
        bytes
    }

    #[test]
    fn send_shared_limits_are_enforced_when_decoding() {
        use crate::{ClientFrame, FrameError, Request, decode_body};
        let at_limits = send_shared_body(MAX_SHARED_BODY_LEN, 2, MAX_SHARED_PART_LEN);
        let frame: ClientFrame = decode_body(&at_limits).unwrap();
        let Request::SendShared { body, deliveries } = frame.request else {
            panic!("decoded as another request");
        };
        assert_eq!(body.len(), MAX_SHARED_BODY_LEN);
        assert_eq!(deliveries.as_slice().len(), 2);
        let recipients =
            decode_body::<ClientFrame>(&send_shared_body(3, MAX_RECIPIENTS_PER_SEND, 0)).unwrap();
        assert!(matches!(recipients.request, Request::SendShared { .. }));
        for (what, over) in [
            ("body", send_shared_body(MAX_SHARED_BODY_LEN + 1, 1, 0)),
            ("recipients", send_shared_body(3, MAX_RECIPIENTS_PER_SEND + 1, 0)),
            ("part", send_shared_body(3, 1, MAX_SHARED_PART_LEN + 1)),
        ] {
            assert_eq!(
                decode_body::<ClientFrame>(&over),
                Err(FrameError::Malformed),
                "{what}"
            );
        }
    }

    /// The bytes PROTOCOL.md spells out for the version-4 frames.
    #[test]
    fn version_4_frames_encode_as_the_protocol_text_says() {
        use crate::{
            ClientFrame, EphemeralEnvelope, Push, Request, RequestId, Response, ServerFrame, decode_body,
        };
        let check = |bytes: Vec<u8>, expected: Vec<u8>| assert_eq!(bytes, expected);
        let shared = ClientFrame {
            id: RequestId(7),
            request: Request::SendShared {
                body: SharedBody::new(vec![1, 2, 3]).unwrap(),
                deliveries: SharedDeliveries::new(vec![SharedAddressed {
                    to: MailboxId([0x11; 32]),
                    access: None,
                    part: SharedPart::new(vec![0xaa, 0xbb]).unwrap(),
                }])
                .unwrap(),
            },
        };
        let mut expected = vec![0x07, 0x0c, 0x03, 1, 2, 3, 0x01];
        expected.extend([0x11; 32]);
        expected.extend([0x00, 0x02, 0xaa, 0xbb]);
        let encoded = postcard::to_allocvec(&shared).unwrap();
        check(encoded.clone(), expected);
        assert_eq!(decode_body::<ClientFrame>(&encoded).unwrap(), shared);
        check(
            shared_envelope(
                &SharedPart::new(vec![0xaa, 0xbb]).unwrap(),
                &SharedBody::new(vec![1, 2, 3]).unwrap(),
            )
            .into_bytes(),
            vec![0xf4, 0x02, 0xaa, 0xbb, 1, 2, 3],
        );

        let envelope = EphemeralEnvelope::new(b"ty".to_vec()).unwrap();
        let ephemeral = ClientFrame {
            id: RequestId(8),
            request: Request::SendEphemeral {
                to: MailboxId([0x22; 32]),
                access: Some(AccessKey([0x33; 32])),
                envelope: envelope.clone(),
            },
        };
        let mut expected = vec![0x08, 0x0d];
        expected.extend([0x22; 32]);
        expected.push(0x01);
        expected.extend([0x33; 32]);
        expected.extend([0x02, 0x74, 0x79]);
        check(postcard::to_allocvec(&ephemeral).unwrap(), expected);
        let answer = |response| ServerFrame::Response {
            id: RequestId(8),
            result: Ok(response),
        };
        check(
            postcard::to_allocvec(&answer(Response::EphemeralPushed)).unwrap(),
            vec![0x00, 0x08, 0x00, 0x0b],
        );
        check(
            postcard::to_allocvec(&answer(Response::EphemeralDropped)).unwrap(),
            vec![0x00, 0x08, 0x00, 0x0c],
        );
        check(
            postcard::to_allocvec(&ServerFrame::Push(Push::Ephemeral { envelope })).unwrap(),
            vec![0x01, 0x03, 0x02, 0x74, 0x79],
        );
    }
}
