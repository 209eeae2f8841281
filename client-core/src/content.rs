//! What travels inside an encrypted message: a [`Payload`] with a message id, a per-conversation
//! sequence number and a body (content, a receipt, or a session reset).
//!
//! Encoded with postcard. [`Content`] travels as a kind number plus bytes, so a later release can
//! add kinds and an older client shows them as [`Content::Unsupported`] instead of failing.

use core::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::address::Address;

/// Longest text a [`Content::Text`] may hold, in bytes.
pub const MAX_TEXT_LEN: usize = 32 * 1024;
/// Longest emoji a reaction may carry, in bytes: the longest emoji ZWJ sequences (families with
/// skin tones) stay under 40 bytes, and 64 keeps a reaction from carrying a message.
pub const MAX_EMOJI_LEN: usize = 64;
/// Most message ids one receipt names; larger batches are split.
pub const MAX_RECEIPT_IDS: usize = 512;
/// Largest encoded payload accepted (the session layer's own plaintext limit is higher).
pub const MAX_PAYLOAD_LEN: usize = 64 * 1024;
/// First byte of a session message's plaintext (proto/PROTOCOL.md "Payload"): `02 || the
/// sender's account key [32] || payload`.
pub const PAYLOAD_VERSION: u8 = 2;
/// Bytes before the payload in a session message's plaintext.
pub const PAYLOAD_HEADER_LEN: usize = 33;

/// The plaintext a session message carries: `payload` (an encoded [`Payload`]) from a device of
/// `account`, behind the version byte.
pub fn frame_payload(account: &Address, payload: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(PAYLOAD_HEADER_LEN + payload.len());
    framed.push(PAYLOAD_VERSION);
    framed.extend_from_slice(account.as_bytes());
    framed.extend_from_slice(payload);
    framed
}

/// Splits a session message's plaintext into the account its sender claims (proved by
/// nothing: the receiver counts the device only through that account's pinned list) and the
/// payload bytes. Empty, shorter than the header or a key that is not valid: `Malformed`;
/// another version byte: `UnsupportedVersion`.
pub fn unframe_payload(plaintext: &[u8]) -> Result<(Address, &[u8]), PayloadError> {
    let (&version, rest) = plaintext.split_first().ok_or(PayloadError::Malformed)?;
    if version != PAYLOAD_VERSION {
        return Err(PayloadError::UnsupportedVersion { version });
    }
    let (key, payload) = rest.split_first_chunk::<32>().ok_or(PayloadError::Malformed)?;
    let account = Address::from_bytes(*key).map_err(|_| PayloadError::Malformed)?;
    Ok((account, payload))
}

const KIND_TEXT: u16 = 1;
// The conversation-surface kinds; their layouts are in `content_kinds`.
pub(crate) const KIND_REACTION: u16 = 2;
pub(crate) const KIND_EDIT: u16 = 3;
pub(crate) const KIND_DELETE: u16 = 4;
pub(crate) const KIND_REPLY: u16 = 5;
pub(crate) const KIND_THREAD: u16 = 6;
/// The disappearing-messages timer (`surface::timer`).
pub(crate) const KIND_TIMER: u16 = 7;
/// Longest disappearing timer one may set, in seconds (a year): longer is refused before
/// sending, and a received one is clamped to it.
pub const MAX_TIMER_SECONDS: u32 = 365 * 24 * 60 * 60;

/// A message id, chosen at random by the sender. The same id is kept across resends, so the
/// receiver can drop copies.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId(pub [u8; 16]);

impl MessageId {
    /// A fresh random id.
    pub fn random(rng: &mut (impl rand_core::CryptoRng + ?Sized)) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

/// An emoji put on (or taken off) a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// The message reacted to.
    pub target: MessageId,
    /// The emoji (any non-empty UTF-8 of at most [`MAX_EMOJI_LEN`] bytes).
    pub emoji: String,
    /// `true` adds the emoji, `false` removes the sender's reaction with it.
    pub added: bool,
}

