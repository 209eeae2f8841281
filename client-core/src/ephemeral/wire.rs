//! The plaintext of an ephemeral send (typing, presence): what is sealed (SPEC.md §18).
//!
//! ```text
//! ephemeral = 0xE1 || sent_at u64 BE (Unix ms) || id [16] || kind u8 || body
//! kind 1 typing:   body = started u8 (0 or 1)
//! kind 2 presence: body = state u8 (1 online, 2 offline) || last_seen u64 BE || reply u8 (0 or 1)
//! ```
//!
//! Fixed lengths, one encoding per value: trailing bytes, a short body, an unknown kind or a flag
//! other than 0/1 are errors. The first byte differs from every session message type (0x01..0x08),
//! so an ephemeral pushed as a stored envelope, or the other way round, fails to decode.

use thiserror::Error;

/// First byte of an ephemeral plaintext.
pub const EPHEMERAL_TAG: u8 = 0xE1;
/// Bytes before the body: tag, sent_at, id, kind.
pub const EPHEMERAL_HEADER_LEN: usize = 1 + 8 + 16 + 1;
const KIND_TYPING: u8 = 1;
const KIND_PRESENCE: u8 = 2;
const STATE_ONLINE: u8 = 1;
const STATE_OFFLINE: u8 = 2;

/// What a contact's presence says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Presence {
    /// Online now.
    Online,
    /// Went offline at this time (Unix ms): "last seen".
    LastSeen(u64),
}

/// What an ephemeral carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EphemeralKind {
    /// The sender started (`true`) or stopped typing to us.
    Typing(bool),
    /// The sender's presence; `reply` asks for ours back (sent when it comes online).
    Presence {
        /// Its state.
        presence: Presence,
        /// Whether the sender wants our presence in return.
        reply: bool,
    },
}

/// One decoded ephemeral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ephemeral {
    /// When the sender made it (Unix ms), for the freshness check.
    pub sent_at: u64,
    /// Random, for the replay check.
    pub id: [u8; 16],
    /// What it says.
    pub kind: EphemeralKind,
}

/// Why an ephemeral plaintext does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EphemeralError {
    /// Shorter than its kind needs.
    #[error("ephemeral of {found} bytes, expected {expected}")]
    Length {
        /// Bytes its kind needs.
        expected: usize,
        /// Bytes received.
        found: usize,
    },
    /// Not an ephemeral (another first byte).
    #[error("ephemeral tag {found:#04x}, expected {EPHEMERAL_TAG:#04x}")]
    Tag {
        /// The first byte.
        found: u8,
    },
    /// A kind this build does not know.
    #[error("unknown ephemeral kind {found}")]
    Kind {
        /// The kind byte.
        found: u8,
    },
    /// A flag or state byte out of range.
    #[error("ephemeral field value {found} out of range")]
    Value {
        /// The byte found.
        found: u8,
    },
}

fn flag(byte: u8) -> Result<bool, EphemeralError> {
    match byte {
        0 => Ok(false),
        1 => Ok(true),
        found => Err(EphemeralError::Value { found }),
    }
}

