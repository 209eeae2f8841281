//! Length-prefixed framing: `u32` big-endian body length, then a postcard body.
//!
//! A reader first takes the 4-byte prefix through [`parse_length`], which refuses anything over
//! the limit before a byte of the body is buffered, then reads exactly that many bytes and calls
//! [`decode_body`]. [`FrameDecoder`] does the same over a byte stream arriving in pieces.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::FrameError;

/// Length of the prefix.
pub const LENGTH_PREFIX_LEN: usize = 4;

/// Encodes `value` as one frame, refusing bodies over `max`.
pub fn encode_frame<T: Serialize>(value: &T, max: u32) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    encode_frame_into(value, max, &mut out)?;
    Ok(out)
}

/// Appends `value` to `out` as one frame, encoded in place (a writer coalescing frames into
/// one buffer copies nothing). Refuses bodies over `max`, leaving `out` as it was.
pub fn encode_frame_into<T: Serialize>(value: &T, max: u32, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0; LENGTH_PREFIX_LEN]);
    let body_start = out.len();
    if postcard::to_extend(value, Append(out)).is_err() {
        out.truncate(start);
        return Err(FrameError::Malformed);
    }
    let body_len = out.len() - body_start;
    let Some(length) = u32::try_from(body_len).ok().filter(|length| *length <= max) else {
        out.truncate(start);
        return Err(FrameError::TooLarge {
            length: body_len as u64,
            max,
        });
    };
    if let Some(prefix) = out.get_mut(start..body_start) {
        prefix.copy_from_slice(&length.to_be_bytes());
    }
    Ok(())
}

/// Postcard's writer, appending to a borrowed buffer.
struct Append<'a>(&'a mut Vec<u8>);

impl Extend<u8> for Append<'_> {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
        self.0.extend(bytes);
    }
}

/// Reads a length prefix, refusing lengths over `max`.
pub fn parse_length(prefix: [u8; LENGTH_PREFIX_LEN], max: u32) -> Result<usize, FrameError> {
    let length = u32::from_be_bytes(prefix);
    if length > max {
        return Err(FrameError::TooLarge {
            length: u64::from(length),
            max,
        });
    }
    usize::try_from(length).map_err(|_| FrameError::TooLarge {
        length: u64::from(length),
        max,
    })
}

/// Decodes one complete body; leftover bytes and non-canonical encodings are errors.
pub fn decode_body<T: Serialize + DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    let (value, rest) = postcard::take_from_bytes(body).map_err(|_| FrameError::Malformed)?;
    if !rest.is_empty() {
        return Err(FrameError::TrailingBytes { count: rest.len() });
    }
    // Postcard accepts overlong varints (`80 00` for 0), which would give one frame many
    // encodings. Every other part of the format has one encoding per value and the canonical
    // varint is the shortest, so a body longer than its value's encoding is not canonical.
    let canonical = postcard::experimental::serialized_size(&value).map_err(|_| FrameError::Malformed)?;
    if canonical != body.len() {
        return Err(FrameError::NonCanonical {
            length: body.len(),
            canonical,
        });
    }
    Ok(value)
}

/// Incremental decoder for a byte stream. Buffers at most one prefix plus one body of at most
/// `max` bytes; after an error the stream must be closed (the decoder stays failed).
#[derive(Debug)]
pub struct FrameDecoder {
    max: u32,
    buffer: Vec<u8>,
    failed: Option<FrameError>,
}

impl FrameDecoder {
    /// A decoder that refuses bodies over `max` bytes.
    pub fn new(max: u32) -> Self {
        Self {
            max,
            buffer: Vec::new(),
            failed: None,
        }
    }