/// Text that refers to another message: an edit's new text, a reply's text under its quote, a
/// thread message's text under its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referring {
    /// The message edited, quoted, or the thread's root.
    pub target: MessageId,
    /// The text (UTF-8, at most [`MAX_TEXT_LEN`] bytes).
    pub text: String,
}

/// What a person sends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Content {
    /// Plain text (UTF-8, at most [`MAX_TEXT_LEN`] bytes).
    Text(String),
    /// A kind this build does not know (sent by a newer client); kept so nothing is lost.
    Unsupported {
        /// The kind number.
        kind: u16,
        /// Its encoding.
        data: Vec<u8>,
    },
    /// An emoji added to or removed from a message (kind 2, `content_kinds`).
    Reaction(Reaction),
    /// New text for one of the sender's own messages (kind 3).
    Edit(Referring),
    /// The sender deletes one of its own messages for everyone (kind 4). In a store, a message
    /// whose content is `Delete` of its own id is a tombstone ([`Content::tombstone`]).
    Delete(MessageId),
    /// A message quoting another (kind 5).
    Reply(Referring),
    /// A message in the thread under a root message (kind 6).
    InThread(Referring),
    /// The conversation's disappearing timer set to `seconds` (kind 7, `surface::timer`; `0`
    /// turns it off): shown as an event; later messages expire that long after being stored.
    Timer {
        /// The timer in seconds, `0` for off.
        seconds: u32,
    },
}

impl Content {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// The kind number and encoding.
    pub fn to_parts(&self) -> (u16, Vec<u8>) {
        match self {
            Self::Text(text) => (KIND_TEXT, text.as_bytes().to_vec()),
            Self::Unsupported { kind, data } => (*kind, data.clone()),
            Self::Reaction(reaction) => (KIND_REACTION, reaction.encode()),
            Self::Edit(edit) => (KIND_EDIT, edit.encode()),
            Self::Delete(target) => (KIND_DELETE, target.0.to_vec()),
            Self::Reply(reply) => (KIND_REPLY, reply.encode()),
            Self::InThread(message) => (KIND_THREAD, message.encode()),
            Self::Timer { seconds } => (KIND_TIMER, seconds.to_be_bytes().to_vec()),
        }
    }

    /// From a kind number and encoding; unknown kinds become [`Content::Unsupported`].
    pub fn from_parts(kind: u16, data: Vec<u8>) -> Result<Self, PayloadError> {
        match kind {
            KIND_TEXT => {
                if data.len() > MAX_TEXT_LEN {
                    return Err(PayloadError::TextTooLong { length: data.len() });
                }
                String::from_utf8(data)
                    .map(Self::Text)
                    .map_err(|_| PayloadError::TextNotUtf8)
            }
            KIND_REACTION..=KIND_THREAD => Self::decode_surface(kind, &data),
            KIND_TIMER => Self::decode_timer(&data),
            kind => Ok(Self::Unsupported { kind, data }),
        }
    }

    /// Checks limits before sending.
    pub fn validate(&self) -> Result<(), PayloadError> {
        match self {
            Self::Text(text) if text.len() > MAX_TEXT_LEN => {
                Err(PayloadError::TextTooLong { length: text.len() })
            }
            Self::Timer { seconds } if *seconds > MAX_TIMER_SECONDS => {
                Err(PayloadError::TimerTooLong { seconds: *seconds })
            }
            other => other.validate_surface(),
        }
    }
}

/// Which receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptKind {
    /// The recipient's device stored the messages.
    Delivered,
    /// The recipient read them.
    Read,
}