impl Ephemeral {
    /// The encoding above.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(EPHEMERAL_HEADER_LEN + 10);
        out.push(EPHEMERAL_TAG);
        out.extend_from_slice(&self.sent_at.to_be_bytes());
        out.extend_from_slice(&self.id);
        match self.kind {
            EphemeralKind::Typing(started) => {
                out.push(KIND_TYPING);
                out.push(u8::from(started));
            }
            EphemeralKind::Presence { presence, reply } => {
                out.push(KIND_PRESENCE);
                let (state, last_seen) = match presence {
                    Presence::Online => (STATE_ONLINE, 0),
                    Presence::LastSeen(at) => (STATE_OFFLINE, at),
                };
                out.push(state);
                out.extend_from_slice(&last_seen.to_be_bytes());
                out.push(u8::from(reply));
            }
        }
        out
    }

    /// Parses the encoding above; nothing is allocated before the length is checked.
    pub fn decode(bytes: &[u8]) -> Result<Self, EphemeralError> {
        let short = |expected| EphemeralError::Length {
            expected,
            found: bytes.len(),
        };
        let (header, body) = bytes
            .split_first_chunk::<EPHEMERAL_HEADER_LEN>()
            .ok_or(short(EPHEMERAL_HEADER_LEN))?;
        let (tag, rest) = header
            .split_first_chunk::<1>()
            .ok_or(short(EPHEMERAL_HEADER_LEN))?;
        if tag[0] != EPHEMERAL_TAG {
            return Err(EphemeralError::Tag { found: tag[0] });
        }
        let (sent_at, rest) = rest.split_first_chunk::<8>().ok_or(short(EPHEMERAL_HEADER_LEN))?;
        let (id, kind) = rest
            .split_first_chunk::<16>()
            .ok_or(short(EPHEMERAL_HEADER_LEN))?;
        let expected = |body_len| EPHEMERAL_HEADER_LEN + body_len;
        let kind = match kind.first().copied().unwrap_or_default() {
            KIND_TYPING => match body {
                [started] => EphemeralKind::Typing(flag(*started)?),
                _ => return Err(short(expected(1))),
            },
            KIND_PRESENCE => {
                let Some((state, rest)) = body.split_first_chunk::<1>() else {
                    return Err(short(expected(10)));
                };
                let Some((last_seen, [reply])) = rest.split_first_chunk::<8>() else {
                    return Err(short(expected(10)));
                };
                let presence = match state[0] {
                    STATE_ONLINE if *last_seen == [0; 8] => Presence::Online,
                    STATE_OFFLINE => Presence::LastSeen(u64::from_be_bytes(*last_seen)),
                    found => return Err(EphemeralError::Value { found }),
                };
                EphemeralKind::Presence {
                    presence,
                    reply: flag(*reply)?,
                }
            }
            found => return Err(EphemeralError::Kind { found }),
        };
        Ok(Self {
            sent_at: u64::from_be_bytes(*sent_at),
            id: *id,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typing() -> Ephemeral {
        Ephemeral {
            sent_at: 0x0102_0304_0506_0708,
            id: [0xAB; 16],
            kind: EphemeralKind::Typing(true),
        }
    }

    #[test]
    fn every_kind_round_trips_with_its_fixed_length() {
        let presence = Ephemeral {
            kind: EphemeralKind::Presence {
                presence: Presence::LastSeen(99),
                reply: true,
            },
            ..typing()
        };
        for (value, len) in [(typing(), 27), (presence, 36)] {
            let bytes = value.encode();
            assert_eq!(bytes.len(), len);
            assert_eq!(Ephemeral::decode(&bytes), Ok(value));
        }
        assert_eq!(typing().encode()[..9], [0xE1, 1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn other_encodings_are_refused() {
        let bytes = typing().encode();
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Ephemeral::decode(&longer),
            Err(EphemeralError::Length { .. })
        ));
        assert!(matches!(
            Ephemeral::decode(&bytes[..26]),
            Err(EphemeralError::Length { .. })
        ));
        let mut bad = bytes.clone();
        bad[0] = 0x02;
        assert_eq!(Ephemeral::decode(&bad), Err(EphemeralError::Tag { found: 2 }));
        let mut bad = bytes.clone();
        bad[25] = 9;
        assert_eq!(Ephemeral::decode(&bad), Err(EphemeralError::Kind { found: 9 }));
        let mut bad = bytes;
        bad[26] = 2;
        assert_eq!(Ephemeral::decode(&bad), Err(EphemeralError::Value { found: 2 }));
        // Online with a last-seen time is not canonical.
        let online = Ephemeral {
            kind: EphemeralKind::Presence {
                presence: Presence::Online,
                reply: false,
            },
            ..typing()
        };
        let mut bad = online.encode();
        bad[34] = 1;
        assert_eq!(Ephemeral::decode(&bad), Err(EphemeralError::Value { found: 1 }));
    }
}