    /// Adds bytes from the stream. Fails at once if a complete prefix announces an oversize
    /// body, without buffering it.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        self.buffer.extend_from_slice(bytes);
        self.check_prefix()?;
        Ok(())
    }

    fn check_prefix(&mut self) -> Result<Option<usize>, FrameError> {
        let Some(prefix) = self.buffer.first_chunk::<LENGTH_PREFIX_LEN>() else {
            return Ok(None);
        };
        match parse_length(*prefix, self.max) {
            Ok(length) => Ok(Some(length)),
            Err(error) => {
                self.buffer = Vec::new();
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    /// The next complete frame, if one has arrived.
    pub fn next_frame<T: Serialize + DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let Some(length) = self.check_prefix()? else {
            return Ok(None);
        };
        let end = LENGTH_PREFIX_LEN + length;
        let Some(body) = self.buffer.get(LENGTH_PREFIX_LEN..end) else {
            return Ok(None);
        };
        let value = decode_body(body);
        self.buffer.drain(..end);
        match value {
            Ok(value) => Ok(Some(value)),
            Err(error) => {
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ClientFrame, Delivery, Envelope, ErrorCode, ErrorResponse, MAX_FRAME_LEN, MailboxId, Push, Request,
        RequestId, Response, Seq, ServerFrame,
    };

    fn send(len: usize) -> ClientFrame {
        ClientFrame {
            id: RequestId(9),
            request: Request::Send {
                to: MailboxId([3; 32]),
                access: None,
                envelope: Envelope::new(vec![0xAB; len]).unwrap(),
            },
        }
    }

    #[test]
    fn round_trip_every_server_frame_kind() {
        let frames = [
            ServerFrame::Push(Push::Challenge { nonce: [7; 32] }),
            ServerFrame::Push(Push::Deliver(Delivery {
                seq: Seq(42),
                received_at: 1_700_000_000,
                envelope: Envelope::new(vec![1, 2, 3]).unwrap(),
            })),
            ServerFrame::Response {
                id: RequestId(1),
                result: Ok(Response::Stored),
            },
            ServerFrame::Response {
                id: RequestId(2),
                result: Err(ErrorResponse {
                    code: ErrorCode::Unauthorized,
                    detail: "login first".into(),
                }),
            },
        ];
        let mut decoder = FrameDecoder::new(MAX_FRAME_LEN);
        for frame in &frames {
            decoder
                .push(&encode_frame(frame, MAX_FRAME_LEN).unwrap())
                .unwrap();
        }
        for frame in &frames {
            assert_eq!(decoder.next_frame::<ServerFrame>().unwrap().as_ref(), Some(frame));
        }
        assert_eq!(decoder.next_frame::<ServerFrame>().unwrap(), None);
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn frames_split_at_every_byte_boundary_decode() {
        let bytes = encode_frame(&send(100), MAX_FRAME_LEN).unwrap();
        for split in 0..bytes.len() {
            let mut decoder = FrameDecoder::new(MAX_FRAME_LEN);
            decoder.push(&bytes[..split]).unwrap();
            assert_eq!(
                decoder.next_frame::<ClientFrame>().unwrap(),
                None,
                "split {split}"
            );
            decoder.push(&bytes[split..]).unwrap();
            assert_eq!(decoder.next_frame::<ClientFrame>().unwrap(), Some(send(100)));
        }
    }

    #[test]
    fn oversize_prefix_is_refused_before_the_body_is_buffered() {
        let mut decoder = FrameDecoder::new(1024);
        let error = decoder.push(&(1025u32).to_be_bytes()).unwrap_err();
        assert_eq!(
            error,
            FrameError::TooLarge {
                length: 1025,
                max: 1024
            }
        );
        assert_eq!(decoder.buffered(), 0);
        // The decoder stays failed: the stream must be closed.
        assert!(decoder.push(&[0; 16]).is_err());
        assert!(decoder.next_frame::<ClientFrame>().is_err());
        assert_eq!(
            parse_length(u32::MAX.to_be_bytes(), MAX_FRAME_LEN).unwrap_err(),
            FrameError::TooLarge {
                length: u64::from(u32::MAX),
                max: MAX_FRAME_LEN
            }
        );
    }

    #[test]
    fn encoder_refuses_bodies_over_the_limit() {
        assert!(matches!(
            encode_frame(&send(2000), 1000),
            Err(FrameError::TooLarge { max: 1000, .. })
        ));
    }

    #[test]
    fn trailing_bytes_and_garbage_are_errors() {
        let mut body = postcard::to_allocvec(&send(10)).unwrap();
        body.push(0);
        assert_eq!(
            decode_body::<ClientFrame>(&body),
            Err(FrameError::TrailingBytes { count: 1 })
        );
        assert_eq!(decode_body::<ClientFrame>(&[0xff; 8]), Err(FrameError::Malformed));
        assert_eq!(decode_body::<ClientFrame>(&[]), Err(FrameError::Malformed));
    }

    #[test]
    fn overlong_varints_are_refused() {
        // `RequestId(0)` then `Ack { through: 16383 }`: canonically `00 05 ff 7f`; the fuzzer
        // found `ff ff 00` for the same number accepted, a second encoding of the same frame.
        let frame = ClientFrame {
            id: RequestId(0),
            request: crate::Request::Ack { through: Seq(16383) },
        };
        assert_eq!(
            decode_body::<ClientFrame>(&[0x00, 0x05, 0xff, 0x7f]).unwrap(),
            frame
        );
        assert_eq!(
            decode_body::<ClientFrame>(&[0x00, 0x05, 0xff, 0xff, 0x00]),
            Err(FrameError::NonCanonical {
                length: 5,
                canonical: 4
            })
        );
        // Overlong request id and enum index; then an overlong envelope length.
        for body in [&[0x80, 0x00, 0x07][..], &[0x00, 0x87, 0x00]] {
            assert!(decode_body::<ClientFrame>(body).is_err(), "{body:02x?}");
        }
        let mut send = postcard::to_allocvec(&send(3)).unwrap();
        assert_eq!(send[35], 3, "the envelope length");
        send.splice(35..36, [0x83, 0x00]);
        assert!(matches!(
            decode_body::<ClientFrame>(&send),
            Err(FrameError::NonCanonical { .. })
        ));
    }

    #[test]
    fn limits_are_enforced_when_decoding() {
        // An envelope one byte over the limit, encoded by hand (the type refuses to hold it).
        let mut body = postcard::to_allocvec(&RequestId(1)).unwrap();
        body.push(3); // Request::Send
        body.extend_from_slice(&[5; 32]);
        body.push(0); // no access key
        let oversize = crate::MAX_ENVELOPE_LEN + 1;
        body.extend_from_slice(&postcard::to_allocvec(&vec![0u8; oversize]).unwrap());
        assert_eq!(decode_body::<ClientFrame>(&body), Err(FrameError::Malformed));
        // The same at the limit decodes.
        let at_limit = send(crate::MAX_ENVELOPE_LEN);
        let bytes = postcard::to_allocvec(&at_limit).unwrap();
        assert_eq!(decode_body::<ClientFrame>(&bytes).unwrap(), at_limit);
        // Too many prekeys in one upload.
        let prekeys = vec![crate::OneTimePreKey { id: 1, key: [9; 32] }; crate::MAX_PREKEYS_PER_UPLOAD + 1];
        assert!(crate::PreKeyUpload::new(prekeys.clone()).is_none());
        let mut body = postcard::to_allocvec(&RequestId(1)).unwrap();
        body.push(1); // Request::UploadPreKeys
        body.extend_from_slice(
            &postcard::to_allocvec(&crate::SignedPreKey {
                id: 1,
                created_at: 0,
                key: [1; 32],
                signature: crate::Signature([2; 64]),
            })
            .unwrap(),
        );
        body.extend_from_slice(&postcard::to_allocvec(&prekeys).unwrap());
        assert_eq!(decode_body::<ClientFrame>(&body), Err(FrameError::Malformed));
    }

    #[test]
    fn frames_encoded_in_place_append_and_a_refused_one_leaves_the_buffer_as_it_was() {
        let mut buffer = b"abc".to_vec();
        encode_frame_into(&send(10), MAX_FRAME_LEN, &mut buffer).unwrap();
        encode_frame_into(&send(0), MAX_FRAME_LEN, &mut buffer).unwrap();
        let mut expected = b"abc".to_vec();
        expected.extend(encode_frame(&send(10), MAX_FRAME_LEN).unwrap());
        expected.extend(encode_frame(&send(0), MAX_FRAME_LEN).unwrap());
        assert_eq!(buffer, expected);
        assert!(matches!(
            encode_frame_into(&send(2000), 1000, &mut buffer),
            Err(FrameError::TooLarge { max: 1000, .. })
        ));
        assert_eq!(buffer, expected);
        // The prefix holds the body's length, big-endian.
        let frame = encode_frame(&send(300), MAX_FRAME_LEN).unwrap();
        let (prefix, body) = frame.split_at(LENGTH_PREFIX_LEN);
        assert_eq!(
            u32::from_be_bytes(prefix.try_into().unwrap()) as usize,
            body.len()
        );
        assert_eq!(decode_body::<ClientFrame>(body).unwrap(), send(300));
    }

    #[test]
    fn envelopes_and_signatures_are_the_same_bytes_as_a_sequence_of_u8() {
        // Byte strings (one copy) replaced sequences of `u8` (a visit per byte): the wire format
        // is unchanged, including at the varint's length boundaries.
        for len in [0, 1, 127, 128, 256, 16_383, 16_384, crate::MAX_ENVELOPE_LEN] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let envelope = Envelope::new(bytes.clone()).unwrap();
            let encoded = postcard::to_allocvec(&envelope).unwrap();
            assert_eq!(encoded, postcard::to_allocvec(&bytes).unwrap(), "length {len}");
            assert_eq!(postcard::from_bytes::<Envelope>(&encoded).unwrap(), envelope);
        }
        let signature = crate::Signature([0x5A; 64]);
        let encoded = postcard::to_allocvec(&signature).unwrap();
        assert_eq!(encoded, postcard::to_allocvec(&vec![0x5A_u8; 64]).unwrap());
        assert_eq!(
            postcard::from_bytes::<crate::Signature>(&encoded).unwrap(),
            signature
        );
        for wrong in [63, 65] {
            let encoded = postcard::to_allocvec(&vec![1u8; wrong]).unwrap();
            assert!(
                postcard::from_bytes::<crate::Signature>(&encoded).is_err(),
                "{wrong} bytes"
            );
        }
    }

    #[test]
    fn formats_without_byte_strings_read_them_as_bounded_arrays() {
        // JSON has no byte strings: an envelope is an array of numbers, read element by element.
        let envelope = Envelope::new(vec![0, 7, 255]).unwrap();
        let json = serde_json::to_string(&envelope).unwrap();
        assert_eq!(json, "[0,7,255]");
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), envelope);
        let signature = crate::Signature([3; 64]);
        let json = serde_json::to_string(&signature).unwrap();
        assert_eq!(
            serde_json::from_str::<crate::Signature>(&json).unwrap(),
            signature
        );
        // Over the bound the reading stops with an error, not after collecting the whole array.
        let long = serde_json::to_string(&vec![3u8; 65]).unwrap();
        let error = serde_json::from_str::<crate::Signature>(&long).unwrap_err();
        assert!(error.to_string().contains("at most 64 bytes"), "{error}");
        assert!(serde_json::from_str::<Envelope>("[256]").is_err(), "not a byte");
    }

    #[test]
    fn envelope_debug_never_shows_payload() {
        let envelope = Envelope::new(b"secret payload".to_vec()).unwrap();
        assert_eq!(
            format!("{envelope:?}"),
            format!("Bytes(14 of at most {})", crate::MAX_ENVELOPE_LEN)
        );
    }

    #[test]
    fn garbage_streams_never_panic() {
        // A cheap deterministic generator: every stream either decodes frames or fails cleanly.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut decoder = FrameDecoder::new(4096);
            let mut bytes = Vec::new();
            for _ in 0..(state % 64) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(state as u8);
            }
            if decoder.push(&bytes).is_ok() {
                while let Ok(Some(_)) = decoder.next_frame::<ClientFrame>() {}
            }
            assert!(decoder.buffered() <= 4 + 4096);
        }
    }
}