/// The body of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A message for the app.
    Content(Content),
    /// Receipts for messages the receiver sent us.
    Receipt {
        /// Delivered or read.
        kind: ReceiptKind,
        /// The messages.
        ids: Vec<MessageId>,
    },
    /// The sender started the session over (see the `reset` module): from here on its content
    /// to us is numbered from `next_seq`, and it resends everything of its own we have not
    /// confirmed. Travels with `conv_seq` 0.
    Reset {
        /// The `conv_seq` of the sender's next content message to us.
        next_seq: u64,
        /// Whether this answers a reset the receiver started (an answer is never answered).
        answer: bool,
        /// Whether the sender saw the receiver reuse ratchet counters or sequence numbers, the
        /// mark of a receiver restored from an older copy of its state.
        reuse_seen: bool,
    },
    /// The sender's access key (hush-proto's `AccessKey`): it accepted us, so we present the key
    /// to the relay when writing to it. Like receipts, it carries `conv_seq` 0.
    AccessKey([u8; 32]),
    /// Sent-message sync, only between devices of one account: a copy of a message the sending
    /// device sent to `to`, under the same message id. The payload's `conv_seq` numbers the
    /// sending device's stream of copies to the receiving device; `seq` is the message's own
    /// `conv_seq` in the stream to `to`.
    Sent {
        /// The contact the message went to.
        to: Address,
        /// Its `conv_seq` in the sending device's stream to `to`.
        seq: u64,
        /// What was sent.
        content: Content,
    },
    /// Read-state sync, only between devices of one account: the user read these messages from
    /// `peer` on the sending device. Unnumbered and idempotent, like receipts.
    ReadSync {
        /// Who sent the messages.
        peer: Address,
        /// The messages (at most [`MAX_RECEIPT_IDS`]).
        ids: Vec<MessageId>,
    },
    /// The sending device's account published its device list with this counter (a device
    /// joined, was removed, or published its membership). A hint only: the receiver fetches the
    /// list from the relay and accepts it as any list (SPEC.md §16.2, §16.3). Unnumbered.
    ListChanged {
        /// The account whose list changed.
        account: Address,
        /// The list's counter.
        counter: u64,
    },
    /// A group control message (its encoding is `groups::control`'s: signed group updates, or
    /// the sending device's sender key for a group). Unnumbered; the group log orders updates,
    /// and a sender key delivered twice is taken once.
    Group(Vec<u8>),
}

/// The decrypted unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Unique per message; kept across resends.
    pub id: MessageId,
    /// Position in the sender's stream to this peer, from 1; 0 for receipts, which are
    /// idempotent and need no order.
    pub conv_seq: u64,
    /// Sender's clock, Unix milliseconds (informational).
    pub sent_at: u64,
    /// What it carries.
    pub body: Body,
}

/// Why a payload could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not a valid encoding (or trailing bytes).
    #[error("payload is not a valid encoding")]
    Malformed,
    /// A session plaintext whose version byte is not [`PAYLOAD_VERSION`] (a client of an older
    /// or newer protocol).
    #[error("payload version {version} is not supported (this client reads version {PAYLOAD_VERSION})")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// Larger than the payload limit (64 KiB).
    #[error("payload of {length} bytes exceeds the {MAX_PAYLOAD_LEN}-byte limit")]
    TooLong {
        /// Bytes found.
        length: usize,
    },
    /// Text over [`MAX_TEXT_LEN`].
    #[error("text of {length} bytes exceeds the {MAX_TEXT_LEN}-byte limit")]
    TextTooLong {
        /// Bytes found.
        length: usize,
    },
    /// Text that is not UTF-8.
    #[error("text is not UTF-8")]
    TextNotUtf8,
    /// A receipt naming more than [`MAX_RECEIPT_IDS`] messages.
    #[error("receipt names {count} messages, at most {MAX_RECEIPT_IDS} allowed")]
    TooManyIds {
        /// Ids found.
        count: usize,
    },
    /// A reaction's emoji is empty or longer than [`MAX_EMOJI_LEN`] bytes.
    #[error("reaction emoji of {length} bytes, expected 1 to {MAX_EMOJI_LEN} bytes")]
    BadEmoji {
        /// Bytes found.
        length: usize,
    },
    /// A disappearing timer longer than [`MAX_TIMER_SECONDS`] (refused
    /// before sending only: a received one is clamped).
    #[error("disappearing timer of {seconds} s exceeds the limit")]
    TimerTooLong {
        /// Seconds asked for.
        seconds: u32,
    },
}

#[derive(Serialize, Deserialize)]
enum WireBody {
    Content {
        kind: u16,
        data: Vec<u8>,
    },
    Receipt {
        kind: ReceiptKind,
        ids: Vec<MessageId>,
    },
    Reset {
        next_seq: u64,
        answer: bool,
        reuse_seen: bool,
    },
    AccessKey {
        key: [u8; 32],
    },
    Sent {
        to: [u8; 32],
        seq: u64,
        kind: u16,
        data: Vec<u8>,
    },
    ReadSync {
        peer: [u8; 32],
        ids: Vec<MessageId>,
    },
    ListChanged {
        account: [u8; 32],
        counter: u64,
    },
    Group {
        data: Vec<u8>,
    },
}

#[derive(Serialize, Deserialize)]
struct WirePayload {
    id: MessageId,
    conv_seq: u64,
    sent_at: u64,
    body: WireBody,
}

impl Payload {
    /// The encoding that gets encrypted.
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        let body = match &self.body {
            Body::Content(content) => {
                content.validate()?;
                let (kind, data) = content.to_parts();
                WireBody::Content { kind, data }
            }
            Body::Receipt { kind, ids } => {
                if ids.len() > MAX_RECEIPT_IDS {
                    return Err(PayloadError::TooManyIds { count: ids.len() });
                }
                WireBody::Receipt {
                    kind: *kind,
                    ids: ids.clone(),
                }
            }
            Body::Reset {
                next_seq,
                answer,
                reuse_seen,
            } => WireBody::Reset {
                next_seq: *next_seq,
                answer: *answer,
                reuse_seen: *reuse_seen,
            },
            Body::AccessKey(key) => WireBody::AccessKey { key: *key },
            Body::Sent { to, seq, content } => {
                content.validate()?;
                let (kind, data) = content.to_parts();
                WireBody::Sent {
                    to: *to.as_bytes(),
                    seq: *seq,
                    kind,
                    data,
                }
            }
            Body::ReadSync { peer, ids } => {
                if ids.len() > MAX_RECEIPT_IDS {
                    return Err(PayloadError::TooManyIds { count: ids.len() });
                }
                WireBody::ReadSync {
                    peer: *peer.as_bytes(),
                    ids: ids.clone(),
                }
            }
            Body::ListChanged { account, counter } => WireBody::ListChanged {
                account: *account.as_bytes(),
                counter: *counter,
            },
            Body::Group(data) => WireBody::Group { data: data.clone() },
        };
        let bytes = postcard::to_allocvec(&WirePayload {
            id: self.id,
            conv_seq: self.conv_seq,
            sent_at: self.sent_at,
            body,
        })
        .map_err(|_| PayloadError::Malformed)?;
        if bytes.len() > MAX_PAYLOAD_LEN {
            return Err(PayloadError::TooLong { length: bytes.len() });
        }
        Ok(bytes)
    }

    /// Decodes, refusing trailing bytes and oversize input before parsing.
    pub fn decode(bytes: &[u8]) -> Result<Self, PayloadError> {
        if bytes.len() > MAX_PAYLOAD_LEN {
            return Err(PayloadError::TooLong { length: bytes.len() });
        }
        let (wire, rest): (WirePayload, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|_| PayloadError::Malformed)?;
        if !rest.is_empty() {
            return Err(PayloadError::Malformed);
        }
        let body = match wire.body {
            WireBody::Content { kind, data } => Body::Content(Content::from_parts(kind, data)?),
            WireBody::Receipt { kind, ids } => {
                if ids.len() > MAX_RECEIPT_IDS {
                    return Err(PayloadError::TooManyIds { count: ids.len() });
                }
                Body::Receipt { kind, ids }
            }
            WireBody::Reset {
                next_seq,
                answer,
                reuse_seen,
            } => Body::Reset {
                next_seq,
                answer,
                reuse_seen,
            },
            WireBody::AccessKey { key } => Body::AccessKey(key),
            WireBody::Sent { to, seq, kind, data } => Body::Sent {
                to: Address::from_bytes(to).map_err(|_| PayloadError::Malformed)?,
                seq,
                content: Content::from_parts(kind, data)?,
            },
            WireBody::ReadSync { peer, ids } => {
                let peer = Address::from_bytes(peer).map_err(|_| PayloadError::Malformed)?;
                if ids.len() > MAX_RECEIPT_IDS {
                    return Err(PayloadError::TooManyIds { count: ids.len() });
                }
                Body::ReadSync { peer, ids }
            }
            WireBody::ListChanged { account, counter } => Body::ListChanged {
                account: Address::from_bytes(account).map_err(|_| PayloadError::Malformed)?,
                counter,
            },
            WireBody::Group { data } => Body::Group(data),
        };
        let payload = Self {
            id: wire.id,
            conv_seq: wire.conv_seq,
            sent_at: wire.sent_at,
            body,
        };
        // One payload, one encoding: postcard also reads overlong varints, so anything that does
        // not re-encode to the same bytes is refused.
        if payload.encode()? != bytes {
            return Err(PayloadError::Malformed);
        }
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_payload(text: &str) -> Payload {
        Payload {
            id: MessageId([7; 16]),
            conv_seq: 3,
            sent_at: 1_700_000_000_000,
            body: Body::Content(Content::text(text)),
        }
    }

    #[test]
    fn payloads_round_trip() {
        let text = text_payload("hello");
        assert_eq!(Payload::decode(&text.encode().unwrap()).unwrap(), text);
        let receipt = Payload {
            id: MessageId([1; 16]),
            conv_seq: 0,
            sent_at: 5,
            body: Body::Receipt {
                kind: ReceiptKind::Read,
                ids: vec![MessageId([2; 16]), MessageId([3; 16])],
            },
        };
        assert_eq!(Payload::decode(&receipt.encode().unwrap()).unwrap(), receipt);
        let reset = Payload {
            id: MessageId([4; 16]),
            conv_seq: 0,
            sent_at: 6,
            body: Body::Reset {
                next_seq: 1_835_008_000_000_000_001,
                answer: true,
                reuse_seen: false,
            },
        };
        assert_eq!(Payload::decode(&reset.encode().unwrap()).unwrap(), reset);
        let access = Payload {
            id: MessageId([4; 16]),
            conv_seq: 0,
            sent_at: 6,
            body: Body::AccessKey([9; 32]),
        };
        assert_eq!(Payload::decode(&access.encode().unwrap()).unwrap(), access);
        let to = Address::from_bytes(BASE_POINT).unwrap();
        let sent = Payload {
            id: MessageId([5; 16]),
            conv_seq: 2,
            sent_at: 7,
            body: Body::Sent {
                to,
                seq: 9,
                content: Content::text("hi"),
            },
        };
        assert_eq!(Payload::decode(&sent.encode().unwrap()).unwrap(), sent);
        let read = Payload {
            id: MessageId([6; 16]),
            conv_seq: 0,
            sent_at: 8,
            body: Body::ReadSync {
                peer: to,
                ids: vec![MessageId([2; 16])],
            },
        };
        assert_eq!(Payload::decode(&read.encode().unwrap()).unwrap(), read);
        let changed = Payload {
            id: MessageId([8; 16]),
            conv_seq: 0,
            sent_at: 9,
            body: Body::ListChanged {
                account: to,
                counter: 300,
            },
        };
        assert_eq!(Payload::decode(&changed.encode().unwrap()).unwrap(), changed);
    }

    /// The Ed25519 base point: a valid key for an address.
    const BASE_POINT: [u8; 32] = {
        let mut key = [0x66; 32];
        key[0] = 0x58;
        key
    };

    #[test]
    fn sync_bodies_encode_as_the_protocol_text_says_and_bad_addresses_are_refused() {
        let sent = Payload {
            id: MessageId([0xAA; 16]),
            conv_seq: 1,
            sent_at: 2,
            body: Body::Sent {
                to: Address::from_bytes(BASE_POINT).unwrap(),
                seq: 3,
                content: Content::text("hi"),
            },
        };
        let mut expected = vec![0xAA; 16];
        expected.extend_from_slice(&[1, 2, 4]);
        expected.extend_from_slice(&BASE_POINT);
        expected.extend_from_slice(&[3, 1, 2, b'h', b'i']);
        assert_eq!(sent.encode().unwrap(), expected);
        // The same bytes naming a key that is not a valid point (all zero bytes decode as the
        // identity, which §3.2 refuses).
        let mut bad = expected.clone();
        bad[19..51].copy_from_slice(&[0; 32]);
        assert_eq!(Payload::decode(&bad), Err(PayloadError::Malformed));
        let mut read = vec![0xAA; 16];
        read.extend_from_slice(&[0, 2, 5]);
        read.extend_from_slice(&[0; 32]);
        read.extend_from_slice(&[0]);
        assert_eq!(Payload::decode(&read), Err(PayloadError::Malformed));
    }

    #[test]
    fn a_framed_payload_names_its_account_and_other_versions_are_refused() {
        let account = Address::from_bytes(BASE_POINT).unwrap();
        let payload = text_payload("hi").encode().unwrap();
        let framed = frame_payload(&account, &payload);
        assert_eq!(framed[..2], [2, 0x58]);
        assert_eq!(unframe_payload(&framed), Ok((account, payload.as_slice())));
        let mut old = framed.clone();
        old[0] = 1;
        assert_eq!(
            unframe_payload(&old),
            Err(PayloadError::UnsupportedVersion { version: 1 })
        );
        assert_eq!(unframe_payload(&[]), Err(PayloadError::Malformed));
        assert_eq!(unframe_payload(&framed[..32]), Err(PayloadError::Malformed));
        let mut bad_key = framed;
        bad_key[1..33].copy_from_slice(&[0xff; 32]);
        assert_eq!(unframe_payload(&bad_key), Err(PayloadError::Malformed));
    }

    #[test]
    fn unknown_content_kinds_survive() {
        let future = Payload {
            body: Body::Content(Content::Unsupported {
                kind: 77,
                data: vec![1, 2, 3],
            }),
            ..text_payload("")
        };
        let decoded = Payload::decode(&future.encode().unwrap()).unwrap();
        assert_eq!(decoded.body, future.body);
    }

    #[test]
    fn bad_payloads_get_typed_errors() {
        let mut bytes = text_payload("hi").encode().unwrap();
        bytes.push(0);
        assert_eq!(Payload::decode(&bytes), Err(PayloadError::Malformed));
        assert_eq!(Payload::decode(&[0xff; 3]), Err(PayloadError::Malformed));
        // An overlong varint (conv_seq 3 as 0x83 0x00) decodes in postcard but is not canonical.
        let canonical = text_payload("hi").encode().unwrap();
        let seq_at = 16;
        assert_eq!(canonical[seq_at], 3);
        let mut overlong = canonical[..seq_at].to_vec();
        overlong.extend_from_slice(&[0x83, 0x00]);
        overlong.extend_from_slice(&canonical[seq_at + 1..]);
        assert_eq!(Payload::decode(&overlong), Err(PayloadError::Malformed));
        let long = "x".repeat(MAX_TEXT_LEN + 1);
        assert_eq!(
            text_payload(&long).encode(),
            Err(PayloadError::TextTooLong {
                length: MAX_TEXT_LEN + 1
            })
        );
        assert_eq!(
            Payload::decode(&vec![0; MAX_PAYLOAD_LEN + 1]),
            Err(PayloadError::TooLong {
                length: MAX_PAYLOAD_LEN + 1
            })
        );
        // Invalid UTF-8 in a text kind.
        let (kind, _) = Content::text("").to_parts();
        assert_eq!(
            Content::from_parts(kind, vec![0xff, 0xfe]),
            Err(PayloadError::TextNotUtf8)
        );
    }
}
